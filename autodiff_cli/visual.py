"""Pictures of the computational graph: Graphviz DOT, Mermaid, and the data for a Rich tree.

Each node is numbered in evaluation order and shows its operation, its forward value (blue,
as the lecture draws them) and its adjoint in the reverse pass (amber); each edge is labelled
with its local partial. Large graphs show the nodes nearest the target and say how many
are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .engine import LinearMap
from .errors import LimitError, UsageError
from .inputs import node_named
from .results import GradResult

FORWARD, BACKWARD = "#1f5fbf", "#b36200"  # value and adjoint colours
FILL = {"input": "#dbe8fb", "target": "#fde9c8", "step": "#f4f4f4"}


@dataclass
class Picture:
    """The nodes and edges to draw, already numbered, labelled and capped."""

    nodes: list[dict[str, Any]] = field(default_factory=list)  # id, number, name, op, value, adjoint, kind
    edges: list[tuple[int, int, str]] = field(default_factory=list)  # from, to, label
    hidden: int = 0  # nodes left out
    target: str = ""


def picture(result: GradResult, fmt: Any, digits: int = 4, max_nodes: int = 60) -> Picture:
    """Which nodes to draw (at most max_nodes, nearest the target first) and their labels;
    `fmt(value, digits)` formats numbers."""
    target = next(iter(result.targets))
    program = result.program
    ids = [n for n in result.node_ids() if program.graph[n].op != "const"]
    number = {nid: i + 1 for i, nid in enumerate(ids)}
    keep = set(ids)
    target_node = node_named(program, target)
    if len(ids) > max_nodes:  # breadth first from the target, without recursion
        keep, frontier = {target_node}, [target_node]
        while frontier and len(keep) < max_nodes:
            nxt = []
            for nid in frontier:
                for a in program.graph[nid].args:
                    if a in number and a not in keep and len(keep) < max_nodes:
                        keep.add(a)
                        nxt.append(a)
            frontier = nxt
    pic = Picture(hidden=len(ids) - len(keep), target=target)
    for row in result.rows([nid for nid in ids if nid in keep]):
        kind = "input" if row.op == "input" else "target" if row.id == target_node else "step"
        adjoint = row.adjoints.get(target)
        named = row.name if row.name.replace("_", "a").isalnum() else "·"
        pic.nodes.append({"id": row.id, "number": number[row.id], "name": row.name, "op": row.op,
                          "value": fmt(row.value, digits), "wrt": named,
                          "adjoint": "not connected" if adjoint is None else fmt(adjoint, digits),
                          "kind": kind})
        partials = iter(row.local_partials)  # one per argument a gradient flows to
        for i, a in enumerate(program.graph[row.id].args):
            if (row.id, i) not in result.local_values:
                continue
            partial = next(partials)
            if a in keep:
                value = "" if isinstance(partial.value, LinearMap) else fmt(partial.value, digits)
                shown = "" if value in ("", partial.formula) else f" = {value}"
                pic.edges.append((a, row.id, partial.formula + shown))
    return pic


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def to_dot(pic: Picture) -> str:
    """Graphviz DOT text: inputs on the left, the target on the right."""
    out = ["digraph adiff {", "  rankdir=LR;",
           '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
           '  edge [fontname="Helvetica", fontsize=9, color="#555555"];']
    for n in pic.nodes:
        label = (f'<<b>{n["number"]}. {_html(n["name"])}</b>'
                 f'<br/><font point-size="9">{_html(n["op"])}</font>'
                 f'<br/><font color="{FORWARD}">value {_html(n["value"])}</font>'
                 f'<br/><font color="{BACKWARD}">∂{_html(pic.target)}/∂{_html(n["wrt"])} = '
                 f'{_html(n["adjoint"])}</font>>')
        out.append(f'  n{n["id"]} [label={label}, fillcolor="{FILL[n["kind"]]}"];')
    for a, b, label in pic.edges:
        out.append(f'  n{a} -> n{b} [label="{_escape(label)}"];')
    if pic.hidden:
        out.append(f'  more [label="… {pic.hidden:,} more nodes", shape=plaintext];')
    out.append("}")
    return "\n".join(out) + "\n"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_mermaid(pic: Picture) -> str:
    """Mermaid flowchart text, to paste into Markdown."""
    out = ["flowchart LR"]
    for n in pic.nodes:
        label = (f'{n["number"]}. {n["name"]}<br/>{n["op"]}<br/>value = {n["value"]}'
                 f'<br/>∂{pic.target}/∂{n["wrt"]} = {n["adjoint"]}')
        out.append(f'  n{n["id"]}["{_mermaid(label)}"]:::{n["kind"]}')
    for a, b, label in pic.edges:
        out.append(f'  n{a} -- "{_mermaid(label)}" --> n{b}')
    if pic.hidden:
        out.append(f'  more["… {pic.hidden:,} more nodes"]')
    for kind, colour in FILL.items():
        out.append(f"  classDef {kind} fill:{colour},stroke:#888")
    return "\n".join(out) + "\n"


def _mermaid(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", "<br/>")


def write_file(path: Any, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror}") from None


DOT_SECONDS = 30  # Graphviz's layout of a large graph can run for minutes: it is stopped here


QUICK_LAYOUT_NODES = 60  # beyond this many nodes and edges, dot lays out with straight edges


def render_image(dot_text: str, output: Any, kind: str) -> str | None:
    """Render DOT text to an image with Graphviz's dot program. Without dot, keep the DOT text
    next to the requested file and return what to tell the user (the image was not made)."""
    import shutil
    import subprocess

    dot = shutil.which("dot")
    if dot is None:
        fallback = output.with_suffix(".dot")
        write_file(fallback, dot_text)
        return (f"Graphviz's dot program is not installed, so no {kind} was made; the DOT text is in "
                f"{fallback}. Install Graphviz (apt-get install graphviz, brew install graphviz, or "
                "https://graphviz.org) and run again, or render the .dot file elsewhere.")
    # dot's crossing minimisation and curved edges grow fast with the nodes (a 200-node sum took
    # 28 s): a large picture gets straight edges and a bounded search (0.14 s for the same one).
    quick = ["-Gsplines=line", "-Gmclimit=0.1", "-Gnslimit=1", "-Gnslimit1=1"] \
        if dot_text.count("\n  n") > QUICK_LAYOUT_NODES else []
    try:
        proc = subprocess.run([dot, f"-T{kind}", *quick, "-o", str(output)], input=dot_text, text=True,
                              capture_output=True, timeout=DOT_SECONDS)
    except subprocess.TimeoutExpired:
        fallback = output.with_suffix(".dot")
        write_file(fallback, dot_text)
        raise LimitError(f"Graphviz's dot did not finish laying out the graph within {DOT_SECONDS} s, so "
                         f"no {kind} was made; the DOT text is in {fallback}. Draw fewer nodes with "
                         "--max-nodes, or run dot on that file yourself, without a time limit") from None
    if proc.returncode != 0:
        raise UsageError(f"dot could not render the graph: {proc.stderr.strip()}")
    return None
