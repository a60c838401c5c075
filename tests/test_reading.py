"""Input read as a person means it (issue 13), through the command line as a user types it:
juxtaposition, a function name without parentheses, √ and °, names that glue letters,
f(x) = ..., parse errors in plain words, no internal node names, and arrays nested deeper
than numpy allows (issue 15). The oracles are hand-derived values and derivatives, and the
same program written out with * and parentheses."""

from __future__ import annotations

import json
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autodiff_cli import grad, parse
from autodiff_cli.printing import to_text


def grad_json(run, program: str, *at: str) -> tuple[dict, str]:
    code, out, err = run("grad", program, *[a for v in at for a in ("--at", v)], "--json")
    assert code == 0, err
    return json.loads(out), err


X = 0.7
JUXTAPOSED = [  # (program, f(x), df/dx), by hand
    ("sin(x)cos(x)", math.sin(X) * math.cos(X), math.cos(2 * X)),
    ("x^2 sin(x)", X**2 * math.sin(X), 2 * X * math.sin(X) + X**2 * math.cos(X)),
    ("2x", 2 * X, 2.0),
    ("1/2x", X / 2, 0.5),  # implicit multiplication binds like *: (1/2)·x
    ("x/2 x", X * X / 2, X),
    ("sin x", math.sin(X), math.cos(X)),
    ("sin x^2", math.sin(X**2), 2 * X * math.cos(X**2)),  # sin(x^2), not sin(x)^2
    ("2 sin x cos x", math.sin(2 * X), 2 * math.cos(2 * X)),
    ("x sin x", X * math.sin(X), math.sin(X) + X * math.cos(X)),
    ("sin x cos(x)", math.sin(X) * math.cos(X), math.cos(2 * X)),
    ("1 - sin x", 1 - math.sin(X), -math.cos(X)),
    ("exp sin x", math.exp(math.sin(X)), math.cos(X) * math.exp(math.sin(X))),
    ("√x", math.sqrt(X), 0.5 / math.sqrt(X)),
    ("√(x+1)", math.sqrt(X + 1), 0.5 / math.sqrt(X + 1)),
    ("2√x", 2 * math.sqrt(X), 1 / math.sqrt(X)),
    ("√x √x", X, 1.0),
    ("x°", X * math.pi / 180, math.pi / 180),
    ("sin(x°)", math.sin(X * math.pi / 180), math.pi / 180 * math.cos(X * math.pi / 180)),
    ("sin x°", math.sin(X * math.pi / 180), math.pi / 180 * math.cos(X * math.pi / 180)),
    ("(x+1)(x-1) x", (X * X - 1) * X, 3 * X * X - 1),
]


@pytest.mark.parametrize(("program", "value", "derivative"), JUXTAPOSED)
def test_juxtaposition_and_functions_without_parentheses(run, program, value, derivative):
    doc, err = grad_json(run, program, f"x={X!r}")
    assert err == ""
    assert doc["targets"]["f"] == pytest.approx(value, rel=1e-14)
    assert doc["gradients"]["f"]["x"] == pytest.approx(derivative, rel=1e-13)


@pytest.mark.parametrize(("typed", "written_out"), [
    ("x y", "x*y"), ("2x y^2", "2*x*y^2"), ("1/2x", "1/2*x"), ("x/2y", "x/2*y"),
    ("x^2 sin(x)", "x^2*sin(x)"), ("sin(x)cos(y)", "sin(x)*cos(y)"), ("sin x^2", "sin(x^2)"),
    ("2 sin x cos y", "2*sin(x)*cos(y)"), ("-x y", "-x*y"), ("x y + y x", "x*y + y*x"),
    ("√x", "sqrt(x)"), ("√x^2", "sqrt(x^2)"), ("sin sin x", "sin(sin(x))"), ("30°", "30*pi/180"),
])
def test_typed_forms_read_as_the_written_out_program(typed, written_out):
    a, b = parse(typed), parse(written_out)
    assert to_text(a.graph, a.target) == to_text(b.graph, b.target)


