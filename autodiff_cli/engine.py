"""The numpy backend: the forward pass, the local partials of every edge, the reverse pass.

Every pass is a loop over the node list in (reverse) topological order and returns plain
dicts; none recurses and none knows any operation: the rules come from the op table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .arrays import fit_shape
from .errors import ShapeError
from .graph import Program
from .ops import OPS, Linear, params_of
from .printing import to_text


@dataclass
class Diagnostic:
    kind: str  # "non-finite", "undefined-derivative", "note"
    message: str
    node: str | None = None
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "node": self.node, "line": self.line, "message": self.message}


class LinearMap:
    """The derivative of an array operation with respect to one argument, as the two products
    that the passes need (no Jacobian matrix is ever formed)."""

    __slots__ = ("vjp", "jvp", "describe")

    def __init__(self, vjp: Any, jvp: Any, describe: str):
        self.vjp, self.jvp, self.describe = vjp, jvp, describe


def _linear_map(entry: Any, rule: Linear, i: int, args: list[Any], y: Any,
                params: dict[str, Any]) -> LinearMap:
    return LinearMap(lambda g: rule.vjp(i, g, args, y, params),
                     lambda t: rule.jvp(i, t, args, y, params),
                     f"vector-Jacobian product of {entry.shown_name}")


@dataclass
class Linearization:
    """The forward values and each edge's local partial ∂node/∂arg, with what went wrong."""

    values: list[Any]
    local_partials: dict[tuple[int, int], Any]  # (node, argument position) -> value or LinearMap
    warnings: list[Diagnostic] = field(default_factory=list)


def _all_finite(value: Any) -> bool:
    if type(value) is np.float64 or type(value) is float:  # the common scalar case, quickly
        return math.isfinite(value)
    return bool(np.isfinite(value).all())


def describe(program: Program, node_id: int) -> tuple[str, int | None, str]:
    """The node's label, its statement's line, and ' (line N: text)' for messages."""
    label = program.labels.get(node_id) or to_text(program.graph, node_id, program.labels, limit=60)
    stmt = program.statement_of(node_id)
    if stmt is None:
        return label, None, ""
    return label, stmt.line, f" (line {stmt.line}: {stmt.text})"


def forward(program: Program, inputs: dict[str, Any], dtype: Any = np.float64,
            overrides: dict[int, Any] | None = None) -> tuple[list[Any], list[Diagnostic]]:
    """Evaluate every node; warn at the first node whose value is not finite though its
    arguments are. `overrides` sets nodes to given values (to perturb an intermediate)."""
    graph = program.graph
    values: list[Any] = [None] * len(graph)
    warnings: list[Diagnostic] = []
    with np.errstate(all="ignore"):
        for node_id, node in enumerate(graph.nodes):
            if overrides and node_id in overrides:
                values[node_id] = overrides[node_id]
            elif node.op == "const":
                values[node_id] = np.asarray(node.attr[0], dtype=dtype)[()]
            elif node.op == "input":
                values[node_id] = inputs[node.attr]
            elif OPS[node.op].needs_graph:  # hessian(): the Jacobian of a gradient node
                values[node_id] = hessian(program, values, *node.args)
            else:
                args = [values[a] for a in node.args]
                value = _evaluate(program, node_id, args)
                if not node.args:  # linspace, zeros, ...: made in the program's dtype
                    value = np.asarray(value, dtype=dtype)[()]
                values[node_id] = value
                # Small values are checked as they come; large arrays only when a requested
                # value turns out non-finite (first_nonfinite), so the common case costs nothing.
                if not warnings and np.size(value) <= SMALL and _newly_nonfinite(value, args):
                    warnings.append(_nonfinite_warning(program, node_id, value))
    return values, warnings


SMALL = 64  # values up to this size are checked for non-finite numbers as they are made


def _newly_nonfinite(value: Any, args: list[Any]) -> bool:
    return not _all_finite(value) and all(_all_finite(a) for a in args)


