"""Method 1: derivative formulas by the chain rule, built from the op table's rules.

The reverse sweep of the engine, run on symbolic handles instead of numbers: each node's
adjoint becomes an expression, simplified as it is built, and identical subexpressions are
shared, so the result is a graph that grows linearly with the program. Two forms:

- factored: in the program's named steps (df/dx = 2·x·cos(v)·exp(u) for v = x^2; u = sin(v));
- expanded: in the inputs alone (2·x·cos(x^2)·exp(sin(x^2))), printed with repeated
  subexpressions named once (t1 = ...).

A derivative is itself a graph of the same ops, so differentiating it again gives second
and mixed derivatives.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .algebra import TooLarge, canonical_form
from .builder import Builder
from .errors import UsageError
from .grammar import _no_gc
from .graph import Graph, Program
from .ops import OPS, Linear, Sym, params_of
from .printing import present, to_program, to_text

F = TypeVar("F", bound=Callable[..., Any])


def _acyclic(function: F) -> F:
    """Run without the cycle collector: a derivative makes hundreds of thousands of small
    acyclic objects (tuples, handles), and the collector's passes over them took a third of
    the time of a 10,000-term sum (as in reading a program, grammar._no_gc)."""
    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        with _no_gc():
            return function(*args, **kwargs)
    return run  # type: ignore[return-value]


@dataclass
class Formula:
    """An expression in a Builder's graph; `labels` name nodes that print as names."""

    builder: Builder
    node: int
    labels: dict[int, str]
    conditions: list[str] = field(default_factory=list)  # `a > 0` assumed (exp(log(a)) = a)

    @property
    def graph(self) -> Graph:
        return self.builder.graph

    def program_text(self, taken: set[str] | frozenset[str] = frozenset(), latex: bool = False,
                     threshold: int = 8, limit: int | None = None) -> list[tuple[str, str]]:
        """[(t1, text), ..., ("", expression)]: shared subexpressions named once."""
        return to_program(self.graph, self.node, self.labels, threshold, taken, latex, limit)

    def text(self, limit: int | None = None) -> str:
        return to_text(self.graph, self.node, self.labels, limit=limit, strict=False)

    def condition_texts(self) -> list[str]:
        return list(self.conditions)

    def size(self) -> int:
        """Nodes in the formula's graph that the expression reaches (its DAG size)."""
        return len(self.graph.ancestors([self.node]))


def node_expressions(program: Program, builder: Builder, symbols: set[int]) -> tuple[list, list]:
    """Each program node as an expression, twice: as an argument (inputs and the nodes in
    `symbols` are named leaves) and as an output (its op applied to its arguments), so that
    exp's partial in f = exp(u) reads exp(u), not f."""
    graph = program.graph
    args: list[Sym | None] = [None] * len(graph)
    outputs: list[Sym | None] = [None] * len(graph)
    for nid, node in enumerate(graph.nodes):
        if node.op == "const":
            outputs[nid] = builder.const(*node.attr)
        elif node.op == "input":
            outputs[nid] = builder.leaf("input", node.attr)
        else:  # an array operation keeps its parameters (max_pool's size, sum's axis)
            params = dict(node.attr) if node.attr and OPS[node.op].params else None
            outputs[nid] = builder.apply(node.op, tuple([args[a] for a in node.args]), params)
        args[nid] = builder.leaf("input", program.labels[nid]) if nid in symbols else outputs[nid]
    return args, outputs


_RULES: dict[tuple[int, int], tuple[Any, Any, Any]] = {}


def _rule(entry: Any, i: int) -> tuple[Any, Any, Any]:
    """(entry, its rule for argument i, the number the rule returns when that is a constant (a
    sum's 1) or None): looked up once per table entry and argument."""
    found = _RULES.get((id(entry), i))
    if found is None:  # the entry is kept in the value, so its id is not reused
        found = _RULES[(id(entry), i)] = (entry, entry.partial(i), entry.constant_partial(i))
    return found


def adjoint_expressions(graph: Graph, target: int, args: list, outputs: list, builder: Builder,
                        stop: set[int] | frozenset[int] = frozenset(),
                        fit_shapes: bool = False, only: set[int] | None = None) -> dict[int, Sym]:
    """The reverse sweep on expressions: ∂target/∂node for every node the target reaches.
    Nodes in `stop` are held independent (persistent-tape semantics): nothing flows through;
    with `only`, nothing flows to nodes outside it (those that do not depend on the variable).
    With `fit_shapes` (derivatives evaluated on arrays), each contribution is summed to its
    argument's shape where numpy broadcast it."""
    seed = one = builder.const(1.0)
    if fit_shapes:  # ones of the target's shape: the gradient of sum(target)
        seed = builder.apply("fit", (seed, args[target]))
    adjoints: dict[int, Sym] = {target: seed}
    nodes = graph.nodes
    for nid in range(target, -1, -1):
        adj = adjoints.get(nid)
        if adj is None or nid in stop:
            continue
        node = nodes[nid]
        entry = OPS.get(node.op)
        if entry is None:
            continue
        arg_exprs = [args[a] for a in node.args]
        for i, arg in enumerate(node.args):
            _, rule, partial = _rule(entry, i)
            if rule is None or (only is not None and arg not in only) or nodes[arg].op == "const":
                continue
            if isinstance(rule, Linear):
                try:
                    contribution = _array_contribution(entry, rule, node, i, adj, arg_exprs, outputs[nid],
                                                       fit_shapes)
                except NoClosedForm as error:
                    raise NoClosedForm(error.op_name, nid) from None
            else:
                if partial is None:  # not a constant: the rule on the arguments
                    partial = rule(*arg_exprs, outputs[nid])
                contribution = _times(builder, partial, adj, one.id)
                if fit_shapes:
                    contribution = builder.apply("fit", (contribution, arg_exprs[i]))
            previous = adjoints.get(arg)
            adjoints[arg] = contribution if previous is None else previous + contribution
    return adjoints


