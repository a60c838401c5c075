"""The op table: everything about each operation, in one entry.

An entry declares how to evaluate the operation with numpy, the local partial with
respect to each argument, how it prints, where it is not differentiable and what each
framework uses there, and the domain its tests sample from.

Local partials are written with the same primitives the language has (`sin`'s partial
is `cos(x)`), as JAX does: given numbers they compute numbers for the reverse and
forward passes; given symbolic handles (`Sym`) they build graph nodes, which is how a
formula such as `∂v/∂x = 2·x` is displayed and how symbolic derivatives are built.
A partial takes the operation's arguments and its output (`y`), in that order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ShapeError, UsageError
from .graph import Graph

# Printing precedence: a child is parenthesized when it binds more loosely than its parent.
COMPARE, SUM, PRODUCT, PREFIX, POWER, ATOM = 1, 2, 3, 4, 5, 6

CONVENTIONS = ("tensorflow", "pytorch", "jax")


@dataclass(frozen=True)
class Kink:
    """Points where an operation is not differentiable, and the partial each framework uses there."""

    where: Callable[..., Any]  # args -> boolean mask of the points
    used: dict[str, tuple[float | None, ...]]  # convention -> value per argument (None: the rule's)
    text: str  # "where its argument is 0", "at a tie (both arguments equal)": for messages


@dataclass(frozen=True)
class Op:
    name: str
    arity: int
    evaluate: Callable[..., Any]
    # One rule per argument: (*args, y) -> local partial; None where no derivative flows
    # (the condition of where(), comparisons, floor: zero wherever it exists).
    partials: tuple[Callable[..., Any] | None, ...]
    infix: str | None = None  # symbol for infix printing; None prints as a call
    prec: int = ATOM
    kink: Kink | None = None
    domain: tuple[tuple[float, float], ...] = ()  # per argument, for tests
    note: str = ""  # said once when the operation's derivative is used (floor: "zero everywhere")
    aliases: tuple[str, ...] = ()
    callable_as: str | None = None  # name used in calls when it differs from `name` (pow)
    # Array operations give the vector-Jacobian and Jacobian-vector products of argument i
    # instead of elementwise local partials: vjp(i, g, args, y, params), jvp(i, t, args, y, params).
    vjp: Callable[..., Any] | None = None
    jvp: Callable[..., Any] | None = None
    params: tuple[tuple[str, Any], ...] = ()  # parameters after the arguments, with defaults
    variadic: bool = False  # any number of arguments (stack, concat)
    # The adjoint contribution to argument i written with primitives, for symbolic derivatives
    # (grad() in programs) through an array operation: sym_vjp(i, adj, args, y, params).
    sym_vjp: Callable[..., Any] | None = None


OPS: dict[str, Op] = {}
FUNCTIONS: dict[str, Op] = {}  # what a call `name(...)` may name


def op(name: str, arity: int, evaluate: Callable[..., Any], *partials: Callable[..., Any] | None,
       call: bool = True, **kw: Any) -> Op:
    if "params" in kw:
        kw["params"] = tuple(kw["params"])
    entry = Op(name, arity, evaluate, tuple(partials), **kw)
    OPS[name] = entry
    if call:
        for alias in (entry.callable_as or name, *entry.aliases):
            FUNCTIONS[alias] = entry
    return entry


# --- generic primitives: numpy on numbers, graph nodes on symbolic handles -------------------

class Sym:
    """A symbolic handle: a node of a Builder's graph, with Python's operators building nodes."""

    __slots__ = ("builder", "id")
    __array_priority__ = 1000  # numpy defers to our operators

    def __init__(self, builder: Builder, node_id: int):
        self.builder = builder
        self.id = node_id

    def _b(self, name: str, *args: Any) -> Sym:
        return self.builder.apply(name, args)

    def __add__(self, o): return self._b("add", self, o)
    def __radd__(self, o): return self._b("add", o, self)
    def __sub__(self, o): return self._b("sub", self, o)
    def __rsub__(self, o): return self._b("sub", o, self)
    def __mul__(self, o): return self._b("mul", self, o)
    def __rmul__(self, o): return self._b("mul", o, self)
    def __truediv__(self, o): return self._b("div", self, o)
    def __rtruediv__(self, o): return self._b("div", o, self)
    def __pow__(self, o): return self._b("pow", self, o)
    def __rpow__(self, o): return self._b("pow", o, self)
    def __neg__(self): return self._b("neg", self)
    def __gt__(self, o): return self._b("gt", self, o)
    def __ge__(self, o): return self._b("ge", self, o)
    def __lt__(self, o): return self._b("lt", self, o)
    def __le__(self, o): return self._b("le", self, o)


def _prim(name: str) -> Callable[..., Any]:
    def apply(*args: Any) -> Any:
        for a in args:
            if isinstance(a, Sym):
                return a.builder.apply(name, args)
        return OPS[name].evaluate(*args)
    apply.__name__ = name
    return apply


def const_like(x: Any, value: float) -> Any:
    """A constant in a rule that should print as itself (log(2), not 0.693...)."""
    return x.builder.const(value) if isinstance(x, Sym) else value


def _where(c, a, b):
    return np.where(c, a, b)[()]  # [()] turns a 0-d result back into a scalar


def _sigmoid(x):
    # exp of a negative argument only, so neither branch overflows.
    ex = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + ex), ex / (1 + ex))[()]


def _softplus(x):
    return (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))[()]


def _cmp(f):
    def compare(a, b):
        result = f(a, b)
        return result.astype(np.float64) if isinstance(result, np.ndarray) else np.float64(result)
    return compare


def _pow_partial(a, b):
    """b·a^(b - 1); for a square, 2·a at once (no a^1 copy of a large array)."""
    if not isinstance(a, Sym) and not isinstance(b, Sym) and np.ndim(b) == 0 and b == 2:
        return 2 * a
    return b * a ** (b - 1)


def _pow(a, b):
    if isinstance(a, np.ndarray) and np.ndim(b) == 0 and b == 2:
        return a * a  # numpy's x**2 fast path, same bits
    return np.power(a, b)


ZERO = {c: (0,) for c in CONVENTIONS}  # every framework uses 0 at the point
POS = ((0.2, 3.0),)
UNIT = ((-0.9, 0.9),)

# --- the table --------------------------------------------------------------------------------
# Arithmetic (infix in the language; `pow` is also a function).
op("add", 2, np.add, lambda a, b, y: 1, lambda a, b, y: 1, infix="+", prec=SUM, call=False)
op("sub", 2, np.subtract, lambda a, b, y: 1, lambda a, b, y: -1, infix="-", prec=SUM, call=False)
op("mul", 2, np.multiply, lambda a, b, y: b, lambda a, b, y: a, infix="·", prec=PRODUCT, call=False)
op("div", 2, np.divide, lambda a, b, y: 1 / b, lambda a, b, y: -a / b**2, infix="/", prec=PRODUCT,
   call=False, domain=((-3, 3), (0.3, 3)))
op("pow", 2, _pow, lambda a, b, y: _pow_partial(a, b), lambda a, b, y: log(a) * y, infix="^",
   prec=POWER, domain=((0.3, 3), (-2, 2)))
op("neg", 1, np.negative, lambda x, y: -1, infix="-", prec=PREFIX, call=False)

# Comparisons: 1 where true, 0 where false; a step, so no derivative flows, undefined at a tie.
for _name, _sym, _f in (("lt", "<", np.less), ("le", "<=", np.less_equal), ("gt", ">", np.greater),
                        ("ge", ">=", np.greater_equal), ("eq", "==", np.equal),
                        ("ne", "!=", np.not_equal)):
    op(_name, 2, _cmp(_f), None, None, infix=_sym, prec=COMPARE, call=False,
       kink=Kink(lambda a, b: a == b, {c: (0, 0) for c in CONVENTIONS}, "at a tie (both sides equal)"))

# Elementwise functions.
op("sin", 1, np.sin, lambda x, y: cos(x))
op("cos", 1, np.cos, lambda x, y: -sin(x))
op("tan", 1, np.tan, lambda x, y: 1 + y**2, domain=((-1.2, 1.2),))
op("asin", 1, np.arcsin, lambda x, y: 1 / sqrt(1 - x**2), domain=UNIT)
op("acos", 1, np.arccos, lambda x, y: -1 / sqrt(1 - x**2), domain=UNIT)
op("atan", 1, np.arctan, lambda x, y: 1 / (1 + x**2))
op("sinh", 1, np.sinh, lambda x, y: cosh(x))
op("cosh", 1, np.cosh, lambda x, y: sinh(x))
op("tanh", 1, np.tanh, lambda x, y: 1 - y**2)
op("asinh", 1, np.arcsinh, lambda x, y: 1 / sqrt(x**2 + 1))
op("acosh", 1, np.arccosh, lambda x, y: 1 / sqrt(x**2 - 1), domain=((1.2, 4),))
op("atanh", 1, np.arctanh, lambda x, y: 1 / (1 - x**2), domain=UNIT)
op("exp", 1, np.exp, lambda x, y: y)
op("log", 1, np.log, lambda x, y: 1 / x, domain=POS, aliases=("ln",))
op("log2", 1, np.log2, lambda x, y: 1 / (x * log(const_like(x, 2))), domain=POS)
op("log10", 1, np.log10, lambda x, y: 1 / (x * log(const_like(x, 10))), domain=POS)
op("sqrt", 1, np.sqrt, lambda x, y: 1 / (2 * y), domain=POS)
op("cbrt", 1, np.cbrt, lambda x, y: 1 / (3 * y**2), domain=POS)
op("abs", 1, np.abs, lambda x, y: sign(x),
   kink=Kink(lambda x: x == 0, {"tensorflow": (0,), "pytorch": (0,), "jax": (1,)}, "where its argument is 0"))
op("sign", 1, np.sign, None,
   kink=Kink(lambda x: x == 0, ZERO, "where its argument is 0"))
op("sigmoid", 1, _sigmoid, lambda x, y: y * (1 - y))
op("relu", 1, lambda x: np.maximum(x, 0.0), lambda x, y: where(x > 0, 1, 0),
   kink=Kink(lambda x: x == 0, ZERO, "where its argument is 0"))
op("softplus", 1, _softplus, lambda x, y: sigmoid(x))
op("max", 2, np.maximum, lambda a, b, y: where(a >= b, 1, 0), lambda a, b, y: where(a >= b, 0, 1),
   kink=Kink(lambda a, b: a == b, {"tensorflow": (1, 0), "pytorch": (0.5, 0.5), "jax": (0.5, 0.5)},
             "at a tie (both arguments equal)"))
op("min", 2, np.minimum, lambda a, b, y: where(a <= b, 1, 0), lambda a, b, y: where(a <= b, 0, 1),
   kink=Kink(lambda a, b: a == b, {"tensorflow": (1, 0), "pytorch": (0.5, 0.5), "jax": (0.5, 0.5)},
             "at a tie (both arguments equal)"))
op("atan2", 2, np.arctan2, lambda a, b, y: b / (a**2 + b**2), lambda a, b, y: -a / (a**2 + b**2),
   domain=((0.3, 3), (0.3, 3)))
op("hypot", 2, np.hypot, lambda a, b, y: a / y, lambda a, b, y: b / y, domain=((0.3, 3), (0.3, 3)))
op("where", 3, _where, None, lambda c, a, b, y: where(c, 1, 0), lambda c, a, b, y: where(c, 0, 1),
   domain=((-1, 1), (-3, 3), (-3, 3)))
# Step functions: no derivative flows (zero wherever it exists), undefined at each jump.
for _name, _f, _jump, _where_text in (
        ("floor", np.floor, lambda x: x == np.floor(x), "an integer"),
        ("ceil", np.ceil, lambda x: x == np.floor(x), "an integer"),
        ("round", np.round, lambda x: x - np.floor(x) == 0.5, "a half-integer")):
    op(_name, 1, _f, None, note=f"{_name} is a step function: its derivative is 0 wherever it exists",
       kink=Kink(_jump, ZERO, f"where its argument is {_where_text}"))

# --- Arrays: reductions, shapes, linear algebra, neural-network layers ------------------------
# These operations are not elementwise, so each gives its vector-Jacobian product (reverse
# mode) and Jacobian-vector product (forward mode) for argument i, from numpy.

REQUIRED = object()  # the default of a parameter that has none


class _Kernels:
    """autodiff_cli.kernels (conv2d, pooling), imported on first use: start-up stays short."""

    def __getattr__(self, name: str) -> Any:
        from . import kernels as module
        return getattr(module, name)


kernels = _Kernels()


def _spread(g, shape, axis):
    """A reduced gradient broadcast back over the reduced axes."""
    if axis is not None:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, shape)


def _check_axis(a, axis, name):
    if axis is not None and np.ndim(a) == 0:
        raise ShapeError(f"{name}: axis={axis} needs an array, but the argument is a single number")
    if axis is not None and not -np.ndim(a) <= axis < max(np.ndim(a), 1):
        raise ShapeError(f"{name}: axis {axis} is out of range for an array of shape {np.shape(a)}")


def _reduce(name, f):
    def evaluate(a, axis=None):
        _check_axis(a, axis, name)
        return f(a, axis=axis)[()]
    return evaluate


def _extreme_vjp(g, a, y, axis):
    """max/min over an axis: the gradient is shared equally by the tied extreme elements
    (as TensorFlow, PyTorch and JAX do for reductions)."""
    mask = (a == _spread(y, np.shape(a), axis)).astype(np.result_type(a, g))
    return mask * _spread(g, np.shape(a), axis) / mask.sum(axis=axis, keepdims=True)


def _softmax(a, axis=-1):
    _check_axis(a, axis, "softmax")
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _logsumexp(a, axis=None):
    _check_axis(a, axis, "logsumexp")
    m = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return (out.reshape(()) if axis is None else np.squeeze(out, axis=axis))[()]


def _fit(g, a):
    return fit_shape(g, np.shape(a))


def fit_shape(g, shape):
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


def _whole_number(n, name):
    if float(n) != int(n) or n < 0:
        raise ShapeError(f"{name}: the number of elements must be a whole number of 0 or more, got {n}")
    return int(n)


def _shape_text(shape):
    return str(tuple(shape))


def _matmul(a, b):
    """Matrix products of vectors and matrices (numpy's matmul for 1-D and 2-D)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0 or np.ndim(a) > 2 or np.ndim(b) > 2:
        raise ShapeError(f"matmul: {_shape_text(np.shape(a))} @ {_shape_text(np.shape(b))}: "
                         "both sides must be vectors or matrices")
    inner_a, inner_b = np.shape(a)[-1], np.shape(b)[0]
    if inner_a != inner_b:
        raise ShapeError(f"matmul: {_shape_text(np.shape(a))} @ {_shape_text(np.shape(b))}: "
                         f"inner dimensions {inner_a} and {inner_b} differ")
    return np.matmul(a, b)[()]


def _matmul_vjp(i, g, args, y, params):
    a, b = args
    a2 = a[None, :] if np.ndim(a) == 1 else a  # vectors as 1×k rows and k×1 columns
    b2 = b[:, None] if np.ndim(b) == 1 else b
    g2 = np.reshape(g, (a2.shape[0], b2.shape[1]))
    return (g2 @ b2.T).reshape(np.shape(a)) if i == 0 else (a2.T @ g2).reshape(np.shape(b))


def _index(a, index=()):
    key = tuple(slice(*k[1:]) if isinstance(k, tuple) else k for k in index)
    try:
        return np.asarray(a)[key][()]
    except IndexError as err:
        raise ShapeError(f"index: {err} (shape {_shape_text(np.shape(a))})") from None


def _index_vjp(i, g, args, y, params):
    out = np.zeros_like(np.asarray(args[0], dtype=np.result_type(args[0], g)))
    key = tuple(slice(*k[1:]) if isinstance(k, tuple) else k for k in params["index"])
    np.add.at(out, key, g)
    return out


def _reshape(a, shape=()):
    try:
        return np.reshape(a, shape)
    except ValueError:
        raise ShapeError(f"reshape: cannot reshape an array of shape {_shape_text(np.shape(a))} "
                         f"({np.size(a)} elements) into {_shape_text(shape)}") from None


def _joined(name, f):
    def evaluate(*arrays, axis=0):
        try:
            return f(arrays, axis=axis)
        except ValueError:
            shapes = ", ".join(_shape_text(np.shape(x)) for x in arrays)
            raise ShapeError(f"{name}: arrays of shapes {shapes} do not fit together "
                             f"along axis {axis}") from None
    return evaluate


def _concat_vjp(i, g, args, y, params):
    axis = params["axis"]
    ends = np.cumsum([np.shape(a)[axis] for a in args])
    return np.split(g, ends[:-1], axis=axis)[i]


def _concat_jvp(i, t, args, y, params):
    parts = [t if j == i else np.zeros_like(a, dtype=np.result_type(a, t)) for j, a in enumerate(args)]
    return np.concatenate(parts, axis=params["axis"])


def _stack_jvp(i, t, args, y, params):
    parts = [t if j == i else np.zeros_like(a, dtype=np.result_type(a, t)) for j, a in enumerate(args)]
    return np.stack(parts, axis=params["axis"])


def _layer(f):
    """conv2d and the pools take their parameters by keyword."""
    return lambda *args, **params: f(*args, **params)


REDUCE = (("axis", None),)
op("sum", 1, _reduce("sum", np.sum), params=REDUCE,
   vjp=lambda i, g, a, y, p: _spread(g, np.shape(a[0]), p["axis"]),
   jvp=lambda i, t, a, y, p: np.sum(t, axis=p["axis"]),
   sym_vjp=lambda i, g, a, y, p: fit(g, a[0]) if p["axis"] is None else None)
op("mean", 1, _reduce("mean", np.mean), params=REDUCE,
   vjp=lambda i, g, a, y, p: _spread(g, np.shape(a[0]), p["axis"]) * (np.size(y) / np.size(a[0])),
   jvp=lambda i, t, a, y, p: np.mean(t, axis=p["axis"]),
   sym_vjp=lambda i, g, a, y, p: fit(g, a[0]) / size(a[0]) if p["axis"] is None else None)
op("transpose", 1, np.transpose, vjp=lambda i, g, a, y, p: np.transpose(g),
   jvp=lambda i, t, a, y, p: np.transpose(t), sym_vjp=lambda i, g, a, y, p: transpose(g))
for _name, _f in (("reduce_max", np.max), ("reduce_min", np.min)):
    op(_name, 1, _reduce(_name[7:], _f), params=REDUCE, call=False, callable_as=_name[7:],
       vjp=lambda i, g, a, y, p: _extreme_vjp(g, a[0], y, p["axis"]),
       jvp=lambda i, t, a, y, p: np.sum(_extreme_vjp(np.ones_like(y), a[0], y, p["axis"]) * t,
                                        axis=p["axis"]))
op("softmax", 1, _softmax, params=(("axis", -1),),
   vjp=lambda i, g, a, y, p: y * (g - np.sum(g * y, axis=p["axis"], keepdims=True)),
   jvp=lambda i, t, a, y, p: y * (t - np.sum(t * y, axis=p["axis"], keepdims=True)))
op("logsumexp", 1, _logsumexp, params=REDUCE,
   vjp=lambda i, g, a, y, p: _spread(g, np.shape(a[0]), p["axis"]) * _softmax(a[0], p["axis"]),
   jvp=lambda i, t, a, y, p: np.sum(_softmax(a[0], p["axis"]) * t, axis=p["axis"]))
op("matmul", 2, _matmul, infix="@", prec=PRODUCT, aliases=("dot",), vjp=_matmul_vjp,
   jvp=lambda i, t, a, y, p: _matmul(t, a[1]) if i == 0 else _matmul(a[0], t))
op("reshape", 1, _reshape, params=(("*shape", ()),),
   vjp=lambda i, g, a, y, p: np.reshape(g, np.shape(a[0])),
   jvp=lambda i, t, a, y, p: np.reshape(t, np.shape(y)))
op("index", 1, _index, params=(("index", ()),), call=False, vjp=_index_vjp,
   jvp=lambda i, t, a, y, p: _index(t, p["index"]))
op("stack", 1, _joined("stack", np.stack), params=(("axis", 0),), variadic=True,
   vjp=lambda i, g, a, y, p: np.take(g, i, axis=p["axis"]), jvp=_stack_jvp)
op("concat", 1, _joined("concat", np.concatenate), params=(("axis", 0),), variadic=True,
   vjp=_concat_vjp, jvp=_concat_jvp)
CONV = (("stride", 1), ("padding", "valid"))
POOL = (("size", REQUIRED), ("stride", None), ("padding", "valid"))
op("conv2d", 2, lambda a, k, stride=1, padding="valid": kernels.conv2d(a, k, stride, padding), params=CONV,
   vjp=lambda i, g, a, y, p: kernels.conv2d_vjp(g, a[0], a[1], p["stride"], p["padding"])[i],
   jvp=lambda i, t, a, y, p: kernels.conv2d_jvp(t if i == 0 else None, t if i == 1 else None,
                                                a[0], a[1], p["stride"], p["padding"]))
op("avg_pool", 1, lambda a, size, stride=None, padding="valid": kernels.avg_pool(a, size, stride, padding),
   params=POOL, vjp=lambda i, g, a, y, p: kernels.avg_pool_vjp(g, a[0], p["size"], p["stride"], p["padding"]),
   jvp=lambda i, t, a, y, p: kernels.avg_pool_jvp(t, a[0], p["size"], p["stride"], p["padding"]))
op("max_pool", 1, lambda a, size, stride=None, padding="valid": kernels.max_pool(a, size, stride, padding),
   params=POOL, vjp=lambda i, g, a, y, p: kernels.max_pool_vjp(g, a[0], p["size"], p["stride"], p["padding"]),
   jvp=lambda i, t, a, y, p: kernels.max_pool_jvp(t, a[0], p["size"], p["stride"], p["padding"]))

# Helpers of derivatives built inside a program (grad(f, x)): fit(g, a) is g summed over the
# axes it was broadcast along (or broadcast out) to a's shape; size(a) its number of elements.
op("fit", 2, lambda g, a: _fit(g, a), lambda g, a, y: 1, None, call=False)
op("size", 1, lambda a: np.asarray(np.size(a), dtype=np.result_type(a, np.float32))[()], None, call=False)


# vjp_of(g, *args): an array operation's vector-Jacobian product as a node, so grad(f, x) in a
# program works through every array operation; its own derivative is not available (an error).
def _vjp_of(g, *args, op, i, params):
    entry = OPS[op]
    y = entry.evaluate(*args, **dict(params))
    return entry.vjp(i, np.broadcast_to(g, np.shape(y)), list(args), y, dict(params))


def _no_second_derivative(*args):
    raise UsageError("a derivative of hessian(), or a second derivative through an array "
                     "operation's gradient (conv2d, matmul, pooling, ...), is not available")


op("vjp_of", 1, _vjp_of, _no_second_derivative, call=False, variadic=True,
   params=(("op", REQUIRED), ("i", 0), ("params", ())))

# hessian(f, x) in a program: the Jacobian of the node grad(f, x) in x, computed by the engine
# (reverse mode over the derivative's own graph: exact), so its evaluation needs the graph.
op("hessian", 2, None, _no_second_derivative, _no_second_derivative, call=False)

# Arrays made from parameters alone: no argument, so no gradient.
op("linspace", 0, lambda start, stop, num=50: np.linspace(start, stop, _whole_number(num, "linspace")),
   params=(("start", REQUIRED), ("stop", REQUIRED), ("num", 50)))
SHAPE = (("*shape", ()),)
op("zeros", 0, lambda shape=(): np.zeros([_whole_number(n, "zeros") for n in shape]), params=SHAPE)
op("ones", 0, lambda shape=(): np.ones([_whole_number(n, "ones") for n in shape]), params=SHAPE)
op("eye", 0, lambda n: np.eye(_whole_number(n, "eye")), params=(("n", REQUIRED),))

# Losses, each the mean over all elements, written with the operations above (a MACRO is
# expanded when the program is read, so its parts show as nodes and need no rules of their own).
MACROS: dict[str, tuple[int, Callable[..., Any]]] = {
    "mse": (2, lambda p, y: mean((p - y) ** 2)),
    "mae": (2, lambda p, y: mean(abs_(p - y))),
    "binary_crossentropy": (2, lambda p, y: mean(-(y * log(p) + (1 - y) * log(1 - p)))),
}

# The primitives the rules above are written with.
sin, cos, sqrt, cosh, sinh, log, sign, sigmoid, where, mean, abs_, fit, size, transpose = (
    _prim(n) for n in ("sin", "cos", "sqrt", "cosh", "sinh", "log", "sign", "sigmoid", "where", "mean",
                       "abs", "fit", "size", "transpose"))

CONSTANTS = {"pi": math.pi, "π": math.pi, "e": math.e}


def params_of(entry: Op, attr: Any) -> dict[str, Any]:
    """A node's parameters: its own (stored in attr as pairs), the op's defaults for the rest."""
    params = {name.lstrip("*"): default for name, default in entry.params}
    if attr:
        params.update(attr)
    return params


def lookup_function(name: str) -> Op | None:
    return FUNCTIONS.get(name)


def nearest_function(name: str) -> str | None:
    import difflib  # only on this error path: keeps start-up short

    found = difflib.get_close_matches(name, list(FUNCTIONS), n=1, cutoff=0.6)
    return found[0] if found else None


# --- building graphs from rules ---------------------------------------------------------------

def _is_const(graph: Graph, node_id: int, value: float | None = None) -> bool:
    node = graph[node_id]
    return node.op == "const" and (value is None or node.attr[0] == value)


@dataclass
class Builder:
    """Adds nodes to a graph for symbolic rules; with `simplify`, folds constants and identities
    as a person expects from a calculator (x·1 → x, 2-1 → 1, x^1 → x, x·x → x^2, ...)."""

    graph: Graph = field(default_factory=Graph)
    simplify: bool = True

    def const(self, value: Any, label: str | None = None) -> Sym:
        value = value if hasattr(value, "shape") and np.ndim(value) else float(value)
        return Sym(self, self.graph.add("const", (), (value, label)))

    def leaf(self, op_name: str, attr: Any) -> Sym:
        return Sym(self, self.graph.add(op_name, (), attr))

    def lift(self, x: Any) -> int:
        if isinstance(x, Sym):
            return x.id
        return self.const(float(x)).id

    def apply(self, name: str, args: tuple[Any, ...]) -> Sym:
        ids = tuple(self.lift(a) for a in args)
        if self.simplify:
            found = self._simplified(name, ids)
            if found is not None:
                return Sym(self, found)
        return Sym(self, self.graph.add(name, ids))

    # --- simplification, as a calculator user expects; every rule is O(1) or O(short factor list)

    def _raw(self, name: str, *ids: int) -> int:
        return self.graph.add(name, ids)

    def _c(self, node_id: int) -> float | None:
        """A node's value when it is a plain number (not a named constant, not an array)."""
        node = self.graph[node_id]
        if node.op == "const" and node.attr[1] is None and type(node.attr[0]) is float:
            return node.attr[0]
        return None

    def _split(self, node_id: int, most: int = 16) -> tuple[float, int | None]:
        """A term as coefficient × rest: 3·x → (3, x), -x → (-1, x), --x → (1, x), 5 → (5, None),
        -2/x → (-2, 1/x). Looks at most `most` levels down (a loop, never recursion)."""
        g = self.graph
        original, sign, denominators = node_id, 1.0, []
        for _ in range(most):
            c = self._c(node_id)
            if c is not None:
                coeff, rest = c, None
                break
            node = g[node_id]
            if node.op == "neg":
                sign, node_id = -sign, node.args[0]
            elif node.op == "div":
                denominators.append(node.args[1])
                node_id = node.args[0]
            elif node.op == "mul" and self._c(node.args[0]) is not None:
                coeff, rest = self._c(node.args[0]), node.args[1]
                break
            else:
                coeff, rest = 1.0, node_id
                break
        else:
            return 1.0, original
        coeff *= sign
        if not denominators:
            return coeff, rest
        if coeff == 1:
            return 1.0, original  # a quotient with nothing to take out stays as it is
        for d in reversed(denominators):  # rebuild the quotients around what is left
            rest = self._raw("div", self.const(1.0).id if rest is None else rest, d)
        return coeff, rest

    def _scaled(self, coeff: float, rest: int | None) -> int:
        if rest is None:
            return self.const(coeff).id
        if coeff == 1:
            return rest
        if coeff == 0:
            return self.const(0.0).id
        node = self.graph[rest]
        if node.op == "div" and self._c(node.args[0]) == 1:  # 2·(1/x) → 2/x
            return self._raw("div", self.const(coeff).id, node.args[1])
        if coeff == -1:
            return self._raw("neg", rest)
        return self._raw("mul", self.const(coeff).id, rest)

    def _factors(self, node_id: int, most: int = 16) -> list[int]:
        """The factors along a product's right spine (a·(b·c) → [a, b, c]), when short."""
        out = []
        while self.graph[node_id].op == "mul" and len(out) < most:
            out.append(self.graph[node_id].args[0])
            node_id = self.graph[node_id].args[1]
        out.append(node_id)
        return out

    def _power(self, node_id: int) -> tuple[int, float | None]:
        node = self.graph[node_id]
        if node.op == "pow" and self._c(node.args[1]) is not None:
            return node.args[0], self._c(node.args[1])
        return node_id, 1.0

    def _product(self, a: int, b: int) -> int:
        """a·b with the numeric coefficient in front, factors kept in order, x·x^n → x^(n+1)."""
        ca, ra = self._split(a)
        cb, rb = self._split(b)
        coeff = ca * cb
        if ra is None or rb is None:
            return self._scaled(coeff, rb if ra is None else ra)
        left = self._factors(ra)
        right = rb
        first_right = self._factors(rb, most=1)[0]
        base_l, exp_l = self._power(left[-1])
        base_r, exp_r = self._power(first_right)
        if base_l == base_r:  # x·x → x^2, x·x^2 → x^3
            merged = self.apply("pow", (Sym(self, base_l), exp_l + exp_r)).id
            rest_right = self.graph[rb].args[1] if self.graph[rb].op == "mul" and first_right != rb else None
            left = left[:-1] + [merged]
            right = rest_right
        result = right
        for f in reversed(left):
            result = f if result is None else self._raw("mul", f, result)
        return self._scaled(coeff, result)

    def _sum(self, a: int, b: int, sign: float) -> int:
        """a ± b, like terms collected (x + x → 2·x), no `+ -` (a + (-2)·b → a - 2·b)."""
        ca, ra = self._split(a)
        cb, rb = self._split(b)
        cb *= sign
        if ra == rb and ra is not None:
            return self._scaled(ca + cb, ra)
        if rb is None and cb == 0:
            return a
        if ra is None and ca == 0:
            return self._scaled(cb, rb)
        if ra is None and rb is not None and cb > 0:  # constants last: 3·x^2 - 2, not -2 + 3·x^2
            return self._sum(self._scaled(cb, rb), a, 1.0)
        if cb < 0:
            return self._raw("sub", a, self._scaled(-cb, rb))
        return self._raw("add", a, self._scaled(cb, rb))

    def _simplified(self, name: str, ids: tuple[int, ...]) -> int | None:
        consts = [self._c(i) for i in ids]
        if all(c is not None for c in consts) and name in _FOLDABLE:
            with np.errstate(all="ignore"):
                value = float(OPS[name].evaluate(*[np.float64(c) for c in consts]))
            if math.isfinite(value):
                return self.const(value).id
        a = ids[0]
        ca = consts[0]
        cb = consts[1] if len(ids) > 1 else None
        if name == "add":
            return self._sum(a, ids[1], 1.0)
        if name == "sub":
            if a == ids[1]:
                return self.const(0.0).id
            return self._sum(a, ids[1], -1.0)
        if name == "mul":
            return self._product(a, ids[1])
        if name == "neg":
            c, rest = self._split(a)
            return self._scaled(-c, rest)
        if name == "div":
            if cb == 1:
                return a
            if ca == 0:
                return self.const(0.0).id
            if a == ids[1]:
                return self.const(1.0).id
        elif name == "pow":
            if cb == 1:
                return a
            if cb == 0 or ca == 1:
                return self.const(1.0).id
        elif name == "log" and ca == 1:
            return self.const(0.0).id
        elif name == "where" and consts[0] is not None:
            return ids[1] if consts[0] else ids[2]
        return None


_FOLDABLE = {"add", "sub", "mul", "div", "pow", "neg", "lt", "le", "gt", "ge", "eq", "ne", "where"}
