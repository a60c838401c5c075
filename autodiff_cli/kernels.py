"""Numpy kernels for 2-D convolution and pooling, with their vector-Jacobian and Jacobian-vector products.

The conventions are TensorFlow's (``tf.nn.conv2d``, ``tf.nn.avg_pool2d``, ``tf.nn.max_pool2d``):

* ``conv2d`` is a cross-correlation: the kernel is not flipped (Octave's ``conv2`` flips it).
* Layouts: a single-channel image ``(H, W)`` with a kernel ``(kh, kw)``, or a batch in NHWC
  ``(N, H, W, C)`` with a kernel in HWIO ``(kh, kw, C, O)``.  The pools take ``(H, W)`` or NHWC and
  pool over H and W, each channel on its own.
* ``padding="valid"``: every window lies inside the input, ``Ho = floor((H - kh) / stride) + 1``.
  ``padding="same"``: ``Ho = ceil(H / stride)``; ``pad_total = max((Ho - 1) * stride + kh - H, 0)``
  rows are added, ``pad_total // 2`` before and the rest (one more when odd) after; likewise for W.
  ``conv2d`` pads with zeros, ``avg_pool`` averages over the input elements actually inside each
  window, ``max_pool`` treats the padding as -inf.
* The gradient of a ``max_pool`` window goes to its first maximal element in row-major window order
  (TensorFlow's MaxPoolGrad); the tangent of a window is the tangent at that same element.

Strides and window sizes are a positive whole number or a pair ``(along H, along W)``.  Padding is
``"valid"`` or ``"same"`` (upper case is accepted too).

Everything is vectorised with numpy: the only Python loops run over the ``kh * kw`` offsets inside a
window.  Each function computes in the floating dtype of its primal inputs (float32 stays float32,
float64 stays float64, integers become float64) and returns arrays of that dtype; output gradients
and tangents are cast to it.
"""

import math

import numpy as np

from .errors import ShapeError

__all__ = [
    "conv2d", "conv2d_vjp", "conv2d_jvp",
    "avg_pool", "avg_pool_vjp", "avg_pool_jvp",
    "max_pool", "max_pool_vjp", "max_pool_jvp",
]


# ---------------------------------------------------------------------------------------------
# Arguments and geometry
# ---------------------------------------------------------------------------------------------

def _show(value) -> str:
    """A value as it appears in an error message: strings in double quotes, tuples as (a, b)."""
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _is_positive_whole(value) -> bool:
    """True for 1, 2, 3, ... given as a Python or numpy integer or as a float with a whole value."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return value >= 1
    if isinstance(value, (float, np.floating)):
        return math.isfinite(value) and value >= 1 and value == math.floor(value)
    return False


def _positive_pair(name: str, what: str, value) -> tuple[int, int]:
    """``(v, v)`` for a whole number v, ``(v0, v1)`` for a pair; ShapeError for anything else."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or not all(_is_positive_whole(v) for v in items):
        raise ShapeError(f"{name}: {what} must be a positive whole number, got {_show(value)}")
    return int(items[0]), int(items[1])


def _padding_mode(name: str, padding) -> str:
    """``"valid"`` or ``"same"`` (any case); ShapeError for anything else."""
    if isinstance(padding, str) and padding.lower() in ("valid", "same"):
        return padding.lower()
    raise ShapeError(f'{name}: padding must be "valid" or "same", got {_show(padding)}')


def _float_dtype(*arrays: np.ndarray) -> np.dtype:
    """The common floating dtype of the arrays; float64 when none of them is floating."""
    dtype = np.result_type(*arrays)
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _axis_plan(n: int, k: int, s: int, padding: str) -> tuple[int, int, int]:
    """Output length and (pad before, pad after) along one axis of length n, window k, stride s."""
    if padding == "valid":
        return (n - k) // s + 1, 0, 0
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return out, total // 2, total - total // 2


