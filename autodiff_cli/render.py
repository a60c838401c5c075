"""Renderings of result objects: tables for people (Rich on a terminal, plain text when piped)
and JSON for programs. Nothing here computes; everything comes from the result object."""

from __future__ import annotations

import functools
import os
import sys
from typing import Any, TextIO

import numpy as np

from .engine import LinearMap
from .layout import Table, lay_out, records_text, wrap_words
from .numfmt import format_value
from .results import CompareResult, DiffResult, GradResult, GridResult, JacobianResult

ROWS_SHOWN = 40  # nodes shown without --all-nodes: the first and last 20


def fmt(value: Any, digits: int = 10, full: bool = False) -> str:
    """A number with `digits` significant digits; an array as nested lists, long ones
    summarized (first and last elements) after their shape unless `full`."""
    if value is None or isinstance(value, LinearMap):
        return ""
    return format_value(value, digits, full=full)


def _d(label: str) -> str:
    return label if label.replace("_", "a").isalnum() else f"({label})"


def grad_tables(result: GradResult, digits: int = 10, all_nodes: bool = False,
                full: bool = False) -> list[Table]:
    """The node table (forward values, local partials, adjoints) and the gradient table."""
    targets = list(result.targets)
    ids = result.node_ids()
    hidden = 0
    if not all_nodes and len(ids) > ROWS_SHOWN:
        hidden = len(ids) - ROWS_SHOWN
        ids = ids[:ROWS_SHOWN // 2] + ids[-ROWS_SHOWN // 2:]
    nodes = Table("Nodes in evaluation order (forward values, local partials, reverse-pass adjoints)",
                  ["#", "node", "op", "value", "local partials", *[f"∂{_d(t)}/∂node" for t in targets]],
                  styles={3: "cyan", **{5 + i: "yellow" for i in range(len(targets))}}, keys=2)
    for position, row in enumerate(result.rows(ids, limit=None) if full else result.rows(ids)):
        if hidden and position == ROWS_SHOWN // 2:
            nodes.rows.append(["…", f"{hidden:,} more nodes", "", "", "", *["" for _ in targets]])
        name = result.program.labels.get(row.id)
        head = f"∂{_d(name)}" if name else "∂"
        partials = "\n".join(_partial_text(f"{head}/∂{_d(p.wrt)}", p.formula, p.value, digits, full)
                              for p in row.local_partials)
        adj = [fmt(row.adjoints[t], digits, full) if t in row.adjoints else "not connected" for t in targets]
        number = position + 1 + (hidden if hidden and position >= ROWS_SHOWN // 2 else 0)
        nodes.rows.append([str(number), row.name, row.op, fmt(row.value, digits, full), partials, *adj])
    if hidden:
        total = len(result.node_ids())
        nodes.notes.append(f"{hidden:,} of {total:,} nodes not shown; --all-nodes shows every one")

    grads = Table("Gradient", ["target", *[f"∂/∂{_d(w)}" for w in result.wrt]], styles={0: "bold"},
                  turnable=True)
    for t, row in result.gradients.items():
        cells = []
        for w, v in row.items():
            cells.append(f"{fmt(v, digits, full)} (not connected)" if (t, w) in result.not_connected
                         else fmt(v, digits, full))
        grads.rows.append([f"∂{_d(t)}", *cells])
    for t, v in result.targets.items():
        grads.notes.append(f"{t} = {fmt(v, digits)}")
    if result.not_connected:
        grads.notes.append("not connected: the target does not depend on that node (TensorFlow returns None)")
    return [nodes, grads]


def _partial_text(name: str, formula: str, value: Any, digits: int, full: bool) -> str:
    """∂v/∂x = 2·x = 4; a constant partial once (∂/∂(x^2) = 1, not = 1 = 1)."""
    if isinstance(value, LinearMap):
        return f"{name} = {formula}"
    number = fmt(value, digits, full)
    return f"{name} = {formula}" if number == formula else f"{name} = {formula} = {number}"


def statements_text(statements: list[tuple[str, str]], limit: int | None) -> tuple[str, bool]:
    """Statements one per line (t1 = ...), cut after `limit` characters; says whether it cut."""
    lines = [f"{name} = {text}" if name else text for name, text in statements]
    text = "\n".join(lines)
    if limit and len(text) > limit:
        return text[:limit] + "…", True
    return text, False


def _point_text(point: dict[str, Any], digits: int) -> str:
    return ", ".join(f"{k} = {fmt(v, digits)}" for k, v in point.items())


def _beyond(value: Any, reference: Any, rtol: float, atol: float) -> bool:
    """Whether a method's value differs from reverse mode's by more than the tolerance."""
    from .checks import close  # compare's check, loaded with compare

    return value is not None and not close(np.asarray(value, dtype=float), np.asarray(reference, dtype=float),
                                           rtol, atol)


def compare_tables(result: CompareResult, digits: int = 10, limit: int = 600) -> list[Table]:
    tables = []
    for p in result.pairs:
        t = Table(f"∂{_d(p.of)}/∂{_d(p.wrt)} at {_point_text(result.point, digits)}",
                  ["method", "formula or step", "value", "|difference| from reverse mode"],
                  styles={2: "cyan"})
        expanded, cut_e = statements_text(p.expanded, limit)
        factored, cut_f = statements_text(p.factored, limit)

        def diff(v: Any, p: Any = p) -> str:
            if v is None:
                return ""
            with np.errstate(all="ignore"):
                return fmt(np.max(np.abs(np.asarray(v, dtype=float) - p.reverse)), 3)

        t.rows.append(["1 symbolic, expanded", expanded, fmt(p.symbolic, digits), diff(p.symbolic)])
        if p.factored != p.expanded:
            t.rows.append(["  in named steps", factored, "", ""])
        fd = p.finite_difference
        t.rows.append(["2 central difference", f"(f(x+h) - f(x-h))/2h, h = {fmt(fd.eps, 4)}\n{fd.rule}",
                       fmt(fd.value, digits), fmt(fd.abs_error, 3)])
        t.rows.append(["3 forward mode (JVP)", "tangents pushed forward", fmt(p.forward, digits),
                       diff(p.forward)])
        t.rows.append(["3 reverse mode", "adjoints pulled back", fmt(p.reverse, digits), "0"])
        if cut_e or cut_f:
            t.notes.append(f"formula cut at {limit} characters; --json has all of it")
        tolerance = f"rtol {result.rtol:g}, atol {result.atol:g}"
        t.notes.append(f"agree within {tolerance}" if p.agree else f"DISAGREE beyond {tolerance}")
        if getattr(p, "kink", None):  # the verdict says why: no derivative exists at a kink
            t.notes[-1] = ("agree on the convention's value" if p.agree else "NO DERIVATIVE") + f" ({p.kink})"
        t.note_styles[len(t.notes) - 1] = "green" if p.agree else "bold red"
        if not p.agree:  # the methods that differ from reverse mode by more than the tolerance
            methods = {"1 symbolic, expanded": p.symbolic, "2 central difference": fd.value,
                       "3 forward mode (JVP)": p.forward}
            for r, row in enumerate(t.rows):
                if row[0] in methods and _beyond(methods[row[0]], p.reverse, result.rtol, result.atol):
                    t.rows[r][0] = "✗ " + row[0]
                    t.row_styles[r] = "bold red"
        tables.append(t)
        if p.sweep:
            best = min(p.sweep, key=lambda row: float(np.nan_to_num(row[2], nan=np.inf)))
            s = Table(f"Central difference against reverse mode, by step h (∂{_d(p.of)}/∂{_d(p.wrt)})",
                      ["h", "central difference", "|error|", "best"])
            for h, v, e in p.sweep:
                s.rows.append([f"{h:.0e}", fmt(v, digits), fmt(e, 3), "← best" if h == best[0] else ""])
            s.notes.append("large h: truncation error (∝ h²); small h: rounding error (∝ ε/h)")
            tables.append(s)
    return tables


def diff_lines(results: list[DiffResult], digits: int = 10, latex: bool = False,
               limit: int | None = 4000, factored: bool = False) -> str:
    out = []
    for r in results:
        if r.error:  # no closed form for this partial; the others are still given
            out.append(f"{_latex_name(r) if latex else r.name}: {r.error}")
            continue
        statements = r.factored.program_text(r.taken, latex=latex, limit=limit) if factored and r.factored \
            else r.statements(latex=latex, limit=limit)
        *defs, (_, main) = statements
        lines = [f"{name} = {text}" for name, text in defs]
        lines.append(f"{_latex_name(r) if latex else r.name} = {main}")
        text = "\n".join(lines)
        if limit and len(text) > limit:
            text = text[:limit] + f"…\n(cut at {limit:,} characters; --max-chars 0 shows all)"
        if r.value is not None:  # the value is shown even when the formula was cut
            text += f"\n  = {fmt(r.value, digits)} at {_point_text(r.point or {}, digits)}"
        out.append(text)
    return "\n".join(out) + "\n"


def hessian_tables(results: list[DiffResult], digits: int = 10) -> tuple[list[Table], list[DiffResult]]:
    """Second derivatives that make a whole Hessian (every pair of two or more variables, each
    a formula without named parts) as a matrix of formulas, with values under them where a
    point was given; the other results as they were."""
    tables, used = [], set()
    for of in dict.fromkeys(r.of for r in results):
        entries = {tuple(r.wrt): r for r in results if r.of == of and len(r.wrt) == 2}
        names = list(dict.fromkeys(w for w, _ in entries))
        whole = len(names) > 1 and all((a, b) in entries for a in names for b in names)
        if not whole or any(e.error or len(e.statements()) > 1 for e in entries.values()):
            continue
        t = Table(f"Hessian of {of}: row i, column j is ∂²{_d(of)}/∂i∂j", [f"∂²{_d(of)}", *names], keys=1)
        for a in names:
            cells = []
            for b in names:
                e = entries[(a, b)]
                value = "" if e.value is None else f"\n= {fmt(e.value, digits)}"
                cells.append(e.statements()[-1][1] + value)
            t.rows.append([f"∂{a}", *cells])
        point = next(iter(entries.values())).point
        if point:
            t.notes.append(f"values at {_point_text(point, digits)}")
        tables.append(t)
        used.update(id(e) for e in entries.values())
    return tables, [r for r in results if id(r) not in used]


def _latex_name(r: DiffResult) -> str:
    """\\frac{\\partial^{2} f}{\\partial x^{2}}: the derivative's name in LaTeX."""
    n = len(r.wrt)
    top = r"\partial" if n == 1 else rf"\partial^{{{n}}}"
    if len(set(r.wrt)) == 1:
        bottom = rf"\partial {r.wrt[0]}" + ("" if n == 1 else f"^{{{n}}}")
    else:
        bottom = " ".join(rf"\partial {w}" for w in r.wrt)
    return rf"\frac{{{top} {r.of}}}{{{bottom}}}"


def grid_header(result: GridResult) -> list[str]:
    """x, f, df/dx: the names of a grid's columns."""
    return [*result.columns, result.of, *(f"d{result.of}/d{name}" for name in result.partials)]


def grid_table(result: GridResult, digits: int = 10, shown: int = 5) -> Table:
    """The first and last points, then the smallest and largest of each column."""
    header = grid_header(result)
    matrix = result.matrix()
    t = Table(f"{len(matrix):,} point{'s' if len(matrix) != 1 else ''}", ["point", *header])
    rows = range(len(matrix)) if len(matrix) <= 2 * shown else [*range(shown), *range(len(matrix) - shown,
                                                                                       len(matrix))]
    for k, i in enumerate(rows):
        if k == shown and len(matrix) > 2 * shown:
            t.rows.append(["…", *["" for _ in header]])
        t.rows.append([str(i + 1), *(fmt(v, digits) for v in matrix[i])])
    with np.errstate(all="ignore"):
        t.rows.append(["min", *(fmt(v, digits) for v in np.nanmin(matrix, axis=0))])
        t.rows.append(["max", *(fmt(v, digits) for v in np.nanmax(matrix, axis=0))])
    t.notes.append("--csv writes every point")
    return t


def write_csv(result: GridResult, stream: TextIO, digits: int = 17) -> None:
    stream.write(",".join(grid_header(result)) + "\n")
    matrix = result.matrix()
    np.savetxt(stream, matrix, delimiter=",", fmt=f"%.{digits}g")


def _element_labels(name: str, shape: tuple[int, ...]) -> list[str]:
    """f[0, 1], ...: each element of an array in row-major order; a number is its name."""
    return [name if not shape else f"{name}[{', '.join(map(str, i))}]" for i in np.ndindex(shape)]


def _ends(n: int, most: int, full: bool) -> list[int]:
    """All of range(n), or its first and last most/2 when it is longer than `most`."""
    return list(range(n)) if full or n <= most else [*range(most // 2), *range(n - most // 2, n)]


def jacobian_tables(results: list[JacobianResult], digits: int = 10, full: bool = False,
                    most: int = 12) -> list[Table]:
    """Each Jacobian as a table; a large one shows its first and last rows and columns."""
    tables = []
    for r in results:
        rows, cols = r.matrix.shape
        keep_r, keep_c = _ends(rows, most, full), _ends(cols, most, full)
        col_labels = r.columns or _element_labels(r.wrt, r.in_shape)
        row_labels = _element_labels(r.of, r.out_shape)
        header = [col_labels[c] for c in keep_c]
        if len(keep_c) < cols:
            header.insert(most // 2, "…")
        wrt = f"({r.wrt})" if r.columns else _d(r.wrt)
        t = Table(f"Jacobian ∂{_d(r.of)}/∂{wrt}: {rows} × {cols}", ["∂ row/∂ column", *header])
        for k, i in enumerate(keep_r):
            if len(keep_r) < rows and k == most // 2:
                t.rows.append(["…", *["" for _ in header]])
            cells = [fmt(r.matrix[i, c], digits) for c in keep_c]
            if len(keep_c) < cols:
                cells.insert(most // 2, "…")
            t.rows.append([row_labels[i], *cells])
        t.notes.append(f"by {r.method}: {r.passes} pass{'es' if r.passes != 1 else ''}")
        if len(keep_r) < rows or len(keep_c) < cols:
            t.notes.append("--full shows every row and column; --json has the whole matrix")
        tables.append(t)
    return tables


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


def print_report(tables: list[Table], warnings: list[Any]) -> None:
    """Tables on standard output, then the warnings on standard error."""
    print_tables(tables)
    print_warnings(warnings)


def rich_console(stream: TextIO, width: int | None = None) -> Any:
    """A Rich console for one invocation; Rich itself honours NO_COLOR and the terminal's width."""
    from rich.console import Console

    return Console(file=stream, highlight=False, width=width)


def _print_rich(tables: list[Table], stream: TextIO, width: int | None = None) -> None:
    """Each table laid out to the terminal's width: a number or a name is never broken, no
    column dropped (layout.lay_out splits or turns a table that does not fit)."""
    from rich import box
    from rich.table import Table as RichTable

    console = rich_console(stream, width)
    first = True
    for t in tables:
        for part in lay_out(t, console.width):
            if not first:
                console.print()
            first = False
            p = part.table
            if part.widths is None:
                console.print(p.title, style="bold", markup=False)
                for line in records_text(p, console.width):
                    console.print(line, markup=False, soft_wrap=True)
            else:
                rt = RichTable(title=p.title, box=box.SIMPLE_HEAD, title_justify="left", title_style="bold",
                                show_edge=False)
                for i, (col, w) in enumerate(zip(p.columns, part.widths, strict=False)):
                    rt.add_column(col, style=p.styles.get(i), overflow="fold", width=w)
                for r, row in enumerate(p.rows):
                    rt.add_row(*row, style=p.row_styles.get(r))
                console.print(rt)
            for k, note in enumerate(p.notes):
                console.print(note, style=p.note_styles.get(k, "dim"), markup=False)


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
    return "\n".join(out[:-1]) + "\n"  # a blank line between tables, none after the last


def run_lines(result: Any, digits: int = 10) -> str:
    """A line per file, and a line per failed expect: both sides, the difference, the tolerance."""
    passed = sum(e.ok for e in result.expects)
    if result.error is not None and result.error_code != 1:
        head = f"ERROR {result.file}"
        detail = ["  " + line for line in result.error.splitlines()]
    else:
        status = "PASS" if result.ok else "FAIL"
        head = f"{status}  {result.file}  ({passed}/{len(result.expects)} expects)"
        detail = [f"  line {e.line}: {e.text}\n    left {fmt(e.lhs, digits)}, right {fmt(e.rhs, digits)}, "
                  f"difference {fmt(e.difference, 3)}, tolerance {e.tolerance}"
                  for e in result.expects if not e.ok]
        if result.error:
            detail.append(f"  {result.error}")
    return "\n".join([head, *detail]) + "\n"


RUN_STYLES = {"PASS": "green", "FAIL": "bold red", "ERROR": "bold red"}


def write_run_lines(result: Any, stream: TextIO | None = None) -> None:
    """run_lines, with PASS green and FAIL/ERROR bold red on a terminal (the words carry the
    meaning without colour)."""
    stream = stream or sys.stdout
    text = run_lines(result)
    if not wants_rich(stream):
        stream.write(text)
        return
    from rich.text import Text

    status, _, rest = text.partition(" ")
    line = Text(status, style=RUN_STYLES.get(status))
    line.append(" " + rest.rstrip("\n"), style="red" if status != "PASS" else None)
    rich_console(stream).print(line, soft_wrap=True)


def run_summary(results: list[Any], seconds: float) -> str:
    files = len(results)
    errors = sum(r.error is not None and r.error_code != 1 for r in results)
    passed = sum(r.ok for r in results)
    expects = [e for r in results for e in r.expects]
    good = sum(e.ok for e in expects)
    return (f"{files} file{'s' if files != 1 else ''}: {passed} passed, {files - passed - errors} failed, "
            f"{errors} error{'s' if errors != 1 else ''}; {len(expects)} expects: {good} passed, "
            f"{len(expects) - good} failed; {seconds:.2f} s")


@functools.lru_cache(maxsize=1)
def _encoder() -> Any:
    import json  # only for --json: not imported by every command

    return json.JSONEncoder(ensure_ascii=False, allow_nan=False)


def to_json_line(doc: Any) -> str:
    return _encoder().encode(doc)


def to_json(doc: Any, depth: int = 0) -> str:
    """One JSON document laid out for reading and fast to write: a key per line, a list of
    objects an object per line (a node, a result), everything deeper compact. json's C encoder
    writes each piece; `indent=` would run the pure-Python encoder, seconds for 30,000 nodes."""
    pad, inner = "  " * depth, "  " * (depth + 1)
    if isinstance(doc, dict) and doc and depth < 1:
        items = [f"{inner}{to_json_line(k)}: {to_json(v, depth + 1).lstrip()}" for k, v in doc.items()]
        return pad + "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(doc, list) and doc and depth < 2 and any(isinstance(v, dict | list) for v in doc):
        return pad + "[\n" + ",\n".join(to_json(v, depth + 1) for v in doc) + "\n" + pad + "]"
    return pad + to_json_line(doc)


def print_warnings(warnings: list[Any], stream: TextIO | None = None, prefix: str = "warning") -> None:
    """A line each; on a terminal a long one is folded between words (a number stays whole)."""
    stream = stream or sys.stderr
    width = rich_console(stream).width if warnings and wants_rich(stream) else None
    for w in warnings:
        kind = "note" if getattr(w, "kind", None) == "note" else prefix
        text = f"{kind}: {getattr(w, 'message', w)}"
        stream.write("\n".join(wrap_words(text, width, hang="  ")) + "\n" if width else text + "\n")


def graph_tree(pic: Any, stream: TextIO | None = None) -> None:
    """The graph as a Rich tree from the target down (on a terminal), or indented plain text;
    a node reached again is shown once and then referred to by its number."""
    stream = stream or sys.stdout
    if not pic.nodes:
        stream.write("nothing to draw: the program is a constant, with no inputs or steps\n")
        return
    by_id = {n["id"]: n for n in pic.nodes}
    children: dict[int, list[tuple[int, str]]] = {}
    for a, b, label in pic.edges:
        children.setdefault(b, []).append((a, label))
    root = next(n for n in pic.nodes if n["kind"] == "target") if any(
        n["kind"] == "target" for n in pic.nodes) else pic.nodes[-1]

    def text(n: dict, label: str) -> tuple[str, str, str]:
        head = f"{n['number']}. {n['name']} ({n['op']})" + (f"  via {label}" if label else "")
        return head, f"value {n['value']}", f"∂{pic.target}/∂{n['wrt']} = {n['adjoint']}"

    rich = wants_rich(stream)
    if rich:
        from rich.console import Console
        from rich.tree import Tree

        console = Console(file=stream, highlight=False)
    lines: list[str] = []
    seen: set[int] = set()
    stack: list[tuple[int, str, int, Any]] = [(root["id"], "", 0, None)]
    top = None
    while stack:  # depth first, explicitly: graphs may be very deep
        nid, label, depth, parent = stack.pop()
        node = by_id[nid]
        head, value, adjoint = text(node, label)
        again = nid in seen
        seen.add(nid)
        if rich:
            from rich.text import Text

            line = Text(head + "  ")
            if again:
                line.append(f"(#{node['number']} again)", style="dim")
            else:
                line.append(value, style="cyan")
                line.append("  ")
                line.append(adjoint, style="yellow")
            branch = Tree(line) if parent is None else parent.add(line)
            top = top or branch
        else:
            lines.append("  " * depth + head + ("  (again)" if again else f"  {value}  {adjoint}"))
            branch = None
        if not again:
            for a, edge_label in reversed(children.get(nid, [])):
                stack.append((a, edge_label, depth + 1, branch))
    if rich:
        console.print(top)
        if pic.hidden:
            console.print(f"{pic.hidden:,} more nodes not shown (--max-nodes)", style="dim")
    else:
        if pic.hidden:
            lines.append(f"{pic.hidden:,} more nodes not shown (--max-nodes)")
        stream.write("\n".join(lines) + "\n")
