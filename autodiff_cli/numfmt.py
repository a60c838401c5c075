"""Numbers shown to people: a value with a given number of significant digits, an array as
nested lists (long ones summarized after their shape), as plain text or as LaTeX.

(printing.format_number is the other kind: a constant written so the parser reads it back.)
"""

from __future__ import annotations

import re
import sys
from typing import Any

import numpy as np

SUMMARY = 12  # arrays with more elements show their first and last ones, after their shape

_EXPONENT = re.compile(r"(\d)e([+-])0*(\d+)")


def format_value(value: Any, digits: int = 10, full: bool = False, one_line: bool = False,
                 latex: bool = False) -> str:
    """A number with `digits` significant digits (0 as "0"); an array as nested lists with at
    most 8 digits, a long one summarized (its first and last elements, after its shape) unless
    `full`. `one_line` puts an array of any rank on one line; `latex` spells the result as LaTeX
    (1.5 \\times 10^{-5}, \\dots, \\infty)."""
    arr = np.asarray(value)
    single = arr.dtype == np.float32
    if arr.ndim == 0:
        text = _number(arr[()], digits, single)
        return latex_number(text) if latex else text
    digits = min(digits, 8)
    width = 10**6 if one_line else 60 if arr.ndim > 1 else 10_000
    text = np.array2string(arr, separator=", ", threshold=sys.maxsize if full else SUMMARY, edgeitems=2,
                           max_line_width=width,
                           formatter={"float_kind": lambda v: _number(v, digits, single)})
    if one_line:
        text = " ".join(text.split())
    if latex:
        text = latex_number(text).replace("...", r"\dots")
    if full or arr.size <= SUMMARY:
        return text
    return rf"\text{{shape {arr.shape}: }} {text}" if latex else f"shape {arr.shape}: {text}"


def _number(v: Any, digits: int, single: bool) -> str:
    """`digits` significant digits; a float32 as the shortest decimal that reads back as the same
    float32 (TensorFlow's 0.4691642, not 0.4691641927), when that is no longer than `digits`."""
    if v == 0:
        return "0"
    if single:
        shortest = str(np.float32(v))  # numpy's shortest round-trip repr of a float32
        if len(shortest.lstrip("-").replace(".", "").lstrip("0").split("e")[0]) <= digits:
            return shortest if "e" in shortest else shortest.removesuffix(".0")
    return f"{float(v):.{digits}g}"


def latex_number(text: str) -> str:
    """Numbers in a text as LaTeX: 1.5e-05 → 1.5 \\times 10^{-5}; nan and inf as LaTeX."""
    text = _EXPONENT.sub(lambda m: rf"{m.group(1)} \times 10^{{{'-' if m.group(2) == '-' else ''}"
                         rf"{m.group(3)}}}", text)
    return text.replace("nan", r"\mathrm{nan}").replace("inf", r"\infty")
