"""The three methods side by side: symbolic formula, central finite difference, and automatic
differentiation in forward and reverse mode, with a verdict on whether they agree."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .engine import (
    Diagnostic,
    check_memory,
    first_nonfinite,
    forward,
    jacobian_columns,
    jacobian_rows,
    linearize,
    needed_nodes,
    nonfinite_on_the_way,
    reverse,
    selection_stops,
    unselected_as_notes,
)
from .errors import UsageError
from .graph import Program
from .inputs import COMPARE_ATOL, COMPARE_RTOL
from .ops import OPS
from .symbolic import Formula, derivative, differentiate

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
    kink: str | None = None  # the point is a kink: the one-sided difference quotients differ


def close(a: Any, b: Any, rtol: float, atol: float) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return False
    return bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))


def evaluate_formula(formula: Formula, values: dict[str, Any]) -> tuple[Any, Diagnostic | None]:
    """The formula's value, its input leaves taking `values` (inputs and held named steps),
    and where a nan or inf appeared on the way to it (None when the value is clean)."""
    program = Program(graph=formula.graph, source="")
    out, _ = forward(program, values)
    value = out[formula.node]
    if not np.isfinite(value).all():
        return value, first_nonfinite(program, out)
    return value, nonfinite_on_the_way(program, out, [formula.node])


def _leaf(program: Program, node: int, value: Any) -> dict[str, Any]:
    """A formula names a variable by the program's label for its node (`s` for q in
    `s = sin(z); q = s`): the value under that name too."""
    label = program.labels.get(node)
    return {label: value} if label else {}


def central_difference(program: Program, inputs: dict[str, Any], target: int, wrt: int,
                       point: Any, h: float, skipped: dict[int, Any] | None = None,
                       count: int | None = None) -> Any:
    """(f(x + h) - f(x - h)) / 2h for each element of x in turn (f summed when it is an
    array), dividing by the step the floats really took. `skipped` holds nodes the passes need
    not compute (set to placeholders); with `count`, only the first `count` elements are
    differenced (the rest are nan)."""
    point = np.asarray(point)
    out = np.full(point.shape, np.nan, dtype=np.result_type(point, np.float32))
    skipped = skipped or {}
    with np.errstate(all="ignore"):
        for j in itertools.islice(np.ndindex(point.shape), count):
            up, down = point.copy(), point.copy()
            up[j] += h
            down[j] -= h
            plus, _ = forward(program, inputs, point.dtype.type, overrides={**skipped, wrt: up[()]})
            minus, _ = forward(program, inputs, point.dtype.type, overrides={**skipped, wrt: down[()]})
            out[j] = (np.sum(plus[target]) - np.sum(minus[target])) / (up[j] - down[j])
    return out[()]


def one_sided(program: Program, inputs: dict[str, Any], target: int, wrt: int, point: Any,
              h: float) -> tuple[Any, Any]:
    """The left and right difference quotients (f(x) - f(x - h))/h and (f(x + h) - f(x))/h,
    element by element: where they differ, x is a kink and no derivative exists."""
    point = np.asarray(point, dtype=np.float64)
    left, right = np.full(point.shape, np.nan), np.full(point.shape, np.nan)
    base, _ = forward(program, inputs, overrides={wrt: point[()]})
    with np.errstate(all="ignore"):
        for j in itertools.islice(np.ndindex(point.shape), MAX_ELEMENTS):
            up, down = point.copy(), point.copy()
            up[j] += h
            down[j] -= h
            plus, _ = forward(program, inputs, overrides={wrt: up[()]})
            minus, _ = forward(program, inputs, overrides={wrt: down[()]})
            f0 = np.sum(base[target])
            right[j] = (np.sum(plus[target]) - f0) / (up[j] - point[j])
            left[j] = (f0 - np.sum(minus[target])) / (point[j] - down[j])
    return left[()], right[()]


def kink_at(program: Program, inputs: dict[str, Any], target: int, wrt: tuple[str, int], point: Any,
            rtol: float, atol: float) -> str | None:
    """Why the point is a kink of the target along wrt (the one-sided quotients differ by more
    than their own error), or None."""
    h = float(np.sqrt(np.finfo(np.float64).eps) * max(1.0, float(np.max(np.abs(point)))))
    left, right = one_sided(program, inputs, target, wrt[1], point, h)
    slack = max(rtol, 1e-4), max(atol, 1e-5)  # a one-sided quotient is only O(h) accurate
    if close(left, right, *slack) or not (np.isfinite(left).all() and np.isfinite(right).all()):
        return None
    bad = np.argwhere(~np.isclose(np.atleast_1d(left), np.atleast_1d(right), *slack))[0]
    j = tuple(bad) if np.ndim(point) else ()
    l_val, r_val = np.atleast_1d(left)[tuple(bad)], np.atleast_1d(right)[tuple(bad)]
    element = f"{wrt[0]}[{', '.join(map(str, j))}]" if j else wrt[0]
    return (f"a kink in {element}: the left and right difference quotients differ ({l_val:.6g} and "
            f"{r_val:.6g})")


def forward_mode(program: Program, lin: Any, target: int, wrt: int, stops: Any = None) -> Any:
    """∂sum(target)/∂wrt by forward mode: one tangent pass per element of wrt."""
    columns = jacobian_columns(program, lin, target, wrt, stops)
    return columns.sum(axis=0).reshape(np.shape(lin.values[wrt]))[()]


def symbolic_unavailable(program: Program, target: int, values: list[Any]) -> str | None:
    """Why the closed form is not given here (array programs need matrix calculus), or None."""
    graph = program.graph
    for n in graph.ancestors([target]):
        if OPS.get(graph[n].op) is not None and OPS[graph[n].op].is_array:
            return f"{graph[n].op} is an array operation"
        if np.ndim(values[n]):
            return "the program works on arrays"
    return None


def auto_step(point: Any) -> tuple[float, str]:
    eps = np.finfo(np.asarray(point).dtype if np.asarray(point).dtype.kind == "f" else np.float64).eps
    h = float(np.cbrt(eps) * max(1.0, float(np.max(np.abs(point)))))
    return h, f"chosen as ∛ε·max(1, |x|), ε of {np.asarray(point).dtype}"


MAX_ELEMENTS = 2_000  # per variable, for the element-by-element methods
SYMBOLIC_SECONDS = 3.0  # compare's symbolic formula: beyond this, the other methods are compared


class _OutOfTime(Exception):
    pass


def _formulas(program: Program, target: int, wrt: int, taken: set[str]) -> tuple[Formula, Any, Any]:
    """The derivative's formula, printed expanded and in the program's named steps (built once
    where no named step lies between the target and the inputs: the two forms are one)."""
    formula = derivative(program, target, wrt)
    graph = program.graph
    steps = {n for n in program.labels if graph[n].op != "input" and n != target}
    expanded = formula.program_text(taken)
    if not steps & graph.ancestors([target]):
        return formula, expanded, expanded
    return formula, expanded, derivative(program, target, wrt, factored=True).program_text(taken)


def _within_seconds(seconds: float, work: Any, *args: Any) -> Any:
    """work(), or None when it takes longer than `seconds` (a formula that grows with a deep
    program). The limit needs the main thread's timer signal; elsewhere there is none."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        return work(*args)
    if signal.getitimer(signal.ITIMER_REAL)[0] > 0:  # a timer of the caller's is running: leave it be
        return work(*args)

    def expire(signum: int, frame: Any) -> None:
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return work(*args)
    except _OutOfTime:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_sizes(wrt: list[tuple[str, int]], inputs: dict[str, Any], program: Program) -> None:
    """compare's element limit, checked on the inputs before any pass runs (a named step's
    size is known only after the forward pass, and is checked there)."""
    names = {node: name for name, node in program.inputs.items()}
    for w_name, w_node in wrt:
        size = np.size(inputs[names[w_node]]) if w_node in names else 0
        if size > MAX_ELEMENTS:
            raise UsageError(f"--wrt {w_name}: {size:,} elements; compare differentiates element by "
                             f"element, up to {MAX_ELEMENTS:,}")


