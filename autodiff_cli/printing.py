"""Printing graphs as text our own parser reads back, or as LaTeX: one precedence table, one
parenthesize rule (a child gets parentheses when it binds more loosely than its parent).

The printer keeps an explicit stack, so a 100,000-deep expression prints without recursion,
and it can stop after `limit` characters (a long expression then ends with "…"). A DAG whose
shared subexpressions would repeat is printed as a program: `t1 = ...; t2 = ...; expr`.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from . import algebra
from .algebra import Store
from .graph import Graph
from .ops import ATOM, COMPARE, OPS, POWER, PREFIX, PRODUCT, SUM

LEAVES = ("const", "input", "sym", "ref")


def format_number(value: float) -> str:
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "-0" if str(float(value)).startswith("-") else "0"
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(float(value))


def array_literal(value: Any) -> str:
    """An array as the literal that reads back to it: [[1, 2], [3, 4]]."""
    rows = value.tolist()
    out: list[str] = []
    stack: list[Any] = [rows]
    while stack:  # nested lists, without recursion
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, list):
            parts: list[Any] = ["["]
            for i, x in enumerate(item):
                parts += [", "] if i else []
                parts.append(x)
            parts.append("]")
            stack.extend(reversed(parts))
        else:
            out.append(format_number(item))
    return "".join(out)


def _precedence(graph: Graph, node_id: int, labels: dict[int, str] | None) -> int:
    node = graph.nodes[node_id]
    if labels and node_id in labels:
        return ATOM
    if node.op == "const":
        value, label = node.attr
        return PREFIX if (label is None and not hasattr(value, "shape") and value < 0) else ATOM
    if node.op == "ref":
        ref = node.attr
        return ref.prec if ref.prec is not None else _precedence(ref.graph, ref.node, ref.labels)
    entry = OPS.get(node.op)
    if entry is None or entry.infix is None:
        return ATOM
    return entry.prec


def to_text(graph: Graph, node_id: int, labels: dict[int, str] | None = None,
            limit: int | None = None, top_label: bool = False, strict: bool = True,
            latex: bool = False) -> str:
    """The expression of a node. Named nodes print as their names (`labels`), except the node
    itself unless `top_label`; `ref` leaves print the node they refer to in another graph.
    `strict` keeps a·(b·c) apart from a·b·c, so the text reads back as the same graph;
    otherwise sums and products print flat (the same function)."""
    out: list[str] = []
    size = 0
    layout = _layout_latex if latex else _layout
    stack: list[Any] = [(graph, node_id, labels, not top_label)]
    while stack:
        item = stack.pop()
        if not isinstance(item, str):
            if limit is not None and len(stack) > 3 * limit:
                item = "…"  # deeper than `limit` characters could show: x + x + … is cut, not walked
            else:
                g, nid, labs, expand = item
                node = g.nodes[nid]
                if labs and nid in labs and not expand:
                    item = _latex_name(labs[nid]) if latex else labs[nid]
                elif node.op == "const":
                    value, label = node.attr
                    if label:
                        item = _latex_name(label) if latex else label
                    else:
                        item = array_literal(value) if hasattr(value, "shape") else format_number(value)
                elif node.op in ("input", "sym"):
                    item = _latex_name(node.attr) if latex else node.attr
                elif node.op == "ref" and node.attr.text is not None:
                    item = node.attr.text
                elif node.op == "ref":
                    stack.append((node.attr.graph, node.attr.node, node.attr.labels, False))
                    continue
                else:  # an operation: its parts, left to right
                    stack.extend(reversed(layout(g, nid, labs, strict)))
                    continue
        out.append(item)
        size += len(item)
        if limit is not None and size > limit:
            return "".join(out)[:limit] + "…"
    return "".join(out)


def _child_parens(g: Graph, nid: int, labs: dict[int, str] | None, strict: bool) -> tuple[bool, bool]:
    node = g.nodes[nid]
    prec = OPS[node.op].prec
    left = _precedence(g, node.args[0], labs)
    right = _precedence(g, node.args[1], labs)
    if prec == POWER:  # right-associative
        return left <= prec, right < prec
    if prec == COMPARE:  # comparisons do not chain: (x < y) < z keeps its parentheses
        return left <= prec, right <= prec
    # left-associative: a - (b - c) and a·(b·c) keep their shape when read back
    right_paren = right <= prec or (prec >= PRODUCT and g.nodes[node.args[1]].op == "neg")
    if not strict and node.op in ("add", "mul") and right == prec and not (labs and node.args[1] in labs):
        right_child = g.nodes[node.args[1]].op
        right_paren = not (node.op == "add" and right_child in ("add", "sub")
                           or node.op == "mul" and right_child == "mul")
    return left < prec, right_paren


def _layout(g: Graph, nid: int, labs: dict[int, str] | None, strict: bool) -> list[Any]:
    """One level of a node: literal strings and child items, left to right."""
    node = g.nodes[nid]
    entry = OPS[node.op]
    child = [(g, a, labs, False) for a in node.args]
    if node.op == "index":  # A[1, :]
        return [*_paren(child[0], _precedence(g, node.args[0], labs) < ATOM), "[",
                ", ".join(_subscript(k) for k in dict(node.attr)["index"]), "]"]
    if entry.infix is None:
        parts: list[Any] = [f"{entry.shown_name}("]
        for i, c in enumerate(child):
            if i:
                parts.append(", ")
            parts.append(c)
        for text in _parameters(entry, node.attr):
            parts.append(", " if parts[-1] != parts[0] else "")
            parts.append(text)
        parts.append(")")
        return parts
    if len(node.args) == 1:  # prefix minus; -(a·b) prints as -a·b unless strict (same function)
        inner = _precedence(g, node.args[0], labs)
        needed = inner < entry.prec or inner == PREFIX
        if not strict and inner == PRODUCT and g[node.args[0]].op == "mul" \
                and not _sum_first(g, node.args[0]):
            needed = False
        return [entry.infix, *_paren(child[0], needed)]
    left_paren, right_paren = _child_parens(g, nid, labs, strict)
    sym = f" {entry.infix} " if entry.prec <= SUM else entry.infix
    return [*_paren(child[0], left_paren), sym, *_paren(child[1], right_paren)]


def _sum_first(g: Graph, nid: int) -> bool:
    """A product whose first factor is a sum: -((a + b)·c) keeps its parentheses, as -(a + b)·c
    would read back as the sum negated."""
    while g[nid].op in ("mul", "div"):
        nid = g[nid].args[0]
    return g[nid].op in ("add", "sub")


def _subscript(key: Any) -> str:
    if isinstance(key, tuple):  # ("slice", start, stop, step)
        start, stop, step = ("" if v is None else str(v) for v in key[1:])
        return f"{start}:{stop}" + (f":{step}" if step else "")
    return str(key)


def _parameters(entry: Any, attr: Any) -> list[str]:
    """An operation's parameters as they are written in a call: axis=0, stride=2, 2, 3."""
    if not attr or entry.name in ("vjp_of",) or entry.derivative:  # grad/hessian keep their place there
        return []
    defaults = {name.lstrip("*"): default for name, default in entry.params}
    out = []
    for name, value in attr:
        if name not in defaults or value == defaults[name]:
            continue
        if any(n == "*" + name for n, _ in entry.params):
            out += [format_number(v) for v in value]
        elif isinstance(value, str):
            out.append(f'{name}="{value}"')
        else:
            shown = format_number(value) if isinstance(value, (int, float)) else str(value)
            out.append(f"{name}={shown}")
    return out


