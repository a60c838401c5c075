"""`adiff compare` and `adiff diff`: the three methods side by side, the verdict, the JSON, and
the symbolic derivatives themselves (non-smooth functions, the simplifier, size).

The expected values are hand-derived (the lecture's f(x) = exp(sin(x^2)) at x = 2 and the
formulas below), or independent numerical oracles (math, central differences by hand); never
adiff's own rules.
"""

from __future__ import annotations

import json
import math

import pytest
from reference import CHAIN_DF_DX, CHAIN_LECTURE_FD_4_DIGITS, CHAIN_LECTURE_FD_STEP, CHAIN_PROGRAM

from autodiff_cli.api import compare, diff
from autodiff_cli.builder import Builder
from autodiff_cli.ops import Sym
from autodiff_cli.parse import parse
from autodiff_cli.symbolic import Formula

REF_PROGRAM = CHAIN_PROGRAM  # REFERENCE.md section 1
REF_VALUE = CHAIN_DF_DX  # f'(2) = 2·2·cos(4)·exp(sin(4))
REF_FACTORED = "2·x·cos(v)·exp(u)"
REF_EXPANDED = "2·x·cos(x^2)·exp(sin(x^2))"


def joined(statements: list[tuple[str, str]]) -> str:
    return "; ".join(f"{name} = {text}" if name else text for name, text in statements)


def ref_f(x: float) -> float:
    return math.exp(math.sin(x * x))


def ref_df(x: float) -> float:
    return 2 * x * math.cos(x * x) * math.exp(math.sin(x * x))


def evaluate_text(text: str, point: dict[str, float]) -> float:
    """Value of program text at a point (parse, forward pass): reads a printed derivative back."""
    from autodiff_cli.api import grad

    prog = parse(text)
    result = grad(prog, at={k: v for k, v in point.items() if k in prog.inputs})
    return float(next(iter(result.targets.values())))


# =====================================================================================================
# The reference case: f(x) = exp(sin(x^2)) at x = 2
# =====================================================================================================

def test_reference_value_is_the_hand_derived_one() -> None:
    assert ref_df(2.0) == pytest.approx(REF_VALUE, rel=1e-15)


def test_reference_compare_library() -> None:
    result = compare(REF_PROGRAM, at={"x": 2})
    assert result.exit_code == 0 and result.agree
    (pair,) = result.pairs
    assert (pair.of, pair.wrt) == ("f", "x")
    assert joined(pair.factored) == REF_FACTORED
    assert joined(pair.expanded) == REF_EXPANDED
    for value in (pair.symbolic, pair.forward, pair.reverse):
        assert float(value) == pytest.approx(REF_VALUE, rel=1e-15)
    fd = pair.finite_difference
    assert abs(float(fd.value) - REF_VALUE) < 1e-8  # automatic step
    assert 1e-7 < fd.eps < 1e-4
    assert float(fd.abs_error) == pytest.approx(abs(float(fd.value) - float(pair.reverse)), rel=1e-12)


def test_reference_compare_library_with_the_lecture_step() -> None:
    result = compare(REF_PROGRAM, at={"x": 2}, eps=CHAIN_LECTURE_FD_STEP)
    (pair,) = result.pairs
    fd = float(pair.finite_difference.value)
    assert round(fd, 4) == CHAIN_LECTURE_FD_4_DIGITS  # the lecture's Octave figure
    # the same central difference by hand, with math
    h = CHAIN_LECTURE_FD_STEP
    by_hand = (ref_f(2 + h) - ref_f(2 - h)) / (2 * h)
    assert fd == pytest.approx(by_hand, rel=1e-9)
    assert pair.finite_difference.eps == 1e-3
    assert abs(fd - REF_VALUE) == pytest.approx(3.33e-6, rel=0.01)  # truncation: h²/6·f'''
    assert result.exit_code == 0


