"""Typed errors: each carries its exit code and, where there is one, a place in the source."""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK = 1  # a requested value is not finite, or a check disagreed
EXIT_USAGE = 2  # bad command line, syntax error, unknown name, bad shape
EXIT_INTERNAL = 70  # a bug in adiff itself


class AdiffError(Exception):
    """A user-facing error: one message in plain words, an exit code, an optional place."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None,
                 source: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.source = source
        self.hint = hint

    def source_line(self) -> str | None:
        if self.source is None or self.line is None:
            return None
        lines = self.source.split("\n")
        if 1 <= self.line <= len(lines):
            return lines[self.line - 1]
        return None

    def render(self) -> str:
        """The message as it is shown to a person: place, the offending line, a caret, a hint."""
        head = "error"
        if self.line is not None:
            head += f" at line {self.line}"
            if self.column is not None:
                head += f", column {self.column}"
        out = [f"{head}: {self.message}"]
        text = self.source_line()
        if text is not None and self.column is not None:
            # Show at most 76 characters of a long line, around the column.
            start = max(0, self.column - 40)
            snippet = text[start:start + 76]
            prefix = "…" if start > 0 else ""
            out.append("  " + prefix + snippet)
            out.append("  " + " " * (len(prefix) + self.column - 1 - start) + "^")
        if self.hint:
            out.append(self.hint)
        return "\n".join(out)


class ParseError(AdiffError):
    """The text is not a program: syntax, unknown function, wrong number of arguments."""


class NameLookupError(AdiffError):
    """A name the program does not have (in --of, --wrt, --at), or an input without a value."""


class ShapeError(AdiffError):
    """Operands whose shapes do not fit together."""


class UsageError(AdiffError):
    """A bad option value on the command line."""


class LimitError(AdiffError):
    """Work or memory beyond a budget, refused before it is spent: the estimate, the budget and
    how to raise it."""
