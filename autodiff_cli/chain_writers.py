"""How each piece of the chain-rule steps is spelled: plain text (Unicode) or LaTeX.

`steps` lays the steps out once and asks a writer for every piece (a derivative, an adjoint,
a number, a heading, an equation row), as SymPy's printers share one layout: `PlainWriter`
spells them as text, `LatexWriter` overrides what LaTeX spells differently (amsmath's align*).
"""

from __future__ import annotations

import re
from typing import Any

from .graph import Graph
from .numfmt import format_value
from .printing import to_text

EXPR_LIMIT = 80  # characters of an expression or formula (plain text; LaTeX gets more)


class PlainWriter:
    """The steps as plain text: headings, indented sentences and `lhs = rhs` rows."""

    latex = False
    times = " × "
    linear_map = "(a linear map: vector-Jacobian product)"
    recurrence = "adjoint(v) = Σ over consumers u of adjoint(u) × du/dv"
    max_paths = "max_paths"

    def __init__(self, digits: int):
        self.digits = digits
        self.out: list[str] = []

    # --- the document ----------------------------------------------------------------------

    def heading(self, title: str) -> None:
        self.out += ["", title] if self.out else [title]

    def sentence(self, text: str) -> None:
        self.out.append("  " + text)

    def row(self, lhs: str, rhs: str, tag: str = "", note: str = "", indent: int = 1) -> None:
        lead = "  " * indent + (f"{tag} " if tag else "")
        self.out.append(f"{lead}{lhs} = {rhs}" + (f"   {note}" if note else ""))

    def text(self) -> str:
        return "\n".join(self.out) + "\n"

    # --- the pieces ------------------------------------------------------------------------

    def step_tag(self, number: int) -> str:
        return f"{number}."

    def path_tag(self, k: int) -> str:
        return f"path {k}:"

    def number(self, value: Any) -> str:
        """A number with `digits` significant digits; an array as nested lists on one line."""
        return format_value(value, self.digits, one_line=True, latex=self.latex)

    def factor(self, value: Any, first: bool) -> str:
        """A number in a product."""
        return self.number(value)

    def term(self, value: Any, first: bool) -> str:
        """A number in a sum: a negative one after the first in parentheses."""
        text = self.number(value)
        return self.parens(text) if not first and text.startswith("-") else text

    def node(self, graph: Graph, nid: int, labels: dict[int, str], top_label: bool = False) -> str:
        """A node's name (`top_label`) or expression, short."""
        return to_text(graph, nid, labels, top_label=top_label, latex=self.latex)

    def expression(self, graph: Graph, nid: int, labels: dict[int, str] | None = None) -> str:
        """An expression or formula, cut after a limit."""
        return to_text(graph, nid, labels, limit=EXPR_LIMIT)

    def given(self, name: str) -> str:
        """A name the user asked for (a target or a variable)."""
        return name

    def parens(self, text: str) -> str:
        return f"({text})"

    def d(self, top: str, bottom: str, index: int = 0) -> str:
        """∂top/∂bottom; `index` tells apart several edges between the same two nodes."""
        return f"d{top}/d{bottom}" + (f" [{index}]" if index else "")

    def adjoint(self, name: str) -> str:
        return f"adjoint({name})"

    def math(self, text: str) -> str:
        """Math inside a sentence."""
        return text

    def count(self, n: int, capped: bool) -> str:
        """A number of paths; `capped` when it is only known to be very large."""
        return "more than 10^18" if capped else f"{n:,}"

    def more_terms(self, more: int) -> str:
        """The end of a sum cut after its first terms."""
        return f" + … ({more:,} more terms)" if more else ""


class LatexWriter(PlainWriter):
    """The steps as LaTeX for a handout: \\paragraph headings, text sentences, align* rows."""

    latex = True
    times = r" \times "
    linear_map = r"\text{(a linear map: vector-Jacobian product)}"
    recurrence = (r"$\overline{v} = \sum_{u} \overline{u}\,\frac{\partial u}{\partial v}$ "
                  r"over the consumers $u$ of $v$")
    max_paths = r"max\_paths"

    def __init__(self, digits: int):
        super().__init__(digits)
        self.rows: list[str] = []
        self.out.append("% The chain rule step by step (adiff); needs \\usepackage{amsmath}; "
                        "long environments may need \\allowdisplaybreaks")

    def _flush(self) -> None:
        if self.rows:
            self.out += [r"\begin{align*}", " \\\\\n".join(self.rows), r"\end{align*}"]
            self.rows = []

    def heading(self, title: str) -> None:
        self._flush()
        self.out.append(rf"\paragraph{{{title}}}")

    def sentence(self, text: str) -> None:
        self._flush()
        self.out.append(text)

    def row(self, lhs: str, rhs: str, tag: str = "", note: str = "", indent: int = 1) -> None:
        extra = rf" \quad \text{{{note}}}" if note else ""
        label = rf" \tag*{{{tag}}}" if tag else ""
        self.rows.append(f"{lhs} &= {rhs}{extra}{label}")

    def text(self) -> str:
        self._flush()
        return super().text()

    def step_tag(self, number: int) -> str:
        return f"({number})"

    def path_tag(self, k: int) -> str:
        return f"path {k}"

    def factor(self, value: Any, first: bool) -> str:
        """A number in a product: a negative one after the first in parentheses."""
        return self.term(value, first)

    def expression(self, graph: Graph, nid: int, labels: dict[int, str] | None = None) -> str:
        return close_latex(to_text(graph, nid, labels, limit=2 * EXPR_LIMIT, latex=True))

    def given(self, name: str) -> str:
        g = Graph()
        return to_text(g, g.add("input", (), name), latex=True)

    def parens(self, text: str) -> str:
        return rf"\left({text}\right)"

    def d(self, top: str, bottom: str, index: int = 0) -> str:
        mark = f"_{{[{index}]}}" if index else ""
        return rf"\frac{{\partial {top}}}{{\partial {bottom}}}{mark}"

    def adjoint(self, name: str) -> str:
        return rf"\overline{{{name}}}"

    def math(self, text: str) -> str:
        return f"${text}$"

    def count(self, n: int, capped: bool) -> str:
        return r"more than $10^{18}$" if capped else f"{n:,}"

    def more_terms(self, more: int) -> str:
        return r" + \dots" if more else ""


def close_latex(text: str) -> str:
    """A LaTeX expression that `to_text` cut after its limit (it then ends with …), closed so it
    still compiles: a command cut in the middle is dropped, then \\dots, then the braces and
    \\left delimiters still open are closed in order."""
    if not text.endswith("…"):
        return text
    body = re.sub(r"\\[A-Za-z]*$", "", text[:-1])
    closers: list[str] = []
    i = 0
    while i < len(body):
        if body.startswith(r"\left", i) and not body[i + 5:i + 6].isalpha():
            closers.append(r"\right.")
            i += 6 + (body[i + 5:i + 6] == "\\")  # the delimiter, which may itself be escaped
            continue
        if body.startswith(r"\right", i) and not body[i + 6:i + 7].isalpha():
            if closers and closers[-1] == r"\right.":
                closers.pop()
            i += 7 + (body[i + 6:i + 7] == "\\")
            continue
        ch = body[i]
        if ch == "\\":
            i += 2 if i + 1 < len(body) and not body[i + 1].isalpha() else 1
            continue
        if ch == "{":
            closers.append("}")
        elif ch == "}" and closers and closers[-1] == "}":
            closers.pop()
        i += 1
    return body + r" \dots " + "".join(reversed(closers))