def test_reference_compare_cli_json(run) -> None:
    code, out, _ = run("compare", REF_PROGRAM, "--at", "x=2", "--json")
    assert code == 0
    doc = json.loads(out)
    (res,) = doc["results"]
    assert res["symbolic"]["factored"] == REF_FACTORED
    assert res["symbolic"]["expanded"] == REF_EXPANDED
    for value in (res["symbolic"]["value"], res["forward"], res["reverse"]):
        assert value == pytest.approx(REF_VALUE, rel=1e-15)
    assert abs(res["finite_difference"]["value"] - REF_VALUE) < 1e-8
    assert res["agree"] is True

    code, out, _ = run("compare", REF_PROGRAM, "--at", "x=2", "--eps", "1e-3", "--json")
    assert code == 0
    (res,) = json.loads(out)["results"]
    assert round(res["finite_difference"]["value"], 4) == CHAIN_LECTURE_FD_4_DIGITS
    assert res["finite_difference"]["eps"] == 1e-3


def test_reference_compare_cli_table(run) -> None:
    code, out, _ = run("compare", REF_PROGRAM, "--at", "x=2", "--eps", "1e-3", "--digits", "5")
    assert code == 0
    assert REF_EXPANDED in out and REF_FACTORED in out
    fd_line = next(line for line in out.splitlines() if "central difference" in line)
    assert str(CHAIN_LECTURE_FD_4_DIGITS) in fd_line
    assert "agree" in out and "DISAGREE" not in out


