"""The numpy backend: the forward pass, the local partials of every edge, the reverse pass.

Every pass is a loop over the node list in (reverse) topological order and returns plain
dicts; none recurses and none knows any operation: the rules come from the op table.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .arrays import fit_shape
from .errors import AdiffError, LimitError, ShapeError
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


@dataclass(eq=False)  # compared by identity: == of the numpy values it holds is elementwise
class Linearization:
    """The forward values and each edge's local partial ∂node/∂arg, with what went wrong."""

    values: list[Any]
    local_partials: dict[tuple[int, int], Any]  # (node, argument position) -> value or LinearMap
    warnings: list[Diagnostic] = field(default_factory=list)


def _all_finite(value: Any) -> bool:
    if type(value) is np.float64 or type(value) is float:  # the common scalar case, quickly
        return math.isfinite(value)
    if np.size(value) > SMALL and getattr(value, "dtype", None) is not None and value.dtype.kind == "f":
        with np.errstate(all="ignore"):  # a nan or inf makes the sum one: a single pass, no mask
            if math.isfinite(np.sum(value)):
                return True
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
    made, budget = 0, memory_budget()  # bytes of arrays made so far
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
                if not node.args and node.attr:  # zeros(n), linspace(a, b, n): sized before made
                    made += 8 * _constructed_elements(dict(node.attr))
                    if made > budget:
                        label, line, where = describe(program, node_id)
                        check_memory(made, f"the array {label}{where}")
                value = _evaluate(program, node_id, args)
                if not node.args:  # linspace, zeros, ...: made in the program's dtype
                    value = np.asarray(value, dtype=dtype)[()]
                values[node_id] = value
                if type(value) is not np.float64 and node.args:
                    made += getattr(value, "nbytes", 0)
                    if made > budget:
                        label, line, where = describe(program, node_id)
                        check_memory(made, f"the forward pass, up to {label}{where},")
                # Small values are checked as they come; large arrays only when a requested
                # value turns out non-finite (first_nonfinite), so the common case costs nothing.
                if not warnings and np.size(value) <= SMALL and _newly_nonfinite(value, args):
                    warnings.append(_nonfinite_warning(program, node_id, value))
    return values, warnings


MEMORY_VARIABLE = "ADIFF_MEMORY"  # the environment variable that sets the memory budget


def memory_budget() -> int:
    """Bytes adiff may use for arrays: $ADIFF_MEMORY (as 4G, 500M or a number of bytes), by
    default half of this machine's memory."""
    text = os.environ.get(MEMORY_VARIABLE, "").strip().upper()
    if text:
        scale = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}.get(text[-1:], 1)
        try:
            return int(float(text.rstrip("KMGTB") if scale > 1 else text) * scale)
        except ValueError:
            raise LimitError(f"{MEMORY_VARIABLE}={os.environ[MEMORY_VARIABLE]}: give bytes, or a number "
                             "with K, M, G or T, as in 8G") from None
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


def _bytes(n: float) -> str:
    for unit, size in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def check_memory(estimate: float, what: str) -> None:
    """Refuse, before the work, what would need more memory than the budget (exit 2)."""
    budget = memory_budget()
    if estimate > budget:
        where = "set" if os.environ.get(MEMORY_VARIABLE) else "half of this machine's memory"
        raise LimitError(f"{what} would need about {_bytes(estimate)}; the memory budget is {_bytes(budget)} "
                         f"({where}); raise it with the environment variable {MEMORY_VARIABLE}, as in "
                         f"{MEMORY_VARIABLE}=64G, or give smaller arrays")


def _constructed_elements(params: dict[str, Any]) -> float:
    """Elements an array constructor will make, from its parameters (shape, n×n, num)."""
    try:
        if "shape" in params:
            return float(np.prod([float(n) for n in params["shape"]]))
        if "n" in params:
            return float(params["n"]) ** 2
        return float(params.get("num", 0))
    except (TypeError, ValueError):
        return 0.0


def check_pass_memory(program: Program, inputs: dict[str, Any], copies: int = 2) -> None:
    """The forward and reverse passes' arrays, estimated before they run: every node that
    depends on an array input holds an array as large as the largest one (elements × nodes ×
    8 bytes), `copies` times (values and adjoints)."""
    arrays = {name: np.size(v) for name, v in inputs.items() if np.ndim(v)}
    if not arrays:
        return
    largest = max(arrays.values())
    graph = program.graph
    touched = len(graph.descendants([program.inputs[n] for n in arrays if n in program.inputs]))
    estimate = float(largest) * touched * 8 * copies
    if estimate > memory_budget():
        name = max(arrays, key=arrays.get)
        check_memory(estimate, f"the passes over {name} ({largest:,} elements; {touched:,} operations "
                     "depend on it)")


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


