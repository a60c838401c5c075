"""Numpy evaluations of the array operations (reductions, shapes, matrix products, indexing),
with the shape checks whose messages a user sees. The op table (ops.py) names them; their
derivative rules live there, next to each entry. conv2d and pooling are in kernels.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ShapeError


class _Kernels:
    """autodiff_cli.kernels (conv2d, pooling), imported on first use: start-up stays short."""

    def __getattr__(self, name: str) -> Any:
        from . import kernels as module
        return getattr(module, name)


kernels = _Kernels()


def shape_text(shape: Any) -> str:
    return str(tuple(shape))


def spread(g: Any, a: Any, axis: Any = None) -> Any:
    """A reduced gradient broadcast back over a's reduced axes (a view, no copy)."""
    if axis is not None:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, np.shape(a))


def check_axis(a: Any, axis: Any, name: str) -> None:
    if axis is not None and np.ndim(a) == 0:
        raise ShapeError(f"{name}: axis={axis} needs an array, but the argument is a single number")
    if axis is not None and not -np.ndim(a) <= axis < max(np.ndim(a), 1):
        raise ShapeError(f"{name}: axis {axis} is out of range for an array of shape {np.shape(a)}")


def reduction(name: str, f: Any) -> Any:
    def evaluate(a, axis=None):
        check_axis(a, axis, name)
        return f(a, axis=axis)[()]
    return evaluate


def extreme_vjp(g: Any, a: Any, y: Any, axis: Any) -> Any:
    """max/min over an axis: the gradient is shared equally by the tied extreme elements
    (as TensorFlow, PyTorch and JAX do for reductions)."""
    mask = (a == spread(y, a, axis)).astype(np.result_type(a, g))
    return mask * spread(g, a, axis) / mask.sum(axis=axis, keepdims=True)


def softmax(a: Any, axis: int = -1) -> Any:
    check_axis(a, axis, "softmax")
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def logsumexp(a: Any, axis: Any = None) -> Any:
    check_axis(a, axis, "logsumexp")
    m = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return (out.reshape(()) if axis is None else np.squeeze(out, axis=axis))[()]


def fit_shape(g: Any, shape: tuple[int, ...]) -> Any:
    """g summed over the axes it was broadcast along, or broadcast out, to `shape`."""
    if np.shape(g) == shape:
        return g
    g = np.asarray(g)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    if g.ndim == len(shape):
        for axis, n in enumerate(shape):
            if n == 1 and g.shape[axis] != 1:
                g = g.sum(axis=axis, keepdims=True)
    return np.broadcast_to(g, shape).copy()[()]


def whole_number(n: Any, name: str) -> int:
    if float(n) != int(n) or n < 0:
        raise ShapeError(f"{name}: the number of elements must be a whole number of 0 or more, got {n}")
    return int(n)


def matmul(a: Any, b: Any) -> Any:
    """Matrix products of vectors and matrices (numpy's matmul for 1-D and 2-D)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0 or np.ndim(a) > 2 or np.ndim(b) > 2:
        raise ShapeError(f"matmul: {shape_text(np.shape(a))} @ {shape_text(np.shape(b))}: "
                         "both sides must be vectors or matrices")
    inner_a, inner_b = np.shape(a)[-1], np.shape(b)[0]
    if inner_a != inner_b:
        raise ShapeError(f"matmul: {shape_text(np.shape(a))} @ {shape_text(np.shape(b))}: "
                         f"inner dimensions {inner_a} and {inner_b} differ")
    return np.matmul(a, b)[()]


def as_row(a: Any) -> Any:
    """A vector as a 1×k matrix (a matrix as itself): the left side of a product."""
    return np.reshape(a, (1, -1)) if np.ndim(a) == 1 else a


def as_column(b: Any) -> Any:
    """A vector as a k×1 matrix (a matrix as itself): the right side of a product."""
    return np.reshape(b, (-1, 1)) if np.ndim(b) == 1 else b


def as_grid(g: Any, a: Any, b: Any) -> Any:
    """The gradient of a @ b as the matrix as_row(a) @ as_column(b) would have."""
    rows = 1 if np.ndim(a) == 1 else np.shape(a)[0]
    cols = 1 if np.ndim(b) == 1 else np.shape(b)[-1]
    return np.reshape(g, (rows, cols))


def reshape_as(g: Any, a: Any) -> Any:
    return np.reshape(g, np.shape(a))[()]


def _key(index: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(slice(*k[1:]) if isinstance(k, tuple) else k for k in index)


def index(a: Any, index: tuple[Any, ...] = ()) -> Any:
    try:
        return np.asarray(a)[_key(index)][()]
    except IndexError as err:
        raise ShapeError(f"index: {err} (shape {shape_text(np.shape(a))})") from None


def unindex(g: Any, a: Any, index: tuple[Any, ...] = ()) -> Any:
    """Zeros of a's shape with g added at the indexed places: the adjoint of a[index]."""
    out = np.zeros_like(np.asarray(a, dtype=np.result_type(a, g)))
    np.add.at(out, _key(index), g)
    return out[()]


def reshape(a: Any, shape: tuple[int, ...] = ()) -> Any:
    try:
        return np.reshape(a, shape)
    except ValueError:
        raise ShapeError(f"reshape: cannot reshape an array of shape {shape_text(np.shape(a))} "
                         f"({np.size(a)} elements) into {shape_text(shape)}") from None


def joined(name: str, f: Any) -> Any:
    def evaluate(*arrays, axis=0):
        try:
            return f(arrays, axis=axis)
        except ValueError:
            shapes = ", ".join(shape_text(np.shape(x)) for x in arrays)
            raise ShapeError(f"{name}: arrays of shapes {shapes} do not fit together "
                             f"along axis {axis}") from None
    return evaluate


def concat_vjp(i: int, g: Any, args: list[Any], axis: int) -> Any:
    ends = np.cumsum([np.shape(a)[axis] for a in args])
    return np.split(g, ends[:-1], axis=axis)[i]


def joined_jvp(join: Any, i: int, t: Any, args: list[Any], axis: int) -> Any:
    """The tangent of stack or concat along argument i: t in its place, zeros elsewhere."""
    parts = [t if j == i else np.zeros_like(a, dtype=np.result_type(a, t)) for j, a in enumerate(args)]
    return join(parts, axis=axis)
