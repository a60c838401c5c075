"""Text to Program: the Lark grammar in grammars/adiff.lark, with graph-building callbacks.

The LALR parser calls the callbacks as it reduces (an inline transformer), so no parse tree
is built and nothing recurses over the expression: 100,000-deep nesting parses. The grammar's
rule names are the op table's names (-> add, -> matmul), so those rules map to the table
generically; calls are resolved in the table. grad(f, x) is read as a node; parse.py expands
it into the derivative's graph after reading. Lark compiles the grammar into tables
(generated_parser.py, by tools/regenerate_parser.py) that lalr.py runs without importing Lark.
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from .builder import Builder
from .errors import ParseError
from .graph import Expect, Graph, Notice, Program, Statement
from .ops import (
    CONSTANTS,
    DRAWN,
    INITIALISERS,
    OPS,
    REQUIRED,
    Sym,
    initial_value,
    lookup_function,
    nearest_function,
)
from .printing import to_text

if TYPE_CHECKING:
    from lark import Token

MAX_PROGRAM_CHARS = 2_000_000  # about 25 s of work (a 100,000-term sum is 1.5 MB); documented in the README
CHARS_VARIABLE = "ADIFF_MAX_CHARS"  # raises (or lowers) the limit


def max_program_chars() -> int:
    """The longest program read: $ADIFF_MAX_CHARS, or MAX_PROGRAM_CHARS."""
    text = os.environ.get(CHARS_VARIABLE, "").replace("_", "").replace(",", "")
    return int(text) if text.isdigit() else MAX_PROGRAM_CHARS



def grammar_text() -> str:
    """The grammar shipped inside the package (autodiff_cli/grammars/ in an installed copy), or
    the source checkout's top-level grammars/ folder."""
    here = Path(__file__).resolve().parent
    for path in (here / "grammars" / "adiff.lark", here.parent / "grammars" / "adiff.lark"):
        if path.is_file():
            return path.read_text("utf-8")
    from importlib import resources  # only where the grammar is not a plain file

    return resources.files("autodiff_cli.grammars").joinpath("adiff.lark").read_text("utf-8")


_STATE: ContextVar[_State] = ContextVar("adiff_parse_state")  # the program being read, per parse


class _Callbacks:
    """Graph-building callbacks. A rule named after a table entry (add, mul, matmul, pow, ...)
    applies that operation to its first and last children (the operator token, when kept, is
    in between); the other rules have a method each. The parser (lalr.py, or Lark) looks them up
    by name, no base class needed; an exception raised in one reaches the caller as it is."""

    def __getattr__(self, name: str) -> Any:
        if name in OPS and OPS[name].infix and OPS[name].arity == 2:
            return lambda c: _STATE.get().apply(name, (c[0], c[-1]))
        raise AttributeError(name)

    @property
    def state(self) -> _State:
        return _STATE.get()

    def start(self, children): return None
    def number(self, c): return self.state.const(float(c[0]), c[0])
    def name(self, c): return self.state.name(c[0])
    def pos(self, c): return c[1]
    def neg(self, c): return self.state.neg(c[1])
    def superscript(self, c): return self.state.apply("pow", (c[0], self.state.const(_superscript(c[1]))))
    def compare(self, c): return self.state.apply(_COMPARE[c[1].value], (c[0], c[2]))
    def arguments(self, c): return list(c)
    def keyword(self, c): return ("keyword", c[0], _string(c[1]) if isinstance(c[1], str) else c[1])
    def string(self, c): return _string(c[0])
    def transpose(self, c): return self.state.apply("transpose", (c[0],))
    def array(self, c): return self.state.array(c[1:], c[0])
    def index(self, c): return self.state.index(c[0], c[2], c[1])
    def subscripts(self, c): return list(c)
    def slice(self, c): return ("slice", c[0], c[2], c[4])
    def call(self, c): return self.state.call(c[0], c[1] or [])
    def application(self, c): return self.state.application(c[0], c[1])
    def ambiguous(self, c): return self.state.ambiguous(c[0], c[1])
    def degrees(self, c): return self.state.degrees(c[0], c[1])
    def define(self, c): return self.state.define(c[0], c[1] or [])
    def assign(self, c): return self.state.statement(c[0], c[1])
    def bare(self, c): return self.state.statement(None, c[0])
    def expect(self, c): return self.state.expect(c[0], c[1])


