"""Oracles shared by the tests that check the op table: sample points from an op's domain, random
directions, kink detection, central finite differences, and the engine's passes driven through
program text (forward values, forward mode along a direction, reverse mode from a cotangent).

Only an entry's public facts are read here (`name`, `arity`, `domain`, `params`, `variadic`,
`kink`): derivative rules are reached through programs, never through the entry's rule fields,
so these tests keep working however the rules are stored.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from autodiff_cli import engine
from autodiff_cli.ops import FUNCTIONS, OPS
from autodiff_cli.parse import parse

DEFAULT_DOMAIN = (-3.0, 3.0)  # where an entry that declares no domain is sampled
KINK_MARGIN = 1e-3  # how far from a point where an op is not differentiable a sample must be
REL_STEP = 1e-6  # central differences: h = REL_STEP·max(1, |x|)

# Operators on derivatives, not functions of numbers: grad(f, x) and hessian(f, x) are checked
# through programs in test_language.py.
DERIVATIVE_OPERATORS = ("grad", "hessian")

# Entries that declare no domain though the default one is outside theirs. The domain belongs
# in the entry (ops.py); until it is there, the tests take it from here.
TEST_DOMAINS: dict[str, tuple[tuple[float, float], ...]] = {}  # domains the table does not give


# --- what an entry is -------------------------------------------------------------------------------

def is_array_op(entry: Any) -> bool:
    """An array operation (its derivative is a vector-Jacobian product, not an elementwise
    local partial): the entry's `is_array` where it has one, else whether it has a `vjp`."""
    flag = getattr(entry, "is_array", None)
    if flag is not None:
        return bool(flag)
    return entry.vjp is not None


def arg_names(entry: Any) -> list[str]:
    return [f"a{i}" for i in range(entry.arity)]


def call_names(entry: Any) -> list[str]:
    """The names a call may use for this entry (its callable name and aliases)."""
    return [name for name, e in FUNCTIONS.items() if e is entry]


def program_texts(entry: Any) -> list[str]:
    """Every way the language writes this op applied to inputs a0, a1, ...: a call by each name
    FUNCTIONS accepts for it, and the infix or prefix form. Empty for an internal op."""
    names = arg_names(entry)
    texts = [f"{name}({', '.join(names)})" for name in call_names(entry)]
    if entry.infix is not None:
        if entry.arity == 1:
            texts.append(f"{entry.infix}{names[0]}")
        elif entry.arity == 2:
            texts.append(f"{names[0]} {entry.infix} {names[1]}")
    return texts


def builds_own_node(entry: Any) -> bool:
    """Its call is read as a node of this op (not a macro written with other operations, as
    mse(a, b) is written with mean)."""
    prog = parse(program_texts(entry)[0])
    return prog.graph[prog.target].op == entry.name


def scalar_ops() -> dict[str, Any]:
    """Every entry that is a function of numbers and can be written in a program: elementwise
    (array operations are left out: ARRAY_CALLS in test_ops.py has them), with arguments, with
    a call or an operator symbol (internal operations of gradient graphs are left out), and not
    an operator on derivatives."""
    return {name: e for name, e in OPS.items()
            if e.arity > 0 and not is_array_op(e) and name not in DERIVATIVE_OPERATORS
            and not e.params and not e.variadic and program_texts(e)}


# --- points and directions --------------------------------------------------------------------------

def rng_for(*key: object) -> np.random.Generator:
    """A generator seeded by a name (and case number): adding an op does not move the others' points."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def domain_of(entry: Any, n_args: int | None = None) -> tuple[tuple[float, float], ...]:
    """Per argument, the interval tests sample from: the entry's domain, else the default."""
    n = entry.arity if n_args is None else n_args
    if entry.domain:
        return tuple(entry.domain)
    return TEST_DOMAINS.get(entry.name) or (DEFAULT_DOMAIN,) * n


def sample_points(name: str, domain: tuple[tuple[float, float], ...], n: int) -> list[tuple[float, ...]]:
    """n points of the domain, seeded by the name."""
    rng = rng_for(name)
    return [tuple(float(rng.uniform(lo, hi)) for lo, hi in domain) for _ in range(n)]


def random_direction(rng: np.random.Generator, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Any]:
    """A random direction (or cotangent) per name, of unit length overall."""
    parts = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    norm = math.sqrt(sum(float(np.sum(p * p)) for p in parts.values())) or 1.0
    return {name: (p / norm)[()] for name, p in parts.items()}


# --- kinks ------------------------------------------------------------------------------------------

