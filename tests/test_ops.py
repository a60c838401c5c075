"""Every entry of the op table, checked against independent oracles.

Parametrized over `OPS`, so a new entry is tested without touching this file:
- every function of numbers (elementwise, written as a call or an operator, macros included)
  and every array operation: forward mode (a JVP along a random direction, through the engine's
  tangent pass) against a central finite difference of the program's value along the same
  direction, and reverse mode (a VJP from a random cotangent) against forward mode by the
  dot-product identity <u, J v> = <J^T u, v>, at points sampled from the entry's domain;
- for elementwise entries, the partials `grad` computes against central finite differences of
  the op's numpy evaluation, and the symbolic formula of each local partial, printed, parsed
  back and evaluated, against the same finite differences;
- the conventions at the points where an op is not differentiable, against hand-derived
  values (what TensorFlow, PyTorch and JAX use there).
Ops are driven through program text and the engine's public passes (tests/oracles.py), never
through the entry's rule fields.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from oracles import (
    DERIVATIVE_OPERATORS,
    Passes,
    arg_names,
    builds_own_node,
    central_difference,
    close,
    directional_difference,
    domain_of,
    inner,
    is_array_op,
    near_kink,
    program_texts,
    program_value,
    random_direction,
    rng_for,
    sample_points,
    scalar_ops,
)

from autodiff_cli.api import grad
from autodiff_cli.formulas import local_partial_formula
from autodiff_cli.ops import OPS as ALL_OPS
from autodiff_cli.parse import parse

# Functions of numbers that a program can write (array operations are filtered out here and
# checked with array arguments below; internal helpers of gradient graphs such as fit, size and
# vjp_of are not written by users and are tested through grad() in test_language.py).
SCALAR_OPS = scalar_ops()
# Those read as a node of their own op, with a numpy evaluation (not macros such as mse).
OPS = {n: e for n, e in SCALAR_OPS.items() if builds_own_node(e)}

N_POINTS = 5
RTOL, ATOL = 1e-5, 1e-7
CONVENTIONS = ("tensorflow", "pytorch", "jax")


# --- helpers ------------------------------------------------------------------------------------

def points_of(name: str, n: int = N_POINTS) -> list[tuple[float, ...]]:
    return sample_points(name, domain_of(ALL_OPS[name]), n)


def numpy_value(op, point: tuple[float, ...]) -> float:
    with np.errstate(all="ignore"):
        return float(op.evaluate(*map(np.float64, point)))


def at_of(op, point: tuple[float, ...]) -> dict[str, float]:
    return dict(zip(arg_names(op), point, strict=True))


CASES = [pytest.param(name, k, id=f"{name}-{k}") for name in OPS for k in range(N_POINTS)]
ARG_CASES = [pytest.param(name, i, id=f"{name}-arg{i}") for name, op in OPS.items()
             for i in range(op.arity)]


# --- the table itself -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(OPS))
def test_entry_is_consistent(name: str) -> None:
    op = OPS[name]
    assert op.name == name
    assert not op.domain or len(op.domain) == op.arity
    for lo, hi in domain_of(op):
        assert lo < hi
    if op.kink is not None:
        for convention in CONVENTIONS:
            assert len(op.kink.used[convention]) == op.arity
    texts = program_texts(op)
    assert texts, f"op {op.name!r} can be written neither as a call nor as an operator"
    for text in texts:
        prog = parse(text)
        assert prog.graph[prog.target].op == name, text
        assert sorted(prog.inputs) == arg_names(op), text


def test_scalar_and_array_parametrizations_split_the_table() -> None:
    """Array operations are filtered out of the scalar cases (not skipped), and every array
    operation a program can write has array cases below; arity-0 constructors have theirs."""
    assert not any(is_array_op(e) for e in SCALAR_OPS.values())
    writable_arrays = {n for n, e in ALL_OPS.items() if is_array_op(e) and program_texts(e)
                       and n not in DERIVATIVE_OPERATORS}
    assert writable_arrays <= set(ARRAY_CALLS), sorted(writable_arrays - set(ARRAY_CALLS))
    constructors = {n for n, e in ALL_OPS.items() if e.arity == 0}
    assert constructors <= set(CONSTRUCTOR_CALLS), sorted(constructors - set(CONSTRUCTOR_CALLS))


# --- reverse mode against finite differences --------------------------------------------------------

@pytest.mark.parametrize(("name", "k"), CASES)
def test_gradient_matches_finite_difference(name: str, k: int) -> None:
    op = OPS[name]
    point = points_of(name)[k]
    if near_kink(op, point):
        pytest.skip(f"{point} is within a kink margin of a point where {name} is not differentiable")
    expected_value = numpy_value(op, point)
    assert np.isfinite(expected_value), f"{name}{point} is not finite: the domain is wrong"
    for text in program_texts(op):
        result = grad(text, at=at_of(op, point))
        assert result.targets["f"] == pytest.approx(expected_value, rel=1e-12, abs=0), text
        assert not [w for w in result.warnings if w.kind != "note"], (text, result.warnings)
        for i, arg in enumerate(arg_names(op)):
            got = float(result.gradients["f"][arg])
            fd = central_difference(op.evaluate, point, i)
            if fd == 0.0:  # flat (no derivative flows: comparisons, floor, where's condition): exactly 0
                assert got == 0.0, (text, arg)
            else:
                assert close(got, fd, RTOL, ATOL), (
                    f"{text} at {point}: ∂/∂{arg} = {got!r}, finite difference {fd!r}")


# --- forward mode and reverse mode of every function of numbers ---------------------------------------

def non_kink_points(name: str, n: int = N_POINTS) -> list[tuple[float, ...]]:
    """n sampled points of the entry's domain away from its kinks (more are drawn to fill them)."""
    entry = ALL_OPS[name]
    points = [p for p in points_of(name, 4 * n) if not near_kink(entry, p)]
    assert len(points) >= n, f"{name}: most sampled points are next to a kink"
    return points[:n]