def test_two_inputs_side_by_side_multiply(run):
    doc, _ = grad_json(run, "x y", "x=3", "y=5")
    assert doc["targets"]["f"] == 15
    assert doc["gradients"]["f"] == {"x": 5, "y": 3}


def test_angles_in_degrees_are_converted_to_radians(run):
    doc, _ = grad_json(run, "sin 30° + cos(60°)")
    assert doc["targets"]["f"] == pytest.approx(1.0, rel=1e-15)


@pytest.mark.parametrize(("program", "readings", "column"), [
    ("sin x y", "sin(x·y) or sin(x)·y: write sin(x*y) or sin(x)*y", 1),
    ("sin 2x", "sin(2·x) or sin(2)·x: write sin(2*x) or sin(2)*x", 1),
    ("y + √x y", "√(x·y) or √(x)·y: write √(x*y) or √(x)*y", 5),
    ("2 sin x y", "sin(x·y) or sin(x)·y: write sin(x*y) or sin(x)*y", 3),  # the application ends
    ("y/sin x y", "sin(x·y) or sin(x)·y: write sin(x*y) or sin(x)*y", 3),  # a longer product
    ("x √2 y", "√(2·y) or √(2)·y: write √(2*y) or √(2)*y", 3),
    ("sin x cos x y", "cos(x·y) or cos(x)·y: write cos(x*y) or cos(x)*y", 7),
])
def test_a_function_without_parentheses_then_a_factor_is_refused_with_both_readings(
        run, program, readings, column):
    code, out, err = run("grad", program, "--at", "x=1,y=2")
    assert (code, out) == (2, "")
    lines = err.splitlines()
    assert lines[0] == f"error at line 1, column {column}: this could mean {readings}"
    assert lines[1:] == [f"  {program}", "  " + " " * (column - 1) + "^"]


@pytest.mark.parametrize(("program", "column"), [("sin", 1), ("x sin", 3), ("sin + 1", 1), ("2 exp", 3)])
def test_a_function_name_alone_says_to_call_it(run, program, column):
    code, _, err = run("grad", program, "--at", "x=1")
    name = program.split()[column > 1]
    assert code == 2
    assert err.splitlines()[0] == (f"error at line 1, column {column}: '{name}' is a function: call it "
                                   f"with parentheses, as {name}(x)")


@pytest.mark.parametrize(("program", "power"), [("sin^2 x", "^n"), ("sin² x", "²"), ("cos²(x)", "²")])
def test_a_power_of_a_function_name_says_where_the_parentheses_go(run, program, power):
    code, _, err = run("grad", program, "--at", "x=1")
    name = program[:3]
    assert code == 2
    assert err.splitlines()[0] == (f"error at line 1, column 1: '{name}' is a function: for a power of it "
                                   f"write {name}(x){power}, with parentheses")


def test_a_name_defined_with_arguments_says_how_to_define_it(run):
    code, _, err = run("grad", "f(x) = x^2\nf", "--at", "x=1")
    assert code == 2
    assert err.splitlines() == [
        "error at line 1, column 1: write f = x^2: a name is defined without its arguments (its "
        "inputs are the names it uses)", "  f(x) = x^2", "  ^"]


def test_a_built_in_function_cannot_be_defined(run):
    code, _, err = run("grad", "sin(x) = x^2", "--at", "x=1")
    assert code == 2
    assert err.splitlines()[0] == ("error at line 1, column 1: 'sin' is a built-in function and cannot be "
                                   "defined")


def test_a_name_called_like_a_function_suggests_the_product(run):
    code, _, err = run("grad", "x(y+1)", "--at", "x=1,y=2")
    assert code == 2
    assert "unknown function 'x': for a product write x*(y + 1)" in err


