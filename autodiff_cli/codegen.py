"""A derivative formula as code to paste into a program: Python (math), numpy, C99 (math.h)
or SymPy-readable text. The same laid-out graph that `to_text` prints, spelled in another
language; shared subexpressions become assignments (t1 = ...) before the result. Printed with
an explicit stack, as the text printer is, so a 100,000-deep formula needs no recursion.
"""

from __future__ import annotations

from typing import Any

from .errors import UsageError
from .graph import Graph
from .ops import ATOM, COMPARE, OPS, POWER, PREFIX, PRODUCT, SUM
from .printing import format_number, shared_names

FORMATS = ("python", "numpy", "c", "sympy")

# Functions by format: a name (called with the arguments) or a template with {0}, {1}, {2}.
_SAME = ["sin", "cos", "tan", "sinh", "cosh", "tanh", "exp", "log", "log2", "log10", "sqrt", "cbrt",
         "floor", "ceil", "atan2", "hypot"]
_ARC = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh", "acosh": "arccosh",
        "atanh": "arctanh"}
FUNCTIONS: dict[str, dict[str, str]] = {
    "python": {**{n: f"math.{n}" for n in [*_SAME, *_ARC]}, "abs": "abs", "round": "round",
               "max": "max", "min": "min", "sign": "(({0} > 0) - ({0} < 0))",
               "where": "({1} if {0} else {2})", "relu": "max({0}, 0.0)",
               "sigmoid": "(1 / (1 + math.exp(-({0}))))", "softplus": "math.log1p(math.exp({0}))"},
    "numpy": {**{n: f"np.{n}" for n in _SAME}, **{n: f"np.{a}" for n, a in _ARC.items()},
              "abs": "np.abs", "round": "np.round", "sign": "np.sign", "max": "np.maximum",
              "min": "np.minimum", "where": "np.where", "relu": "np.maximum({0}, 0.0)",
              "sigmoid": "(1 / (1 + np.exp(-({0}))))", "softplus": "np.logaddexp(0.0, {0})"},
    "c": {**{n: n for n in [*_SAME, *_ARC]}, "abs": "fabs", "round": "round", "max": "fmax",
          "min": "fmin", "sign": "(({0} > 0) - ({0} < 0))", "where": "({0} ? {1} : {2})",
          "relu": "fmax({0}, 0.0)", "sigmoid": "(1.0 / (1.0 + exp(-({0}))))",
          "softplus": "log1p(exp({0}))"},
    "sympy": {**{n: n for n in ["sin", "cos", "tan", "sinh", "cosh", "tanh", "exp", "log", "sqrt", "cbrt",
                                "floor", "atan2", *_ARC]},
              "ceil": "ceiling", "round": "floor({0} + 1/2)", "abs": "Abs", "sign": "sign", "max": "Max",
              "min": "Min",
              "log2": "log({0}, 2)", "log10": "log({0}, 10)", "hypot": "sqrt({0}**2 + {1}**2)",
              "where": "Piecewise(({1}, {0}), ({2}, True))", "relu": "Max({0}, 0)",
              "sigmoid": "(1/(1 + exp(-({0}))))", "softplus": "log(1 + exp({0}))"},
}
CONSTANTS = {"python": {"pi": "math.pi", "π": "math.pi", "e": "math.e"},
             "numpy": {"pi": "np.pi", "π": "np.pi", "e": "np.e"},
             "c": {"pi": "3.14159265358979323846", "π": "3.14159265358979323846",  # C99 has no M_PI
                   "e": "2.71828182845904523536"},
             "sympy": {"pi": "pi", "π": "pi", "e": "E"}}


def code_lines(graph: Graph, root: int, name: str, language: str,
               taken: set[str] | frozenset[str] = frozenset(),
               labels: dict[int, str] | None = None) -> list[str]:
    """The formula as statements of `language`: shared parts first, then `name = ...`."""
    names = shared_names(graph, root, labels, 8, taken)
    all_labels = {**(labels or {}), **names}
    out = []
    for nid, left in [*sorted(names.items()), (root, name)]:
        text = _code(graph, nid, all_labels, language)
        out.append(f"double {left} = {text};" if language == "c" else f"{left} = {text}")
    return out