def test_reference_diff(run) -> None:
    (result,) = diff(REF_PROGRAM, at={"x": 2})
    assert joined(result.statements()) == REF_EXPANDED
    assert result.to_dict()["factored"] == REF_FACTORED
    assert float(result.value) == pytest.approx(REF_VALUE, rel=1e-15)
    code, out, _ = run("diff", "exp(sin(x^2))", "--at", "x=2", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["derivative"] == REF_EXPANDED
    assert doc["value"] == pytest.approx(REF_VALUE, rel=1e-15)


@pytest.mark.parametrize(("wrt", "expected"), [
    ("u", lambda x: math.exp(math.sin(x * x))),  # ∂f/∂u = exp(u)
    ("v", lambda x: math.cos(x * x) * math.exp(math.sin(x * x))),  # ∂f/∂v = cos(v)·exp(u)
])
def test_derivative_with_respect_to_a_named_step(wrt: str, expected) -> None:
    result = compare(REF_PROGRAM, at={"x": 2}, wrt=wrt)
    (pair,) = result.pairs
    assert result.exit_code == 0
    for value in (pair.symbolic, pair.forward, pair.reverse):
        assert float(value) == pytest.approx(expected(2.0), rel=1e-14)


# =====================================================================================================
# The JSON of `adiff compare --json`, and the step sweep
# =====================================================================================================

RESULT_KEYS = {"of", "wrt", "symbolic", "finite_difference", "forward", "reverse", "agree", "kink"}


def test_compare_json_schema(run) -> None:
    code, out, _ = run("compare", "sin(x)*y^2", "--at", "x=1", "--at", "y=2", "--json")
    assert code == 0
    doc = json.loads(out)
    assert {"results", "warnings"} <= set(doc)
    assert doc["warnings"] == []
    assert [(r["of"], r["wrt"]) for r in doc["results"]] == [("f", "x"), ("f", "y")]
    for res in doc["results"]:
        assert set(res) == RESULT_KEYS
        assert set(res["symbolic"]) == {"factored", "expanded", "value"}
        assert set(res["finite_difference"]) == {"value", "eps", "abs_error"}
        assert isinstance(res["symbolic"]["factored"], str)
        assert isinstance(res["symbolic"]["expanded"], str)
        for number in (res["symbolic"]["value"], res["finite_difference"]["value"],
                       res["finite_difference"]["eps"], res["finite_difference"]["abs_error"],
                       res["forward"], res["reverse"]):
            assert isinstance(number, float)
        assert res["agree"] is True
    dx, dy = doc["results"]
    assert dx["reverse"] == pytest.approx(math.cos(1) * 4, rel=1e-15)
    assert dy["reverse"] == pytest.approx(math.sin(1) * 4, rel=1e-15)


def test_compare_json_warnings_are_listed(run) -> None:
    code, out, _ = run("compare", "relu(x)", "--at", "x=0", "--json")
    doc = json.loads(out)
    assert code == 1
    assert doc["warnings"] and all("message" in w for w in doc["warnings"])


def test_sweep_shows_truncation_then_rounding(run) -> None:
    code, out, _ = run("compare", "exp(sin(x^2))", "--at", "x=2", "--eps", "1e-3", "--sweep", "--json")
    assert code == 0
    (res,) = json.loads(out)["results"]
    rows = res["sweep"]
    assert [row["eps"] for row in rows] == pytest.approx([10.0 ** -k for k in range(1, 15)], rel=1e-12)
    for row in rows:
        assert set(row) == {"eps", "value", "abs_error"}
        assert row["abs_error"] == pytest.approx(abs(row["value"] - REF_VALUE), rel=1e-6, abs=1e-15)
        h = row["eps"]
        assert row["value"] == pytest.approx((ref_f(2 + h) - ref_f(2 - h)) / ((2 + h) - (2 - h)),
                                             rel=1e-6 if h > 1e-9 else 1e-2)
    errors = [row["abs_error"] for row in rows]
    best = errors.index(min(errors))
    assert 2 <= best <= 10, errors  # an intermediate h: neither end of the sweep
    # large h: truncation, error ∝ h² (a factor of 100 per decade)
    assert errors[0] / errors[1] == pytest.approx(100, rel=0.1)
    assert errors[1] / errors[2] == pytest.approx(100, rel=0.1)
    # small h: rounding, error grows as h shrinks
    assert errors[-1] > 100 * errors[best]
    assert errors[-1] > errors[-4]


def test_sweep_library_and_table(run) -> None:
    (pair,) = compare("exp(sin(x^2))", at={"x": 2}, sweep=True).pairs
    assert len(pair.sweep) == 14
    assert compare("exp(sin(x^2))", at={"x": 2}).pairs[0].sweep == []
    code, out, _ = run("compare", "exp(sin(x^2))", "--at", "x=2", "--sweep")
    assert code == 0
    assert "1e-14" in out and "best" in out
    code, out, _ = run("compare", "exp(sin(x^2))", "--at", "x=2", "--json")
    assert "sweep" not in json.loads(out)["results"][0]


# =====================================================================================================
# The verdict and the exit code
# =====================================================================================================

def test_exit_zero_when_all_agree(run) -> None:
    code, out, _ = run("compare", "atan(x)*exp(y) + y/x", "--at", "x=0.7,y=-0.3")
    assert code == 0
    assert "DISAGREE" not in out


def test_relu_at_its_kink_disagrees() -> None:
    result = compare("relu(x)", at={"x": 0})
    (pair,) = result.pairs
    # central difference: (relu(h) - relu(-h))/2h = 1/2; AD uses 0 there
    assert float(pair.finite_difference.value) == pytest.approx(0.5, rel=1e-12)
    assert float(pair.reverse) == 0.0 and float(pair.forward) == 0.0
    assert not pair.agree and not result.agree
    assert result.exit_code == 1
    assert result.to_dict()["results"][0]["agree"] is False


def test_floor_at_an_integer_disagrees(run) -> None:
    result = compare("floor(x)", at={"x": 2})
    (pair,) = result.pairs
    h = pair.finite_difference.eps
    # (floor(2 + h) - floor(2 - h))/2h = 1/2h: a jump, not a slope
    assert float(pair.finite_difference.value) == pytest.approx(1 / (2 * h), rel=1e-9)
    assert float(pair.reverse) == 0.0 and float(pair.symbolic) == 0.0
    assert result.exit_code == 1
    code, out, _ = run("compare", "floor(x)", "--at", "x=2")
    assert code == 1
    assert "NO DERIVATIVE" in out  # the verdict says why: a point with no derivative


def test_relu_cli_exit_code(run) -> None:
    code, out, _ = run("compare", "relu(x)", "--at", "x=0")
    assert code == 1
    assert "NO DERIVATIVE" in out  # the verdict says why: a point with no derivative
    code, _, _ = run("compare", "relu(x)", "--at", "x=0.5")
    assert code == 0


def test_tolerances_change_the_verdict(run) -> None:
    # with h = 1e-3 the central difference is off by 3.3e-6 (relative 2.7e-6)
    code, _, _ = run("compare", REF_PROGRAM, "--at", "x=2", "--eps", "1e-3")
    assert code == 0
    code, out, _ = run("compare", REF_PROGRAM, "--at", "x=2", "--eps", "1e-3",
                       "--rtol", "1e-7", "--atol", "0")
    assert code == 1
    assert "DISAGREE" in out
    code, _, _ = run("compare", REF_PROGRAM, "--at", "x=2", "--eps", "1e-3", "--rtol", "0", "--atol", "1e-5")
    assert code == 0
    # relu at 0: 0.5 against 0 agrees once the absolute tolerance is above 0.5
    code, _, _ = run("compare", "relu(x)", "--at", "x=0", "--atol", "0.6", "--at-kink", "ok")
    assert code == 0
    result = compare("relu(x)", at={"x": 0}, atol=0.4, rtol=0, at_kink="ok")
    assert result.exit_code == 1
    assert compare(REF_PROGRAM, at={"x": 2}, eps=1e-3, rtol=1e-7, atol=0).exit_code == 1


# =====================================================================================================
# adiff diff: JSON, higher orders, mixed derivatives, LaTeX
# =====================================================================================================

DIFF_KEYS = {"of", "wrt", "derivative", "latex"}
DIFF_OPTIONAL = {"value", "factored", "warnings"}


def test_diff_json_schema(run) -> None:
    code, out, _ = run("diff", "exp(sin(x^2))", "--json")
    assert code == 0
    doc = json.loads(out)
    assert DIFF_KEYS <= set(doc) <= DIFF_KEYS | DIFF_OPTIONAL
    assert "value" not in doc  # only with --at
    assert (doc["of"], doc["wrt"]) == ("f", "x")
    assert doc["derivative"] == REF_EXPANDED

    code, out, _ = run("diff", "exp(sin(x^2))", "--at", "x=2", "--json")
    doc = json.loads(out)
    assert DIFF_KEYS | {"value"} <= set(doc) <= DIFF_KEYS | DIFF_OPTIONAL
    assert isinstance(doc["value"], float)

    # one document per input, under "results"
    code, out, _ = run("diff", "sin(x)*y^2", "--json")
    assert code == 0
    docs = json.loads(out)["results"]
    assert [d["wrt"] for d in docs] == ["x", "y"]
    assert [d["derivative"] for d in docs] in (["cos(x)·y^2", "2·y·sin(x)"],  # the factors' order is
                                               ["y^2·cos(x)", "2·y·sin(x)"])  # the printer's choice


def f2_ref(x: float) -> float:
    """d²/dx² exp(sin(x²)) = e^s (2cos(x²) - 4x² sin(x²) + 4x² cos²(x²)), s = sin(x²), by hand."""
    s, c = math.sin(x * x), math.cos(x * x)
    return math.exp(s) * (2 * c - 4 * x * x * s + 4 * x * x * c * c)


def test_diff_order_two(run) -> None:
    code, out, _ = run("diff", "exp(sin(x^2))", "--order", "2", "--at", "x=2", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["wrt"] == ["x", "x"]
    assert doc["value"] == pytest.approx(f2_ref(2.0), rel=1e-13)
    assert "factored" not in doc  # first order only
    for x in (-1.1, 0.3, 1.7):
        assert evaluate_text(doc["derivative"], {"x": x}) == pytest.approx(f2_ref(x), rel=1e-12)
    code, out, _ = run("diff", "exp(sin(x^2))", "--order", "2")
    assert out.startswith("∂²f/∂x² = ")


def test_diff_order_three_of_a_polynomial() -> None:
    (result,) = diff("x^4 - 3*x^2 + x", order=3, at={"x": 1.5})
    assert float(result.value) == pytest.approx(24 * 1.5, rel=1e-14)  # d³/dx³ = 24x
    assert result.name == "∂³f/∂x³"


@pytest.mark.parametrize(("program", "expected"), [
    # hand-derived ∂²f/∂x∂y
    ("sin(x)*y^2", lambda x, y: 2 * y * math.cos(x)),
    ("exp(x*y)", lambda x, y: (1 + x * y) * math.exp(x * y)),
    ("x^2*y^3 + sin(x)", lambda x, y: 6 * x * y * y),
    ("atan2(x, y)", lambda x, y: (x * x - y * y) / (x * x + y * y) ** 2),
])
def test_diff_mixed(run, program: str, expected) -> None:
    x, y = 0.8, 1.3
    code, out, _ = run("diff", program, "--mixed", "x,y", "--at", f"x={x},y={y}", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["wrt"] == ["x", "y"]
    assert doc["value"] == pytest.approx(expected(x, y), rel=1e-13)
    for px, py in ((0.5, 0.9), (-1.2, 2.0)):
        assert evaluate_text(doc["derivative"], {"x": px, "y": py}) == pytest.approx(expected(px, py),
                                                                                    rel=1e-12)
    # the other order gives the same function (Schwarz)
    (other,) = diff(program, mixed=["y", "x"], at={"x": x, "y": y})
    assert float(other.value) == pytest.approx(expected(x, y), rel=1e-13)


def test_diff_mixed_text(run) -> None:
    code, out, err = run("diff", "sin(x)*y^2", "--mixed", "x,y")
    assert code == 0
    assert out.strip() == "∂²f/∂x∂y = 2·y·cos(x)"
    assert "--mixed x,y: the mixed derivative" in err


def test_diff_wrt_several_gives_each_partial(run) -> None:
    # --wrt x,y means the gradient in diff as in grad (issue 13); --wrt x --wrt y likewise
    for args in (["--wrt", "x,y"], ["--wrt", "x", "--wrt", "y"]):
        code, out, err = run("diff", "sin(x)*y^2", *args)
        assert code == 0
        assert out.splitlines() == ["∂f/∂x = y^2·cos(x)", "∂f/∂y = 2·y·sin(x)"]
        assert "--wrt x,y: each partial" in err


def test_diff_latex(run) -> None:
    code, out, _ = run("diff", "exp(sin(x^2))", "--latex")
    assert code == 0
    assert r"\cos\left(x^{2}\right)" in out
    assert r"\frac{\partial f}{\partial x}" in out
    code, out, _ = run("diff", "exp(sin(x^2))", "--json")
    assert r"\cos\left(x^{2}\right)" in json.loads(out)["latex"]


# =====================================================================================================
# Non-smooth functions: honest derivatives
# =====================================================================================================

def diff_text(program: str, **kw) -> str:
    (result,) = diff(program, **kw)
    return joined(result.statements())


def diff_value(program: str, x: float, **kw) -> float:
    (result,) = diff(program, at={"x": x}, **kw)
    return float(result.value)


def test_abs_is_sign() -> None:
    assert diff_text("abs(x)") == "sign(x)"
    assert diff_value("abs(x)", -2.5) == -1.0
    assert diff_value("abs(x)", 0.1) == 1.0


def test_relu_is_a_step() -> None:
    text = diff_text("relu(x)")
    assert text.startswith("where(") and "x > 0" in text
    assert diff_value("relu(x)", 0.5) == 1.0
    assert diff_value("relu(x)", -0.5) == 0.0


def test_where_differentiates_each_branch() -> None:
    text = diff_text("where(x > 0, x^2, -x)")
    assert "where(" in text and "x > 0" in text
    for x in (0.3, 1.5, 2.75):
        assert diff_value("where(x > 0, x^2, -x)", x) == pytest.approx(2 * x, rel=1e-15)
    for x in (-0.3, -1.5):
        assert diff_value("where(x > 0, x^2, -x)", x) == -1.0


def test_floor_is_zero_with_a_note(run) -> None:
    (result,) = diff("floor(x)")
    assert joined(result.statements()) == "0"
    assert result.notes and "floor" in result.notes[0]
    code, out, err = run("diff", "floor(x)")
    assert code == 0
    assert out.strip() == "∂f/∂x = 0"
    assert "floor" in err and "step function" in err
    # no note for a smooth function
    code, _, err = run("diff", "sin(x)")
    assert err == ""


def test_max_and_min_are_steps() -> None:
    (dx, dy) = diff("max(x, y)", at={"x": 0.2, "y": 1.0})
    assert (float(dx.value), float(dy.value)) == (0.0, 1.0)
    (dx, dy) = diff("min(x, y)", at={"x": 0.2, "y": 1.0})
    assert (float(dx.value), float(dy.value)) == (1.0, 0.0)


def test_diff_of_an_array_operation_is_not_an_internal_error(run) -> None:
    # diff's job is the printed formula, which an array operation does not have (matrix calculus
    # is not implemented, as the README says): a user error, exit 2, pointing to grad and compare.
    code, out, err = run("diff", "sum(x)", "--at", "x=2")
    assert "internal error" not in err, err
    assert code == 2
    assert out == ""
    assert err.splitlines()[0] == (
        "error at line 1: no symbolic derivative through sum (in f): it is an array operation (matrix "
        "calculus is not implemented); adiff grad and adiff compare give its value")


# =====================================================================================================
# The simplifier
# =====================================================================================================

@pytest.fixture
def sym():
    """A simplifying builder and the inputs x, y; `text(s)` prints a handle."""
    b = Builder(simplify=True)
    x, y = b.leaf("input", "x"), b.leaf("input", "y")

    def text(s: Sym) -> str:
        return Formula(b, s.id, {}).text()

    return b, x, y, text


def test_simplifier_identities(sym) -> None:
    b, x, y, text = sym
    assert text(b.const(2) + 3) == "5"
    assert text(b.const(2) * 3 - 1) == "5"
    assert text(b.const(2) ** 3) == "8"
    assert text(x * 1) == "x" and text(1 * x) == "x"
    assert text(x + 0) == "x" and text(0 + x) == "x"
    assert text(x - 0) == "x"
    assert text(x * 0) == "0" and text(0 * x) == "0"
    assert text(x ** 1) == "x"
    assert text(x ** 0) == "1"
    assert text(1 ** x) == "1"
    minus_x = -x
    assert text(-minus_x) == "x"
    assert text(x / 1) == "x" and text(x / x) == "1" and text(0 / x) == "0"
    assert text(x - x) == "0"


def test_simplifier_coefficients_and_powers(sym) -> None:
    b, x, y, text = sym
    assert text(x * 2) == "2·x"
    assert text((x * 2) * 3) == "6·x"
    assert text((2 * x) * (3 * y)) == "6·x·y"
    assert text(x * x) == "x^2"
    assert text(x * x * x) == "x^3"
    assert text(x * x ** 2) == "x^3"
    assert text(x + x) == "2·x"
    assert text(x * -1) == "-x"
    assert text((-x) * (-y)) == "x·y"
    assert text(2 * (1 / x)) == "2/x"


def test_simplifier_signs(sym) -> None:
    b, x, y, text = sym
    assert text(x + (-2) * y) == "x - 2·y"
    assert text(x + (-y)) == "x - y"
    assert text(x - (-y)) == "x + y"
    assert text(b.const(-2) + 3 * x) == "3·x - 2"  # constants last
    assert text(0 - x) == "-x"


def test_simplifier_keeps_values(sym) -> None:
    # whatever it rewrites, the value stays: evaluate the printed text against plain Python
    b, x, y, text = sym
    cases = [
        (x * 2 + x * 3 - (-y) * 4, lambda x, y: 5 * x + 4 * y),
        ((x * x) * (x ** 2) / (2 * x), lambda x, y: x ** 3 / 2),
        (-(x - y) * (-(2 * y)), lambda x, y: (x - y) * 2 * y),
        ((b.const(3) - x) * (x ** -1) * x, lambda x, y: 3 - x),
    ]
    for expr, expected in cases:
        for px, py in ((0.7, -1.3), (2.5, 0.4)):
            assert evaluate_text(text(expr), {"x": px, "y": py}) == pytest.approx(expected(px, py),
                                                                                   rel=1e-14), text(expr)


@pytest.mark.parametrize(("program", "expected"), [
    ("x*y", "y"),
    ("x*2", "2"),
    ("x + 0*y", "1"),
    ("x^1 + y", "1"),
    ("-(-x)", "1"),
    ("x*x", "2·x"),
    ("x^3", "3·x^2"),
    ("x*x*x", "3·x^2"),
    ("3*x^2 - 2*x + 1", "6·x - 2"),
    ("x - 2*x^2", "1 - 4·x"),
    ("sin(x) - cos(x)", "cos(x) + sin(x)"),
    ("exp(-x)", "-exp(-x)"),
    ("x^-2", "-2/x^3"),
    ("sin(x*y)", "y·cos(x·y)"),
])
def test_simplified_derivatives(program: str, expected: str) -> None:
    assert diff_text(program, wrt="x") == expected


NO_PLUS_MINUS = [
    "x - y", "x - 2*y", "sin(x) - cos(x)", "exp(-x) - x^3", "x*y - y^2*x", "1/x - x",
    "log(x) - sqrt(x)", "tanh(x) - sigmoid(x)", "-x^2 - 3*x - 1", "cos(x)^2 - sin(x)^2",
    "atan(x) - x", "where(x > 0, -x^2, x)", "x - abs(x)", "exp(sin(x^2))", "-x*y + x",
    "x/(1 + x^2)", "atan2(x, y)", "hypot(x, y) - x", "(x - 1)^2 - (x + 1)^2",
]


@pytest.mark.parametrize("program", NO_PLUS_MINUS)
def test_no_plus_minus_in_printed_derivatives(program: str) -> None:
    for order in (1, 2):
        for result in diff(program, order=order):
            text = joined(result.statements())
            assert "+ -" not in text, (program, result.wrt, text)


def test_no_plus_minus_for_a_quotient() -> None:
    text = diff_text("x/x")
    assert "+ -" not in text, text


# =====================================================================================================
# No blow-up: linear size, no recursion
# =====================================================================================================

def nested(n: int) -> str:
    return "sin(" * n + "x" + ")" * n


def long_sum(n: int) -> str:
    return " + ".join(f"sin({i}*x)" for i in range(1, n + 1))


def printed_length(result) -> int:
    return sum(len(name) + len(text) for name, text in result.statements())


@pytest.mark.parametrize("make", [nested, long_sum], ids=["nested", "sum"])
def test_linear_growth(make) -> None:
    n = 2000
    (small,) = diff(make(n), at={"x": 0.5})
    (large,) = diff(make(2 * n), at={"x": 0.5})
    assert 1.5 <= large.formula.size() / small.formula.size() <= 2.5
    assert 1.5 <= printed_length(large) / printed_length(small) <= 2.5
    assert small.formula.size() < 10 * n and printed_length(small) < 40 * n


def test_deep_nesting_value() -> None:
    n = 2000
    (result,) = diff(nested(n), at={"x": 0.5})
    v, d = 0.5, 1.0  # the chain rule by hand
    for _ in range(n):
        d *= math.cos(v)
        v = math.sin(v)
    assert float(result.value) == pytest.approx(d, rel=1e-11)
    assert evaluate_text(joined(result.statements()), {"x": 0.5}) == pytest.approx(d, rel=1e-11)


def test_long_sum_value() -> None:
    n = 2000
    (result,) = diff(long_sum(n), at={"x": 0.5})
    expected = math.fsum(i * math.cos(i * 0.5) for i in range(1, n + 1))
    assert float(result.value) == pytest.approx(expected, rel=1e-10, abs=1e-9)


@pytest.mark.slow
def test_hundred_thousand_deep_nesting_has_no_recursion() -> None:
    n = 100_000
    (result,) = diff(nested(n), at={"x": 0.5})
    v, d = 0.5, 1.0
    for _ in range(n):
        d *= math.cos(v)
        v = math.sin(v)
    assert float(result.value) == pytest.approx(d, rel=1e-9)
    statements = result.statements()  # printing is iterative too
    assert statements[-1][0] == ""


@pytest.mark.parametrize(("program", "point"), [
    ("sin(x)*exp(x^2) + x", {"x": 0.7}),  # no named step: one formula serves both forms
    ("f = x*y + sin(x*y)", {"x": 0.3, "y": -1.2}),
    ("abs(x^3) + log(exp(x))", {"x": 0.4}),  # simplest form first: abs(x^3) is |x|^3
    ("v = x^2; u = sin(v); f = exp(u)", {"x": 2.0}),  # named steps: the forms differ
    ("v = x*y; w = v + x; f = w^2", {"x": 0.5, "y": 1.5}),
])
def test_compare_named_steps_form_is_the_factored_derivative(program: str, point: dict) -> None:
    """compare builds the formula once where no named step lies between target and inputs; its
    named-steps column must still say what the factored derivative says: the same statements
    where steps exist (built on their own), and without steps a formula that reads back to
    the factored derivative's value and to reverse mode's."""
    from autodiff_cli.symbolic import derivative

    result = compare(program, at=point)
    prog = parse(program)
    steps = any(prog.graph[n].op != "input" for n in prog.labels if n != prog.target)
    for pair in result.pairs:
        own = derivative(prog, prog.target, prog.inputs[pair.wrt], factored=True)
        own_text = own.program_text(set(prog.names()))
        if steps:
            assert pair.factored == own_text
            continue
        assert pair.factored == pair.expanded
        for statements in (pair.factored, own_text):
            text = "; ".join(f"{n} = {t}" if n else f"d = {t}" for n, t in statements)
            assert evaluate_text(text, point) == pytest.approx(float(pair.reverse), rel=1e-12), text
