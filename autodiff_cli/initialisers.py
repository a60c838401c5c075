"""Initial values drawn as Keras draws them (keras/src/initializers/random_initializers.py),
for the op table's glorot_uniform, glorot_normal, he_uniform, he_normal, random_uniform and
random_normal.

Keras's VarianceScaling: for a shape, fan_in and fan_out are its last two axes (times the
product of the others, the receptive field; a vector has fan_in = fan_out = its length, a
number 1); glorot scales 1 by the mean of the fans, he scales 2 by fan_in. The uniform ones
draw from ±√(3·scale) — glorot_uniform ±√(6/(fan_in + fan_out)), he_uniform ±√(6/fan_in) —
the normal ones from a normal of standard deviation √scale/0.87962566103423978 truncated at
two standard deviations (values beyond are drawn again), as Keras does. random_uniform(shape,
low, high) and random_normal(shape, mean, stddev) draw plainly (Keras's defaults ±0.05, 0.05).

Numbers come from numpy's default generator (PCG64), not Keras's: the same distributions,
not the same digits. Each call has its own stream, seeded by the program's seed (--seed, held
in SEED while a command reads a program) and the call's place in the program (`draw`, given
by the reader), so a program means the same numbers under every command and for every run;
`seed=N` in the call fixes its stream alone, wherever the call is.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np

from .arrays import whole_number

DEFAULT_SEED = 0  # a program without --seed always means the same numbers
SEED: ContextVar[int] = ContextVar("seed", default=DEFAULT_SEED)
TRUNCATED_STDDEV = 0.87962566103423978  # stddev of a unit normal truncated at ±2 (Keras's constant)


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Programs read within draw their initial values from this seed."""
    token = SEED.set(DEFAULT_SEED if seed is None else seed)
    try:
        yield
    finally:
        SEED.reset(token)


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Keras's compute_fans."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    field = math.prod(shape[:-2])
    return shape[-2] * field, shape[-1] * field


def _shape(shape: Any, name: str) -> tuple[int, ...]:
    items = shape if isinstance(shape, tuple) else (shape,)
    return tuple(whole_number(n, name) for n in items)


def _generator(seed: Any, draw: int) -> np.random.Generator:
    if seed is not None:
        return np.random.default_rng(int(seed))
    return np.random.default_rng([SEED.get(), draw])


def truncated_normal(rng: np.random.Generator, shape: tuple[int, ...], mean: float, stddev: float) -> Any:
    """A normal sample with the values beyond two standard deviations drawn again."""
    z = rng.standard_normal(shape)
    outside = np.abs(z) > 2
    while outside.any():
        z[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(z) > 2
    return mean + stddev * z


def variance_scaling(name: str, scale: float, mode: str, uniform: bool) -> Any:
    """The evaluate function of one of Keras's VarianceScaling initialisers."""
    def draw(shape: Any = (), seed: Any = None, draw: int = 0) -> Any:
        dims = _shape(shape, name)
        fan_in, fan_out = fans(dims)
        s = scale / max(1.0, fan_in if mode == "fan_in" else (fan_in + fan_out) / 2)
        rng = _generator(seed, draw)
        if uniform:
            limit = math.sqrt(3 * s)
            return rng.uniform(-limit, limit, dims)
        return truncated_normal(rng, dims, 0.0, math.sqrt(s) / TRUNCATED_STDDEV)
    return draw


def random_uniform(shape: Any, low: float = -0.05, high: float = 0.05, seed: Any = None,
                   draw: int = 0) -> Any:
    return _generator(seed, draw).uniform(low, high, _shape(shape, "random_uniform"))


def random_normal(shape: Any, mean: float = 0.0, stddev: float = 0.05, seed: Any = None,
                  draw: int = 0) -> Any:
    return _generator(seed, draw).normal(mean, stddev, _shape(shape, "random_normal"))
