"""Array programs: reductions, shapes, linear algebra, layers and losses, checked against
independent oracles only.

* The lecture's section 3 (conv2d, relu, mean, abs) through `adiff grad --json`, in float64 and
  float32, 2-D and NHWC/HWIO, against the numbers in REFERENCE.md and numpy float32 arithmetic.
* Every array operation under Hypothesis: the value against numpy written here (loops for conv2d
  and the pools), reverse mode against central differences of the program's value taken here,
  and `compare`'s reverse mode, forward mode and finite difference against each other.
* `adiff jacobian` against finite-difference Jacobians and hand-computed matrices, with the
  mode it chooses.
* Shape errors: exit code 2, no traceback, the message with the shapes and the statement's line.
* Array literals, transpose, indexing and slices, linspace/zeros/ones/eye, keyword arguments,
  input defaults, and the per-node table's summary of long arrays.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from reference import (
    CONV_A,
    CONV_C,
    CONV_DC_DF,
    CONV_DC_DG,
    CONV_DC_DK,
    CONV_DSUMF_DK,
    CONV_F,
    CONV_K,
    CONV_Y,
)

from autodiff_cli import api
from autodiff_cli.parse import parse

RTOL, ATOL = 1e-6, 1e-8
HYPO = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------------------------
# REFERENCE.md section 3: convolution, relu, mean, absolute error
# ---------------------------------------------------------------------------------------------

NET = "F = conv2d(A, K); G = relu(F); p = mean(G); c = abs(p - y)"
LECTURE_A = CONV_A
LECTURE_K = CONV_K
NET_AT = ("--at", f"A={LECTURE_A}", "--at", f"K={LECTURE_K}", "--at", f"y={CONV_Y}")
DC_DK = CONV_DC_DK
DC_DG = CONV_DC_DG
DC_DF = CONV_DC_DF
F_VALUE = CONV_F
DSUMF_DK = CONV_DSUMF_DK


def grad_json(run, *args):
    code, out, err = run("grad", *args, "--json")
    assert code == 0, err
    assert "Traceback" not in out + err
    return json.loads(out)


def lecture_float32():
    """The network computed here step by step in numpy float32 (every operation rounds to float32)."""
    f32 = np.float32
    a, k, y = np.array(LECTURE_A, f32), np.array(LECTURE_K, f32), f32(CONV_Y)
    f = np.array([[np.sum(a[:, j:j + 2] * k, dtype=f32) for j in range(2)]], dtype=f32)
    g = np.maximum(f, f32(0))
    p = (g[0, 0] + g[0, 1]) / f32(2)
    c = np.abs(p - y)
    dc_dp = f32(np.sign(p - y))
    dc_dg = np.full((1, 2), dc_dp / f32(2), dtype=f32)
    dc_df = np.where(f > 0, dc_dg, f32(0))
    dc_dk = np.zeros((2, 2), f32)
    for j in range(2):
        dc_dk += dc_df[0, j] * a[:, j:j + 2]
    return {"F": f, "c": c, "dK": dc_dk, "dG": dc_dg, "dF": dc_df}


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 1e-6)])
def test_lecture_network_gradients(run, dtype, tol):
    doc = grad_json(run, NET, *NET_AT, "--wrt", "K,G,F", "--dtype", dtype)
    got = doc["gradients"]["c"]
    np.testing.assert_allclose(got["K"], DC_DK, rtol=0, atol=tol)
    np.testing.assert_allclose(got["G"], DC_DG, rtol=0, atol=tol)
    np.testing.assert_allclose(got["F"], DC_DF, rtol=0, atol=tol)
    np.testing.assert_allclose(doc["targets"]["c"], CONV_C, rtol=0, atol=tol)
    # F = [[-0.09, 0.01]] and p = 0.005 = y/2: no relu at 0, no abs at 0, so nothing to warn about.
    assert doc["warnings"] == []
    assert doc["convention"] == "tensorflow"


def test_lecture_network_float32_is_float32_arithmetic(run):
    doc = grad_json(run, NET, *NET_AT, "--wrt", "K,G,F", "--dtype", "float32")
    ref = lecture_float32()
    got = doc["gradients"]["c"]
    for name, key in (("K", "dK"), ("G", "dG"), ("F", "dF")):
        values = np.array(got[name], dtype=np.float64)
        # Every value printed is a float32 number, and it is the one float32 arithmetic gives.
        np.testing.assert_array_equal(values, values.astype(np.float32).astype(np.float64))
        np.testing.assert_allclose(values, ref[key].astype(np.float64), rtol=1e-6, atol=1e-9)
    c = doc["targets"]["c"]
    assert c == float(np.float32(c))
    np.testing.assert_allclose(c, float(ref["c"]), rtol=1e-6, atol=0)
    # p - y cancels: float32's c differs visibly from float64's 0.005.
    assert abs(c - CONV_C) > 1e-9


def test_float32_adjoints_stay_float32_through_relu(run):
    r = api.grad(NET, at={"A": LECTURE_A, "K": LECTURE_K, "y": 0.01}, wrt="K,G,F", dtype="float32")
    assert all(np.asarray(v).dtype == np.float32 for v in r.gradients["c"].values())
    a = np.array([[0.3, 0.7], [0.2, 0.9]])
    b = np.array([[0.3, 0.1], [0.6, 0.4]])
    w = np.array([[0.1, 0.7], [0.3, 0.2]])
    doc = grad_json(run, "H = A * B; G = relu(H); c = sum(G * W)", "--at", f"A={a.tolist()}",
                    "--at", f"B={b.tolist()}", "--at", f"W={w.tolist()}", "--wrt", "A", "--dtype", "float32")
    f32 = np.float32
    expected = (w.astype(f32) * b.astype(f32)).astype(np.float64)  # dc/dA = W * B, rounded to float32
    np.testing.assert_array_equal(doc["gradients"]["c"]["A"], expected)


def test_lecture_network_forward_value_and_dF_dK(run):
    doc = grad_json(run, NET, *NET_AT, "--of", "F", "--wrt", "K")
    np.testing.assert_allclose(doc["targets"]["F"], F_VALUE, rtol=0, atol=1e-12)
    np.testing.assert_allclose(doc["gradients"]["F"]["K"], DSUMF_DK, rtol=0, atol=1e-12)
    (note,) = doc["warnings"]
    assert note["kind"] == "note"
    assert note["node"] == "F"
    assert "shape (1, 2)" in note["message"] and "sum(F)" in note["message"]


def test_lecture_network_forward_value_float32(run):
    doc = grad_json(run, NET, *NET_AT, "--of", "F", "--wrt", "K", "--dtype", "float32")
    ref = lecture_float32()
    np.testing.assert_allclose(doc["targets"]["F"], F_VALUE, rtol=0, atol=1e-6)
    np.testing.assert_allclose(doc["targets"]["F"], ref["F"].astype(np.float64), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(doc["gradients"]["F"]["K"], DSUMF_DK, rtol=0, atol=1e-6)
    assert [w["kind"] for w in doc["warnings"]] == ["note"]


def test_lecture_network_text_output_notes_the_sum(run):
    code, out, err = run("grad", NET, *NET_AT, "--of", "F", "--wrt", "K")
    assert code == 0
    assert "note: F is an array of shape (1, 2)" in err
    assert "sum(F)" in err


def test_lecture_network_nhwc_literals(run):
    a4 = np.array(LECTURE_A).reshape(1, 2, 3, 1).tolist()
    k4 = np.array(LECTURE_K).reshape(2, 2, 1, 1).tolist()
    doc = grad_json(run, NET, "--at", f"A={a4}", "--at", f"K={k4}", "--at", f"y={CONV_Y}", "--wrt", "K,F")
    got = doc["gradients"]["c"]
    np.testing.assert_allclose(got["K"], np.reshape(DC_DK, (2, 2, 1, 1)), rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["F"], np.reshape(DC_DF, (1, 1, 2, 1)), rtol=0, atol=1e-12)
    np.testing.assert_allclose(doc["targets"]["c"], CONV_C, rtol=0, atol=1e-12)
    doc = grad_json(run, NET, "--at", f"A={a4}", "--at", f"K={k4}", "--at", f"y={CONV_Y}", "--of", "F",
                    "--wrt", "K")
    np.testing.assert_allclose(doc["targets"]["F"], np.reshape(F_VALUE, (1, 1, 2, 1)), rtol=0, atol=1e-12)
    np.testing.assert_allclose(doc["gradients"]["F"]["K"], np.reshape(DSUMF_DK, (2, 2, 1, 1)),
                               rtol=0, atol=1e-12)


def test_lecture_network_nhwc_by_reshape(run):
    program = ("A4 = reshape(A, 1, 2, 3, 1); K4 = reshape(K, 2, 2, 1, 1); F = conv2d(A4, K4)\n"
               "G = relu(F); p = mean(G); c = abs(p - y)")
    doc = grad_json(run, program, *NET_AT, "--wrt", "K4,K")
    np.testing.assert_allclose(doc["gradients"]["c"]["K4"], np.reshape(DC_DK, (2, 2, 1, 1)),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(doc["gradients"]["c"]["K"], DC_DK, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Oracles written here
# ---------------------------------------------------------------------------------------------

def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def tf_axis(n, k, s, padding):
    """Output length and rows of padding before, from TensorFlow's documented formulas."""
    if padding == "valid":
        return (n - k) // s + 1, 0
    out = math.ceil(n / s)
    return out, max((out - 1) * s + k - n, 0) // 2


