"""One test per finding of the fuzzing issue (never a wrong answer, never an internal error) and
per input item of the terminal issue, driven through the command line as a user drives it (or
the library where the finding was the library's). Each names its item."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from autodiff_cli import api
from autodiff_cli.errors import EXIT_CHECK, EXIT_USAGE
from autodiff_cli.inputs import decoded, parse_at


def _error(run, *args, code=EXIT_USAGE, input=None):
    got, out, err = run(*args, input=input)
    assert got == code, (got, out, err)
    assert err.startswith("error"), err
    assert "internal error" not in err
    return err


# --- 1, 2: an input keeps its value; rebinding it is refused, naming both places --------------------

@pytest.mark.parametrize("program, first, again", [
    ("y = x^2; x = x + 1; y", "line 1, column 5", "column 10"),  # item 1
    ("x = 3*x", "line 1, column 7", "column 1"),
    ("x = 2; y = x^2; x = 3; y", "line 1, column 1", "column 17"),  # item 2: no retroactive default
    ("x = 2\ny = x^2\nx = 3\ny", "line 1, column 1", "line 3, column 1"),
])
@pytest.mark.parametrize("command", ["grad", "compare", "diff", "jacobian"])
def test_an_input_cannot_be_given_another_value(run, command, program, first, again):
    err = _error(run, command, program, *([] if "x = 2" in program else ["--at", "x=2"]))
    assert "'x' is an input of the program" in err and first in err and again in err.splitlines()[0]


def test_a_named_step_may_be_rebound_and_is_read_top_to_bottom(run):
    code, out, _ = run("grad", "v = x^2; v = v + 1; v", "--at", "x=2", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["targets"]["f"] == 5 and doc["gradients"]["f"]["x"] == 4  # 2x at 2


# --- 3: a finite result computed through an overflow is not an answer -------------------------------

def test_grad_through_an_overflow_exits_1_naming_the_node(run):
    code, out, err = run("grad", "1/exp(1000*x)", "--at", "x=1")
    assert code == EXIT_CHECK
    assert "exp(1000·x) is inf" in err and "not an answer" in err


def test_diff_at_a_point_through_an_overflow_exits_1_naming_the_node(run):
    # f'' = 160000·e^(400x)/(e^(800x) + 1) - ...: e^(800x) overflows at x = 1
    code, out, err = run("diff", "atan(exp(400*x))", "--order", "2", "--at", "x=1")
    assert code == EXIT_CHECK
    assert "is inf" in err and "exp(" in err


def test_run_through_an_overflow_fails(run, tmp_path):
    path = tmp_path / "overflow.adiff"
    path.write_text("x = 1\nf = 1/exp(1000*x)\nexpect f == 0\n")
    code, out, _ = run("run", str(path))
    assert code == EXIT_CHECK and "exp(1000·x) is inf" in out and "not an answer" in out


def test_a_nan_in_a_branch_not_taken_is_not_on_the_way(run):
    code, out, err = run("grad", "where(x > 5, 1/exp(1000*x), x^2)", "--at", "x=1", "--json")
    assert code == 0 and json.loads(out)["gradients"]["f"]["x"] == 2


# --- 6, 7, 8, 9: internal errors that became answers or usage errors ----------------------------------

def test_a_second_name_for_a_node(run):  # item 6
    code, out, _ = run("compare", "s = sin(z); q = s", "--at", "z=1", "--wrt", "q", "--json")
    assert code == 0 and json.loads(out)["results"][0]["symbolic"]["value"] == 1
    code, out, _ = run("diff", "s = sin(z); q = s", "--at", "z=1", "--wrt", "q", "--json")
    assert code == 0 and json.loads(out)["value"] == 1


def test_forward_mode_through_a_sum_down_to_a_scalar(run):  # item 7: grad(x*y, y) = sum(x)
    code, out, _ = run("compare", "grad(x*y, y)", "--at", "x=[1,2]", "--at", "y=1", "--json")
    assert code == 0
    results = {r["wrt"]: r for r in json.loads(out)["results"]}
    assert results["x"]["forward"] == results["x"]["reverse"] == [1.0, 1.0]
    assert results["y"]["forward"] == 0


@pytest.mark.parametrize("args", [["--wrt", "x,x"], ["--wrt", "x", "--wrt", "x"], ["--of", "f,f"]])
def test_a_name_given_twice(run, args):  # item 8
    assert "twice" in _error(run, "grad", "x", "--at", "x=1", *args)


@pytest.mark.parametrize("option, value", [("--rtol", "inf"), ("--atol", "nan"), ("--eps", "inf"),
                                           ("--eps", "nan"), ("--rtol", "nan")])
def test_tolerances_that_are_not_finite_numbers(run, option, value):  # item 9
    err = _error(run, "compare", "x", "--at", "x=1", "--json", option, value)
    assert option in err


def test_run_tolerance_that_is_not_finite(run, tmp_path):
    (tmp_path / "a.adiff").write_text("x = 1\nx^2\n")
    assert "--rtol" in _error(run, "run", str(tmp_path / "a.adiff"), "--rtol", "inf")


# --- 11, 12: integer parameters, memory estimated before the work -------------------------------------

@pytest.mark.parametrize("program, at, parameter", [
    ("reshape(x, 0.5)", "x=1", "shape"), ("sum(x, axis=0.5)", "x=[1,2]", "axis"),
])
def test_a_fractional_integer_parameter_is_named(run, program, at, parameter):
    err = _error(run, "grad", program, "--at", at)
    assert f"{parameter} must be a whole number" in err and "line 1" in err


def test_a_jacobian_too_large_for_memory_is_refused_at_once(run):  # item 12
    err = _error(run, "jacobian", "A*2", "--at", "A=ones(100000)")
    assert "100,000 × 100,000" in err and "74.5 GB" in err and "ADIFF_MEMORY" in err


def test_the_memory_budget_is_the_environment_variable(run, monkeypatch):
    monkeypatch.setenv("ADIFF_MEMORY", "1M")
    err = _error(run, "grad", "sum(x*2)", "--at", "x=ones(100000)")
    assert "1.0 MB" in err and "ADIFF_MEMORY" in err and "(set)" in err
    monkeypatch.setenv("ADIFF_MEMORY", "lots")
    assert "ADIFF_MEMORY=lots" in _error(run, "grad", "x", "--at", "x=1")


def test_limits_are_checked_before_the_passes(run, monkeypatch):  # item 18: compare's element limit
    monkeypatch.setenv("ADIFF_MEMORY", "64G")
    err = _error(run, "compare", "sum(w*2)", "--at", "w=linspace(0, 1, 3000)")
    assert "3,000 elements" in err and "2,000" in err


# --- 13, 16: text that is not UTF-8, and a byte-order mark --------------------------------------------

def test_bytes_that_are_not_utf8_are_named_with_their_place(run, tmp_path):  # item 13
    csv = tmp_path / "points.csv"
    csv.write_bytes(b"x\n1\n2\xff3\n")
    err = _error(run, "grad", "x^2", "--points", str(csv))
    assert "byte 0xff at line 3, column 2" in err
    with pytest.raises(Exception, match="byte 0xfe at line 1, column 1"):
        decoded(b"\xfex", "standard input")


def test_run_from_standard_input_that_is_not_utf8(shell):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "autodiff_cli", "grad", "-", "--at", "x=1"],
                          input=b"x^2\n\x80", capture_output=True, timeout=60)
    assert proc.returncode == EXIT_USAGE
    assert b"not UTF-8 text (byte 0x80 at line 2, column 1)" in proc.stderr


def test_a_byte_order_mark_is_skipped(run, tmp_path):  # item 16
    program = tmp_path / "bom.adiff"
    program.write_bytes(b"\xef\xbb\xbfx^2\n")
    code, out, _ = run("grad", "-f", str(program), "--at", "x=3", "--json")
    assert code == 0 and json.loads(out)["gradients"]["f"]["x"] == 6
    points = tmp_path / "bom.csv"
    points.write_bytes(b"\xef\xbb\xbfx,y\n1,2\n")
    code, out, _ = run("grad", "x*y", "--points", str(points), "--json")
    assert code == 0 and json.loads(out)["partials"]["x"] == [2.0]


# --- 14, 15: errors that say where; exit 1 always says why --------------------------------------------

def test_an_unavailable_second_derivative_names_its_line(run):  # item 14 (the hessian part)
    err = _error(run, "grad", "h = hessian(x^4, x)\nf = h*y", "--at", "x=1", "--at", "y=2", "--wrt", "x")
    assert err.startswith("error at line 1")
    code, out, _ = run("grad", "h = hessian(x^4, x)\nf = h*y", "--at", "x=1", "--at", "y=2", "--wrt", "y",
                       "--json")  # not on the way from y: hessian's own derivative is not needed
    assert code == 0 and json.loads(out)["gradients"]["f"]["y"] == 12


@pytest.mark.parametrize("args, said", [
    (["jacobian", "1/y", "--at", "y=0"], "1/y is inf"),
    (["diff", "sqrt(x)", "--at", "x=0"], "is inf"),
])
def test_a_non_finite_answer_says_where(run, args, said):  # item 15
    code, _, err = run(*args)
    assert code == EXIT_CHECK and said in err


# --- 17: nan in an array, float gradients --------------------------------------------------------------

def test_nan_and_inf_inside_an_array_value(run):
    code, out, _ = run("grad", "x", "--at", "x=[nan, -inf, 1]", "--json")
    assert json.loads(out)["targets"]["f"] == ["nan", "-inf", 1.0]


def test_gradients_of_linear_programs_are_floats():
    gradients = api.grad("2*x + y", x=1, y=2).gradients["f"]
    assert all(np.asarray(g).dtype == np.float64 for g in gradients.values())


# --- issue 13: --at as a person means it -----------------------------------------------------------------

def test_a_bare_value_is_the_one_input(run):
    code, out, _ = run("grad", "x^2", "--at", "3", "--json")
    assert code == 0 and json.loads(out)["gradients"]["f"]["x"] == 6
    assert "--at x=3" in _error(run, "grad", "x*y", "--at", "3")


@pytest.mark.parametrize("items", [["x=1", "x=2"], ["x=1,x=2"], ["3", "x=1"]])
def test_a_value_given_twice(run, items):
    args = [a for item in items for a in ("--at", item)]
    _error(run, "grad", "x^2", *args)


def test_parse_at_refuses_a_name_twice():
    with pytest.raises(Exception, match="twice"):
        parse_at(["x=1,x=2"])


@pytest.mark.parametrize("program, point, left, right", [
    ("abs(x)", "x=0", "-1", "1"), ("relu(x)", "x=0", "0", "1"), ("max(x, 1)", "x=1", "0", "1"),
])
def test_compare_at_a_kink_says_so_and_exits_1(run, program, point, left, right):
    code, out, err = run("compare", program, "--at", point)
    assert code == EXIT_CHECK
    assert "NO DERIVATIVE" in out and f"differ ({left} and {right})" in out
    code, out, _ = run("compare", program, "--at", point, "--at-kink", "ok")
    # accepted: the methods are then compared on the convention's value (|x|: 0 = the central difference)
    assert code == (0 if program == "abs(x)" else EXIT_CHECK)


def test_compare_off_a_kink_agrees(run):
    code, out, _ = run("compare", "abs(x)", "--at", "x=0.5")
    assert code == 0 and "NO DERIVATIVE" not in out


# --- issue 13: the where() trap --------------------------------------------------------------------------

WHERE = "where(x > 5, acos(x), x^2)"


def test_where_branch_not_taken_contributes_nothing_in_grad(run):
    code, out, err = run("grad", WHERE, "--at", "x=1.5", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["gradients"]["f"]["x"] == 3
    assert any("give nan" in w["message"] for w in doc["warnings"])


def test_where_branch_not_taken_in_compare(run):
    code, out, _ = run("compare", WHERE, "--at", "x=1.5", "--json")
    result = json.loads(out)["results"][0]
    assert result["reverse"] == result["forward"] == 3
    assert math.isclose(result["finite_difference"]["value"], 3, rel_tol=1e-6)


@pytest.mark.parametrize("program, point, expected", [
    ("relu(-1 - sqrt(x)) + x", "x=0", 1.0),  # relu below 0 stops sqrt's infinite slope at 0
    ("max(2, sqrt(x)) + x", "x=0", 1.0),  # max does not pick sqrt(x)
    ("sum(where(x > 0, sqrt(x), -x))", "x=[-1, 4]", [-1.0, 0.25]),  # element by element
    ("max(sqrt(x))", "x=[0, 4]", [0.0, 0.25]),  # the reduction does not pick sqrt(0)
])
def test_unselected_elements_stop_non_finite_partials(run, program, point, expected):
    code, out, _ = run("grad", program, "--at", point, "--json")
    assert code == 0 and json.loads(out)["gradients"]["f"]["x"] == expected


def test_jacobian_rows_not_asked_for_add_nothing(run):
    code, out, _ = run("jacobian", "sqrt(x)", "--at", "x=[0, 1]", "--json")
    assert json.loads(out)["jacobian"] == [["inf", 0.0], [0.0, 0.5]]


# --- 18: bounded work -------------------------------------------------------------------------------------

def test_graphviz_is_stopped_after_its_time_limit(monkeypatch, tmp_path):
    import subprocess

    from autodiff_cli import visual
    from autodiff_cli.errors import LimitError

    def slow(*args, **kwargs):
        raise subprocess.TimeoutExpired(args[0], kwargs["timeout"])

    monkeypatch.setattr(subprocess, "run", slow)
    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/dot")
    with pytest.raises(LimitError, match=f"within {visual.DOT_SECONDS} s"):
        visual.render_image("digraph { a -> b }", tmp_path / "g.svg", "svg")
    assert (tmp_path / "g.dot").read_text() == "digraph { a -> b }"


def test_compare_gives_up_the_formula_not_the_answer(monkeypatch):
    import time

    from autodiff_cli import checks

    build = checks._formulas

    def slow(*args):  # a formula that takes longer than the limit, whatever the machine
        time.sleep(2)
        return build(*args)

    monkeypatch.setattr(checks, "SYMBOLIC_SECONDS", 0.05)
    monkeypatch.setattr(checks, "_formulas", slow)
    deep = "^".join(["x"] * 300) + "^2"
    result = api.compare(deep, at={"x": "1"})
    assert result.agree and result.pairs[0].symbolic is None
    assert any("took more than" in w.message for w in result.warnings)


def test_a_non_finite_product_through_an_array_operation_is_explained(run):
    # found by benchmarks/fuzz.py: the reverse pass's warning read an array operation's
    # vector-Jacobian product as a number (TypeError, exit 70)
    code, _, err = run("grad", "max([x, -where(x < x, z, binary_crossentropy(x, y))])", "--at", "x=0,y=0,z=0")
    assert code == EXIT_CHECK
    assert "the vector-Jacobian product of max" in err


def test_a_derivative_through_grad_reads_back():
    # found by benchmarks/fuzz.py: diff of a program with grad(f, x) printed shaped_like(1, x),
    # which adiff could not read back ("unknown function")
    from autodiff_cli.parse import parse

    for program in ("grad(x^2, x)", "y = grad(x^3, x)*x"):
        (result,) = api.diff(program)
        text = result.statements()[-1][1]
        assert "shaped_like" in text
        # read back: the same numbers as the derivative computed by adiff (d/dx of 2x is 2; of 3x^3 is 9x^2)
        expected = {"grad(x^2, x)": 2.0, "y = grad(x^3, x)*x": 9 * 1.5**2}[program]
        assert api.grad(parse(text), at={"x": 1.5}).targets[parse(text).target_name] == expected


@pytest.mark.parametrize(("args", "message"), [
    # found by benchmarks/fuzz.py: a grad() call printed inside an error message (TypeError),
    # and a coefficient whose power overflows a float in the canonical form (OverflowError)
    (["grad", "w here(x > 0, grad(x, x), x)", "--at", "x=1,w=2"], "unknown function 'here'"),
    (["diff", "x / 1e-320"], "∂f/∂x = inf"),
])
def test_fuzz_findings_are_answers_not_internal_errors(run, args, message):
    code, out, err = run(*args)
    assert code != 70 and message in out + err


def test_diff_of_where_selects_the_branch_derivative(run):
    # issue 13's trap in diff: the branch not taken (acos beyond its domain) contributes nothing
    code, out, _ = run("diff", "where(x > 5, acos(x), x^2)", "--at", "x=1.5")
    assert code == 0 and "= 3 at x = 1.5" in out  # d/dx x^2 = 2x = 3 where x ≤ 5
    code, out, _ = run("diff", "where(x > 5, acos(x), x^2)", "--at", "x=0.5")
    assert "= 1 at x = 0.5" in out
    code, out, _ = run("diff", "relu(sin(x))", "--at", "x=1")
    assert "where(sin(x) > 0, cos(x), 0)" in out


def test_compare_says_a_nan_in_a_branch_not_taken_as_a_note(run):
    code, _, err = run("compare", "where(x > 5, acos(x), x^2)", "--at", "x=1.5")
    assert code == 0
    assert "note: forward pass: acos(x) is nan" in err and "warning:" not in err
    code, _, err = run("compare", "1/exp(1000*x)", "--at", "x=1")  # through an overflow: warned, exit 1
    assert code == 1 and "warning: forward pass: exp(1000·x) is inf" in err
