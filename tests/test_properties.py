"""Property tests: gradients of random expressions, printing and parsing back, junk input.

(a) reverse-mode partials of random compositions over the whole function list agree with
    central finite differences of the program's own forward values (and the forward value
    agrees with an independent numpy evaluation of the same expression);
(b) printing a parsed expression and parsing it back gives the same graph and the same value;
(c) any text given to `parse` either parses or raises AdiffError, never another exception.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from oracles import builds_own_node, near_kink, scalar_ops

from autodiff_cli.api import grad
from autodiff_cli.errors import AdiffError, ParseError
from autodiff_cli.graph import Graph
from autodiff_cli.ops import FUNCTIONS as ALL_FUNCTIONS
from autodiff_cli.parse import parse
from autodiff_cli.printing import format_number, to_text

# Elementwise functions of numbers read as a node of their own; array operations (filtered out
# here) have their own tests (test_arrays.py), and so do loss macros and grad/hessian.
_SCALAR = scalar_ops()
FUNCTIONS = {n: e for n, e in ALL_FUNCTIONS.items() if any(e is s for s in _SCALAR.values())
             and builds_own_node(e)}

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# =====================================================================================================
# (a) gradients of random expressions against finite differences
# =====================================================================================================

MARGIN = 1e-3  # how far from a kink (abs at 0, floor at an integer, ...) a kinked argument must be
REL_STEP = 1e-6
RTOL, ATOL = 1e-4, 1e-6

Fn = Callable[[float, float], float]
Guard = Callable[[float, float], bool]


class Expr(NamedTuple):
    """Program text, an independent numpy evaluation of it, and guards that hold where the
    expression is differentiable with some room to spare (away from every kink)."""

    text: str
    fn: Fn
    guards: tuple[Guard, ...] = ()


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _far_from_integer(v) -> bool:
    return abs(v - np.round(v)) > MARGIN


def _far_from_half_integer(v) -> bool:
    return abs(v - np.floor(v) - 0.5) > MARGIN


# Unary templates: (text with {} for the child, numpy function of the child's value, guard on it).
# Arguments are squashed into each function's domain (asin(0.9·sin(u)), log(1 + u^2), ...).
UNARY: list[tuple[str, Callable, Callable | None]] = [
    ("sin({})", np.sin, None),
    ("cos({})", np.cos, None),
    ("tanh({})", np.tanh, None),
    ("atan({})", np.arctan, None),
    ("sigmoid({})", _sigmoid, None),
    ("softplus({})", lambda v: np.logaddexp(0.0, v), None),
    ("asinh({})", np.arcsinh, None),
    ("exp(sin({}))", lambda v: np.exp(np.sin(v)), None),
    ("exp(-({})^2)", lambda v: np.exp(-(v * v)), None),
    ("sinh(tanh({}))", lambda v: np.sinh(np.tanh(v)), None),
    ("cosh(sin({}))", lambda v: np.cosh(np.sin(v)), None),
    ("tan(sin({}))", lambda v: np.tan(np.sin(v)), None),
    ("asin(0.9sin({}))", lambda v: np.arcsin(0.9 * np.sin(v)), None),
    ("acos(0.9 * tanh({}))", lambda v: np.arccos(0.9 * np.tanh(v)), None),
    ("atanh(0.9cos({}))", lambda v: np.arctanh(0.9 * np.cos(v)), None),
    ("acosh(2 + sin({}))", lambda v: np.arccosh(2 + np.sin(v)), None),
    ("log(1 + ({})^2)", lambda v: np.log(1 + v * v), None),
    ("ln(2 + cos({}))", lambda v: np.log(2 + np.cos(v)), None),
    ("log(2 + sin({}), 3)", lambda v: np.log(2 + np.sin(v)) / np.log(3), None),
    ("log2(1 + ({})²)", lambda v: np.log2(1 + v * v), None),
    ("log10(2 + sin({}))", lambda v: np.log10(2 + np.sin(v)), None),
    ("sqrt(1 + ({})^2)", lambda v: np.sqrt(1 + v * v), None),
    ("cbrt(2 + tanh({}))", lambda v: np.cbrt(2 + np.tanh(v)), None),
    ("-({})", lambda v: -v, None),
    ("({})^2", lambda v: v * v, None),
    ("({})³", lambda v: v * v * v, None),
    ("2({})", lambda v: 2 * v, None),
    ("abs({})", np.abs, lambda v: abs(v) > MARGIN),
    ("relu({})", lambda v: np.maximum(v, 0.0), lambda v: abs(v) > MARGIN),
    ("sign({})", np.sign, lambda v: abs(v) > MARGIN),
    ("floor({})", np.floor, _far_from_integer),
    ("ceil({})", np.ceil, _far_from_integer),
    ("round({})", np.round, _far_from_half_integer),
]

# Binary templates: ({} placeholders in order a, b), numpy function, guard on (a, b).
BINARY: list[tuple[str, Callable, Callable | None]] = [
    ("({a}) + ({b})", lambda a, b: a + b, None),
    ("({a}) - ({b})", lambda a, b: a - b, None),
    ("({a}) * ({b})", lambda a, b: a * b, None),
    ("({a})({b})", lambda a, b: a * b, None),
    ("({a}) / (2 + sin({b}))", lambda a, b: a / (2 + np.sin(b)), None),
    ("pow(2 + sin({a}), cos({b}))", lambda a, b: np.power(2 + np.sin(a), np.cos(b)), None),
    ("(1.5 + cos({a}))^sin({b})", lambda a, b: np.power(1.5 + np.cos(a), np.sin(b)), None),
    ("atan2({a}, 1 + ({b})^2)", lambda a, b: np.arctan2(a, 1 + b * b), None),
    ("hypot({a}, 1 + ({b})^2)", lambda a, b: np.hypot(a, 1 + b * b), None),
    ("max({a}, {b})", np.maximum, lambda a, b: abs(a - b) > MARGIN),
    ("min({a}, {b})", np.minimum, lambda a, b: abs(a - b) > MARGIN),
    ("where(({a}) > ({b}), sin({a}), cos({b}))", lambda a, b: np.where(a > b, np.sin(a), np.cos(b)),
     lambda a, b: abs(a - b) > MARGIN),
    ("where({a}, {b}, 1)", lambda a, b: np.where(a != 0, b, 1.0), lambda a, b: abs(a) > MARGIN),
    ("({a}) + (({a}) < ({b}))", lambda a, b: a + (a < b), lambda a, b: abs(a - b) > MARGIN),
]

_COVERED = {m.group(1) for text, _, _ in UNARY + BINARY for m in re.finditer(r"([a-z][a-z0-9]*)\(", text)}


def _generic_templates() -> list[tuple[str, Callable, Callable | None]]:
    """A function of the table that no template above uses (one added since) still takes part:
    each argument is squashed into its test domain as lo + (hi - lo)·sigmoid(u), values come
    from the op's own numpy evaluation, and points near its kinks are left out."""
    out = []
    for name, entry in FUNCTIONS.items():
        if name in _COVERED or entry.arity not in (1, 2):
            continue
        dom = entry.domain or ((-3.0, 3.0),) * entry.arity
        args = [f"{lo!r} + {hi - lo!r}·sigmoid({{{p}}})" for (lo, hi), p in zip(dom, "ab", strict=False)]
        text = f"{name}({', '.join(args)})".replace("{a}", "{}" if entry.arity == 1 else "{a}")

        def squash(vs, dom=dom):
            return [lo + (hi - lo) * float(_sigmoid(v)) for (lo, hi), v in zip(dom, vs, strict=True)]

        def fn(*vs, entry=entry, squash=squash):
            return entry.evaluate(*map(np.float64, squash(vs)))

        def guard(*vs, entry=entry, squash=squash):
            return not near_kink(entry, tuple(squash(vs)), margin=MARGIN)

        out.append((text, fn, guard))
    return out