def _plain(entry: Any) -> bool:
    """A function whose call is just the operation of its arguments: no parameters, other
    forms, macro, drawn numbers or derivative (what _State.call would find out the long way)."""
    return not (entry.params or entry.overloads or entry.expand or entry.derivative or entry.variadic
                or entry.name in DRAWN)


def _shown(token: Token) -> str:
    return "√" if token.type == "ROOT" else token.value


def _string(token: Token) -> tuple[str, str]:
    return ("string", token.value[1:-1])


def _call_forms(entry: Any, fname: str) -> str:
    """ (or two: log(x, base)): the other numbers of arguments a call may have."""
    forms = [f"{_count(n).split()[0]}: {fname}({', '.join(f.__code__.co_varnames[:n])})"
             for n, f in entry.overloads if callable(f)]
    return "".join(f" (or {form})" for form in forms)


def _count(n: int) -> str:
    return {0: "no arguments", 1: "one argument", 2: "two arguments", 3: "three arguments"}[n]


def _superscript(text: str) -> float:
    return float("".join(str("⁰¹²³⁴⁵⁶⁷⁸⁹".index(ch)) for ch in text))


_COMPARE = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne",
            "≤": "le", "≥": "ge", "≠": "ne"}  # as pasted from a PDF


MAX_ARRAY_DEPTH = 64  # numpy's limit on an array's dimensions
_ENDS = {"NAME", "NUMBER", "RPAR", "RSQB", "SUPERSCRIPT", "DEGREE", "QUOTE"}  # a value ends
_BEGINS = {"NAME", "NUMBER", "FUNC", "LPAR", "ROOT"}  # a value begins


class _Brackets:
    """Between the lexer and the parser: a new line inside ( ) or [ ] continues the statement
    (multi-line calls and arrays); a name that is a function's and is not followed by "(" is
    retyped FNAME (sin x); "[" nested deeper than numpy's limit on dimensions is refused."""

    always_accept = ("_SEP", "NAME")

    def __init__(self) -> None:
        self.open: list[Token] = []  # brackets not yet closed, for "never closed" messages
        self.last: Token | None = None  # the last token passed on, and the one before it:
        self.previous: Token | None = None  # what a syntax error follows

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        self.open = []
        self.previous = self.last = None
        squares = 0
        broken = False  # a new line was passed over inside brackets just before this token
        for token in stream:
            if broken and self.last is not None and self.last.type in _ENDS and token.type in _BEGINS:
                # [w1 <new line> w2] is a forgotten comma far more often than a product
                raise ParseError("a new line between two values inside brackets: write ',' between "
                                 "them, or '*' to multiply", line=token.line, column=token.column,
                                 source=_STATE.get().program.source)
            broken = False
            if token.type in ("LPAR", "LSQB"):
                self.open.append(token)
                squares += token.type == "LSQB"
                if squares > MAX_ARRAY_DEPTH:
                    raise ParseError(f"brackets nested {squares} deep: an array has at most "
                                     f"{MAX_ARRAY_DEPTH} dimensions", line=token.line,
                                     column=token.column, source=_STATE.get().program.source)
            elif token.type in ("RPAR", "RSQB"):
                if self.open:
                    squares -= self.open.pop().type == "LSQB"
            elif token.type == "_SEP" and self.open and token.value != ";":
                broken = True
                continue
            elif token.type == "NAME" and lookup_function(token.value) is not None:
                token = token.new_borrow_pos("FNAME", token.value, token)
            self.previous, self.last = self.last, token
            yield token


LARK_OPTIONS = {"parser": "lalr", "lexer": "basic", "propagate_positions": False, "maybe_placeholders": True}


@lru_cache(maxsize=1)
def _runtime() -> ModuleType:
    """The parser's runtime: lalr.py running the tables Lark built from the grammar
    (generated_parser.py, written by tools/regenerate_parser.py), which starts without importing
    Lark; Lark itself when those tables were built from another text of the grammar (they are
    stale), so a change of the grammar is never read with old tables. Both modules have classes
    Token, UnexpectedInput, UnexpectedCharacters, UnexpectedToken and UnexpectedEOF."""
    from . import generated_parser

    if generated_parser.GRAMMAR == grammar_text():
        from . import lalr

        return lalr
    import lark

    return lark


