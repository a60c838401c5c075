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
    if arr.ndim == 0:
        v = float(arr)
        text = "0" if v == 0 else f"{v:.{digits}g}"
        return latex_number(text) if latex else text
    digits = min(digits, 8)
    width = 10**6 if one_line else 60 if arr.ndim > 1 else 10_000
    text = np.array2string(arr, separator=", ", threshold=sys.maxsize if full else SUMMARY, edgeitems=2,
                           max_line_width=width,
                           formatter={"float_kind": lambda v: "0" if v == 0 else f"{v:.{digits}g}"})
    if one_line:
        text = " ".join(text.split())
    if latex:
        text = latex_number(text).replace("...", r"\dots")
    if full or arr.size <= SUMMARY:
        return text
    return rf"\text{{shape {arr.shape}: }} {text}" if latex else f"shape {arr.shape}: {text}"


def latex_number(text: str) -> str:
    """Numbers in a text as LaTeX: 1.5e-05 → 1.5 \\times 10^{-5}; nan and inf as LaTeX."""
    text = _EXPONENT.sub(lambda m: rf"{m.group(1)} \times 10^{{{'-' if m.group(2) == '-' else ''}"
                         rf"{m.group(3)}}}", text)
    return text.replace("nan", r"\mathrm{nan}").replace("inf", r"\infty")
