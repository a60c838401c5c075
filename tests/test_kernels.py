"""The numpy kernels of autodiff_cli.kernels, checked against independent oracles.

* Every forward function against a naive reference written here with plain Python loops, which
  reads the input element by element and treats positions outside it as padding (zero for
  conv2d, not counted for avg_pool, skipped for max_pool), with TensorFlow's "same" split computed
  here from its documented formula, and against hand-computed TensorFlow examples.
* Every vjp against central finite differences of ``sum(g * forward)`` for a random g, element by
  element; every jvp against central differences along the tangent; each vjp against its jvp by
  the dot-product identity <g, J t> = <J^T g, t>.
* float32 in gives float32 out; each ShapeError message, word for word.
"""

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import CONV_A, CONV_DC_DF, CONV_DC_DK, CONV_DSUMF_DK, CONV_F, CONV_K

from autodiff_cli.errors import ShapeError
from autodiff_cli.kernels import (
    avg_pool,
    avg_pool_jvp,
    avg_pool_vjp,
    conv2d,
    conv2d_jvp,
    conv2d_vjp,
    max_pool,
    max_pool_jvp,
    max_pool_vjp,
)

SETTINGS = settings(max_examples=50, deadline=None)
EPS = 1e-6


# ---------------------------------------------------------------------------------------------
# The oracle: naive loops
# ---------------------------------------------------------------------------------------------

def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def tf_axis(n, k, s, padding):
    """Output length and pad-before along one axis, from TensorFlow's documentation."""
    if padding == "valid":
        return math.floor((n - k) / s) + 1, 0
    out = math.ceil(n / s)
    pad_total = max((out - 1) * s + k - n, 0)
    return out, pad_total // 2


def to4(a):
    return a.reshape(1, *a.shape, 1) if a.ndim == 2 else a


def ref_conv2d(a, k, stride=1, padding="valid"):
    """out[n, y, x, o] = sum of a[n, r, c, ch] * k[i, j, ch, o] over the window, zero outside."""
    two_d = a.ndim == 2
    a4 = to4(a)
    k4 = k.reshape(*k.shape, 1, 1) if two_d else k
    n_, h, w, c_ = a4.shape
    kh, kw, _, o_ = k4.shape
    sh, sw = pair(stride)
    ho, pt = tf_axis(h, kh, sh, padding)
    wo, pl = tf_axis(w, kw, sw, padding)
    out = np.zeros((n_, ho, wo, o_))
    for n in range(n_):
        for y in range(ho):
            for x in range(wo):
                for o in range(o_):
                    total = 0.0
                    for i in range(kh):
                        for j in range(kw):
                            r, c = y * sh - pt + i, x * sw - pl + j
                            if 0 <= r < h and 0 <= c < w:
                                for ch in range(c_):
                                    total += a4[n, r, c, ch] * k4[i, j, ch, o]
                    out[n, y, x, o] = total
    return out[0, :, :, 0] if two_d else out


def ref_pool_windows(a, size, stride, padding):
    """For each output (n, y, x, ch): the list of (r, c) input positions in its window, row-major."""
    a4 = to4(a)
    n_, h, w, c_ = a4.shape
    kh, kw = pair(size)
    sh, sw = pair(size if stride is None else stride)
    ho, pt = tf_axis(h, kh, sh, padding)
    wo, pl = tf_axis(w, kw, sw, padding)
    windows = {}
    for y in range(ho):
        for x in range(wo):
            cells = []
            for i in range(kh):
                for j in range(kw):
                    r, c = y * sh - pt + i, x * sw - pl + j
                    if 0 <= r < h and 0 <= c < w:
                        cells.append((r, c))
            windows[y, x] = cells
    return a4, (n_, ho, wo, c_), windows


