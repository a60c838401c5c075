"""Formulas of local partials, built from the op table's rules with symbolic handles."""

from __future__ import annotations

from typing import Any

from .algebra import canonical_form
from .builder import Builder
from .graph import Graph, Program, Ref
from .ops import ATOM, FUNCTIONS, OPS, REQUIRED, Linear, Op, Sym
from .printing import format_number, present, to_text


def local_partial(builder: Builder, program: Program, node_id: int, arg_pos: int,
                  labels: dict[int, str] | None = None, texts: Any = None) -> Sym | None:
    """∂node/∂(its argument at arg_pos) built in `builder`, in terms of the node's arguments
    as `labels` (default: the program's) name them: for v = x^2 it is 2·x; for f = exp(u) it is
    exp(u). None for an array operation's rule (a linear map, not a formula); 0 where no
    derivative flows. `texts` (printing.ShortTexts) gives shortened texts of unnamed arguments."""
    graph = program.graph
    node = graph[node_id]
    rule = OPS[node.op].partial(arg_pos)
    if isinstance(rule, Linear):
        return None
    if rule is None:
        return builder.const(0.0)
    labels = program.labels if labels is None else labels
    args: list[Sym] = []
    for a in node.args:
        if graph[a].op == "const":  # constants take part in simplification: 2·x^(2-1) → 2·x
            value, label = graph[a].attr
            args.append(builder.const(value, label))
        else:
            shown = None if texts is None else texts.ref(a)
            prec = None if texts is None else (ATOM if a in labels else None)
            args.append(builder.leaf("ref", Ref(graph, a, labels, shown, prec)))
    # The output appears as the operation applied to its arguments: exp(u), not f.
    y = Sym(builder, builder.graph.add(node.op, tuple(s.id for s in args)))
    return _sym(builder, rule(*args, y))


def local_partial_formula(program: Program, node_id: int, arg_pos: int, limit: int = 80,
                          texts: Any = None) -> str:
    """The formula of ∂node/∂(its argument at arg_pos) as text (see local_partial)."""
    node = program.graph[node_id]
    constant = OPS[node.op].constant_partial(arg_pos)  # a sum's 1: no formula to build, edge by edge
    if constant is not None:
        return format_number(constant)
    builder = Builder(simplify=False)  # the canonical form does the simplifying, exactly
    formula = local_partial(builder, program, node_id, arg_pos, texts=texts)
    if formula is None:
        return f"(linear map: {OPS[node.op].shown_name}'s vector-Jacobian product)"
    plain = plain_text(builder.graph, formula.id, limit)
    return plain if plain is not None else canonical_text(builder.graph, formula.id, limit)


def canonical_text(graph: Graph, node_id: int, limit: int | None = 80) -> str:
    """A formula in canonical, simplest form, as adiff diff prints formulas."""
    store, root = canonical_form(graph, node_id)
    shown, top, _ = present(store, root)
    return to_text(shown, top, limit=limit)


# f(a) of an argument that prints as a name (or a cut text) is its own canonical form
_PLAIN_FUNCTIONS = frozenset({"sin", "cos", "exp", "sinh", "cosh"})


def plain_text(graph: Graph, node_id: int, limit: int | None = 80) -> str | None:
    """The text of a partial already in canonical form, without building it (a table of 30,000
    nodes has 20,000 partials): the argument itself, a whole number, or a plain function of the
    argument (sin's cos(a), exp's exp(a)). None for anything else: the canonical form decides."""
    node = graph[node_id]
    if node.op == "const":
        value, label = node.attr
        if label is None and type(value) is float and value.is_integer() and abs(value) < 2 ** 53 \
                and (value != 0 or str(value) == "0.0"):
            return str(int(value))
        return None
    if node.op == "ref" or (node.op in _PLAIN_FUNCTIONS and graph[node.args[0]].op == "ref"):
        return to_text(graph, node_id, limit=limit)
    return None


_ARG_NAMES = {1: ("x",), 2: ("a", "b"), 3: ("c", "a", "b")}


def function_list() -> list[tuple[str, list[tuple[str, str]], str]]:
    """Each callable function, from the op table: its call form, the formula of each partial,
    and its notes."""
    out = []
    seen = set()
    for call_name, entry in FUNCTIONS.items():
        if entry.name in seen:
            continue
        seen.add(entry.name)
        aliases = [a for a, e in FUNCTIONS.items() if e is entry and a != call_name]
        also = ["also " + ", ".join(aliases)] if aliases else []
        if entry.is_array or entry.arity == 0 or entry.expand or entry.derivative:
            out.append(_whole_function(call_name, entry, also))
            continue
        builder = Builder(simplify=True)
        names = entry.arg_names or _ARG_NAMES[entry.arity]
        args = [builder.leaf("sym", n) for n in names]
        y = Sym(builder, builder.graph.add(entry.name, tuple(a.id for a in args)))
        partials = []
        for i, name in enumerate(names):
            rule = entry.partial(i)
            if rule is None and entry.arity > 1:  # where's condition: nothing flows
                continue
            formula = "0" if rule is None else to_text(builder.graph, _sym(builder, rule(*args, y)).id)
            partials.append((name, formula))
        notes = [entry.note] if entry.note else []
        if entry.kink is not None:
            used = "; ".join(f"{c} {'/'.join(f'{v:g}' for v in vals)}" for c, vals in entry.kink.used.items())
            notes.append(f"undefined {entry.kink.text}: {used}")
        notes += also + list(entry.notes)
        out.append((f"{call_name}({', '.join(names)})", partials, "; ".join(notes)))
    return out


def _whole_function(call_name: str, entry: Op, also: list[str]) -> tuple[str, list, str]:
    """A function shown without elementwise partials: array operations, arrays made from
    parameters, macros (losses) and the derivatives grad() and hessian()."""
    params = [n if d is REQUIRED or n.startswith("*") else f"{n}={d!r}".replace("'", '"')
              for n, d in entry.params]
    if entry.arg_names:
        args = list(entry.arg_names)
    else:
        args = ["A1, A2, ..." if entry.variadic else "A", "B"][: 1 if entry.variadic else entry.arity]
    kind = []
    if entry.is_array and not entry.derivative:
        kind = ["array operation: vector-Jacobian products"]
    elif entry.arity == 0:
        kind = ["makes an array"]
    notes = kind + also + list(entry.notes)
    return f"{call_name}({', '.join(args + params)})", [], "; ".join(notes)


def _sym(builder: Builder, value: object) -> Sym:
    return value if isinstance(value, Sym) else builder.const(float(value))  # type: ignore[arg-type]