def _nonfinite_warning(program: Program, node_id: int, value: Any) -> Diagnostic:
    label, line, where = describe(program, node_id)
    flat = np.asarray(value).ravel()
    shown = flat[~np.isfinite(flat)][0]
    expr = to_text(program.graph, node_id, program.labels, limit=60)
    named = label if label == expr else f"{label} = {expr}"
    return Diagnostic("non-finite", f"forward pass: {named} is {shown}{where}", label, line)


def jacobian_rows(program: Program, lin: Linearization, target: int, wrt: int) -> Any:
    """d target / d wrt as a (target elements × wrt elements) matrix, one reverse pass per row."""
    values = lin.values
    out_shape, in_shape = np.shape(values[target]), np.shape(values[wrt])
    rows = int(np.prod(out_shape))
    matrix = np.zeros((rows, int(np.prod(in_shape))), dtype=np.result_type(values[target], np.float32))
    for r in range(rows):
        seed = np.zeros(rows, dtype=matrix.dtype)
        seed[r] = 1
        adjoints, _ = reverse(program, lin, target, seed.reshape(out_shape)[()])
        if wrt in adjoints:
            matrix[r] = np.ravel(np.broadcast_to(adjoints[wrt], in_shape))
    return matrix


def jacobian_columns(program: Program, lin: Linearization, target: int, wrt: int) -> Any:
    """The same matrix by forward mode, one tangent pass per column."""
    values = lin.values
    out_shape, in_shape = np.shape(values[target]), np.shape(values[wrt])
    cols = int(np.prod(in_shape))
    matrix = np.zeros((int(np.prod(out_shape)), cols), dtype=np.result_type(values[target], np.float32))
    for c in range(cols):
        direction = np.zeros(cols, dtype=matrix.dtype)
        direction[c] = 1
        tangent = tangents(program, lin, wrt, direction.reshape(in_shape)[()]).get(target)
        if tangent is not None:
            matrix[:, c] = np.ravel(np.broadcast_to(tangent, out_shape))
    return matrix


def hessian(program: Program, values: list[Any], gradient: int, wrt: int) -> Any:
    """The Jacobian of a gradient node in wrt, over the gradient's own graph (exact second
    derivatives, no finite differences), shaped gradient's shape + wrt's shape."""
    lin = linearize(program, values, needed_nodes(program, [gradient]))
    matrix = jacobian_rows(program, lin, gradient, wrt)
    return matrix.reshape(np.shape(values[gradient]) + np.shape(values[wrt]))[()]


def first_nonfinite(program: Program, values: list[Any]) -> Diagnostic | None:
    """The first node whose value is not finite though its arguments are (after the pass)."""
    for node_id, node in enumerate(program.graph.nodes):
        if node.op in ("const", "input") and not _all_finite(values[node_id]):
            what = f"the input {node.attr}" if node.op == "input" else f"the number {node.attr[1] or ''}"
            if node.op == "const" and not node.attr[1]:
                what = "a number in the program"
            label, line, where = describe(program, node_id)
            return Diagnostic("non-finite", f"forward pass: {what} is {values[node_id]} in "
                              f"{np.result_type(values[node_id])}{where}", label, line)
        if node.args and _newly_nonfinite(values[node_id], [values[a] for a in node.args]):
            return _nonfinite_warning(program, node_id, values[node_id])
    return None


def _evaluate(program: Program, node_id: int, args: list[Any]) -> Any:
    """One node's value; a shape that does not fit is the user's error, with its statement."""
    node = program.graph[node_id]
    entry = OPS[node.op]
    try:
        if entry.params:
            return entry.evaluate(*args, **params_of(entry, node.attr))
        return entry.evaluate(*args)
    except ShapeError as err:
        raise _placed(program, node_id, err.message) from None
    except MemoryError:
        shapes = ", ".join(str(np.shape(a)) for a in args)
        raise _placed(program, node_id, f"{entry.shown_name}: not enough memory for the "
                      f"result (arguments of shapes {shapes or 'none'})") from None
    except ValueError:  # numpy's broadcasting
        shapes = " and ".join(str(np.shape(a)) for a in args)
        name = f"'{entry.infix.strip()}' ({entry.name})" if entry.infix else entry.shown_name
        raise _placed(program, node_id, f"{name}: shapes {shapes} do not broadcast together") from None