def ref_pool(a, size, stride=None, padding="valid", how="avg"):
    a4, shape, windows = ref_pool_windows(a, size, stride, padding)
    out = np.zeros(shape)
    for n in range(shape[0]):
        for ch in range(shape[3]):
            for (y, x), cells in windows.items():
                values = [a4[n, r, c, ch] for r, c in cells]
                out[n, y, x, ch] = sum(values) / len(values) if how == "avg" else max(values)
    return out[0, :, :, 0] if a.ndim == 2 else out


def ref_max_pool_vjp(g, a, size, stride=None, padding="valid"):
    """Each window's g goes to its first maximal element (strict > while scanning row-major)."""
    a4, shape, windows = ref_pool_windows(a, size, stride, padding)
    g4 = to4(g)
    ga = np.zeros(a4.shape)
    for n in range(shape[0]):
        for ch in range(shape[3]):
            for (y, x), cells in windows.items():
                best = None
                for r, c in cells:
                    if best is None or a4[n, r, c, ch] > a4[n, best[0], best[1], ch]:
                        best = (r, c)
                ga[n, best[0], best[1], ch] += g4[n, y, x, ch]
    return ga[0, :, :, 0] if a.ndim == 2 else ga


def fd_gradient(f, x):
    """Central differences of the scalar function f at x, element by element."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + EPS
        up = f(x)
        x[idx] = old - EPS
        down = f(x)
        x[idx] = old
        grad[idx] = (up - down) / (2 * EPS)
    return grad


# ---------------------------------------------------------------------------------------------
# Random cases
# ---------------------------------------------------------------------------------------------

strides = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))


@st.composite
def conv_cases(draw):
    """(a, k, stride, padding): 2-D or NHWC/HWIO, the kernel fitting the input when "valid"."""
    padding = draw(st.sampled_from(["valid", "same"]))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    if padding == "valid":
        kh, kw = min(kh, h), min(kw, w)
    stride = draw(strides)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        return rng.normal(size=(h, w)), rng.normal(size=(kh, kw)), stride, padding
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    return rng.normal(size=(n, h, w, c)), rng.normal(size=(kh, kw, c, o)), stride, padding


@st.composite
def pool_cases(draw, distinct=False, ties=False):
    """(a, size, stride, padding); distinct: values at least 0.1 apart; ties: small whole numbers."""
    padding = draw(st.sampled_from(["valid", "same"]))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    size = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    if padding == "valid":
        kh, kw = pair(size)
        size = (min(kh, h), min(kw, w))
    stride = draw(st.one_of(st.none(), strides))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (h, w) if draw(st.booleans()) else (draw(st.integers(1, 2)), h, w, draw(st.integers(1, 3)))
    count = int(np.prod(shape))
    if distinct:
        a = (rng.permutation(count) * 0.1 + rng.uniform(-0.01, 0.01, count)).reshape(shape)
    elif ties:
        a = rng.integers(0, 3, size=shape).astype(float)
    else:
        a = rng.normal(size=shape)
    return a, size, stride, padding


# ---------------------------------------------------------------------------------------------
# conv2d
# ---------------------------------------------------------------------------------------------

LECTURE_A = np.array(CONV_A)  # REFERENCE.md section 3
LECTURE_K = np.array(CONV_K)


def test_conv2d_lecture_example():
    np.testing.assert_allclose(conv2d(LECTURE_A, LECTURE_K), CONV_F, rtol=0, atol=1e-12)
    _, gk = conv2d_vjp(np.ones((1, 2)), LECTURE_A, LECTURE_K)
    np.testing.assert_allclose(gk, CONV_DSUMF_DK, rtol=0, atol=1e-12)
    _, gk = conv2d_vjp(np.array(CONV_DC_DF), LECTURE_A, LECTURE_K)
    np.testing.assert_allclose(gk, CONV_DC_DK, rtol=0, atol=1e-12)


def test_conv2d_lecture_example_nhwc():
    a4, k4 = LECTURE_A.reshape(1, 2, 3, 1), LECTURE_K.reshape(2, 2, 1, 1)
    out = conv2d(a4, k4)
    assert out.shape == (1, 1, 2, 1)
    np.testing.assert_allclose(out.reshape(1, 2), CONV_F, rtol=0, atol=1e-12)
    ga, gk = conv2d_vjp(np.ones((1, 1, 2, 1)), a4, k4)
    assert ga.shape == (1, 2, 3, 1) and gk.shape == (2, 2, 1, 1)
    np.testing.assert_allclose(gk.reshape(2, 2), CONV_DSUMF_DK, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ga.reshape(2, 3), [[0.3, -0.1, -0.4], [-0.2, 0.3, 0.5]], atol=1e-12)
    _, gk = conv2d_vjp(np.reshape(CONV_DC_DF, (1, 1, 2, 1)), a4, k4)
    np.testing.assert_allclose(gk.reshape(2, 2), CONV_DC_DK, rtol=0, atol=1e-12)


def test_conv2d_is_cross_correlation_not_convolution():
    a = np.zeros((3, 3))
    a[1, 1] = 1.0
    k = np.arange(1.0, 10.0).reshape(3, 3)
    # A unit impulse correlated with k gives k rotated by 180 degrees; convolution would give k.
    np.testing.assert_array_equal(conv2d(a, k, padding="same"), k[::-1, ::-1])


def test_conv2d_same_padding_tensorflow_examples():
    x = np.arange(9.0).reshape(3, 3)
    # pad_total = 1 per axis: nothing before, one row/column of zeros after.
    np.testing.assert_array_equal(conv2d(x, np.ones((2, 2)), padding="same"),
                                  [[8, 12, 7], [20, 24, 13], [13, 15, 8]])
    # H = 5, kh = 4, stride 2: Ho = 3, pad_total = 3 -> 1 before, 2 after.
    a = np.arange(1.0, 6.0).reshape(5, 1)
    k = np.array([[1.0], [10.0], [100.0], [1000.0]])
    np.testing.assert_array_equal(conv2d(a, k, stride=2, padding="same").ravel(),
                                  [0 + 10 + 200 + 3000, 2 + 30 + 400 + 5000, 4 + 50])
    # Kernel larger than the input is fine with "same": H = 2, kh = 3 -> 1 before, 1 after.
    np.testing.assert_array_equal(conv2d(np.array([[1.0, 2.0]]).T, np.array([[1.0], [10.0], [100.0]]),
                                         padding="same").ravel(), [10 + 200, 1 + 20])


def test_conv2d_stride_and_padding_spellings():
    rng = np.random.default_rng(0)
    a, k = rng.normal(size=(7, 6)), rng.normal(size=(3, 2))
    np.testing.assert_array_equal(conv2d(a, k, 2), conv2d(a, k, (2, 2)))
    np.testing.assert_array_equal(conv2d(a, k, 2), conv2d(a, k, 2.0))
    np.testing.assert_array_equal(conv2d(a, k, np.int64(2)), conv2d(a, k, [2, 2]))
    np.testing.assert_array_equal(conv2d(a, k, padding="SAME"), conv2d(a, k, padding="same"))
    assert conv2d(a, k, (2, 3)).shape == ((7 - 3) // 2 + 1, (6 - 2) // 3 + 1)
    assert conv2d(a, k, (2, 3), "same").shape == (4, 2)


@SETTINGS
@given(conv_cases())
def test_conv2d_matches_reference(case):
    a, k, stride, padding = case
    out = conv2d(a, k, stride, padding)
    ref = ref_conv2d(a, k, stride, padding)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(conv_cases(), st.integers(0, 2**32 - 1))
def test_conv2d_vjp_matches_finite_differences(case, seed):
    a, k, stride, padding = case
    g = np.random.default_rng(seed).normal(size=conv2d(a, k, stride, padding).shape)
    ga, gk = conv2d_vjp(g, a, k, stride, padding)
    assert ga.shape == a.shape and gk.shape == k.shape
    np.testing.assert_allclose(ga, fd_gradient(lambda x: np.sum(g * conv2d(x, k, stride, padding)), a),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gk, fd_gradient(lambda x: np.sum(g * conv2d(a, x, stride, padding)), k),
                               rtol=1e-6, atol=1e-8)


@SETTINGS
@given(conv_cases(), st.integers(0, 2**32 - 1))
def test_conv2d_jvp_and_vjp_are_transposes(case, seed):
    a, k, stride, padding = case
    rng = np.random.default_rng(seed)
    ta, tk = rng.normal(size=a.shape), rng.normal(size=k.shape)
    g = rng.normal(size=conv2d(a, k, stride, padding).shape)
    ga, gk = conv2d_vjp(g, a, k, stride, padding)
    jt = conv2d_jvp(ta, tk, a, k, stride, padding)
    np.testing.assert_allclose(np.sum(g * jt), np.sum(ga * ta) + np.sum(gk * tk), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.sum(g * conv2d_jvp(ta, None, a, k, stride, padding)), np.sum(ga * ta),
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.sum(g * conv2d_jvp(None, tk, a, k, stride, padding)), np.sum(gk * tk),
                               rtol=1e-10, atol=1e-10)
    # The jvp itself: central differences along (ta, tk).
    fd = (conv2d(a + EPS * ta, k + EPS * tk, stride, padding)
          - conv2d(a - EPS * ta, k - EPS * tk, stride, padding)) / (2 * EPS)
    np.testing.assert_allclose(jt, fd, rtol=1e-6, atol=1e-8)


def test_conv2d_jvp_of_zero_tangents_is_zero():
    out = conv2d_jvp(None, None, LECTURE_A, LECTURE_K)
    np.testing.assert_array_equal(out, np.zeros((1, 2)))


# ---------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------

def test_pool_same_padding_tensorflow_examples():
    x = np.arange(9.0).reshape(3, 3)
    # pad_total = 1 per axis, after: avg counts only the input elements in each window.
    np.testing.assert_array_equal(avg_pool(x, 2, padding="same"), [[2, 3.5], [6.5, 8]])
    np.testing.assert_array_equal(max_pool(x, 2, padding="same"), [[4, 5], [7, 8]])
    # Padding is -inf for max_pool, so a negative input still wins over it.
    np.testing.assert_array_equal(max_pool(-x - 1, 2, padding="same"), [[-1, -3], [-7, -9]])
    # size 3, stride 1 on 3x3: pad 1 before and 1 after.
    np.testing.assert_allclose(avg_pool(x, 3, 1, "same"),
                               [[2, 2.5, 3], [3.5, 4, 4.5], [5, 5.5, 6]], rtol=0, atol=1e-12)
    # avg_pool_vjp: each window shares g over its counted elements.
    np.testing.assert_allclose(avg_pool_vjp(np.ones((2, 2)), x, 2, padding="same"),
                               [[0.25, 0.25, 0.5], [0.25, 0.25, 0.5], [0.5, 0.5, 1.0]], rtol=0, atol=1e-12)


def test_pool_defaults_and_windows():
    x = np.arange(24.0).reshape(4, 6)
    np.testing.assert_array_equal(max_pool(x, 2), max_pool(x, 2, 2))
    np.testing.assert_array_equal(max_pool(x, (2, 3)), [[8, 11], [20, 23]])
    np.testing.assert_array_equal(avg_pool(x, (2, 3), (2, 3)), [[4, 7], [16, 19]])
    assert max_pool(x, 3, 1).shape == (2, 4)
    assert avg_pool(np.zeros((2, 5, 7, 3)), 2, padding="same").shape == (2, 3, 4, 3)


def test_max_pool_ties_go_to_the_first_maximal_element():
    a = np.array([[1.0, 3.0, 0.0, 0.0], [3.0, 3.0, 2.0, 3.0]])
    np.testing.assert_array_equal(max_pool_vjp(np.array([[10.0, 20.0]]), a, 2),
                                  [[0, 10, 0, 0], [0, 0, 0, 20]])
    # Overlapping windows choosing the same element add up.
    np.testing.assert_array_equal(max_pool_vjp(np.ones((1, 3)), a, 2, 1), [[0, 2, 0, 0], [0, 0, 0, 1]])
    np.testing.assert_array_equal(max_pool_jvp(np.arange(8.0).reshape(2, 4), a, 2), [[1, 7]])


def test_max_pool_gradient_never_goes_to_padding():
    a = np.full((1, 3, 3, 2), -np.inf)
    ga = max_pool_vjp(np.ones((1, 2, 2, 2)), a, 2, padding="same")
    expected = np.array([[1.0, 0, 1], [0, 0, 0], [1, 0, 1]])
    np.testing.assert_array_equal(ga[0, :, :, 0], expected)
    np.testing.assert_array_equal(ga[0, :, :, 1], expected)
    np.testing.assert_array_equal(max_pool(a, 2, padding="same"), np.full((1, 2, 2, 2), -np.inf))


@SETTINGS
@given(pool_cases())
def test_pools_match_reference(case):
    a, size, stride, padding = case
    for fn, how in ((avg_pool, "avg"), (max_pool, "max")):
        out = fn(a, size, stride, padding)
        ref = ref_pool(a, size, stride, padding, how)
        assert out.shape == ref.shape
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(pool_cases(ties=True), st.integers(0, 2**32 - 1))
def test_max_pool_vjp_and_jvp_with_ties_match_reference(case, seed):
    a, size, stride, padding = case
    rng = np.random.default_rng(seed)
    g = rng.normal(size=max_pool(a, size, stride, padding).shape)
    ga = max_pool_vjp(g, a, size, stride, padding)
    np.testing.assert_allclose(ga, ref_max_pool_vjp(g, a, size, stride, padding), rtol=1e-12, atol=1e-12)
    t = rng.normal(size=a.shape)
    np.testing.assert_allclose(np.sum(g * max_pool_jvp(t, a, size, stride, padding)), np.sum(ga * t),
                               rtol=1e-10, atol=1e-10)


@SETTINGS
@given(pool_cases(distinct=True), st.integers(0, 2**32 - 1))
def test_pool_vjps_match_finite_differences(case, seed):
    a, size, stride, padding = case
    rng = np.random.default_rng(seed)
    for fn, vjp in ((avg_pool, avg_pool_vjp), (max_pool, max_pool_vjp)):
        g = rng.normal(size=fn(a, size, stride, padding).shape)
        ga = vjp(g, a, size, stride, padding)
        assert ga.shape == a.shape
        fd = fd_gradient(lambda x, fn=fn, g=g: np.sum(g * fn(x, size, stride, padding)), a)
        # The difference quotient's rounding error is about ε·Σ|g·fn(a)|/EPS (1e-8 for inputs
        # near 10 over 120 elements): the absolute tolerance covers it.
        rounding = 4 * np.finfo(float).eps * float(np.sum(np.abs(g * fn(a, size, stride, padding)))) / EPS
        np.testing.assert_allclose(ga, fd, rtol=1e-6, atol=1e-8 + rounding)


@SETTINGS
@given(pool_cases(distinct=True), st.integers(0, 2**32 - 1))
def test_pool_jvps_and_vjps_are_transposes(case, seed):
    a, size, stride, padding = case
    rng = np.random.default_rng(seed)
    t = rng.normal(size=a.shape)
    for fn, vjp, jvp in ((avg_pool, avg_pool_vjp, avg_pool_jvp), (max_pool, max_pool_vjp, max_pool_jvp)):
        g = rng.normal(size=fn(a, size, stride, padding).shape)
        jt = jvp(t, a, size, stride, padding)
        np.testing.assert_allclose(np.sum(g * jt), np.sum(vjp(g, a, size, stride, padding) * t),
                                   rtol=1e-10, atol=1e-10)
        # The jvp itself: central differences along t (values 0.1 apart, so no argmax changes).
        fd = (fn(a + EPS * t, size, stride, padding) - fn(a - EPS * t, size, stride, padding)) / (2 * EPS)
        np.testing.assert_allclose(jt, fd, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------------------------------------
# float32
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("nhwc", [False, True])
def test_float32_in_float32_out(padding, nhwc):
    rng = np.random.default_rng(1)
    a64 = rng.normal(size=(2, 7, 6, 3) if nhwc else (7, 6))
    k64 = rng.normal(size=(3, 2, 3, 2) if nhwc else (3, 2))
    a, k = a64.astype(np.float32), k64.astype(np.float32)
    out = conv2d(a, k, 2, padding)
    g = rng.normal(size=out.shape).astype(np.float32)
    results = {
        "conv2d": (out, conv2d(a64, k64, 2, padding)),
        "conv2d_vjp": (conv2d_vjp(g, a, k, 2, padding), conv2d_vjp(g, a64, k64, 2, padding)),
        "conv2d_jvp": (conv2d_jvp(a, k, a, k, 2, padding), conv2d_jvp(a64, k64, a64, k64, 2, padding)),
        "conv2d_jvp_a": (conv2d_jvp(a, None, a, k, 2, padding), conv2d_jvp(a64, None, a64, k64, 2, padding)),
    }
    for name, fn, vjp, jvp in (("avg", avg_pool, avg_pool_vjp, avg_pool_jvp),
                               ("max", max_pool, max_pool_vjp, max_pool_jvp)):
        pooled = fn(a, 2, 1, padding)
        gp = rng.normal(size=pooled.shape).astype(np.float32)
        results[name] = (pooled, fn(a64, 2, 1, padding))
        results[name + "_vjp"] = (vjp(gp, a, 2, 1, padding), vjp(gp, a64, 2, 1, padding))
        results[name + "_jvp"] = (jvp(a, a, 2, 1, padding), jvp(a64, a64, 2, 1, padding))
    for name, (got, want) in results.items():
        got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
        for x, y in zip(got, want, strict=True):
            assert x.dtype == np.float32, name
            assert y.dtype == np.float64, name
            np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-4, err_msg=name)


def test_integer_input_computes_in_float64():
    assert conv2d(np.ones((3, 3), dtype=int), np.ones((2, 2), dtype=int)).dtype == np.float64
    assert max_pool(np.arange(16).reshape(4, 4), 2).dtype == np.float64


# ---------------------------------------------------------------------------------------------
# Shape errors
# ---------------------------------------------------------------------------------------------

Z = np.zeros

SHAPE_ERRORS = [
    (lambda: conv2d(Z((2, 2)), Z((3, 3))), "conv2d: kernel 3×3 is larger than input 2×2"),
    (lambda: conv2d(Z((5, 2)), Z((3, 3))), "conv2d: kernel 3×3 is larger than input 5×2"),
    (lambda: conv2d(Z((1, 2, 2, 1)), Z((3, 3, 1, 1))), "conv2d: kernel 3×3 is larger than input 2×2"),
    (lambda: conv2d(Z((1, 4, 4, 3)), Z((2, 2, 2, 5))),
     "conv2d: input has 3 channels but the kernel expects 2"),
    (lambda: conv2d(Z((1, 4, 4, 1)), Z((2, 2, 2, 5))),
     "conv2d: input has 1 channel but the kernel expects 2"),
    (lambda: conv2d(Z((2, 3)), Z((2, 2, 1))),
     "conv2d: input and kernel must both be 2-D (H, W) or 4-D NHWC and HWIO,"
     " got shapes (2, 3) and (2, 2, 1)"),
    (lambda: conv2d(Z((1, 2, 3, 1)), Z((2, 2))),
     "conv2d: input and kernel must both be 2-D (H, W) or 4-D NHWC and HWIO,"
     " got shapes (1, 2, 3, 1) and (2, 2)"),
    (lambda: conv2d(Z((3, 3)), Z((2, 2)), padding="full"),
     'conv2d: padding must be "valid" or "same", got "full"'),
    (lambda: conv2d(Z((3, 3)), Z((2, 2)), padding=None),
     'conv2d: padding must be "valid" or "same", got None'),
    (lambda: conv2d(Z((3, 3)), Z((2, 2)), stride=0), "conv2d: stride must be a positive whole number, got 0"),
    (lambda: conv2d(Z((3, 3)), Z((2, 2)), stride=1.5),
     "conv2d: stride must be a positive whole number, got 1.5"),
    (lambda: conv2d(Z((3, 3)), Z((2, 2)), stride=(1, 0)),
     "conv2d: stride must be a positive whole number, got (1, 0)"),
    (lambda: conv2d(Z((3, 3)), Z((2, 2)), stride=True),
     "conv2d: stride must be a positive whole number, got True"),
    (lambda: conv2d(Z((3, 3)), Z((0, 2))), "conv2d: kernel 0×2 is empty"),
    (lambda: conv2d(Z((0, 3)), Z((1, 1)), padding="same"), "conv2d: input 0×3 is empty"),
    (lambda: conv2d_vjp(Z((1, 3)), Z((2, 3)), Z((2, 2))),
     "conv2d: the output gradient has shape (1, 3) but must have shape (1, 2)"),
    (lambda: conv2d_vjp(Z((1, 2)), Z((2, 3)), Z((3, 3))), "conv2d: kernel 3×3 is larger than input 2×3"),
    (lambda: conv2d_jvp(Z((3, 2)), None, Z((2, 3)), Z((2, 2))),
     "conv2d: the input's tangent has shape (3, 2) but must have shape (2, 3)"),
    (lambda: conv2d_jvp(None, Z((2, 1)), Z((2, 3)), Z((2, 2))),
     "conv2d: the kernel's tangent has shape (2, 1) but must have shape (2, 2)"),
    (lambda: avg_pool(Z((2, 2)), 3), "avg_pool: window 3×3 is larger than input 2×2"),
    (lambda: max_pool(Z((1, 2, 2, 4)), (3, 1)), "max_pool: window 3×1 is larger than input 2×2"),
    (lambda: avg_pool(Z((2, 3, 4)), 2),
     "avg_pool: input must be 2-D (H, W) or 4-D NHWC, got shape (2, 3, 4)"),
    (lambda: max_pool(Z((4, 4)), 0), "max_pool: window size must be a positive whole number, got 0"),
    (lambda: max_pool(Z((4, 4)), 2, 0), "max_pool: stride must be a positive whole number, got 0"),
    (lambda: avg_pool(Z((4, 4)), 2, padding="full"),
     'avg_pool: padding must be "valid" or "same", got "full"'),
    (lambda: avg_pool_vjp(Z((3, 3)), Z((4, 4)), 2),
     "avg_pool: the output gradient has shape (3, 3) but must have shape (2, 2)"),
    (lambda: max_pool_vjp(Z((1, 2, 2, 1)), Z((1, 4, 4, 2)), 2),
     "max_pool: the output gradient has shape (1, 2, 2, 1) but must have shape (1, 2, 2, 2)"),
    (lambda: avg_pool_jvp(Z((4, 3)), Z((4, 4)), 2),
     "avg_pool: the input's tangent has shape (4, 3) but must have shape (4, 4)"),
    (lambda: max_pool_jvp(Z((4, 3)), Z((4, 4)), 2),
     "max_pool: the input's tangent has shape (4, 3) but must have shape (4, 4)"),
]


@pytest.mark.parametrize("call, message", SHAPE_ERRORS, ids=[m for _, m in SHAPE_ERRORS])
def test_shape_error_messages(call, message):
    with pytest.raises(ShapeError, match=re.escape(message)) as info:
        call()
    assert str(info.value) == message
    assert info.value.message == message
