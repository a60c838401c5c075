"""The library API: plain result objects the CLI renders, and the JSON schema.

    >>> from autodiff_cli import grad
    >>> r = grad("exp(sin(x^2))", x=2)
    >>> round(r.gradients["f"]["x"], 6)
    -1.226665
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .engine import Diagnostic, LinearMap, first_nonfinite, forward, linearize, needed_nodes, reverse
from .errors import AdiffError, NameLookupError, UsageError
from .formulas import function_list, local_partial_formula
from .graph import Program
from .ops import OPS
from .parse import parse
from .printing import ShortTexts
from .symbolic import Formula, derivative

CONVENTIONS = ("tensorflow", "pytorch", "jax")
__all__ = ["CompareResult", "DiffResult", "GradResult", "GridResult", "JacobianResult", "compare",
           "diff", "function_list", "grad", "grid", "jacobian", "jsonable"]


@dataclass
class LocalPartial:
    wrt: str  # the argument's label
    formula: str
    value: Any


@dataclass
class NodeRow:
    id: int
    name: str  # the node's name, or its expression when unnamed
    expr: str
    op: str
    value: Any
    local_partials: list[LocalPartial]
    adjoints: dict[str, Any]  # target -> ∂target/∂node; absent where not connected


@dataclass
class GradResult:
    """Everything `adiff grad` shows: forward values, local partials, adjoints, gradients."""

    program: Program
    inputs: dict[str, Any]
    targets: dict[str, Any]  # target name -> value
    wrt: list[str]
    gradients: dict[str, dict[str, Any]]  # target -> wrt -> ∂target/∂wrt
    not_connected: list[tuple[str, str]]
    warnings: list[Diagnostic]
    convention: str
    values: list[Any] = field(repr=False, default_factory=list)
    local_values: dict[tuple[int, int], Any] = field(repr=False, default_factory=dict)
    adjoints: dict[str, dict[int, Any]] = field(repr=False, default_factory=dict)

    def node_ids(self) -> list[int]:
        """The nodes the targets are computed from, in evaluation order, inputs first;
        constants are not rows (nor what only expect lines use)."""
        graph = self.program.graph
        prog = self.program
        reached = graph.ancestors([prog.bindings[t] if t in prog.bindings else prog.inputs[t]
                                   for t in self.targets])
        inputs = [n for n in self.program.inputs.values() if n in reached]
        rest = [i for i in sorted(reached) if graph[i].op not in ("const", "input")]
        return inputs + rest

    def rows(self, ids: list[int] | None = None) -> Iterator[NodeRow]:
        """The per-node rows; formulas are built only for the rows asked for."""
        prog = self.program
        graph = prog.graph
        ids = self.node_ids() if ids is None else ids
        texts = ShortTexts(graph, prog.labels, max(ids, default=0), limit=80)
        for nid in ids:
            node = graph[nid]
            expr = texts.full[nid]
            name = prog.labels.get(nid, expr)
            partials = []
            for i, arg in enumerate(node.args):
                if (nid, i) in self.local_values:
                    arg_label = texts.ref(arg)
                    partials.append(LocalPartial(arg_label, local_partial_formula(prog, nid, i, texts=texts),
                                                 self.local_values[(nid, i)]))
            shape = np.shape(self.values[nid])
            adjoints = {t: np.broadcast_to(adj[nid], shape)[()] for t, adj in self.adjoints.items()
                        if nid in adj}
            yield NodeRow(nid, name, expr, node.op, self.values[nid], partials, adjoints)

    @functools.cached_property
    def finite(self) -> bool:
        """Whether every requested value (targets and gradients) is finite."""
        vals = list(self.targets.values()) + [v for g in self.gradients.values() for v in g.values()]
        return all(bool(np.isfinite(v).all()) for v in vals)

    @property
    def exit_code(self) -> int:
        return 0 if self.finite else 1

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of `adiff grad --json` (schema in the README)."""
        first = next(iter(self.targets))
        return {
            "inputs": {k: jsonable(v) for k, v in self.inputs.items()},
            "targets": {k: jsonable(v) for k, v in self.targets.items()},
            "nodes": [{
                "id": r.id, "name": r.name, "expr": r.expr, "op": r.op, "value": jsonable(r.value),
                "local_partials": [{"wrt": p.wrt, "formula": p.formula, "value": jsonable(p.value)}
                                   for p in r.local_partials],
                "adjoint": jsonable(r.adjoints[first]) if first in r.adjoints else None,
                "adjoints": {t: jsonable(v) for t, v in r.adjoints.items()},
            } for r in self.rows()],
            "gradients": {t: {w: jsonable(v) for w, v in g.items()} for t, g in self.gradients.items()},
            "not_connected": [list(p) for p in self.not_connected],
            "convention": self.convention,
            "warnings": [w.to_dict() for w in self.warnings],
        }


