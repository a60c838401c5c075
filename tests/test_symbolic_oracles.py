"""Symbolic derivatives (`adiff diff`, `adiff compare`) against independent oracles.

(1) Every function of the language (parametrized over `FUNCTIONS`, so a new entry is covered
    without touching this file): the derivative `diff` prints, parsed back and evaluated, has
    the value `diff` reports, and that value is a central finite difference of the function's
    values (points, domains, kinks and differences from tests/oracles.py).
(2) sympy: the derivative text of random expressions, read into sympy, equals `sympy.diff` of
    the same expression (built independently, in parallel with the text).
(3) hypothesis: the symbolic value, forward mode and reverse mode agree; second and mixed
    derivatives agree with a central difference of the first derivative (reverse mode).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from oracles import (
    KINK_MARGIN,
    builds_own_node,
    central_difference,
    domain_of,
    near_kink,
    program_value,
    sample_points,
    scalar_ops,
)
from sympy.parsing.sympy_parser import parse_expr

from autodiff_cli.api import compare, diff, grad
from autodiff_cli.ops import FUNCTIONS, Op
from autodiff_cli.parse import parse

N_POINTS = 3


def joined(statements: list[tuple[str, str]]) -> str:
    """[(t1, a), ("", b)] → "t1 = a; b": the derivative as a program the parser reads."""
    return "; ".join(f"{name} = {text}" if name else text for name, text in statements)


def evaluate_text(text: str, point: dict[str, float]) -> float:
    """The value of program text at a point, by parsing it and running the forward pass."""
    prog = parse(text)
    result = grad(prog, at={k: v for k, v in point.items() if k in prog.inputs})
    return float(next(iter(result.targets.values())))


# =====================================================================================================
# (1) every function of the language
# =====================================================================================================

def call_text(name: str, op: Op) -> tuple[str, list[str]]:
    """The program text of a call of `name` on inputs, and the inputs in argument order."""
    if op.name == "where":
        return "where(x > y, x, y)", ["x", "y"]
    names = ["x", "y", "z"][:op.arity]
    return f"{name}({', '.join(names)})", names


def function_domain(op: Op) -> tuple[tuple[float, float], ...]:
    if op.name == "where":  # the inputs of where(x > y, x, y) are its branches
        return domain_of(op)[1:]
    return domain_of(op)


def near_a_kink(op: Op, point: tuple[float, ...]) -> bool:
    """Within KINK_MARGIN of a point where the function is not differentiable (for where(x > y,
    x, y), a tie x = y)."""
    if op.name == "where":
        return abs(point[0] - point[1]) <= KINK_MARGIN
    return near_kink(op, point)


# Functions of numbers read as a node of their own (array operations, operations with
# parameters and operators on derivatives are filtered out: test_ops.py and test_language.py
# check those; so are the loss macros such as mse, written with mean, an array operation that
# has no symbolic formula).
SCALAR = scalar_ops()
FUNCTION_CASES = [pytest.param(name, id=name) for name, op in FUNCTIONS.items()
                  if any(op is e for e in SCALAR.values()) and builds_own_node(op)]


@pytest.mark.parametrize("name", FUNCTION_CASES)
def test_each_function_derivative_prints_parses_and_matches_finite_differences(name: str) -> None:
    op = FUNCTIONS[name]
    text, inputs = call_text(name, op)
    prog = parse(text)

    def value_at(*args: float) -> float:  # the slope's oracle: the program's own forward values
        return float(program_value(prog, dict(zip(inputs, args, strict=True))))

    checked = 0
    for point in sample_points(name, function_domain(op), N_POINTS):
        if near_a_kink(op, point):
            continue
        at = dict(zip(inputs, point, strict=True))
        for i, var in enumerate(inputs):
            (result,) = diff(text, wrt=var, at=at)
            value = float(result.value)
            assert np.isfinite(value), (text, var, point)
            derivative_text = joined(result.statements())
            # (a) printing then parsing the derivative gives back its value
            reparsed = evaluate_text(derivative_text, at)
            assert reparsed == pytest.approx(value, rel=1e-12, abs=1e-15), (
                f"∂{text}/∂{var} = {derivative_text}: {value!r} as built, {reparsed!r} read back")
            # (b) the value is the slope of the function
            fd = central_difference(value_at, point, i)
            assert value == pytest.approx(fd, rel=1e-5, abs=1e-7), (
                f"∂{text}/∂{var} = {derivative_text} = {value!r} at {at}; finite difference {fd!r}")
        checked += 1
    assert checked, "every sampled point is next to a kink"


def test_two_argument_log_is_covered_too() -> None:
    # log(x, base) = log(x)/log(base): d/dx = 1/(x·log(base)), d/dbase = -log(x)/(base·log(base)^2)
    x, b = 1.7, 2.5
    (dx,) = diff("log(x, b)", wrt="x", at={"x": x, "b": b})
    (db,) = diff("log(x, b)", wrt="b", at={"x": x, "b": b})
    assert float(dx.value) == pytest.approx(1 / (x * math.log(b)), rel=1e-14)
    assert float(db.value) == pytest.approx(-math.log(x) / (b * math.log(b) ** 2), rel=1e-14)
    for r in (dx, db):
        assert evaluate_text(joined(r.statements()), {"x": x, "b": b}) == pytest.approx(float(r.value),
                                                                                        rel=1e-12)


def test_negated_product_in_a_denominator_reads_back() -> None:
    y, z = 2.0, 3.0
    (result,) = diff("x/(-y*z)", wrt="x", at={"x": 1.5, "y": y, "z": z})
    assert float(result.value) == pytest.approx(-1 / (y * z), rel=1e-15)
    reparsed = evaluate_text(joined(result.statements()), {"x": 1.5, "y": y, "z": z})
    assert reparsed == pytest.approx(-1 / (y * z), rel=1e-12), joined(result.statements())


# =====================================================================================================
# Random expressions: adiff text and an independent sympy expression, built side by side
# =====================================================================================================

X, Y = sp.symbols("x y", real=True)

# Every template is defined and smooth on the whole real line (log and sqrt of 1 + u², tan of
# sin u, powers of a positive base, divisions by 2 + sin u or 1 + u²), so no kink or pole is hit.
LEAVES = [("x", X), ("y", Y), ("x", X), ("y", Y), ("x", X), ("0.5", sp.Rational(1, 2)),
          ("2", sp.Integer(2)), ("3", sp.Integer(3))]
UNARY = [
    ("sin({})", sp.sin),
    ("cos({})", sp.cos),
    ("tanh({})", sp.tanh),
    ("atan({})", sp.atan),
    ("asinh({})", sp.asinh),
    ("exp({})", sp.exp),
    ("sinh({})", sp.sinh),
    ("cosh({})", sp.cosh),
    ("tan(sin({}))", lambda u: sp.tan(sp.sin(u))),
    ("log(1 + ({})^2)", lambda u: sp.log(1 + u**2)),
    ("log(2 + cos({}))", lambda u: sp.log(2 + sp.cos(u))),
    ("sqrt(1 + ({})^2)", lambda u: sp.sqrt(1 + u**2)),
    ("sqrt(exp({}))", lambda u: sp.sqrt(sp.exp(u))),
    ("-({})", lambda u: -u),
    ("({})^2", lambda u: u**2),
    ("({})^3", lambda u: u**3),
]
BINARY = [
    ("({a}) + ({b})", lambda a, b: a + b),
    ("({a}) - ({b})", lambda a, b: a - b),
    ("({a}) * ({b})", lambda a, b: a * b),
    ("({a})({b})", lambda a, b: a * b),
    ("({a}) / (2 + sin({b}))", lambda a, b: a / (2 + sp.sin(b))),
    ("({a}) / (1 + ({b})^2)", lambda a, b: a / (1 + b**2)),
    ("(2 + cos({a}))^({b})", lambda a, b: (2 + sp.cos(a)) ** b),
    ("pow(1 + ({a})^2, sin({b}))", lambda a, b: (1 + a**2) ** sp.sin(b)),
    ("exp({a})^({b})", lambda a, b: sp.exp(a) ** b),
]


def _unary(args):
    (template, f), (text, expr) = args
    return template.format(text), f(expr)


def _binary(args):
    (template, f), (ta, ea), (tb, eb) = args
    return template.format(a=ta, b=tb), f(ea, eb)


def _extend(children):
    return st.one_of(
        st.tuples(st.sampled_from(UNARY), children).map(_unary),
        st.tuples(st.sampled_from(BINARY), children, children).map(_binary),
    )


def _with_x(pair):
    """Every expression depends on x: x·(e) + e when it would not."""
    text, expr = pair
    if "x" in parse(text).inputs:
        return text, expr
    return f"x·({text}) + ({text})", X * expr + expr


EXPRESSIONS = st.recursive(st.sampled_from(LEAVES), _extend, max_leaves=8).map(_with_x)
COORD = st.floats(min_value=-2.0, max_value=2.0, allow_nan=False, allow_infinity=False)
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def point_for(text: str, x: float, y: float) -> dict[str, float]:
    inputs = parse(text).inputs
    return {k: v for k, v in (("x", x), ("y", y)) if k in inputs}


# =====================================================================================================
# (2) sympy as an independent oracle
# =====================================================================================================

SYMPY_NAMES = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt,
    "tanh": sp.tanh, "atan": sp.atan, "sinh": sp.sinh, "cosh": sp.cosh, "asinh": sp.asinh,
    "pow": sp.Pow, "x": X, "y": Y, "e": sp.E, "pi": sp.pi,
}


def to_sympy(statements: list[tuple[str, str]]) -> sp.Expr:
    """adiff's derivative text as a sympy expression: `·` → `*`, `^` → `**`, names through a
    locals dict, and each shared part (t1 = ...) substituted where it is used."""
    local = dict(SYMPY_NAMES)
    expr = None
    for name, text in statements:
        expr = parse_expr(text.replace("·", "*").replace("^", "**"), local_dict=local)
        if name:
            local[name] = expr
    return expr


def agree_numerically(ours: sp.Expr, theirs: sp.Expr, points: list[tuple[float, float]]) -> bool:
    """Equal at every point, evaluated with 30 significant digits (no float cancellation)."""
    f = sp.lambdify((X, Y), ours, modules="mpmath")
    g = sp.lambdify((X, Y), theirs, modules="mpmath")
    with mpmath.workdps(30):
        for x, y in points:
            a, b = f(mpmath.mpf(x), mpmath.mpf(y)), g(mpmath.mpf(x), mpmath.mpf(y))
            if abs(a - b) > 1e-8 * abs(b) + 1e-20:
                return False
    return True


@SETTINGS
@given(EXPRESSIONS, st.integers(0, 2**32 - 1))
def test_first_derivatives_equal_sympy(pair, seed: int) -> None:
    text, expr = pair
    rng = np.random.default_rng(seed)
    points = [tuple(rng.uniform(-2, 2, size=2)) for _ in range(4)]
    for var, symbol in (("x", X), ("y", Y)):
        if var not in parse(text).inputs:
            continue
        (result,) = diff(text, wrt=var)
        ours = to_sympy(result.statements())
        theirs = sp.diff(expr, symbol)
        assert agree_numerically(ours, theirs, points) or sp.simplify(ours - theirs) == 0, (
            f"∂({text})/∂{var}: adiff {joined(result.statements())}, sympy {theirs}")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS, st.integers(0, 2**32 - 1))
def test_second_and_mixed_derivatives_equal_sympy(pair, seed: int) -> None:
    text, expr = pair
    rng = np.random.default_rng(seed)
    points = [tuple(rng.uniform(-2, 2, size=2)) for _ in range(3)]
    inputs = parse(text).inputs
    sequences = [["x", "x"]] + ([["x", "y"], ["y", "x"]] if "y" in inputs else [])
    for seq in sequences:
        (result,) = diff(text, mixed=seq)
        ours = to_sympy(result.statements())
        theirs = sp.diff(expr, *[{"x": X, "y": Y}[v] for v in seq])
        assert agree_numerically(ours, theirs, points), (
            f"∂²({text})/∂{seq}: adiff {joined(result.statements())}, sympy {theirs}")


@pytest.mark.parametrize(("text", "expected"), [
    ("exp(sin(x^2))", 2 * X * sp.cos(X**2) * sp.exp(sp.sin(X**2))),
    ("x^3", 3 * X**2),
    ("sin(x)·cos(x)", sp.cos(X) ** 2 - sp.sin(X) ** 2),
    ("log(1 + x^2)", 2 * X / (1 + X**2)),
    ("atan(x)", 1 / (1 + X**2)),
    ("asinh(x)", 1 / sp.sqrt(X**2 + 1)),
    ("tanh(x)", 1 - sp.tanh(X) ** 2),
    ("x^y", Y * X ** (Y - 1)),
])
def test_simple_derivatives_simplify_to_sympys(text: str, expected: sp.Expr) -> None:
    (result,) = diff(text, wrt="x")
    assert sp.simplify(to_sympy(result.statements()) - expected) == 0, joined(result.statements())


# =====================================================================================================
# (3) symbolic, forward and reverse mode agree; second derivatives against finite differences
# =====================================================================================================

def moderate(*values: float, bound: float = 1e6) -> bool:
    return all(np.isfinite(v) and abs(v) < bound for v in values)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS, COORD, COORD)
def test_symbolic_forward_and_reverse_agree(pair, x: float, y: float) -> None:
    text, _ = pair
    at = point_for(text, x, y)
    result = compare(text, at=at)
    assert sorted(p.wrt for p in result.pairs) == sorted(at)
    for p in result.pairs:
        symbolic, fwd, rev = float(p.symbolic), float(p.forward), float(p.reverse)
        assume(moderate(symbolic, fwd, rev))
        scale = 1e-9 * (1 + abs(rev))
        assert symbolic == pytest.approx(rev, rel=1e-9, abs=scale), (text, at, p.expanded)
        assert fwd == pytest.approx(rev, rel=1e-9, abs=scale), (text, at)


def first_derivative(text: str, at: dict[str, float], var: str) -> float:
    return float(grad(text, at=at, wrt=var).gradients["f"][var])


def richardson_slope(g, point: float) -> tuple[float, float, float]:
    """The slope of g at a point: central differences at h, h/2 and h/4, Richardson-extrapolated
    (error O(h⁴), so a fast-oscillating first derivative such as that of sin(exp(x^2)) at x = 2
    is still resolved). Returns the slope, the largest |g| sampled, and how much the two
    extrapolations (from h, h/2 and from h/2, h/4) differ: an estimate of the slope's error."""
    h = 1e-3 * max(1.0, abs(point))
    samples = {k: g(point + k * h / 4) for k in (-4, -2, -1, 1, 2, 4)}

    def central(k: int) -> float:
        return (samples[k] - samples[-k]) / ((point + k * h / 4) - (point - k * h / 4))

    coarse = (4 * central(2) - central(4)) / 3
    fine = (4 * central(1) - central(2)) / 3
    return fine, max(abs(v) for v in samples.values()), abs(fine - coarse)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS, COORD, COORD)