def _times(builder: Builder, partial: Any, adj: Sym, one: int) -> Sym:
    """partial·adj, without a node for a factor 1 (`one`, the sum's partials, the seed)."""
    if not isinstance(partial, Sym):
        if type(partial) in (int, float) and partial == 1:
            return adj
    elif partial.id == one:
        return adj
    if adj.id == one:
        return partial if isinstance(partial, Sym) else builder.const(partial)
    return builder.apply("mul", (partial, adj))


def _array_contribution(entry: Any, rule: Linear, node: Any, i: int, adj: Sym, args: list, y: Sym,
                        as_node: bool) -> Sym:
    """An array operation's adjoint contribution: from its rule in primitives where it has one;
    in a program (as_node), otherwise as a vjp_of node that computes it numerically."""
    params = params_of(entry, node.attr)
    # printed formulas stay in functions users can read: no matrix calculus in `adiff diff`
    contribution = rule.vjp(i, adj, args, y, params) if as_node and rule.symbolic else None
    if contribution is None and as_node:
        attr = (("op", entry.name), ("i", i), ("params", tuple(params.items())))
        return Sym(adj.builder, adj.builder.graph.add("vjp_of", (adj.id, *(a.id for a in args)), attr))
    if contribution is None:
        raise NoClosedForm(entry.shown_name, node)
    return contribution


class NoClosedForm(UsageError):
    """An operation on the way has no symbolic rule (an array operation): said with its statement."""

    def __init__(self, op_name: str, node: Any, statement: Any = None):
        self.op_name, self.node = op_name, node
        name = getattr(statement, "name", None)
        where = f" (in {name})" if name else ""  # the line is the error's own place
        super().__init__(f"no symbolic derivative through {op_name}{where}: it is an array operation "
                         "(matrix calculus is not implemented); adiff grad and adiff compare give its value",
                         line=getattr(statement, "line", None))


def canonical(graph: Graph, node: int, labels: dict[int, str], expand: bool = False,
              assumed: list[str] | None = None, limit: int | None = None) -> Formula:
    """A formula in canonical, simplest form (algebra), laid out for printing (printing.present):
    common factors pulled out, or with `expand` the expanded sum. `assumed`: conditions already
    used on the way (a > 0 where exp(log(a)) = a); past `limit` places, algebra.TooLarge."""
    store, root = canonical_form(graph, node, factor=not expand, expand=expand, limit=limit)
    g, top, conditions = present(store, root)
    texts = [to_text(g, c, labels, strict=False) for c in conditions]
    return Formula(Builder(g, simplify=False), top, labels, list(dict.fromkeys([*(assumed or []), *texts])))


@_acyclic
def derivative(program: Program, target: int, wrt: int, factored: bool = False,
               expand: bool = False) -> Formula:
    """∂target/∂wrt as a formula. `wrt` may be an input or a named step, held independent.
    Factored, the program's named steps appear by name; expanded, only inputs remain, and the
    target is brought to its simplest form before it is differentiated (abs(x^2) is x^2)."""
    graph = program.graph
    if not factored and graph[wrt].op == "input" and _has_op(graph, target, _SIMPLER_FIRST):
        simplest, top, variable, assumed = _canonical_program(program, target, wrt)
        try:
            return _derivative(simplest, top, variable, False, expand, assumed)
        except NoClosedForm:
            pass  # said below, naming the program's own statement
    return _derivative(program, target, wrt, factored, expand, [])


# operations whose canonical form can drop a factor from the derivative: abs(x^2) = x^2 (no
# sign(x^2)), log(exp(a)) = a, exp(log(a)) = a; other programs are differentiated as written
_SIMPLER_FIRST = {"abs", "relu", "log", "log2", "log10"}


def _has_op(graph: Graph, target: int, names: set[str]) -> bool:
    """Whether the target depends on one of these operations (most programs have none at all,
    which needs no walk)."""
    nodes = graph.nodes
    if not any(nodes[n].op in names for n in range(target + 1)):
        return False
    return any(nodes[n].op in names for n in graph.ancestors([target]))