def jsonable(value: Any) -> Any:
    """Numbers for strict JSON: non-finite values become the strings "nan", "inf", "-inf"."""
    if value is None or isinstance(value, LinearMap):
        return None
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        v = float(arr)
        if v != v:
            return "nan"
        if v in (float("inf"), float("-inf")):
            return "inf" if v > 0 else "-inf"
        return v
    return [jsonable(x) for x in arr]


_AT_ITEM = re.compile(r"\s*([^\W\d]\w*)\s*=")


def split_assignments(text: str) -> list[tuple[str, str]]:
    """`w1=-0.2,w2=0.2` → [("w1", "-0.2"), ("w2", "0.2")]; commas inside brackets stay."""
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth <= 0 and _AT_ITEM.match(text, i + 1):
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    out = []
    for item in items:
        m = _AT_ITEM.match(item)
        if not m:
            raise UsageError(f"--at expects NAME=VALUE, got '{item.strip()}'")
        out.append((m.group(1), item[m.end():].strip()))
    return out


def value_of(text: str, name: str = "x") -> Any:
    """An --at value: a number, or an expression of constants (`-0.2`, `pi/4`, `2^-3`)."""
    try:
        return np.float64(float(text))
    except ValueError:
        pass
    try:
        prog = parse(text)
    except AdiffError as err:
        raise UsageError(f"--at {name}={text}: the value is not a number ({err.message})") from None
    if prog.inputs:
        raise UsageError(f"--at {name}={text}: '{next(iter(prog.inputs))}' is not a number; a value "
                         "is a number or an expression of numbers such as pi/4")
    values, _ = forward(prog, {})
    return values[prog.target]


def _as_program(program: str | Program) -> Program:
    return program if isinstance(program, Program) else parse(program)


def _names(text_or_list: str | list[str] | None) -> list[str]:
    if text_or_list is None:
        return []
    items = [text_or_list] if isinstance(text_or_list, str) else list(text_or_list)
    return [n.strip() for item in items for n in item.split(",") if n.strip()]


DTYPES = {"float64": np.float64, "float32": np.float32}


def _dtype(name: str) -> Any:
    if name not in DTYPES:
        raise UsageError(f"unknown dtype '{name}' (choose float64 or float32)")
    return DTYPES[name]


def input_values(prog: Program, at: dict[str, Any], dtype: Any = np.float64,
                 from_command_line: bool = True) -> dict[str, Any]:
    """Each input's value: the program's default, overridden by `at` (numbers or text)."""
    unknown = [n for n in at if n not in prog.inputs]
    if unknown:
        has = ", ".join(prog.inputs) or "no inputs"
        raise NameLookupError(f"--at {unknown[0]}=...: the program has no input '{unknown[0]}' "
                              f"(its inputs: {has})")
    values = {}
    for name in prog.inputs:
        if name in at:
            raw = at[name]
            with np.errstate(all="ignore"):  # 1e39 in float32 is inf: reported as a non-finite value
                values[name] = np.asarray(value_of(raw, name) if isinstance(raw, str) else raw,
                                          dtype=dtype)[()]
        elif name in prog.defaults:
            values[name] = np.asarray(prog.defaults[name], dtype=dtype)[()]
        else:
            token = prog.first_use.get(name)  # type: ignore[attr-defined]
            raise NameLookupError(
                f"the input '{name}' has no value: give it one with "
                + (f"--at {name}=VALUE, or " if from_command_line else "")
                + f"a line {name} = VALUE in the program",
                line=token.line if token else None, column=token.column if token else None,
                source=prog.source)
    return values


