"""A program's text with new values for some of its inputs: `adiff fit --save` writes the
trained parameters back in place of the initial ones.

Only the value after `NAME =` in the statement that declares each input changes (a number, an
array literal, or an initialiser call such as glorot_uniform(2, 2)); comments, blank lines and
every other statement stay as they were. Values are written at full float64 precision, each
number as the shortest text that reads back to the same float64 (Python's repr, as JSON
writes it), so the saved program means exactly the trained numbers. The file is replaced
atomically: written to a temporary file in the same directory, then renamed over the target.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from typing import Any

import numpy as np

from .errors import UsageError
from .graph import Program

LINE_WIDTH = 100  # a 2-D array longer than this on one line gets a row per line


def value_text(value: Any, indent: int = 0) -> str:
    """A number or an array as the language writes it, every float64 digit kept."""
    data = np.asarray(value, dtype=np.float64)
    if data.ndim == 0:
        return json.dumps(float(data))
    one_line = json.dumps(data.tolist())
    if data.ndim != 2 or indent + len(one_line) <= LINE_WIDTH:
        return one_line
    return "[" + (",\n" + " " * (indent + 1)).join(json.dumps(row) for row in data.tolist()) + "]"


def _value_span(text: str, start: int) -> int:
    """Where the value that begins at `start` ends: the first ';', new line or comment outside
    brackets (new lines and comments inside brackets belong to a multi-line array)."""
    depth, i = 0, start
    while i < len(text):
        ch = text[i]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == '"':
            i = text.find('"', i + 1)
            if i < 0:
                return len(text)
        elif ch == "#":
            if depth == 0:
                break
            i = text.find("\n", i)
            if i < 0:
                return len(text)
            continue
        elif ch in ";\n" and depth == 0:
            break
        i += 1
    while i > start and text[i - 1] in " \t\r":
        i -= 1
    return i


def value_places(program: Program, names: list[str]) -> dict[str, tuple[int, int]]:
    """Where each input's declared value is in the source: (start, end) of the text after
    `NAME =`; an input with no value written in the program is an error (before training, so
    that nothing is trained for a --save that cannot be done)."""
    text = program.source
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    places = {}
    for name in names:
        stmt = next((s for s in program.statements if s.name == name), None)
        if stmt is None or name not in program.defaults:
            raise UsageError(f"--save: {name} has no value written in the program to replace; "
                             f"add a line {name} = ... to the program")
        assignment = re.compile(rf"(?<![\w.]){re.escape(name)}\s*=(?!=)\s*")
        found = assignment.search(text, line_starts[stmt.line - 1])
        if found is None:
            raise UsageError(f"--save: cannot find '{name} =' on line {stmt.line}")
        places[name] = (found.end(), _value_span(text, found.end()))
    return places


def with_values(program: Program, values: dict[str, Any]) -> str:
    """The program's source with each named input's declared value replaced."""
    text = program.source
    edits = []
    for name, (start, end) in value_places(program, list(values)).items():
        column = start - text.rfind("\n", 0, start) - 1
        edits.append((start, end, value_text(values[name], column)))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_atomically(path: str, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename: a reader sees the old
    file or the new one, never half of it; a failure leaves the old file as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        handle, temporary = tempfile.mkstemp(prefix=".adiff-save-", suffix=".tmp", dir=folder)
    except OSError as err:
        raise UsageError(f"--save {path}: cannot write there ({err.strerror or err})") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(temporary, os.stat(path).st_mode & 0o7777 if os.path.exists(path) else 0o666 & ~_umask())
        os.replace(temporary, path)
    except OSError as err:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise UsageError(f"--save {path}: cannot write there ({err.strerror or err})") from None
