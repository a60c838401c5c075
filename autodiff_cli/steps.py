"""The chain rule written out as the lecture does it, from a `grad` result.

Three parts: the forward pass (each node's value), the local derivatives (each edge's partial,
its formula and its value), and the chain rule (each requested partial as the product of local
derivatives along each path from the variable up to the target, summed over the paths). Where
the paths are too many (counted by dynamic programming, never enumerated) or too long, or the
path runs through array operations, the chain rule is shown as the reverse pass computes it:
the adjoint recurrence, node by node.

Steps through unnamed nodes whose local derivative is a constant (the 1 of a sum, the -1 of
a difference) are merged into one factor between named steps, so the perceptron's partial
reads dc/dw1 = dc/dp × dp/dz × dz/dw1, as in the lecture; the numbers are always the exact
products of the local partials the engine computed.

Plain text, or LaTeX for a handout (amsmath's align*). Nothing here prints, and nothing
recurses over the graph: every pass is a loop over nodes in (reverse) evaluation order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from .api import GradResult
from .engine import LinearMap
from .graph import Graph, Program, Ref
from .builder import Builder
from .ops import OPS, Linear, Sym
from .printing import to_text

__all__ = ["steps_text"]

MAX_FACTORS = 16  # a path with more local derivatives than this is shown as the adjoint recurrence
MAX_TERMS = 8  # terms written out in one line of the adjoint recurrence
PATH_CAP = 10**18  # path counts stop growing here (said as "more than 10^18")
SHORT = 24  # an unnamed node whose expression is longer is referred to by a step name, t<number>
MERGE_MAX = 8  # a merged node hands at most this many edges on to its consumer
EXPR_LIMIT = 80  # characters of an expression or formula (plain text; LaTeX gets more)

LINEAR_MAP = "(a linear map: vector-Jacobian product)"
RECURRENCE = "adjoint(v) = Σ over consumers u of adjoint(u) × du/dv"
RECURRENCE_LATEX = (r"$\overline{v} = \sum_{u} \overline{u}\,\frac{\partial u}{\partial v}$ "
                    r"over the consumers $u$ of $v$")


@dataclass
class _Edge:
    """∂top/∂bottom: one local partial, or a chain of them merged through unnamed nodes."""

    top: int
    bottom: int
    formula: Sym | None  # None: a linear map (an array operation's vector-Jacobian product)
    value: Any
    via: tuple[int, ...] = ()  # the unnamed nodes merged into this edge, top first
    position: int = 0  # the argument position of the edge out of `top`
    inner: int = 0  # the argument position of the last edge, into `bottom`
    index: int = 0  # 1, 2, ... among several edges from top to bottom; 0 when it is the only one


def steps_text(result: GradResult, digits: int = 5, latex: bool = False, max_paths: int = 20) -> str:
    """The chain rule step by step, as the lecture writes it: the forward pass, the local
    derivatives, and each requested partial (every target × every variable of `result`) as a
    sum over paths of products of local derivatives, with the numbers (`digits` significant
    digits). Where there would be more than `max_paths` paths, or a path longer than
    MAX_FACTORS steps, or array operations, the per-node adjoint recurrence of the reverse pass
    is written instead. `latex=True` gives LaTeX for a handout (align* environments, amsmath)."""
    return _Steps(result, digits, latex, max_paths).text()


class _Writer:
    """Headings, sentences and equation rows, as plain text or as LaTeX."""

    def __init__(self, latex: bool):
        self.latex = latex
        self.out: list[str] = []
        self.rows: list[str] = []
        if latex:
            self.out.append("% The chain rule step by step (adiff); needs \\usepackage{amsmath}; "
                            "long environments may need \\allowdisplaybreaks")

    def _flush(self) -> None:
        if self.rows:
            self.out += [r"\begin{align*}", " \\\\\n".join(self.rows), r"\end{align*}"]
            self.rows = []

    def heading(self, title: str) -> None:
        self._flush()
        if self.latex:
            self.out.append(rf"\paragraph{{{title}}}")
        else:
            self.out += ["", title] if self.out else [title]

    def sentence(self, text: str) -> None:
        self._flush()
        self.out.append(text if self.latex else "  " + text)

    def row(self, lhs: str, rhs: str, tag: str = "", note: str = "", indent: int = 1) -> None:
        if self.latex:
            extra = rf" \quad \text{{{note}}}" if note else ""
            label = rf" \tag*{{{tag}}}" if tag else ""
            self.rows.append(f"{lhs} &= {rhs}{extra}{label}")
        else:
            lead = "  " * indent + (f"{tag} " if tag else "")
            self.out.append(f"{lead}{lhs} = {rhs}" + (f"   {note}" if note else ""))

    def text(self) -> str:
        self._flush()
        return "\n".join(self.out) + "\n"


class _Steps:
    def __init__(self, result: GradResult, digits: int, latex: bool, max_paths: int):
        self.result = result
        self.prog: Program = result.program
        self.graph: Graph = self.prog.graph
        self.values = result.values
        self.local = result.local_values
        self.digits = digits
        self.latex = latex
        self.max_paths = max_paths
        self.w = _Writer(latex)
        self.ids = result.node_ids()
        self.number = {nid: k for k, nid in enumerate(self.ids, 1)}
        self.labels = self._step_names()
        self.builder = Builder(simplify=True)
        self._raw_formulas: dict[tuple[int, int], Sym | None] = {}
        self._refs: dict[int, str] = {}
        self._names: dict[int, str] = {}
        self._formula_texts: dict[int, str] = {}
        self.edges: dict[int, list[_Edge]] = {}
        self.merged: set[int] = set()
        self._condense()

    # --- names -------------------------------------------------------------------------------

    def _step_names(self) -> dict[int, str]:
        """The program's labels, plus t<number> for unnamed nodes whose expression is long
        (each such name is the node's number in the forward pass), so every node prints short."""
        taken = set(self.prog.names()) | set(self.prog.labels.values())
        prefix = "t"
        while any(n.startswith(prefix) and n[len(prefix):].isdigit() for n in taken):
            prefix = "_" + prefix
        labels = dict(self.prog.labels)
        for nid in self.ids:
            if nid in labels or self.graph[nid].op == "input":
                continue
            if to_text(self.graph, nid, labels, limit=SHORT).endswith("…"):
                labels[nid] = f"{prefix}{self.number[nid]}"
        return labels

    def name(self, nid: int) -> str:
        """The node as it stands alone: its name, or its (short) expression."""
        if nid not in self._names:
            if nid in self.labels:
                self._names[nid] = to_text(self.graph, nid, self.labels, top_label=True, latex=self.latex)
            else:
                self._names[nid] = to_text(self.graph, nid, self.labels, latex=self.latex)
        return self._names[nid]

    def ref(self, nid: int) -> str:
        """The node inside a derivative: its name, or its expression in parentheses."""
        if nid not in self._refs:
            text = self.name(nid)
            if nid not in self.labels:
                text = rf"\left({text}\right)" if self.latex else f"({text})"
            self._refs[nid] = text
        return self._refs[nid]

    def given(self, name: str) -> str:
        """A name the user asked for (a target or a variable), as text or LaTeX."""
        if not self.latex:
            return name
        g = Graph()
        return to_text(g, g.add("input", (), name), latex=True)

    def d(self, top: str, bottom: str, index: int = 0) -> str:
        if self.latex:
            mark = f"_{{[{index}]}}" if index else ""
            return rf"\frac{{\partial {top}}}{{\partial {bottom}}}{mark}"
        return f"d{top}/d{bottom}" + (f" [{index}]" if index else "")

    def d_edge(self, e: _Edge) -> str:
        return self.d(self.ref(e.top), self.ref(e.bottom), e.index)

    def adj(self, nid: int) -> str:
        return rf"\overline{{{self.name(nid)}}}" if self.latex else f"adjoint({self.name(nid)})"

    def math(self, text: str) -> str:
        """Inline math in a sentence."""
        return f"${text}$" if self.latex else text

    @property
    def times(self) -> str:
        return r" \times " if self.latex else " × "

    # --- numbers -----------------------------------------------------------------------------

    def num(self, value: Any) -> str:
        """A number with `digits` significant digits; an array as nested lists on one line."""
        arr = np.asarray(value)
        if arr.ndim == 0:
            v = float(arr)
            text = "0" if v == 0 else f"{v:.{self.digits}g}"
        else:
            digits = min(self.digits, 8)
            text = np.array2string(arr, separator=", ", threshold=12, edgeitems=2, max_line_width=10**6,
                                   formatter={"float_kind": lambda v: "0" if v == 0 else f"{v:.{digits}g}"})
            text = " ".join(text.split())
            if self.latex:
                text = _latex_number(text).replace("...", r"\dots")
                return rf"\text{{shape {arr.shape}: }} {text}" if arr.size > 12 else text
            return f"shape {arr.shape}: {text}" if arr.size > 12 else text
        return _latex_number(text) if self.latex else text

    def factor(self, value: Any, first: bool) -> str:
        """A number in a product or a sum: LaTeX puts a negative one after the first in parentheses."""
        text = self.num(value)
        if self.latex and not first and text.startswith("-"):
            return rf"\left({text}\right)"
        return text

    def adjoint_value(self, target: str, nid: int) -> Any:
        adj = self.result.adjoints[target][nid]
        shape = np.shape(self.values[nid])
        return adj if np.shape(adj) == shape else np.broadcast_to(adj, shape)[()]

    # --- formulas ----------------------------------------------------------------------------

    def raw_formula(self, nid: int, pos: int) -> Sym | None:
        """∂node/∂(argument at pos) as a formula in the program's names (None for a linear map)."""
        key = (nid, pos)
        if key not in self._raw_formulas:
            node = self.graph[nid]
            entry = OPS[node.op]
            formula: Sym | None = None
            if not isinstance(entry.partial(pos), Linear):
                b = self.builder
                rule = entry.partial(pos)
                if rule is None:
                    formula = b.const(0.0)
                else:
                    args: list[Sym] = []
                    for a in node.args:
                        if self.graph[a].op == "const":  # constants take part in simplification
                            value, label = self.graph[a].attr
                            args.append(b.const(value, label))
                        else:
                            args.append(b.leaf("ref", Ref(self.graph, a, self.labels)))
                    # the output appears as the operation applied to its arguments: exp(u), not f
                    y = Sym(b, b.graph.add(node.op, tuple(s.id for s in args)))
                    out = rule(*args, y)
                    formula = out if isinstance(out, Sym) else b.const(float(out))
            self._raw_formulas[key] = formula
        return self._raw_formulas[key]

    def _number(self, formula: Sym | None) -> float | None:
        """The formula's value when it is a plain number."""
        if formula is None:
            return None
        node = self.builder.graph[formula.id]
        if node.op == "const" and node.attr[1] is None and np.ndim(node.attr[0]) == 0:
            return float(node.attr[0])
        return None

    def _constant(self, formula: Sym | None) -> bool:
        return self._number(formula) is not None

    def _compose(self, outer: Sym, inner: Sym) -> Sym:
        """outer·inner, with factors of 1 and -1 folded here (not left to the simplifier)."""
        a, b = self._number(outer), self._number(inner)
        if a is not None and b is not None:
            return self.builder.const(a * b)
        if a == 1 or b == 1:
            return inner if a == 1 else outer
        if a == -1 or b == -1:
            return -(inner if a == -1 else outer)
        return outer * inner

    def formula_text(self, formula: Sym) -> str:
        if formula.id not in self._formula_texts:
            if self.latex:
                text = _close_latex(to_text(self.builder.graph, formula.id, limit=2 * EXPR_LIMIT, latex=True))
            else:
                text = to_text(self.builder.graph, formula.id, limit=EXPR_LIMIT)
            self._formula_texts[formula.id] = text
        return self._formula_texts[formula.id]

    def expression(self, nid: int) -> str:
        if self.latex:
            return _close_latex(to_text(self.graph, nid, self.labels, limit=2 * EXPR_LIMIT, latex=True))
        return to_text(self.graph, nid, self.labels, limit=EXPR_LIMIT)

    # --- the graph between named steps ---------------------------------------------------------

    def _condense(self) -> None:
        """Each node's edges to its arguments, with unnamed nodes merged into their one consumer
        where the step through them is a constant factor (forward order: an argument is merged
        before its consumer's edges are built)."""
        graph = self.graph
        consumers: dict[int, list[tuple[int, int]]] = {}
        for nid, pos in self.local:
            consumers.setdefault(graph[nid].args[pos], []).append((nid, pos))
        keep = {self.prog.bindings.get(n, self.prog.inputs.get(n)) for n in self.result.targets}
        keep |= {self.prog.bindings.get(n, self.prog.inputs.get(n)) for n in self.result.wrt}
        for nid in self.ids:
            node = graph[nid]
            edges: list[_Edge] = []
            for pos, arg in enumerate(node.args):
                if (nid, pos) not in self.local:
                    continue
                formula = self.raw_formula(nid, pos)
                value = self.local[(nid, pos)]
                if arg in self.merged:
                    for e in self.edges.pop(arg):
                        assert formula is not None and e.formula is not None
                        edges.append(_Edge(nid, e.bottom, self._compose(formula, e.formula), value * e.value,
                                           (arg, *e.via), pos, e.inner))
                else:
                    edges.append(_Edge(nid, arg, formula, value, (), pos, pos))
            self.edges[nid] = edges
            unnamed = nid not in keep and nid not in self.prog.labels
            if unnamed and self._mergeable(nid, consumers.get(nid, [])):
                self.merged.add(nid)
        for edges in self.edges.values():
            seen: dict[int, int] = {}
            for e in edges:
                seen[e.bottom] = seen.get(e.bottom, 0) + 1
            counter: dict[int, int] = {}
            for e in edges:
                if seen[e.bottom] > 1:
                    counter[e.bottom] = counter.get(e.bottom, 0) + 1
                    e.index = counter[e.bottom]

    def _mergeable(self, nid: int, uses: list[tuple[int, int]]) -> bool:
        if len(uses) != 1 or self.graph[nid].op == "input":
            return False
        own = self.edges[nid]
        (top, pos), = uses
        scalar = [self.values[nid], self.values[top], self.local[(top, pos)]]
        scalar += [e.value for e in own] + [self.values[e.bottom] for e in own]
        if len(own) > MERGE_MAX or any(isinstance(v, LinearMap) or np.ndim(v) for v in scalar):
            return False
        if any(e.formula is None for e in own) or self.raw_formula(top, pos) is None:
            return False
        return self._constant(self.raw_formula(top, pos)) or all(self._constant(e.formula) for e in own)

    # --- the three parts ----------------------------------------------------------------------

    def text(self) -> str:
        self.forward_pass()
        self.local_derivatives()
        self.chain_rule()
        return self.w.text()

    def forward_pass(self) -> None:
        w = self.w
        w.heading("Forward pass")
        for nid in self.ids:
            number = self.number[nid]
            tag = f"({number})" if self.latex else f"{number}."
            value = self.num(self.values[nid])
            if self.graph[nid].op == "input":
                w.row(self.name(nid), value, tag)
            elif nid in self.labels:
                w.row(self.name(nid), f"{self.expression(nid)} = {value}", tag)
            else:
                w.row(self.name(nid), value, tag)

    def local_derivatives(self) -> None:
        w = self.w
        w.heading("Local derivatives")
        count = 0
        for nid in self.ids:
            if nid in self.merged:
                continue
            for e in self.edges.get(nid, []):
                count += 1
                if e.formula is None:
                    rhs = rf"\text{{{LINEAR_MAP}}}" if self.latex else LINEAR_MAP
                else:
                    formula, value = self.formula_text(e.formula), self.num(e.value)
                    rhs = formula if formula == value else f"{formula} = {value}"
                w.row(self.d_edge(e), rhs, note=self._route(e, self.edges[nid]) if e.index else "")
        if not count:
            w.sentence("None: every target is an input.")
        elif self.merged:
            w.sentence("Steps through unnamed nodes whose local derivative is a constant (the 1 of a sum, "
                       "the -1 of a difference) are merged into one factor between named steps.")

    def _route(self, e: _Edge, siblings: list[_Edge]) -> str:
        """Which of several edges from top to bottom this one is: the nodes it runs through,
        and the argument it enters the last one as where that is still ambiguous."""
        last = e.via[-1] if e.via else e.top
        argument = f"argument {e.inner + 1} of {self.math(self.name(last))}"
        if not e.via:
            return f"({argument})"
        through = "through " + ", ".join(self.math(self.name(m)) for m in e.via)
        same = [s for s in siblings if s.bottom == e.bottom and s.via == e.via]
        return f"({through}, {argument})" if len(same) > 1 else f"({through})"

    def chain_rule(self) -> None:
        self.w.heading("Chain rule")
        self.w.sentence("Each partial is the sum over the paths from the variable up to the target of the "
                        "product of the local derivatives along the path.")
        kept = sorted(n for n in self.ids if n not in self.merged)
        for t_name in self.result.targets:
            for w_name in self.result.wrt:
                self._pair(t_name, w_name, kept)

    def _node(self, name: str) -> int:
        return self.prog.bindings.get(name, self.prog.inputs.get(name))  # type: ignore[return-value]

    def _pair(self, t_name: str, w_name: str, kept: list[int]) -> None:
        w = self.w
        t, v = self._node(t_name), self._node(w_name)
        lhs = self.d(self.given(t_name), self.given(w_name))
        if t == v:
            w.row(lhs, "1")
            return
        if v not in self.result.adjoints[t_name]:
            w.row(lhs, "0", note="(not connected)")
            return
        ancestors = self.result.adjoints[t_name]
        on = {v}  # nodes on a path from the variable up to the target
        for nid in kept:
            if v < nid <= t and nid in ancestors and any(e.bottom in on for e in self.edges.get(nid, [])):
                on.add(nid)
        order = sorted(on)
        count: dict[int, int] = {v: 1}
        longest: dict[int, int] = {v: 0}
        arrays = False
        for nid in order[1:]:
            below = [e for e in self.edges[nid] if e.bottom in on]
            count[nid] = min(PATH_CAP, sum(count[e.bottom] for e in below))
            longest[nid] = 1 + max(longest[e.bottom] for e in below)
            arrays = arrays or any(isinstance(e.value, LinearMap) or np.ndim(e.value) for e in below)
        arrays = arrays or any(np.ndim(self.values[n]) for n in order)
        t_ref, v_ref = self.math(self.given(t_name)), self.math(self.given(w_name))
        if arrays:
            reason = (f"the path from {v_ref} to {t_ref} runs through arrays, whose local derivatives are "
                      "arrays or linear maps (vector-Jacobian products), so the chain rule runs node by node "
                      "as the reverse pass does")
            self._recurrence(t_name, w_name, order, on, lhs, reason)
        elif count[t] > self.max_paths:
            many = f"{count[t]:,}"
            if count[t] >= PATH_CAP:
                many = r"more than $10^{18}$" if self.latex else "more than 10^18"
            limit = r"max\_paths" if self.latex else "max_paths"
            paths = "path leads" if count[t] == 1 else "paths lead"
            reason = (f"{many} {paths} from {v_ref} to {t_ref}, more than {limit} = {self.max_paths}, "
                      "too many to list; instead, the reverse pass accumulates the sum node by node")
            self._recurrence(t_name, w_name, order, on, lhs, reason)
        elif longest[t] > MAX_FACTORS:
            reason = (f"the paths from {v_ref} to {t_ref} have up to {longest[t]:,} steps, too many for one "
                      "product; instead, the reverse pass multiplies them node by node")
            self._recurrence(t_name, w_name, order, on, lhs, reason)
        else:
            self._paths(t, v, on, lhs, t_ref, v_ref)

    def _paths(self, t: int, v: int, on: set[int], lhs: str, t_ref: str, v_ref: str) -> None:
        w = self.w
        paths: list[tuple[_Edge, ...]] = []
        stack: list[tuple[int, tuple[_Edge, ...]]] = [(t, ())]
        while stack:
            nid, acc = stack.pop()
            if nid == v:
                paths.append(acc)
                continue
            for e in reversed(self.edges[nid]):
                if e.bottom in on:
                    stack.append((e.bottom, (*acc, e)))
        products = []
        for path in paths:
            product = path[0].value
            for e in path[1:]:
                product = product * e.value
            products.append(product)
        if len(paths) == 1:
            (path,) = paths
            if len(path) == 1 and not path[0].index:
                w.row(lhs, self.num(products[0]))
            else:
                w.row(lhs, self._product(path, products[0]))
            return
        branches = self._branches(on, v)
        feeds = ", ".join(self.math(self.name(n)) for n in branches[:3])
        feeds += ", ..." if len(branches) > 3 else ""
        verb = "is" if len(branches) == 1 else "are"
        w.sentence(f"{self.math(lhs)}: {feeds} {verb} used more than once, so "
                   f"{len(paths)} paths lead from {v_ref} to {t_ref}; the chain rule sums them:")
        for k, path in enumerate(paths, 1):
            factors = self.times.join(self.d_edge(e) for e in path)
            numbers = self.times.join(self.factor(e.value, i == 0) for i, e in enumerate(path))
            rhs = f"{numbers} = {self.num(products[k - 1])}" if len(path) > 1 else self.num(products[k - 1])
            w.row(factors, rhs, tag=f"path {k}" if self.latex else f"path {k}:", indent=2)
        total = products[0]
        for p in products[1:]:
            total = total + p
        terms = " + ".join(self.factor(p, i == 0) if self.latex else self._signed(p, i == 0)
                           for i, p in enumerate(products))
        w.row(lhs, f"{terms} = {self.num(total)}", indent=2)

    def _signed(self, value: Any, first: bool) -> str:
        text = self.num(value)
        return f"({text})" if not first and text.startswith("-") else text

    def _product(self, path: tuple[_Edge, ...], product: Any) -> str:
        factors = self.times.join(self.d_edge(e) for e in path)
        numbers = self.times.join(self.factor(e.value, i == 0) for i, e in enumerate(path))
        return f"{factors} = {numbers} = {self.num(product)}"

    def _branches(self, on: set[int], v: int) -> list[int]:
        """The nodes on the paths that feed more than one step on them (where paths split)."""
        uses: dict[int, int] = {}
        for nid in on:
            if nid == v:
                continue
            for e in self.edges[nid]:
                if e.bottom in on:
                    uses[e.bottom] = uses.get(e.bottom, 0) + 1
        return sorted(n for n, k in uses.items() if k > 1)

    def _recurrence(self, t_name: str, w_name: str, order: list[int], on: set[int], lhs: str,
                    reason: str) -> None:
        w = self.w
        t, v = order[-1], order[0]
        rule = RECURRENCE_LATEX if self.latex else RECURRENCE
        w.sentence(f"{self.math(lhs)}: {reason}: the adjoint recurrence {rule}, from "
                   f"{self.math(self.adj(t) + ' = 1')} down to {self.math(self.adj(v) + ' = ' + lhs)}:")
        users: dict[int, list[_Edge]] = {n: [] for n in order}
        for nid in reversed(order):
            if nid == v:
                continue
            for e in self.edges[nid]:
                if e.bottom in on:
                    users[e.bottom].append(e)
        seed = "1" if not np.ndim(self.values[t]) else "1 (each element: the gradient of the sum)"
        w.row(self.adj(t), seed, indent=2)
        for nid in reversed(order[:-1]):
            edges = users[nid]
            shown = edges[:MAX_TERMS]
            more = len(edges) - len(shown)
            tail = f" + … ({more:,} more terms)" if more and not self.latex else (r" + \dots" if more else "")
            symbolic = " + ".join(f"{self.adj(e.top)}{self.times}{self.d_edge(e)}" for e in shown) + tail
            total = self.num(self.adjoint_value(t_name, nid))
            scalar = all(not isinstance(e.value, LinearMap) and not np.ndim(e.value)
                         and not np.ndim(self.values[e.top]) for e in edges)
            if scalar:
                numbers = " + ".join(
                    f"{self.factor(self.adjoint_value(t_name, e.top), i == 0)}{self.times}"
                    f"{self.factor(e.value, False)}" for i, e in enumerate(shown)) + tail
                rhs = f"{symbolic} = {numbers} = {total}"
            else:
                rhs = f"{symbolic} = {total}"
            w.row(self.adj(nid), rhs, indent=2)
        w.row(lhs, f"{self.adj(v)} = {self.num(self.adjoint_value(t_name, v))}", indent=2)


_EXPONENT = re.compile(r"(\d)e([+-])0*(\d+)")


def _latex_number(text: str) -> str:
    """1.5e-05 → 1.5 \\times 10^{-5}; nan and inf as LaTeX."""
    text = _EXPONENT.sub(lambda m: rf"{m.group(1)} \times 10^{{{'-' if m.group(2) == '-' else ''}"
                         rf"{m.group(3)}}}", text)
    return text.replace("nan", r"\mathrm{nan}").replace("inf", r"\infty")


def _close_latex(text: str) -> str:
    """A LaTeX expression that `to_text` cut after its limit (it then ends with …), closed so it
    still compiles: a command cut in the middle is dropped, then \\dots, then the braces and
    \\left delimiters still open are closed in order."""
    if not text.endswith("…"):
        return text
    body = re.sub(r"\\[A-Za-z]*$", "", text[:-1])
    closers: list[str] = []
    i = 0
    while i < len(body):
        if body.startswith(r"\left", i) and not body[i + 5:i + 6].isalpha():
            closers.append(r"\right.")
            i += 6 + (body[i + 5:i + 6] == "\\")  # the delimiter, which may itself be escaped
            continue
        if body.startswith(r"\right", i) and not body[i + 6:i + 7].isalpha():
            if closers and closers[-1] == r"\right.":
                closers.pop()
            i += 7 + (body[i + 6:i + 7] == "\\")
            continue
        ch = body[i]
        if ch == "\\":
            i += 2 if i + 1 < len(body) and not body[i + 1].isalpha() else 1
            continue
        if ch == "{":
            closers.append("}")
        elif ch == "}" and closers and closers[-1] == "}":
            closers.pop()
        i += 1
    return body + r" \dots " + "".join(reversed(closers))