def _resolve(prog: Program, names: list[str], option: str) -> list[int]:
    out = []
    for n in names:
        node = prog.bindings.get(n, prog.inputs.get(n))
        if node is None:
            raise NameLookupError(f"{option} {n}: the program has no node named '{n}' "
                                  f"(it has: {', '.join(prog.names())})")
        out.append(node)
    return out


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


def grad(program: str | Program, *, of: str | list[str] | None = None,
         wrt: str | list[str] | None = None, at: dict[str, Any] | None = None,
         convention: str = "tensorflow", dtype: str = "float64", **inputs: Any) -> GradResult:
    """Forward and reverse passes: the partials of each target (`of`, default the last
    statement) with respect to each name in `wrt` (default: every input). Inputs are given
    in `at` or as keyword arguments; persistent-tape semantics for intermediates. A target
    that is an array is differentiated as its sum (tf.GradientTape's convention)."""
    if convention not in CONVENTIONS:
        raise UsageError(f"unknown convention '{convention}' (choose {', '.join(CONVENTIONS)})")
    prog = _as_program(program)
    at = {**(at or {}), **inputs}
    values_in = input_values(prog, at, _dtype(dtype))
    of_names = _names(of) or [prog.target_name]
    wrt_names = _names(wrt) or list(prog.inputs)
    of_nodes = _resolve(prog, of_names, "--of")
    wrt_nodes = _resolve(prog, wrt_names, "--wrt")

    values, warnings = forward(prog, values_in, _dtype(dtype))
    for t_name, t_node in zip(of_names, of_nodes, strict=True):
        if np.ndim(values[t_node]):
            warnings.append(Diagnostic(
                "note", f"{t_name} is an array of shape {np.shape(values[t_node])}: its gradients are "
                f"those of sum({t_name}), as tf.GradientTape computes them", t_name))
    lin = linearize(prog, values, needed_nodes(prog, of_nodes), convention)
    warnings += lin.warnings
    gradients: dict[str, dict[str, Any]] = {}
    adjoints: dict[str, dict[int, Any]] = {}
    not_connected = []
    for t_name, t_node in zip(of_names, of_nodes, strict=True):
        adj, _ = reverse(prog, lin, t_node)  # a non-finite gradient is explained below, once
        adjoints[t_name] = adj
        gradients[t_name] = {}
        for w_name, w_node in zip(wrt_names, wrt_nodes, strict=True):
            if w_node in adj:
                gradients[t_name][w_name] = np.broadcast_to(adj[w_node], np.shape(values[w_node]))[()]
            else:
                gradients[t_name][w_name] = np.zeros_like(values[w_node])[()]
                not_connected.append((t_name, w_name))
    targets = {t: values[n] for t, n in zip(of_names, of_nodes, strict=True)}
    result = GradResult(prog, values_in, targets, wrt_names, gradients, not_connected, warnings,
                        convention, values, lin.local_partials, adjoints)
    if not result.finite:  # checked once; explained only when something is not finite
        _explain_nonfinite(prog, lin, targets, gradients, dict(zip(of_names, of_nodes, strict=True)),
                           warnings)
    return result


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise UsageError(f"unknown convention '{convention}' (choose {', '.join(CONVENTIONS)})")


def _statements_text(statements: list[tuple[str, str]]) -> str:
    return "; ".join(f"{name} = {text}" if name else text for name, text in statements)


