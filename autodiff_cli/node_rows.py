"""A gradient's nodes as people read them: each node's name and expression, the formula and value
of each local partial, and its adjoints. The tables, the graph pictures and the JSON show these."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .formulas import local_partial_formula
from .graph import Program
from .ops import OPS
from .printing import ShortTexts


@dataclass
class LocalPartial:
    wrt: str  # the argument's label
    formula: str
    value: Any


@dataclass
class NodeRow:
    id: int
    name: str  # the node's name, or its expression when unnamed
    expr: str
    op: str
    value: Any
    local_partials: list[LocalPartial]
    adjoints: dict[str, Any]  # target -> ∂target/∂node; absent where not connected


LABEL_CHARS = 80  # a node's text longer than this shows its first and last characters


def node_rows(prog: Program, ids: list[int], values: list[Any], local_values: dict[tuple[int, int], Any],
              adjoints: dict[str, dict[int, Any]], limit: int | None = LABEL_CHARS) -> Iterator[NodeRow]:
    """The rows of the nodes `ids`; formulas are built only for the rows asked for. Texts are
    built bottom up and shortened to `limit` characters (None: whole, quadratic in the worst case)."""
    graph = prog.graph
    texts = ShortTexts(graph, prog.labels, max(ids, default=0), limit=limit)
    for nid in ids:
        node = graph[nid]
        expr = texts.full[nid]
        name = prog.labels.get(nid, expr)
        partials = []
        for i, arg in enumerate(node.args):
            if (nid, i) in local_values:
                partials.append(LocalPartial(texts.ref(arg), local_partial_formula(prog, nid, i, texts=texts),
                                             local_values[(nid, i)]))
        value = values[nid]
        node_adjoints = {t: _shaped(adj[nid], value) for t, adj in adjoints.items() if nid in adj}
        op = OPS[node.op].shown_name if node.op in OPS else node.op  # shaped_like, not fit
        yield NodeRow(nid, name, expr, op, value, partials, node_adjoints)


def _shaped(adjoint: Any, value: Any) -> Any:
    """The adjoint in the node's shape (a sum's adjoint is kept unbroadcast in the pass)."""
    if isinstance(adjoint, float) and isinstance(value, float):  # scalars: most nodes
        return adjoint
    return np.broadcast_to(adjoint, np.shape(value))[()]