def _placed(program: Program, node_id: int, message: str) -> ShapeError:
    stmt = program.statement_of(node_id)
    if stmt is None:
        return ShapeError(message)
    return ShapeError(f"{message}, in `{stmt.text}`", line=stmt.line, source=program.source)


def linearize(program: Program, values: list[Any], needed: set[int],
              convention: str = "tensorflow") -> Linearization:
    """The local partial of every edge into a `needed` node's argument that is also needed,
    with the convention's value at points where the operation is not differentiable."""
    graph = program.graph
    partials: dict[tuple[int, int], Any] = {}
    warnings: list[Diagnostic] = []
    noted: set[str] = set()
    with np.errstate(all="ignore"):
        for node_id in sorted(needed):
            node = graph[node_id]
            entry = OPS.get(node.op)
            if entry is None:
                continue
            args = [values[a] for a in node.args]
            y = values[node_id]
            kink_mask = None
            if entry.kink is not None:
                mask = entry.kink.where(*args)
                if np.any(mask):
                    kink_mask = mask
            params = params_of(entry, node.attr) if entry.params else {}
            for i, arg in enumerate(node.args):
                if arg not in needed:
                    continue
                rule = entry.partial(i)
                if rule is None and entry.is_array:  # a shape argument (reshape_as(g, a)): no edge
                    continue
                if isinstance(rule, Linear):
                    partials[(node_id, i)] = _linear_map(entry, rule, i, args, y, params)
                    continue
                local = 0.0 if rule is None else rule(*args, y)
                want = np.result_type(values[arg], np.float32)
                if getattr(local, "dtype", want) != want:  # where(x > 0, 1, 0) is integer; float32 stays
                    local = np.asarray(local, dtype=want)[()]
                if kink_mask is not None:
                    used = entry.kink.used[convention][i]
                    if used is not None:
                        local = np.where(kink_mask, used, local)[()]
                partials[(node_id, i)] = local
            if kink_mask is not None and any(a in needed for a in node.args):
                warnings.append(_kink_warning(program, node_id, entry, convention))
            if entry.note and entry.name not in noted:
                noted.add(entry.name)
                label, line, _ = describe(program, node_id)
                warnings.append(Diagnostic("note", entry.note, label, line))
    return Linearization(values, partials, warnings)


def _kink_warning(program: Program, node_id: int, entry: Any, convention: str) -> Diagnostic:
    label, line, where = describe(program, node_id)
    used = entry.kink.used[convention]
    others = ", ".join(f"{c}: {_fmt_used(v)}" for c, v in entry.kink.used.items() if c != convention)
    return Diagnostic(
        "undefined-derivative",
        f"{label}{where}: {entry.name} is not differentiable {entry.kink.text}; its derivative is "
        f"undefined there; used {_fmt_used(used)} ({convention} convention; {others})",
        label, line)


def _fmt_used(values: tuple[float | None, ...]) -> str:
    shown = ["the rule's value" if v is None else f"{v:g}" for v in values]
    return shown[0] if len(shown) == 1 else "(" + ", ".join(shown) + ")"


def unbroadcast(value: Any, shape: tuple[int, ...]) -> Any:
    """Sum a contribution over the axes numpy broadcast, so it has its argument's shape."""
    return fit_shape(value, shape)