GENERIC = _generic_templates()
UNARY_ALL = UNARY + [t for t in GENERIC if "{}" in t[0]]
BINARY_ALL = BINARY + [t for t in GENERIC if "{}" not in t[0]]


def _apply_unary(template, child: Expr) -> Expr:
    text, f, g = template

    def fn(x, y):
        return f(child.fn(x, y))

    guards = child.guards + ((lambda x, y: bool(g(child.fn(x, y)))),) if g else child.guards
    return Expr(text.format(child.text), fn, guards)


def _apply_binary(template, left: Expr, right: Expr) -> Expr:
    text, f, g = template

    def fn(x, y):
        return f(left.fn(x, y), right.fn(x, y))

    guards = left.guards + right.guards
    if g:
        guards += ((lambda x, y: bool(g(left.fn(x, y), right.fn(x, y)))),)
    return Expr(text.format(a=left.text, b=right.text), fn, guards)


LEAVES = st.sampled_from([
    Expr("x", lambda x, y: x),
    Expr("y", lambda x, y: y),
    Expr("2x", lambda x, y: 2 * x),
    Expr("0.5y", lambda x, y: 0.5 * y),
    Expr("x²", lambda x, y: x * x),
    Expr("pi", lambda x, y: math.pi),
    Expr("1.5", lambda x, y: 1.5),
    Expr("-1", lambda x, y: -1.0),
])