def kink_candidates(point: tuple[float, ...]) -> list[tuple[float, ...]]:
    """Nearby points where a kink may sit: an argument moved to 0, to the nearest integers or
    half-integer, or made equal to another argument (a tie)."""
    out = []
    for i, x in enumerate(point):
        for c in (0.0, math.floor(x), math.ceil(x), math.floor(x) + 0.5, round(x)):
            out.append(point[:i] + (float(c),) + point[i + 1:])
        for j in range(len(point)):
            if j != i:
                out.append(point[:j] + (x,) + point[j + 1:])
    return out


def near_kink(entry: Any, point: tuple[float, ...], margin: float = KINK_MARGIN) -> bool:
    """Whether a point where the entry is not differentiable lies within `margin` of the point."""
    if entry.kink is None:
        return False
    point = tuple(float(v) for v in point)
    for cand in [point, *kink_candidates(point)]:
        if max((abs(a - b) for a, b in zip(cand, point, strict=True)), default=0.0) <= margin:
            with np.errstate(all="ignore"):
                if bool(np.any(entry.kink.where(*map(np.float64, cand)))):
                    return True
    return False


# --- finite differences -----------------------------------------------------------------------------

def central_difference(fn: Callable[..., Any], point: tuple[float, ...], i: int,
                       rel_step: float = REL_STEP) -> float:
    """∂fn/∂(argument i) at the point, (fn(x + h) - fn(x - h)) / 2h, the step taken as represented."""
    x = point[i]
    h = rel_step * max(1.0, abs(x))
    up = point[:i] + (x + h,) + point[i + 1:]
    down = point[:i] + (x - h,) + point[i + 1:]
    with np.errstate(all="ignore"):
        return float((fn(*map(np.float64, up)) - fn(*map(np.float64, down))) / ((x + h) - (x - h)))


def directional_difference(fn: Callable[[dict[str, Any]], Any], point: Mapping[str, Any],
                           direction: Mapping[str, Any], step: float = REL_STEP) -> Any:
    """The derivative of fn at the point along the direction, by a central difference:
    (fn(p + h·v) - fn(p - h·v)) / 2h, with h relative to the point's size."""
    scale = max([1.0] + [float(np.max(np.abs(v))) for v in point.values()])
    h = step * scale
    up = {n: np.asarray(point[n], dtype=float) + h * np.asarray(direction[n]) for n in point}
    down = {n: np.asarray(point[n], dtype=float) - h * np.asarray(direction[n]) for n in point}
    with np.errstate(all="ignore"):
        return (np.asarray(fn(up), dtype=float) - np.asarray(fn(down), dtype=float)) / (2 * h)


def close(actual: Any, expected: Any, rtol: float, atol: float) -> bool:
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    if actual.shape != expected.shape:
        return False
    return bool(np.all(np.abs(actual - expected) <= atol + rtol * np.abs(expected)))


# --- the engine's passes, through program text ------------------------------------------------------

class Passes:
    """A program's forward pass at a point, and its linearization: forward mode (`jvp`) and
    reverse mode (`vjp`) of the program's target with respect to its inputs."""

    def __init__(self, program: str | Any, point: Mapping[str, Any], convention: str = "tensorflow"):
        self.program = parse(program) if isinstance(program, str) else program
        self.point = {n: np.asarray(v, dtype=np.float64)[()] for n, v in point.items()}
        self.values, self.warnings = engine.forward(self.program, self.point)
        target = self.program.target
        self.lin = engine.linearize(self.program, self.values, engine.needed_nodes(self.program, [target]),
                                    convention)

    @property
    def value(self) -> Any:
        return self.values[self.program.target]

    def jvp(self, direction: Mapping[str, Any]) -> Any:
        """Forward mode: the target's tangent along the direction, one tangent pass per input
        (pushed forward from that input), summed by linearity."""
        target = self.program.target
        total = np.zeros(np.shape(self.value))
        for name, node in self.program.inputs.items():
            tangent = engine.tangents(self.program, self.lin, node, direction[name]).get(target)
            if tangent is not None:
                total = total + tangent
        return total[()]

    def vjp(self, cotangent: Any) -> dict[str, Any]:
        """Reverse mode: the adjoint of each input for the given cotangent of the target
        (zero for an input the target does not depend on)."""
        adjoints, _ = engine.reverse(self.program, self.lin, self.program.target, cotangent)
        return {name: np.broadcast_to(adjoints.get(node, 0.0), np.shape(self.point[name]))[()]
                for name, node in self.program.inputs.items()}


def program_value(program: str | Any, point: Mapping[str, Any]) -> Any:
    """The program's target at the point, by its forward pass."""
    return Passes(program, point).value


def inner(a: Mapping[str, Any] | Any, b: Mapping[str, Any] | Any) -> float:
    """<a, b>: summed over names for dicts of arrays."""
    if isinstance(a, Mapping):
        return math.fsum(float(np.sum(np.asarray(a[n]) * np.asarray(b[n]))) for n in a)
    return float(np.sum(np.asarray(a) * np.asarray(b)))