def _paren(item: Any, needed: bool, open_: str = "(", close: str = ")") -> list[Any]:
    return [open_, item, close] if needed else [item]


def _latex_name(name: str) -> str:
    if name in ("pi", "π"):
        return r"\pi"
    if len(name) == 1:
        return name
    head = name.rstrip("0123456789")
    if head and len(head) == 1 and head != name:
        return f"{head}_{{{name[1:]}}}"
    return rf"\mathrm{{{name}}}"


def _layout_latex(g: Graph, nid: int, labs: dict[int, str] | None, strict: bool) -> list[Any]:
    """One level of a node in LaTeX, from the entry's `latex` form: a template of strings and
    argument positions, a command for a call, or the symbol of an infix operation."""
    node = g[nid]
    entry = OPS[node.op]
    child = [(g, a, labs, False) for a in node.args]
    form = entry.latex
    if isinstance(form, tuple):
        parts: list[Any] = []
        for item in form:
            if isinstance(item, str):
                parts.append(item)
            elif isinstance(item, tuple):  # (argument, precedence): parenthesized when it binds no tighter
                i, prec = item
                parts += _paren(child[i], _precedence(g, node.args[i], labs) <= prec, r"\left(", r"\right)")
            else:
                parts.append(child[item])
        return parts
    if entry.infix is None:
        head = form or rf"\operatorname{{{entry.shown_name}}}"
        parts = [head + r"\left("]
        for i, c in enumerate(child):
            if i:
                parts.append(", ")
            parts.append(c)
        parts.append(r"\right)")
        return parts
    if len(node.args) == 1:
        inner = _precedence(g, node.args[0], labs)
        needed = (inner < entry.prec or inner == PREFIX) and not (
            not strict and inner == PRODUCT and g[node.args[0]].op == "mul"
            and not _sum_first(g, node.args[0]))
        return ["-", *_paren(child[0], needed, r"\left(", r"\right)")]
    left_paren, right_paren = _child_parens(g, nid, labs, strict)
    sym = form or (f" {entry.infix} " if entry.prec <= SUM else entry.infix)
    return [*_paren(child[0], left_paren, r"\left(", r"\right)"), sym,
            *_paren(child[1], right_paren, r"\left(", r"\right)")]


