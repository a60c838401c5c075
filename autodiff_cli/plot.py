"""Curves of f and its derivatives over a range, and the finite-difference error against the
step, for the terminal (plotext) or an image (matplotlib); both are optional extras."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .api import as_program
from .engine import forward
from .errors import UsageError
from .graph import Program
from .inputs import glued_hint, input_values, parse_grid, resolve
from .ops import OPS
from .symbolic import derivative_in_program


@dataclass
class Curves:
    """f and its derivatives along one input, the others fixed."""

    name: str  # the variable
    x: Any
    series: dict[str, Any]  # label -> values (nan where not finite or across a jump)


def curves(program: str | Program, over: str, order: int = 1, at: dict[str, Any] | None = None,
           of: str | None = None) -> Curves:
    """Evaluate f, f′ (and f″ with order 2) at every point of `over` (NAME=START:STOP or
    NAME=START:STOP:COUNT), in one vectorized pass, derivatives exact (built into the graph)."""
    prog = as_program(program)
    if over.count(":") == 1:
        over += ":801"
    name, xs = parse_grid(over)
    if not np.isfinite(xs).all() or np.ptp(xs) > 1e300:
        raise UsageError(f"--over {over}: the range must be finite numbers")
    if name not in prog.inputs:
        raise UsageError(f"--over {name}: the program has no input '{name}' "
                         f"(its inputs: {', '.join(prog.inputs)})", hint=glued_hint(prog, {}))
    (target,) = resolve(prog, [of], "--of") if of else (prog.target,)
    for n in prog.graph.ancestors([target]):
        entry = OPS.get(prog.graph[n].op)
        if entry is not None and entry.is_array:
            raise UsageError(f"plot draws programs of scalar operations; {entry.shown_name} "
                             "works on whole arrays")
    nodes = {f"{of or prog.target_name}": target}
    wrt = prog.inputs[name]
    last = target
    for k in range(1, order + 1):
        last = derivative_in_program(prog.graph, last, wrt)
        power = f"^{k}" if k > 1 else ""
        nodes[f"d{power}{of or prog.target_name}/d{name}{power}"] = last
    values_in = input_values(prog, {**(at or {}), name: xs})
    values, _ = forward(prog, values_in)
    with np.errstate(all="ignore"):
        series = {label: with_gaps(np.broadcast_to(values[node], xs.shape).astype(float))
                  for label, node in nodes.items()}
    if not any(np.isfinite(y).any() for y in series.values()):
        raise UsageError(f"nothing to draw: the values are not finite anywhere on {over}")
    return Curves(name, xs, series)


def with_gaps(y: Any) -> Any:
    """Non-finite points become gaps (nan), and so does a jump (a step much larger than the
    curve's usual steps), so a kink or a step is not drawn as a steep line."""
    y = np.where(np.isfinite(y), y, np.nan)
    if y.size < 3 or not np.isfinite(y).any():
        return y
    steps = np.abs(np.diff(y))
    usual = np.nanmedian(steps) if np.isfinite(steps).any() else 0.0
    neighbours = np.fmax(np.r_[steps[1], steps[:-1]], np.r_[steps[1:], steps[-2]])
    with np.errstate(invalid="ignore"):
        jumps = np.where((steps > 50 * usual + 1e-12) | (steps > 5 * neighbours + 1e-12))[0]
    out = y.copy()
    out[jumps + 1] = np.nan  # break the line after each jump
    return out


def _need(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(f"this needs {module.split('.')[0]}, an optional extra: pip install '{extra}'"
                         ) from None


def _plotext(width: int, height: int, colour: bool) -> Any:
    plt = _need("plotext", "adiff[plot]")
    plt.clear_figure()
    plt.plotsize(width, height)
    if not colour:
        plt.theme("clear")  # no colour codes when piped or with NO_COLOR
    return plt


def _ticks(plt: Any, values: Any, axis: str, log: bool = False, count: int = 5) -> None:
    """Tick labels in scientific notation where plain decimals would be a row of zeros
    (5.55e-09, not 0.00000000555112); plotext's own ticks otherwise."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if log:
        finite = finite[finite > 0]
    if not finite.size:
        return
    low, high = float(finite.min()), float(finite.max())
    biggest = max(abs(low), abs(high))
    if not log and (biggest == 0 or 1e-3 <= biggest < 1e6) or low == high:
        return
    ticks = np.geomspace(low, high, count) if log else np.linspace(low, high, count)
    set_ticks = plt.xticks if axis == "x" else plt.yticks
    set_ticks([float(t) for t in ticks], [f"{t:.3g}" for t in ticks])


def terminal_plot(c: Curves, width: int = 100, height: int = 25, colour: bool = False) -> str:
    plt = _plotext(width, height, colour)
    for label, y in c.series.items():
        if np.isfinite(y).any():  # a curve with no finite point has nothing to draw
            plt.plot(list(c.x), [None if np.isnan(v) else float(v) for v in y], label=label)
    _ticks(plt, c.x, "x")
    _ticks(plt, np.concatenate([np.asarray(y, dtype=float).ravel() for y in c.series.values()]), "y")
    plt.xlabel(c.name)
    return _plain(plt.build(), colour)


def _plain(text: str, colour: bool) -> str:
    import re

    return text if colour else re.sub(r"\x1b\[[0-9;]*m", "", text)


def image_plot(c: Curves, path: str, title: str = "") -> None:
    matplotlib = _need("matplotlib", "adiff[plot]")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for label, y in c.series.items():
        ax.plot(c.x, y, label=label)
    ax.axhline(0, color="#999999", linewidth=0.6)
    every = np.concatenate([y[np.isfinite(y)] for y in c.series.values()] or [np.zeros(1)])
    if every.size:  # near a pole, show the body of the curves rather than the spike
        low, high = np.percentile(every, [2, 98])
        pad = 0.15 * (high - low or 1.0)
        ax.set_ylim(low - pad, high + pad)
    ax.set_xlabel(c.name)
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def sweep_plot(steps: list[tuple[float, Any, Any]], path: str | None, title: str = "",
               colour: bool = False) -> str | None:
    """The central-difference error against the step h on log-log axes."""
    h = np.array([s for s, _, _ in steps], dtype=float)
    err = np.array([float(np.max(e)) for _, _, e in steps], dtype=float)
    keep = np.isfinite(err) & (err > 0)  # log axes: an error of exactly 0 cannot be drawn
    if not keep.any():
        return "(the central difference equals reverse mode at every step: nothing to draw on log axes)"
    h, err = h[keep], err[keep]
    if path is None:
        plt = _plotext(80, 22, colour)
        plt.xscale("log")
        plt.yscale("log")
        plt.plot(list(h), list(err), marker="dot")
        _ticks(plt, h, "x", log=True)
        _ticks(plt, err, "y", log=True)
        plt.xlabel("h")
        plt.title(title or "|central difference - reverse mode|")
        return _plain(plt.build(), colour)
    matplotlib = _need("matplotlib", "adiff[plot]")
    matplotlib.use("Agg")
    import matplotlib.pyplot as mpl

    fig, ax = mpl.subplots(figsize=(6, 4), dpi=120)
    ax.loglog(h, err, "o-")
    ax.set_xlabel("step h")
    ax.set_ylabel("|central difference - reverse mode|")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path)
    mpl.close(fig)
    return None
