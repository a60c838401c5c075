"""Fitting a table into a terminal's width without ever breaking a number or a name.

A cell may wrap only between words (at spaces, as in a long formula); a word, and so every
number, stays whole. When the words alone do not fit side by side, the table changes layout, as
`git`, `kubectl` and pandas do: a table that may be turned (the gradient) becomes one row per
variable; otherwise its columns are split into several tables, each repeating the key columns
(the row's name), with a note; a column that fits nowhere beside the keys is shown as records
(`column: value` lines under each row's name). No column is ever dropped.

Pure text arithmetic: the Rich drawing is render.py's. The overhead of a drawn table is Rich's
SIMPLE_HEAD box without edges, one space of padding each side of a cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Table:
    """A table for people: a title, column titles, rows of text cells (may hold newlines),
    notes under it. `keys` leading columns name a row and are repeated when the table is split;
    `turnable` tables may be shown transposed when they are too wide."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    styles: dict[int, str] = field(default_factory=dict)  # column -> Rich style
    keys: int = 1
    turnable: bool = False
    row_styles: dict[int, str] = field(default_factory=dict)  # row -> Rich style (a failed check)
    note_styles: dict[int, str] = field(default_factory=dict)  # note -> Rich style


def overhead(columns: int) -> int:
    """Characters a drawn table spends besides its cells (one space of padding each side of a
    cell, one between cells, no edge)."""
    return 3 * columns - 1


def longest_word(text: str) -> int:
    return max((len(word) for word in text.split()), default=0)


def longest_line(text: str) -> int:
    return max((len(line) for line in text.split("\n")), default=0)


def column_ranges(table: Table) -> list[tuple[int, int]]:
    """(narrowest, widest) each column can be: its longest word, its longest line."""
    out = []
    for i, title in enumerate(table.columns):
        cells = [title] + [row[i] for row in table.rows]
        out.append((max(longest_word(c) for c in cells), max(longest_line(c) for c in cells)))
    return out


def fit_widths(ranges: list[tuple[int, int]], width: int) -> list[int] | None:
    """Column widths that fit `width` with no column narrower than its longest word (the widest
    columns give way first), or None when even the longest words do not fit side by side."""
    widths = [high for _, high in ranges]
    room = width - overhead(len(ranges))
    if sum(low for low, _ in ranges) > room:
        return None
    while sum(widths) > room:
        excess = sum(widths) - room
        shrinkable = [i for i, w in enumerate(widths) if w > ranges[i][0]]
        top = max(widths[i] for i in shrinkable)
        widest = [i for i in shrinkable if widths[i] == top]
        below = max([widths[i] for i in shrinkable if widths[i] < top] + [0])
        for i in widest:  # shrink the widest together, toward the next width down
            cut = min(top - below, widths[i] - ranges[i][0], -(-excess // len(widest)))
            widths[i] -= cut
            excess -= cut
            if excess <= 0:
                break
    return widths


@dataclass
class Part:
    """One piece of a laid-out table: a table with these columns and widths, or records."""

    table: Table
    widths: list[int] | None  # None: records


def transposed(table: Table) -> Table:
    """Rows become columns: the gradient as one row per variable."""
    head, *rest = table.columns
    columns = [head or "", *[row[0] for row in table.rows]]
    rows = [[name, *[row[i + 1] for row in table.rows]] for i, name in enumerate(rest)]
    return Table(table.title, columns, rows, list(table.notes), {}, 1, False, {}, dict(table.note_styles))


def _subtable(table: Table, columns: list[int], part: int, parts: int) -> Table:
    title = table.title if parts == 1 else f"{table.title} (part {part} of {parts})"
    rows = [[row[i] for i in columns] for row in table.rows]
    return Table(title, [table.columns[i] for i in columns], rows,
                 [], {k: table.styles[i] for k, i in enumerate(columns) if i in table.styles},
                 min(table.keys, len(columns)), False, dict(table.row_styles))


def lay_out(table: Table, width: int) -> list[Part]:
    """The parts that show `table` whole within `width` characters."""
    widths = fit_widths(column_ranges(table), width)
    if widths is not None:
        return [Part(table, widths)]
    if table.turnable:
        turned = transposed(table)
        widths = fit_widths(column_ranges(turned), width)
        if widths is not None:
            return [Part(turned, widths)]
    ranges = column_ranges(table)
    keys = list(range(min(table.keys, len(table.columns))))
    natural = [(high, high) for _, high in ranges]  # a column as wide as its longest line
    groups: list[list[int]] = []  # each column joins the first part where it fits unwrapped
    for i in range(len(keys), len(table.columns)):
        for group in groups:
            if fit_widths([natural[k] for k in keys + group + [i]], width) is not None:
                group.append(i)
                break
        else:
            groups.append([i])
    parts = []
    for n, group in enumerate(groups, 1):
        sub = _subtable(table, keys + group, n, len(groups))
        parts.append(Part(sub, fit_widths(column_ranges(sub), width)))
    parts[-1].table.notes = list(table.notes)
    parts[-1].table.note_styles = dict(table.note_styles)
    if len(parts) > 1:
        parts[-1].table.notes.append(
            f"the table is wider than the terminal ({width} columns): its columns are shown in {len(parts)} "
            "parts; piped output and --json have it whole")
    return parts


def records_text(table: Table, width: int) -> list[str]:
    """Each row as a heading (its key cells) and `column: value` lines, values wrapped only at
    spaces; a word longer than the line is left whole for the terminal to carry over."""
    keys = min(table.keys, len(table.columns))
    lines = []
    for row in table.rows:
        lines.extend(wrap_words("  ".join(cell for cell in row[:keys] if cell) or "·", width, hang="  "))
        for title, cell in zip(table.columns[keys:], row[keys:], strict=False):
            if not cell:
                continue
            lines.extend(wrap_words(f"{title or '·'}: {cell}", width, indent="  ", hang="    "))
    return lines


def wrap_words(text: str, width: int, indent: str = "", hang: str = "") -> list[str]:
    """Lines of at most `width` characters, broken only at spaces (existing newlines kept)."""
    out = []
    for k, paragraph in enumerate(text.split("\n")):
        line = indent if k == 0 else hang
        start = len(line)
        for word in paragraph.split(" "):
            if len(line) > start and len(line) + 1 + len(word) > width:
                out.append(line)
                line = hang
                start = len(line)
            line += (" " if len(line) > start else "") + word
        out.append(line)
    return out