def reverse(program: Program, lin: Linearization, target: int, seed: Any = None,
            check_all: bool = False) -> tuple[dict[int, Any], Diagnostic | None]:
    """Adjoints ∂target/∂node of every node the target depends on, in one sweep; a node the
    target does not depend on is absent (not connected). Adjoints are summed where a value
    feeds several others. The seed defaults to ones: the gradient of sum(target), as
    tf.GradientTape does. Also returns the first non-finite product, explained (checked for
    small values always, for large arrays with `check_all`)."""
    graph = program.graph
    values = lin.values
    ones = np.ones((), dtype=np.result_type(values[target]))[()]  # broadcast where it is used
    adjoints: dict[int, Any] = {target: ones if seed is None else seed}
    problem = None
    with np.errstate(all="ignore"):
        for node_id in range(target, -1, -1):
            g = adjoints.get(node_id)
            if g is None:
                continue
            for i, arg in enumerate(graph[node_id].args):
                local = lin.local_partials.get((node_id, i))
                if local is None:
                    continue
                if type(local) is LinearMap:
                    contribution = local.vjp(np.broadcast_to(g, np.shape(values[node_id])))
                elif g is ones:  # the seed: the local partial itself, spread over the node's shape
                    shape = np.shape(values[node_id])
                    spread = local if np.shape(local) == shape else np.broadcast_to(local, shape)
                    contribution = unbroadcast(spread, np.shape(values[arg]))
                else:
                    contribution = unbroadcast(g * local, np.shape(values[arg]))
                if problem is None and (check_all or np.size(contribution) <= SMALL) \
                        and not _all_finite(contribution):
                    problem = _product_warning(program, node_id, arg, g, local)
                previous = adjoints.get(arg)
                adjoints[arg] = contribution if previous is None else previous + contribution
    return adjoints, problem


def tangents(program: Program, lin: Linearization, seed: int, direction: Any = None) -> dict[int, Any]:
    """Forward mode (a JVP): the derivative of every node after the seed node along
    `direction` (default ones), pushed forward in evaluation order; the seed is independent."""
    graph = program.graph
    values = lin.values
    tangent: dict[int, Any] = {seed: np.ones_like(values[seed])[()] if direction is None else direction}
    with np.errstate(all="ignore"):
        for node_id in range(seed + 1, len(graph)):
            total = None
            for i, arg in enumerate(graph[node_id].args):
                t = tangent.get(arg)
                local = lin.local_partials.get((node_id, i))
                if t is None or local is None:
                    continue
                change = local.jvp(t) if type(local) is LinearMap else local * t
                total = change if total is None else total + change
            if total is not None:
                shape = np.shape(values[node_id])
                tangent[node_id] = total if np.shape(total) == shape else np.broadcast_to(total, shape)
    return tangent


def _product_warning(program: Program, node_id: int, arg: int, g: Any, local: Any) -> Diagnostic:
    label, line, where = describe(program, node_id)
    arg_label = program.labels.get(arg) or to_text(program.graph, arg, program.labels, limit=40)
    g_show, l_show = _first_bad(g, local)
    return Diagnostic(
        "non-finite",
        f"reverse pass: the adjoint of {arg_label} became non-finite on the edge out of {label}"
        f"{where}: adjoint {g_show} × local partial ∂({label})/∂({arg_label}) = {l_show}",
        label, line)


def _first_bad(g: Any, local: Any) -> tuple[str, str]:
    g_arr, l_arr = np.broadcast_arrays(np.asarray(g, dtype=float), np.asarray(local, dtype=float))
    bad = ~np.isfinite(g_arr * l_arr)
    index = tuple(np.argwhere(bad)[0]) if bad.any() else ()
    return f"{g_arr[index]:g}", f"{l_arr[index]:g}"


def needed_nodes(program: Program, targets: list[int]) -> set[int]:
    """Nodes a gradient can flow through: ancestors of the targets, constants left out."""
    graph = program.graph
    return {n for n in graph.ancestors(targets) if graph[n].op != "const"}