@lru_cache(maxsize=1)
def _parser() -> Any:
    """The parser (lalr.Parser or lark.Lark): parse(text) calls the callbacks, lex(text) gives tokens."""
    runtime = _runtime()
    if runtime.__name__ != "lark":
        from . import generated_parser

        return runtime.Parser(generated_parser, _Callbacks(), _BRACKETS)
    # cache=True stores the LALR tables in the temp folder, so later starts skip building them.
    return runtime.Lark(grammar_text(), **LARK_OPTIONS, transformer=_Callbacks(), postlex=_BRACKETS,
                        cache=True)


_BRACKETS = _Brackets()


class _State:
    def __init__(self, source: str):
        self.program = Program(graph=Graph(), source=source)
        self.literals: set[int] = set()  # const nodes written as number literals
        self.first_use: dict[str, Token] = {}
        self.applications: dict[int, tuple[Token, int]] = {}  # sin x: node -> (sin, x), for messages
        self.last_line = 1  # line of the latest name, number or call: where a bare statement is
        self.lines = source.split("\n")  # split once: a program may have 100,000 lines

    def line_text(self, line: int) -> str:
        return self.lines[line - 1].strip() if 1 <= line <= len(self.lines) else ""

    @property
    def graph(self) -> Graph:
        return self.program.graph

    def const(self, value: float, token: Token | None = None) -> int:
        node = self.graph.add("const", (), (value, None))
        self.literals.add(node)
        if token is not None:
            self.last_line = token.line
        return node

    def apply(self, op_name: str, args: tuple[int, ...]) -> int:
        return self.graph.add(op_name, args)

    def array(self, items: list[int], bracket: Token) -> int:
        """[a, b, ...]: a constant when every element is a number (or a constant array),
        otherwise the elements stacked, so gradients flow to them."""
        if all(i in self.literals for i in items):
            values = [self.graph[i].attr[0] for i in items]
            shapes = {np.shape(v) for v in values}
            if len(shapes) > 1:
                shown = ", ".join(str(np.shape(v)) for v in values)
                raise ParseError(f"the rows of an array literal have different shapes: {shown}",
                                 line=bracket.line, column=bracket.column, source=self.program.source)
            node = self.graph.add("const", (), (np.array(values, dtype=np.float64), None))
            self.literals.add(node)
            return node
        return self.graph.add("stack", tuple(items), (("axis", 0),))

    def index(self, target: int, subscripts: list[Any], bracket: Token) -> int:
        key = []
        for item in subscripts:
            if isinstance(item, tuple):  # ("slice", start, stop, step)
                key.append(("slice", *(None if v is None else self._whole(v, bracket) for v in item[1:])))
            else:
                key.append(self._whole(item, bracket))
        return self.graph.add("index", (target,), (("index", tuple(key)),))

    def _whole(self, node_id: int, bracket: Token) -> int:
        node = self.graph[node_id]
        if node.op != "const" or np.ndim(node.attr[0]) or not float(node.attr[0]).is_integer():
            raise ParseError("an index must be a whole number written in the program (A[0], A[:, 1])",
                             line=bracket.line, column=bracket.column, source=self.program.source)
        return int(node.attr[0])

    def neg(self, arg: int) -> int:
        if arg in self.literals and np.ndim(self.graph[arg].attr[0]) == 0:
            return self.const(-self.graph[arg].attr[0])  # -2 is the number -2: prints and reads back
        return self.apply("neg", (arg,))

    def name(self, token: Token) -> int:
        text = token.value
        self.last_line = token.line
        bound = self.program.bindings.get(text)
        if bound is not None:
            return bound
        if text in CONSTANTS:
            return self.graph.add("const", (), (CONSTANTS[text], "pi" if text == "π" else text))
        if lookup_function(text) is not None:
            raise ParseError(f"'{text}' is a function: call it with parentheses, as {text}(x)",
                             line=token.line, column=token.column, source=self.program.source)
        return self._input(text, token)

    def _input(self, text: str, token: Token) -> int:
        node = self.graph.add("input", (), text)
        if text not in self.program.inputs:
            self.program.inputs[text] = node
            self.program.labels[node] = text
            self.first_use[text] = token
        return node

    def call(self, token: Token, args: list[Any]) -> int:
        fname = token.value
        self.last_line = token.line
        entry = lookup_function(fname)
        if entry is not None and len(args) == entry.arity and _plain(entry) and \
                all(type(a) is int for a in args):  # sin(x): the common case, in one step
            return self.graph.add(entry.name, tuple(args))
        where = dict(line=token.line, column=token.column, source=self.program.source)
        positional = [a for a in args if not (isinstance(a, tuple) and a[0] == "keyword")]
        keywords = [a for a in args if isinstance(a, tuple) and a[0] == "keyword"]
        if entry is None:
            near = nearest_function(fname)
            shown = ", ".join(self._text(a) for a in positional if not isinstance(a, tuple))
            hint = (f"did you mean {near}?" if near else f"for a product write {fname}*({shown}); "
                    "`adiff functions` lists the functions")
            raise ParseError(f"unknown function '{fname}': {hint}", **where)
        if entry.derivative:
            return self.derivative(entry, positional, keywords, where)
        overload = dict(entry.overloads).get(len(positional))
        if isinstance(overload, str):  # max(A), max(A, axis=0): another entry
            entry = OPS[overload]
        elif overload is not None or entry.expand is not None:  # log(x, base), mse(p, y)
            return self._expand(overload or entry.expand, fname, positional, keywords, where)
        n_arrays = len(positional) if entry.variadic else min(entry.arity, len(positional))
        arrays = tuple(self._array_arg(a, fname, where) for a in positional[:n_arrays])
        params = self._params(entry, fname, positional[n_arrays:], keywords, where)
        if len(arrays) != entry.arity and not (entry.variadic and arrays):
            what = "one or more arrays" if entry.variadic else _count(entry.arity)
            raise ParseError(f"{fname}() takes {what}{_call_forms(entry, fname)}, but {len(positional)} "
                             "were given", **where)
        if entry.name in DRAWN:  # each call draws its own numbers: its place in the program
            params = (*params, ("draw", len(self.graph)))
        return self.graph.add(entry.name, arrays, params or None)

    def application(self, token: Token, operand: int) -> int:
        """sin x, sin x^2, √x: a function applied to one name or number without parentheses."""
        called = token.new_borrow_pos("FNAME", "sqrt", token) if token.type == "ROOT" else token
        node = self.call(called, [operand])
        self.applications[node] = (token, operand)  # its text only if a message needs it
        return node

    def ambiguous(self, applied: int, factor: int) -> int:
        """sin x y, sin 2x: sin(x·y) or sin(x)·y? Refused, with both ways to write it."""
        while applied not in self.applications:  # 2 sin x y, -sin x y: the application ends the product
            applied = self.graph[applied].args[-1]
        token, argument = self.applications[applied]
        fname, operand, other = _shown(token), self._text(argument), self._text(factor)
        raise ParseError(f"this could mean {fname}({operand}·{other}) or {fname}({operand})·{other}: write "
                         f"{fname}({operand}*{other}) or {fname}({operand})*{other}", line=token.line,
                         column=token.column, source=self.program.source)

    def degrees(self, node: int, token: Token) -> int:
        """x°: degrees, converted to the radians every function takes (x·π/180)."""
        self.last_line = token.line
        pi = self.graph.add("const", (), (CONSTANTS["pi"], "pi"))
        return self.apply("div", (self.apply("mul", (node, pi)), self.const(180.0)))

    def define(self, token: Token, args: list[Any]) -> None:
        """f(x) = ...: adiff has no user functions; a name is defined without arguments."""
        name, where = token.value, dict(line=token.line, column=token.column, source=self.program.source)
        if lookup_function(name) is not None:
            raise ParseError(f"'{name}' is a built-in function and cannot be defined", **where)
        raise ParseError(f"write {name} = {self.line_text(token.line).split('=', 1)[1].strip()}: "
                         "a name is defined without its arguments (its inputs are the names it uses)",
                         **where)

    def _text(self, node: int) -> str:
        return to_text(self.graph, node, self.program.labels)

    def _expand(self, expand: Any, fname: str, positional: list[Any], keywords: list[Any],
                where: dict) -> int:
        """A call written with other operations when it is read (a macro, or an overload)."""
        arity = expand.__code__.co_argcount
        if len(positional) != arity or keywords:
            raise ParseError(f"{fname}() takes {_count(arity)}, but {len(positional) + len(keywords)} "
                             "were given", **where)
        builder = Builder(self.graph, simplify=False)
        return expand(*(Sym(builder, self._array_arg(a, fname, where)) for a in positional)).id

    def derivative(self, entry: Any, args: list[Any], keywords: list[Any], where: dict) -> int:
        """grad(f, x): the exact partial of f with respect to x (an input or a named step, held
        independent), as a node that parse.py expands into the derivative's graph, so it nests;
        hessian(f, x): its Jacobian in x."""
        fname = entry.name
        if len(args) != 2 or keywords or any(isinstance(a, tuple) for a in args):
            raise ParseError(f"{fname}() takes two arguments: {fname}(f, x)", **where)
        target, wrt = args
        if self.graph[wrt].op != "input" and wrt not in self.program.labels:
            raise ParseError(f"{fname}(f, x): x must be an input or a named step of the program", **where)
        gradient = self.graph.add("grad", (target, wrt), (where["line"], where["column"]))
        if fname == "grad":
            return gradient
        return self.graph.add("hessian", (gradient, wrt))

    def _array_arg(self, arg: Any, fname: str, where: dict) -> int:
        if isinstance(arg, tuple):  # a string
            raise ParseError(f"{fname}(): the text {arg[1]!r} cannot be an argument here", **where)
        return arg

    def _params(self, entry: Any, fname: str, extra: list[Any], keywords: list[Any],
                where: dict) -> tuple[tuple[str, Any], ...]:
        """Parameters after the arguments, positional or by keyword: numbers or text, fixed
        when the program is read (axis=0, stride=2, padding="same")."""
        names = [n for n, _ in entry.params]
        values: dict[str, Any] = {}
        if names and names[0].startswith("*"):  # reshape(A, 2, 3), zeros(2, 3)
            values[names[0][1:]] = tuple(self._constant(a, fname, where) for a in extra)
        elif len(extra) > len(names):
            raise ParseError(f"{fname}() takes {_count(entry.arity)}"
                             + (f" and the parameters {', '.join(names)}" if names else "")
                             + f", but {entry.arity + len(extra)} were given", **where)
        else:
            values.update({n: self._constant(a, fname, where) for n, a in zip(names, extra, strict=False)})
        for _, key, value in keywords:
            if key.value not in names:
                takes = f"its parameters are {', '.join(names)}" if names else "it takes none"
                raise ParseError(f"{fname}() has no parameter '{key.value}': {takes}",
                                 line=key.line, column=key.column, source=self.program.source)
            values[key.value] = self._constant(value, fname, where)
        missing = [n for n, default in entry.params if default is REQUIRED and n not in values]
        if missing:
            raise ParseError(f"{fname}() needs {missing[0]}=", **where)
        return tuple((n.lstrip("*"), values[n.lstrip("*")]) for n, _ in entry.params
                     if n.lstrip("*") in values)

    def _constant(self, arg: Any, fname: str, where: dict) -> Any:
        if isinstance(arg, tuple):  # ("string", text)
            return arg[1]
        node = self.graph[arg]
        if node.op != "const":
            raise ParseError(f"{fname}(): parameters must be numbers written in the program", **where)
        value = node.attr[0]
        if isinstance(value, np.ndarray):
            return tuple(int(v) for v in value.ravel())
        return int(value) if float(value).is_integer() else value

    def expect(self, comparison: int, tolerance: int | None) -> None:
        """expect LHS == RHS [within TOL]: a check the run reports."""
        prog = self.program
        line = self.last_line
        text = self.line_text(line)
        node = self.graph[comparison]
        full = self.lines[line - 1] if 1 <= line <= len(self.lines) else ""
        at_word = {word: dict(line=line, column=full.find(word) + 1 or None, source=prog.source)
                   for word in ("expect", "within")}  # the keyword's place, for the caret
        if node.op != "eq":
            raise ParseError("expect needs a comparison with ==, as in: expect grad(f, x) == -1.2267",
                             **at_word["expect"])
        tol = None
        if tolerance is not None:
            if self.graph[tolerance].op != "const" or np.ndim(self.graph[tolerance].attr[0]):
                raise ParseError("within takes a number: expect f == 1 within 1e-6", **at_word["within"])
            tol = float(self.graph[tolerance].attr[0])
            if not tol >= 0:
                raise ParseError(f"within takes a tolerance of 0 or more, got {tol:g}", **at_word["within"])
        prog.expects.append(Expect(node.args[0], node.args[1], tol, line, text, comparison))

    def statement(self, name_token: Token | None, node: int) -> None:
        prog = self.program
        line = name_token.line if name_token is not None else self.last_line
        name = name_token.value if name_token is not None else None
        if name is not None and (name in CONSTANTS or lookup_function(name) is not None):
            raise ParseError(f"'{name}' is a built-in name and cannot be assigned",
                             line=name_token.line, column=name_token.column, source=prog.source)
        if name is not None and name in prog.inputs:  # one reading top to bottom: an input keeps its value
            first = self.first_use[name]
            raise ParseError(f"'{name}' is an input of the program (line {first.line}, column "
                             f"{first.column}: `{self.line_text(first.line)}`) and cannot be given "
                             "another value; "
                             f"name the new value differently, e.g. {name}2 = ...",
                             line=name_token.line, column=name_token.column, source=prog.source)
        if name is not None and self.graph[node].op in INITIALISERS:  # W = glorot_uniform(2, 2): an input
            node = self.const(initial_value(self.graph[node].op, self.graph[node].attr))
        if name is not None and node in self.literals:
            # `x = 2` declares an input x with default value 2.
            prog.defaults[name] = self.graph[node].attr[0]
            node = self._input(name, name_token)
        if name is not None:
            prog.bindings[name] = node
            if self.graph[node].op not in ("input",):
                prog.labels.setdefault(node, name)
        text = self.line_text(line) if line else ""
        prog.statements.append(Statement(name, node, line or 0, text))
        prog.target = node
        prog.target_name = name