# Names that glue letters: a warning unless the name has a value (--at, or a line in the program).
def test_glued_name_in_diff_is_warned_about(run):
    code, out, err = run("diff", "sin(πx)")
    assert code == 0
    assert out == "∂f/∂πx = cos(πx)\n"
    assert err == "warning: read 'πx' as one name; for π·x write π*x or π x\n"


def test_glued_name_warning_goes_with_the_missing_value_error(run):
    code, _, err = run("grad", "x*y + xy", "--at", "x=1,y=2")
    assert code == 2
    assert err.splitlines()[0].startswith("error at line 1, column 7: the input 'xy' has no value")
    assert err.splitlines()[-1] == "warning: read 'xy' as one name; for x·y write x*y or x y"
    code, _, err = run("grad", "PI*x", "--at", "x=1")
    assert err.splitlines()[-1] == "warning: read 'PI' as one name; for the constant π write pi or π"
    code, _, err = run("grad", "sin(πx)", "--at", "x=1")
    assert err.splitlines() == ["error: --at x=...: the program has no input 'x' (its inputs: πx)",
                                "warning: read 'πx' as one name; for π·x write π*x or π x"]


@pytest.mark.parametrize(("args", "error"), [
    (("plot", "sin(πx)", "--over", "x=0:1"),
     "error: --over x: the program has no input 'x' (its inputs: πx)"),
    (("grad", "sin(πx)", "--grid", "x=0:1:3"),
     "error: --grid/--points x: the program has no input 'x' (its inputs: πx)"),
])
def test_glued_name_warning_goes_with_a_missing_variable_of_plot_and_grid(run, args, error):
    code, _, err = run(*args)
    assert code == 2
    assert err.splitlines() == [error, "warning: read 'πx' as one name; for π·x write π*x or π x"]


@pytest.mark.parametrize(("program", "warning"), [
    ("sinx", "read 'sinx' as one name; for sin(x) write sin(x) or sin x"),
    ("2expx", "read 'expx' as one name; for exp(x) write exp(x) or exp x"),
    ("x + ab", "read 'ab' as one name; for a·b write a*b or a b"),
    ("a*b*c + abc", "read 'abc' as one name; for a·b·c write a*b*c or a b c"),
    ("pix", "read 'pix' as one name; for pi·x write pi*x or pi x"),
])
def test_glued_names_of_several_kinds(run, program, warning):
    code, _, err = run("diff", program)
    assert code == 0
    assert err.splitlines() == [f"warning: {warning}"]


@pytest.mark.parametrize(("program", "at"), [
    ("xy^2", "xy=3"), ("xy = 3\nxy^2", None), ("theta*x", "theta=1,x=2"), ("w1*x", "w1=1,x=2"),
])
def test_a_name_given_a_value_is_not_warned_about(run, program, at):
    doc, err = grad_json(run, program, *([at] if at else []))
    assert err == ""
    code, _, err = run("diff", program, *(["--at", at] if at else []))
    assert code == 0
    assert "warning" not in err


@pytest.mark.parametrize(("program", "value"), [("π x", math.pi), ("pi x", math.pi), ("2π x", 2 * math.pi),
                                                ("e x", math.e), ("x e^x", math.e)])
def test_constants_stay_constants_side_by_side(run, program, value):
    doc, err = grad_json(run, program, "x=1")
    assert err == ""
    assert doc["targets"]["f"] == pytest.approx(value, rel=1e-15)
    assert list(doc["inputs"]) == ["x"]


GRAMMAR_WORDS = re.compile(r"\b(FNAME|ROOT|NAME|FUNC|LPAR|RPAR|_SEP|\$END|fname|root|degree)\b|"
                           r"end of the statement|end of the program")


