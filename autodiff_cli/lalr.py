"""Running the parser that Lark built for grammars/adiff.lark, from its tables, without Lark.

Lark compiles the grammar into a lexer (one regular expression) and LALR(1) tables; the tools
script (tools/regenerate_parser.py) writes them into generated_parser.py. This module is the
few lines that run them, as Lark's own runtime does (lark/lexer.py BasicLexer, lark/parsers/
lalr_parser.py, lark/parse_tree_builder.py ChildFilterLALR): the same tokens with the same
places, the same reductions calling the same callbacks with the same children, the same errors.
It exists for speed: importing Lark and loading its cached parser cost about 25 ms of every
start (a fifth of `adiff grad`'s whole process), Lark's stand-alone module about 12 ms, these
tables and lines about 2 ms; and a ?rule of one child costs no call here. grammar.py falls back
to Lark itself when the tables are stale; tests/test_grammar_generated.py reads a corpus and
fuzzed programs both ways and compares.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

SHIFT = 0  # an action in the tables: (SHIFT, next state) or (REDUCE, rule number)


class Token(str):
    """A piece of the text and its terminal's name, with its place (as lark.Token)."""

    def __new__(cls, type_: str, value: str, start_pos: int | None = None, line: int | None = None,
                column: int | None = None, end_line: int | None = None, end_column: int | None = None,
                end_pos: int | None = None) -> Token:
        self = super().__new__(cls, value)
        self.type, self.value, self.start_pos, self.line, self.column = type_, value, start_pos, line, column
        self.end_line, self.end_column, self.end_pos = end_line, end_column, end_pos
        return self

    @classmethod
    def new_borrow_pos(cls, type_: str, value: str, borrow: Token) -> Token:
        return cls(type_, value, borrow.start_pos, borrow.line, borrow.column, borrow.end_line,
                   borrow.end_column, borrow.end_pos)

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {self.value!r})"


class UnexpectedInput(Exception):  # noqa: N818 - Lark's names, so grammar.py handles both alike
    line: int
    column: int


class UnexpectedCharacters(UnexpectedInput):
    """No terminal matches at pos_in_stream."""

    def __init__(self, text: str, pos: int, line: int, column: int):
        super().__init__(f"No terminal matches {text[pos]!r} at line {line} column {column}")
        self.pos_in_stream, self.line, self.column = pos, line, column


class UnexpectedToken(UnexpectedInput):
    """The token cannot follow; `expected` are the terminals that could."""

    def __init__(self, token: Token, expected: set[str]):
        super().__init__(f"Unexpected token {token!r}, expected one of {sorted(expected)}")
        self.token, self.expected, self.line, self.column = token, expected, token.line, token.column


class UnexpectedEOF(UnexpectedInput):
    """Never raised by an LALR parser; here so that the classes are Lark's set."""


def _reducer(callback: Callable[[list], Any] | None, name: str, size: int, expand1: bool,
             include: tuple[tuple[int, bool, int], ...], trailing: int) -> Callable[[list], Any] | None:
    """A rule's reduction: the children kept (anonymous tokens dropped, an _inlined rule's
    children spliced in, None for an [optional] part that is absent), then, for a ?rule with
    one child left, that child, else the callback."""
    if callback is None:
        if not name.startswith("_"):
            def callback(children: list) -> Any:
                raise RuntimeError(f"the parser has no callback for the rule {name!r}")
        else:
            callback = list  # an _inlined rule: its children, spliced into its parent's
    if expand1 and size == 1 and include == ((0, False, 0),) and not trailing:
        return None  # ?rule: child, the most common reduction: the child stays as it is
    if include == tuple((i, False, 0) for i in range(size)) and not trailing and not expand1:
        return callback  # nothing to drop, splice or fill in (Lark passes the children as they are)

    def reduce(children: list) -> Any:
        kept: list = []
        for i, splice, nones in include:
            if nones:
                kept += [None] * nones
            if splice:
                kept += children[i]
            else:
                kept.append(children[i])
        if trailing:
            kept += [None] * trailing
        if expand1 and len(kept) == 1:
            return kept[0]
        return callback(kept)

    return reduce


class Parser:
    """The parser from generated_parser's tables, calling `callbacks` as it reduces (Lark's
    inline transformer: no tree is built) and reading tokens through `postlex.process`."""

    def __init__(self, tables: ModuleType, callbacks: Any, postlex: Any):
        self.pattern = re.compile(tables.PATTERN)
        self.unless = tables.UNLESS
        self.newline_types, self.ignore = frozenset(tables.NEWLINE_TYPES), frozenset(tables.IGNORE)
        self.states, self.start, self.end = tables.STATES, tables.START, tables.END
        # a rule: (its nonterminal, callback name, length, ?rule, children kept, Nones after)
        self.rules = [(rule[0], rule[2], _reducer(getattr(callbacks, rule[1], None), *rule[1:]))
                      for rule in tables.RULES]
        self.postlex = postlex

    def _tokens(self, text: str) -> Iterator[Token]:
        """Lark's basic lexer: at each place, the first of its terminals (in Lark's order) that matches."""
        match, unless, newline_types = self.pattern.match, self.unless, self.newline_types
        ignore = self.ignore
        pos, line, line_start, end = 0, 1, 0, len(text)
        while pos < end:
            m = match(text, pos)
            if m is None:
                raise UnexpectedCharacters(text, pos, line, pos - line_start + 1)
            value, type_ = m.group(0), m.lastgroup
            start, start_line, start_column = pos, line, pos - line_start + 1
            if type_ in newline_types:
                newlines = value.count("\n")
                if newlines:
                    line += newlines
                    line_start = pos + value.rindex("\n") + 1
            pos += len(value)
            if type_ in ignore:
                continue
            if type_ in unless:  # a keyword that the name pattern also matches: expect, within
                type_ = unless[type_].get(value, type_)
            yield Token(type_, value, start, start_line, start_column, line, pos - line_start + 1, pos)

    def lex(self, text: str) -> Iterator[Token]:
        """The tokens of a text as the parser sees them (comments and spaces left out)."""
        return self.postlex.process(self._tokens(text))

    def parse(self, text: str) -> Any:
        states, rules = self.states, self.rules
        state_stack, value_stack = [self.start], []
        token = None

        def feed(token: Token, end: bool = False) -> Any:
            while True:
                actions = states[state_stack[-1]]
                try:
                    action, arg = actions[token.type]
                except KeyError:
                    raise UnexpectedToken(token, {s for s in actions if s.isupper()}) from None
                if action == SHIFT:
                    state_stack.append(arg)
                    value_stack.append(token)
                    return None
                origin, size, reduce = rules[arg]
                if reduce is None:  # a ?rule of one child: the value stays, only the state changes
                    del state_stack[-1]
                else:
                    if size:
                        children = value_stack[-size:]
                        del state_stack[-size:]
                        del value_stack[-size:]
                    else:
                        children = []
                    value_stack.append(reduce(children))
                state_stack.append(states[state_stack[-1]][origin][1])
                if end and state_stack[-1] == self.end:
                    return value_stack[-1]

        for token in self.lex(text):
            feed(token)
        end_token = Token.new_borrow_pos("$END", "", token) if token else Token("$END", "", 0, 1, 1)
        return feed(end_token, end=True)