MODE_CASES = [pytest.param(name, k, id=f"{name}-{k}") for name in SCALAR_OPS for k in range(N_POINTS)]


def assert_modes_agree(text: str, point: dict[str, object], rng: np.random.Generator,
                       rtol: float = RTOL, atol: float = ATOL) -> None:
    """Forward mode along a random direction equals the central difference of the program's
    value along it; reverse mode from a random cotangent satisfies <u, J v> = <J^T u, v>."""
    passes = Passes(text, point)
    assert np.all(np.isfinite(passes.value)), f"{text} at {point} is not finite: the domain is wrong"
    assert not [w for w in passes.lin.warnings + passes.warnings if w.kind != "note"], text
    shapes = {n: np.shape(v) for n, v in passes.point.items()}
    direction = random_direction(rng, shapes)
    tangent = passes.jvp(direction)
    fd = directional_difference(lambda p: program_value(passes.program, p), passes.point, direction)
    assert np.shape(tangent) == np.shape(passes.value), text
    assert close(tangent, fd, rtol, atol), f"{text} at {point} along {direction}: JVP {tangent}, FD {fd}"
    cotangent = rng.standard_normal(np.shape(passes.value))[()]
    adjoints = passes.vjp(cotangent)
    left, right = inner(cotangent, tangent), inner(adjoints, direction)
    assert abs(left - right) <= 1e-12 * (1 + abs(left)), f"{text}: <u, Jv> = {left!r}, <J^T u, v> = {right!r}"


@pytest.mark.parametrize(("name", "k"), MODE_CASES)
def test_forward_and_reverse_mode_match_finite_differences(name: str, k: int) -> None:
    entry = SCALAR_OPS[name]
    point = non_kink_points(name)[k]
    for text in program_texts(entry):
        assert_modes_agree(text, at_of(entry, point), rng_for(name, k, text))


# --- array operations, with array arguments -----------------------------------------------------------