@pytest.mark.parametrize("program", [
    "2 3", "x +", "(x", "[1, 2", "f(x, ", "x = ", "= x", "x < y < z", "x)", "A[1 2]", "sin -x",
    "expect x == 1 2", "x^", "x @ @ y", "x ^ * 2", "(1, 2)", "x\n+\n", "'x'", "x°°2",
])
def test_parse_errors_are_in_plain_words(run, program):
    code, _, err = run("grad", program, "--at", "x=1")
    assert code == 2
    first = err.splitlines()[0]
    assert re.match(r"error at line \d+, column \d+: ", first), first
    assert not GRAMMAR_WORDS.search(first), first
    assert "Traceback" not in err


@pytest.mark.parametrize(("program", "with_commas"), [
    ("f = sum([x\n y])", 3), ("f = sum([x\n 2*y])", 5), ("f = max(x\n y)", 2)])
def test_values_on_two_lines_inside_brackets_need_a_comma(run, program, with_commas):
    code, _, err = run("grad", program, "--at", "x=1,y=2")
    assert code == 2
    assert err.splitlines()[0] == ("error at line 2, column 2: a new line between two values inside "
                                   "brackets: write ',' between them, or '*' to multiply")
    doc, _ = grad_json(run, program.replace("\n", ",\n"), "x=1,y=2")
    assert doc["targets"]["f"] == with_commas


@pytest.mark.parametrize(("program", "hint"), [("∛x", "write cbrt(x)"), ("x ÷ 2", "write / to divide"),
                                               ("50% x", "write /100 for a percentage")])
def test_characters_adiff_does_not_read_say_what_to_write(run, program, hint):
    code, _, err = run("grad", program, "--at", "x=1")
    assert code == 2
    char = next(c for c in program if c in "∛÷%")
    column = program.index(char) + 1
    assert err.splitlines()[0] == f"error at line 1, column {column}: unexpected character '{char}': {hint}"


@pytest.mark.parametrize(("pasted", "typed"), [("x ≤ 1", "x <= 1"), ("x ≥ 1", "x >= 1"), ("x ≠ 1", "x != 1")])
def test_comparisons_pasted_from_a_pdf(pasted, typed):
    a, b = parse(pasted), parse(typed)
    assert to_text(a.graph, a.target) == to_text(b.graph, b.target)


@pytest.mark.parametrize(("program", "column"), [("sum(A[0.5])", 6), ("y + A[x]", 6), ("A[1][x:2]", 5)])
def test_an_index_that_is_not_a_whole_number_points_at_its_bracket(run, program, column):
    code, _, err = run("grad", program, "--at", "x=1")  # read before any value is looked at
    assert code == 2
    assert err.splitlines()[0] == (f"error at line 1, column {column}: an index must be a whole number "
                                   "written in the program (A[0], A[:, 1])")


def test_a_ragged_array_literal_points_at_its_bracket(run):
    code, _, err = run("grad", "x = 1\nA = [[1, 2],\n     [3]]\nf = sum(A)")
    assert code == 2
    assert err.splitlines() == ["error at line 2, column 5: the rows of an array literal have different "
                                "shapes: (2,), (1,)", "  A = [[1, 2],", "      ^"]


def test_an_operand_after_an_operand_names_the_operators(run):
    code, _, err = run("grad", "2 3", "--at", "x=1")
    assert code == 2
    assert err.splitlines() == [
        "error at line 1, column 3: unexpected '3': expected an operator such as + - * / ^, or the end "
        "of the line", "  2 3", "    ^"]


def test_the_seed_broadcast_is_named_for_what_it_is(run):
    code, out, _ = run("grad", "grad(x, x)", "--at", "x=1")
    assert code == 0
    assert "fit" not in out
    assert "shaped_like(1, x)" in out
    doc, _ = grad_json(run, "grad(x, x)", "x=1")
    assert {n["op"] for n in doc["nodes"]} == {"input", "shaped_like"}


def nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def test_an_array_nested_deeper_than_numpy_allows_is_refused_at_its_bracket(run):
    code, out, err = run("grad", f"x*{nested(65)}", "--at", "x=1")
    assert (code, out) == (2, "")
    first = err.splitlines()[0]
    assert first == "error at line 1, column 67: brackets nested 65 deep: an array has at most 64 dimensions"
    code, out, err = run("grad", "sum(x)", "--at", f"x={nested(65)}")
    assert (code, out) == (2, "")
    assert "brackets nested 65 deep: an array has at most 64 dimensions" in err
    assert err.startswith("error: --at x=")


def test_an_array_nested_64_deep_works(run):
    doc, _ = grad_json(run, "sum(x)", f"x={nested(64)}")
    assert doc["targets"]["f"] == 1
    doc, _ = grad_json(run, f"sum(x*{nested(64)})", "x=2")
    assert doc["gradients"]["f"]["x"] == 1


def test_a_byte_order_mark_before_a_program_is_skipped(run):
    doc, err = grad_json(run, "\ufeffx^2", "x=3")
    assert err == ""
    assert doc["gradients"]["f"]["x"] == 6


def test_functions_without_parentheses_nest_deeply():
    # sin sin … sin x, 20,000 deep: read and differentiated without recursion (a reading that
    # built a message text per application was quadratic and took minutes here)
    n, x = 20_000, 0.5
    value, derivative = x, 1.0
    for _ in range(n):
        derivative *= math.cos(value)
        value = math.sin(value)
    result = grad("sin " * n + "x", x=x)
    assert float(result.targets["f"]) == pytest.approx(value, rel=1e-12)
    assert float(result.gradients["f"]["x"]) == pytest.approx(derivative, rel=1e-9)


@pytest.mark.parametrize(("program", "message", "column"), [
    ("x = 1\n  expect x < 2\n", "expect needs a comparison with ==", 3),
    ("x = 1\nexpect x == 1 within -1\n", "within takes a tolerance of 0 or more, got -1", 15),
])
def test_expect_errors_point_at_their_keyword(run, program, message, column):
    code, out, _ = run("run", "-", input=program)
    assert code == 2
    assert f"error at line 2, column {column}: {message}" in out


# (typed, written out, kind): kind "number" may only come first; after an "applied" factor only
# a "call" or another "applied" may follow (sin x y is refused), and a group never follows a
# name (x (y) is a call of x); both tested above.
FACTORS = [("2", "2", "number"), ("0.5", "0.5", "number"), ("x", "x", "name"), ("y", "y", "name"),
           ("π", "π", "name"), ("e", "e", "name"), ("x^2", "x^2", "name"), ("y²", "y^2", "name"),
           ("(x+1)", "(x+1)", "group"), ("sin(x)", "sin(x)", "call"), ("exp(y)^2", "exp(y)^2", "call"),
           ("cos y", "cos(y)", "applied"), ("√x", "sqrt(x)", "applied"), ("log x^2", "log(x^2)", "applied"),
           ("x°", "x*pi/180", "name")]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FACTORS), min_size=1, max_size=6))
def test_any_run_of_factors_side_by_side_is_their_product(factors):
    kept = [factors[0]]
    for factor in factors[1:]:  # keep only the sequences the rules allow
        if factor[2] == "number" or (kept[-1][2] == "applied" and factor[2] not in ("call", "applied")):
            continue
        if factor[2] == "group" and kept[-1][0][-1].isalpha():  # x (x+1) is a call of x
            continue
        kept.append(factor)
    typed = " ".join(t for t, _, _ in kept)
    written = "*".join(f"({w})" for _, w, _ in kept)
    a, b = parse(typed), parse(written)
    value_a = grad(a, at={n: 0.7 for n in a.inputs}).targets["f"]
    value_b = grad(b, at={n: 0.7 for n in b.inputs}).targets["f"]
    assert float(value_a) == pytest.approx(float(value_b), rel=1e-13), (typed, written)
