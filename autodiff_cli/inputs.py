"""What a user gives a program, read and checked against it: input values (`--at`), points
(`--grid`, `--points` CSV), names of nodes (`--of`, `--wrt`), and files. The messages name the
command-line options, since that is where these values come from."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .engine import forward
from .errors import AdiffError, NameLookupError, UsageError
from .graph import Program
from .parse import parse

# Defaults of the tolerance options, for the library and the command line alike.
COMPARE_RTOL, COMPARE_ATOL = 1e-5, 1e-8  # compare, float64: central differences reach about 1e-10 relative
EXPECT_RTOL, EXPECT_ATOL = 1e-6, 1e-9  # run: a program's expect lines

_AT_ITEM = re.compile(r"\s*([^\W\d]\w*)\s*=")


def decoded(data: bytes, what: str) -> str:
    """UTF-8 bytes as text, a byte-order mark at the start skipped; bytes that are not UTF-8 are
    a UsageError naming the first bad byte, its line and its column."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        start = err.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        line = data.count(b"\n", 0, start) + 1
        column = start - (data.rfind(b"\n", 0, start) + 1) + 1
        raise UsageError(f"cannot read {what}: it is not UTF-8 text (byte 0x{data[start]:02x} at line "
                         f"{line}, column {column})") from None


def read_stdin() -> str:
    """Standard input as text (UTF-8, a byte-order mark skipped)."""
    import sys

    return decoded(sys.stdin.buffer.read(), "standard input")


def read_text(path: Any) -> str:
    """A UTF-8 text file's contents; a file that cannot be read is a UsageError saying why."""
    try:
        with open(path, "rb") as f:
            return decoded(f.read(), str(path))
    except FileNotFoundError:
        raise UsageError(f"cannot read {path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"cannot read {path}: it is a folder") from None
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror}") from None


def node_named(prog: Program, name: str) -> int | None:
    """The node a name means: a named step, else an input; None when the program has neither."""
    return prog.bindings.get(name, prog.inputs.get(name))


def names_listed(text_or_list: str | list[str] | None) -> list[str]:
    """Names given as "a,b", or repeated (["a", "b,c"]), in order: --of, --wrt, --params."""
    if text_or_list is None:
        return []
    items = [text_or_list] if isinstance(text_or_list, str) else list(text_or_list)
    return [n.strip() for item in items for n in item.split(",") if n.strip()]


def resolve(prog: Program, names: list[str], option: str) -> list[int]:
    """The node of each name; an unknown name is an error naming the option it came from."""
    out = []
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
        raise UsageError(f"{option} names {twice} twice: give each name once")
    for n in names:
        node = node_named(prog, n)
        if node is None:
            raise NameLookupError(f"{option} {n}: the program has no node named '{n}' "
                                  f"(it has: {', '.join(prog.names())})")
        out.append(node)
    return out


def split_assignments(text: str) -> list[tuple[str, str]]:
    """`w1=-0.2,w2=0.2` → [("w1", "-0.2"), ("w2", "0.2")]; commas inside brackets stay."""
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth <= 0 and _AT_ITEM.match(text, i + 1):
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    out = []
    for item in items:
        m = _AT_ITEM.match(item)
        if not m:
            raise UsageError(f"--at expects NAME=VALUE, got '{item.strip()}'")
        out.append((m.group(1), item[m.end():].strip()))
    return out


ONLY_INPUT = ""  # the key of `--at 3`: the value of a program's one input


def parse_at(items: list[str]) -> dict[str, str]:
    """Every --at option (each one NAME=VALUE or several, comma-separated; a bare value, as in
    --at 3, is for a program of one input). A name given twice is an error."""
    at: dict[str, str] = {}
    for item in items:
        bare = len(items) == 1 and not _AT_ITEM.match(item) and not item.strip().isidentifier()
        pairs = [(ONLY_INPUT, item.strip())] if bare and item.strip() else split_assignments(item)
        for name, value in pairs:
            if name in at:
                raise UsageError(f"--at gives {name or 'a value'} twice ({name}={at[name]} and "
                                 f"{name}={value}): give each input once")
            at[name] = value
    return at


_SPECIAL = {"nan": np.float64(np.nan), "inf": np.float64(np.inf), "infinity": np.float64(np.inf)}