def test_second_derivatives_match_finite_differences_of_the_first(pair, x: float, y: float) -> None:
    text, _ = pair
    at = point_for(text, x, y)
    sequences = [("x", "x")] + ([("x", "y")] if "y" in at else [])
    for first, second in sequences:
        (result,) = diff(text, mixed=[first, second], at=at)
        value = float(result.value)
        def slope_of(v: float, first: str = first, second: str = second) -> float:
            return first_derivative(text, {**at, second: v}, first)

        fd, size, spread = richardson_slope(slope_of, at[second])
        assume(moderate(value, fd, size, bound=1e5))
        tolerance = 1e-5 * abs(fd) + 1e-6 * (1 + size)
        # where the difference quotients have not converged (a first derivative like 2e14·x^5
        # near 0), a finite difference is no oracle: skip the example
        assume(spread < tolerance / 10)
        assert abs(value - fd) <= tolerance, (
            f"∂²({text})/∂{first}∂{second} = {joined(result.statements())} = {value!r} at {at}, "
            f"finite difference {fd!r}")


def test_second_derivative_of_a_fast_oscillation() -> None:
    # sin(exp(x)^x) = sin(e^(x²)): f'' at x = 2 is 43933.617153698111772 (30-digit mpmath);
    # a plain central difference with h = 2e-4 is off by 3e-4 relative, Richardson is not
    (result,) = diff("sin(exp(x)^(x))", mixed=["x", "x"], at={"x": 2.0})
    assert float(result.value) == pytest.approx(43933.617153698111772, rel=1e-11)
    fd, _, _ = richardson_slope(lambda v: first_derivative("sin(exp(x)^(x))", {"x": v}, "x"), 2.0)
    assert fd == pytest.approx(float(result.value), rel=1e-5)


def test_order_two_matches_hand_derived_formula() -> None:
    # f = exp(sin(x^2)): f'' = e^s (2cos(x²) - 4x² sin(x²) + 4x² cos²(x²)), s = sin(x²)
    for x in (-1.3, 0.4, 2.0):
        (result,) = diff("exp(sin(x^2))", order=2, wrt="x", at={"x": x})
        s, c = math.sin(x * x), math.cos(x * x)
        expected = math.exp(s) * (2 * c - 4 * x * x * s + 4 * x * x * c * c)
        assert float(result.value) == pytest.approx(expected, rel=1e-13)
