"""The op table: everything about each operation, in one entry.

An entry declares how to evaluate the operation with numpy, the derivative rule for each
argument, how it is called, printed and written in LaTeX, where it is not differentiable
and what each framework uses there, its help notes, and the domain its tests sample from.
Adding a function is adding one `op(...)` line here; the parser, the passes, the printers,
`adiff functions` and the tests all read it from the table.

Derivative rules are written with the table's own primitives (`fn.cos(x)`), as JAX does:
given numbers they compute numbers for the reverse and forward passes; given symbolic
handles (`Sym`) they build graph nodes, which is how a formula such as `∂v/∂x = 2·x` is
displayed, how symbolic derivatives are built, and how grad() in a program can be
differentiated again. Each argument has one rule (`Op.partial(i)`), of one of two kinds:

- a local partial, for elementwise operations: (*args, y) -> ∂y/∂arg (y is the output);
- a `Linear` rule, for array operations: the adjoint contribution g -> vjp and the tangent
  t -> jvp; no Jacobian matrix is ever formed.

`None` means no derivative flows through that argument (the condition of where(), floor).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from . import arrays, initialisers
from .arrays import kernels
from .errors import UsageError

# Printing precedence: a child is parenthesized when it binds more loosely than its parent.
COMPARE, SUM, PRODUCT, PREFIX, POWER, ATOM = 1, 2, 3, 4, 5, 6

CONVENTIONS = ("tensorflow", "pytorch", "jax")

# Named constants of the language; a rule that needs one uses `constant(x, "pi")`.
CONSTANTS = {"pi": math.pi, "π": math.pi, "e": math.e}

REQUIRED = object()  # the default of a parameter that has none

# Table entries are immutable (frozen) and equal only to themselves (eq=False): their fields hold
# functions, which compare by identity anyway, and a Kink's dict made them unhashable; not
# generating __eq__ and __hash__ for them saves about 0.7 ms of every start.

@dataclass(frozen=True, eq=False)
class Kink:
    """Points where an operation is not differentiable, and the partial each framework uses there."""

    where: Callable[..., Any]  # args -> boolean mask of the points
    used: dict[str, tuple[float | None, ...]]  # convention -> value per argument (None: the rule's)
    text: str  # "where its argument is 0", "at a tie (both arguments equal)": for messages


@dataclass(frozen=True, eq=False)
class Linear:
    """The derivative of an array operation in one argument, as the two products the passes
    need: vjp(i, g, args, y, params) is the adjoint contribution to argument i, jvp(i, t, args,
    y, params) the tangent of the output. With `symbolic`, vjp is written with the primitives
    (fn.*), so it builds graph nodes as well as numbers: grad() in a program goes through the
    operation and can be differentiated again."""

    vjp: Callable[..., Any]
    jvp: Callable[..., Any]
    symbolic: bool = True


Rule = Callable[..., Any] | Linear | None


@dataclass(frozen=True, eq=False)
class Op:
    name: str
    arity: int
    evaluate: Callable[..., Any] | None
    partials: tuple[Rule, ...]  # one rule per argument (a variadic op: one for all)
    infix: str | None = None  # symbol for infix printing; None prints as a call
    prec: int = ATOM
    kink: Kink | None = None
    domain: tuple[tuple[float, float], ...] = ()  # per argument, for tests
    note: str = ""  # said once when the operation's derivative is used (floor: "zero everywhere")
    notes: tuple[str, ...] = ()  # help notes shown by `adiff functions`
    aliases: tuple[str, ...] = ()
    callable_as: str | None = None  # name used in calls when it differs from `name` (pow)
    call: bool = True  # a call `name(...)` may name it; internal operations are not callable
    params: tuple[tuple[str, Any], ...] = ()  # parameters after the arguments, with defaults
    variadic: bool = False  # any number of arguments (stack, concat)
    fold: bool = False  # applied to plain numbers while a formula is built, it becomes a number
    # LaTeX: for a call, the command (r"\sin") or a template of strings and argument positions,
    # where (i, p) is argument i in parentheses when it binds no tighter than p; for an infix
    # operation, its symbol. None: \operatorname{name}.
    latex: str | tuple[Any, ...] | None = None
    arg_names: tuple[str, ...] = ()  # as `adiff functions` shows them (default x; a, b; c, a, b)
    # Calls with another number of arguments: n -> the entry they mean (max(A) is reduce_max),
    # or a function of symbolic handles that writes the call with other operations (log(x, base)).
    overloads: tuple[tuple[int, str | Callable[..., Any]], ...] = ()
    expand: Callable[..., Any] | None = None  # a macro: written with other operations when read
    derivative: bool = False  # grad(f, x), hessian(f, x): x must be an input or a named step
    needs_graph: bool = False  # evaluated by the engine over the program's graph (hessian)

    def partial(self, i: int) -> Rule:
        """The derivative rule for argument i."""
        return self.partials[min(i, len(self.partials) - 1)] if self.partials else None

    def constant_partial(self, i: int) -> int | float | None:
        """The number argument i's rule returns without looking at its arguments (a sum's 1, a
        difference's -1), or None: the rule is called once on placeholders that refuse every
        operation, so a rule that computes anything fails here."""
        rule = self.partial(i)
        if rule is None or isinstance(rule, Linear):
            return None
        try:
            out = rule(*[object()] * (self.arity + 1))
        except Exception:  # noqa: BLE001 - it looked at an argument: not a constant
            return None
        return out if type(out) in (int, float) else None

    @cached_property
    def is_array(self) -> bool:
        """An array operation: its rules are vector-Jacobian products, not elementwise partials."""
        return any(isinstance(r, Linear) for r in self.partials) or self.needs_graph

    @property
    def elementwise(self) -> bool:
        """Evaluated element by element, with a local partial per argument."""
        return self.evaluate is not None and not self.is_array

    @property
    def shown_name(self) -> str:
        return self.callable_as or self.name


OPS: dict[str, Op] = {}
FUNCTIONS: dict[str, Op] = {}  # what a call `name(...)` may name


def register(entry: Op) -> Op:
    """Add an entry to the table (and its call names to FUNCTIONS); returns it."""
    OPS[entry.name] = entry
    if entry.call:
        for alias in (entry.shown_name, *entry.aliases):
            FUNCTIONS[alias] = entry
    return entry


def unregister(name: str) -> None:
    """Remove an entry and its call names (for tests that add one)."""
    entry = OPS.pop(name)
    fn.__dict__.pop(name, None)
    for alias in [a for a, e in FUNCTIONS.items() if e is entry]:
        del FUNCTIONS[alias]


def op(name: str, arity: int, evaluate: Callable[..., Any] | None, *partials: Rule, **kw: Any) -> Op:
    for key in ("params", "notes", "aliases", "arg_names", "domain"):
        if key in kw:
            kw[key] = tuple(kw[key])
    if "overloads" in kw:
        kw["overloads"] = tuple(kw["overloads"].items())
    return register(Op(name, arity, evaluate, tuple(partials), **kw))


# --- generic primitives: numpy on numbers, graph nodes on symbolic handles -------------------

class Sym:
    """A symbolic handle: a node of a Builder's graph, with Python's operators building nodes."""

    __slots__ = ("builder", "id")
    __array_priority__ = 1000  # numpy defers to our operators

    def __init__(self, builder: Any, node_id: int):
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


def _primitive(name: str) -> Callable[..., Any]:
    def apply(*args: Any, **params: Any) -> Any:
        for a in args:
            if isinstance(a, Sym):
                return a.builder.apply(name, args, params)
        return OPS[name].evaluate(*args, **params)
    apply.__name__ = name
    return apply


class _Primitives:
    """`fn.cos(x)`, `fn.matmul(a, b)`: every entry of the table as a function of numbers (numpy)
    or of symbolic handles (graph nodes). Rules are written with these."""

    def __getattr__(self, name: str) -> Callable[..., Any]:  # only for names not yet made
        if name not in OPS:
            raise AttributeError(f"no operation '{name}' in the table")
        self.__dict__[name] = _primitive(name)
        return self.__dict__[name]


fn = _Primitives()


def constant(x: Any, value: float | str) -> Any:
    """A constant in a rule that prints as itself: log(2), not 0.693...; a name ("pi") prints
    as the name. On numbers it is just the number."""
    label = value if isinstance(value, str) else None
    number = CONSTANTS[value] if isinstance(value, str) else value
    return x.builder.const(number, label) if isinstance(x, Sym) else number


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
TIE = {"tensorflow": (1, 0), "pytorch": (0.5, 0.5), "jax": (0.5, 0.5)}
POS = ((0.2, 3.0),)
UNIT = ((-0.9, 0.9),)

# --- the table --------------------------------------------------------------------------------
# Arithmetic (infix in the language; `pow` is also a function).
op("add", 2, np.add, lambda a, b, y: 1, lambda a, b, y: 1, infix="+", prec=SUM, call=False, fold=True)
op("sub", 2, np.subtract, lambda a, b, y: 1, lambda a, b, y: -1, infix="-", prec=SUM, call=False, fold=True)
op("mul", 2, np.multiply, lambda a, b, y: b, lambda a, b, y: a, infix="·", prec=PRODUCT, call=False,
   fold=True, latex=r" \cdot ")
op("div", 2, np.divide, lambda a, b, y: 1 / b, lambda a, b, y: -a / b**2, infix="/", prec=PRODUCT,
   call=False, fold=True, domain=((-3, 3), (0.3, 3)), latex=(r"\frac{", 0, "}{", 1, "}"))
op("pow", 2, _pow, lambda a, b, y: _pow_partial(a, b), lambda a, b, y: fn.log(a) * y, infix="^",
   prec=POWER, fold=True, domain=((0.3, 3), (-2, 2)), latex=((0, POWER), "^{", 1, "}"))
op("neg", 1, np.negative, lambda x, y: -1, infix="-", prec=PREFIX, call=False, fold=True)

# Comparisons: 1 where true, 0 where false; a step, so no derivative flows, undefined at a tie.
for _name, _sym, _f, _latex in (("lt", "<", np.less, " < "), ("le", "<=", np.less_equal, r" \le "),
                                ("gt", ">", np.greater, " > "), ("ge", ">=", np.greater_equal, r" \ge "),
                                ("eq", "==", np.equal, " = "), ("ne", "!=", np.not_equal, r" \ne ")):
    op(_name, 2, _cmp(_f), None, None, infix=_sym, prec=COMPARE, call=False, fold=True, latex=_latex,
       kink=Kink(lambda a, b: a == b, {c: (0, 0) for c in CONVENTIONS}, "at a tie (both sides equal)"))

# Elementwise functions.
op("sin", 1, np.sin, lambda x, y: fn.cos(x), latex=r"\sin")
op("cos", 1, np.cos, lambda x, y: -fn.sin(x), latex=r"\cos")
op("tan", 1, np.tan, lambda x, y: 1 + y**2, domain=((-1.2, 1.2),), latex=r"\tan")
op("asin", 1, np.arcsin, lambda x, y: 1 / fn.sqrt(1 - x**2), domain=UNIT, latex=r"\arcsin")
op("acos", 1, np.arccos, lambda x, y: -1 / fn.sqrt(1 - x**2), domain=UNIT, latex=r"\arccos")
op("atan", 1, np.arctan, lambda x, y: 1 / (1 + x**2), latex=r"\arctan")
op("sinh", 1, np.sinh, lambda x, y: fn.cosh(x), latex=r"\sinh")
op("cosh", 1, np.cosh, lambda x, y: fn.sinh(x), latex=r"\cosh")
op("tanh", 1, np.tanh, lambda x, y: 1 - y**2, latex=r"\tanh")
op("asinh", 1, np.arcsinh, lambda x, y: 1 / fn.sqrt(x**2 + 1))
op("acosh", 1, np.arccosh, lambda x, y: 1 / fn.sqrt(x**2 - 1), domain=((1.2, 4),))
op("atanh", 1, np.arctanh, lambda x, y: 1 / (1 - x**2), domain=UNIT)
op("exp", 1, np.exp, lambda x, y: y, latex=r"\exp")
op("log", 1, np.log, lambda x, y: 1 / x, domain=POS, aliases=("ln",), latex=r"\log",
   overloads={2: lambda x, base: fn.log(x) / fn.log(base)}, notes=["log(x, base) = log(x)/log(base)"])
op("log2", 1, np.log2, lambda x, y: 1 / (x * fn.log(constant(x, 2))), domain=POS)
op("log10", 1, np.log10, lambda x, y: 1 / (x * fn.log(constant(x, 10))), domain=POS)
op("sqrt", 1, np.sqrt, lambda x, y: 1 / (2 * y), domain=POS, latex=(r"\sqrt{", 0, "}"))
op("cbrt", 1, np.cbrt, lambda x, y: 1 / (3 * y**2), domain=POS)
op("abs", 1, np.abs, lambda x, y: fn.sign(x), latex=(r"\left|", 0, r"\right|"),
   kink=Kink(lambda x: x == 0, {"tensorflow": (0,), "pytorch": (0,), "jax": (1,)}, "where its argument is 0"))
op("sign", 1, np.sign, None,
   kink=Kink(lambda x: x == 0, ZERO, "where its argument is 0"))
op("sigmoid", 1, _sigmoid, lambda x, y: y * (1 - y))
op("relu", 1, lambda x: np.maximum(x, 0.0), lambda x, y: fn.where(x > 0, 1, 0),
   kink=Kink(lambda x: x == 0, ZERO, "where its argument is 0"))
op("softplus", 1, _softplus, lambda x, y: fn.sigmoid(x))
op("max", 2, np.maximum, lambda a, b, y: fn.where(a >= b, 1, 0), lambda a, b, y: fn.where(a >= b, 0, 1),
   kink=Kink(lambda a, b: a == b, TIE, "at a tie (both arguments equal)"), latex=r"\max",
   overloads={1: "reduce_max"}, notes=["max(A) or max(A, axis=0): the reduction over an array"])
op("min", 2, np.minimum, lambda a, b, y: fn.where(a <= b, 1, 0), lambda a, b, y: fn.where(a <= b, 0, 1),
   kink=Kink(lambda a, b: a == b, TIE, "at a tie (both arguments equal)"), latex=r"\min",
   overloads={1: "reduce_min"}, notes=["min(A) or min(A, axis=0): the reduction over an array"])
op("atan2", 2, np.arctan2, lambda a, b, y: b / (a**2 + b**2), lambda a, b, y: -a / (a**2 + b**2),
   domain=((0.3, 3), (0.3, 3)), arg_names=("y", "x"))
op("hypot", 2, np.hypot, lambda a, b, y: a / y, lambda a, b, y: b / y, domain=((0.3, 3), (0.3, 3)))
op("where", 3, _where, None, lambda c, a, b, y: fn.where(c, 1, 0), lambda c, a, b, y: fn.where(c, 0, 1),
   domain=((-1, 1), (-3, 3), (-3, 3)), fold=True)
# Step functions: no derivative flows (zero wherever it exists), undefined at each jump.
for _name, _f, _jump, _where_text in (
        ("floor", np.floor, lambda x: x == np.floor(x), "an integer"),
        ("ceil", np.ceil, lambda x: x == np.floor(x), "an integer"),
        ("round", np.round, lambda x: x - np.floor(x) == 0.5, "a half-integer")):
    op(_name, 1, _f, None, note=f"{_name} is a step function: its derivative is 0 wherever it exists",
       kink=Kink(_jump, ZERO, f"where its argument is {_where_text}"))

# --- Arrays: reductions, shapes, linear algebra, neural-network layers ------------------------
# Each argument's rule is a Linear one: the vector-Jacobian product (reverse mode) and the
# Jacobian-vector product (forward mode). Where the product is written with primitives, grad()
# in a program goes through it exactly and can be differentiated again.

REDUCE = (("axis", None),)


def _stack_vjp(i, g, a, y, p):
    if p["axis"] >= 0:  # g[:, ..., i]: an index node, so grad() through an array literal nests
        return fn.index(g, index=(("slice", None, None, None),) * p["axis"] + (i,))
    return None if isinstance(g, Sym) else np.take(g, i, axis=p["axis"])


op("sum", 1, arrays.reduction("sum", np.sum), Linear(
    lambda i, g, a, y, p: fn.spread(g, a[0], axis=p["axis"]),
    lambda i, t, a, y, p: np.sum(t, axis=p["axis"])), params=REDUCE)
op("mean", 1, arrays.reduction("mean", np.mean), Linear(
    lambda i, g, a, y, p: fn.spread(g, a[0], axis=p["axis"]) * (fn.size(y) / fn.size(a[0])),
    lambda i, t, a, y, p: np.mean(t, axis=p["axis"])), params=REDUCE)
op("transpose", 1, np.transpose, Linear(
    lambda i, g, a, y, p: fn.transpose(g),
    lambda i, t, a, y, p: np.transpose(t)))
for _name, _f in (("reduce_max", np.max), ("reduce_min", np.min)):
    op(_name, 1, arrays.reduction(_name[7:], _f), Linear(
        lambda i, g, a, y, p: arrays.extreme_vjp(g, a[0], y, p["axis"]),
        lambda i, t, a, y, p: np.sum(arrays.extreme_vjp(np.ones_like(y), a[0], y, p["axis"]) * t,
                                     axis=p["axis"]), symbolic=False),
       params=REDUCE, call=False, callable_as=_name[7:])
op("softmax", 1, arrays.softmax, Linear(
    lambda i, g, a, y, p: y * (g - np.sum(g * y, axis=p["axis"], keepdims=True)),
    lambda i, t, a, y, p: y * (t - np.sum(t * y, axis=p["axis"], keepdims=True)), symbolic=False),
   params=(("axis", -1),))
op("logsumexp", 1, arrays.logsumexp, Linear(
    lambda i, g, a, y, p: arrays.spread(g, a[0], p["axis"]) * arrays.softmax(a[0], p["axis"]),
    lambda i, t, a, y, p: np.sum(arrays.softmax(a[0], p["axis"]) * t, axis=p["axis"]), symbolic=False),
   params=REDUCE)
# a @ b as matrices (a vector is a row on the left, a column on the right): ∂/∂a = g·bᵀ, ∂/∂b = aᵀ·g.
op("matmul", 2, arrays.matmul,
   Linear(lambda i, g, a, y, p: fn.reshape_as(
              fn.matmul(fn.as_grid(g, a[0], a[1]), fn.transpose(fn.as_column(a[1]))), a[0]),
          lambda i, t, a, y, p: arrays.matmul(t, a[1])),
   Linear(lambda i, g, a, y, p: fn.reshape_as(
              fn.matmul(fn.transpose(fn.as_row(a[0])), fn.as_grid(g, a[0], a[1])), a[1]),
          lambda i, t, a, y, p: arrays.matmul(a[0], t)),
   infix="@", prec=PRODUCT, aliases=("dot",))
op("reshape", 1, arrays.reshape, Linear(
    lambda i, g, a, y, p: fn.reshape_as(g, a[0]),
    lambda i, t, a, y, p: np.reshape(t, np.shape(y))), params=(("*shape", ()),))
op("index", 1, arrays.index, Linear(
    lambda i, g, a, y, p: fn.unindex(g, a[0], index=p["index"]),
    lambda i, t, a, y, p: arrays.index(t, p["index"])), params=(("index", ()),), call=False)
op("stack", 1, arrays.joined("stack", np.stack), Linear(
    _stack_vjp, lambda i, t, a, y, p: arrays.joined_jvp(np.stack, i, t, a, p["axis"])),
   params=(("axis", 0),), variadic=True)
op("concat", 1, arrays.joined("concat", np.concatenate), Linear(
    lambda i, g, a, y, p: arrays.concat_vjp(i, g, a, p["axis"]),
    lambda i, t, a, y, p: arrays.joined_jvp(np.concatenate, i, t, a, p["axis"]), symbolic=False),
   params=(("axis", 0),), variadic=True)
CONV = (("stride", 1), ("padding", "valid"))
POOL = (("size", REQUIRED), ("stride", None), ("padding", "valid"))
op("conv2d", 2, lambda a, k, stride=1, padding="valid": kernels.conv2d(a, k, stride, padding), Linear(
    lambda i, g, a, y, p: kernels.conv2d_vjp(g, a[0], a[1], p["stride"], p["padding"])[i],
    lambda i, t, a, y, p: kernels.conv2d_jvp(t if i == 0 else None, t if i == 1 else None,
                                             a[0], a[1], p["stride"], p["padding"]), symbolic=False),
   params=CONV, notes=["TensorFlow's cross-correlation: the kernel is not flipped (Octave's conv2 flips it)"])
op("avg_pool", 1, lambda a, size, stride=None, padding="valid": kernels.avg_pool(a, size, stride, padding),
   Linear(lambda i, g, a, y, p: kernels.avg_pool_vjp(g, a[0], p["size"], p["stride"], p["padding"]),
          lambda i, t, a, y, p: kernels.avg_pool_jvp(t, a[0], p["size"], p["stride"], p["padding"]),
          symbolic=False), params=POOL)
op("max_pool", 1, lambda a, size, stride=None, padding="valid": kernels.max_pool(a, size, stride, padding),
   Linear(lambda i, g, a, y, p: kernels.max_pool_vjp(g, a[0], p["size"], p["stride"], p["padding"]),
          lambda i, t, a, y, p: kernels.max_pool_jvp(t, a[0], p["size"], p["stride"], p["padding"]),
          symbolic=False), params=POOL)

# The operations that the rules above are written with (not callable in the language).
# fit(g, a): g summed over the axes it was broadcast along (or broadcast out) to a's shape;
# size(a): a's number of elements; spread(g, a, axis): a reduction's gradient spread back over
# a; as_row, as_column, as_grid, reshape_as: the shapes of a matrix product's gradient;
# unindex(g, a, index): zeros of a's shape with g at the indexed places.
op("fit", 2, lambda g, a: arrays.fit_shape(g, np.shape(a)), lambda g, a, y: 1, None,
   callable_as="shaped_like", arg_names=("a", "like"), domain=((-2, 2), (-2, 2)),
   notes=["a in the shape of like (a number repeated, as the seed of grad(f, x) for an array x); "
          "a derivative printed by adiff diff may contain it"])  # as people see it, and read back
op("size", 1, lambda a: np.asarray(np.size(a), dtype=np.result_type(a, np.float32))[()], None, call=False)
op("spread", 2, arrays.spread, Linear(
    lambda i, g, a, y, p: fn.sum(g, axis=p["axis"]),
    lambda i, t, a, y, p: arrays.spread(t, a[1], p["axis"])), None, params=REDUCE, call=False)
for _name, _f in (("as_row", arrays.as_row), ("as_column", arrays.as_column)):
    op(_name, 1, _f, Linear(lambda i, g, a, y, p: fn.reshape_as(g, a[0]),
                            lambda i, t, a, y, p, _f=_f: _f(t)), call=False)
op("as_grid", 3, arrays.as_grid, Linear(
    lambda i, g, a, y, p: fn.reshape_as(g, a[0]),
    lambda i, t, a, y, p: arrays.as_grid(t, a[1], a[2])), None, None, call=False)
op("reshape_as", 2, arrays.reshape_as, Linear(
    lambda i, g, a, y, p: fn.reshape_as(g, a[0]),
    lambda i, t, a, y, p: arrays.reshape_as(t, a[1])), None, call=False)
op("unindex", 2, arrays.unindex, Linear(
    lambda i, g, a, y, p: fn.index(g, index=p["index"]),
    lambda i, t, a, y, p: arrays.unindex(t, a[1], p["index"])), None, params=(("index", ()),), call=False)


# vjp_of(g, *args): the vector-Jacobian product of an array operation whose rule is numbers
# only (conv2d, pooling, softmax, ...), as a node, so grad(f, x) in a program goes through it;
# its own derivative is not available (an error).
def _vjp_of(g, *args, op, i, params):
    entry = OPS[op]
    params = dict(params)
    y = entry.evaluate(*args, **params)
    return entry.partial(i).vjp(i, np.broadcast_to(g, np.shape(y)), list(args), y, params)


def _no_second_derivative(*args):
    raise UsageError("a derivative of hessian(), or a second derivative through the gradient of "
                     "conv2d, pooling, softmax, logsumexp, concat or a max/min reduction, is not available")


op("vjp_of", 1, _vjp_of, _no_second_derivative, call=False, variadic=True,
   params=(("op", REQUIRED), ("i", 0), ("params", ())))

# Derivatives inside a program. grad(f, x) is read as a node and expanded after parsing into
# the derivative's own graph (exact, so it nests); hessian(f, x) is the Jacobian of that node
# in x, which the engine computes over the graph (reverse mode over the derivative: exact).
op("grad", 2, None, None, None, derivative=True, arg_names=("f", "x"),
   notes=["the exact partial of f with respect to x (an input or a named step), built into the "
          "program: it can be differentiated again"])
op("hessian", 2, None, _no_second_derivative, _no_second_derivative, derivative=True, needs_graph=True,
   arg_names=("f", "x"), notes=["the Jacobian of grad(f, x) in x (exact second derivatives)"])

# Arrays made from parameters alone: no argument, so no gradient.
SHAPE = (("*shape", ()),)
op("linspace", 0, lambda start, stop, num=50: np.linspace(start, stop, arrays.whole_number(num, "linspace")),
   params=(("start", REQUIRED), ("stop", REQUIRED), ("num", 50)))
op("zeros", 0, lambda shape=(): np.zeros([arrays.whole_number(n, "zeros") for n in shape]), params=SHAPE)
op("ones", 0, lambda shape=(): np.ones([arrays.whole_number(n, "ones") for n in shape]), params=SHAPE)
op("eye", 0, lambda n: np.eye(arrays.whole_number(n, "eye")), params=(("n", REQUIRED),))

# Initial values drawn as Keras draws them (initialisers.py: fans, limits, truncation), from
# the program's seed (--seed) and the call's place in the program, or from seed=N. A name bound
# to one of these (or to zeros/ones), `W = glorot_uniform(2, 2)`, is an input whose value is
# drawn when the program is read: it can be trained (adiff fit --params W) and given with --at.
DRAWN = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "random_uniform", "random_normal")
INITIALISERS = (*DRAWN, "zeros", "ones")
DRAW = (("*shape", ()), ("seed", None))
_DRAW_NOTE = "drawn as Keras draws it, from --seed (default 0) and the call's place; seed=N fixes it"
_scaled = initialisers.variance_scaling
op("glorot_uniform", 0, _scaled("glorot_uniform", 1.0, "fan_avg", True), params=DRAW,
   notes=["uniform in ±√(6/(fan_in + fan_out)); " + _DRAW_NOTE])
op("glorot_normal", 0, _scaled("glorot_normal", 1.0, "fan_avg", False), params=DRAW,
   notes=["normal of stddev √(2/(fan_in + fan_out))/0.8796, truncated at ±2 stddev; " + _DRAW_NOTE])
op("he_uniform", 0, _scaled("he_uniform", 2.0, "fan_in", True), params=DRAW,
   notes=["uniform in ±√(6/fan_in); " + _DRAW_NOTE])
op("he_normal", 0, _scaled("he_normal", 2.0, "fan_in", False), params=DRAW,
   notes=["normal of stddev √(2/fan_in)/0.8796, truncated at ±2 stddev; " + _DRAW_NOTE])
op("random_uniform", 0, initialisers.random_uniform,
   params=(("shape", REQUIRED), ("low", -0.05), ("high", 0.05), ("seed", None)),
   notes=["random_uniform([2, 3], low, high); " + _DRAW_NOTE])
op("random_normal", 0, initialisers.random_normal,
   params=(("shape", REQUIRED), ("mean", 0.0), ("stddev", 0.05), ("seed", None)),
   notes=["random_normal([2, 3], mean, stddev), not truncated; " + _DRAW_NOTE])


def initial_value(op_name: str, attr: Any) -> Any:
    """The value of an initialiser's call (its parameters as the reader stored them)."""
    entry = OPS[op_name]
    return entry.evaluate(**params_of(entry, attr))

# Losses, each the mean over all elements, written with the operations above (a macro is
# expanded when the program is read, so its parts show as nodes and need no rules of their own).
LOSS = ["a loss: the mean over all elements, made of the operations above"]
op("mse", 2, None, expand=lambda p, y: fn.mean((p - y) ** 2), arg_names=("p", "y"), notes=LOSS)
op("mae", 2, None, expand=lambda p, y: fn.mean(fn.abs(p - y)), arg_names=("p", "y"), notes=LOSS)
op("binary_crossentropy", 2, None, arg_names=("p", "y"), notes=LOSS, domain=((0.05, 0.95), (0.0, 1.0)),
   expand=lambda p, y: fn.mean(-(y * fn.log(p) + (1 - y) * fn.log(1 - p))))


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