def _extend(children):
    return st.one_of(
        st.builds(_apply_unary, st.sampled_from(UNARY_ALL), children),
        st.builds(_apply_binary, st.sampled_from(BINARY_ALL), children, children),
    )


EXPRS = st.recursive(LEAVES, _extend, max_leaves=8)
COORD = st.floats(min_value=-2.0, max_value=2.0, allow_nan=False)


def test_every_function_takes_part_in_random_expressions() -> None:
    used = _COVERED | {re.match(r"[a-z0-9_]+", t[0]).group(0) for t in GENERIC}
    assert set(FUNCTIONS) <= used


@SETTINGS
@given(expr=EXPRS, x=COORD, y=COORD)
@example(expr=Expr("2sin(x)y + exp(-(y)^2)", lambda x, y: 2 * np.sin(x) * y + np.exp(-y * y)), x=0.3, y=-1.2)
def test_reverse_mode_matches_finite_differences(expr: Expr, x: float, y: float) -> None:
    with np.errstate(all="ignore"):
        expected = float(expr.fn(x, y))
        assume(all(g(x, y) for g in expr.guards))
    assume(math.isfinite(expected) and abs(expected) < 1e4)

    prog = parse(expr.text)
    at = {n: v for n, v in (("x", x), ("y", y)) if n in prog.inputs}
    result = grad(prog, at=at)
    value = float(result.targets["f"])
    assert value == pytest.approx(expected, rel=1e-9, abs=1e-12), expr.text

    for name, v in at.items():
        h = REL_STEP * max(1.0, abs(v))
        up = float(grad(prog, at={**at, name: v + h}).targets["f"])
        down = float(grad(prog, at={**at, name: v - h}).targets["f"])
        fd = (up - down) / ((v + h) - (v - h))
        got = float(result.gradients["f"][name])
        assume(math.isfinite(fd) and math.isfinite(got))
        assert abs(got - fd) <= ATOL + RTOL * abs(fd), (
            f"{expr.text} at x={x!r}, y={y!r}: ∂/∂{name} = {got!r}, finite difference {fd!r}")


# =====================================================================================================
# (b) print, parse back: same structure, same value
# =====================================================================================================

# Precedence levels of generated text, tightest first.
ATOM, POSTFIX, POWER, SIGNED, PRODUCT, SUM, COMPARE = range(7)
_NAME_AT_END = re.compile(r"[^\W\d²³¹][^\W²³¹]*$")


class Txt(NamedTuple):
    text: str
    level: int
    exp_ok: bool = True  # can stand as an exponent without parentheses (2^-x, x^y^z)
    kind: str = "other"  # "num" (unsigned literal), "name", "call", "group", "tail" (x², (x)²)
    is_cmp: bool = False  # the node it builds is a comparison


def group(e: Txt) -> Txt:
    return Txt(f"({e.text})", ATOM, True, "group", e.is_cmp)