def value_of(text: str, name: str = "x") -> Any:
    """An --at value: a number, or an expression of constants (`-0.2`, `pi/4`, `2^-3`), or an
    array from a file (`@train.csv`, `@train.npy`, `@train.csv:x1,x2`; datafiles.py)."""
    if text.startswith("@"):
        from .datafiles import read_array  # csv and numpy's file readers, only for @FILE

        return read_array(text[1:], name)
    try:
        return np.float64(float(text))
    except ValueError:
        pass
    try:
        prog = parse(text)
    except AdiffError as err:
        raise UsageError(f"--at {name}={text}: the value is not a number ({err.message})") from None
    words = {w: _SPECIAL[w.lower()] for w in prog.inputs if w.lower() in _SPECIAL}  # [nan, inf]
    others = [w for w in prog.inputs if w not in words]
    if others:
        raise UsageError(f"--at {name}={text}: '{others[0]}' is not a number; a value "
                         "is a number or an expression of numbers such as pi/4")
    values, _ = forward(prog, words)
    return values[prog.target]


DTYPES = {"float64": np.float64, "float32": np.float32}


def dtype_named(name: str) -> Any:
    if name not in DTYPES:
        raise UsageError(f"unknown dtype '{name}' (choose float64 or float32)")
    return DTYPES[name]


def input_values(prog: Program, at: dict[str, Any], dtype: Any = np.float64,
                 from_command_line: bool = True) -> dict[str, Any]:
    """Each input's value: the program's default, overridden by `at` (numbers or text)."""
    if ONLY_INPUT in at:
        at = dict(at)
        value = at.pop(ONLY_INPUT)
        if len(prog.inputs) != 1:
            has = f"the inputs {', '.join(prog.inputs)}" if prog.inputs else "no inputs"
            raise UsageError(f"--at {value}: a value without a name is for a program of one input; this "
                             f"one has {has}" + (f": write --at {next(iter(prog.inputs))}={value}"
                                                 if prog.inputs else ""))
        only = next(iter(prog.inputs))
        if only in at:
            raise UsageError(f"--at gives {only} twice: give each input once")
        at[only] = value
    unknown = [n for n in at if n not in prog.inputs]
    if unknown:
        has = ", ".join(prog.inputs) or "no inputs"
        raise NameLookupError(f"--at {unknown[0]}=...: the program has no input '{unknown[0]}' "
                              f"(its inputs: {has})", hint=glued_hint(prog, at))
    values = {}
    for name in prog.inputs:
        if name in at:
            raw = at[name]
            with np.errstate(all="ignore"):  # 1e39 in float32 is inf: reported as a non-finite value
                values[name] = np.asarray(value_of(raw, name) if isinstance(raw, str) else raw,
                                          dtype=dtype)[()]
        elif name in prog.defaults:
            values[name] = np.asarray(prog.defaults[name], dtype=dtype)[()]
        else:
            token = prog.first_use.get(name)  # type: ignore[attr-defined]
            raise NameLookupError(
                f"the input '{name}' has no value: give it one with "
                + (f"--at {name}=VALUE, or " if from_command_line else "")
                + f"a line {name} = VALUE in the program",
                line=token.line if token else None, column=token.column if token else None,
                source=prog.source, hint=glued_hint(prog, at))
    return values


def glued_hint(prog: Program, at: dict[str, Any]) -> str | None:
    """The reader's warnings about names that glue letters (xy, πx) not given a value here."""
    return "\n".join(f"warning: {w.message}" for w in prog.warnings if w.node not in at) or None


def parse_grid(text: str) -> tuple[str, Any]:
    """`x=-3:3:1001` → ("x", 1001 values from -3 to 3)."""
    (name, spec), = split_assignments(text)
    parts = spec.split(":")
    try:
        start, stop, count = float(value_of(parts[0])), float(value_of(parts[1])), int(parts[2])
    except (IndexError, ValueError, TypeError, AdiffError):
        raise UsageError(f"--grid {text}: give NAME=START:STOP:COUNT, as in --grid x=-3:3:1001") from None
    if count < 1:
        raise UsageError(f"--grid {text}: the count must be at least 1")
    return name, np.linspace(start, stop, count)


def read_points(path: str) -> dict[str, Any]:
    """A CSV file with a header row naming inputs, a point per row."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(read_text(path))))
    if len(rows) < 2:
        raise UsageError(f"{path}: expected a header row of input names and at least one row of values")
    names = [h.strip() for h in rows[0]]
    values = []
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(names):
            raise UsageError(f"{path}, row {number}: {len(row)} values, but the header names {len(names)}")
        try:
            values.append([float(v) for v in row])
        except ValueError:
            raise UsageError(f"{path}, row {number}: {','.join(row)} is not a row of numbers") from None
    table = np.array(values, dtype=np.float64).reshape(-1, len(names))
    if table.ndim != 2 or table.shape[1] != len(names):
        raise UsageError(f"{path}: every row needs {len(names)} values, one per column of the header")
    return {name: table[:, i] for i, name in enumerate(names)}