# For each array operation: program texts and the shapes of their inputs (values uniform in
# (-1, 1), seeded by the text). max(x) and min(x) are reduce_max and reduce_min, x[...] is index.
ARRAY_CALLS: dict[str, list[tuple[str, dict[str, tuple[int, ...]]]]] = {
    "sum": [("sum(x)", {"x": (2, 3)}), ("sum(x, axis=1)", {"x": (2, 3)})],
    "mean": [("mean(x)", {"x": (2, 3)}), ("mean(x, axis=0)", {"x": (2, 3)})],
    "transpose": [("transpose(x)", {"x": (2, 3)})],
    "reduce_max": [("max(x)", {"x": (2, 3)}), ("max(x, axis=1)", {"x": (2, 3)})],
    "reduce_min": [("min(x)", {"x": (2, 3)}), ("min(x, axis=0)", {"x": (2, 3)})],
    "softmax": [("softmax(x)", {"x": (2, 3)}), ("softmax(x, axis=0)", {"x": (2, 3)})],
    "logsumexp": [("logsumexp(x)", {"x": (2, 3)}), ("logsumexp(x, axis=1)", {"x": (2, 3)})],
    "matmul": [("a @ b", {"a": (2, 3), "b": (3, 2)}), ("matmul(a, b)", {"a": (3,), "b": (3, 2)}),
               ("dot(a, b)", {"a": (3,), "b": (3,)})],
    "reshape": [("reshape(x, 3, 2)", {"x": (2, 3)})],
    "index": [("x[1]", {"x": (3, 2)}), ("x[0, 1:3]", {"x": (2, 3)})],
    "stack": [("stack(a, b)", {"a": (2, 3), "b": (2, 3)}), ("stack(a, b, axis=1)", {"a": (3,), "b": (3,)})],
    "concat": [("concat(a, b)", {"a": (2, 3), "b": (1, 3)}),
               ("concat(a, b, axis=1)", {"a": (2, 3), "b": (2, 2)})],
    "conv2d": [("conv2d(a, k)", {"a": (4, 5), "k": (2, 2)}),
               ('conv2d(a, k, stride=2, padding="same")', {"a": (5, 5), "k": (3, 3)})],
    "avg_pool": [("avg_pool(x, 2)", {"x": (4, 4)}),
                 ('avg_pool(x, 2, stride=1, padding="same")', {"x": (3, 3)})],
    "max_pool": [("max_pool(x, 2)", {"x": (4, 4)}),
                 ('max_pool(x, 2, stride=1, padding="same")', {"x": (3, 3)})],
}
ARRAY_CASES = [pytest.param(name, text, shapes, id=f"{name}-{text}")
               for name, calls in ARRAY_CALLS.items() for text, shapes in calls]


@pytest.mark.parametrize(("name", "text", "shapes"), ARRAY_CASES)
def test_array_op_forward_and_reverse_mode_match_finite_differences(name: str, text: str,
                                                                     shapes: dict) -> None:
    prog = parse(text)
    assert prog.graph[prog.target].op == name, text
    rng = rng_for(name, text)
    point = {n: rng.uniform(-1.0, 1.0, size=shape) for n, shape in shapes.items()}
    assert_modes_agree(text, point, rng)


# Arity-0 constructors have nothing to differentiate: a scalar input scales them, so forward and
# reverse mode through them are checked as x·C, and the derivative of sum(x·C) is sum(C).
CONSTRUCTOR_CALLS = {"linspace": ("linspace(0, 1, 5)", 2.5), "zeros": ("zeros(2, 3)", 0.0),
                     "ones": ("ones(2, 3)", 6.0), "eye": ("eye(3)", 3.0)}
# Initialisers with seed=N draw from numpy's default_rng(N); their sums by Keras's limits and
# standard deviations (fan_in 2, fan_out 3; no value of seed 0's normals is beyond 2σ).
_Z = np.random.default_rng(0).standard_normal((2, 3)).sum()


def _uniform_sum(limit: float) -> float:
    return np.random.default_rng(7).uniform(-limit, limit, (2, 3)).sum()


CONSTRUCTOR_CALLS |= {
    "glorot_uniform": ("glorot_uniform(2, 3, seed=7)", _uniform_sum(np.sqrt(6 / 5))),
    "he_uniform": ("he_uniform(2, 3, seed=7)", _uniform_sum(np.sqrt(3))),
    "glorot_normal": ("glorot_normal(2, 3, seed=0)", np.sqrt(2 / 5) / 0.87962566103423978 * _Z),
    "he_normal": ("he_normal(2, 3, seed=0)", 1 / 0.87962566103423978 * _Z),
    "random_uniform": ("random_uniform([2, 3], 1, 1)", 6.0),
    "random_normal": ("random_normal([2, 3], 2, 0)", 12.0)}


