"""Renderings of result objects: tables for people (Rich on a terminal, plain text when piped)
and JSON for programs. Nothing here computes; everything comes from the result object."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from .api import GradResult

ROWS_SHOWN = 40  # nodes shown without --all-nodes: the first and last 20


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    styles: dict[int, str] = field(default_factory=dict)  # column -> Rich style


def fmt(value: Any, digits: int = 10) -> str:
    """A number with `digits` significant digits; arrays as numpy prints them, summarized."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        v = float(arr)
        if v == 0:
            return "0"
        return f"{v:.{digits}g}"
    return np.array2string(arr, precision=min(digits, 8), separator=", ", threshold=12,
                           max_line_width=60, floatmode="maxprec")


def _d(label: str) -> str:
    return label if label.replace("_", "a").isalnum() else f"({label})"


def grad_tables(result: GradResult, digits: int = 10, all_nodes: bool = False) -> list[Table]:
    """The node table (forward values, local partials, adjoints) and the gradient table."""
    targets = list(result.targets)
    ids = result.node_ids()
    hidden = 0
    if not all_nodes and len(ids) > ROWS_SHOWN:
        hidden = len(ids) - ROWS_SHOWN
        ids = ids[:ROWS_SHOWN // 2] + ids[-ROWS_SHOWN // 2:]
    nodes = Table("Nodes in evaluation order (forward values, local partials, reverse-pass adjoints)",
                  ["#", "node", "op", "value", "local partials", *[f"∂{_d(t)}/∂node" for t in targets]],
                  styles={3: "cyan", **{5 + i: "yellow" for i in range(len(targets))}})
    for position, row in enumerate(result.rows(ids)):
        if hidden and position == ROWS_SHOWN // 2:
            nodes.rows.append(["…", f"{hidden:,} more nodes", "", "", "", *["" for _ in targets]])
        name = result.program.labels.get(row.id)
        head = f"∂{_d(name)}" if name else "∂"
        partials = "\n".join(f"{head}/∂{_d(p.wrt)} = {p.formula} = {fmt(p.value, digits)}"
                             for p in row.local_partials)
        adj = [fmt(row.adjoints[t], digits) if t in row.adjoints else "not connected" for t in targets]
        number = position + 1 + (hidden if hidden and position >= ROWS_SHOWN // 2 else 0)
        nodes.rows.append([str(number), row.name, row.op, fmt(row.value, digits), partials, *adj])
    if hidden:
        total = len(result.node_ids())
        nodes.notes.append(f"{hidden:,} of {total:,} nodes not shown; --all-nodes shows every one")

    grads = Table("Gradient", ["", *[f"∂/∂{_d(w)}" for w in result.wrt]], styles={0: "bold"})
    for t, row in result.gradients.items():
        cells = []
        for w, v in row.items():
            cells.append(f"{fmt(v, digits)} (not connected)" if (t, w) in result.not_connected
                         else fmt(v, digits))
        grads.rows.append([f"∂{_d(t)}", *cells])
    for t, v in result.targets.items():
        grads.notes.append(f"{t} = {fmt(v, digits)}")
    if result.not_connected:
        grads.notes.append("not connected: the target does not depend on that node (TensorFlow returns None)")
    return [nodes, grads]


def functions_table(functions: list[tuple[str, list[tuple[str, str]], str]]) -> Table:
    table = Table("Functions and their partial derivatives", ["call", "partials", "notes"])
    for call, partials, notes in functions:
        table.rows.append([call, "\n".join(f"∂/∂{a} = {f}" for a, f in partials), notes])
    return table


def wants_rich(stream: TextIO) -> bool:
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def print_tables(tables: list[Table], stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    if wants_rich(stream):
        _print_rich(tables, stream)
    else:
        stream.write(plain_text(tables))


def _print_rich(tables: list[Table], stream: TextIO) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console(file=stream, highlight=False)  # Rich itself honours NO_COLOR
    for t in tables:
        rt = RichTable(title=t.title, box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
        for i, col in enumerate(t.columns):
            rt.add_column(col, style=t.styles.get(i), overflow="fold")
        for row in t.rows:
            rt.add_row(*row)
        console.print(rt)
        for note in t.notes:
            console.print(note, style="dim", markup=False)
        console.print()


def plain_text(tables: list[Table]) -> str:
    """Tables as aligned plain text: no colour, no box characters, nothing wrapped."""
    out: list[str] = []
    for t in tables:
        out.append(t.title)
        cells = [t.columns] + t.rows
        split = [[c.split("\n") for c in row] for row in cells]
        widths = [max(len(line) for row in split for line in row[i]) for i in range(len(t.columns))]
        for r, row in enumerate(split):
            height = max(len(c) for c in row)
            for k in range(height):
                parts = [(c[k] if k < len(c) else "").ljust(widths[i]) for i, c in enumerate(row)]
                out.append("  " + "  ".join(parts).rstrip())
            if r == 0:
                out.append("  " + "  ".join("-" * w for w in widths))
        out.extend(t.notes)
        out.append("")
    return "\n".join(out) + "\n"


def to_json(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)


def print_warnings(warnings: list[Any], stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    for w in warnings:
        stream.write(f"warning: {w.message}\n")
