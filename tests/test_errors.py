"""Every kind of bad input: a clear message, the place, a documented exit code, no traceback."""

import json

import pytest

from autodiff_cli.errors import ParseError
from autodiff_cli.parse import MAX_PROGRAM_CHARS


def test_syntax_error_shows_line_caret_and_expected(run):
    code, out, err = run("grad", "a = 2\nb = a*x\nc = b + \nd = c", "--at", "x=1")
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        "error at line 3, column 9: unexpected end of the line: expected an expression "
        "(a number, a name, a function call or '(')",
        "  c = b + ",
        "          ^",
    ]


def test_unclosed_bracket_is_named_where_it_opens(run):
    code, out, err = run("grad", "a = 2\nb = a*x\nc = (b + \n", "--at", "x=1")
    assert code == 2
    assert err.splitlines() == [
        "error at line 3, column 5: this '(' is never closed: expected an expression "
        "(a number, a name, a function call or '(')",
        "  c = (b + ",
        "      ^",
    ]


def test_new_lines_inside_brackets_continue_the_statement(run):
    code, out, err = run("grad", "A = [[1, 2],\n     [3, 4]]\nf = sum(A *\n  A)", "--json")
    assert code == 0, err
    assert err == ""
    doc = json.loads(out)
    # two statements, not four: A is the 2×2 literal and f = sum(A·A)
    assert doc["inputs"] == {"A": [[1.0, 2.0], [3.0, 4.0]]}
    assert doc["targets"] == {"f": 30.0}
    assert doc["gradients"] == {"f": {"A": [[2.0, 4.0], [6.0, 8.0]]}}
    assert [n["expr"] for n in doc["nodes"]] == ["A", "A·A", "sum(A·A)"]
    assert doc["warnings"] == []
    # the same program with each statement on one line gives the same document
    code, one_line, _ = run("grad", "A = [[1, 2], [3, 4]]\nf = sum(A * A)", "--json")
    assert code == 0
    assert json.loads(one_line) == doc


def test_program_ending_early(run):
    code, _, err = run("grad", "sin(x", "--at", "x=1")
    assert code == 2
    assert err.startswith("error at line 1, column 4: this '(' is never closed: expected")
    assert "')'" in err.splitlines()[0]
    code, _, err = run("grad", "x +", "--at", "x=1")
    assert err.startswith("error at line 1, column 4: the program ended early: expected an expression")


def test_unexpected_character(run):
    code, _, err = run("grad", "x $ 2", "--at", "x=1")
    assert code == 2
    assert err.splitlines() == ["error at line 1, column 3: unexpected character '$'", "  x $ 2", "    ^"]


def test_a_number_after_a_name(run):  # x y is x·y (tests/test_reading.py); x 2 is not a program
    code, _, err = run("grad", "x 2", "--at", "x=1")
    assert code == 2
    assert "unexpected '2'" in err and "column 3" in err


def test_unknown_function_suggests_nearest(run):
    code, _, err = run("grad", "sine(x)", "--at", "x=1")
    assert code == 2
    assert "unknown function 'sine': did you mean sin?" in err
    code, _, err = run("grad", "sigmod(x)", "--at", "x=1")
    assert "did you mean sigmoid?" in err


def test_wrong_number_of_arguments(run):
    code, _, err = run("grad", "atan2(x)", "--at", "x=1")
    assert code == 2
    assert "atan2() takes two arguments, but 1 were given" in err
    code, _, err = run("grad", "1 + sin(x, x)", "--at", "x=1")
    assert "sin() takes one argument, but 2 were given" in err
    assert "column 5" in err


def test_function_name_used_as_value(run):
    code, _, err = run("grad", "sin + x", "--at", "x=1")
    assert code == 2
    assert "'sin' is a function" in err


def test_input_without_value_names_it_and_the_fix(run):
    code, _, err = run("grad", "x*y", "--at", "x=1")
    assert code == 2
    assert "the input 'y' has no value: give it one with --at y=VALUE" in err
    assert "column 3" in err


@pytest.mark.parametrize("option", ["--wrt", "--of"])
def test_unknown_wrt_or_of_lists_names(run, option):
    code, _, err = run("grad", "v = x^2; f = sin(v)", "--at", "x=1", option, "z")
    assert code == 2
    assert f"{option} z: the program has no node named 'z' (it has: x, v, f)" in err


def test_unknown_at_name(run):
    code, _, err = run("grad", "x^2", "--at", "z=1")
    assert code == 2
    assert "no input 'z' (its inputs: x)" in err


@pytest.mark.parametrize("value", ["foo", "(2", "x"])
def test_bad_at_value(run, value):
    code, _, err = run("grad", "x^2", "--at", f"x={value}")
    assert code == 2
    assert err.startswith(f"error: --at x={value}")


