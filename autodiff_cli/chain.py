"""The chain rule of a `grad` result as plain data (no text): what `steps` writes out.

- Named nodes: the program's labels, plus t<number> for unnamed nodes whose expression is long.
- Edges: each node's local partials, a formula (a symbolic handle) and a value. Steps through
  unnamed nodes whose local derivative is a constant (the 1 of a sum, the -1 of a difference)
  are merged into one edge between named steps, so the perceptron's partial reads
  dc/dw1 = dc/dp × dp/dz × dz/dw1, as in the lecture; the values are always the exact products
  of the local partials the engine computed.
- Partials: each requested ∂target/∂variable as the sum over the paths from the variable up to
  the target of the products along them, or, where the paths are too many (counted by dynamic
  programming, never enumerated) or too long, or run through array operations, as the adjoint
  recurrence of the reverse pass, node by node.

Nothing here recurses over the graph: every pass is a loop over nodes in (reverse) evaluation
order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .api import GradResult
from .builder import Builder
from .engine import LinearMap
from .formulas import local_partial
from .graph import Graph, Program
from .inputs import node_named
from .ops import Sym
from .printing import to_text

__all__ = ["ChainRule", "Edge", "Partial", "chain_rule"]

MAX_FACTORS = 16  # a path with more local derivatives than this is shown as the adjoint recurrence
PATH_CAP = 10**18  # path counts stop growing here (said as "more than 10^18")
SHORT = 24  # an unnamed node whose expression is longer is referred to by a step name, t<number>
MERGE_MAX = 8  # a merged node hands at most this many edges on to its consumer


@dataclass(frozen=True)
class Edge:
    """∂top/∂bottom: one local partial, or a chain of them merged through unnamed nodes."""

    top: int
    bottom: int
    formula: Sym | None  # None: a linear map (an array operation's vector-Jacobian product)
    value: Any
    via: tuple[int, ...] = ()  # the unnamed nodes merged into this edge, top first
    position: int = 0  # the argument position of the edge out of `top`
    inner: int = 0  # the argument position of the last edge, into `bottom`
    index: int = 0  # 1, 2, ... among several edges from top to bottom; 0 when it is the only one


@dataclass(frozen=True)
class Partial:
    """∂target/∂variable and how the chain rule gets it (`how`):

    - "identity": the target is the variable (1); "not connected": no path (0);
    - "paths": `paths` from the target down to the variable, each a tuple of edges, with the
      `products` of their values and their sum `total`; `branches` are the nodes where paths split;
    - "recurrence", because of `why` ("arrays", "many paths" or "long paths"): the adjoint of
      each node in `order` (variable first, target last) is the sum over `consumers[node]` (the
      edges into it from nodes on the paths, the latest consumer first) of the consumer's
      adjoint times the edge; `adjoints` holds the values, shaped as the node's value."""

    target: str
    variable: str
    top: int
    bottom: int
    how: str
    why: str = ""
    path_count: int = 0  # capped at PATH_CAP
    longest: int = 0  # local derivatives on the longest path
    paths: tuple[tuple[Edge, ...], ...] = ()
    products: tuple[Any, ...] = ()
    total: Any = None
    branches: tuple[int, ...] = ()
    order: tuple[int, ...] = ()
    consumers: dict[int, list[Edge]] = field(default_factory=dict)
    adjoints: dict[int, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChainRule:
    """The chain rule of one `grad` result: the three parts `steps` writes out."""

    graph: Graph
    values: dict[int, Any]  # forward values
    ids: list[int]  # the nodes in evaluation order
    number: dict[int, int]  # each node's number in the forward pass, from 1
    labels: dict[int, str]  # step names: the program's labels and t<number>
    formulas: Graph  # where the edges' formulas live
    edges: dict[int, list[Edge]]  # each node's edges to its arguments (merged nodes have none)
    merged: frozenset[int]  # unnamed nodes merged into their consumer's edges
    partials: list[Partial]  # every target × every variable, in that order


def chain_rule(result: GradResult, max_paths: int = 20) -> ChainRule:
    """The chain rule of `result`: named nodes, condensed edges, and each requested partial as
    at most `max_paths` paths of at most MAX_FACTORS steps, or else as the adjoint recurrence."""
    ids = result.node_ids()
    number = {nid: k for k, nid in enumerate(ids, 1)}
    labels = step_names(result.program, ids, number)
    local = _LocalPartials(result.program, labels)
    edges, merged = _condense(result, ids, local)
    graph = result.program.graph
    kept = sorted(n for n in ids if n not in merged)
    pairs = [_partial(result, edges, kept, t, w, max_paths) for t in result.targets for w in result.wrt]
    return ChainRule(graph, result.values, ids, number, labels, local.builder.graph, edges,
                     frozenset(merged), pairs)


def step_names(program: Program, ids: list[int], number: dict[int, int]) -> dict[int, str]:
    """The program's labels, plus t<number> for unnamed nodes whose expression is long (each
    such name is the node's number in the forward pass), so every node prints short."""
    taken = set(program.names()) | set(program.labels.values())
    prefix = "t"
    while any(n.startswith(prefix) and n[len(prefix):].isdigit() for n in taken):
        prefix = "_" + prefix
    labels = dict(program.labels)
    for nid in ids:
        if nid in labels or program.graph[nid].op == "input":
            continue
        if to_text(program.graph, nid, labels, limit=SHORT).endswith("…"):
            labels[nid] = f"{prefix}{number[nid]}"
    return labels


class _LocalPartials:
    """Local-partial formulas in one builder, so merged edges can be multiplied together."""

    def __init__(self, program: Program, labels: dict[int, str]):
        self.program = program
        self.labels = labels
        self.builder = Builder(simplify=True)
        self._cache: dict[tuple[int, int], Sym | None] = {}

    def formula(self, nid: int, pos: int) -> Sym | None:
        """∂node/∂(argument at pos) in the step names (None for a linear map)."""
        if (nid, pos) not in self._cache:
            self._cache[(nid, pos)] = local_partial(self.builder, self.program, nid, pos, self.labels)
        return self._cache[(nid, pos)]

    def number(self, formula: Sym | None) -> float | None:
        """The formula's value when it is a plain number."""
        if formula is None:
            return None
        node = self.builder.graph[formula.id]
        if node.op == "const" and node.attr[1] is None and np.ndim(node.attr[0]) == 0:
            return float(node.attr[0])
        return None

    def constant(self, formula: Sym | None) -> bool:
        return self.number(formula) is not None

    def compose(self, outer: Sym, inner: Sym) -> Sym:
        """outer·inner, with factors of 1 and -1 folded here (not left to the simplifier)."""
        a, b = self.number(outer), self.number(inner)
        if a is not None and b is not None:
            return self.builder.const(a * b)
        if a == 1 or b == 1:
            return inner if a == 1 else outer
        if a == -1 or b == -1:
            return -(inner if a == -1 else outer)
        return outer * inner


def _condense(result: GradResult, ids: list[int],
              partials: _LocalPartials) -> tuple[dict[int, list[Edge]], set[int]]:
    """Each node's edges to its arguments, with unnamed nodes merged into their one consumer
    where the step through them is a constant factor (forward order: an argument is merged
    before its consumer's edges are built)."""
    program, local, values = result.program, result.local_values, result.values
    graph = program.graph
    consumers: dict[int, list[tuple[int, int]]] = {}
    for nid, pos in local:
        consumers.setdefault(graph[nid].args[pos], []).append((nid, pos))
    keep = {node_named(program, n) for n in result.targets} | {node_named(program, n) for n in result.wrt}
    edges: dict[int, list[Edge]] = {}
    merged: set[int] = set()
    for nid in ids:
        node = graph[nid]
        own: list[Edge] = []
        for pos, arg in enumerate(node.args):
            if (nid, pos) not in local:
                continue
            formula = partials.formula(nid, pos)
            value = local[(nid, pos)]
            if arg in merged:
                for e in edges.pop(arg):
                    assert formula is not None and e.formula is not None
                    own.append(Edge(nid, e.bottom, partials.compose(formula, e.formula), value * e.value,
                                    (arg, *e.via), pos, e.inner))
            else:
                own.append(Edge(nid, arg, formula, value, (), pos, pos))
        edges[nid] = own
        unnamed = nid not in keep and nid not in program.labels
        if unnamed and _mergeable(nid, consumers.get(nid, []), own, values, local, partials):
            merged.add(nid)
    return {nid: _numbered(own) for nid, own in edges.items()}, merged


def _mergeable(nid: int, uses: list[tuple[int, int]], own: list[Edge], values: dict[int, Any],
               local: dict[tuple[int, int], Any], partials: _LocalPartials) -> bool:
    if len(uses) != 1 or partials.program.graph[nid].op == "input":
        return False
    (top, pos), = uses
    scalar = [values[nid], values[top], local[(top, pos)]]
    scalar += [e.value for e in own] + [values[e.bottom] for e in own]
    if len(own) > MERGE_MAX or any(isinstance(v, LinearMap) or np.ndim(v) for v in scalar):
        return False
    if any(e.formula is None for e in own) or partials.formula(top, pos) is None:
        return False
    return partials.constant(partials.formula(top, pos)) or all(partials.constant(e.formula) for e in own)


def _numbered(edges: list[Edge]) -> list[Edge]:
    """Several edges from one node to the same argument numbered 1, 2, ...; a single one 0."""
    seen: dict[int, int] = {}
    for e in edges:
        seen[e.bottom] = seen.get(e.bottom, 0) + 1
    counter: dict[int, int] = {}
    out = []
    for e in edges:
        if seen[e.bottom] > 1:
            counter[e.bottom] = counter.get(e.bottom, 0) + 1
            e = replace(e, index=counter[e.bottom])
        out.append(e)
    return out


def _partial(result: GradResult, edges: dict[int, list[Edge]], kept: list[int], t_name: str, w_name: str,
             max_paths: int) -> Partial:
    t, v = node_named(result.program, t_name), node_named(result.program, w_name)
    if t == v:
        return Partial(t_name, w_name, t, v, "identity")
    ancestors = result.adjoints[t_name]
    if v not in ancestors:
        return Partial(t_name, w_name, t, v, "not connected")
    on = {v}  # nodes on a path from the variable up to the target
    for nid in kept:
        if v < nid <= t and nid in ancestors and any(e.bottom in on for e in edges.get(nid, [])):
            on.add(nid)
    order = sorted(on)
    count: dict[int, int] = {v: 1}
    longest: dict[int, int] = {v: 0}
    arrays = False
    for nid in order[1:]:
        below = [e for e in edges[nid] if e.bottom in on]
        count[nid] = min(PATH_CAP, sum(count[e.bottom] for e in below))
        longest[nid] = 1 + max(longest[e.bottom] for e in below)
        arrays = arrays or any(isinstance(e.value, LinearMap) or np.ndim(e.value) for e in below)
    arrays = arrays or any(np.ndim(result.values[n]) for n in order)
    why = ("arrays" if arrays else "many paths" if count[t] > max_paths
           else "long paths" if longest[t] > MAX_FACTORS else "")
    if why:
        return Partial(t_name, w_name, t, v, "recurrence", why, count[t], longest[t], order=tuple(order),
                       consumers=_consumers(edges, order, on), adjoints=_adjoints(result, t_name, order))
    paths = _paths(edges, t, v, on)
    products = []
    for path in paths:
        product = path[0].value
        for e in path[1:]:
            product = product * e.value
        products.append(product)
    total = products[0]
    for p in products[1:]:
        total = total + p
    return Partial(t_name, w_name, t, v, "paths", "", count[t], longest[t], tuple(paths), tuple(products),
                   total, tuple(_branches(edges, on, v)), tuple(order))


def _paths(edges: dict[int, list[Edge]], t: int, v: int, on: set[int]) -> list[tuple[Edge, ...]]:
    """Every path from t down to v through the nodes `on` the paths, depth first, each node's
    edges in argument order."""
    paths: list[tuple[Edge, ...]] = []
    stack: list[tuple[int, tuple[Edge, ...]]] = [(t, ())]
    while stack:
        nid, acc = stack.pop()
        if nid == v:
            paths.append(acc)
            continue
        for e in reversed(edges[nid]):
            if e.bottom in on:
                stack.append((e.bottom, (*acc, e)))
    return paths


def _branches(edges: dict[int, list[Edge]], on: set[int], v: int) -> list[int]:
    """The nodes on the paths that feed more than one step on them (where paths split)."""
    uses: dict[int, int] = {}
    for nid in on:
        if nid == v:
            continue
        for e in edges[nid]:
            if e.bottom in on:
                uses[e.bottom] = uses.get(e.bottom, 0) + 1
    return sorted(n for n, k in uses.items() if k > 1)


def _consumers(edges: dict[int, list[Edge]], order: list[int], on: set[int]) -> dict[int, list[Edge]]:
    """For each node on the paths, the edges into it from its consumers on the paths, the latest
    consumer first (the order in which the reverse pass adds them up)."""
    users: dict[int, list[Edge]] = {n: [] for n in order}
    for nid in reversed(order[1:]):
        for e in edges[nid]:
            if e.bottom in on:
                users[e.bottom].append(e)
    return users


def _adjoints(result: GradResult, t_name: str, order: list[int]) -> dict[int, Any]:
    """The reverse pass's adjoint of each node on the paths, shaped as the node's value."""
    out = {}
    for nid in order:
        adj = result.adjoints[t_name][nid]
        shape = np.shape(result.values[nid])
        out[nid] = adj if np.shape(adj) == shape else np.broadcast_to(adj, shape)[()]
    return out