def jacobian_rows(program: Program, lin: Linearization, target: int, wrt: int,
                  stops: dict[tuple[int, int], Any] | None = None) -> Any:
    """d target / d wrt as a (target elements × wrt elements) matrix, one reverse pass per row."""
    values = lin.values
    out_shape, in_shape = np.shape(values[target]), np.shape(values[wrt])
    rows = int(np.prod(out_shape))
    matrix = np.zeros((rows, int(np.prod(in_shape))), dtype=np.result_type(values[target], np.float32))
    for r in range(rows):
        seed = np.zeros(rows, dtype=matrix.dtype)
        seed[r] = 1
        adjoints, _ = reverse(program, lin, target, seed.reshape(out_shape)[()], stops=stops)
        if wrt in adjoints:
            matrix[r] = np.ravel(np.broadcast_to(adjoints[wrt], in_shape))
    return matrix


def jacobian_columns(program: Program, lin: Linearization, target: int, wrt: int,
                     stops: dict[tuple[int, int], Any] | None = None) -> Any:
    """The same matrix by forward mode, one tangent pass per column."""
    values = lin.values
    out_shape, in_shape = np.shape(values[target]), np.shape(values[wrt])
    cols = int(np.prod(in_shape))
    matrix = np.zeros((int(np.prod(out_shape)), cols), dtype=np.result_type(values[target], np.float32))
    for c in range(cols):
        direction = np.zeros(cols, dtype=matrix.dtype)
        direction[c] = 1
        tangent = tangents(program, lin, wrt, direction.reshape(in_shape)[()], stops).get(target)
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


def _selected(node: Any, args: list[Any]) -> set[int]:
    """The argument positions a selecting operation's output may depend on at these values
    (where's condition always; a branch only where it is taken somewhere)."""
    if node.op == "where":
        return {0} | ({1} if np.any(args[0]) else set()) | ({2} if not np.all(args[0]) else set())
    if node.op == "relu":
        return {0} if np.any(args[0] > 0) else set()
    if node.op in ("max", "min"):
        a, b = args
        first = np.any(a >= b) if node.op == "max" else np.any(a <= b)
        second = np.any(b >= a) if node.op == "max" else np.any(b <= a)
        return ({0} if first else set()) | ({1} if second else set())
    return set(range(len(args)))


def nonfinite_on_the_way(program: Program, values: list[Any], targets: list[int]) -> Diagnostic | None:
    """A finite target computed through a nan or inf (exp(200·x)^2 overflowing, then 1/inf = 0):
    the first node where such a value appeared, explained; None when every finite target is
    clean. A non-finite value that a selecting operation does not select (the branch where()
    does not take) does not count: the target does not depend on it."""
    graph = program.graph
    origin: dict[int, int] = {}  # tainted node -> the node where its non-finite value appeared
    for node_id in sorted(graph.ancestors(targets)):
        node = graph[node_id]
        bad = not _all_finite(values[node_id])
        tainted = [origin[a] for a in node.args if a in origin]
        if tainted and node.op in SELECTING and not bad:  # what is not selected does not count
            chosen = _selected(node, [values[a] for a in node.args])
            tainted = [origin[a] for i, a in enumerate(node.args)
                       if a in origin and i in chosen and _all_finite(values[a])]
        if tainted:
            origin[node_id] = tainted[0]
        elif bad:
            origin[node_id] = node_id
    for target in targets:
        if target in origin and _all_finite(values[target]):
            first = origin[target]
            label, line, where = describe(program, first)
            if graph[first].op == "input":
                what = f"the input {graph[first].attr} is {values[first]}"
            else:
                shown = np.asarray(values[first]).ravel()
                expr = to_text(graph, first, program.labels, limit=60)
                named = label if label == expr else f"{label} = {expr}"
                what = f"{named} is {shown[~np.isfinite(shown)][0]}{where}"
            t_label = describe(program, target)[0]
            return Diagnostic("non-finite", f"forward pass: {what}; {t_label} is finite but computed "
                              "through it (an overflow or a nan on the way), so it is not an answer",
                              label, line)
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
    except (TypeError, ValueError) as err:
        wrong = _fractional_parameter(entry, node.attr)
        if wrong is not None:
            raise _placed(program, node_id, f"{entry.shown_name}(): {wrong} must be a whole number, "
                          f"got {dict(node.attr)[wrong]}") from None
        if isinstance(err, TypeError):
            raise
        shapes = " and ".join(str(np.shape(a)) for a in args)
        name = f"'{entry.infix.strip()}' ({entry.name})" if entry.infix else entry.shown_name
        raise _placed(program, node_id, f"{name}: shapes {shapes} do not broadcast together") from None


