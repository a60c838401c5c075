"""Arrays read from files, for `--at X=@train.csv` (and .npy) in every command that takes --at.

- `@FILE.npy`: the array saved by numpy.save, as it is (numbers only; no pickled objects).
- `@FILE.csv`: a table of numbers, one sample per line, read as a 2-D array (a row per line, a
  column per field, even when there is one column). A first line that is not all numbers is a
  header naming the columns; `@FILE.csv:a,b` takes the named columns in that order. UTF-8
  text (a byte-order mark at the start, as spreadsheets write it, is skipped); commas separate
  fields (Python's csv module: quoted fields allowed); blank lines are skipped.

A file that cannot be read as such is a usage error (exit code 2) naming the file and, for
text, the line and column where reading stopped.
"""

from __future__ import annotations

import csv
import difflib
import io
import os
from typing import Any

import numpy as np

from .errors import UsageError

BOM = "\ufeff"


def read_array(spec: str, name: str = "x") -> Any:
    """The array that `--at NAME=@spec` names (spec is what follows the @)."""
    path, _, columns = spec.partition(":") if not os.path.exists(spec) else (spec, "", "")
    where = f"--at {name}=@{spec}"
    if not path:
        raise UsageError(f"{where}: give a file after the @, as in --at {name}=@train.csv")
    lower = path.lower()
    if lower.endswith(".npy"):
        if columns:
            raise UsageError(f"{where}: columns are chosen by name in a CSV file's header; a .npy file "
                             "is taken whole")
        return _read_npy(path, where)
    if lower.endswith(".csv"):
        return _read_csv(path, where, [c.strip() for c in columns.split(",")] if columns else None)
    raise UsageError(f"{where}: the file must end in .csv or .npy")


def _read_bytes(path: str, where: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as err:
        raise UsageError(f"{where}: cannot read {path} ({err.strerror or err})") from None


def _read_npy(path: str, where: str) -> Any:
    data = _read_bytes(path, where)
    if not data.startswith(b"\x93NUMPY"):
        raise UsageError(f"{where}: {path} is not a .npy file (it does not begin with numpy's \\x93NUMPY "
                         "header; numpy.save writes one)")
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise UsageError(f"{where}: {path} is not a readable .npy file ({err})") from None
    if not isinstance(array, np.ndarray):
        raise UsageError(f"{where}: {path} holds several arrays (an .npz archive?); save one with numpy.save")
    if array.dtype.kind not in "biuf":
        raise UsageError(f"{where}: {path} holds {array.dtype} values; adiff reads integers or floats")
    return array.astype(np.float64)


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """The 1-based line and column of a byte offset."""
    line = data.count(b"\n", 0, offset) + 1
    return line, offset - (data.rfind(b"\n", 0, offset) + 1) + 1


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if text.strip() else None


def _read_csv(path: str, where: str, wanted: list[str] | None) -> Any:
    data = _read_bytes(path, where)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line, column = _position(data, err.start)
        raise UsageError(f"{where}: {path}, line {line}, column {column}: the file is not UTF-8 text "
                         f"(byte 0x{data[err.start]:02x})") from None
    text = text.removeprefix(BOM)
    try:
        rows = [(number, row) for number, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1)
                if any(cell.strip() for cell in row)]
    except csv.Error as err:
        raise UsageError(f"{where}: {path}: {err}") from None
    if not rows:
        raise UsageError(f"{where}: {path} has no rows of numbers")
    header = None
    if any(_number(cell) is None for cell in rows[0][1]):
        header = [cell.strip() for cell in rows[0][1]]
        rows = rows[1:]
    if wanted is not None:
        if header is None:
            raise UsageError(f"{where}: {path} has no header row to name columns by; take it whole with "
                             f"@{path}")
        picks = []
        for column in wanted:
            if column not in header:
                near = difflib.get_close_matches(column, header, n=1)
                hint = f"did you mean {near[0]}? " if near else ""
                raise UsageError(f"{where}: {path} has no column '{column}' ({hint}its columns: "
                                 f"{', '.join(header)})")
            picks.append(header.index(column))
    else:
        picks = None
    width = len(header) if header is not None else len(rows[0][1]) if rows else 0
    values = []
    for number, row in rows:
        if len(row) != width:
            raise UsageError(f"{where}: {path}, line {number}: {len(row)} fields, but "
                             f"{'the header names' if header else 'the first line has'} {width}")
        parsed = []
        for column, cell in enumerate(row, start=1):
            value = _number(cell)
            if value is None:
                raise UsageError(f"{where}: {path}, line {number}, column {column}: {cell.strip()!r} is not "
                                 "a number")
            parsed.append(value)
        values.append(parsed if picks is None else [parsed[i] for i in picks])
    if not values:
        raise UsageError(f"{where}: {path} has a header but no rows of numbers")
    return np.array(values, dtype=np.float64)
