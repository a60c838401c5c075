"""Every entry of the op table, checked against independent oracles.

For each op (parametrized over `OPS`, so a new entry is tested without touching this file):
the reverse-mode partials `grad` computes are compared with central finite differences of
the op's numpy evaluation at points sampled from its test domain; the symbolic formula of
each local partial, printed, parsed back and evaluated, is compared with the same finite
differences; and the conventions at the points where an op is not differentiable are
checked against hand-derived values (what TensorFlow, PyTorch and JAX use there).
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from autodiff_cli.api import grad
from autodiff_cli.formulas import local_partial_formula
from autodiff_cli.ops import FUNCTIONS, Op
from autodiff_cli.ops import OPS as ALL_OPS
from autodiff_cli.parse import parse

# Elementwise operations, which have local partials; array operations (vector-Jacobian
# products, tested in test_arrays.py and test_kernels.py) are left out here.
# Internal helpers of grad() in programs (fit, size, hessian, vjp_of) are not written by users
# and are tested through grad() in test_language.py.
OPS = {n: e for n, e in ALL_OPS.items() if e.elementwise and e.arity > 0
       and (e.infix or any(f is e for f in FUNCTIONS.values()))}

N_POINTS = 5
DEFAULT_DOMAIN = (-3.0, 3.0)
KINK_MARGIN = 1e-3
REL_STEP = 1e-6
RTOL, ATOL = 1e-5, 1e-7
CONVENTIONS = ("tensorflow", "pytorch", "jax")


# --- helpers ------------------------------------------------------------------------------------

def arg_names(op: Op) -> list[str]:
    return [f"a{i}" for i in range(op.arity)]


def call_names(op: Op) -> list[str]:
    """The names a call may use for this op (its callable name and aliases)."""
    return [name for name, entry in FUNCTIONS.items() if entry is op]


def program_texts(op: Op) -> list[str]:
    """Every way the language writes this op applied to inputs a0, a1, ...: calls (each name
    FUNCTIONS accepts for it) and the infix or prefix form."""
    names = arg_names(op)
    texts = [f"{name}({', '.join(names)})" for name in call_names(op)]
    if op.infix is not None:
        if op.arity == 1:
            texts.append(f"{op.infix}{names[0]}")
        elif op.arity == 2:
            texts.append(f"{names[0]} {op.infix} {names[1]}")
    assert texts, f"op {op.name!r} can be written neither as a call nor as an operator"
    return texts


def domain_of(op: Op) -> tuple[tuple[float, float], ...]:
    return op.domain if op.domain else (DEFAULT_DOMAIN,) * op.arity


def sample_points(op: Op) -> list[tuple[float, ...]]:
    """N_POINTS points of the op's domain; the seed depends on the op's name only, so adding an
    op does not move the points of the others."""
    rng = np.random.default_rng(zlib.crc32(op.name.encode()))
    dom = domain_of(op)
    return [tuple(float(rng.uniform(lo, hi)) for lo, hi in dom) for _ in range(N_POINTS)]


def kink_candidates(point: tuple[float, ...]) -> list[tuple[float, ...]]:
    """Nearby points where a kink may sit: an argument moved to 0, to the nearest integers or
    half-integer, or made equal to another argument (a tie)."""
    out = []
    for i, x in enumerate(point):
        for c in (0.0, np.floor(x), np.ceil(x), np.floor(x) + 0.5, np.round(x)):
            out.append(point[:i] + (float(c),) + point[i + 1:])
        for j in range(len(point)):
            if j != i:
                out.append(point[:j] + (x,) + point[j + 1:])
    return out


def near_kink(op: Op, point: tuple[float, ...], margin: float = KINK_MARGIN) -> bool:
    if op.kink is None:
        return False
    if bool(np.any(op.kink.where(*map(np.float64, point)))):
        return True
    for cand in kink_candidates(point):
        if max(abs(a - b) for a, b in zip(cand, point, strict=True)) <= margin:
            if bool(np.any(op.kink.where(*map(np.float64, cand)))):
                return True
    return False


def numpy_value(op: Op, point: tuple[float, ...]) -> float:
    with np.errstate(all="ignore"):
        return float(op.evaluate(*map(np.float64, point)))


def central_difference(op: Op, point: tuple[float, ...], i: int) -> float:
    x = point[i]
    h = REL_STEP * max(1.0, abs(x))
    up = point[:i] + (x + h,) + point[i + 1:]
    down = point[:i] + (x - h,) + point[i + 1:]
    return (numpy_value(op, up) - numpy_value(op, down)) / ((x + h) - (x - h))


def at_of(op: Op, point: tuple[float, ...]) -> dict[str, float]:
    return dict(zip(arg_names(op), point, strict=True))


def close(actual: float, expected: float) -> bool:
    return abs(actual - expected) <= ATOL + RTOL * abs(expected)


CASES = [pytest.param(name, k, id=f"{name}-{k}") for name in OPS for k in range(N_POINTS)]
ARG_CASES = [pytest.param(name, i, id=f"{name}-arg{i}") for name, op in OPS.items()
             for i in range(op.arity)]


# --- the table itself -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(OPS))
def test_entry_is_consistent(name: str) -> None:
    op = OPS[name]
    assert op.name == name
    assert len(op.partials) == op.arity
    assert not op.domain or len(op.domain) == op.arity
    for lo, hi in domain_of(op):
        assert lo < hi
    if op.kink is not None:
        for convention in CONVENTIONS:
            assert len(op.kink.used[convention]) == op.arity
    for text in program_texts(op):
        prog = parse(text)
        assert prog.graph[prog.target].op == name, text
        assert sorted(prog.inputs) == arg_names(op), text


# --- reverse mode against finite differences --------------------------------------------------------

@pytest.mark.parametrize(("name", "k"), CASES)
def test_gradient_matches_finite_difference(name: str, k: int) -> None:
    op = OPS[name]
    point = sample_points(op)[k]
    if near_kink(op, point):
        pytest.skip(f"{point} is within {KINK_MARGIN} of a point where {name} is not differentiable")
    expected_value = numpy_value(op, point)
    assert np.isfinite(expected_value), f"{name}{point} is not finite: the domain is wrong"
    for text in program_texts(op):
        result = grad(text, at=at_of(op, point))
        assert result.targets["f"] == pytest.approx(expected_value, rel=1e-12, abs=0), text
        assert not [w for w in result.warnings if w.kind != "note"], (text, result.warnings)
        for i, arg in enumerate(arg_names(op)):
            got = float(result.gradients["f"][arg])
            fd = central_difference(op, point, i)
            if op.partials[i] is None:  # no derivative flows: zero, and flat where it exists
                assert got == 0.0, (text, arg)
                assert abs(fd) <= ATOL, (text, arg, fd)
            else:
                assert close(got, fd), f"{text} at {point}: ∂/∂{arg} = {got!r}, finite difference {fd!r}"


# --- the printed formula of each local partial --------------------------------------------------------

@pytest.mark.parametrize(("name", "i"), ARG_CASES)
def test_partial_formula_matches_finite_difference(name: str, i: int) -> None:
    op = OPS[name]
    text = program_texts(op)[0]
    prog = parse(text)
    formula = local_partial_formula(prog, prog.target, i, limit=10_000)
    assert not formula.endswith("…")
    formula_prog = parse(formula)  # the formula reads back as a program of the op's arguments
    assert set(formula_prog.inputs) <= set(arg_names(op)), formula
    if op.partials[i] is None:
        assert formula == "0"
    checked = 0
    for point in sample_points(op):
        if near_kink(op, point):
            continue
        at = {n: v for n, v in at_of(op, point).items() if n in formula_prog.inputs}
        value = float(grad(formula_prog, at=at).targets["f"])
        fd = central_difference(op, point, i)
        assert close(value, fd), (
            f"∂{text}/∂a{i} = {formula} is {value!r} at {point}; finite difference {fd!r}")
        checked += 1
    assert checked, "every sampled point is next to a kink"


# --- the conventions where a derivative is undefined --------------------------------------------------

def undefined_warnings(result) -> list:
    return [w for w in result.warnings if w.kind == "undefined-derivative"]


@pytest.mark.parametrize(("convention", "expected"), [("tensorflow", 0.0), ("pytorch", 0.0), ("jax", 1.0)])
def test_abs_at_zero(convention: str, expected: float) -> None:
    result = grad("abs(x)", at={"x": 0.0}, convention=convention)
    assert result.gradients["f"]["x"] == expected
    assert len(undefined_warnings(result)) == 1


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_relu_at_zero(convention: str) -> None:
    result = grad("relu(x)", at={"x": 0.0}, convention=convention)
    assert result.gradients["f"]["x"] == 0.0
    assert len(undefined_warnings(result)) == 1


TIE_SPLIT = {"tensorflow": (1.0, 0.0), "pytorch": (0.5, 0.5), "jax": (0.5, 0.5)}


@pytest.mark.parametrize("fname", ["max", "min"])
@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("tie", [1.5, -0.25, 0.0])
def test_max_min_at_a_tie(fname: str, convention: str, tie: float) -> None:
    result = grad(f"{fname}(a, b)", at={"a": tie, "b": tie}, convention=convention)
    got = (result.gradients["f"]["a"], result.gradients["f"]["b"])
    assert got == TIE_SPLIT[convention]
    assert len(undefined_warnings(result)) == 1


@pytest.mark.parametrize("fname", ["max", "min"])
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_max_of_a_value_with_itself(fname: str, convention: str) -> None:
    # max(a, a) = a: whatever the split between the two arguments, their sum is 1.
    result = grad(f"{fname}(a, a)", at={"a": 0.7}, convention=convention)
    assert result.gradients["f"]["a"] == 1.0
    assert len(undefined_warnings(result)) == 1


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize(("text", "at", "expected"), [
    ("abs(x)", {"x": -2.0}, {"x": -1.0}),
    ("relu(x)", {"x": 0.5}, {"x": 1.0}),
    ("relu(x)", {"x": -0.5}, {"x": 0.0}),
    ("max(a, b)", {"a": 1.0, "b": 2.0}, {"a": 0.0, "b": 1.0}),
    ("min(a, b)", {"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 0.0}),
])
def test_no_warning_away_from_a_kink(convention: str, text: str, at: dict, expected: dict) -> None:
    result = grad(text, at=at, convention=convention)
    assert result.gradients["f"] == expected
    assert not undefined_warnings(result)