def _fractional_parameter(entry: Any, attr: Any) -> str | None:
    """The name of a parameter given as a fraction where numpy needs a whole number (axis=0.5)."""
    for name, value in (attr if entry.params and attr else ()):
        items = value if isinstance(value, tuple) else (value,)
        if any(isinstance(v, float) and not v.is_integer() for v in items) and name not in ("start", "stop"):
            return name
    return None


def _placed(program: Program, node_id: int, message: str) -> ShapeError:
    stmt = program.statement_of(node_id)
    if stmt is None:
        return ShapeError(message)
    return ShapeError(f"{message}, in `{stmt.text}`", line=stmt.line, source=program.source)


def linearize(program: Program, values: list[Any], needed: set[int],
              convention: str = "tensorflow", asked: set[int] | None = None) -> Linearization:
    """The local partial of every edge into a `needed` node's argument that is also needed,
    with the convention's value at points where the operation is not differentiable. A
    partial that is not available (hessian's own derivative) is an error only on the way
    from an `asked` node (a --wrt variable) to the targets; elsewhere the edge is left out."""
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
                try:
                    local = 0.0 if rule is None else rule(*args, y)
                except AdiffError as err:  # a derivative that is not available: say where it was asked
                    if asked is not None and node_id not in asked:
                        continue
                    raise _placed(program, node_id, err.message) from None
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
            check_all: bool = False, stops: dict[tuple[int, int], Any] | None = None
            ) -> tuple[dict[int, Any], Diagnostic | None]:
    """Adjoints ∂target/∂node of every node the target depends on, in one sweep; a node the
    target does not depend on is absent (not connected). Adjoints are summed where a value
    feeds several others. The seed defaults to ones: the gradient of sum(target), as
    tf.GradientTape does. Also returns the first non-finite product, explained (checked for
    small values always, for large arrays with `check_all`). With `stops` (selection_stops),
    an adjoint that is zero because a branch or element is not selected stays zero through
    every edge below it, even one whose local partial is nan or inf."""
    graph = program.graph
    values = lin.values
    ones = np.ones((), dtype=np.result_type(values[target]))[()]  # broadcast where it is used
    adjoints: dict[int, Any] = {target: ones if seed is None else seed}
    stopped: dict[int, Any] = {}  # node -> mask of adjoint elements that are zero by selection
    if stops is not None and seed is not None and np.ndim(seed) and not np.all(seed):
        stopped[target] = np.asarray(seed) == 0  # a Jacobian row: the other elements are not asked for
    problem = None
    with np.errstate(all="ignore"):
        for node_id in range(target, -1, -1):
            g = adjoints.get(node_id)
            if g is None:
                continue
            held = stopped.get(node_id) if stops is not None else None
            for i, arg in enumerate(graph[node_id].args):
                local = lin.local_partials.get((node_id, i))
                if local is None:
                    continue
                if type(local) is LinearMap:
                    g_in = np.broadcast_to(g, np.shape(values[node_id]))
                    contribution = local.vjp(g_in if held is None else np.where(held, 0, g_in))
                elif g is ones and held is None:  # the seed: the local partial, spread over the node's shape
                    shape = np.shape(values[node_id])
                    spread = local if np.shape(local) == shape else np.broadcast_to(local, shape)
                    contribution = unbroadcast(spread, np.shape(values[arg]))
                else:
                    product = g * local if held is None else np.where(held, 0, g * local)
                    contribution = unbroadcast(product, np.shape(values[arg]))
                contribution = _as_float(contribution, values[arg])
                if stops is not None:
                    _stop(stopped, adjoints, arg, (node_id, i), held, type(local) is LinearMap, stops, values)
                if problem is None and (check_all or np.size(contribution) <= SMALL) \
                        and not _all_finite(contribution):
                    problem = _product_warning(program, node_id, arg, g, local)
                previous = adjoints.get(arg)
                adjoints[arg] = contribution if previous is None else previous + contribution
    return adjoints, problem


def _as_float(contribution: Any, arg_value: Any) -> Any:
    """A linear rule's constant partial (1, -1) is an int: gradients are floats."""
    if type(contribution) is np.float64:
        return contribution
    kind = getattr(contribution, "dtype", None)
    if kind is not None and kind.kind == "f":
        return contribution
    return np.asarray(contribution, dtype=np.result_type(arg_value, np.float32))[()]


