"""Formulas of local partials, built from the op table's rules with symbolic handles."""

from __future__ import annotations

from typing import Any

from .graph import Program, Ref
from .ops import ATOM, FUNCTIONS, MACROS, OPS, REQUIRED, Builder, Op, Sym
from .printing import to_text


def local_partial_formula(program: Program, node_id: int, arg_pos: int, limit: int = 80,
                          texts: Any = None) -> str:
    """The formula of ∂node/∂(its argument at arg_pos), in terms of the node's arguments as the
    program names them: for v = x^2 it is `2·x`; for f = exp(u) it is `exp(u)`."""
    graph = program.graph
    node = graph[node_id]
    entry = OPS[node.op]
    if entry.vjp is not None:
        return f"(linear map: {entry.callable_as or entry.name}'s vector-Jacobian product)"
    rule = entry.partials[arg_pos]
    if rule is None:
        return "0"
    builder = Builder(simplify=True)
    args: list[Sym] = []
    for a in node.args:
        if graph[a].op == "const":  # constants take part in simplification: 2·x^(2-1) → 2·x
            value, label = graph[a].attr
            args.append(builder.const(value, label))
        else:
            shown = None if texts is None else texts.ref(a)
            prec = None if texts is None else (ATOM if a in program.labels else None)
            args.append(builder.leaf("ref", Ref(graph, a, program.labels, shown, prec)))
    # The output appears as the operation applied to its arguments: exp(u), not f.
    y = Sym(builder, builder.graph.add(node.op, tuple(s.id for s in args)))
    return to_text(builder.graph, _sym(builder, rule(*args, y)).id, limit=limit)


_ARG_NAMES = {1: ("x",), 2: ("a", "b"), 3: ("c", "a", "b")}


def function_list() -> list[tuple[str, list[tuple[str, str]], str]]:
    """Each callable function: its call form, the formula of each partial, and its notes."""
    out = []
    seen = set()
    for call_name, entry in FUNCTIONS.items():
        if entry.name in seen:
            continue
        seen.add(entry.name)
        aliases = [a for a, e in FUNCTIONS.items() if e is entry and a != call_name]
        if entry.vjp is not None or entry.arity == 0:
            out.append(_array_function(call_name, entry, aliases))
            continue
        builder = Builder(simplify=True)
        names = ("y", "x") if entry.name == "atan2" else _ARG_NAMES[entry.arity]
        args = [builder.leaf("sym", n) for n in names]
        y = Sym(builder, builder.graph.add(entry.name, tuple(a.id for a in args)))
        partials = []
        for name, rule in zip(names, entry.partials, strict=True):
            if entry.name == "where" and name == "c":
                continue
            formula = "0" if rule is None else to_text(builder.graph, _sym(builder, rule(*args, y)).id)
            partials.append((name, formula))
        notes = [entry.note] if entry.note else []
        if entry.kink is not None:
            used = "; ".join(f"{c} {'/'.join(f'{v:g}' for v in vals)}" for c, vals in entry.kink.used.items())
            notes.append(f"undefined {entry.kink.text}: {used}")
        if aliases:
            notes.append("also " + ", ".join(aliases))
        if entry.name == "log":
            notes.append("log(x, base) = log(x)/log(base)")
        if entry.name in ("max", "min"):
            notes.append(f"{entry.name}(A) or {entry.name}(A, axis=0): the reduction over an array")
        out.append((f"{call_name}({', '.join(names)})", partials, "; ".join(notes)))
    for name in MACROS:
        out.append((f"{name}(p, y)", [], "a loss: the mean over all elements, made of the operations above"))
    return out


def _array_function(call_name: str, entry: Op, aliases: list[str]) -> tuple[str, list, str]:
    params = [n if d is REQUIRED or n.startswith("*") else f"{n}={d!r}".replace("'", '"')
              for n, d in entry.params]
    args = ["A1, A2, ..." if entry.variadic else "A", "B"][: 1 if entry.variadic else entry.arity]
    notes = ["array operation: vector-Jacobian products" if entry.arity else "makes an array"]
    if aliases:
        notes.append("also " + ", ".join(aliases))
    if entry.name == "conv2d":
        notes.append("TensorFlow's cross-correlation: the kernel is not flipped (Octave's conv2 flips it)")
    return f"{call_name}({', '.join(args + params)})", [], "; ".join(notes)


def _sym(builder: Builder, value: object) -> Sym:
    return value if isinstance(value, Sym) else builder.const(float(value))  # type: ignore[arg-type]
