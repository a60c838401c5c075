"""The language's derivatives: grad(f, x) and hessian(f, x) inside a program, against independent
oracles (hand-derived formulas, central differences of numpy implementations, sympy).

Every value is read as a user reads it: the program goes to `adiff run - --json` with one
`expect EXPR == 0` line per expression, and the left side of each expect is the value. The
verdicts of those expect lines are ignored; what is checked is the value against the oracle.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from reference import (
    CHAIN_DF_DX,
    CHAIN_PARTIALS,
    CONV_A,
    CONV_DC_DF,
    CONV_DC_DG,
    CONV_DC_DK,
    CONV_DC_DP,
    CONV_K,
    CONV_Y,
    PERCEPTRON_GRADIENTS,
)

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def run_program(run, program: str, exprs: tuple[str, ...] = ()) -> tuple[int, dict, str]:
    """`adiff run - --json` on the program plus `expect E == 0` per expression: (exit code,
    the file's JSON object, stderr)."""
    text = program.strip("\n") + "\n" + "".join(f"expect {e} == 0\n" for e in exprs)
    code, out, err = run("run", "-", "--json", input=text)
    lines = out.splitlines()
    assert len(lines) == 1, (code, out, err)
    return code, json.loads(lines[0]), err


def values(run, program: str, *exprs: str) -> list[np.ndarray]:
    """The value of each expression in the program, as `adiff run` reports it."""
    code, doc, err = run_program(run, program, exprs)
    assert doc["error"] is None, doc["error"]
    assert code in (0, 1), (code, err)
    assert [e["text"] for e in doc["expects"]] == [f"expect {e} == 0" for e in exprs]
    return [np.asarray(e["lhs"], dtype=float) for e in doc["expects"]]


def value(run, program: str, expr: str) -> np.ndarray:
    return values(run, program, expr)[0]


def error_of(run, program: str) -> tuple[int, str]:
    """A program that must not run: (exit code, the error message of the file)."""
    code, doc, err = run_program(run, program)
    assert doc["ok"] is False and doc["error"], doc
    assert "internal error" not in doc["error"] + err
    return code, doc["error"]


def central_difference(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """∂f/∂x of a scalar numpy function, element by element."""
    x = np.array(x, dtype=float)
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        out[i] = (f(up) - f(down)) / (2 * h)
    return out


def literal(a) -> str:
    """A numpy array (or number) as adiff program text, every digit kept."""
    return json.dumps(np.asarray(a, dtype=float).tolist())


# =====================================================================================================
# The lecture's three examples (REFERENCE.md sections 1-3), against hand-derived formulas
# =====================================================================================================

CHAIN = """
x = 2
v = x^2
u = sin(v)
f = exp(u)
"""


def test_reference_section_1_chain_rule(run):
    x = 2.0
    v = x * x
    u = math.sin(v)
    df_du = math.exp(u)
    du_dv = math.cos(v)
    dv_dx = 2 * x
    oracle = {
        "grad(f, x)": df_du * du_dv * dv_dx,
        "grad(f, v)": df_du * du_dv,  # v held independent
        "grad(u, x)": du_dv * dv_dx,
        "grad(f, u)": df_du,
        "grad(u, v)": du_dv,
        "grad(v, x)": dv_dx,
    }
    # the hand formulas are the lecture's numbers
    assert oracle["grad(f, x)"] == pytest.approx(CHAIN_PARTIALS[("f", "x")], rel=1e-14)
    assert oracle["grad(f, v)"] == pytest.approx(CHAIN_PARTIALS[("f", "v")], rel=1e-14)
    assert oracle["grad(u, x)"] == pytest.approx(CHAIN_PARTIALS[("u", "x")], rel=1e-14)
    got = values(run, CHAIN, *oracle)
    for (expr, expected), g in zip(oracle.items(), got, strict=True):
        assert float(g) == pytest.approx(expected, rel=1e-12), expr


def test_reference_section_1_in_one_expression(run):
    expected = CHAIN_DF_DX
    assert float(value(run, "x = 2\nf = exp(sin(x^2))", "grad(f, x)")) == pytest.approx(expected, rel=1e-12)


PERCEPTRON = """
i1 = 0.5
i2 = -0.3
y = 0.4
w1 = -0.2
w2 = 0.2
b = 0.1
z = w1*i1 + w2*i2 + b
p = sigmoid(z)
c = (p - y)^2
"""


def test_reference_section_2_perceptron(run):
    i1, i2, y, w1, w2, b = 0.5, -0.3, 0.4, -0.2, 0.2, 0.1
    z = w1 * i1 + w2 * i2 + b
    p = 1 / (1 + math.exp(-z))
    dc_dz = 2 * (p - y) * p * (1 - p)
    oracle = {"grad(c, w1)": dc_dz * i1, "grad(c, w2)": dc_dz * i2, "grad(c, b)": dc_dz,
              "grad(c, p)": 2 * (p - y), "grad(p, z)": p * (1 - p), "grad(c, i1)": dc_dz * w1}
    for name in ("w1", "w2", "b"):
        assert oracle[f"grad(c, {name})"] == pytest.approx(PERCEPTRON_GRADIENTS[name], rel=1e-12)
    got = values(run, PERCEPTRON, *oracle)
    for (expr, expected), g in zip(oracle.items(), got, strict=True):
        assert float(g) == pytest.approx(expected, rel=1e-12), expr


A_CONV = np.array(CONV_A)
K_CONV = np.array(CONV_K)
CONV = f"""
A = {CONV_A}
K = {CONV_K}
y = {CONV_Y}
F = conv2d(A, K)
G = relu(F)
p = mean(G)
c = abs(p - y)
"""


def correlate_valid(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    """TensorFlow's conv2d, "valid", stride 1: a cross-correlation, written out in loops."""
    rows, cols = a.shape[0] - k.shape[0] + 1, a.shape[1] - k.shape[1] + 1
    out = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            out[i, j] = np.sum(a[i:i + k.shape[0], j:j + k.shape[1]] * k)
    return out


def conv_loss(a: np.ndarray, k: np.ndarray) -> float:
    return abs(np.mean(np.maximum(correlate_valid(a, k), 0)) - CONV_Y)


def test_reference_section_3_conv2d(run):
    reference = np.array(CONV_DC_DK)
    fd_k = central_difference(lambda k: conv_loss(A_CONV, k), K_CONV)
    fd_a = central_difference(lambda a: conv_loss(a, K_CONV), A_CONV)
    np.testing.assert_allclose(fd_k, reference, atol=1e-8)  # the oracle agrees with the lecture
    dK, dA, dG, dF, dp = values(run, CONV, "grad(c, K)", "grad(c, A)", "grad(c, G)", "grad(c, F)",
                                "grad(c, p)")
    np.testing.assert_allclose(dK, reference, atol=1e-12)
    np.testing.assert_allclose(dA, fd_a, atol=1e-8)
    np.testing.assert_allclose(dG, CONV_DC_DG, atol=1e-12)  # dc/dp · 1/2 for the mean
    np.testing.assert_allclose(dF, CONV_DC_DF, atol=1e-12)  # relu passes only F > 0
    assert float(dp) == CONV_DC_DP


# =====================================================================================================
# Named steps held independent, and nesting
# =====================================================================================================

def test_named_step_is_held_independent(run):
    # f = v·x with v = x^2: the total derivative is 3x^2; with v held, ∂f/∂v = x, ∂f/∂x = v.
    program = "x = 1.5\nv = x^2\nf = v*x"
    total, by_v, dv = values(run, program, "grad(f, x)", "grad(f, v)", "grad(v, x)")
    assert float(total) == pytest.approx(3 * 1.5 ** 2, rel=1e-14)
    assert float(by_v) == pytest.approx(1.5, rel=1e-14)
    assert float(dv) == pytest.approx(3.0, rel=1e-14)


def test_grad_with_respect_to_a_step_then_its_input(run):
    """grad(grad(f, v), x): ∂f/∂v with v held, then its total derivative in x (v flows again)."""
    x, y, V = sp.symbols("x y V")
    F = sp.exp(sp.sin(V) * y) * x  # f as a function of x, y and the held step v
    at = {x: sp.Rational(3, 4), y: sp.Rational(-6, 5)}
    G = sp.diff(F, V).subs(V, x ** 2)  # grad(f, v), as a function of the inputs
    expected = {
        "grad(f, v)": G,
        "grad(grad(f, v), x)": sp.diff(G, x),
        "grad(grad(f, v), y)": sp.diff(G, y),
        "grad(f, x)": sp.diff(F.subs(V, x ** 2), x),
    }
    program = "x = 0.75\ny = -1.2\nv = x^2\nu = sin(v)*y\nf = exp(u)*x"
    got = values(run, program, *expected)
    for (expr, formula), g in zip(expected.items(), got, strict=True):
        assert float(g) == pytest.approx(float(formula.subs(at)), rel=1e-12), expr


def test_mixed_partial_of_the_brief(run):
    # f = x^2·y^3: ∂²f/∂x∂y = 6xy^2 = 108 at (2, 3), whichever order
    program = "x = 2\ny = 3\nf = x^2*y^3"
    xy, yx, g = values(run, program, "grad(grad(f, x), y)", "grad(grad(f, y), x)", "grad(f, y)")
    assert float(xy) == 108 and float(yx) == 108
    assert float(g) == 3 * 4 * 9


def test_named_derivative_steps_nest(run):
    program = "x = 2\ny = 3\nf = x^2*y^3\ng = grad(f, x)\nh = grad(g, y)"
    g, h = values(run, program, "g", "h")
    assert float(g) == 2 * 2 * 27 and float(h) == 108


def test_third_and_fourth_order_of_a_polynomial(run):
    x, y = sp.symbols("x y")
    f = x ** 4 * y + 3 * x ** 3 - 2 * x * y ** 2 + 5 * y ** 3
    at = {x: sp.Rational(3, 2), y: sp.Rational(-7, 10)}
    cases = {
        "grad(grad(grad(f, x), x), x)": sp.diff(f, x, 3),
        "grad(grad(grad(f, x), x), y)": sp.diff(f, x, 2, y),
        "grad(grad(grad(f, x), y), y)": sp.diff(f, x, y, 2),
        "grad(grad(grad(f, y), y), y)": sp.diff(f, y, 3),
        "grad(grad(grad(grad(f, x), x), x), x)": sp.diff(f, x, 4),
        "grad(grad(grad(grad(f, x), y), x), x)": sp.diff(f, x, 3, y),
    }
    program = "x = 1.5\ny = -0.7\nf = x^4*y + 3*x^3 - 2*x*y^2 + 5*y^3"
    got = values(run, program, *cases)
    for (expr, formula), g in zip(cases.items(), got, strict=True):
        assert float(g) == pytest.approx(float(formula.subs(at)), rel=1e-12, abs=1e-12), expr


# -----------------------------------------------------------------------------------------------------
# random smooth expressions: second and mixed partials against sympy
# -----------------------------------------------------------------------------------------------------

UNARY = {
    "sin": (lambda a: f"sin({a})", sp.sin),
    "cos": (lambda a: f"cos({a})", sp.cos),
    "exp": (lambda a: f"exp({a})", sp.exp),
    "tanh": (lambda a: f"tanh({a})", sp.tanh),
    "square": (lambda a: f"({a})^2", lambda e: e ** 2),
    "cube": (lambda a: f"({a})^3", lambda e: e ** 3),
    "neg": (lambda a: f"-({a})", lambda e: -e),
    "log1p2": (lambda a: f"log(1 + ({a})^2)", lambda e: sp.log(1 + e ** 2)),
    "sqrt1p2": (lambda a: f"sqrt(1 + ({a})^2)", lambda e: sp.sqrt(1 + e ** 2)),
    "sigmoid": (lambda a: f"sigmoid({a})", lambda e: 1 / (1 + sp.exp(-e))),
    "atan": (lambda a: f"atan({a})", sp.atan),
}
BINARY = {
    "+": (lambda a, b: f"({a}) + ({b})", lambda a, b: a + b),
    "-": (lambda a, b: f"({a}) - ({b})", lambda a, b: a - b),
    "*": (lambda a, b: f"({a}) * ({b})", lambda a, b: a * b),
    "/": (lambda a, b: f"({a}) / (1 + ({b})^2)", lambda a, b: a / (1 + b ** 2)),
}
X, Y = sp.symbols("x y")


@st.composite
def smooth(draw, depth: int = 3) -> tuple[str, sp.Expr]:
    """(adiff text, sympy expression) of a random smooth expression in x and y."""
    kinds = ["unary", "binary"] if depth == 3 else ["leaf", "unary", "binary"] if depth else ["leaf"]
    kind = draw(st.sampled_from(kinds))
    if kind == "leaf":
        leaf = draw(st.sampled_from(["x", "y", "x", "y", "const"]))
        if leaf == "const":
            n = draw(st.integers(-8, 8))
            return (f"({n / 4!r})", sp.Rational(n, 4))
        return (leaf, X if leaf == "x" else Y)
    if kind == "unary":
        text, expr = draw(smooth(depth - 1))
        to_text, to_sym = UNARY[draw(st.sampled_from(sorted(UNARY)))]
        return to_text(text), to_sym(expr)
    (ta, ea), (tb, eb) = draw(smooth(depth - 1)), draw(smooth(depth - 1))
    to_text, to_sym = BINARY[draw(st.sampled_from(sorted(BINARY)))]
    return to_text(ta, tb), to_sym(ea, eb)


COORD = st.integers(-50, 50)  # the point, in fiftieths: exact in the program text and in sympy


def assert_close(got: float, expected: float, what: str) -> None:
    assert math.isclose(got, expected, rel_tol=1e-8, abs_tol=1e-10), f"{what}: {got} != {expected}"


@SETTINGS
@given(smooth(), COORD, COORD)
def test_second_and_mixed_partials_against_sympy(run, f, nx, ny):
    text, expr = f
    at = {X: sp.Rational(nx, 50), Y: sp.Rational(ny, 50)}
    oracle = {
        "grad(f, x)": sp.diff(expr, X),
        "grad(grad(f, x), x)": sp.diff(expr, X, 2),
        "grad(grad(f, x), y)": sp.diff(expr, X, Y),
        "grad(grad(f, y), x)": sp.diff(expr, Y, X),
        "grad(grad(f, y), y)": sp.diff(expr, Y, 2),
    }
    expected = {k: complex(v.evalf(30, subs=at)) for k, v in oracle.items()}
    value_f = complex(expr.evalf(30, subs=at))
    assume(all(abs(v) < 1e12 and v.imag == 0 for v in [*expected.values(), value_f]))
    program = f"x = {nx / 50!r}\ny = {ny / 50!r}\nf = {text}"
    got = values(run, program, *oracle)
    for (expr_text, e), g in zip(expected.items(), got, strict=True):
        assert_close(float(g), e.real, f"{expr_text} of f = {text} at x = {nx / 50}, y = {ny / 50}")


# =====================================================================================================
# hessian(f, x)
# =====================================================================================================

def test_hessian_of_sum_of_cubes_is_diag_6x(run):
    x = np.array([1.0, -2.0, 0.5, 3.0])
    H = value(run, f"x = {literal(x)}\nf = sum(x^3)", "hessian(f, x)")
    np.testing.assert_allclose(H, np.diag(6 * x), rtol=1e-14, atol=0)


def test_hessian_of_a_non_separable_function(run):
    # f = (Σ x_i^2)^2: H = 8 x xᵀ + 4 (Σ x_i^2) I
    x = np.array([1.0, 2.0, -3.0])
    H = value(run, f"x = {literal(x)}\nf = sum(x^2)^2", "hessian(f, x)")
    np.testing.assert_allclose(H, 8 * np.outer(x, x) + 4 * (x @ x) * np.eye(3), rtol=1e-14)


def test_hessian_against_sympy(run):
    xs = sp.symbols("x0:3")
    point = [0.5, -1.2, 0.3]
    f = sum(sp.exp(v) for v in xs) * sum(xs) / 3  # sum(exp(x)) * mean(x)
    expected = np.array(sp.hessian(f, xs).subs(dict(zip(xs, point, strict=True))).evalf(), dtype=float)
    H, g2 = values(run, f"x = {literal(point)}\nf = sum(exp(x))*mean(x)", "hessian(f, x)",
                   "grad(grad(f, x), x)")
    np.testing.assert_allclose(H, expected, rtol=1e-12)
    # grad(grad(f, x), x) is the gradient of sum(grad(f, x)): the Hessian's row sums
    np.testing.assert_allclose(g2, expected.sum(axis=0), rtol=1e-12)


def test_hessian_of_a_matrix_input(run):
    X = np.array([[1.0, 2.0], [-3.0, 0.5]])
    H = value(run, f"X = {literal(X)}\nf = sum(X^3)", "hessian(f, X)")
    expected = np.zeros((2, 2, 2, 2))
    for i, j in np.ndindex(2, 2):
        expected[i, j, i, j] = 6 * X[i, j]
    assert H.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(H, expected, rtol=1e-14)


def test_hessian_of_a_scalar(run):
    assert float(value(run, "x = 2\nf = x^4", "hessian(f, x)")) == 12 * 2 ** 2


def test_hessian_of_a_quadratic_form(run):
    """0.5·xᵀAx has the Hessian (A + Aᵀ)/2; if a second derivative through matmul is not
    available, the error says so plainly (exit 2), never an internal error."""
    A = np.array([[2.0, 1.0, 0.0], [-1.0, 3.0, 0.5], [0.0, 2.0, 1.0]])
    x = np.array([1.0, -2.0, 0.5])
    program = f"x = {literal(x)}\nA = {literal(A)}\nf = 0.5 * sum(x * (A @ x))"
    code, doc, err = run_program(run, program, ("hessian(f, x)",))
    if doc["error"] is None:
        np.testing.assert_allclose(np.asarray(doc["expects"][0]["lhs"]), (A + A.T) / 2, rtol=1e-14)
    else:
        assert code == 2
        assert "internal error" not in doc["error"] + err
        assert "second derivative" in doc["error"] and "matmul" in doc["error"]


def test_first_order_gradient_of_a_quadratic_form(run):
    A = np.array([[2.0, 1.0, 0.0], [-1.0, 3.0, 0.5], [0.0, 2.0, 1.0]])
    x = np.array([1.0, -2.0, 0.5])
    g = value(run, f"x = {literal(x)}\nA = {literal(A)}\nf = 0.5 * sum(x * (A @ x))", "grad(f, x)")
    np.testing.assert_allclose(g, 0.5 * (A + A.T) @ x, rtol=1e-14)


def test_grad_of_a_hessian_is_right_or_an_error(run):
    code, doc, _ = run_program(run, "x = 2\nf = x^4", ("grad(hessian(f, x), x)",))
    if doc["error"] is None:
        assert doc["expects"][0]["lhs"] == pytest.approx(48.0)
    else:
        assert code == 2 and "hessian" in doc["error"]


# =====================================================================================================
# Through array operations (first order) and broadcasting
# =====================================================================================================

def test_grad_through_broadcasting_of_a_scalar(run):
    x = np.array([1.0, -2.0, 4.5])
    program = f"w = 0.75\nx = {literal(x)}\nf = sum(w*x)"
    dw, dx, dw_array_target = values(run, program, "grad(f, w)", "grad(f, x)", "grad(w*x, w)")
    assert float(dw) == pytest.approx(x.sum(), rel=1e-15)
    np.testing.assert_allclose(dx, np.full(3, 0.75), rtol=0)
    assert float(dw_array_target) == pytest.approx(x.sum(), rel=1e-15)  # the gradient of sum(w*x)


def test_grad_through_broadcasting_of_a_column_and_a_row(run):
    a = np.array([[1.0], [2.0]])
    b = np.array([3.0, 4.0, 5.0])
    program = f"a = {literal(a)}\nb = {literal(b)}\nf = sum(a * b)"
    da, db = values(run, program, "grad(f, a)", "grad(f, b)")
    np.testing.assert_allclose(da, central_difference(lambda t: np.sum(t * b), a), rtol=1e-8)
    np.testing.assert_allclose(db, central_difference(lambda t: np.sum(a * t), b), rtol=1e-8)
    assert da.shape == (2, 1) and db.shape == (3,)


def test_grad_of_an_array_target_broadcast_both_ways(run):
    program = "a = [[1], [2]]\nb = [3, 4, 5]\nf = sum(a)"
    da, db = values(run, program, "grad(a*b, a)", "grad(a*b, b)")
    np.testing.assert_allclose(da, [[12.0], [12.0]])
    np.testing.assert_allclose(db, [3.0, 3.0, 3.0])


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


W0 = np.array([[0.1, -0.2, 0.3], [0.4, 0.05, -0.5]])
X0 = np.array([1.0, 2.0, -1.0])
T0 = np.array([0.2, 0.8])
M0 = np.array([[0.3, -1.1], [0.7, 0.2]])
N0 = np.array([[0.5, 0.1, -0.4], [-0.6, 0.9, 0.25]])
IMG = np.array([[0.1, -0.3, 0.8, 0.2], [0.5, 0.4, -0.7, 0.9], [-0.2, 0.6, 0.3, -0.1]])

ARRAY_CASES = {
    "softmax-matmul": (
        f"W = {literal(W0)}\nx = {literal(X0)}\nt = {literal(T0)}\nf = sum(softmax(W @ x) * t)",
        {"W": (W0, lambda W: np.sum(softmax(W @ X0) * T0)),
         "x": (X0, lambda x: np.sum(softmax(W0 @ x) * T0))}),
    "logsumexp-matmul": (
        f"M = {literal(M0)}\nN = {literal(N0)}\nf = logsumexp(M @ N)",
        {"M": (M0, lambda M: np.log(np.sum(np.exp(M @ N0)))),
         "N": (N0, lambda N: np.log(np.sum(np.exp(M0 @ N))))}),
    "transpose-mean-tanh": (
        f"N = {literal(N0)}\nf = mean(tanh(N' @ N))",
        {"N": (N0, lambda N: np.mean(np.tanh(N.T @ N)))}),
    "conv2d-squared": (
        f"A = {literal(IMG)}\nK = {literal(M0)}\nf = sum(conv2d(A, K)^2)",
        {"K": (M0, lambda K: np.sum(correlate_valid(IMG, K) ** 2)),
         "A": (IMG, lambda A: np.sum(correlate_valid(A, M0) ** 2))}),
    "mean-axis": (
        f"N = {literal(N0)}\nv = [1, 2, 3]\nf = sum(exp(mean(N, axis=0)) * v)",
        {"N": (N0, lambda N: np.sum(np.exp(N.mean(axis=0)) * [1, 2, 3]))}),
}


@pytest.mark.parametrize("case", sorted(ARRAY_CASES))
def test_grad_through_array_operations_against_central_differences(run, case):
    program, wrts = ARRAY_CASES[case]
    got = values(run, program, *(f"grad(f, {w})" for w in wrts))
    for (name, (point, fn)), g in zip(wrts.items(), got, strict=True):
        expected = central_difference(fn, point)
        assert g.shape == point.shape, name
        np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-9, err_msg=f"{case}: d/d{name}")


def test_grad_through_a_product_with_an_array_literal(run):
    g = value(run, "x = [1, 2]\nf = sum(x * [3, 4])", "grad(f, x)")
    np.testing.assert_allclose(g, [3.0, 4.0])


def test_first_order_grad_through_matmul_as_the_last_statement(run):
    program = "x = [1, 2]\nA = [[2, 1], [1, 3]]\nf = sum(x * (A @ x))\ng = grad(f, x)"
    code, doc, _ = run_program(run, program + "\nexpect g == [8, 14]")  # (A + A^T) x = 2 A x
    assert doc["error"] is None, doc["error"]
    assert code == 0 and doc["expects"][0]["ok"]


# =====================================================================================================
# Not connected, unknown names, wrong calls
# =====================================================================================================

@pytest.mark.parametrize("y_text, shape", [("0.5", ()), ("[1, 2, 3]", (3,)), ("[[1, 2], [3, 4]]", (2, 2))])
def test_grad_of_a_function_not_depending_on_y_is_zero_of_y_shape(run, y_text, shape):
    g = value(run, f"x = [1, 2]\ny = {y_text}\nf = sum(x^2)", "grad(f, y)")
    assert g.shape == shape
    assert np.all(g == 0)


def test_grad_with_respect_to_a_name_not_in_the_program(run):
    code, message = error_of(run, "x = 1\nf = x^2\nexpect grad(f, q) == 0")
    assert code == 2
    assert "'q'" in message
    assert "line 3" in message


def test_unknown_name_error_gives_advice_that_works_in_run(run):
    _, message = error_of(run, "x = 1\nf = x^2\nexpect grad(f, q) == 0")
    assert "--at" not in message


@pytest.mark.parametrize("wrt", ["2", "x + 1"])
def test_grad_with_respect_to_something_that_is_not_a_variable(run, wrt):
    code, message = error_of(run, f"x = 1\nf = x^2\nexpect grad(f, {wrt}) == 0")
    assert code == 2 and "grad" in message


@pytest.mark.parametrize("call", ["grad()", "grad(f)", "grad(f, x, x)", "grad(f, x=1)", 'grad(f, "x")',
                                  "hessian(f)", "hessian(f, x, x)"])
def test_grad_with_wrong_arguments_is_a_clear_error(run, call):
    code, message = error_of(run, f"x = 1\nf = x^2\nexpect {call} == 0")
    name = call.split("(")[0]
    assert code == 2
    assert f"{name}() takes two arguments" in message
    assert "line 3" in message


# =====================================================================================================
# grad's result in further arithmetic
# =====================================================================================================

def test_gradient_descent_step(run):
    # f = (x - 3)^2 at x = 1: f' = -4, so x1 = 1 - 0.1·(-4) = 1.4; dx1/dx = 1 - 0.1·2 = 0.8
    program = "x = 1\nf = (x - 3)^2\nx1 = x - 0.1 * grad(f, x)\nf1 = (x1 - 3)^2"
    x1, dx1, f1, df1 = values(run, program, "x1", "grad(x1, x)", "f1", "grad(f1, x)")
    assert float(x1) == pytest.approx(1.4, rel=1e-15)
    assert float(dx1) == pytest.approx(0.8, rel=1e-15)
    assert float(f1) == pytest.approx(1.6 ** 2, rel=1e-14)
    assert float(df1) == pytest.approx(2 * (1.4 - 3) * 0.8, rel=1e-14)


def test_gradient_descent_step_on_arrays(run):
    # loss = Σ(w - t)^2, w1 = w - 0.25·∇loss = (w + t)/2
    w, t = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    program = f"w = {literal(w)}\nt = {literal(t)}\nloss = sum((w - t)^2)\nw1 = w - 0.25 * grad(loss, w)"
    code, doc, _ = run_program(run, program, ("w1", "grad(sum(w1^2), w)"))
    assert doc["error"] is None, doc["error"]
    w1, dw = (np.asarray(e["lhs"]) for e in doc["expects"])
    np.testing.assert_allclose(w1, (w + t) / 2, rtol=1e-15)
    np.testing.assert_allclose(dw, 2 * w1 * 0.5, rtol=1e-15)
    # adiff run's own gradient of the target w1: of sum(w1), 1/2 for each element of w and t
    np.testing.assert_allclose(doc["gradients"]["w1"]["w"], [0.5, 0.5], rtol=1e-15)
    np.testing.assert_allclose(doc["gradients"]["w1"]["t"], [0.5, 0.5], rtol=1e-15)


def test_grad_values_in_expressions_and_comparisons(run):
    # the gradient of a sigmoid at 0 is 1/4, so 4·grad = 1 and a comparison on it is true
    program = "z = 0\np = sigmoid(z)"
    scaled, compared = values(run, program, "4 * grad(p, z) - 1", "1 * (grad(p, z) > 0.2)")
    assert float(scaled) == pytest.approx(0.0, abs=1e-15)
    assert float(compared) == 1.0