@dataclass
class CompareResult:
    """`adiff compare`: each (target, variable) pair by symbolic formula, central difference,
    forward mode and reverse mode, with a verdict."""

    point: dict[str, Any]
    pairs: list[Any]  # checks.PairCheck
    warnings: list[Diagnostic]
    rtol: float
    atol: float

    @property
    def agree(self) -> bool:
        return all(p.agree for p in self.pairs)

    @property
    def exit_code(self) -> int:
        return 0 if self.agree else 1

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of `adiff compare --json` (schema in the README)."""
        return {
            "point": {k: jsonable(v) for k, v in self.point.items()},
            "results": [{
                "of": p.of, "wrt": p.wrt,
                "symbolic": {"factored": _statements_text(p.factored),
                             "expanded": _statements_text(p.expanded), "value": jsonable(p.symbolic)},
                "finite_difference": {"value": jsonable(p.finite_difference.value),
                                      "eps": p.finite_difference.eps,
                                      "abs_error": jsonable(p.finite_difference.abs_error)},
                "forward": jsonable(p.forward), "reverse": jsonable(p.reverse), "agree": p.agree,
                **({"sweep": [{"eps": h, "value": jsonable(v), "abs_error": jsonable(e)}
                              for h, v, e in p.sweep]} if p.sweep else {}),
            } for p in self.pairs],
            "rtol": self.rtol, "atol": self.atol,
            "agree": self.agree,
            "warnings": [w.to_dict() for w in self.warnings],
        }


def compare(program: str | Program, *, of: str | list[str] | None = None,
            wrt: str | list[str] | None = None, at: dict[str, Any] | None = None,
            convention: str = "tensorflow", eps: float | None = None, rtol: float = 1e-5,
            atol: float = 1e-8, sweep: bool = False, **inputs: Any) -> CompareResult:
    """The derivative three ways at a point: symbolic (chain rule, simplified), central
    difference (step chosen for float64, or `eps`), forward- and reverse-mode AD."""
    _check_convention(convention)
    if eps is not None and not eps > 0:
        raise UsageError(f"--eps must be a positive step, got {eps}")
    prog = _as_program(program)
    values_in = input_values(prog, {**(at or {}), **inputs})
    of_names = _names(of) or [prog.target_name]
    wrt_names = _names(wrt) or list(prog.inputs)
    of_pairs = list(zip(of_names, _resolve(prog, of_names, "--of"), strict=True))
    wrt_pairs = list(zip(wrt_names, _resolve(prog, wrt_names, "--wrt"), strict=True))
    from .checks import check_pairs  # compare's machinery, loaded when it is used

    pairs, warnings = check_pairs(prog, values_in, of_pairs, wrt_pairs, convention, eps, rtol, atol, sweep)
    return CompareResult(values_in, pairs, warnings, rtol, atol)


@dataclass
class DiffResult:
    """`adiff diff`: a symbolic derivative, of any order, and its value where a point is given."""

    of: str
    wrt: list[str]
    formula: Formula
    program: Program = field(repr=False)
    nodes: tuple[int, int] = (0, 0)  # target and first variable, for the factored form
    value: Any = None
    point: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)  # said of ops such as floor (derivative 0)

    @property
    def taken(self) -> set[str]:
        return set(self.program.names())

    @functools.cached_property
    def factored(self) -> Formula | None:
        """The first derivative in the program's named steps (built when asked for)."""
        if len(self.wrt) != 1:
            return None
        return derivative(self.program, *self.nodes, factored=True)

    def statements(self, latex: bool = False, limit: int | None = None) -> list[tuple[str, str]]:
        return self.formula.program_text(self.taken, latex=latex, limit=limit)

    @property
    def name(self) -> str:
        """∂f/∂x, ∂²f/∂x², ∂²f/∂x∂y."""
        n = len(self.wrt)
        power = "" if n == 1 else "".join("⁰¹²³⁴⁵⁶⁷⁸⁹"[int(d)] for d in str(n))
        if len(set(self.wrt)) == 1:
            return f"∂{power}{self.of}/∂{self.wrt[0]}{power}"
        return f"∂{power}{self.of}/" + "".join(f"∂{w}" for w in self.wrt)

    @property
    def latex_name(self) -> str:
        n = len(self.wrt)
        top = r"\partial" if n == 1 else rf"\partial^{{{n}}}"
        if len(set(self.wrt)) == 1:
            bottom = rf"\partial {self.wrt[0]}" + ("" if n == 1 else f"^{{{n}}}")
        else:
            bottom = " ".join(rf"\partial {w}" for w in self.wrt)
        return rf"\frac{{{top} {self.of}}}{{{bottom}}}"

    def to_dict(self) -> dict[str, Any]:
        doc = {"of": self.of, "wrt": self.wrt if len(self.wrt) > 1 else self.wrt[0],
               "derivative": _statements_text(self.statements()),
               "latex": _statements_text(self.statements(latex=True))}
        if self.factored is not None:
            doc["factored"] = _statements_text(self.factored.program_text(self.taken))
        if self.value is not None:
            doc["value"] = jsonable(self.value)
        return doc


