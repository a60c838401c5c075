"""The graph IR: immutable nodes in topological order, identical subexpressions shared.

A node is (op, args, attr): `args` are ids of earlier nodes, so the list of nodes is
already in evaluation order and no pass ever needs to recurse. `attr` holds what an
operation needs beyond its arguments: the value of a constant, the name of an input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


class Node(NamedTuple):
    op: str
    args: tuple[int, ...]
    attr: Any = None


class Ref:
    """A leaf standing for a node of another graph (a formula's argument as the program names it)."""

    __slots__ = ("graph", "node", "labels", "text", "prec")

    def __init__(self, graph: Graph, node: int, labels: dict[int, str] | None = None,
                 text: str | None = None, prec: int | None = None):
        # `text` and `prec`, when given, are how the node prints (already shortened) and binds.
        self.graph, self.node, self.labels, self.text, self.prec = graph, node, labels, text, prec

    def __hash__(self) -> int:
        return hash((id(self.graph), self.node))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ref) and other.graph is self.graph and other.node == self.node


def _attr_key(attr: Any) -> Any:
    # Constants are keyed by their exact bits, so 0.0 and -0.0 stay apart and nan finds itself.
    kind = type(attr)
    if kind is float:
        return ("f", attr.hex())
    if kind is tuple and len(attr) == 2 and type(attr[0]) is float:  # a constant: (value, label)
        return ("f", attr[0].hex(), attr[1])
    if kind is tuple:  # an array constant, or an operation's parameters
        return tuple(("f", a.hex()) if type(a) is float else
                     ("a", a.shape, a.dtype.str, a.tobytes()) if hasattr(a, "tobytes") else a for a in attr)
    return attr


class Graph:
    """A DAG of nodes in topological order; `add` returns the id of an existing identical node."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self._index: dict[tuple, int] = {}

    def add(self, op: str, args: tuple[int, ...] = (), attr: Any = None) -> int:
        key = (op, args, None if attr is None else _attr_key(attr))
        found = self._index.get(key)
        if found is not None:
            return found
        self.nodes.append(Node(op, args, attr))
        node_id = len(self.nodes) - 1
        self._index[key] = node_id
        return node_id

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, node_id: int) -> Node:
        return self.nodes[node_id]

    def ancestors(self, targets: list[int]) -> set[int]:
        """Every node the targets depend on, the targets included (one backward sweep)."""
        seen = set(targets)
        for node_id in range(max(targets, default=-1), -1, -1):
            if node_id in seen:
                seen.update(self.nodes[node_id].args)
        return seen

    def descendants(self, sources: list[int]) -> set[int]:
        """Every node that depends on one of the sources, the sources included."""
        seen = set(sources)
        for node_id in range(min(sources, default=len(self.nodes)), len(self.nodes)):
            if any(a in seen for a in self.nodes[node_id].args):
                seen.add(node_id)
        return seen


@dataclass
class Statement:
    name: str | None  # None for a bare expression
    node: int
    line: int
    text: str


@dataclass
class Expect:
    """`expect lhs == rhs [within tol]`: a check on two nodes' values."""

    lhs: int
    rhs: int
    tol: float | None  # absolute tolerance from `within`; None: the run's rtol/atol
    line: int
    text: str
    node: int = -1  # the comparison node


@dataclass
class Notice:
    """What reading the text noticed and a person should be told (a name that glues letters):
    the same fields as the engine's Diagnostic, so it is printed and serialized alike."""

    kind: str
    message: str
    node: str | None = None  # the name it is about
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "node": self.node, "line": self.line, "message": self.message}


@dataclass
class Program:
    """A parsed program: its graph, its statements, and which names mean which nodes."""

    graph: Graph
    source: str
    statements: list[Statement] = field(default_factory=list)
    bindings: dict[str, int] = field(default_factory=dict)  # name -> node, latest binding
    inputs: dict[str, int] = field(default_factory=dict)  # input name -> node, first-use order
    defaults: dict[str, Any] = field(default_factory=dict)  # input name -> value from `x = 2`
    labels: dict[int, str] = field(default_factory=dict)  # node -> the name shown for it
    expects: list[Expect] = field(default_factory=list)
    target: int | None = None  # the last statement's node
    target_name: str | None = None
    warnings: list[Notice] = field(default_factory=list)  # from reading the text (grammar.py)

    def statement_of(self, node_id: int) -> Statement | Expect | None:
        """The first statement (or expect line) whose expression built this node (for messages)."""
        places = sorted([*self.statements, *self.expects], key=lambda s: s.node)
        for place in places:
            if place.node >= node_id:
                return place
        return None

    def names(self) -> list[str]:
        """Every name a user can ask about: inputs first, then named steps."""
        out = list(self.inputs)
        out += [n for n in self.bindings if n not in self.inputs]
        return out
