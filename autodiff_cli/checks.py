"""The three methods side by side: symbolic formula, central finite difference, and automatic
differentiation in forward and reverse mode, with a verdict on whether they agree."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .engine import Diagnostic, forward, linearize, needed_nodes, reverse, tangents
from .graph import Program
from .symbolic import Formula, derivative, differentiate

RTOL, ATOL = 1e-5, 1e-8  # float64 defaults: central differences reach about 1e-10 relative
SWEEP_STEPS = [10.0 ** -k for k in range(1, 15)]


@dataclass
class FiniteDifference:
    value: Any
    eps: float
    rule: str
    abs_error: Any  # against reverse mode


@dataclass
class PairCheck:
    """One (target, variable) pair, computed three ways."""

    of: str
    wrt: str
    factored: list[tuple[str, str]]  # the formula as statements, shared parts named
    expanded: list[tuple[str, str]]
    symbolic: Any  # the expanded formula's value at the point
    finite_difference: FiniteDifference
    forward: Any
    reverse: Any
    agree: bool
    sweep: list[tuple[float, Any, Any]] = field(default_factory=list)  # (h, value, abs error)


def close(a: Any, b: Any, rtol: float, atol: float) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return False
    return bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))


def evaluate_formula(formula: Formula, values: dict[str, Any]) -> Any:
    """The formula's value, its input leaves taking `values` (inputs and held named steps)."""
    program = Program(graph=formula.graph, source="")
    out, _ = forward(program, values)
    return out[formula.node]


def central_difference(program: Program, inputs: dict[str, Any], target: int, wrt: int,
                       point: Any, h: float) -> Any:
    """(f(x + h) - f(x - h)) / 2h, dividing by the step the floats really took."""
    up, down = point + h, point - h
    plus, _ = forward(program, inputs, overrides={wrt: up})
    minus, _ = forward(program, inputs, overrides={wrt: down})
    with np.errstate(all="ignore"):
        return (plus[target] - minus[target]) / (up - down)


def auto_step(point: Any) -> tuple[float, str]:
    eps = np.finfo(np.float64).eps
    h = float(np.cbrt(eps) * max(1.0, float(np.max(np.abs(point)))))
    return h, "chosen as ∛ε·max(1, |x|), ε of float64"


def check_pairs(program: Program, inputs: dict[str, Any], of: list[tuple[str, int]],
                wrt: list[tuple[str, int]], convention: str = "tensorflow", eps: float | None = None,
                rtol: float = RTOL, atol: float = ATOL, sweep: bool = False
                ) -> tuple[list[PairCheck], list[Diagnostic]]:
    values, warnings = forward(program, inputs)
    lin = linearize(program, values, needed_nodes(program, [n for _, n in of]), convention)
    warnings += lin.warnings
    taken = set(program.names())
    pairs = []
    for t_name, t_node in of:
        adjoints, problem = reverse(program, lin, t_node)
        if problem is not None:
            warnings.append(problem)
        for w_name, w_node in wrt:
            point = values[w_node]
            rev = adjoints.get(w_node, np.zeros_like(point)[()])
            fwd = tangents(program, lin, w_node).get(t_node, np.zeros_like(values[t_node])[()])
            expanded = derivative(program, t_node, w_node)
            factored = derivative(program, t_node, w_node, factored=True)
            symbolic = evaluate_formula(expanded, {**inputs, w_name: point})
            h, rule = (eps, "given with --eps") if eps is not None else auto_step(point)
            fd = central_difference(program, inputs, t_node, w_node, point, h)
            with np.errstate(all="ignore"):
                fd_check = FiniteDifference(fd, h, rule, np.abs(fd - rev))
                steps = [(s, v, np.abs(v - rev)) for s in SWEEP_STEPS
                         for v in [central_difference(program, inputs, t_node, w_node, point, s)]
                         ] if sweep else []
            agree = all(close(v, rev, rtol, atol) for v in (fd, fwd, symbolic))
            pairs.append(PairCheck(t_name, w_name, factored.program_text(taken),
                                   expanded.program_text(taken), symbolic, fd_check, fwd, rev,
                                   agree, steps))
    return pairs, warnings


def symbolic_derivative(program: Program, target: int, wrt: list[tuple[str, int]]) -> Formula:
    """∂ⁿtarget/∂w1…∂wn: the first by the chain rule on the program, the rest on the formula."""
    (_, first_node), rest = wrt[0], wrt[1:]
    formula = derivative(program, target, first_node)
    for name, _node in rest:
        formula = differentiate(formula, name)
    return formula
