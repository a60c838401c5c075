"""Building formula graphs from the table's rules, simplified as a calculator user expects.

A Builder adds nodes to a graph when rules run on symbolic handles (`Sym`); with `simplify`
it folds numbers and identities on the way (x·1 → x, 2-1 → 1, x^1 → x, x·x → x^2, ...), so a
derivative reads as a person would write it. Every rule is O(1) or O(a short factor list).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .graph import Graph
from .ops import OPS, Sym


@dataclass
class Builder:
    """Adds nodes to a graph for symbolic rules; with `simplify`, folds constants and identities
    as a person expects from a calculator (x·1 → x, 2-1 → 1, x^1 → x, x·x → x^2, ...)."""

    graph: Graph = field(default_factory=Graph)
    simplify: bool = True

    def const(self, value: Any, label: str | None = None) -> Sym:
        value = value if hasattr(value, "shape") and np.ndim(value) else float(value)
        return Sym(self, self.graph.add("const", (), (value, label)))

    def leaf(self, op_name: str, attr: Any) -> Sym:
        return Sym(self, self.graph.add(op_name, (), attr))

    def lift(self, x: Any) -> int:
        if isinstance(x, Sym):
            return x.id
        return self.const(float(x)).id

    def apply(self, name: str, args: tuple[Any, ...], params: dict[str, Any] | None = None) -> Sym:
        ids = tuple([a.id if type(a) is Sym else self.lift(a) for a in args])
        if params:
            return Sym(self, self.graph.add(name, ids, tuple(params.items())))
        if self.simplify:
            found = self._simplified(name, ids)
            if found is not None:
                return Sym(self, found)
        return Sym(self, self.graph.add(name, ids))

    # --- simplification, as a calculator user expects; every rule is O(1) or O(short factor list)

    def _raw(self, name: str, *ids: int) -> int:
        return self.graph.add(name, ids)

    def _c(self, node_id: int) -> float | None:
        """A node's value when it is a plain number (not a named constant, not an array)."""
        node = self.graph[node_id]
        if node.op == "const" and node.attr[1] is None and type(node.attr[0]) is float:
            return node.attr[0]
        return None

    def _split(self, node_id: int, most: int = 16) -> tuple[float, int | None]:
        """A term as coefficient × rest: 3·x → (3, x), -x → (-1, x), --x → (1, x), 5 → (5, None),
        -2/x → (-2, 1/x). Looks at most `most` levels down (a loop, never recursion)."""
        g = self.graph
        original, sign, denominators = node_id, 1.0, []
        for _ in range(most):
            c = self._c(node_id)
            if c is not None:
                coeff, rest = c, None
                break
            node = g[node_id]
            if node.op == "neg":
                sign, node_id = -sign, node.args[0]
            elif node.op == "div":
                denominators.append(node.args[1])
                node_id = node.args[0]
            elif node.op == "mul" and self._c(node.args[0]) is not None:
                coeff, rest = self._c(node.args[0]), node.args[1]
                break
            else:
                coeff, rest = 1.0, node_id
                break
        else:
            return 1.0, original
        coeff *= sign
        if not denominators:
            return coeff, rest
        if coeff == 1:
            return 1.0, original  # a quotient with nothing to take out stays as it is
        for d in reversed(denominators):  # rebuild the quotients around what is left
            rest = self._raw("div", self.const(1.0).id if rest is None else rest, d)
        return coeff, rest

    def _scaled(self, coeff: float, rest: int | None) -> int:
        if rest is None:
            return self.const(coeff).id
        if coeff == 1:
            return rest
        if coeff == 0:
            return self.const(0.0).id
        node = self.graph[rest]
        if node.op == "div" and self._c(node.args[0]) == 1:  # 2·(1/x) → 2/x
            return self._raw("div", self.const(coeff).id, node.args[1])
        if coeff == -1:
            return self._raw("neg", rest)
        return self._raw("mul", self.const(coeff).id, rest)

    def _factors(self, node_id: int, most: int = 16) -> list[int]:
        """The factors along a product's right spine (a·(b·c) → [a, b, c]), when short."""
        out = []
        while self.graph[node_id].op == "mul" and len(out) < most:
            out.append(self.graph[node_id].args[0])
            node_id = self.graph[node_id].args[1]
        out.append(node_id)
        return out

    def _power(self, node_id: int) -> tuple[int, float | None]:
        node = self.graph[node_id]
        if node.op == "pow" and self._c(node.args[1]) is not None:
            return node.args[0], self._c(node.args[1])
        return node_id, 1.0

    def _product(self, a: int, b: int) -> int:
        """a·b with the numeric coefficient in front, factors kept in order, x·x^n → x^(n+1)."""
        ca, ra = self._split(a)
        cb, rb = self._split(b)
        coeff = ca * cb
        if ra is None or rb is None:
            return self._scaled(coeff, rb if ra is None else ra)
        left = self._factors(ra)
        right = rb
        first_right = self._factors(rb, most=1)[0]
        base_l, exp_l = self._power(left[-1])
        base_r, exp_r = self._power(first_right)
        if base_l == base_r:  # x·x → x^2, x·x^2 → x^3
            merged = self.apply("pow", (Sym(self, base_l), exp_l + exp_r)).id
            rest_right = self.graph[rb].args[1] if self.graph[rb].op == "mul" and first_right != rb else None
            left = left[:-1] + [merged]
            right = rest_right
        result = right
        for f in reversed(left):
            result = f if result is None else self._raw("mul", f, result)
        return self._scaled(coeff, result)

    def _sum(self, a: int, b: int, sign: float) -> int:
        """a ± b, like terms collected (x + x → 2·x), no `+ -` (a + (-2)·b → a - 2·b)."""
        ca, ra = self._split(a)
        cb, rb = self._split(b)
        cb *= sign
        if ra == rb and ra is not None:
            return self._scaled(ca + cb, ra)
        if rb is None and cb == 0:
            return a
        if ra is None and ca == 0:
            return self._scaled(cb, rb)
        if ra is None and rb is not None and cb > 0:  # constants last: 3·x^2 - 2, not -2 + 3·x^2
            return self._sum(self._scaled(cb, rb), a, 1.0)
        if cb < 0:
            return self._raw("sub", a, self._scaled(-cb, rb))
        return self._raw("add", a, self._scaled(cb, rb))

    def _simplified(self, name: str, ids: tuple[int, ...]) -> int | None:
        consts = [self._c(i) for i in ids]
        if all(c is not None for c in consts) and OPS[name].fold:
            with np.errstate(all="ignore"):
                value = float(OPS[name].evaluate(*[np.float64(c) for c in consts]))
            if math.isfinite(value):
                return self.const(value).id
        a = ids[0]
        ca = consts[0]
        cb = consts[1] if len(ids) > 1 else None
        if name == "add":
            return self._sum(a, ids[1], 1.0)
        if name == "sub":
            if a == ids[1]:
                return self.const(0.0).id
            return self._sum(a, ids[1], -1.0)
        if name == "mul":
            return self._product(a, ids[1])
        if name == "neg":
            c, rest = self._split(a)
            return self._scaled(-c, rest)
        if name == "div":
            if cb == 1:
                return a
            if ca == 0:
                return self.const(0.0).id
            if a == ids[1]:
                return self.const(1.0).id
        elif name == "pow":
            if cb == 1:
                return a
            if cb == 0 or ca == 1:
                return self.const(1.0).id
        elif name == "log" and ca == 1:
            return self.const(0.0).id
        elif name == "where" and consts[0] is not None:
            return ids[1] if consts[0] else ids[2]
        return None
