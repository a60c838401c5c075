"""Printing graphs as text our own parser reads back: one precedence table, one parenthesize rule.

The printer keeps an explicit stack, so a 100,000-deep expression prints without recursion,
and it can stop after `limit` characters (a long expression ends with "…").
"""

from __future__ import annotations

from typing import Any

from .graph import Graph
from .ops import ATOM, OPS, POWER, PREFIX, SUM


def format_number(value: float) -> str:
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(float(value))


def _precedence(graph: Graph, node_id: int, labels: dict[int, str] | None) -> int:
    node = graph[node_id]
    if labels and node_id in labels:
        return ATOM
    if node.op == "const":
        value, label = node.attr
        return PREFIX if (label is None and value < 0) else ATOM
    if node.op == "ref":
        ref = node.attr
        return _precedence(ref.graph, ref.node, ref.labels)
    entry = OPS.get(node.op)
    if entry is None or entry.infix is None:
        return ATOM
    return entry.prec


def to_text(graph: Graph, node_id: int, labels: dict[int, str] | None = None,
            limit: int | None = None, top_label: bool = False) -> str:
    """The expression of a node. Named nodes print as their names (`labels`), except the node
    itself unless `top_label`; `ref` leaves print the node they refer to in another graph."""
    out: list[str] = []
    size = 0
    stack: list[Any] = [(graph, node_id, labels, not top_label)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            size += len(item)
            if limit is not None and size > limit:
                return "".join(out)[:limit] + "…"
            continue
        g, nid, labs, expand = item
        node = g[nid]
        if labs and nid in labs and not expand:
            stack.append(labs[nid])
            continue
        if node.op == "const":
            value, label = node.attr
            stack.append(label if label else format_number(value))
        elif node.op in ("input", "sym"):
            stack.append(node.attr)
        elif node.op == "ref":
            stack.append((node.attr.graph, node.attr.node, node.attr.labels, False))
        else:
            stack.extend(reversed(_layout(g, nid, labs)))
    return "".join(out)


def _layout(g: Graph, nid: int, labs: dict[int, str] | None) -> list[Any]:
    """One level of a node: literal strings and child items, left to right."""
    node = g[nid]
    entry = OPS[node.op]
    child = [(g, a, labs, False) for a in node.args]
    if entry.infix is None:
        parts: list[Any] = [f"{entry.callable_as or entry.name}("]
        for i, c in enumerate(child):
            if i:
                parts.append(", ")
            parts.append(c)
        parts.append(")")
        return parts
    prec = entry.prec
    if len(node.args) == 1:  # prefix minus
        inner = _precedence(g, node.args[0], labs)
        return [entry.infix, *_paren(child[0], inner < prec or inner == PREFIX)]
    left = _precedence(g, node.args[0], labs)
    right = _precedence(g, node.args[1], labs)
    if prec == POWER:  # right-associative
        left_paren, right_paren = left <= prec, right < prec
    else:  # left-associative: a - (b - c), a·(b·c) keep their shape when read back
        left_paren, right_paren = left < prec, right <= prec
    sym = f" {entry.infix} " if prec <= SUM else entry.infix
    return [*_paren(child[0], left_paren), sym, *_paren(child[1], right_paren)]


def _paren(item: Any, needed: bool) -> list[Any]:
    return ["(", item, ")"] if needed else [item]