def at_most(e: Txt, level: int) -> Txt:
    return e if e.level <= level else group(e)


def sum_(a: Txt, b: Txt, sym: str, sp: str) -> Txt:
    return Txt(f"{at_most(a, SUM).text}{sp}{sym}{sp}{at_most(b, PRODUCT).text}", SUM, False)


def product(a: Txt, b: Txt, sym: str, sp: str) -> Txt:
    return Txt(f"{at_most(a, PRODUCT).text}{sp}{sym}{sp}{at_most(b, SIGNED).text}", PRODUCT, False)


def prefix(a: Txt, sym: str) -> Txt:
    operand = at_most(a, SIGNED)
    return Txt(sym + operand.text, SIGNED, operand.exp_ok, "other", sym == "+" and operand.is_cmp)


def power(a: Txt, b: Txt, sym: str) -> Txt:
    base = a if a.level <= POSTFIX else group(a)
    exponent = b if b.exp_ok else group(b)
    return Txt(f"{base.text}{sym}{exponent.text}", POWER)


def superscript(a: Txt, sym: str) -> Txt:
    base = a if a.level <= POSTFIX else group(a)
    kind = "tail" if base.kind in ("name", "call", "group", "tail") else "other"
    return Txt(base.text + sym, POSTFIX, True, kind)


def compare(a: Txt, b: Txt, sym: str) -> Txt:
    # A comparison directly on the left of a comparison prints without its parentheses (a known
    # bug, see test_chained_comparison_round_trip); keep it to the right side here.
    if a.is_cmp:
        a, b = b, a
    if a.is_cmp:
        a = prefix(a, "-")  # -(x < y) is a neg node, printed with its parentheses
    return Txt(f"{at_most(a, SUM).text} {sym} {at_most(b, SUM).text}", COMPARE, False, "other", True)


def call(name: str, args: list[Txt]) -> Txt:
    return Txt(f"{name}({', '.join(a.text for a in args)})", ATOM, True, "call")


def implicit(head: Txt, tails: list[Txt]) -> Txt:
    """Juxtaposition: a number or a group, then names, calls or groups (2x, 3(x+1), (x+1)(x-1),
    2x^2, 2 sin(x)y). A name directly before '(' would make a call, so a group after a name is
    made a call of abs; two names in a row are separated by a space."""
    text = head.text if head.kind == "num" else group(head).text
    for t in tails:
        piece = t.text if t.kind in ("name", "call", "group", "tail") else group(t).text
        if piece.startswith("(") and _NAME_AT_END.search(text):
            piece = "abs" + piece
        if _NAME_AT_END.search(text) and not piece.startswith(("(", "²", "³")):
            text += " "
        elif text[-1:] in tuple("0123456789.") and piece[:1] in "eE":  # 2e+4 is 20000, not 2·e + 4
            text += " "
        text += piece
    return Txt(text, SIGNED, False)


NUMBERS = st.one_of(
    st.sampled_from(["2", "0.5", "3", "1.5", "10", ".5", "1e-3", "2.5e2", "007", "1E3", "4."]),
    st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False).map(repr),
).map(lambda s: Txt(s, ATOM, True, "num"))
NAMES = st.sampled_from(["x", "y", "z", "pi", "π", "e"]).map(lambda s: Txt(s, ATOM, True, "name"))
NEGATIVE_CONSTANTS = st.sampled_from(["-2", "-0.5", "-1e-3", "−3"]).map(lambda s: Txt(s, SIGNED, True))
TEXT_LEAVES = st.one_of(NUMBERS, NAMES, NEGATIVE_CONSTANTS)
SP = st.sampled_from(["", " "])