def ref_conv2d(a, k, stride=1, padding="valid"):
    """Cross-correlation with loops: out[n, y, x, o] = sum a[n, r, c, ch] k[i, j, ch, o], zero outside."""
    two_d = a.ndim == 2
    a4 = a[None, :, :, None] if two_d else a
    k4 = k[:, :, None, None] if two_d else k
    n, h, w, ch = a4.shape
    kh, kw, _, o = k4.shape
    sh, sw = pair(stride)
    ho, top = tf_axis(h, kh, sh, padding)
    wo, left = tf_axis(w, kw, sw, padding)
    out = np.zeros((n, ho, wo, o))
    for b in range(n):
        for y in range(ho):
            for x in range(wo):
                for i in range(kh):
                    for j in range(kw):
                        r, c = y * sh + i - top, x * sw + j - left
                        if 0 <= r < h and 0 <= c < w:
                            out[b, y, x, :] += a4[b, r, c, :] @ k4[i, j]
    return out[0, :, :, 0] if two_d else out


def ref_pool(a, size, stride, padding, kind):
    """Pooling with loops over the input elements inside each window (padding never counts)."""
    two_d = a.ndim == 2
    a4 = a[None, :, :, None] if two_d else a
    n, h, w, ch = a4.shape
    kh, kw = pair(size)
    sh, sw = pair(size if stride is None else stride)
    ho, top = tf_axis(h, kh, sh, padding)
    wo, left = tf_axis(w, kw, sw, padding)
    out = np.zeros((n, ho, wo, ch))
    for b in range(n):
        for y in range(ho):
            for x in range(wo):
                for c in range(ch):
                    window = [a4[b, r, q, c] for r in range(y * sh - top, y * sh - top + kh)
                              for q in range(x * sw - left, x * sw - left + kw) if 0 <= r < h and 0 <= q < w]
                    out[b, y, x, c] = max(window) if kind == "max" else sum(window) / len(window)
    return out[0, :, :, 0] if two_d else out


def ref_softmax(a, axis=-1):
    e = np.exp(a)
    return e / e.sum(axis=axis, keepdims=True)


def ref_logsumexp(a, axis=None):
    return np.log(np.exp(a).sum(axis=axis))


def value_of(prog, at):
    r = api.grad(prog, at=at)
    return np.asarray(r.targets[prog.target_name], dtype=np.float64)


def finite_difference(prog, at, name, h=1e-3):
    """d(sum of the program's value)/d(name), element by element, by the five-point central
    stencil (error O(h^4)); the values are the program's own, `grad(...).targets`."""
    x = np.asarray(at[name], dtype=np.float64)
    out = np.zeros(x.shape)
    for j in np.ndindex(x.shape):
        values = []
        for step in (h, -h, 2 * h, -2 * h):
            moved = x.copy()
            moved[j] += step
            values.append(float(np.sum(value_of(prog, {**at, name: moved[()]}))))
        out[j] = (8 * (values[0] - values[1]) - (values[2] - values[3])) / (12 * h)
    return out[()]