def _derivative(program: Program, target: int, wrt: int, factored: bool, expand: bool,
                assumed: list[str]) -> Formula:
    builder = Builder(simplify=False)
    graph = program.graph
    held = {wrt} if graph[wrt].op != "input" else set()
    named = {n for n in program.labels if graph[n].op != "input"} if factored else set()
    args, outputs = node_expressions(program, builder, named | held)
    on_the_way = graph.descendants([wrt])  # adjoints of nodes that do not depend on wrt are not needed
    try:
        adjoints = adjoint_expressions(graph, target, args, outputs, builder, held, only=on_the_way)
    except NoClosedForm as error:
        raise NoClosedForm(error.op_name, error.node, program.statement_of(error.node)) from None
    result = adjoints.get(wrt, builder.const(0.0))
    return canonical(builder.graph, result.id, {}, expand, assumed)


def _canonical_program(program: Program, target: int, wrt: int) -> tuple[Program, int, int, list[str]]:
    """The target in canonical form, as a program of its own, and the conditions assumed."""
    store, root = canonical_form(program.graph, target, factor=False)
    graph, top, conditions = present(store, root)
    assumed = [to_text(graph, c, strict=False) for c in conditions]
    variable = graph.add("input", (), program.graph[wrt].attr)
    return Program(graph=graph, source=program.source), top, variable, assumed


GROWTH = 5  # an order's formula is about this many times the size of the one before (measured)
MAX_NODES = 50_000  # formula nodes an order may reach by default: it prints within seconds
PLACES_PER_NODE = 20  # a higher order's canonical form may fill this many places (nodes and their
# parts) per formula node of the budget; a place is about 1 µs of work (measured: sin(…) 300 deep,
# order 2, 907,148 places for 46,350 nodes in 0.8 s; 1/(1 + …) 240 deep, 3.7 million in 3.8 s)


@_acyclic
def nth_derivative(program: Program, target: int, wrt: list[tuple[str, int]], expand: bool = False,
                   max_nodes: int = MAX_NODES) -> Formula:
    """∂ⁿtarget/∂w1…∂wn: the first by the chain rule on the program, the rest on the formula.
    Before each further order the size is estimated (GROWTH × the last), and the canonical form
    is stopped past PLACES_PER_NODE × `max_nodes` places (where flat products write out shared
    prefixes, the work grows as a square); either way, a refusal that says the estimate, the
    budget and the option that raises it."""
    (_, first), rest = wrt[0], wrt[1:]
    formula = derivative(program, target, first, expand=expand)
    for k, (name, _node) in enumerate(rest, start=2):
        size = formula.size()
        if GROWTH * size > max_nodes:
            raise _over_budget(k, f"about {GROWTH * size:,} formula nodes ({GROWTH} × the {size:,} of order "
                               f"{k - 1})", max_nodes, GROWTH * size)
        graph, result = _chain_rule_on(formula, name)
        try:  # the estimate can miss a square: sin(sin(…)) 1,000 deep, 500,000 nodes, 8 s
            formula = canonical(graph, result, formula.labels, expand, formula.conditions,
                                limit=PLACES_PER_NODE * max_nodes)
        except TooLarge as error:
            raise _over_budget(k, f"too many formula nodes (its canonical form had filled {error.places:,} "
                               f"places, about {PLACES_PER_NODE} a node, when it was stopped)", max_nodes,
                               4 * max_nodes) from None
    return formula


def _over_budget(order: int, estimate: str, max_nodes: int, enough: int) -> UsageError:
    return UsageError(f"the derivative of order {order} would have {estimate}, over the budget of "
                      f"{max_nodes:,}: --max-nodes {enough} raises it (it may take long); adiff run with "
                      "grad() or hessian() gives the value without the formula")


@_acyclic
def differentiate(formula: Formula, wrt_name: str, expand: bool = False) -> Formula:
    """The derivative of a formula with respect to one of its inputs (for second order)."""
    graph, result = _chain_rule_on(formula, wrt_name)
    return canonical(graph, result, formula.labels, expand, formula.conditions)


def _chain_rule_on(formula: Formula, wrt_name: str) -> tuple[Graph, int]:
    """The reverse sweep on a formula's graph: the derivative's node, before its canonical form."""
    builder = Builder(formula.graph, simplify=False)
    graph = builder.graph
    top = formula.node
    exprs = [Sym(builder, i) for i in range(top + 1)]
    wrt = graph.add("input", (), wrt_name)
    adjoints = adjoint_expressions(graph, top, exprs, exprs, builder)
    return graph, adjoints.get(wrt, builder.const(0.0)).id


def derivative_in_program(graph: Graph, target: int, wrt: int) -> int:
    """∂target/∂wrt built into the program's own graph (grad(f, x) in a program): a node whose
    value is the exact derivative, and which can be differentiated again."""
    builder = Builder(graph, simplify=True)
    exprs = [Sym(builder, i) for i in range(target + 1)]
    adjoints = adjoint_expressions(graph, target, exprs, exprs, builder, fit_shapes=True)
    found = adjoints.get(wrt, builder.const(0.0))  # not connected: zeros of wrt's shape
    return graph.add("fit", (found.id, wrt))