def check_pairs(program: Program, inputs: dict[str, Any], of: list[tuple[str, int]],
                wrt: list[tuple[str, int]], convention: str = "tensorflow", eps: float | None = None,
                rtol: float = COMPARE_RTOL, atol: float = COMPARE_ATOL, sweep: bool = False,
                kinks_ok: bool = False) -> tuple[list[PairCheck], list[Diagnostic]]:
    check_sizes(wrt, inputs, program)
    values, warnings = forward(program, inputs)
    through = nonfinite_on_the_way(program, values, [n for _, n in of])
    if through is not None:
        warnings.append(through)
    lin = linearize(program, values, needed_nodes(program, [n for _, n in of]), convention)
    warnings += lin.warnings
    taken = set(program.names())
    pairs = []
    stops = selection_stops(program, lin)  # where(): the branch not taken adds nothing
    for t_name, t_node in of:
        adjoints, problem = reverse(program, lin, t_node, stops=stops)
        if problem is not None:
            warnings.append(problem)
        why_not = symbolic_unavailable(program, t_node, values)
        if why_not:
            warnings.append(Diagnostic("note", f"no symbolic formula for {t_name}: {why_not}; matrix "
                                       "calculus is not implemented, the other methods are compared", t_name))
        for w_name, w_node in wrt:
            point = values[w_node]
            if np.size(point) > MAX_ELEMENTS:
                raise UsageError(f"--wrt {w_name}: {np.size(point):,} elements; compare differentiates "
                                 f"element by element, up to {MAX_ELEMENTS:,}")
            clean = through is None
            rev = adjoints.get(w_node, np.zeros_like(point)[()])
            fwd = forward_mode(program, lin, t_node, w_node, stops)
            symbolic = None
            built = None if why_not else _within_seconds(SYMBOLIC_SECONDS, _formulas, program, t_node,
                                                          w_node, taken)
            if built is None:
                absent = why_not or (f"the formula took more than {SYMBOLIC_SECONDS:g} s to build (it grows "
                                     "with the program; adiff diff builds it without a time limit)")
                if not why_not:
                    warnings.append(Diagnostic("note", f"no symbolic formula for ∂{t_name}/∂{w_name}: "
                                               f"{absent}; the other methods are compared", t_name))
                factored = expanded = [("", f"(not available: {absent})")]
            else:
                formula, expanded, factored = built
                leaves = {**inputs, w_name: point, **_leaf(program, w_node, point)}
                symbolic, trouble = evaluate_formula(formula, leaves)
                if trouble is not None:
                    warnings.append(Diagnostic(trouble.kind, f"symbolic ∂{t_name}/∂{w_name}: "
                                               f"{trouble.message}", trouble.node))
                    clean = False
            h, rule = (eps, "given with --eps") if eps is not None else auto_step(point)
            fd = central_difference(program, inputs, t_node, w_node, point, h)
            with np.errstate(all="ignore"):
                fd_check = FiniteDifference(fd, h, rule, np.max(np.abs(fd - rev)))
                steps = [(s, v, np.max(np.abs(v - rev))) for s in SWEEP_STEPS
                         for v in [central_difference(program, inputs, t_node, w_node, point, s)]
                         ] if sweep else []
            agree = clean and all(close(v, rev, rtol, atol) for v in (fd, fwd, symbolic) if v is not None)
            kink = kink_at(program, inputs, t_node, (w_name, w_node), point, rtol, atol) \
                if any(w.kind == "undefined-derivative" for w in lin.warnings) else None
            if kink is not None:
                warnings.append(Diagnostic(
                    "undefined-derivative", f"∂{t_name}/∂{w_name}: {kink}, so no derivative exists here and "
                    "the methods can only be compared on the convention's value"
                    + ("" if kinks_ok else "; exit code 1 (--at-kink ok accepts the point)"), t_name))
                agree = agree and kinks_ok
            pairs.append(PairCheck(t_name, w_name, factored, expanded, symbolic, fd_check, fwd, rev,
                                   agree, steps, kink))
    answers = [v for p in pairs for v in (p.reverse, p.forward)] + [values[n] for _, n in of]
    if through is None and all(np.isfinite(np.asarray(v, dtype=float)).all() for v in answers):
        unselected_as_notes(warnings)  # a nan in a branch not taken: said, not warned
    return pairs, warnings


