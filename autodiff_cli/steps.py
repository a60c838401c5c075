"""The chain rule written out as the lecture does it, from a `grad` result.

Three parts: the forward pass (each node's value), the local derivatives (each edge's partial,
its formula and its value), and the chain rule (each requested partial as the product of local
derivatives along each path from the variable up to the target, summed over the paths, or the
adjoint recurrence of the reverse pass, node by node, where paths would not do).

`chain` computes all of that as data; this module lays it out once, and a writer from
`chain_writers` spells each piece as plain text or as LaTeX for a handout (amsmath's align*).
Nothing here prints.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .api import GradResult
from .chain import PATH_CAP, ChainRule, Edge, Partial, chain_rule
from .chain_writers import LatexWriter, PlainWriter
from .engine import LinearMap
from .ops import Sym

__all__ = ["steps_text"]

MAX_TERMS = 8  # terms written out in one line of the adjoint recurrence


def steps_text(result: GradResult, digits: int = 5, latex: bool = False, max_paths: int = 20) -> str:
    """The chain rule step by step, as the lecture writes it: the forward pass, the local
    derivatives, and each requested partial (every target × every variable of `result`) as a
    sum over paths of products of local derivatives, with the numbers (`digits` significant
    digits). Where there would be more than `max_paths` paths, or a path longer than
    chain.MAX_FACTORS steps, or array operations, the per-node adjoint recurrence of the reverse
    pass is written instead. `latex=True` gives LaTeX for a handout (align* environments, amsmath)."""
    writer = LatexWriter(digits) if latex else PlainWriter(digits)
    return _Layout(chain_rule(result, max_paths), writer, max_paths).text()


class _Layout:
    """The three parts, in the words of any writer."""

    def __init__(self, chain: ChainRule, writer: PlainWriter, max_paths: int):
        self.chain = chain
        self.w = writer
        self.max_paths = max_paths
        self._names: dict[int, str] = {}
        self._refs: dict[int, str] = {}
        self._formula_texts: dict[int, str] = {}

    def text(self) -> str:
        self.forward_pass()
        self.local_derivatives()
        self.chain_rule()
        return self.w.text()

    # --- names -------------------------------------------------------------------------------

    def name(self, nid: int) -> str:
        """The node as it stands alone: its name, or its (short) expression."""
        if nid not in self._names:
            c = self.chain
            self._names[nid] = self.w.node(c.graph, nid, c.labels, top_label=nid in c.labels)
        return self._names[nid]

    def ref(self, nid: int) -> str:
        """The node inside a derivative: its name, or its expression in parentheses."""
        if nid not in self._refs:
            text = self.name(nid)
            self._refs[nid] = text if nid in self.chain.labels else self.w.parens(text)
        return self._refs[nid]

    def d_edge(self, e: Edge) -> str:
        return self.w.d(self.ref(e.top), self.ref(e.bottom), e.index)

    def adj(self, nid: int) -> str:
        return self.w.adjoint(self.name(nid))

    def formula_text(self, formula: Sym) -> str:
        if formula.id not in self._formula_texts:
            self._formula_texts[formula.id] = self.w.expression(self.chain.formulas, formula.id)
        return self._formula_texts[formula.id]

    # --- the three parts ----------------------------------------------------------------------

    def forward_pass(self) -> None:
        w, c = self.w, self.chain
        w.heading("Forward pass")
        for nid in c.ids:
            tag = w.step_tag(c.number[nid])
            value = w.number(c.values[nid])
            if nid in c.labels and c.graph[nid].op != "input":
                w.row(self.name(nid), f"{w.expression(c.graph, nid, c.labels)} = {value}", tag)
            else:
                w.row(self.name(nid), value, tag)

    def local_derivatives(self) -> None:
        w, c = self.w, self.chain
        w.heading("Local derivatives")
        count = 0
        for nid in c.ids:
            if nid in c.merged:
                continue
            for e in c.edges.get(nid, []):
                count += 1
                if e.formula is None:
                    rhs = w.linear_map
                else:
                    formula, value = self.formula_text(e.formula), w.number(e.value)
                    rhs = formula if formula == value else f"{formula} = {value}"
                w.row(self.d_edge(e), rhs, note=self._route(e, c.edges[nid]) if e.index else "")
        if not count:
            w.sentence("None: every target is an input.")
        elif c.merged:
            w.sentence("Steps through unnamed nodes whose local derivative is a constant (the 1 of a sum, "
                       "the -1 of a difference) are merged into one factor between named steps.")

    def _route(self, e: Edge, siblings: list[Edge]) -> str:
        """Which of several edges from top to bottom this one is: the nodes it runs through,
        and the argument it enters the last one as where that is still ambiguous."""
        math = self.w.math
        last = e.via[-1] if e.via else e.top
        argument = f"argument {e.inner + 1} of {math(self.name(last))}"
        if not e.via:
            return f"({argument})"
        through = "through " + ", ".join(math(self.name(m)) for m in e.via)
        same = [s for s in siblings if s.bottom == e.bottom and s.via == e.via]
        return f"({through}, {argument})" if len(same) > 1 else f"({through})"

    def chain_rule(self) -> None:
        w = self.w
        w.heading("Chain rule")
        w.sentence("Each partial is the sum over the paths from the variable up to the target of the "
                   "product of the local derivatives along the path.")
        for p in self.chain.partials:
            lhs = w.d(w.given(p.target), w.given(p.variable))
            if p.how == "identity":
                w.row(lhs, "1")
            elif p.how == "not connected":
                w.row(lhs, "0", note="(not connected)")
            elif p.how == "paths":
                self._paths(p, lhs)
            else:
                self._recurrence(p, lhs)

    def _paths(self, p: Partial, lhs: str) -> None:
        w = self.w
        if len(p.paths) == 1:
            (path,) = p.paths
            if len(path) == 1 and not path[0].index:
                w.row(lhs, w.number(p.total))
            else:
                w.row(lhs, f"{self._factors(path)} = {self._numbers(path)} = {w.number(p.total)}")
            return
        branches = [w.math(self.name(n)) for n in p.branches]
        feeds = ", ".join(branches[:3]) + (", ..." if len(branches) > 3 else "")
        verb = "is" if len(branches) == 1 else "are"
        t_ref, v_ref = w.math(w.given(p.target)), w.math(w.given(p.variable))
        w.sentence(f"{w.math(lhs)}: {feeds} {verb} used more than once, so {len(p.paths)} paths lead "
                   f"from {v_ref} to {t_ref}; the chain rule sums them:")
        for k, (path, product) in enumerate(zip(p.paths, p.products, strict=True), 1):
            rhs = f"{self._numbers(path)} = {w.number(product)}" if len(path) > 1 else w.number(product)
            w.row(self._factors(path), rhs, tag=w.path_tag(k), indent=2)
        terms = " + ".join(w.term(product, i == 0) for i, product in enumerate(p.products))
        w.row(lhs, f"{terms} = {w.number(p.total)}", indent=2)

    def _factors(self, path: tuple[Edge, ...]) -> str:
        return self.w.times.join(self.d_edge(e) for e in path)

    def _numbers(self, path: tuple[Edge, ...]) -> str:
        return self.w.times.join(self.w.factor(e.value, i == 0) for i, e in enumerate(path))

    def _why(self, p: Partial) -> str:
        w = self.w
        t_ref, v_ref = w.math(w.given(p.target)), w.math(w.given(p.variable))
        if p.why == "arrays":
            return (f"the path from {v_ref} to {t_ref} runs through arrays, whose local derivatives are "
                    "arrays or linear maps (vector-Jacobian products), so the chain rule runs node by node "
                    "as the reverse pass does")
        if p.why == "many paths":
            many = w.count(p.path_count, capped=p.path_count >= PATH_CAP)
            paths = "path leads" if p.path_count == 1 else "paths lead"
            return (f"{many} {paths} from {v_ref} to {t_ref}, more than {w.max_paths} = {self.max_paths}, "
                    "too many to list; instead, the reverse pass accumulates the sum node by node")
        return (f"the paths from {v_ref} to {t_ref} have up to {p.longest:,} steps, too many for one "
                "product; instead, the reverse pass multiplies them node by node")

    def _recurrence(self, p: Partial, lhs: str) -> None:
        w, values = self.w, self.chain.values
        t, v = p.order[-1], p.order[0]
        w.sentence(f"{w.math(lhs)}: {self._why(p)}: the adjoint recurrence {w.recurrence}, from "
                   f"{w.math(self.adj(t) + ' = 1')} down to {w.math(self.adj(v) + ' = ' + lhs)}:")
        seed = "1" if not np.ndim(values[t]) else "1 (each element: the gradient of the sum)"
        w.row(self.adj(t), seed, indent=2)
        for nid in reversed(p.order[:-1]):
            edges = p.consumers[nid]
            shown = edges[:MAX_TERMS]
            tail = w.more_terms(len(edges) - len(shown))
            symbolic = " + ".join(f"{self.adj(e.top)}{w.times}{self.d_edge(e)}" for e in shown) + tail
            total = w.number(p.adjoints[nid])
            if all(_scalar(e.value) and not np.ndim(values[e.top]) for e in edges):
                products = (f"{w.factor(p.adjoints[e.top], i == 0)}{w.times}{w.factor(e.value, False)}"
                            for i, e in enumerate(shown))
                numbers = " + ".join(products) + tail
                w.row(self.adj(nid), f"{symbolic} = {numbers} = {total}", indent=2)
            else:
                w.row(self.adj(nid), f"{symbolic} = {total}", indent=2)
        w.row(lhs, f"{self.adj(v)} = {w.number(p.adjoints[v])}", indent=2)


def _scalar(value: Any) -> bool:
    return not isinstance(value, LinearMap) and not np.ndim(value)