def diff(program: str | Program, *, of: str | None = None, wrt: str | list[str] | None = None,
         order: int = 1, at: dict[str, Any] | None = None, **inputs: Any) -> list[DiffResult]:
    """Symbolic derivatives. `wrt` names the variables in order (x,y: ∂²f/∂x∂y); `order`
    repeats a single variable (order=2: ∂²f/∂x²). Without `wrt`, one first derivative per input.
    With values (`at`), each derivative is also evaluated."""
    prog = _as_program(program)
    of_name = (_names(of) or [prog.target_name])[0]
    (target,) = _resolve(prog, [of_name], "--of")
    if order < 1:
        raise UsageError(f"--order must be 1 or more, got {order}")
    names = _names(wrt)
    if len(names) == 1:
        sequences = [names * order]
    elif names:
        if order != 1:
            raise UsageError("give either several --wrt (a mixed derivative) or --order, not both")
        sequences = [names]
    else:
        sequences = [[n] * order for n in prog.inputs]
    point = input_values(prog, {**(at or {}), **inputs}) if (at or inputs) else None
    values = forward(prog, point)[0] if point is not None else None
    results = []
    for seq in sequences:
        nodes = _resolve(prog, seq, "--wrt")
        from .checks import evaluate_formula, symbolic_derivative

        formula = symbolic_derivative(prog, target, list(zip(seq, nodes, strict=True)))
        value = None
        if values is not None:
            held = {n: values[node] for n, node in zip(seq, nodes, strict=True)}
            value = evaluate_formula(formula, {**point, **held})
        notes = sorted({OPS[prog.graph[n].op].note for n in prog.graph.ancestors([target])
                        if prog.graph[n].op in OPS and OPS[prog.graph[n].op].note})
        results.append(DiffResult(of_name, seq, formula, prog, (target, nodes[0]), value, point, notes))
    return results


@dataclass
class JacobianResult:
    """`adiff jacobian`: rows are the target's elements, columns the variable's (row-major)."""

    of: str
    wrt: str
    matrix: Any
    out_shape: tuple[int, ...]
    in_shape: tuple[int, ...]
    method: str
    passes: int

    def row_labels(self) -> list[str]:
        return [_element(self.of, i, self.out_shape) for i in np.ndindex(self.out_shape)]

    def column_labels(self) -> list[str]:
        return [_element(self.wrt, i, self.in_shape) for i in np.ndindex(self.in_shape)]

    def to_dict(self) -> dict[str, Any]:
        return {"of": self.of, "wrt": self.wrt, "shape": list(self.matrix.shape),
                "of_shape": list(self.out_shape), "wrt_shape": list(self.in_shape),
                "method": self.method, "passes": self.passes, "jacobian": jsonable(self.matrix)}


def _element(name: str, index: tuple[int, ...], shape: tuple[int, ...]) -> str:
    return name if not shape else f"{name}[{', '.join(map(str, index))}]"


def jacobian(program: str | Program, *, of: str | None = None, wrt: str | list[str] | None = None,
             at: dict[str, Any] | None = None, convention: str = "tensorflow",
             **inputs: Any) -> list[JacobianResult]:
    """The full Jacobian of the target with respect to each variable (default: every input),
    by reverse mode row by row or forward mode column by column, whichever needs fewer passes."""
    _check_convention(convention)
    prog = _as_program(program)
    values_in = input_values(prog, {**(at or {}), **inputs})
    if len(_names(of)) > 1:
        raise UsageError("jacobian takes one target: --of NAME")
    of_name = (_names(of) or [prog.target_name])[0]
    (target,) = _resolve(prog, [of_name], "--of")
    wrt_names = _names(wrt) or list(prog.inputs)
    results = []
    for w_name, w_node in zip(wrt_names, _resolve(prog, wrt_names, "--wrt"), strict=True):
        from .checks import jacobian as jacobian_matrix

        matrix, method, passes, out_shape, in_shape = jacobian_matrix(prog, values_in, target, w_node,
                                                                       convention)
        results.append(JacobianResult(of_name, w_name, matrix, out_shape, in_shape, method, passes))
    return results