class _Geometry:
    """Where the windows of one convolution or pooling lie in an NHWC input.

    Holds the input size, window size, strides, output size and padding split, and the few
    vectorised helpers every kernel is built from: padding, the strided window view, the slices
    that accumulate into the padded input for each window offset, and cropping the padding off.
    """

    def __init__(self, name: str, what: str, shape4: tuple[int, ...], kh: int, kw: int, stride, padding):
        self.sh, self.sw = _positive_pair(name, "stride", stride)
        self.padding = _padding_mode(name, padding)
        self.n, self.h, self.w, self.c = shape4
        self.kh, self.kw = kh, kw
        if kh == 0 or kw == 0:
            raise ShapeError(f"{name}: {what} {kh}×{kw} is empty")
        if self.h == 0 or self.w == 0:
            raise ShapeError(f"{name}: input {self.h}×{self.w} is empty")
        if self.padding == "valid" and (kh > self.h or kw > self.w):
            raise ShapeError(f"{name}: {what} {kh}×{kw} is larger than input {self.h}×{self.w}")
        self.ho, self.pt, self.pb = _axis_plan(self.h, kh, self.sh, self.padding)
        self.wo, self.pl, self.pr = _axis_plan(self.w, kw, self.sw, self.padding)

    @property
    def padded(self) -> bool:
        """Whether any padding is added."""
        return bool(self.pt or self.pb or self.pl or self.pr)

    @property
    def padded_shape(self) -> tuple[int, int, int, int]:
        """The shape of the padded NHWC input."""
        return (self.n, self.h + self.pt + self.pb, self.w + self.pl + self.pr, self.c)

    def pad(self, x4: np.ndarray, value=0) -> np.ndarray:
        """x4 (N, H, W, C or 1) padded along H and W with the constant value."""
        if not self.padded:
            return x4
        widths = ((0, 0), (self.pt, self.pb), (self.pl, self.pr), (0, 0))
        return np.pad(x4, widths, mode="constant", constant_values=value)

    def windows(self, xp: np.ndarray) -> np.ndarray:
        """The windows of a padded input as a read-only view of shape (N, Ho, Wo, C, kh, kw)."""
        view = np.lib.stride_tricks.sliding_window_view(xp, (self.kh, self.kw), axis=(1, 2))
        return view[:, ::self.sh, ::self.sw][:, :self.ho, :self.wo]

    def offsets(self):
        """For each window offset (i, j): i, j and the index of the padded input it touches.

        ``padded[index]`` has shape (N, Ho, Wo, C): element (n, y, x, c) is the one at offset (i, j)
        of window (y, x).  Within one offset the elements are distinct, so ``+=`` through the index
        accumulates correctly.
        """
        for i in range(self.kh):
            rows = slice(i, i + (self.ho - 1) * self.sh + 1, self.sh)
            for j in range(self.kw):
                cols = slice(j, j + (self.wo - 1) * self.sw + 1, self.sw)
                yield i, j, (slice(None), rows, cols, slice(None))

    def crop(self, xp: np.ndarray) -> np.ndarray:
        """The part of a padded array that lies over the input."""
        return xp[:, self.pt:self.pt + self.h, self.pl:self.pl + self.w, :]


def _as_nhwc(x: np.ndarray, two_d: bool) -> np.ndarray:
    """(H, W) -> (1, H, W, 1); NHWC unchanged."""
    return x[None, :, :, None] if two_d else x


def _from_nhwc(x4: np.ndarray, two_d: bool) -> np.ndarray:
    """(1, H, W, 1) -> (H, W) for the 2-D layout; a contiguous array either way."""
    return np.ascontiguousarray(x4[0, :, :, 0] if two_d else x4)


