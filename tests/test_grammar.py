"""The language: precedence, implicit multiplication, pasted characters, statements."""

import math

import pytest
from lark import Lark

from autodiff_cli import grad, parse
from autodiff_cli.grammar import grammar_text
from autodiff_cli.printing import to_text


def test_grammar_has_no_conflicts():
    Lark(grammar_text(), parser="lalr", strict=True)  # raises on any shift/reduce conflict


def value(program: str, **at: float) -> float:
    prog = parse(program)
    result = grad(prog, at={k: v for k, v in at.items() if k in prog.inputs})
    return float(result.targets[prog.target_name])


@pytest.mark.parametrize(("program", "expected"), [
    ("-x^2", -9), ("2^-1", 0.5), ("2^3^2", 512), ("2**3", 8), ("-2^2", -4), ("(-2)^2", 4),
    ("2x", 6), ("2x^2", 18), ("3(x+1)", 12), ("2sin(x)", 2 * math.sin(3)), ("(x+1)(x-1)", 8),
    ("2(x+1)(x-1)", 16), ("x²", 9), ("x³ + 1", 28), ("2π", 2 * math.pi), ("π·x", 3 * math.pi),
    ("6 × x", 18), ("x − 1", 2), ("e^x", math.exp(3)), ("10 - 2 - 3", 5), ("12/3/2", 2),
    (".5x", 1.5), ("1e-3*x", 0.003), ("2.5e2", 250), ("+x", 3), ("- -x", 3),
    ("x > 2", 1), ("x <= 2", 0), ("where(x > 2, x, -x)", 3), ("log(8, 2)", 3), ("ln(e)", 1),
    ("pow(x, 2)", 9), ("max(x, 4)", 4), ("hypot(x, 4)", 5),
])
def test_values(program, expected):
    assert value(program, x=3) == pytest.approx(expected, rel=1e-14)


def test_statements_comments_and_separators():
    program = "# header\nx = 3 ; y = x^2 # square\n\n\nz = y + 1\n"
    prog = parse(program)
    assert prog.defaults == {"x": 3}
    assert prog.target_name == "z"
    assert [s.name for s in prog.statements] == ["x", "y", "z"]
    assert [s.line for s in prog.statements] == [2, 2, 5]
    assert grad(prog).targets["z"] == 10


def test_number_literal_declares_input_with_default():
    prog = parse("w1 = -0.2\nw2 = 0.2\nf = w1*w2")
    assert prog.defaults == {"w1": -0.2, "w2": 0.2}
    assert list(prog.inputs) == ["w1", "w2"]


def test_free_names_are_inputs_in_first_use_order():
    assert list(parse("b*a + c*a").inputs) == ["b", "a", "c"]


def test_print_and_read_back():
    for text in ["exp(sin(x^2))", "-x^2", "(-x)^2", "a - (b - c)", "a/(b*c)", "x^y^z", "(x^y)^z",
                 "2·x + 1", "-(x + 1)", "x·(-2)", "where(x > 0, x, 0)", "a - b - c", "pi·x"]:
        prog = parse(text)
        printed = to_text(prog.graph, prog.target)
        again = parse(printed)
        assert to_text(again.graph, again.target) == printed, text
        assert len(again.graph) == len(prog.graph)


def test_printer_parenthesizes_by_precedence():
    prog = parse("(a + b)·c - (d - e) + f^(g + h) + (-k)^2")
    assert to_text(prog.graph, prog.target) == "(a + b)·c - (d - e) + f^(g + h) + (-k)^2"


@pytest.mark.parametrize("text", ["sum(A, axis=0)", "A[1, :] + A[0]", "reshape(A, 4)",
                                  'conv2d(A, K, stride=2, padding="same")', "linspace(0, 1, 5)",
                                  "zeros(2, 3)", "avg_pool(A, 2)", "stack(A, A, axis=1)", "A[::2, 1:]",
                                  "[[1, 2], [3, 4]] @ x", "transpose(A) @ B", "mse(p, y)"])
def test_array_programs_print_and_read_back(text):
    prog = parse(text)
    printed = to_text(prog.graph, prog.target)
    again = parse(printed)
    assert to_text(again.graph, again.target) == printed
    assert len(again.graph) == len(prog.graph)
