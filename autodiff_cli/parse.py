"""Reading a program: the grammar's reading (grammar.py), then each grad(f, x) node expanded
into the derivative's own graph (symbolic.py), so derivatives in programs are exact and nest."""

from __future__ import annotations

from .errors import AdiffError, ParseError
from .grammar import MAX_PROGRAM_CHARS, read
from .graph import Graph, Program

__all__ = ["MAX_PROGRAM_CHARS", "parse"]


def parse(source: str) -> Program:
    """Parse program text into a Program (graph, statements, inputs); raises ParseError."""
    return expand_derivatives(read(source))


def expand_derivatives(program: Program) -> Program:
    """The program with every grad(f, x) node replaced by the graph of ∂f/∂x. The graph is
    rebuilt in one pass over the nodes in order (no recursion), and every id that the program
    keeps (statements, names, labels, expect lines) follows its node."""
    old = program.graph
    if not any(node.op == "grad" for node in old.nodes):
        return program
    from .symbolic import derivative_in_program  # only a program with grad() needs it at start-up

    graph = Graph()
    new_id: list[int] = []
    for node in old.nodes:
        args = tuple(new_id[a] for a in node.args)
        if node.op != "grad":
            new_id.append(graph.add(node.op, args, node.attr))
            continue
        line, column = node.attr
        try:
            new_id.append(derivative_in_program(graph, *args))
        except AdiffError as err:
            raise ParseError(f"grad(): {err.message}", line=line, column=column,
                             source=program.source) from None
    program.graph = graph
    for stmt in program.statements:
        stmt.node = new_id[stmt.node]
    for expect in program.expects:
        expect.lhs, expect.rhs = new_id[expect.lhs], new_id[expect.rhs]
        expect.node = new_id[expect.node] if expect.node >= 0 else expect.node
    program.bindings = {name: new_id[n] for name, n in program.bindings.items()}
    program.inputs = {name: new_id[n] for name, n in program.inputs.items()}
    labels: dict[int, str] = {}
    for n, name in program.labels.items():
        labels.setdefault(new_id[n], name)
    program.labels = labels
    if program.target is not None:
        program.target = new_id[program.target]
    return program