def _cotangent(name: str, what: str, t, expected: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An output gradient or input tangent, checked against the shape it must have, in dtype."""
    t = np.asarray(t)
    if t.shape != tuple(expected):
        raise ShapeError(f"{name}: {what} has shape {tuple(t.shape)} but must have shape {tuple(expected)}")
    return t.astype(dtype, copy=False)


# ---------------------------------------------------------------------------------------------
# conv2d
# ---------------------------------------------------------------------------------------------

class _Conv:
    """A checked conv2d call: the operands in NHWC/HWIO and the common dtype, and the geometry."""

    def __init__(self, a, k, stride, padding):
        a, k = np.asarray(a), np.asarray(k)
        if a.ndim == 2 and k.ndim == 2:
            self.two_d = True
        elif a.ndim == 4 and k.ndim == 4:
            self.two_d = False
        else:
            raise ShapeError("conv2d: input and kernel must both be 2-D (H, W) or 4-D NHWC and HWIO, "
                             f"got shapes {tuple(a.shape)} and {tuple(k.shape)}")
        self.a_shape, self.k_shape = tuple(a.shape), tuple(k.shape)
        self.dtype = _float_dtype(a, k)
        self.a4 = _as_nhwc(a, self.two_d).astype(self.dtype, copy=False)
        self.k4 = (k[:, :, None, None] if self.two_d else k).astype(self.dtype, copy=False)
        c, kc = self.a4.shape[3], self.k4.shape[2]
        if c != kc:
            raise ShapeError(f"conv2d: input has {c} channel{'s' if c != 1 else ''} "
                             f"but the kernel expects {kc}")
        self.geo = _Geometry("conv2d", "kernel", self.a4.shape, self.k4.shape[0], self.k4.shape[1],
                             stride, padding)

    @property
    def out_shape(self) -> tuple[int, ...]:
        """The output's shape in the caller's layout."""
        g = self.geo
        return (g.ho, g.wo) if self.two_d else (g.n, g.ho, g.wo, self.k4.shape[3])

    def forward(self, a4: np.ndarray, k4: np.ndarray) -> np.ndarray:
        """conv2d of NHWC a4 with HWIO k4 (shaped like this call's operands) -> (N, Ho, Wo, O)."""
        win = self.geo.windows(self.geo.pad(a4))  # (N, Ho, Wo, C, kh, kw)
        return np.tensordot(win, k4, axes=([4, 5, 3], [0, 1, 2]))


def conv2d(a, k, stride=1, padding="valid"):
    """2-D cross-correlation of ``a`` with kernel ``k``, as TensorFlow's ``tf.nn.conv2d``.

    ``out[n, y, x, o] = sum over i, j, c of pad(a)[n, y*sh + i, x*sw + j, c] * k[i, j, c, o]``:
    the kernel is not flipped.

    Args:
        a: the input, (H, W) or NHWC (N, H, W, C).
        k: the kernel, (kh, kw) with a 2-D input or HWIO (kh, kw, C, O) with an NHWC input.
        stride: a positive whole number, or a pair (along H, along W).
        padding: "valid" (no padding) or "same" (output ceil(H / stride) by ceil(W / stride), zero
            padding split as TensorFlow does: the odd row or column goes after).

    Returns:
        (Ho, Wo) for a 2-D input, (N, Ho, Wo, O) for NHWC, in the inputs' floating dtype.

    Raises:
        ShapeError: mismatched layouts or channels, a kernel larger than the input with "valid"
            padding, a bad stride or padding.
    """
    cv = _Conv(a, k, stride, padding)
    return _from_nhwc(cv.forward(cv.a4, cv.k4), cv.two_d)


def conv2d_vjp(g, a, k, stride=1, padding="valid"):
    """The vector-Jacobian products of ``conv2d``: ``(ga, gk)`` for the output gradient ``g``.

    ``ga = sum over outputs of g * d out / d a`` and likewise ``gk``; ``g`` has the output's shape,
    ``ga`` has ``a``'s shape and ``gk`` has ``k``'s shape.

    How: ``gk[i, j, c, o] = sum over n, y, x of window(n, y, x)[c, i, j] * g[n, y, x, o]``, one
    tensordot of the (strided) window view with g.  For ``ga``, ``g`` is multiplied by the kernel
    (one tensordot giving every window's contribution ``g[n, y, x, :] @ k[i, j].T``); the
    contributions of each offset (i, j) are added into a zero padded input through a strided
    slice (the transposed convolution), and the padding is cropped off.
    """
    cv = _Conv(a, k, stride, padding)
    geo = cv.geo
    g4 = _as_nhwc(_cotangent("conv2d", "the output gradient", g, cv.out_shape, cv.dtype), cv.two_d)
    contrib = np.tensordot(g4, cv.k4, axes=([3], [3]))  # (N, Ho, Wo, kh, kw, C)
    ga_p = np.zeros(geo.padded_shape, dtype=cv.dtype)
    for i, j, index in geo.offsets():
        ga_p[index] += contrib[:, :, :, i, j, :]
    ga = geo.crop(ga_p)
    win = geo.windows(geo.pad(cv.a4))  # (N, Ho, Wo, C, kh, kw)
    gk = np.tensordot(win, g4, axes=([0, 1, 2], [0, 1, 2])).transpose(1, 2, 0, 3)  # (kh, kw, C, O)
    if cv.two_d:
        return np.ascontiguousarray(ga[0, :, :, 0]), np.ascontiguousarray(gk[:, :, 0, 0])
    return np.ascontiguousarray(ga), np.ascontiguousarray(gk)


def conv2d_jvp(ta, tk, a, k, stride=1, padding="valid"):
    """The Jacobian-vector product of ``conv2d``: the output's tangent for tangents ``ta``, ``tk``.

    ``ta`` (shaped like ``a``) or ``tk`` (shaped like ``k``) may be None for a zero tangent.
    conv2d is bilinear, so the tangent is ``conv2d(ta, k) + conv2d(a, tk)``.
    """
    cv = _Conv(a, k, stride, padding)
    out = np.zeros((cv.geo.n, cv.geo.ho, cv.geo.wo, cv.k4.shape[3]), dtype=cv.dtype)
    if ta is not None:
        ta4 = _as_nhwc(_cotangent("conv2d", "the input's tangent", ta, cv.a_shape, cv.dtype), cv.two_d)
        out += cv.forward(ta4, cv.k4)
    if tk is not None:
        tk = _cotangent("conv2d", "the kernel's tangent", tk, cv.k_shape, cv.dtype)
        out += cv.forward(cv.a4, tk[:, :, None, None] if cv.two_d else tk)
    return _from_nhwc(out, cv.two_d)


# ---------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------

class _Pool:
    """A checked pooling call: the input in NHWC and its dtype, and the geometry."""

    def __init__(self, name: str, a, size, stride, padding):
        a = np.asarray(a)
        if a.ndim not in (2, 4):
            raise ShapeError(f"{name}: input must be 2-D (H, W) or 4-D NHWC, got shape {tuple(a.shape)}")
        self.name = name
        self.two_d = a.ndim == 2
        self.a_shape = tuple(a.shape)
        self.dtype = _float_dtype(a)
        self.a4 = _as_nhwc(a, self.two_d).astype(self.dtype, copy=False)
        kh, kw = _positive_pair(name, "window size", size)
        self.geo = _Geometry(name, "window", self.a4.shape, kh, kw, size if stride is None else stride,
                             padding)

    @property
    def out_shape(self) -> tuple[int, ...]:
        """The output's shape in the caller's layout."""
        g = self.geo
        return (g.ho, g.wo) if self.two_d else (g.n, g.ho, g.wo, g.c)

    def output_gradient(self, g) -> np.ndarray:
        """g checked against the output's shape, in NHWC and this call's dtype."""
        return _as_nhwc(_cotangent(self.name, "the output gradient", g, self.out_shape, self.dtype),
                        self.two_d)

    def tangent(self, t) -> np.ndarray:
        """t checked against the input's shape, in NHWC and this call's dtype."""
        return _as_nhwc(_cotangent(self.name, "the input's tangent", t, self.a_shape, self.dtype),
                        self.two_d)

    def counts(self) -> np.ndarray:
        """How many input elements (not padding) each window holds, shaped (1, Ho, Wo, 1)."""
        g = self.geo
        top = np.arange(g.ho) * g.sh - g.pt
        left = np.arange(g.wo) * g.sw - g.pl
        rows = np.clip(top + g.kh, 0, g.h) - np.clip(top, 0, g.h)
        cols = np.clip(left + g.kw, 0, g.w) - np.clip(left, 0, g.w)
        return np.outer(rows, cols).astype(self.dtype)[None, :, :, None]

    def argmax(self) -> tuple[np.ndarray, np.ndarray]:
        """Each window's values, flattened row-major to (N, Ho, Wo, C, kh*kw), and its chosen element.

        The chosen element is the first maximal one among the window's input elements (never the
        padding, even when the input there is -inf), as an index into the flattened window.
        """
        g = self.geo
        flat = g.windows(g.pad(self.a4, -np.inf)).reshape(g.n, g.ho, g.wo, g.c, g.kh * g.kw)
        idx = flat.argmax(axis=-1)
        if g.padded:
            inside = np.ones((1, g.h, g.w, 1), dtype=bool)
            inside = g.windows(g.pad(inside, False)).reshape(1, g.ho, g.wo, 1, g.kh * g.kw)
            chosen_inside = np.take_along_axis(inside, idx[..., None], axis=-1)[..., 0]
            idx = np.where(chosen_inside, idx, inside.argmax(axis=-1))
        return flat, idx


def avg_pool(a, size, stride=None, padding="valid"):
    """Average pooling over H and W, as TensorFlow's ``tf.nn.avg_pool2d``.

    Args:
        a: the input, (H, W) or NHWC (N, H, W, C); each channel is pooled on its own.
        size: the window, a positive whole number or a pair (along H, along W).
        stride: as size; defaults to the window size.
        padding: "valid" or "same"; with "same" each window averages only over the input
            elements inside it (the padding is not counted).

    Returns:
        (Ho, Wo) or (N, Ho, Wo, C), in the input's floating dtype.
    """
    pl = _Pool("avg_pool", a, size, stride, padding)
    geo = pl.geo
    sums = geo.windows(geo.pad(pl.a4)).sum(axis=(4, 5))
    return _from_nhwc(sums / pl.counts(), pl.two_d)


def avg_pool_vjp(g, a, size, stride=None, padding="valid"):
    """The vector-Jacobian product of ``avg_pool``: the input gradient ``ga`` for output gradient ``g``.

    How: each window spreads its ``g`` evenly over the input elements it averages, ``g / count``;
    for every offset (i, j) of the window, those shares are added into a zero padded input through
    a strided slice, and the padding is cropped off.
    """
    pl = _Pool("avg_pool", a, size, stride, padding)
    geo = pl.geo
    share = pl.output_gradient(g) / pl.counts()
    ga_p = np.zeros(geo.padded_shape, dtype=pl.dtype)
    for _i, _j, index in geo.offsets():
        ga_p[index] += share
    return _from_nhwc(geo.crop(ga_p), pl.two_d)


def avg_pool_jvp(t, a, size, stride=None, padding="valid"):
    """The Jacobian-vector product of ``avg_pool``: the output's tangent for input tangent ``t``.

    avg_pool is linear, so this is ``avg_pool(t)`` (``a`` fixes shapes, dtype and checks).
    """
    pl = _Pool("avg_pool", a, size, stride, padding)
    geo = pl.geo
    sums = geo.windows(geo.pad(pl.tangent(t))).sum(axis=(4, 5))
    return _from_nhwc(sums / pl.counts(), pl.two_d)


def max_pool(a, size, stride=None, padding="valid"):
    """Max pooling over H and W, as TensorFlow's ``tf.nn.max_pool2d``.

    Args:
        a: the input, (H, W) or NHWC (N, H, W, C); each channel is pooled on its own.
        size: the window, a positive whole number or a pair (along H, along W).
        stride: as size; defaults to the window size.
        padding: "valid" or "same"; with "same" the padding counts as -inf, so each window's
            maximum is over the input elements inside it.

    Returns:
        (Ho, Wo) or (N, Ho, Wo, C), in the input's floating dtype.
    """
    pl = _Pool("max_pool", a, size, stride, padding)
    flat, idx = pl.argmax()
    return _from_nhwc(np.take_along_axis(flat, idx[..., None], axis=-1)[..., 0], pl.two_d)


def max_pool_vjp(g, a, size, stride=None, padding="valid"):
    """The vector-Jacobian product of ``max_pool``: the input gradient ``ga`` for output gradient ``g``.

    How: each window's ``g`` goes whole to the window's first maximal element in row-major order
    (TensorFlow's MaxPoolGrad).  The chosen element's flat index comes from one argmax over the
    window view; for every offset (i, j), ``g`` where that offset was chosen (zero elsewhere) is
    added into a zero padded input through a strided slice, and the padding is cropped off.
    Overlapping windows that choose the same element add their gradients.
    """
    pl = _Pool("max_pool", a, size, stride, padding)
    geo = pl.geo
    g4 = pl.output_gradient(g)
    _, idx = pl.argmax()
    zero = g4.dtype.type(0)
    ga_p = np.zeros(geo.padded_shape, dtype=pl.dtype)
    for i, j, index in geo.offsets():
        ga_p[index] += np.where(idx == i * geo.kw + j, g4, zero)
    return _from_nhwc(geo.crop(ga_p), pl.two_d)


def max_pool_jvp(t, a, size, stride=None, padding="valid"):
    """The Jacobian-vector product of ``max_pool``: the output's tangent for input tangent ``t``.

    Each window's tangent is ``t`` at the element ``max_pool_vjp`` sends the gradient to (the
    window's first maximal element), so the two are transposes of each other.
    """
    pl = _Pool("max_pool", a, size, stride, padding)
    geo = pl.geo
    t4 = pl.tangent(t)
    _, idx = pl.argmax()
    tflat = geo.windows(geo.pad(t4)).reshape(geo.n, geo.ho, geo.wo, geo.c, geo.kh * geo.kw)
    return _from_nhwc(np.take_along_axis(tflat, idx[..., None], axis=-1)[..., 0], pl.two_d)
