"""The library API: each command's computation, returning the plain result objects of
results.py (which the CLI renders and which carry the JSON schema).

    >>> from autodiff_cli import grad
    >>> r = grad("exp(sin(x^2))", x=2)
    >>> round(r.gradients["f"]["x"], 6)
    -1.226665
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .engine import (
    SELECTING,
    Diagnostic,
    check_pass_memory,
    describe,
    first_nonfinite,
    forward,
    linearize,
    needed_nodes,
    nonfinite_on_the_way,
    reverse,
    selection_stops,
    unselected_as_notes,
)
from .errors import NameLookupError, UsageError
from .formulas import function_list
from .graph import Program
from .inputs import (
    COMPARE_ATOL,
    COMPARE_RTOL,
    dtype_named,
    glued_hint,
    input_values,
    names_listed,
    parse_grid,
    resolve,
)
from .ops import CONVENTIONS, OPS
from .parse import parse
from .results import (
    CompareResult,
    DiffResult,
    GradResult,
    GridResult,
    JacobianResult,
    joined_scalars,
    jsonable,
)

__all__ = ["CompareResult", "DiffResult", "GradResult", "GridResult", "JacobianResult", "as_program",
           "compare", "diff", "function_list", "grad", "grid", "jacobian", "jsonable"]


def as_program(program: str | Program) -> Program:
    """A parsed program: text is parsed, a Program is used as it is."""
    return program if isinstance(program, Program) else parse(program)


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise UsageError(f"unknown convention '{convention}' (choose {', '.join(CONVENTIONS)})")

def check_tolerances(rtol: float, atol: float) -> None:
    """--rtol and --atol: numbers of 0 or more (inf or nan would make every check pass or fail)."""
    for option, value in (("--rtol", rtol), ("--atol", atol)):
        if not 0 <= value < math.inf:
            raise UsageError(f"{option} must be a finite number of 0 or more, got {value}")


def _finite(value: Any) -> bool:
    return bool(np.isfinite(value).all())


def _explain_nonfinite(prog: Program, lin: Any, targets: dict[str, Any],
                       gradients: dict[str, dict[str, Any]], target_nodes: dict[str, int],
                       warnings: list[Diagnostic]) -> None:
    """Where a requested value is not finite, say where that began: in the forward pass
    (the first node), or in the reverse pass (the first product)."""
    explained = {w.message.split(":")[0] for w in warnings if w.kind == "non-finite"}
    if not all(_finite(v) for v in targets.values()) and "forward pass" not in explained:
        found = first_nonfinite(prog, lin.values)
        warnings.append(found or Diagnostic("non-finite", "an input value is not finite"))
    for t_name, row in gradients.items():
        if "reverse pass" not in explained and not all(_finite(v) for v in row.values()):
            _, problem = reverse(prog, lin, target_nodes[t_name], check_all=True)
            if problem is not None:
                warnings.append(problem)
                explained.add("reverse pass")


def _selection_note(prog: Program, stops: dict[tuple[int, int], Any]) -> Diagnostic:
    node = min(n for n, _ in stops)
    label, line, where = describe(prog, node)
    return Diagnostic("note", f"{label}{where}: a branch or element that is not selected has a "
                      "non-finite derivative here; it contributes nothing, since the result does not "
                      "depend on it (TensorFlow, PyTorch and JAX give nan: 0 × nan)", label, line)


def grad(program: str | Program, *, of: str | list[str] | None = None,
         wrt: str | list[str] | None = None, at: dict[str, Any] | None = None,
         convention: str = "tensorflow", dtype: str = "float64", **inputs: Any) -> GradResult:
    """Forward and reverse passes: the partials of each target (`of`, default the last
    statement) with respect to each name in `wrt` (default: every input). Inputs are given
    in `at` or as keyword arguments; persistent-tape semantics for intermediates. A target
    that is an array is differentiated as its sum (tf.GradientTape's convention)."""
    _check_convention(convention)
    prog = as_program(program)
    at = {**(at or {}), **inputs}
    values_in = input_values(prog, at, dtype_named(dtype))
    check_pass_memory(prog, values_in)
    of_names = names_listed(of) or [prog.target_name]
    wrt_names = names_listed(wrt) or list(prog.inputs)
    of_nodes = resolve(prog, of_names, "--of")
    wrt_nodes = resolve(prog, wrt_names, "--wrt")

    values, warnings = forward(prog, values_in, dtype_named(dtype))
    for t_name, t_node in zip(of_names, of_nodes, strict=True):
        if np.ndim(values[t_node]):
            warnings.append(Diagnostic(
                "note", f"{t_name} is an array of shape {np.shape(values[t_node])}: its gradients are "
                f"those of sum({t_name}), as tf.GradientTape computes them", t_name))
    lin = linearize(prog, values, needed_nodes(prog, of_nodes), convention,
                    asked=prog.graph.descendants(wrt_nodes))
    warnings += lin.warnings
    gradients: dict[str, dict[str, Any]] = {}
    adjoints: dict[str, dict[int, Any]] = {}
    not_connected = []
    stops = None
    selecting = any(prog.graph[n].op in SELECTING for n, _ in lin.local_partials)
    for t_name, t_node in zip(of_names, of_nodes, strict=True):
        adj, _ = reverse(prog, lin, t_node)  # a non-finite gradient is explained below, once
        if selecting and not all(_finite(adj[w]) for w in wrt_nodes if w in adj):
            stops = selection_stops(prog, lin) if stops is None else stops
            if stops:  # where(c, a, b): the branch not taken contributes nothing, not 0 × nan
                adj, _ = reverse(prog, lin, t_node, stops=stops)
                if all(_finite(adj[w]) for w in wrt_nodes if w in adj):
                    warnings.append(_selection_note(prog, stops))
        adjoints[t_name] = adj
        gradients[t_name] = {}
        for w_name, w_node in zip(wrt_names, wrt_nodes, strict=True):
            if w_node in adj:
                gradients[t_name][w_name] = np.broadcast_to(adj[w_node], np.shape(values[w_node]))[()]
            else:
                gradients[t_name][w_name] = np.zeros_like(values[w_node])[()]
                not_connected.append((t_name, w_name))
    targets = {t: values[n] for t, n in zip(of_names, of_nodes, strict=True)}
    through = nonfinite_on_the_way(prog, values, of_nodes)
    if through is not None:  # a finite target computed through an overflow: not an answer
        warnings[:] = [w for w in warnings if not w.message.startswith("forward pass")]
        warnings.insert(0, through)
    elif all(_finite(v) for v in targets.values()):
        unselected_as_notes(warnings)
    result = GradResult(prog, values_in, targets, wrt_names, gradients, not_connected, warnings,
                        convention, values, lin.local_partials, adjoints, through is not None)
    if not result.finite:  # checked once; explained only when something is not finite
        _explain_nonfinite(prog, lin, targets, gradients, dict(zip(of_names, of_nodes, strict=True)),
                           warnings)
    return result



def compare(program: str | Program, *, of: str | list[str] | None = None,
            wrt: str | list[str] | None = None, at: dict[str, Any] | None = None,
            convention: str = "tensorflow", eps: float | None = None, rtol: float = COMPARE_RTOL,
            atol: float = COMPARE_ATOL, sweep: bool = False, at_kink: str = "fail",
            **inputs: Any) -> CompareResult:
    """The derivative three ways at a point: symbolic (chain rule, simplified), central
    difference (step chosen for float64, or `eps`), forward- and reverse-mode AD. At a kink
    (the one-sided difference quotients differ) the pair does not agree unless at_kink="ok"."""
    if at_kink not in ("fail", "ok"):
        raise UsageError(f"--at-kink takes fail or ok, got '{at_kink}'")
    _check_convention(convention)
    if eps is not None and not 0 < eps < math.inf:
        raise UsageError(f"--eps must be a positive, finite step, got {eps}")
    check_tolerances(rtol, atol)
    prog = as_program(program)
    values_in = input_values(prog, {**(at or {}), **inputs})
    check_pass_memory(prog, values_in)
    of_names = names_listed(of) or [prog.target_name]
    wrt_names = names_listed(wrt) or list(prog.inputs)
    of_pairs = list(zip(of_names, resolve(prog, of_names, "--of"), strict=True))
    wrt_pairs = list(zip(wrt_names, resolve(prog, wrt_names, "--wrt"), strict=True))
    from .checks import check_pairs  # compare's machinery, loaded when it is used

    pairs, warnings = check_pairs(prog, values_in, of_pairs, wrt_pairs, convention, eps, rtol, atol, sweep,
                                  kinks_ok=at_kink == "ok")
    return CompareResult(values_in, pairs, warnings, rtol, atol)


def diff(program: str | Program, *, of: str | list[str] | None = None, wrt: str | list[str] | None = None,
         order: int = 1, mixed: str | list[str] | None = None, expand: bool = False,
         max_nodes: int | None = None, at: dict[str, Any] | None = None, **inputs: Any) -> list[DiffResult]:
    """Symbolic derivatives of each target (`of`; default the last statement). `wrt` (default:
    every input) gives the gradient, one partial per name, of order `order`; order 2 with
    several names gives the Hessian (every pair). `mixed` names one mixed derivative in order
    (x,y: ∂²f/∂x∂y). `expand` prints the expanded sum instead of common factors pulled out;
    `max_nodes` is the formula size a higher order may reach. With values (`at`), each
    derivative is also evaluated."""
    from .symbolic import MAX_NODES, NoClosedForm, nth_derivative

    prog = as_program(program)
    of_names = names_listed(of) or [prog.target_name]
    of_nodes = resolve(prog, of_names, "--of")
    if order < 1:
        raise UsageError(f"--order must be 1 or more, got {order}")
    names, chain = names_listed(wrt), names_listed(mixed)
    notes_asked = []
    if chain:
        if names or order != 1:
            raise UsageError("--mixed x,y names the whole mixed derivative ∂²f/∂x∂y: give it without "
                             "--wrt and --order")
        sequences = [chain]
        if len(chain) > 1:
                notes_asked.append(f"--mixed {','.join(chain)}: the mixed derivative (--wrt "
                               f"{','.join(chain)} gives each partial)")
    else:
        names = names or list(prog.inputs)
        if order == 2 and len(names) > 1:  # the Hessian, row by row
            sequences = [[a, b] for a in names for b in names]
        else:
            sequences = [[n] * order for n in names]
        if len(names_listed(wrt)) > 1:
            notes_asked.append(f"--wrt {','.join(names)}: each partial (--mixed {','.join(names)} gives "
                               "the mixed derivative)")
    if not sequences:
        raise UsageError("the program has no inputs, so there is nothing to differentiate with respect to "
                         "(a named step can be given with --wrt NAME)")
    unique = list(dict.fromkeys(n for seq in sequences for n in seq))
    named = dict(zip(unique, resolve(prog, unique, "--wrt"), strict=True))
    point = input_values(prog, {**(at or {}), **inputs}) if (at or inputs) else None
    if point is not None:
        check_pass_memory(prog, point, copies=1)
    values = forward(prog, point)[0] if point is not None else None
    results = []
    failed: list[NoClosedForm] = []
    for of_name, target in zip(of_names, of_nodes, strict=True):
        notes = notes_asked + sorted({OPS[prog.graph[n].op].note for n in prog.graph.ancestors([target])
                                     if prog.graph[n].op in OPS and OPS[prog.graph[n].op].note})
        for seq in sequences:
            nodes = [named[n] for n in seq]  # x, x for ∂²f/∂x²
            try:
                formula = nth_derivative(prog, target, list(zip(seq, nodes, strict=True)), expand,
                                         max_nodes or MAX_NODES)
            except NoClosedForm as error:
                failed.append(error)
                results.append(DiffResult(of_name, seq, None, prog, (target, nodes[0]), notes=notes,
                                          error=error.message))
                continue
            # Without values, the reader's warnings (a name that glues letters: xy, πx) go with the first.
            warnings: list[Any] = [] if results or point is not None else list(prog.warnings)
            value = None
            if values is not None:
                held = {n: values[node] for n, node in zip(seq, nodes, strict=True)}
                held.update({prog.labels[node]: values[node] for node in nodes if node in prog.labels})
                from .checks import evaluate_formula

                value, trouble = evaluate_formula(formula, {**point, **held})
                if trouble is not None:
                    warnings.append(trouble)
            assumed = [f"assumed {c} (exp(log(a)) = a holds for a > 0)" for c in formula.condition_texts()]
            results.append(DiffResult(of_name, seq, formula, prog, (target, nodes[0]), value, point,
                                      notes + assumed, warnings))
    if failed and len(failed) == len(results):
        raise failed[0]
    return results


def jacobian(program: str | Program, *, of: str | None = None, wrt: str | list[str] | None = None,
             at: dict[str, Any] | None = None, convention: str = "tensorflow",
             **inputs: Any) -> list[JacobianResult]:
    """The full Jacobian of the target with respect to each variable (default: every input),
    by reverse mode row by row or forward mode column by column, whichever needs fewer passes."""
    _check_convention(convention)
    prog = as_program(program)
    values_in = input_values(prog, {**(at or {}), **inputs})
    check_pass_memory(prog, values_in)
    if len(names_listed(of)) > 1:
        raise UsageError("jacobian takes one target: --of NAME")
    of_name = (names_listed(of) or [prog.target_name])[0]
    (target,) = resolve(prog, [of_name], "--of")
    wrt_names = names_listed(wrt) or list(prog.inputs)
    results = []
    for w_name, w_node in zip(wrt_names, resolve(prog, wrt_names, "--wrt"), strict=True):
        from .checks import jacobian as jacobian_matrix

        matrix, method, passes, out_shape, in_shape, warnings = jacobian_matrix(prog, values_in, target,
                                                                                 w_node, convention)
        results.append(JacobianResult(of_name, w_name, matrix, out_shape, in_shape, method, passes, warnings))
    return joined_scalars(results)


def grid(program: str | Program, *, grids: list[str] | None = None, points: dict[str, Any] | None = None,
         of: str | None = None, at: dict[str, Any] | None = None, convention: str = "tensorflow",
         dtype: str = "float64") -> GridResult:
    """The value and its partials at many points in one vectorized pass: `grids` (several
    make a mesh) or `points` (columns of values), the other inputs from `at` or the program."""
    prog = as_program(program)
    columns: dict[str, Any] = dict(points or {})
    axes = [parse_grid(g) for g in grids or []]
    if axes and columns:
        raise UsageError("give --grid or --points, not both")
    names = [name for name, _ in axes]
    if len(set(names)) < len(names):
        raise UsageError(f"--grid names {names[0] if names.count(names[0]) > 1 else names[1]} twice")
    if axes:
        mesh = np.meshgrid(*[values for _, values in axes], indexing="ij")
        columns = {name: m.ravel() for (name, _), m in zip(axes, mesh, strict=True)}
    if not columns:
        raise UsageError("no points: give --grid NAME=START:STOP:COUNT or --points FILE.csv")
    unknown = [n for n in columns if n not in prog.inputs]
    if unknown:
        raise NameLookupError(f"--grid/--points {unknown[0]}: the program has no input '{unknown[0]}' "
                              f"(its inputs: {', '.join(prog.inputs) or 'none'})",
                              hint=glued_hint(prog, at or {}))
    overlap = [n for n in (at or {}) if n in columns]
    if overlap:
        raise UsageError(f"{overlap[0]} is given by --at and by the points; give it once")
    of_name = (names_listed(of) or [prog.target_name])[0]
    (target,) = resolve(prog, [of_name], "--of")
    for n in prog.graph.ancestors([target]):
        entry = OPS.get(prog.graph[n].op)
        if entry is not None and entry.is_array:  # hessian() too: it needs the whole graph
            raise UsageError(f"--grid and --points evaluate a program of scalar operations at many points; "
                             f"{entry.shown_name} works on whole arrays")
    result = grad(prog, of=of_name, wrt=list(columns), at={**(at or {}), **columns},
                  convention=convention, dtype=dtype)
    size = len(next(iter(columns.values())))
    value = np.broadcast_to(result.targets[of_name], (size,))
    partials = {n: np.broadcast_to(result.gradients[of_name][n], (size,)) for n in columns}
    warnings = [w for w in result.warnings if w.kind != "note"]
    return GridResult(of_name, columns, value, partials, warnings)