class ShortTexts:
    """Every node's expression cut to `limit` characters, built bottom up from the children's
    (already cut) texts: linear in the graph, where printing each node alone would be quadratic."""

    def __init__(self, graph: Graph, labels: dict[int, str], upto: int, limit: int | None = 80):
        self.graph, self.labels, self.limit = graph, labels, limit
        self.full: list[str] = []
        for nid in range(upto + 1):
            self.full.append(self._build(nid))

    def ref(self, nid: int) -> str:
        """How the node appears inside others: its name, or its (cut) expression."""
        return self.labels.get(nid) or self.full[nid]

    def _build(self, nid: int) -> str:
        node = self.graph[nid]
        if node.op in LEAVES:
            text = to_text(self.graph, nid, None)
        else:
            parts = []
            for item in _layout(self.graph, nid, self.labels, True):
                parts.append(item if isinstance(item, str) else self.ref(item[1]))
            text = "".join(parts)
        if self.limit is None or len(text) <= self.limit:
            return text
        head = self.limit * 2 // 3  # the start says what it is; the end, which one
        start, end = text[:head], text[len(text) - (self.limit - head):]
        start = start.rsplit(" ", 1)[0] if " " in start[head // 2:] else start  # cut between words
        end = end.split(" ", 1)[1] if " " in end[:len(end) // 2] else end
        return f"{start.rstrip()} … {end.lstrip()}"


def shared_names(graph: Graph, root: int, labels: dict[int, str] | None = None, threshold: int = 8,
                 taken: set[str] | frozenset[str] = frozenset()) -> dict[int, str]:
    """Names t1, t2, ... for the subexpressions that would print more than once and are longer
    than `threshold` nodes, so a DAG prints in size linear in the graph (common-subexpression
    elimination), or that would print three times or more where naming them is shorter.
    Nodes already in `labels` print as their labels and are not renamed."""
    labels = labels or {}
    reached = [False] * (root + 1)
    reached[root] = True
    parents = [0] * (root + 1)
    copies = [0] * (root + 1)  # how often a node would print with nothing named (capped)
    copies[root] = 1
    for nid in range(root, -1, -1):
        if (reached[nid] and nid not in labels) or nid == root:
            for a in graph.nodes[nid].args:
                reached[a] = True
                parents[a] += 1
                copies[a] = min(copies[a] + copies[nid], 1 << 20)
    size = [1] * (root + 1)
    names: dict[int, str] = {}
    prefix = "t"
    while any(n.startswith(prefix) and n[len(prefix):].isdigit() for n in taken):
        prefix = "_" + prefix
    for nid in range(root + 1):
        if not reached[nid] or nid in labels or graph.nodes[nid].op in LEAVES:
            continue
        total = 1
        for a in graph.nodes[nid].args:
            total += 1 if (a in names or a in labels) else size[a]
        size[nid] = total
        # named when long, or when naming it shortens the output: sin(x^2 + y^2) printed four times
        shorter = copies[nid] >= 3 and size[nid] >= 5 and (copies[nid] - 1) * size[nid] > size[nid] + 4
        if parents[nid] >= 2 and (size[nid] > threshold or shorter) and nid != root:
            names[nid] = f"{prefix}{len(names) + 1}"
    return names


def to_program(graph: Graph, root: int, labels: dict[int, str] | None = None, threshold: int = 8,
               taken: set[str] | frozenset[str] = frozenset(), latex: bool = False,
               limit: int | None = None) -> list[tuple[str, str]]:
    """The expression as statements: [(t1, text), ..., ("", root text)], shared parts named.
    With `limit`, printing stops after about that many characters (the last text ends in …)."""
    names = shared_names(graph, root, labels, threshold, taken)
    all_labels = {**(labels or {}), **names}
    out = []
    used = 0
    for nid, name in [*sorted(names.items()), (root, "")]:
        left = None if limit is None else max(limit - used, 1)
        text = to_text(graph, nid, all_labels, limit=left, strict=False, latex=latex)
        out.append((name, text))
        used += len(text) + len(name) + 3
        if limit is not None and used > limit and nid != root:
            out.append(("", "…"))
            break
    return out


# --- laying a canonical expression out for printing -------------------------------------------

def present(store: Store, root: int) -> tuple[Graph, int, list[int]]:
    """A canonical expression (algebra.Store) as a graph of ordinary operations, laid out as a
    person writes it: negative powers as a quotient (a/(b·c), never ·(1/…)), x^(1/2) as
    sqrt(x), a negative coefficient as subtraction, positive terms first and the constant last,
    an exact rational as p/q (pi/180·cos(pi·x/180)). Built in the store's order, children first
    (no recursion). Returns the graph, the root's node and the nodes of the conditions assumed
    (a > 0 where exp(log(a)) = a was used)."""
    g = Graph()
    pres: dict[int, int] = {}
    for i in store.reached(root):
        kind, data = store.nodes[i]
        if kind == algebra.NUM:
            pres[i] = _number(g, data)
        elif kind == algebra.ATOM:
            pres[i] = g.add(data[0], (), data[1])
        elif kind == algebra.FN:
            pres[i] = g.add(data[0], tuple(pres[a] for a in data[1]), data[2])
        elif kind == algebra.MUL:
            pres[i] = _product(g, store, pres, data[0], data[1])
        else:
            pres[i] = _sum(g, store, pres, data[0], data[1])
    reached = set(pres)
    conditions = [g.add("gt", (pres[c], _number(g, Fraction(0)))) for c in store.conditions if c in reached]
    return g, pres[root], conditions


def _const(g: Graph, value: float) -> int:
    return g.add("const", (), (float(value), None))


def _number(g: Graph, v: Any) -> int:
    """A number as it reads back exactly: 3, -2, 0.1, 1/3 (a quotient of whole numbers)."""
    if not isinstance(v, Fraction):
        return _const(g, v)
    p, q = v.numerator, v.denominator
    if q == 1:
        return _const(g, p)
    if _is_decimal(v):  # 1/10 → 0.1, as it was written
        return _const(g, float(v))
    return g.add("div", (_const(g, p), _const(g, q)))


def _is_decimal(v: Fraction) -> bool:
    """A rational that is a short decimal (its denominator a power of ten): 1/10, 3/100."""
    q = v.denominator
    return q > 1 and q == 10 ** (len(str(q)) - 1) and Fraction(repr(float(v))) == v


def _chain(g: Graph, nodes: list[int]) -> int:
    out = nodes[0]
    for n in nodes[1:]:
        out = g.add("mul", (out, n))
    return out


def _power(g: Graph, store: Store, pres: dict[int, int], base: int, exponent: int, value: Any) -> int:
    if value == 1:
        return pres[base]
    if value == Fraction(1, 2):
        return g.add("sqrt", (pres[base],))
    return g.add("pow", (pres[base], pres[exponent] if value is None else _number(g, value)))


def _product(g: Graph, store: Store, pres: dict[int, int], coeff: Any, factors: tuple) -> int:
    """coeff·∏ base^exponent as numerator/denominator, the sign on the first numerator factor."""
    if type(coeff) is int and coeff != -1 and len(factors) == 1 and factors[0][1] == store.one:
        node = pres[factors[0][0]]  # the common case, k·a (as below, without the lists)
        return node if coeff == 1 else g.add("mul", (_const(g, coeff), node))
    top: list[int] = []
    bottom: list[int] = []
    constants: list[int] = []
    plain = True  # only names and their powers: pi·x/180 rather than pi/180·x
    for base, exponent in factors:
        value = store.value(exponent)
        if value is not None and value < 0:
            bottom.append(_power(g, store, pres, base, exponent, -value))
            continue
        node = _power(g, store, pres, base, exponent, value)
        kind, data = store.nodes[base]
        if kind == algebra.ATOM and data[0] == "const" and store.keys[base][0] == 1 and value == 1:
            constants.append(node)
        else:
            top.append(node)
            plain = plain and kind == algebra.ATOM
    negative = coeff < 0
    p, q = (abs(coeff).numerator, abs(coeff).denominator) if isinstance(coeff, Fraction) else (abs(coeff), 1)
    if q > 1 and _is_decimal(abs(coeff)):  # 0.1·x as it was written, not x/10
        p, q = float(abs(coeff)), 1
    if q != 1 and constants and top and not bottom and not plain:  # pi/180·cos(pi·x/180)
        lead = g.add("div", (_chain(g, ([_const(g, -p if negative else p)] if p != 1 or negative else [])
                                    + constants), _const(g, q)))
        return _chain(g, [lead, *top])
    numerator = constants + top
    whole = False  # -(a sum)·… would read back as the sum negated: the minus goes before it all
    if p != 1 or not numerator:
        numerator.insert(0, _const(g, -p if negative else p))
    elif negative and g[numerator[0]].op in ("add", "sub"):
        whole = True
    elif negative:
        numerator[0] = g.add("neg", (numerator[0],))
    out = _chain(g, numerator)
    if q != 1:
        bottom.insert(0, _const(g, q))
    out = g.add("div", (out, _chain(g, bottom))) if bottom else out
    return g.add("neg", (out,)) if whole else out


def _factors(store: Store, term: int, one: int) -> tuple:
    kind, data = store.nodes[term]
    return data[1] if kind == algebra.MUL else ((term, one),)


def _degrees(store: Store, term: int) -> tuple:
    """A polynomial's order for a term: higher total degree first, then by the powers of the
    names in alphabetical order (x^3·y before x·y^3); terms without names keep their order."""
    powers: dict[str, Any] = {}
    for base, exponent in _factors(store, term, -1):
        kind, data = store.nodes[base]
        value = store.value(exponent) if exponent >= 0 else 1
        if kind == algebra.ATOM and data[0] != "const" and value is not None and value > 0:
            powers[store.keys[base][1]] = value
    return (-sum(powers.values()), tuple(sorted(((name, -v) for name, v in powers.items()))))


def _sum(g: Graph, store: Store, pres: dict[int, int], const: Any, terms: tuple) -> int:
    """Positive terms first, then the negative ones as subtractions, the constant last."""
    one = store.num(1)
    terms = sorted(terms, key=lambda t: _degrees(store, t[0]))  # 3·x^2 + 4·x + 1
    ordered = [t for t in terms if t[1] > 0] + [t for t in terms if not t[1] > 0]
    parts = []
    for n, (term, c) in enumerate(ordered):
        kind, data = store.nodes[term]
        factors = data[1] if kind == algebra.MUL else ((term, one),)
        first_negative = n == 0 and c < 0  # -2·x + ...: the sign on the first factor
        parts.append((c < 0 and n > 0, _product(g, store, pres, c if first_negative else abs(c), factors)))
    if const > 0 and ordered[0][1] < 0:  # 1 - tanh(x)^2: the constant first, not a leading minus
        parts = [(False, _number(g, const))] + [(True, _product(g, store, pres, abs(c), f)) for c, f in
                                                [(c, _factors(store, t, one)) for t, c in ordered]]
    elif const != 0:
        parts.append((const < 0, _number(g, abs(const))))
    out = parts[0][1]
    for negative, node in parts[1:]:
        out = g.add("sub" if negative else "add", (out, node))
    return out