@dataclass
class GridResult:
    """`adiff grad --grid/--points`: the value and partials at every point, in one pass."""

    of: str
    columns: dict[str, Any]  # each grid or points input: its value at every point
    value: Any
    partials: dict[str, Any]  # ∂of/∂input at every point
    warnings: list[Diagnostic]

    def header(self) -> list[str]:
        return [*self.columns, self.of, *(f"d{self.of}/d{name}" for name in self.partials)]

    def matrix(self) -> Any:
        return np.column_stack([*self.columns.values(), self.value, *self.partials.values()])

    def to_dict(self) -> dict[str, Any]:
        return {"of": self.of, "points": {k: jsonable(v) for k, v in self.columns.items()},
                "value": jsonable(self.value), "partials": {k: jsonable(v) for k, v in self.partials.items()},
                "warnings": [w.to_dict() for w in self.warnings]}


def parse_grid(text: str) -> tuple[str, Any]:
    """`x=-3:3:1001` → ("x", 1001 values from -3 to 3)."""
    (name, spec), = split_assignments(text)
    parts = spec.split(":")
    try:
        start, stop, count = float(value_of(parts[0])), float(value_of(parts[1])), int(parts[2])
    except (IndexError, ValueError, TypeError, AdiffError):
        raise UsageError(f"--grid {text}: give NAME=START:STOP:COUNT, as in --grid x=-3:3:1001") from None
    if count < 1:
        raise UsageError(f"--grid {text}: the count must be at least 1")
    return name, np.linspace(start, stop, count)


def read_points(path: str) -> dict[str, Any]:
    """A CSV file with a header row naming inputs, a point per row."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror}") from None
    if len(rows) < 2:
        raise UsageError(f"{path}: expected a header row of input names and at least one row of values")
    names = [h.strip() for h in rows[0]]
    values = []
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(names):
            raise UsageError(f"{path}, row {number}: {len(row)} values, but the header names {len(names)}")
        try:
            values.append([float(v) for v in row])
        except ValueError:
            raise UsageError(f"{path}, row {number}: {','.join(row)} is not a row of numbers") from None
    table = np.array(values, dtype=np.float64).reshape(-1, len(names))
    if table.ndim != 2 or table.shape[1] != len(names):
        raise UsageError(f"{path}: every row needs {len(names)} values, one per column of the header")
    return {name: table[:, i] for i, name in enumerate(names)}


def grid(program: str | Program, *, grids: list[str] | None = None, points: dict[str, Any] | None = None,
         of: str | None = None, at: dict[str, Any] | None = None, convention: str = "tensorflow",
         dtype: str = "float64") -> GridResult:
    """The value and its partials at many points in one vectorized pass: `grids` (several
    make a mesh) or `points` (columns of values), the other inputs from `at` or the program."""
    prog = _as_program(program)
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
                              f"(its inputs: {', '.join(prog.inputs) or 'none'})")
    overlap = [n for n in (at or {}) if n in columns]
    if overlap:
        raise UsageError(f"{overlap[0]} is given by --at and by the points; give it once")
    of_name = (_names(of) or [prog.target_name])[0]
    (target,) = _resolve(prog, [of_name], "--of")
    for n in prog.graph.ancestors([target]):
        entry = OPS.get(prog.graph[n].op)
        if entry is not None and (entry.vjp is not None or prog.graph[n].op == "hessian"):
            raise UsageError(f"--grid and --points evaluate a program of scalar operations at many points; "
                             f"{entry.callable_as or entry.name} works on whole arrays")
    result = grad(prog, of=of_name, wrt=list(columns), at={**(at or {}), **columns},
                  convention=convention, dtype=dtype)
    size = len(next(iter(columns.values())))
    value = np.broadcast_to(result.targets[of_name], (size,))
    partials = {n: np.broadcast_to(result.gradients[of_name][n], (size,)) for n in columns}
    warnings = [w for w in result.warnings if w.kind != "note"]
    return GridResult(of_name, columns, value, partials, warnings)
