"""The generated parser (autodiff_cli/generated_parser.py, Lark's tables, run by lalr.py): built from
the grammar file as it is now, reading every program as Lark itself reads it (the same graph, the
same tokens and places, the same errors), and never used once the grammar has changed."""

import subprocess
import sys
from contextlib import contextmanager
from unittest import mock

import lark
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz import mutated, programs

from autodiff_cli import generated_parser, grammar, lalr
from autodiff_cli.errors import ParseError
from autodiff_cli.printing import to_text

PROGRAMS = ["exp(sin(x^2))", "v = x^2; f = exp(v)", "2x sin x + √(x+1)", "x²·3°", "A = [[1, 2], [3, 4]]\n"
            "f = sum(A @ [x, y])", "W = glorot_uniform(2, 2)\nf = sum(W[:, 0]) + W[1, ::2][0]'",
            "log(x, base=2)", "x = 2\nf = x^3\nexpect grad(f, x) == 12 within 1e-9", "# a comment\n\n"
            "y = (x +\n 1)  # continued\r\nz = y ≤ 3", "conv2d(A, K, stride=1, padding=\"same\")",
            "a·b − c × d ⋅ e ** 2 ≠ 1", "expectx + withinx", "f() + 1", "x'", "-x^-2", "zeros(2, 3)"]
BAD = ["x +* 2", "x $ 2", "sin(x", "(x + 1", "[1, 2\n3]", "sin x y", "x = ", "foo(x)", "sin", "2 3",
       "expect x", "f = x\nf = 2", "max(x, axs=0)", "[[1, 2], [3]]", "f(x, y) = x", "x +\n", "1 +\n\n(",
       "]", "x ==", "expect x == 1 within", "\"text\"", "a[1:2:3:4]", "x\ty\tz 4", "sin^2 x", "2x(", "∛x"]


def reading(text):
    """A program's graph as text, statements, inputs and warnings; or its error and place."""
    try:
        prog = grammar.read(text)
        return (to_text(prog.graph, prog.target), [(s.name, s.line, s.text) for s in prog.statements],
                list(prog.inputs), [w.message for w in prog.warnings])
    except ParseError as err:
        return (err.message, err.line, err.column)


LARK_PARSER = lark.Lark(grammar.grammar_text(), **grammar.LARK_OPTIONS, transformer=grammar._Callbacks(),
                        postlex=grammar._BRACKETS)


@contextmanager
def with_lark():
    """Reading as it is with Lark itself (as when the generated tables are stale)."""
    with mock.patch.object(grammar, "_runtime", lambda: lark), \
            mock.patch.object(grammar, "_parser", lambda: LARK_PARSER):
        yield


def test_generated_from_this_grammar():
    assert generated_parser.GRAMMAR == grammar.grammar_text(), \
        "grammars/adiff.lark changed: run  python tools/regenerate_parser.py"
    assert grammar._runtime() is lalr


def test_stale_tables_are_not_used(monkeypatch):
    monkeypatch.setattr(generated_parser, "GRAMMAR", generated_parser.GRAMMAR + "\n// changed")
    grammar._runtime.cache_clear()
    grammar._parser.cache_clear()
    try:
        assert grammar._runtime() is lark and isinstance(grammar._parser(), lark.Lark)
        assert reading("exp(sin(x^2))")[0] == "exp(sin(x^2))"
    finally:
        monkeypatch.undo()
        grammar._runtime.cache_clear()
        grammar._parser.cache_clear()
    assert grammar._runtime() is lalr


@pytest.mark.parametrize("text", PROGRAMS + BAD)
def test_read_as_lark_reads(text):
    ours = reading(text)
    with with_lark():
        assert ours == reading(text)


def tokens(text):
    try:
        return [(t.type, t.value, t.line, t.column, t.start_pos, t.end_line, t.end_column, t.end_pos)
                for t in grammar._parser().lex(text)]
    except (lalr.UnexpectedCharacters, lark.UnexpectedCharacters) as err:
        return ("unexpected character", err.line, err.column, err.pos_in_stream)


@pytest.mark.parametrize("text", PROGRAMS + ["x $ 2", "a\n  b # c\r\n\"s\" ; d"])
def test_tokens_and_places_as_lark_gives_them(text):
    ours = tokens(text)
    with with_lark():
        assert ours == tokens(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(programs(), mutated()))
def test_generated_programs_read_as_lark_reads_them(text):
    ours = reading(text)
    with with_lark():
        assert ours == reading(text)


def test_reading_imports_neither_lark_nor_rich():
    code = ("import sys; from autodiff_cli import grad; grad('exp(sin(x^2))', x=2);"
            "print(sorted(m for m in ('lark', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_plain_call_reads_as_the_long_way_reads_it(monkeypatch):
    from autodiff_cli.ops import FUNCTIONS

    texts = [f"{name}({', '.join('xyzw'[:entry.arity])})" for name, entry in sorted(FUNCTIONS.items())
             if 1 <= entry.arity <= 4 and grammar._plain(entry)]
    assert "sin(x)" in texts and "atan2(x, y)" in texts
    short = [(list(p.graph.nodes), p.target) for p in map(grammar.read, texts)]
    monkeypatch.setattr(grammar, "_plain", lambda entry: False)
    assert [(list(p.graph.nodes), p.target) for p in map(grammar.read, texts)] == short