def _code(graph: Graph, node_id: int, labels: dict[int, str], language: str) -> str:
    out: list[str] = []
    stack: list[Any] = [(node_id, True)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        nid, top = item
        node = graph[nid]
        if nid in labels and not top:
            out.append(labels[nid])
        elif node.op == "const":
            out.append(_constant(node.attr, language))
        elif node.op in ("input", "sym"):
            out.append(node.attr)
        else:
            stack.extend(reversed(_layout(graph, nid, labels, language)))
    return "".join(out)


def _constant(attr: Any, language: str) -> str:
    value, label = attr
    if hasattr(value, "shape"):
        raise UsageError(f"--format {language}: the formula holds an array constant; give the formula as "
                         "text (--format text) or evaluate it with --at")
    if label is not None:
        return CONSTANTS[language].get(label, format_number(value))
    text = format_number(value)
    if language == "c" and text.lstrip("-").isdigit():
        text += ".0"  # 1/2 in C is 0
    return f"({text})" if text.startswith("-") else text


def _prec(graph: Graph, nid: int, labels: dict[int, str], language: str) -> int:
    node = graph[nid]
    if nid in labels or node.op in ("const", "input", "sym"):
        return ATOM
    entry = OPS[node.op]
    if entry.infix is None or (node.op == "pow" and language == "c"):
        return ATOM
    return entry.prec


def _layout(graph: Graph, nid: int, labels: dict[int, str], language: str) -> list[Any]:
    node = graph[nid]
    entry = OPS[node.op]
    args = node.args
    if entry.infix is None or (node.op == "pow" and language == "c"):
        name = "pow" if node.op == "pow" else FUNCTIONS[language].get(node.op)
        if name is None or entry.is_array or node.attr:
            raise UsageError(f"--format {language}: no {entry.shown_name} in {language} code (an array "
                             "operation); --format text gives the formula")
        if "{" not in name:
            parts: list[Any] = [name + "("]
            for i, a in enumerate(args):
                parts += [", "] if i else []
                parts.append((a, False))
            return [*parts, ")"]
        return _template(name, [(a, _prec(graph, a, labels, language) < ATOM) for a in args])
    if len(args) == 1:  # -x: parenthesized unless it binds tighter
        inner = _prec(graph, args[0], labels, language)
        return ["-", *_wrapped(args[0], inner <= PREFIX)]
    prec = entry.prec
    left = _prec(graph, args[0], labels, language)
    right = _prec(graph, args[1], labels, language)
    if prec == POWER:  # right-associative; a negative base is parenthesized
        left_paren, right_paren = left <= prec, right < prec
    elif prec == COMPARE:
        left_paren, right_paren = left <= prec, right <= prec
    else:
        left_paren, right_paren = left < prec, right <= prec or (prec >= PRODUCT and right == PREFIX)
    symbol = {"mul": "*", "pow": "**"}.get(node.op, entry.infix)
    symbol = f" {symbol} " if prec <= SUM or prec == COMPARE else symbol
    return [*_wrapped(args[0], left_paren), symbol, *_wrapped(args[1], right_paren)]


def _wrapped(arg: int, needed: bool) -> list[Any]:
    return ["(", (arg, False), ")"] if needed else [(arg, False)]


def _template(template: str, args: list[tuple[int, bool]]) -> list[Any]:
    """Pieces of a template such as "({1} if {0} else {2})", each {i} an argument, in parentheses
    when it binds loosely and the template does not already set it apart (a call's argument)."""
    parts: list[Any] = []
    rest = template
    while "{" in rest:
        head, _, tail = rest.partition("{")
        index, _, rest = tail.partition("}")
        arg, loose = args[int(index)]
        apart = head.endswith(("(", ", ")) and rest.startswith((")", ","))
        parts += [head, *_wrapped(arg, loose and not apart)]
    parts.append(rest)
    return parts


def code_name(of: str, wrt: list[str]) -> str:
    """df_dx, d2f_dx2, d2f_dxdy: a derivative's name as an identifier."""
    n = len(wrt)
    if n == 1:
        return f"d{of}_d{wrt[0]}"
    if len(set(wrt)) == 1:
        return f"d{n}{of}_d{wrt[0]}{n}"
    return f"d{n}{of}_" + "".join(f"d{w}" for w in wrt)


def results_code(results: list[Any], language: str) -> str:
    """Every derivative of `adiff diff` (results.DiffResult) as code, one block after another;
    one without a closed form is a comment saying why."""
    comment = ("/* ", " */") if language == "c" else ("# ", "")
    out = []
    taken = set()
    for r in results:
        name = code_name(r.of, r.wrt)
        if r.error:
            out.append(f"{comment[0]}{name}: {r.error}{comment[1]}")
            continue
        taken |= r.taken | {name}
        out += code_lines(r.formula.graph, r.formula.node, name, language, taken, r.formula.labels)
    return "\n".join(out) + "\n"