def _text_extend(children):
    calls = [st.builds(lambda n, a: call(n, [a]), st.sampled_from(
        [n for n, e in FUNCTIONS.items() if e.arity == 1]), children)]
    for arity in (2, 3):
        names = [n for n, e in FUNCTIONS.items() if e.arity == arity]
        if names:
            calls.append(st.builds(call, st.sampled_from(names), st.lists(children, min_size=arity,
                                                                           max_size=arity)))
    calls.append(st.builds(lambda a, b: call("log", [a, b]), children, children))
    tails = st.one_of(NAMES, children)
    return st.one_of(
        st.builds(sum_, children, children, st.sampled_from(["+", "-", "−"]), SP),
        st.builds(product, children, children, st.sampled_from(["*", "/", "·", "×"]), SP),
        st.builds(prefix, children, st.sampled_from(["-", "−", "+"])),
        st.builds(power, children, children, st.sampled_from(["^", "**"])),
        st.builds(superscript, children, st.sampled_from(["²", "³"])),
        st.builds(compare, children, children, st.sampled_from(["<", "<=", ">", ">=", "==", "!="])),
        st.builds(implicit, st.one_of(NUMBERS, children), st.lists(tails, min_size=1, max_size=3)),
        st.builds(group, children),
        *calls,
    )


TEXTS = st.recursive(TEXT_LEAVES, _text_extend, max_leaves=10).map(lambda t: t.text)
POINT = {"x": 0.7, "y": -1.3, "z": 2.1}


def structure(graph: Graph, node_id: int, memo: dict | None = None) -> tuple:
    """The expression tree under a node: ops, input names, constants by their exact bits."""
    memo = {} if memo is None else memo
    if node_id not in memo:
        node = graph[node_id]
        if node.op == "const":
            attr = float(node.attr[0]).hex()
        elif node.op == "input":
            attr = node.attr
        else:
            attr = None
        memo[node_id] = (node.op, attr, tuple(structure(graph, a, memo) for a in node.args))
    return memo[node_id]


def value_at(prog) -> np.float64:
    return grad(prog, at={n: POINT[n] for n in prog.inputs}).targets["f"]


def same_bits(a, b) -> bool:
    return np.asarray(a, dtype=np.float64).tobytes() == np.asarray(b, dtype=np.float64).tobytes()


def check_round_trip(text: str) -> None:
    p = parse(text)
    text2 = to_text(p.graph, p.target)
    p2 = parse(text2)
    assert structure(p2.graph, p2.target) == structure(p.graph, p.target), (text, text2)
    assert to_text(p2.graph, p2.target) == text2
    v1, v2 = value_at(p), value_at(p2)
    assert same_bits(v1, v2) or (np.isnan(v1) and np.isnan(v2)), (text, text2, v1, v2)


ROUND_TRIP_EXAMPLES = [
    "-x^2", "(-x)^2", "2^-x", "x^-2", "x^y^z", "(x^y)^z", "x**-y**2", "-2^x", "(-2)^x",
    "x - y - z", "x - (y - z)", "x/y/z", "x/(y/z)", "x/y*z", "x*(y/z)", "x - -y", "x*-y", "x/-2",
    "-(-x)", "--x", "-(x*y)", "-x*y", "+x", "2x", "2x^2", "2x²", "x²³", "(x+1)(x-1)", "3(x+1)",
    "2sin(x)", "2 sin(x)cos(y)", "(x)(y)(z)", "2x y", "(x+1)x", "-2", "-2x", "−3×x", "2pi", "2e",
    "1e-3x", "-pi", "log(x, 2)", "where(x < y, x, y)", "x < (y < z)", "x + (x < y)",
    "max(x, -y) - min(-x, y)", "sin(x)^2 + cos(x)^2", "1/-0", "exp(-x^2/2)/sqrt(2pi)",
]


@pytest.mark.parametrize("text", ROUND_TRIP_EXAMPLES)
def test_round_trip_examples(text: str) -> None:
    check_round_trip(text)


@pytest.mark.parametrize("text", ["(x < y) < z", "(x == y) != z"])
def test_chained_comparison_round_trip(text: str) -> None:
    check_round_trip(text)


@SETTINGS
@given(text=TEXTS)
def test_print_parse_round_trip(text: str) -> None:
    check_round_trip(text)


def test_negative_zero_literal() -> None:
    assert grad("1/-0").targets["f"] == -np.inf  # IEEE 754: 1/(-0) = -inf