@contextmanager
def _no_gc() -> Iterator[None]:
    """Parsing makes many small acyclic objects; the cycle collector's full passes over them
    would make a 100,000-node program cost more than linear time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read(source: str) -> Program:
    """Read program text into a Program (graph, statements, inputs), with grad() calls as
    unexpanded `grad` nodes; raises ParseError. parse.parse() is the whole reading."""
    source = source.removeprefix("\ufeff")  # a byte-order mark from an editor is not a character
    limit = max_program_chars()
    if len(source) > limit:  # refused at once: reading takes about 12 s a megabyte
        raise ParseError(f"the program is {len(source):,} characters long; the limit is {limit:,} "
                         f"(reading takes about 12 s a million characters); to read it anyway, set "
                         f"{CHARS_VARIABLE}={len(source)}")
    if not source.strip() or all(not ln.split("#")[0].strip(" \t\r;") for ln in source.split("\n")):
        raise ParseError("the program is empty: give an expression such as \"exp(sin(x^2))\"")
    parser = _parser()
    state = _State(source)
    token = _STATE.set(state)
    try:
        with _no_gc():
            parser.parse(source)
    except _runtime().UnexpectedInput as err:
        raise _syntax_error(err, source) from None
    finally:
        _STATE.reset(token)
    prog = state.program
    if prog.target is None:
        raise ParseError("the program has no expression to evaluate (only expect lines)")
    if prog.target_name is None:
        name = "f" if "f" not in prog.bindings and "f" not in prog.inputs else "result"
        prog.bindings[name] = prog.target
        prog.labels.setdefault(prog.target, name)
        prog.target_name = name
        prog.statements[-1].name = name
    prog.first_use = state.first_use  # type: ignore[attr-defined]
    one_letter = {n for n in (*prog.inputs, *prog.bindings) if len(n) == 1}
    prog.warnings += [glued for name in prog.inputs if (glued := _glued(prog, name, one_letter))]
    return prog


# Spelled-out Greek letters are names people mean as one name (theta, mu), not products.
_GREEK = set("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron rho "
             "sigma tau upsilon phi chi psi omega".split())


def _glued(prog: Program, name: str, one_letter: set[str]) -> Notice | None:
    """A warning for an input name that reads as a product of one-letter names or constants
    (xy, πx, PI), or as a function and a one-letter argument (sinx), and has no value in the
    program: the person may have meant x·y, π·x or sin(x)."""
    if len(name) < 2 or not name.isalpha() or name.lower() in _GREEK or name in prog.defaults:
        return None
    line = prog.first_use[name].line if name in prog.first_use else None
    head, rest = name[:-1], name[-1]
    if lookup_function(head) is not None:  # sinx, expx: a function and its argument glued
        return Notice("warning", f"read '{name}' as one name; for {head}({rest}) write {head}({rest}) "
                      f"or {head} {rest}", name, line)
    folded = name.lower()
    if not ("π" in name or "pi" in folded or len(name) == 2 or set(name) <= one_letter):
        return None
    if folded == "pi":
        return Notice("warning", f"read '{name}' as one name; for the constant π write pi or π", name, line)
    parts = [p for p in re.split(r"(π|pi)", name) if p]
    parts = [letter for p in parts for letter in ([p] if p in ("π", "pi") else list(p))]
    return Notice("warning", f"read '{name}' as one name; for {'·'.join(parts)} write {'*'.join(parts)} "
                  f"or {' '.join(parts)}", name, line)


def _syntax_error(err: Any, source: str) -> ParseError:
    """The ParseError for Lark's UnexpectedInput (of the runtime in use), in a person's words."""
    runtime = _runtime()
    line, column = getattr(err, "line", None), getattr(err, "column", None)
    if isinstance(err, runtime.UnexpectedCharacters):
        char = source[err.pos_in_stream] if err.pos_in_stream < len(source) else "?"
        return ParseError(f"unexpected character '{char}'{_CHARACTER_HINTS.get(char, '')}", line=line,
                          column=column, source=source)
    expected = set(getattr(err, "expected", None) or getattr(err, "accepts", None) or [])
    at_end = isinstance(err, runtime.UnexpectedEOF) or (isinstance(err, runtime.UnexpectedToken)
                                                         and err.token.type == "$END")
    before = _BRACKETS.last if at_end else _BRACKETS.previous
    if before is not None and before.type == "FNAME":  # sin, sin + 1, x sin, sin^2 x
        name, power = before.value, None if at_end else err.token  # type: ignore[attr-defined]
        if power is not None and power.type in ("POW", "SUPERSCRIPT"):  # sin^2 x: never read as asin
            exponent = power.value if power.type == "SUPERSCRIPT" else "^n"
            return ParseError(f"'{name}' is a function: for a power of it write {name}(x){exponent}, "
                              "with parentheses", line=before.line, column=before.column, source=source)
        return ParseError(f"'{name}' is a function: call it with parentheses, as {name}(x)",
                          line=before.line, column=before.column, source=source)
    words = _expected_words(expected, source)
    if at_end:
        if _BRACKETS.open:
            bracket = _BRACKETS.open[-1]
            return ParseError(f"this '{bracket.value}' is never closed: expected {words}",
                              line=bracket.line, column=bracket.column, source=source)
        lines = source.split("\n")
        line = len(lines)
        column = len(lines[-1]) + 1
        return ParseError(f"the program ended early: expected {words}", line=line, column=column,
                          source=source)
    token = err.token  # type: ignore[attr-defined]
    shown = "end of the line" if token.type == "_SEP" and token.value != ";" else f"'{token.value}'"
    return ParseError(f"unexpected {shown}: expected {words}", line=token.line,
                      column=token.column, source=source)


_CHARACTER_HINTS = {"∛": ": write cbrt(x)", "÷": ": write / to divide", "%": ": write /100 for a percentage"}
_STARTS = {"NUMBER", "NAME", "FUNC", "FNAME", "ROOT", "LPAR", "LSQB", "MINUS", "PLUS"}
_OPERATORS = {"TIMES", "SLASH", "POW", "COMPARE", "SUPERSCRIPT", "AT", "QUOTE", "DEGREE"}


def _expected_words(expected: set[str], source: str) -> str:
    """What may come next, in the words a person types: an expression, an operator, a closing
    bracket, a comma, the end of the line; never the grammar's own token names."""
    inside = _BRACKETS.open[-1].type if _BRACKETS.open else None
    parts = []
    if expected & _OPERATORS:  # after a complete operand; juxtaposition is not worth suggesting
        parts.append("an operator such as + - * / ^")
    elif expected & _STARTS:
        parts.append("an expression (a number, a name, a function call or '(')")
    if inside == "LPAR" and "RPAR" in expected:
        parts.append("')'")
    if inside == "LSQB" and "RSQB" in expected:
        parts.append("']'")
    if inside and "COMMA" in expected:
        parts.append("','")
    if "WITHIN" in expected and _BRACKETS.last is not None and \
            source.split("\n")[_BRACKETS.last.line - 1].lstrip().startswith("expect"):
        parts.append("'within'")
    if not inside and expected & {"_SEP", "$END"}:
        parts.append("the end of the line")
    if not parts:
        return "something else"
    if len(parts) == 2 and all(p.startswith("'") for p in parts):
        return f"{parts[0]} or {parts[1]}"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + ", or " + parts[-1]
