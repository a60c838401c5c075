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

from dataclasses import dataclass

from .errors import UsageError
from .graph import Graph, Program
from .ops import OPS, Builder, Sym
from .printing import to_program, to_text


@dataclass
class Formula:
    """An expression in a Builder's graph; `labels` name nodes that print as names."""

    builder: Builder
    node: int
    labels: dict[int, str]

    @property
    def graph(self) -> Graph:
        return self.builder.graph

    def program_text(self, taken: set[str] | frozenset[str] = frozenset(), latex: bool = False,
                     threshold: int = 8) -> list[tuple[str, str]]:
        """[(t1, text), ..., ("", expression)]: shared subexpressions named once."""
        return to_program(self.graph, self.node, self.labels, threshold, taken, latex)

    def text(self, limit: int | None = None) -> str:
        return to_text(self.graph, self.node, self.labels, limit=limit, strict=False)

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
        else:
            outputs[nid] = builder.apply(node.op, tuple(args[a] for a in node.args))
        args[nid] = builder.leaf("input", program.labels[nid]) if nid in symbols else outputs[nid]
    return args, outputs


def adjoint_expressions(graph: Graph, target: int, args: list, outputs: list, builder: Builder,
                        stop: set[int] | frozenset[int] = frozenset()) -> dict[int, Sym]:
    """The reverse sweep on expressions: ∂target/∂node for every node the target reaches.
    Nodes in `stop` are held independent (persistent-tape semantics): nothing flows through."""
    adjoints: dict[int, Sym] = {target: builder.const(1.0)}
    for nid in range(target, -1, -1):
        adj = adjoints.get(nid)
        node = graph[nid]
        if adj is None or nid in stop or node.op not in OPS:
            continue
        if OPS[node.op].vjp is not None:
            raise UsageError(f"no symbolic derivative through {OPS[node.op].callable_as or node.op}: it is an "
                             "array operation (matrix calculus is not implemented); adiff grad and adiff "
                             "compare give its value")
        arg_exprs = [args[a] for a in node.args]
        for i, arg in enumerate(node.args):
            rule = OPS[node.op].partials[i]
            if rule is None or graph[arg].op == "const":
                continue
            contribution = builder.apply("mul", (rule(*arg_exprs, outputs[nid]), adj))
            previous = adjoints.get(arg)
            adjoints[arg] = contribution if previous is None else previous + contribution
    return adjoints


def derivative(program: Program, target: int, wrt: int, factored: bool = False) -> Formula:
    """∂target/∂wrt as a formula. `wrt` may be an input or a named step, held independent.
    Factored, the program's named steps appear by name; expanded, only inputs remain."""
    builder = Builder(simplify=True)
    graph = program.graph
    held = {wrt} if graph[wrt].op != "input" else set()
    named = {n for n in program.labels if graph[n].op != "input"} if factored else set()
    args, outputs = node_expressions(program, builder, named | held)
    adjoints = adjoint_expressions(graph, target, args, outputs, builder, held)
    result = adjoints.get(wrt, builder.const(0.0))
    return Formula(builder, result.id, {})


def differentiate(formula: Formula, wrt_name: str) -> Formula:
    """The derivative of a formula with respect to one of its inputs (for second order)."""
    builder = formula.builder
    graph = builder.graph
    top = formula.node
    exprs = [Sym(builder, i) for i in range(top + 1)]
    wrt = graph.add("input", (), wrt_name)
    adjoints = adjoint_expressions(graph, top, exprs, exprs, builder)
    result = adjoints.get(wrt, builder.const(0.0))
    return Formula(builder, result.id, formula.labels)