@pytest.mark.parametrize("name", list(CONSTRUCTOR_CALLS))
def test_constructor_scaled_by_an_input(name: str) -> None:
    call, total = CONSTRUCTOR_CALLS[name]
    prog = parse(call)
    assert prog.graph[prog.target].op == name
    assert_modes_agree(f"a0 · {call}", {"a0": 0.7}, rng_for(name))
    passes = Passes(f"sum(a0 · {call})", {"a0": 0.7})
    assert float(passes.jvp({"a0": 1.0})) == pytest.approx(total, rel=1e-15, abs=0)
    assert float(passes.vjp(1.0)["a0"]) == pytest.approx(total, rel=1e-15, abs=0)


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
    checked, slopes = 0, []
    domain = domain_of(op)
    for point in points_of(name):
        if near_kink(op, point):
            continue
        # the sampled point, and the same with another argument moved to 0 where its domain
        # holds 0 (where(c, a, b) at c = 0 takes b): to tell "no derivative flows" apart
        probes = [point] + [point[:j] + (0.0,) + point[j + 1:] for j, (lo, hi) in enumerate(domain)
                            if j != i and lo < 0.0 < hi]
        for probe in probes:
            if near_kink(op, probe):
                continue
            at = {n: v for n, v in at_of(op, probe).items() if n in formula_prog.inputs}
            value = float(grad(formula_prog, at=at).targets["f"])
            fd = central_difference(op.evaluate, probe, i)
            assert close(value, fd, RTOL, ATOL), (
                f"∂{text}/∂a{i} = {formula} is {value!r} at {probe}; finite difference {fd!r}")
            slopes.append(fd)
        checked += 1
    assert checked, "every sampled point is next to a kink"
    if all(fd == 0.0 for fd in slopes):  # no derivative flows through this argument: the formula says 0
        assert formula == "0"


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


# --- the table's formulas without the canonical form: the same text ------------------------------

# arguments of each precedence and kind: a name, a named step, a product, a sum, a power, a
# negative literal, whole and fractional literals, pi
ARGUMENT_FORMS = ("a", "s", "2*a", "a + b", "a^3", "-3", "3", "0.25", "pi", "-a")


@pytest.mark.parametrize("name", sorted(OPS))
def test_plain_partial_text_is_the_canonical_text(name: str) -> None:
    """formulas.plain_text prints the simple partials (sin's cos(a), a product's constant factor)
    without building their canonical form; wherever it answers, it must print exactly what the
    canonical form prints (formulas.canonical_text, the oracle), whole and cut short."""
    from autodiff_cli.builder import Builder
    from autodiff_cli.formulas import canonical_text, local_partial, plain_text
    from autodiff_cli.printing import ShortTexts

    op = OPS[name]
    template = program_texts(op)[0]
    answered = 0
    for form in ARGUMENT_FORMS:
        for j in range(op.arity):
            swap = {n: ("s" if k != j else f"({form})") for k, n in enumerate(arg_names(op))}
            text = "s = a*b; f = " + re.sub(r"\b\w+\b", lambda m, swap=swap: swap.get(m[0], m[0]), template)
            prog = parse(text)
            for limit in (None, 8):
                texts = ShortTexts(prog.graph, prog.labels, prog.target, limit=limit)
                for nid, node in enumerate(prog.graph.nodes):
                    for i in range(len(node.args)):
                        builder = Builder(simplify=False)
                        formula = local_partial(builder, prog, nid, i, texts=texts)
                        if formula is None:
                            continue
                        for cut in (None, 6):
                            plain = plain_text(builder.graph, formula.id, cut)
                            if plain is not None:
                                answered += 1
                                assert plain == canonical_text(builder.graph, formula.id, cut), (text, nid, i)
    assert answered > 0  # every program has a product s = a*b, whose partials are names