@pytest.mark.parametrize("value", [
    0.0, 1.0, 2.5, 1e-3, 0.1, 1 / 3, 123456.789, 1e16, 1.2345678901234568e17, 1e300, 5e-324, -2.0,
    -0.0,
])
def test_format_number_reads_back_exactly(value: float) -> None:
    assert same_bits(float(format_number(value)), value)


# =====================================================================================================
# (c) junk text: parses, or raises AdiffError
# =====================================================================================================

JUNK_ALPHABET = "xyz0123456789.e+-*/^()=,;#\n \t<>!²³¹−×·π_" + "$@'\"\\{}[]&|~`?%:"
JUNK_TOKENS = sorted(set(ALL_FUNCTIONS) | {
    "x", "y", "f", "pi", "e", "2", "0.5", "1e3", "1e", ".", "(", ")", ",", "=", ";", "\n", " ",
    "+", "-", "*", "/", "^", "**", "²", "<", "<=", "==", "!=", ">", "#", "$", "@", "'", '"', "\\",
    "{", "}", "−", "×", "·", "x=", "sin(", "log(", "where(", "max(", "y=2",
})


def parses_or_adiff_error(text: str) -> None:
    try:
        parse(text)
    except AdiffError:
        pass


@SETTINGS
@given(text=st.text(alphabet=JUNK_ALPHABET, max_size=40))
def test_junk_characters(text: str) -> None:
    parses_or_adiff_error(text)


@SETTINGS
@given(text=st.lists(st.sampled_from(JUNK_TOKENS), max_size=25).map("".join))
def test_junk_tokens(text: str) -> None:
    parses_or_adiff_error(text)


EMPTY = "the program is empty"
ENDED_EARLY = "the program ended early: expected an expression"
MALFORMED = [  # (text, how the error's message starts)
    ("", EMPTY), ("   ", EMPTY), ("#", EMPTY), (";;", EMPTY), ("\n\n", EMPTY),
    ("x =", ENDED_EARLY), ("= x", "unexpected '='"),
    ("sin", "'sin' is a function: call it with parentheses"),
    ("sin()", "sin() takes one argument, but 0 were given"),
    ("sin(x, y)", "sin() takes one argument, but 2 were given"),
    ("log(x, 2, 3)", "log() takes one argument, but 3 were given"),
    ("sin(y=2)", "sin() has no parameter 'y'"),
    ("pi = 3", "'pi' is a built-in name and cannot be assigned"),
    ("sin = 2", "'sin' is a built-in name and cannot be assigned"),
    ("foo(x)", "unknown function 'foo'"), ("x(y)", "unknown function 'x'"),
    ("2x(y)", "unknown function 'x'"), ("1 2", "unexpected '2'"), ("x 2", "unexpected '2'"),
    ("(", "this '(' is never closed"), (")", "unexpected ')'"), ("x^", ENDED_EARLY),
    ("x < y < z", "unexpected '<'"), ("$", "unexpected character '$'"),
    ("x\\y", "unexpected character '\\'"), ("{x}", "unexpected character '{'"),
    ("'x'", "unexpected '''"), ('"x"', "unexpected '\"x\"'"),
    # `x @ y` (matmul) and `1e` (1·e) are programs (test_valid_look_alikes_parse); these are not
    ("x @", ENDED_EARLY), ("x @ @ y", "unexpected '@'"), ("1e+", ENDED_EARLY),
    ("²", "unexpected '²'"), ("x = 1; x(2)", "unknown function 'x'"),
    ("where(x<y, 1)", "where() takes three arguments, but 2 were given"), ("¹", "unexpected '¹'"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_programs_raise_adiff_error(text: str, message: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)
    assert info.value.exit_code == 2
    assert info.value.message.startswith(message), info.value.message


@pytest.mark.parametrize(("text", "op"), [("x @ y", "matmul"), ("1e", "mul"), ("x y", "mul")])
def test_valid_look_alikes_parse(text: str, op: str) -> None:
    prog = parse(text)
    assert prog.graph[prog.target].op == op