def _stop(stopped: dict[int, Any], adjoints: dict[int, Any], arg: int, edge_key: tuple[int, int],
          held: Any, linear: bool, stops: dict[tuple[int, int], Any], values: list[Any]) -> None:
    """The stopped elements of arg's adjoint after this edge's contribution: those stopped on
    every edge into it (a selection edge stops its unselected elements; any edge passes on
    what is stopped at its node)."""
    edge = stops.get(edge_key)
    arg_shape = np.shape(values[arg])
    if edge is not None and np.shape(edge) != arg_shape:  # an elementwise edge: node-shaped
        edge = _arg_mask(edge, arg_shape)
    if linear:  # an array operation: its output's elements are not its argument's
        passed = True if held is not None and np.all(held) else None
    else:
        passed = _arg_mask(held, arg_shape)
    mask = edge if passed is None else passed if edge is None else np.logical_or(edge, passed)
    if arg not in adjoints:  # the first contribution
        if mask is not None:
            stopped[arg] = mask
    elif arg in stopped:
        stopped[arg] = None if mask is None else np.logical_and(stopped[arg], mask)
        if stopped[arg] is None or not np.any(stopped[arg]):
            del stopped[arg]


def tangents(program: Program, lin: Linearization, seed: int, direction: Any = None,
             stops: dict[tuple[int, int], Any] | None = None) -> dict[int, Any]:
    """Forward mode (a JVP): the derivative of every node after the seed node along
    `direction` (default ones), pushed forward in evaluation order; the seed is independent.
    With `stops` (selection_stops), nothing crosses an edge where a branch or element is not
    selected, not even a nan or inf."""
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
                unselected = stops.get((node_id, i)) if stops else None
                if type(local) is LinearMap:
                    change = local.jvp(t if unselected is None else np.where(unselected, 0, t)[()])
                else:
                    change = local * t if unselected is None else np.where(unselected, 0, local * t)[()]
                total = change if total is None else total + change
            if total is not None:
                shape = np.shape(values[node_id])
                # fit(g, a) sums g down to a's shape: its tangent is summed the same way
                tangent[node_id] = total if np.shape(total) == shape else fit_shape(total, shape)
    return tangent


# Operations that select: where a branch (where), an argument (max, min, relu's 0) or an element
# (max_pool, max/min reductions) is not selected, the output does not depend on it at all, so a
# nan or inf on that side must not reach the result (TensorFlow, PyTorch and JAX let it: 0 × nan).
SELECTING = frozenset({"where", "relu", "max", "min", "max_pool", "reduce_max", "reduce_min"})


def selection_stops(program: Program, lin: Linearization) -> dict[tuple[int, int], Any]:
    """For each edge into a selecting operation, the elements that are not selected: for an
    elementwise operation, in the output's shape (where the local partial is exactly 0); for
    an array operation, in the argument's shape (where its vector-Jacobian product of ones is 0)."""
    stops = {}
    with np.errstate(all="ignore"):
        for (node_id, i), local in lin.local_partials.items():
            node = program.graph[node_id]
            if node.op not in SELECTING:
                continue
            if type(local) is LinearMap:
                mask = local.vjp(np.ones(np.shape(lin.values[node_id]))) == 0
            else:
                mask = np.broadcast_to(np.asarray(local) == 0, np.shape(lin.values[node_id]))
            if np.any(mask):
                stops[(node_id, i)] = mask
    return stops


def _arg_mask(mask: Any, shape: tuple[int, ...]) -> Any:
    """A node-shaped mask of stopped elements, as a mask of an argument of `shape` (an argument
    element is stopped only where every element it was broadcast to is)."""
    if mask is None or np.shape(mask) == shape:
        return mask
    mask = np.asarray(mask)
    if shape == ():
        return bool(mask.all())
    if mask.ndim == len(shape) and all(m == n or n == 1 for m, n in zip(mask.shape, shape, strict=True)):
        axes = tuple(a for a, n in enumerate(shape) if n == 1 and mask.shape[a] != 1)
        return mask.all(axis=axes, keepdims=True) if axes else mask
    return None


def _product_warning(program: Program, node_id: int, arg: int, g: Any, local: Any) -> Diagnostic:
    label, line, where = describe(program, node_id)
    arg_label = program.labels.get(arg) or to_text(program.graph, arg, program.labels, limit=40)
    if type(local) is LinearMap:  # an array operation: its product, not a partial, is what failed
        shown = np.asarray(g, dtype=float).ravel()
        return Diagnostic(
            "non-finite", f"reverse pass: the adjoint of {arg_label} became non-finite on the edge out of "
            f"{label}{where}: the {local.describe} of an adjoint "
            + ("with non-finite elements" if not np.isfinite(shown).all() else "of finite elements"),
            label, line)
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


def unselected_as_notes(warnings: list[Diagnostic]) -> None:
    """A nan in a branch not taken (or a step the target does not use), when the answer is
    finite and was not computed through it: said as a note, not warned."""
    warnings[:] = [Diagnostic("note", f"{w.message}; the result does not depend on it (a branch or "
                              "element not selected, or a step the target does not use)", w.node, w.line)
                   if w.kind == "non-finite" and w.message.startswith("forward pass") else w
                   for w in warnings]
