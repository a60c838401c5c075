"""Plain result objects of the library API, and their JSON documents (the schema in the README).
Nothing here formats numbers for people or draws a table: render.py does that."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .engine import Diagnostic, LinearMap
from .graph import Program
from .inputs import node_named
from .node_rows import LABEL_CHARS, NodeRow, node_rows

if TYPE_CHECKING:
    from .symbolic import Formula


# Results compare by identity (eq=False): == of the numpy values they hold is elementwise, and
# not generating __eq__ saves a little of every start.
@dataclass(eq=False)
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
    through_nonfinite: bool = False  # a finite target computed through a nan or inf: not an answer

    def node_ids(self) -> list[int]:
        """The nodes the targets are computed from, in evaluation order, inputs first;
        constants are not rows (nor what only expect lines use)."""
        graph = self.program.graph
        reached = graph.ancestors([node_named(self.program, t) for t in self.targets])
        inputs = [n for n in self.program.inputs.values() if n in reached]
        rest = [i for i in sorted(reached) if graph[i].op not in ("const", "input")]
        return inputs + rest

    def rows(self, ids: list[int] | None = None, limit: int | None = LABEL_CHARS) -> Iterator[NodeRow]:
        """The per-node rows (names, expressions, local partial formulas): node_rows.py; texts
        longer than `limit` characters are shortened to their first and last characters."""
        ids = self.node_ids() if ids is None else ids
        return node_rows(self.program, ids, self.values, self.local_values, self.adjoints, limit)

    @functools.cached_property
    def finite(self) -> bool:
        """Whether every requested value (targets and gradients) is finite."""
        vals = list(self.targets.values()) + [v for g in self.gradients.values() for v in g.values()]
        return all(bool(np.isfinite(v).all()) for v in vals)

    @property
    def answered(self) -> bool:
        """Every requested value finite, and none computed through a nan or inf."""
        return self.finite and not self.through_nonfinite

    @property
    def exit_code(self) -> int:
        return 0 if self.answered else 1

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
    if isinstance(value, float):  # a Python or numpy float64 (a float): most values, directly
        if math.isfinite(value):
            return float(value)
        return "nan" if value != value else ("inf" if value > 0 else "-inf")
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



def _statements_text(statements: list[tuple[str, str]]) -> str:
    return "; ".join(f"{name} = {text}" if name else text for name, text in statements)


@dataclass(eq=False)
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
                "kink": p.kink,
                **({"sweep": [{"eps": h, "value": jsonable(v), "abs_error": jsonable(e)}
                              for h, v, e in p.sweep]} if p.sweep else {}),
            } for p in self.pairs],
            "rtol": self.rtol, "atol": self.atol,
            "agree": self.agree,
            "warnings": [w.to_dict() for w in self.warnings],
        }



@dataclass(eq=False)
class DiffResult:
    """`adiff diff`: a symbolic derivative, of any order, and its value where a point is given."""

    of: str
    wrt: list[str]
    formula: Formula | None  # None where there is no closed form (see error)
    program: Program = field(repr=False)
    nodes: tuple[int, int] = (0, 0)  # target and first variable, for the factored form
    value: Any = None
    point: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)  # said of ops such as floor (derivative 0)
    warnings: list[Diagnostic] = field(default_factory=list)  # where the value met a nan or inf
    error: str | None = None  # no closed form (formula None): which operation, in which statement

    @property
    def answered(self) -> bool:
        """No value asked for, or a finite one computed without a nan or inf on the way."""
        return self.value is None or (bool(np.isfinite(self.value).all()) and not self.warnings)

    @property
    def taken(self) -> set[str]:
        return set(self.program.names())

    @functools.cached_property
    def factored(self) -> Formula | None:
        """The first derivative in the program's named steps (built when asked for)."""
        if len(self.wrt) != 1 or self.error:
            return None
        from .symbolic import derivative  # diff's module; grad and compare start without it

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

    def to_dict(self) -> dict[str, Any]:
        doc = {"of": self.of, "wrt": self.wrt if len(self.wrt) > 1 else self.wrt[0]}
        if self.error:
            return {**doc, "error": self.error}
        doc |= {"derivative": _statements_text(self.statements()),
               "latex": _statements_text(self.statements(latex=True))}
        if self.factored is not None:
            doc["factored"] = _statements_text(self.factored.program_text(self.taken))
        if self.value is not None:
            doc["value"] = jsonable(self.value)
            doc["warnings"] = [w.to_dict() for w in self.warnings]
        return doc



@dataclass(eq=False)
class JacobianResult:
    """`adiff jacobian`: rows are the target's elements, columns the variable's (row-major)."""

    of: str
    wrt: str
    matrix: Any
    out_shape: tuple[int, ...]
    in_shape: tuple[int, ...]
    method: str
    passes: int
    warnings: list[Diagnostic] = field(default_factory=list)
    columns: list[str] | None = None  # several scalar variables joined: a column each, by name

    @property
    def answered(self) -> bool:
        """Every entry finite, none computed through a nan or inf."""
        return bool(np.isfinite(self.matrix).all()) and not any(w.kind == "non-finite" for w in self.warnings)

    def to_dict(self) -> dict[str, Any]:
        return {"of": self.of, "wrt": self.columns or self.wrt, "shape": list(self.matrix.shape),
                "of_shape": list(self.out_shape), "wrt_shape": list(self.in_shape),
                "method": self.method, "passes": self.passes, "jacobian": jsonable(self.matrix),
                "warnings": [w.to_dict() for w in self.warnings]}


def joined_scalars(results: list[JacobianResult]) -> list[JacobianResult]:
    """The Jacobians with respect to several scalar variables as one matrix, a column each
    (`jacobian "[x*y, x+y]"` is 2 × 2, `jacobian "x*y"` is 1 × 2); other results unchanged."""
    if len(results) < 2 or any(r.in_shape != () for r in results):
        return results
    first = results[0]
    matrix = np.hstack([r.matrix for r in results])
    names = [r.wrt for r in results]
    return [JacobianResult(first.of, ", ".join(names), matrix, first.out_shape, (len(names),), first.method,
                           sum(r.passes for r in results), [w for r in results for w in r.warnings], names)]



@dataclass(eq=False)
class GridResult:
    """`adiff grad --grid/--points`: the value and partials at every point, in one pass."""

    of: str
    columns: dict[str, Any]  # each grid or points input: its value at every point
    value: Any
    partials: dict[str, Any]  # ∂of/∂input at every point
    warnings: list[Diagnostic]

    def matrix(self) -> Any:
        return np.column_stack([*self.columns.values(), self.value, *self.partials.values()])

    def to_dict(self) -> dict[str, Any]:
        return {"of": self.of, "points": {k: jsonable(v) for k, v in self.columns.items()},
                "value": jsonable(self.value), "partials": {k: jsonable(v) for k, v in self.partials.items()},
                "warnings": [w.to_dict() for w in self.warnings]}