def finite_difference_jacobian(f, x, h=1e-3):
    """The Jacobian of a numpy function by the five-point central stencil, one column per element."""
    x = np.asarray(x, dtype=np.float64)
    columns = []
    for j in np.ndindex(x.shape):
        step = np.zeros(x.shape)
        step[j] = h
        columns.append((8 * (f(x + step) - f(x - step)) - (f(x + 2 * step) - f(x - 2 * step))) / (12 * h))
    return np.stack([np.ravel(c) for c in columns], axis=1)


# ---------------------------------------------------------------------------------------------
# Hypothesis: every array operation, reverse = forward = finite differences
# ---------------------------------------------------------------------------------------------

@dataclass
class Case:
    expr: str  # an expression of the inputs
    inputs: dict[str, np.ndarray]
    ref: Callable[[dict[str, np.ndarray]], np.ndarray]  # its value, by numpy
    wrt: list[str]


def floats(shape, lo=-2.0, hi=2.0):
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi, allow_nan=False, allow_subnormal=False))


def distinct(shape):
    """Values at least 0.1 apart: no ties for max, min and max_pool, even after a small step."""
    return hnp.arrays(np.int64, shape, elements=st.integers(-150, 150), unique=True).map(
        lambda a: a * 0.1 + 0.05)


def shapes(min_dims=1, max_dims=3, max_side=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


@st.composite
def reductions(draw):
    name = draw(st.sampled_from(["sum", "mean", "max", "min"]))
    shape = draw(shapes())
    a = draw(distinct(shape) if name in ("max", "min") else floats(shape))
    axis = draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    if axis is None:
        expr = f"{name}(A)"
    elif name in ("sum", "mean") and draw(st.booleans()):
        expr = f"{name}(A, {axis})"
    else:
        expr = f"{name}(A, axis={axis})"
    return Case(expr, {"A": a}, lambda v: getattr(np, name)(v["A"], axis=axis), ["A"])


@st.composite
def softmaxes(draw):
    shape = draw(shapes())
    a = draw(floats(shape))
    axis = draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    expr = "softmax(A)" if axis is None else f"softmax(A, axis={axis})"
    return Case(expr, {"A": a}, lambda v: ref_softmax(v["A"], -1 if axis is None else axis), ["A"])


@st.composite
def logsumexps(draw):
    shape = draw(shapes())
    a = draw(floats(shape))
    axis = draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    expr = "logsumexp(A)" if axis is None else f"logsumexp(A, axis={axis})"
    return Case(expr, {"A": a}, lambda v: ref_logsumexp(v["A"], axis), ["A"])


@st.composite
def matmuls(draw):
    m, n, p = (draw(st.integers(1, 4)) for _ in range(3))
    shape_a, shape_b = draw(st.sampled_from([((n,), (n,)), ((m, n), (n,)), ((n,), (n, p)), ((m, n), (n, p))]))
    spelling = draw(st.sampled_from(["A @ B", "dot(A, B)", "matmul(A, B)"]))
    inputs = {"A": draw(floats(shape_a)), "B": draw(floats(shape_b))}
    return Case(spelling, inputs, lambda v: v["A"] @ v["B"], ["A", "B"])


@st.composite
def transposes(draw):
    shape = draw(shapes())
    spelling = draw(st.sampled_from(["A'", "transpose(A)", "(2 * A)'"]))
    scale = 2.0 if spelling.startswith("(") else 1.0
    return Case(spelling, {"A": draw(floats(shape))}, lambda v: np.transpose(scale * v["A"]), ["A"])


@st.composite
def reshapes(draw):
    shape = draw(shapes())
    size = int(np.prod(shape))
    factors = [d for d in range(1, size + 1) if size % d == 0]
    first = draw(st.sampled_from(factors))
    rest = size // first
    second = draw(st.sampled_from([d for d in range(1, rest + 1) if rest % d == 0]))
    new = draw(st.sampled_from([(size,), (first, rest), (first, second, rest // second)]))
    if draw(st.booleans()):
        hole = draw(st.integers(0, len(new) - 1))
        new = tuple(-1 if i == hole else d for i, d in enumerate(new))
    expr = f"reshape(A, {', '.join(map(str, new))})"
    return Case(expr, {"A": draw(floats(shape))}, lambda v: np.reshape(v["A"], new), ["A"])


@st.composite
def subscripts(draw, n):
    """One subscript along an axis of length n, as (numpy key, program text); never empty."""
    kind = draw(st.sampled_from(["int", "slice", "reverse", "all"]))
    if kind == "int":
        i = draw(st.integers(-n, n - 1))
        return i, str(i)
    if kind == "all":
        return slice(None), ":"
    if kind == "reverse":
        step = draw(st.sampled_from([-1, -2]))
        start = draw(st.none() | st.integers(0, n - 1))
        return slice(start, None, step), f"{'' if start is None else start}::{step}"
    start = draw(st.integers(0, n - 1))
    stop = draw(st.integers(start + 1, n))
    step = draw(st.sampled_from([None, 1, 2]))
    start_text = draw(st.sampled_from([str(start), str(start - n)])) if start else ""
    stop_text = "" if stop == n and draw(st.booleans()) else str(stop)
    text = f"{start_text}:{stop_text}" + ("" if step is None else f":{step}")
    return slice(start, stop, step), text


@st.composite
def indexings(draw):
    shape = draw(shapes())
    count = draw(st.integers(1, len(shape)))
    keys, texts = zip(*(draw(subscripts(shape[i])) for i in range(count)), strict=True)
    expr = f"A[{', '.join(texts)}]"
    return Case(expr, {"A": draw(floats(shape))}, lambda v: v["A"][tuple(keys)], ["A"])


@st.composite
def stacks(draw):
    shape = draw(shapes(max_dims=2))
    k = draw(st.integers(2, 3))
    names = "ABC"[:k]
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    inputs = {n: draw(floats(shape)) for n in names}
    keyword = "" if axis == 0 and draw(st.booleans()) else f", axis={axis}"
    expr = f"stack({', '.join(names)}{keyword})"
    return Case(expr, inputs, lambda v: np.stack([v[n] for n in names], axis=axis), list(names))


@st.composite
def concats(draw):
    shape = draw(shapes(max_dims=2))
    k = draw(st.integers(2, 3))
    names = "ABC"[:k]
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    inputs = {}
    for n in names:
        own = list(shape)
        own[axis] = draw(st.integers(1, 3))
        inputs[n] = draw(floats(tuple(own)))
    keyword = "" if axis == 0 and draw(st.booleans()) else f", axis={axis}"
    expr = f"concat({', '.join(names)}{keyword})"
    return Case(expr, inputs, lambda v: np.concatenate([v[n] for n in names], axis=axis), list(names))


def stride_text(stride):
    return f"[{stride[0]}, {stride[1]}]" if isinstance(stride, tuple) else str(stride)


@st.composite
def convolutions(draw):
    padding = draw(st.sampled_from(["valid", "same"]))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    kh = draw(st.integers(1, h if padding == "valid" else 3))
    kw = draw(st.integers(1, w if padding == "valid" else 3))
    stride = draw(st.integers(1, 3) | st.tuples(st.integers(1, 3), st.integers(1, 3)))
    if draw(st.booleans()):  # NHWC input, HWIO kernel
        n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
        shape_a, shape_k = (n, h, w, c), (kh, kw, c, o)
    else:
        shape_a, shape_k = (h, w), (kh, kw)
    s = stride_text(stride)
    expr = draw(st.sampled_from([
        f'conv2d(A, K, stride={s}, padding="{padding}")',
        f'conv2d(A, K, {s}, "{padding}")',
    ]))
    if padding == "valid" and stride == 1 and draw(st.booleans()):
        expr = "conv2d(A, K)"
    inputs = {"A": draw(floats(shape_a)), "K": draw(floats(shape_k))}
    return Case(expr, inputs, lambda v: ref_conv2d(v["A"], v["K"], stride, padding), ["A", "K"])


@st.composite
def pools(draw):
    kind = draw(st.sampled_from(["avg", "max"]))
    padding = draw(st.sampled_from(["valid", "same"]))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    if padding == "valid":
        size = draw(st.integers(1, min(h, w)) | st.tuples(st.integers(1, h), st.integers(1, w)))
    else:
        size = draw(st.integers(1, 3) | st.tuples(st.integers(1, 3), st.integers(1, 3)))
    stride = draw(st.none() | st.integers(1, 3) | st.tuples(st.integers(1, 3), st.integers(1, 3)))
    shape = (h, w) if draw(st.booleans()) else (draw(st.integers(1, 2)), h, w, draw(st.integers(1, 2)))
    parts = [f"size={stride_text(size)}" if draw(st.booleans()) else stride_text(size)]
    if stride is not None:
        parts.append(f"stride={stride_text(stride)}")
    if padding == "same" or draw(st.booleans()):
        parts.append(f'padding="{padding}"')
    expr = f"{kind}_pool(A, {', '.join(parts)})"
    a = draw(distinct(shape) if kind == "max" else floats(shape))
    return Case(expr, {"A": a}, lambda v: ref_pool(v["A"], size, stride, padding, kind), ["A"])


@st.composite
def losses(draw):
    name = draw(st.sampled_from(["mse", "mae", "binary_crossentropy"]))
    shape = draw(shapes(max_dims=2))
    if name == "binary_crossentropy":
        p = draw(floats(shape, 0.1, 0.9))
        y = draw(floats(shape, 0.0, 1.0))

        def ref(v):
            return np.mean(-(v["Y"] * np.log(v["P"]) + (1 - v["Y"]) * np.log(1 - v["P"])))
    else:
        p = draw(floats(shape))
        signs = draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([-1, 1])))
        gap = draw(floats(shape, 0.05, 1.0)) * signs
        y = p + gap  # |p - y| >= 0.05: away from abs's kink

        def ref(v):
            d = v["P"] - v["Y"]
            return np.mean(d ** 2) if name == "mse" else np.mean(np.abs(d))
    return Case(f"{name}(P, Y)", {"P": p, "Y": y}, ref, ["P", "Y"])


BINARY = {
    "+": (np.add, (-2, 2), (-2, 2)),
    "-": (np.subtract, (-2, 2), (-2, 2)),
    "*": (np.multiply, (-2, 2), (-2, 2)),
    "/": (np.divide, (-2, 2), (0.5, 2)),
    "^": (np.power, (0.5, 2), (-2, 2)),
}
UNARY = {"": lambda x: x, "sin": np.sin, "exp": np.exp, "tanh": np.tanh,
         "sigmoid": lambda x: 1 / (1 + np.exp(-x))}
BROADCAST_SHAPES = [((3, 1), (1, 4)), ((1, 4), (3, 1)), ((4,), (3, 1)), ((2, 3), (3,)), ((), (2, 3)),
                    ((2, 3), ()), ((2, 1, 3), (4, 1)), ((3, 4), (3, 4)), ((1,), (3, 2))]


@st.composite
def broadcasts(draw):
    symbol = draw(st.sampled_from(sorted(BINARY)))
    f, lo_a, lo_b = BINARY[symbol]
    fname = draw(st.sampled_from(sorted(UNARY)))
    shape_a, shape_b = draw(st.sampled_from(BROADCAST_SHAPES))
    a, b = draw(floats(shape_a, *lo_a)), draw(floats(shape_b, *lo_b))
    if fname and symbol == "^":  # keep the base positive
        fname = "exp"
    left = f"{fname}(A)" if fname else "A"
    g = UNARY[fname]
    return Case(f"{left} {symbol} B", {"A": a, "B": b}, lambda v: f(g(v["A"]), v["B"]), ["A", "B"])


FAMILIES = {
    "reductions": reductions, "softmax": softmaxes, "logsumexp": logsumexps, "matmul": matmuls,
    "transpose": transposes, "reshape": reshapes, "index": indexings, "stack": stacks,
    "concat": concats, "conv2d": convolutions, "pool": pools, "losses": losses,
    "broadcast": broadcasts,
}


def assert_close(actual, expected, what, rtol=RTOL, atol=ATOL):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@HYPO
@given(data=st.data())
def test_reverse_forward_and_finite_differences_agree(family, data):
    case = data.draw(FAMILIES[family](), label="case")
    value = np.asarray(case.ref(case.inputs), dtype=np.float64)
    inputs = dict(case.inputs)
    if value.ndim:  # weight an array result, so the check sees every element (sum(softmax) is 1)
        inputs["Wt"] = data.draw(floats(value.shape, -2, 2), label="Wt")
        program = f"f = sum(Wt * ({case.expr}))"
        expected = float(np.sum(inputs["Wt"] * value))
    else:
        program = f"f = {case.expr}"
        expected = float(value)
    prog = parse(program)
    result = api.grad(prog, at=inputs, wrt=case.wrt)
    assert_close(result.targets["f"], expected, f"value of {program}", rtol=1e-10, atol=1e-12)
    assert [w for w in result.warnings if w.kind != "note"] == []
    for name in case.wrt:
        reverse = result.gradients["f"][name]
        assert np.shape(reverse) == np.shape(inputs[name])
        assert_close(reverse, finite_difference(prog, inputs, name), f"reverse vs own FD, d/d{name}")
        (check,) = api.compare(prog, at=inputs, wrt=name).pairs
        assert_close(check.reverse, reverse, f"compare's reverse, d/d{name}", rtol=1e-12, atol=0)
        assert_close(check.forward, check.reverse, f"forward vs reverse, d/d{name}")
        assert_close(check.finite_difference.value, check.reverse, f"compare's FD vs reverse, d/d{name}")
        assert check.agree


# ---------------------------------------------------------------------------------------------
# adiff jacobian
# ---------------------------------------------------------------------------------------------

X3 = np.array([0.1, 0.5, -0.3])
W23 = np.array([[0.2, -0.4, 0.7], [1.1, 0.3, -0.6]])


def softmax_jacobian(x):
    s = ref_softmax(x)
    return np.diag(s) - np.outer(s, s)


JACOBIANS = [
    # program, inputs, wrt, the same function in numpy of wrt, hand-computed Jacobian, mode, passes
    ("s = softmax(x)", {"x": X3}, "x", ref_softmax, softmax_jacobian(X3), "reverse", 3),
    ("s = W @ x", {"W": W23, "x": X3}, "x", lambda x: W23 @ x, W23, "reverse", 2),
    ("s = W @ x", {"W": W23, "x": X3}, "W", lambda w: w @ X3, np.kron(np.eye(2), X3), "reverse", 2),
    ("s = x^2", {"x": X3}, "x", lambda x: x ** 2, np.diag(2 * X3), "reverse", 3),
    ("s = x * [1, 2, 3]", {"x": 2.0}, "x", lambda x: x * np.array([1.0, 2.0, 3.0]),
     [[1.0], [2.0], [3.0]], "forward", 1),
    ("s = transpose(reshape(x, 1, 2)) @ [[1, 2, 3]]", {"x": np.array([0.5, -1.5])}, "x",
     lambda x: np.outer(x, [1.0, 2.0, 3.0]), [[1, 0], [2, 0], [3, 0], [0, 1], [0, 2], [0, 3]], "forward", 2),
    ("s = sum(x^2)", {"x": X3}, "x", lambda x: np.sum(x ** 2), [2 * X3], "reverse", 1),
]


@pytest.mark.parametrize("program, at, wrt, f, expected, method, passes", JACOBIANS,
                         ids=[f"{c[0]} d/d{c[2]}" for c in JACOBIANS])
def test_jacobian_matches_hand_and_finite_differences(program, at, wrt, f, expected, method, passes):
    (result,) = api.jacobian(program, at=at, wrt=wrt)
    assert_close(result.matrix, finite_difference_jacobian(f, at[wrt]), "jacobian vs finite differences")
    assert_close(result.matrix, expected, "jacobian vs hand computation", rtol=1e-12, atol=1e-14)
    assert result.method == f"{method} mode, one pass per {'row' if method == 'reverse' else 'column'}"
    assert result.passes == passes
    rows, cols = result.matrix.shape
    assert (method == "reverse") == (rows <= cols)


def test_jacobian_cli_json_softmax(run):
    code, out, err = run("jacobian", "s = softmax(x)", "--at", "x=[0.1, 0.5, -0.3]", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["shape"] == [3, 3] and doc["of_shape"] == [3] and doc["wrt_shape"] == [3]
    assert doc["method"] == "reverse mode, one pass per row" and doc["passes"] == 3
    assert_close(doc["jacobian"], softmax_jacobian(X3), "softmax jacobian", rtol=1e-12, atol=1e-15)


def test_jacobian_cli_text_forward_mode(run):
    code, out, err = run("jacobian", "s = x * [1, 2, 3]", "--at", "x=2")
    assert code == 0, err
    assert "3 × 1" in out
    assert "forward mode" in out and "1 pass" in out
    for i, v in enumerate((1, 2, 3)):
        assert f"s[{i}] {v}" in " ".join(out.split())


# ---------------------------------------------------------------------------------------------
# Shape errors: user errors, exit code 2, the shapes and the statement
# ---------------------------------------------------------------------------------------------

SHAPE_ERRORS = [
    ("A = [[1, 2], [3, 4]]\nK = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]\nF = conv2d(A, K)", [], 3,
     ["conv2d: kernel 3×3 is larger than input 2×2", "F = conv2d(A, K)"]),
    ("x = 1\nC = A @ B", ["A=[[1, 2, 3], [4, 5, 6]]", "B=[[1, 2], [3, 4]]"], 2,
     ["matmul: (2, 3) @ (2, 2): inner dimensions 3 and 2 differ", "C = A @ B"]),
    ("x = [1, 2, 3]\ny = [1, 2]\nz = x + y", [], 3, ["add", "(3,)", "(2,)", "z = x + y"]),
    ("A = [[1, 2], [3, 4]]\nB = [[1, 2, 3]]\nC = A * B", [], 3, ["mul", "(2, 2)", "(1, 3)", "C = A * B"]),
    ("A = [[1, 2], [3, 4]]\ns = sum(A, axis=2)", [], 2,
     ["sum: axis 2 is out of range for an array of shape (2, 2)", "s = sum(A, axis=2)"]),
    ("A = [[1, 2], [3, 4]]\ns = softmax(A, axis=-3)", [], 2,
     ["softmax: axis -3 is out of range for an array of shape (2, 2)"]),
    ("A = [[1, 2], [3, 4]]\nB = reshape(A, 3, 2)", [], 2,
     ["reshape: cannot reshape an array of shape (2, 2) (4 elements) into (3, 2)", "B = reshape(A, 3, 2)"]),
    ("A = [[1, 2], [3, 4]]\nb = A[2, 0]", [], 2,
     ["index 2 is out of bounds for axis 0 with size 2", "(2, 2)", "b = A[2, 0]"]),
    ("A = [[1, 2], [3, 4]]\nb = A[0, 0, 0]", [], 2, ["index", "(2, 2)", "b = A[0, 0, 0]"]),
    ("a = [1, 2]\nb = [1, 2, 3]\nc = stack(a, b)", [], 3, ["stack", "(2,)", "(3,)", "c = stack(a, b)"]),
    ("a = [1, 2]\nb = [[1, 2, 3]]\nc = concat(a, b)", [], 3, ["concat", "(2,)", "(1, 3)"]),
    ("A = [[1, 2], [3, 4]]\nc = max_pool(A, 3)", [], 2, ["max_pool: window 3×3 is larger than input 2×2"]),
    ("x = 1\nf = sum([[x, 1], [2]])", [], 2, ["(2,)", "(1,)", "f = sum([[x, 1], [2]])"]),
]


@pytest.mark.parametrize("program, at, line, parts", SHAPE_ERRORS, ids=[p[3][0][:30] for p in SHAPE_ERRORS])
def test_shape_error_is_a_user_error(run, program, at, line, parts):
    args = [a for item in at for a in ("--at", item)]
    code, out, err = run("grad", program, *args)
    assert code == 2
    assert "Traceback" not in out + err and "internal error" not in err
    assert err.startswith(f"error at line {line}:")
    for part in parts:
        assert part in err


def test_shape_error_through_the_api_is_a_shape_error():
    from autodiff_cli.errors import ShapeError

    with pytest.raises(ShapeError) as info:
        api.grad("C = A @ B", at={"A": np.ones((2, 3)), "B": np.ones((2, 2))})
    assert "inner dimensions 3 and 2 differ" in info.value.message
    assert info.value.exit_code == 2


def test_unknown_keyword_names_the_parameters(run):
    code, out, err = run("grad", "A = [[1, 2], [3, 4]]\ns = sum(A, axs=0)")
    assert code == 2
    assert "Traceback" not in out + err
    assert "error at line 2" in err
    assert "sum() has no parameter 'axs': its parameters are axis" in err
    code, _, err = run("grad", "f = conv2d(A, K, strides=2)", "--at", "A=[[1, 2], [3, 4]]", "--at", "K=[[1]]")
    assert code == 2
    assert "no parameter 'strides'" in err and "stride, padding" in err


def test_ragged_literal_is_a_user_error_with_its_line(run):
    code, out, err = run("grad", "x = 1\nA = [[1, 2], [3]]\nf = sum(A)")
    assert code == 2
    assert "Traceback" not in out + err
    assert "error at line 2" in err and "different shapes" in err
    code, out, err = run("grad", "f = sum(A)", "--at", "A=[[1, 2], [3]]")
    assert code == 2
    assert "Traceback" not in out + err and "different shapes" in err


def test_ragged_literal_error_names_the_shapes_and_statement(run):
    code, _, err = run("grad", "x = 1\nA = [[1, 2], [3]]\nf = sum(A)")
    assert code == 2
    assert "(2,)" in err and "(1,)" in err
    assert "A = [[1, 2], [3]]" in err


# ---------------------------------------------------------------------------------------------
# Literals, transpose, indexing, constructors, keywords, defaults, long arrays
# ---------------------------------------------------------------------------------------------

A22 = [[0.4, 0.2], [0.9, 0.1]]


def test_array_literal_as_input_default(run):
    doc = grad_json(run, "w = [1, 2, 3]; f = sum(w * x)", "--at", "x=0.5")
    assert doc["inputs"]["w"] == [1, 2, 3]
    assert doc["targets"]["f"] == 3.0
    assert doc["gradients"]["f"] == {"w": [0.5, 0.5, 0.5], "x": 6.0}





@pytest.mark.parametrize("program, at, value, gradient", [
    pytest.param("f = sum([1, 2, 3] * x)", "x=0.5", 3.0, 6.0),
    pytest.param("f = sum(x * [-1, 2])", "x=0.5", 0.5, 1.0),
    pytest.param("f = dot([1, 2, 3], v)", "v=[0.5, 1, 2]", 8.5, [1.0, 2.0, 3.0]),
])
def test_array_literal_operand(run, program, at, value, gradient):
    doc = grad_json(run, program, "--at", at)
    assert doc["targets"]["f"] == value
    (got,) = doc["gradients"]["f"].values()
    assert got == gradient


def test_array_literal_with_names_flows_gradients(run):
    doc = grad_json(run, "v = [[x, 2 * x], [y, 1]]; f = sum(v * W)", "--at", "x=0.5,y=2",
                    "--at", "W=[[1, 2], [3, 4]]", "--wrt", "x,y")
    assert doc["targets"]["f"] == 0.5 + 2.0 + 6.0 + 4.0
    assert doc["gradients"]["f"] == {"x": 5.0, "y": 3.0}


def test_quote_transpose(run):
    w = [[1.0, 2.0], [3.0, 4.0]]
    doc = grad_json(run, "B = A'; f = sum(B * W)", "--at", f"A={A22}", "--at", f"W={w}", "--wrt", "A")
    assert doc["targets"]["f"] == pytest.approx(np.sum(np.array(A22).T * w), abs=1e-15)
    np.testing.assert_array_equal(doc["gradients"]["f"]["A"], np.transpose(w))
    doc = grad_json(run, "f = v' @ A @ v", "--at", f"A={A22}", "--at", "v=[1, 2]", "--wrt", "v")
    a, v = np.array(A22), np.array([1.0, 2.0])
    assert doc["targets"]["f"] == pytest.approx(v @ a @ v, abs=1e-15)
    np.testing.assert_allclose(doc["gradients"]["f"]["v"], (a + a.T) @ v, rtol=0, atol=1e-15)


def test_index_element_gradient_is_one_hot(run):
    doc = grad_json(run, "f = A[1, 0]", "--at", f"A={A22}")
    assert doc["targets"]["f"] == 0.9
    np.testing.assert_array_equal(doc["gradients"]["f"]["A"], [[0, 0], [1, 0]])


def test_index_column_slice_gradient(run):
    doc = grad_json(run, "c = A[:, 0]; f = sum(c * w)", "--at", f"A={A22}", "--at", "w=[2, 3]",
                    "--wrt", "A,c")
    assert doc["targets"]["f"] == pytest.approx(2 * 0.4 + 3 * 0.9, abs=1e-15)
    np.testing.assert_array_equal(doc["gradients"]["f"]["A"], [[2, 0], [3, 0]])
    np.testing.assert_array_equal(doc["gradients"]["f"]["c"], [2, 3])


def test_index_row_and_stepped_slices(run):
    x = [0.5, 1.5, -2.0, 3.0, 0.25]
    doc = grad_json(run, "f = sum(x[::2] ^ 2) + x[-1] + sum(x[1:3])", "--at", f"x={x}")
    assert doc["targets"]["f"] == pytest.approx(0.25 + 4 + 0.0625 + 0.25 + 1.5 - 2.0, abs=1e-14)
    np.testing.assert_allclose(doc["gradients"]["f"]["x"], [1.0, 1.0, 1.0 - 4.0, 0.0, 0.5 + 1.0], atol=1e-15)
    doc = grad_json(run, "f = sum(A[1] * w)", "--at", f"A={A22}", "--at", "w=[5, 7]", "--wrt", "A")
    np.testing.assert_array_equal(doc["gradients"]["f"]["A"], [[0, 0], [5, 7]])
    doc = grad_json(run, "f = sum(A[::-1, 1:])", "--at", f"A={A22}")
    np.testing.assert_array_equal(doc["gradients"]["f"]["A"], [[0, 1], [0, 1]])


def test_repeated_index_adds_up(run):
    doc = grad_json(run, "f = A[0, 1] * A[0, 1] + A[0, 1]", "--at", f"A={A22}")
    np.testing.assert_allclose(doc["gradients"]["f"]["A"], [[0, 2 * 0.2 + 1], [0, 0]], atol=1e-15)


def test_linspace_zeros_ones_eye(run):
    doc = grad_json(run, "f = sum(linspace(0, 1, 5) * x)", "--at", "x=2")
    assert doc["targets"]["f"] == pytest.approx(5.0, abs=1e-15)
    assert doc["gradients"]["f"]["x"] == pytest.approx(2.5, abs=1e-15)
    doc = grad_json(run, "f = sum(linspace(-1, 1, num=3) * v)", "--at", "v=[1, 2, 4]")
    np.testing.assert_array_equal(doc["gradients"]["f"]["v"], [-1, 0, 1])
    doc = grad_json(run, "n = sum(linspace(0, 1) * x)", "--at", "x=1")  # num defaults to 50
    assert doc["targets"]["n"] == pytest.approx(25.0, abs=1e-13)
    doc = grad_json(run, "Z = zeros(2, 3) + x; O = ones(2, 3) * x; f = sum(Z) + sum(O)", "--at", "x=0.5")
    assert doc["targets"]["f"] == 6.0
    assert doc["gradients"]["f"]["x"] == 12.0
    doc = grad_json(run, "f = sum((eye(3) * 2) @ v)", "--at", "v=[1, 2, 3]")
    assert doc["targets"]["f"] == 12.0
    np.testing.assert_array_equal(doc["gradients"]["f"]["v"], [2, 2, 2])


def test_constructors_in_at_values(run):
    doc = grad_json(run, "f = sum(x^2)", "--at", "x=linspace(-3, 3, 7)")
    np.testing.assert_array_equal(doc["inputs"]["x"], [-3, -2, -1, 0, 1, 2, 3])
    assert doc["targets"]["f"] == 28.0
    np.testing.assert_array_equal(doc["gradients"]["f"]["x"], [-6, -4, -2, 0, 2, 4, 6])
    doc = grad_json(run, "f = sum(A @ v)", "--at", "A=eye(2)", "--at", "v=ones(2)")
    assert doc["inputs"]["A"] == [[1, 0], [0, 1]] and doc["inputs"]["v"] == [1, 1]
    np.testing.assert_array_equal(doc["gradients"]["f"]["A"], [[1, 1], [1, 1]])


def test_keyword_arguments(run):
    a = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    doc = grad_json(run, "f = sum(sum(A, axis=0) * w)", "--at", f"A={a}", "--at", "w=[1, 2, 3]", "--wrt", "A")
    assert doc["targets"]["f"] == 5 + 14 + 27
    np.testing.assert_array_equal(doc["gradients"]["f"]["A"], [[1, 2, 3], [1, 2, 3]])
    doc = grad_json(run, "f = sum(mean(A, axis=-1) * w)", "--at", f"A={a}", "--at", "w=[1, 2]", "--wrt", "A")
    assert doc["targets"]["f"] == pytest.approx(2 + 10, abs=1e-14)
    np.testing.assert_allclose(doc["gradients"]["f"]["A"], [[1 / 3] * 3, [2 / 3] * 3], atol=1e-15)
    doc = grad_json(run, "f = sum(avg_pool(A, size=2, stride=1))", "--at", f"A={a}")
    assert doc["targets"]["f"] == pytest.approx(3 + 4, abs=1e-14)
    np.testing.assert_allclose(doc["gradients"]["f"]["A"], [[0.25, 0.5, 0.25], [0.25, 0.5, 0.25]], atol=1e-15)
    doc = grad_json(run, "f = sum(max_pool(A, size=[2, 1]))", "--at", f"A={a}")
    assert doc["targets"]["f"] == 4 + 5 + 6
    np.testing.assert_array_equal(doc["gradients"]["f"]["A"], [[0, 0, 0], [1, 1, 1]])
    doc = grad_json(run, 'f = sum(conv2d(A, K, padding="same"))', "--at", f"A={a}",
                    "--at", "K=[[1, 1], [1, 1]]", "--wrt", "K")
    # "same" with a 2x2 kernel pads one row below and one column right (TensorFlow's split).
    out = ref_conv2d(np.array(a), np.ones((2, 2)), 1, "same")
    np.testing.assert_array_equal(out, [[12, 16, 9], [9, 11, 6]])
    assert doc["targets"]["f"] == out.sum()
    np.testing.assert_array_equal(doc["gradients"]["f"]["K"], [[21, 16], [15, 11]])
    doc = grad_json(run, "f = sum(conv2d(A, K, stride=2))", "--at", f"A={a}", "--at", "K=[[1]]", "--wrt", "K")
    assert doc["targets"]["f"] == 1 + 3 + 0  # rows 0, columns 0 and 2
    assert doc["gradients"]["f"]["K"] == [[4.0]]


def test_input_default_and_override(run):
    program = "A = [[1, 2], [3, 4]]; f = sum(A^2)"
    doc = grad_json(run, program)
    assert doc["inputs"]["A"] == [[1, 2], [3, 4]]
    assert doc["targets"]["f"] == 30
    np.testing.assert_array_equal(doc["gradients"]["f"]["A"], [[2, 4], [6, 8]])
    doc = grad_json(run, program, "--at", "A=[[0.5, 1], [1, 1], [2, 0]]")
    assert doc["inputs"]["A"] == [[0.5, 1], [1, 1], [2, 0]]
    assert doc["targets"]["f"] == 7.25
    np.testing.assert_array_equal(doc["gradients"]["f"]["A"], [[1, 2], [2, 2], [4, 0]])


def test_long_array_is_summarized_and_full_prints_every_element(run):
    args = ("grad", "y = sum(x^2)", "--at", "x=linspace(-3, 3, 1000)")
    code, out, err = run(*args)
    assert code == 0, err
    assert "shape (1000,)" in out
    assert "..." in out
    assert len(out) < 5000
    xs = np.linspace(-3, 3, 1000)
    assert f"{xs[500]:.8g}" not in out
    code, full, err = run(*args, "--full")
    assert code == 0, err
    assert "shape (1000,)" not in full
    for i in (1, 250, 499, 500, 750, 998):  # array elements show 8 significant digits
        assert f"{xs[i]:.8g}" in full, i
        assert f"{2 * xs[i]:.8g}" in full, i


def test_json_holds_every_element(run):
    doc = grad_json(run, "y = sum(x^2)", "--at", "x=linspace(-3, 3, 1000)")
    xs = np.linspace(-3, 3, 1000)
    assert len(doc["gradients"]["y"]["x"]) == 1000
    np.testing.assert_allclose(doc["gradients"]["y"]["x"], 2 * xs, rtol=0, atol=1e-15)
    assert doc["targets"]["y"] == pytest.approx(np.sum(xs ** 2), rel=1e-14)


# ---------------------------------------------------------------------------------------------
# A target that is itself an array: the gradient of its sum
# ---------------------------------------------------------------------------------------------

def broadcast_sum_gradients(x, y, f):
    """d sum(f(x, y)) / dx and / dy by the five-point stencil on numpy."""
    return (finite_difference_jacobian(lambda v: np.sum(f(v, y)), x).reshape(np.shape(x)),
            finite_difference_jacobian(lambda v: np.sum(f(x, v)), y).reshape(np.shape(y)))


ARRAY_TARGETS = [
    pytest.param("s = x * y", np.arange(6.0).reshape(2, 3), np.array([0.5, -1.0, 2.0]), np.multiply,
                 id="mul (2,3) (3,)"),
    pytest.param("s = x - y", np.arange(6.0).reshape(2, 3), np.ones((2, 3)), np.subtract,
                 id="sub same shape"),
    pytest.param("s = x + y", np.arange(6.0).reshape(2, 3), np.array([1.0, 2.0, 3.0]), np.add,
                 id="add (2,3) (3,)"),
    pytest.param("s = x + y", np.array([[1.0], [2.0], [3.0]]), np.array([[1.0, 2.0, 3.0, 4.0]]), np.add,
                 id="add (3,1) (1,4)"),
    pytest.param("s = x * y", np.array([[1.0], [2.0]]), np.array([1.0, 2.0, 3.0]), np.multiply,
                 id="mul (2,1) (3,)"),
    pytest.param("s = x / y", np.array([[1.0], [2.0]]), np.array([[1.0, 2.0, 4.0]]), np.divide,
                 id="div (2,1) (1,3)"),
]


@pytest.mark.parametrize("program, x, y, f", ARRAY_TARGETS)
def test_array_target_with_broadcasting_is_the_gradient_of_its_sum(program, x, y, f):
    result = api.grad(program, at={"x": x, "y": y})
    assert_close(result.targets["s"], f(x, y), "value", rtol=0, atol=0)
    dx, dy = broadcast_sum_gradients(x, y, f)
    assert_close(result.gradients["s"]["x"], dx, "ds/dx")
    assert_close(result.gradients["s"]["y"], dy, "ds/dy")


def test_array_target_with_broadcasting_through_the_cli(run):
    doc = grad_json(run, "s = x * w", "--at", "x=[[1], [2]]", "--at", "w=[1, 2, 3]")
    assert doc["gradients"]["s"] == {"x": [[6.0], [6.0]], "w": [3.0, 3.0, 3.0]}


@pytest.mark.parametrize("family", sorted(set(FAMILIES) - {"broadcast"}))
@HYPO
@given(data=st.data())
def test_array_target_gradient_is_that_of_its_sum(family, data):
    """Unweighted: the program's target is the array itself (the seed is all ones)."""
    case = data.draw(FAMILIES[family](), label="case")
    prog = parse(f"f = {case.expr}")
    result = api.grad(prog, at=case.inputs, wrt=case.wrt)
    assert_close(result.targets["f"], case.ref(case.inputs), "value", rtol=1e-10, atol=1e-12)
    for name in case.wrt:
        assert_close(result.gradients["f"][name], finite_difference(prog, case.inputs, name), f"d/d{name}")


def test_relu_of_a_conv_output_at_exactly_zero_warns_once(run):
    a = [[0.0, 0.2, 0.7], [0.9, 0.1, 0.5]]
    doc = grad_json(run, "F = conv2d(A, K)\nG = relu(F)\np = mean(G)", "--at", f"A={a}",
                    "--at", "K=[[1, 0], [0, 0]]", "--wrt", "K")
    assert doc["targets"]["p"] == pytest.approx(0.1, abs=1e-15)  # F = [[0, 0.2]]
    # relu'(0) = 0 in every framework: only the second window counts, with weight 1/2.
    np.testing.assert_allclose(doc["gradients"]["p"]["K"], [[0.1, 0.35], [0.05, 0.25]], rtol=0, atol=1e-15)
    (warning,) = doc["warnings"]
    assert warning["kind"] == "undefined-derivative"
    assert warning["node"] == "G" and warning["line"] == 2
    assert "relu is not differentiable where its argument is 0" in warning["message"]
    assert "tensorflow convention" in warning["message"]


def test_shape_error_in_a_real_process(shell):
    code, out, err = shell("grad", "C = A @ B", "--at", "A=[[1, 2, 3], [4, 5, 6]]",
                           "--at", "B=[[1, 2], [3, 4]]")
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    assert err.startswith("error at line 1: matmul: (2, 3) @ (2, 2): inner dimensions 3 and 2 differ")