def test_at_without_equals(run):
    code, _, err = run("grad", "x^2", "--at", "x")
    assert code == 2
    assert "--at expects NAME=VALUE" in err


@pytest.mark.parametrize("program", ["", "   ", "# a comment only\n", ";;\n;"])
def test_empty_program(run, program):
    code, _, err = run("grad", program)
    assert code == 2
    assert "the program is empty" in err


def test_no_program(run):
    code, _, err = run("grad", "--at", "x=1")
    assert code == 2
    assert "no program given" in err


def test_missing_file(run):
    code, _, err = run("grad", "-f", "no/such/file.adiff")
    assert code == 2
    assert "cannot read no/such/file.adiff: no such file" in err


def test_oversized_program_is_refused_before_reading(run, monkeypatch):
    from autodiff_cli import grammar

    big = "x+" * (MAX_PROGRAM_CHARS // 2 + 1) + "x"
    code, _, err = run("grad", "-", input=big)
    assert code == 2
    assert f"is {len(big):,} characters long; the limit is 2,000,000" in err
    assert f"set ADIFF_MAX_CHARS={len(big)}" in err
    monkeypatch.setattr(grammar, "_parser", lambda: pytest.fail("the parser was built for a refused program"))
    with pytest.raises(ParseError):
        grammar.read(big)
    monkeypatch.setenv("ADIFF_MAX_CHARS", str(len(big)))
    assert grammar.max_program_chars() == len(big)


def test_log_of_negative_warns_names_node_and_statement(run):
    code, out, err = run("grad", "a = x + 1\nb = log(a)\nc = 2*b", "--at", "x=-3", "--json")
    assert code == 1  # the requested value is not finite
    doc = json.loads(out)
    assert doc["targets"]["c"] == "nan"
    first = doc["warnings"][0]
    assert first["kind"] == "non-finite"
    assert first["node"] == "b" and first["line"] == 2
    assert first["message"] == "forward pass: b = log(a) is nan (line 2: b = log(a))"


def test_reverse_pass_zero_times_inf_is_explained(run):
    code, _, err = run("grad", "f = 0*sqrt(x)", "--at", "x=0")
    assert code == 1
    assert ("reverse pass: the adjoint of x became non-finite on the edge out of sqrt(x) "
            "(line 1: f = 0*sqrt(x)): adjoint 0 × local partial ∂(sqrt(x))/∂(x) = inf") in err


def test_division_by_zero(run):
    code, out, err = run("grad", "1/x", "--at", "x=0", "--json")
    doc = json.loads(out)
    assert code == 1
    assert doc["targets"]["f"] == "inf"
    assert doc["gradients"]["f"]["x"] == "-inf"


@pytest.mark.parametrize(("convention", "expected"), [("tensorflow", 0), ("pytorch", 0), ("jax", 1)])
def test_abs_at_zero_conventions(run, convention, expected):
    code, out, _ = run("grad", "abs(x)", "--at", "x=0", "--convention", convention, "--json")
    doc = json.loads(out)
    assert code == 0
    assert doc["gradients"]["f"]["x"] == expected
    (w,) = doc["warnings"]
    assert w["kind"] == "undefined-derivative"
    assert "abs is not differentiable where its argument is 0" in w["message"]
    assert f"used {expected} ({convention} convention" in w["message"]


@pytest.mark.parametrize(("convention", "da", "db"),
                         [("tensorflow", 1, 0), ("pytorch", 0.5, 0.5), ("jax", 0.5, 0.5)])
def test_max_tie_conventions(run, convention, da, db):
    code, out, _ = run("grad", "max(a, b)", "--at", "a=2,b=2", "--convention", convention, "--json")
    grads = json.loads(out)["gradients"]["f"]
    assert (grads["a"], grads["b"]) == (da, db)


def test_relu_at_zero_and_floor_notes(run):
    code, out, _ = run("grad", "relu(x) + floor(x)", "--at", "x=0", "--json")
    doc = json.loads(out)
    assert doc["gradients"]["f"]["x"] == 0
    kinds = [w["kind"] for w in doc["warnings"]]
    assert kinds.count("undefined-derivative") == 2
    assert "note" in kinds


def test_bad_convention_is_a_usage_error(run):
    code, _, err = run("grad", "x", "--at", "x=1", "--convention", "numpy")
    assert code == 2


@pytest.mark.parametrize("junk", ["((((", "))", "x = = 1", "2 +* 3", "f(", "[1,", "\x01", "x^^2",
                                  "1e", "é(x)", "x;;;=", "@", "'", "∂x", "sin(x))"])
def test_junk_never_gives_a_traceback(shell, junk):
    code, out, err = shell("grad", "--at", "x=1", "--", junk)
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith("error")


def test_debug_shows_traceback(shell):
    code, _, err = shell("grad", "sine(x)", "--at", "x=1", "--debug")
    assert code != 0
    assert "Traceback" in err
