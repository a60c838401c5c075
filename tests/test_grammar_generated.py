"""The generated parser (autodiff_cli/generated_parser.py, Lark's stand-alone output): made from the
grammar file as it is now, read the same way as Lark builds it from the grammar, and never used once
the grammar has changed."""

import subprocess
import sys

import pytest

from autodiff_cli import generated_parser, grammar
from autodiff_cli.errors import ParseError
from autodiff_cli.printing import to_text

PROGRAMS = ["exp(sin(x^2))", "v = x^2; f = exp(v)", "2x sin x + √(x+1)", "x²·3°", "A = [[1, 2], [3, 4]]\n"
            "f = sum(A @ [x, y])", "f(x, y) = x", "W = glorot_uniform(2, 2)\nf = sum(W[:, 0])",
            "log(x, base=2)", "x = 2\nf = x^3\nexpect grad(f, x) == 12 within 1e-9"]
BAD = ["x +* 2", "x $ 2", "sin(x", "(x + 1", "[1, 2\n3]", "sin x y", "x = ", "foo(x)", "sin", "2 3",
       "expect x", "f = x\nf = 2", "max(x, axs=0)", "[[1, 2], [3]]"]


@pytest.fixture
def with_lark(monkeypatch):
    """Reading as it is when the generated module is stale: the parser built by Lark itself."""
    monkeypatch.setattr(generated_parser, "GRAMMAR", generated_parser.GRAMMAR + "\n// changed")
    grammar._runtime.cache_clear()
    grammar._parser.cache_clear()
    yield
    monkeypatch.undo()
    grammar._runtime.cache_clear()
    grammar._parser.cache_clear()


def test_generated_from_this_grammar():
    assert generated_parser.GRAMMAR == grammar.grammar_text(), \
        "grammars/adiff.lark changed: run  python tools/regenerate_parser.py"
    assert grammar._runtime() is generated_parser


def readings(programs):
    """Each program's graph as text and statements, or its error message and place."""
    out = []
    for text in programs:
        try:
            prog = grammar.read(text)
            out.append((to_text(prog.graph, prog.target), [(s.name, s.line) for s in prog.statements],
                        list(prog.inputs), [w.message for w in prog.warnings]))
        except ParseError as err:
            out.append((err.message, err.line, err.column))
    return out


def test_a_stale_module_is_not_used_and_lark_reads_the_same(with_lark):
    import lark

    stale = readings(PROGRAMS + BAD)
    assert isinstance(grammar._parser(), lark.Lark) and grammar._runtime() is lark
    grammar._runtime.cache_clear()
    grammar._parser.cache_clear()
    generated_parser.GRAMMAR = grammar.grammar_text()  # as regenerated
    assert readings(PROGRAMS + BAD) == stale
    assert grammar._runtime() is generated_parser


def test_errors_say_where(with_lark):
    # one oracle for both runtimes: the message and place written out here by hand
    expected = ("unexpected '*': expected an expression (a number, a name, a function call or '(')", 1, 4)
    for runtime in ("lark", "generated"):
        if runtime == "generated":
            generated_parser.GRAMMAR = grammar.grammar_text()
            grammar._runtime.cache_clear()
            grammar._parser.cache_clear()
        with pytest.raises(ParseError) as err:
            grammar.read("x +* 2")
        assert (err.value.message, err.value.line, err.value.column) == expected, runtime


def test_reading_imports_neither_lark_nor_rich():
    code = ("import sys; from autodiff_cli import grad; grad('exp(sin(x^2))', x=2);"
            "print(sorted(m for m in ('lark', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