def jacobian(program: Program, inputs: dict[str, Any], target: int, wrt: int,
             convention: str = "tensorflow") -> tuple[Any, str, int, tuple, tuple, list[Diagnostic]]:
    """The full Jacobian d target / d wrt, rows the target's elements and columns wrt's (both
    flattened): reverse mode row by row or forward mode column by column, whichever needs
    fewer passes. Returns (matrix, method, passes, target's shape, wrt's shape, warnings: where
    a non-finite entry or a nan/inf on the way to the target came from)."""
    values, _ = forward(program, inputs)
    lin = linearize(program, values, needed_nodes(program, [target]), convention)
    out_shape, in_shape = np.shape(values[target]), np.shape(values[wrt])
    rows, cols = int(np.prod(out_shape)), int(np.prod(in_shape))
    check_memory(8.0 * rows * cols, f"the Jacobian, {rows:,} × {cols:,} numbers,")
    by_rows = rows <= cols
    passes = jacobian_rows if by_rows else jacobian_columns
    matrix = passes(program, lin, target, wrt)
    warnings = [w for w in lin.warnings if w.kind != "note"]
    if not np.isfinite(matrix).all():  # where(): the branch not taken, the other rows add nothing
        matrix = jacobian_rows(program, lin, target, wrt, selection_stops(program, lin))
    through = nonfinite_on_the_way(program, values, [target])
    if through is not None:
        warnings.append(through)
    elif not np.isfinite(matrix).all():
        found = first_nonfinite(program, values)
        if found is None:
            found = reverse(program, lin, target, check_all=True)[1]
        warnings.append(found or Diagnostic("non-finite", "the Jacobian has entries that are not finite"))
    method = "reverse mode, one pass per row" if by_rows else "forward mode, one pass per column"
    return matrix, method, rows if by_rows else cols, out_shape, in_shape, warnings


def symbolic_derivative(program: Program, target: int, wrt: list[tuple[str, int]]) -> Formula:
    """∂ⁿtarget/∂w1…∂wn: the first by the chain rule on the program, the rest on the formula."""
    (_, first_node), rest = wrt[0], wrt[1:]
    formula = derivative(program, target, first_node)
    for name, _node in rest:
        formula = differentiate(formula, name)
    return formula
