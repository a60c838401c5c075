"""`steps_text`: the chain rule written out as the lecture does (REFERENCE.md sections 1 and 2).

Oracles independent of the engine: the lecture's numbers, hand computations with `math`, and
central differences. Every number a chain-rule line ends with is also checked against
result.gradients (at 17 significant digits, so up to rounding only).
"""

import math
import os
import re
import sys
import time

import pytest

from autodiff_cli.api import grad
from autodiff_cli.chain import chain_rule
from autodiff_cli.chain_writers import close_latex
from autodiff_cli.steps import steps_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHAIN_RULE = "v = x^2; u = sin(v); f = exp(u)"
PERCEPTRON = "z = w1*i1 + w2*i2 + b; p = sigmoid(z); c = (p - y)^2"
PERCEPTRON_AT = {"i1": 0.5, "i2": -0.3, "y": 0.4, "w1": -0.2, "w2": 0.2, "b": 0.1}


def section(text: str, title: str) -> str:
    titles = ["Forward pass", "Local derivatives", "Chain rule"]
    start = text.index(title + "\n")
    after = [text.index(t + "\n") for t in titles if text.index(t + "\n") > start]
    return text[start:min(after, default=len(text))]


CHAIN_LINE = re.compile(r"^\s+d(\S+)/d(\S+) = (?:.* = )?(\S+?)(?:\s+\(not connected\))?$")


def chain_values(text: str) -> dict[tuple[str, str], float]:
    """Each requested partial's final number, from the chain-rule section."""
    out = {}
    for line in section(text, "Chain rule").splitlines():
        m = CHAIN_LINE.match(line)
        if m and not line.lstrip().startswith(("path", "adjoint")):
            out[(m.group(1), m.group(2))] = float(m.group(3))
    return out


def assert_matches_gradients(result, **kw) -> dict[tuple[str, str], float]:
    """The steps' numbers (at 17 digits) equal result.gradients up to rounding, for every pair."""
    values = chain_values(steps_text(result, digits=17, **kw))
    assert set(values) == {(t, w) for t in result.targets for w in result.wrt}
    for (t, w), v in values.items():
        assert math.isclose(v, float(result.gradients[t][w]), rel_tol=1e-12, abs_tol=1e-300), (t, w)
    return values


def central_difference(program: str, wrt: str, at: dict, h: float = 1e-6) -> float:
    up = grad(program, at={**at, wrt: at[wrt] + h}).targets
    down = grad(program, at={**at, wrt: at[wrt] - h}).targets
    (name,) = up
    return (float(up[name]) - float(down[name])) / (2 * h)


def balanced(latex: str) -> bool:
    depth = 0
    for ch in latex.replace(r"\{", "").replace(r"\}", ""):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def assert_good_latex(latex: str) -> None:
    assert r"\frac" in latex and r"\partial" in latex
    assert balanced(latex)
    assert latex.count(r"\begin{align*}") == latex.count(r"\end{align*}") >= 1
    assert len(re.findall(r"\\left[^a-zA-Z]", latex)) == len(re.findall(r"\\right[^a-zA-Z]", latex))
    assert "…" not in latex and "×" not in latex and "Σ" not in latex  # LaTeX, not Unicode
    inside = False
    for line in latex.splitlines():  # sentences (text mode) have no bare underscore outside $...$
        inside = (inside or line == r"\begin{align*}") and line != r"\end{align*}"
        if not inside and not line.startswith(("\\", "%")):
            assert "_" not in re.sub(r"\$[^$]*\$", "", line.replace(r"\_", "")), line


# --- REFERENCE.md section 1: f(x) = exp(sin(x^2)) at x = 2 -----------------------------------------


def test_section1_lecture_numbers():
    text = steps_text(grad(CHAIN_RULE, x=2, wrt="x"))
    forward = section(text, "Forward pass")
    assert "1. x = 2" in forward
    assert "2. v = x^2 = 4" in forward
    assert "3. u = sin(v) = -0.7568" in forward
    assert "4. f = exp(u) = 0.46916" in forward
    local = section(text, "Local derivatives")
    assert "dv/dx = 2·x = 4" in local
    assert "du/dv = cos(v) = -0.65364" in local
    assert "df/du = exp(u) = 0.46916" in local
    assert "df/dx = df/du × du/dv × dv/dx = 0.46916 × -0.65364 × 4 = -1.2267" in section(text, "Chain rule")


def test_section1_every_partial():
    result = grad(CHAIN_RULE, x=2, of="f,u", wrt="u,v,x")
    chain = section(steps_text(result), "Chain rule")
    assert "df/du = 0.46916" in chain
    assert "df/dv = df/du × du/dv = 0.46916 × -0.65364 = -0.30667" in chain
    assert "df/dx = df/du × du/dv × dv/dx = 0.46916 × -0.65364 × 4 = -1.2267" in chain
    assert "du/du = 1" in chain
    assert "du/dv = -0.65364" in chain
    assert "du/dx = du/dv × dv/dx = -0.65364 × 4 = -2.6146" in chain
    values = assert_matches_gradients(result)
    # the lecture's float64 values (REFERENCE.md) and the closed form exp(sin(x^2))·cos(x^2)·2x
    assert values[("f", "u")] == pytest.approx(0.46916418587400077, rel=1e-15)
    assert values[("u", "v")] == pytest.approx(-0.6536436208636119, rel=1e-15)
    assert values[("f", "v")] == pytest.approx(-0.3066661772342105, rel=1e-15)
    assert values[("f", "x")] == pytest.approx(-1.226664708936842, rel=1e-15)
    assert values[("u", "x")] == pytest.approx(-2.6145744834544478, rel=1e-15)
    assert values[("f", "x")] == pytest.approx(math.exp(math.sin(4)) * math.cos(4) * 4, rel=1e-14)
    assert values[("f", "x")] == pytest.approx(central_difference(CHAIN_RULE, "x", {"x": 2.0}), rel=1e-7)


# --- REFERENCE.md section 2: the perceptron -------------------------------------------------------


def test_section2_lecture_numbers():
    text = steps_text(grad(PERCEPTRON, at=PERCEPTRON_AT, wrt="w1,w2,b"))
    forward = section(text, "Forward pass")
    assert "z = w1·i1 + w2·i2 + b = -0.06" in forward
    assert "p = sigmoid(z) = 0.485" in forward
    assert "c = (p - y)^2 = 0.0072258" in forward
    assert "w1·i1 = -0.1" in forward  # unnamed intermediate nodes are steps too
    local = section(text, "Local derivatives")
    assert "dc/dp = 2·(p - y) = 0.17001" in local
    assert "dp/dz = sigmoid(z)·(1 - sigmoid(z)) = 0.24978" in local
    assert "dz/dw1 = i1 = 0.5" in local
    assert "dz/dw2 = i2 = -0.3" in local
    assert "dz/db = 1" in local
    chain = section(text, "Chain rule")
    assert "dc/dw1 = dc/dp × dp/dz × dz/dw1 = 0.17001 × 0.24978 × 0.5 = 0.021232" in chain
    assert "dc/dw2 = dc/dp × dp/dz × dz/dw2 = 0.17001 × 0.24978 × -0.3 = -0.012739" in chain
    assert "dc/db = dc/dp × dp/dz × dz/db = 0.17001 × 0.24978 × 1 = 0.042464" in chain
    # the exact product rounded, not the lecture's product of rounded factors (0.021233)
    assert "0.021233" not in text


def test_section2_matches_gradients_and_hand_computation():
    result = grad(PERCEPTRON, at=PERCEPTRON_AT, wrt="w1,w2,b,i1,y")
    values = assert_matches_gradients(result)
    z = -0.2 * 0.5 + 0.2 * -0.3 + 0.1
    p = 1 / (1 + math.exp(-z))
    dc_dz = 2 * (p - 0.4) * p * (1 - p)
    assert values[("c", "w1")] == pytest.approx(dc_dz * 0.5, rel=1e-13)
    assert values[("c", "w2")] == pytest.approx(dc_dz * -0.3, rel=1e-13)
    assert values[("c", "b")] == pytest.approx(dc_dz, rel=1e-13)
    assert values[("c", "i1")] == pytest.approx(dc_dz * -0.2, rel=1e-13)
    assert values[("c", "y")] == pytest.approx(-2 * (p - 0.4), rel=1e-13)
    assert values[("c", "w1")] == pytest.approx(0.021232010052769302, rel=1e-15)  # REFERENCE.md
    for w in ("w1", "w2", "b"):
        assert values[("c", w)] == pytest.approx(central_difference(PERCEPTRON, w, PERCEPTRON_AT), rel=1e-7)


def test_digits():
    text = steps_text(grad(PERCEPTRON, at=PERCEPTRON_AT, wrt="w1"), digits=3)
    assert "dc/dw1 = dc/dp × dp/dz × dz/dw1 = 0.17 × 0.25 × 0.5 = 0.0212" in text


def test_returns_text_and_prints_nothing(capsys):
    text = steps_text(grad(CHAIN_RULE, x=2))
    assert isinstance(text, str) and text.endswith("\n")
    assert capsys.readouterr() == ("", "")


def test_chain_model_is_data_the_writers_spell():
    """The model behind the text: the perceptron's dc/dw1 is one path of three edges between named
    steps (the sums' unnamed nodes merged), whose product is the gradient; both writers show it."""
    result = grad(PERCEPTRON, at=PERCEPTRON_AT, wrt="w1")
    chain = chain_rule(result)
    (partial,) = chain.partials
    assert (partial.target, partial.variable, partial.how) == ("c", "w1", "paths")
    (path,) = partial.paths
    prog = result.program
    names = {v: k for k, v in prog.bindings.items()} | {v: k for k, v in prog.inputs.items()}
    assert [(names[e.top], names[e.bottom]) for e in path] == [("c", "p"), ("p", "z"), ("z", "w1")]
    assert partial.total == pytest.approx(float(result.gradients["c"]["w1"]), rel=1e-15)
    assert chain.merged and not chain.merged & chain.edges.keys()  # merged nodes hand their edges on
    plain, latex = steps_text(result), steps_text(result, latex=True)  # one layout: the same rows
    assert latex.count("&=") == sum(line.startswith("  ") and " = " in line for line in plain.splitlines())


# --- a node used more than once: the chain rule sums over paths -----------------------------------


def test_square_sums_two_paths():
    result = grad("x*x", x=3)
    text = steps_text(result)
    chain = section(text, "Chain rule")
    assert "2 paths lead from x to f" in chain
    assert "path 1: df/dx [1] = 3" in chain
    assert "path 2: df/dx [2] = 3" in chain
    assert "df/dx = 3 + 3 = 6" in chain
    assert "df/dx [1] = x = 3" in section(text, "Local derivatives")
    assert assert_matches_gradients(result)[("f", "x")] == 6  # d(x²)/dx = 2x


def test_sin_times_cos_sums_two_paths():
    x = 0.7
    result = grad("sin(x)*cos(x)", x=x)
    chain = section(steps_text(result, digits=17), "Chain rule")
    paths = [float(m) for m in re.findall(r"path \d+: .* = (\S+)$", chain, re.M)]
    # hand computation: the path through sin(x) gives cos(x)·cos(x), through cos(x) sin(x)·(-sin(x))
    assert paths == [pytest.approx(math.cos(x) ** 2, rel=1e-15), pytest.approx(-math.sin(x) ** 2, rel=1e-15)]
    value = assert_matches_gradients(result)[("f", "x")]
    assert value == pytest.approx(math.cos(2 * x), rel=1e-14)  # d(sin x cos x)/dx = cos 2x
    assert "df/d(sin(x)) × d(sin(x))/dx" in steps_text(result)


def test_paths_through_several_named_steps_agree_with_finite_differences():
    program = "u = x*y; v = sin(u) + u*x; f = v^2/y + u"
    at = {"x": 0.8, "y": 1.3}
    result = grad(program, at=at)
    values = assert_matches_gradients(result)
    for w in ("x", "y"):
        assert values[("f", w)] == pytest.approx(central_difference(program, w, at), rel=1e-7)
    assert "path 1:" in steps_text(result)


def test_path_count_by_dynamic_programming():
    # a1 = x·x reaches x twice, every further level reaches the one below three times: 2·3·3 = 18 paths
    program = "a1 = x*x; a2 = a1*a1 + a1; a3 = a2*a2 + a2"
    result = grad(program, x=0.3)
    listed = steps_text(result, max_paths=18)
    assert "18 paths lead from x to a3" in listed and "path 18:" in listed
    assert "adjoint(" not in listed
    switched = steps_text(result, max_paths=17)
    assert "path 1:" not in switched
    assert "18 paths lead from x to a3, more than max_paths = 17" in switched
    for max_paths in (18, 17):
        (value,) = chain_values(steps_text(result, digits=17, max_paths=max_paths)).values()
        assert value == pytest.approx(float(result.gradients["a3"]["x"]), rel=1e-12)
    # hand computation: da_{k+1}/da_k = 2·a_k + 1
    a1 = 0.09
    a2 = a1 * a1 + a1
    assert value == pytest.approx((2 * a2 + 1) * (2 * a1 + 1) * 2 * 0.3, rel=1e-13)


# --- large programs: the adjoint recurrence, no blow-up, no recursion ---------------------------


def test_diamond_50_levels_uses_the_adjoint_recurrence():
    lines = ["x = 0.1", "a1 = x*x"] + [f"a{i} = a{i - 1}*a{i - 1} + a{i - 1}" for i in range(2, 51)]
    program = "\n".join(lines)
    result = grad(program, wrt="x")
    start = time.perf_counter()
    text = steps_text(result)
    assert time.perf_counter() - start < 2
    assert "path 1:" not in text
    assert "paths lead from x to a50, more than max_paths = 20" in text
    assert "adjoint(v) = Σ over consumers u of adjoint(u) × du/dv" in text
    assert "adjoint(a49) = adjoint(a50) × da50/da49 [1] + adjoint(a50) × da50/da49 [2]" in text
    value = assert_matches_gradients(result)[("a50", "x")]
    a, d = 0.01, 2 * 0.1  # hand computation: d a1/dx = 2x, d a_{k+1}/d a_k = 2·a_k + 1
    for _ in range(49):
        d *= 2 * a + 1
        a = a * a + a
    assert value == pytest.approx(d, rel=1e-12)
    assert_good_latex(steps_text(result, latex=True))


def test_deep_nesting_uses_the_adjoint_recurrence_without_recursion():
    n = 5_000
    result = grad("sin(" * n + "x" + ")" * n, x=0.5)
    limit = sys.getrecursionlimit()
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    sys.setrecursionlimit(depth + 200)  # far less than the nesting: any recursion over it fails
    try:
        start = time.perf_counter()
        text = steps_text(result)
        latex = steps_text(result, latex=True)
        elapsed = time.perf_counter() - start
    finally:
        sys.setrecursionlimit(limit)
    assert elapsed < 3
    assert "path 1:" not in text
    assert f"the paths from x to f have up to {n:,} steps" in text
    chain = section(text, "Chain rule").splitlines()
    # the seed, then every sin node down to x
    assert len([line for line in chain if line.startswith("    adjoint(")]) == n + 1
    v, d = 0.5, 1.0  # hand computation of the chain rule
    for _ in range(n):
        d *= math.cos(v)
        v = math.sin(v)
    (value,) = chain_values(steps_text(result, digits=17)).values()
    assert value == pytest.approx(d, rel=1e-9)
    assert value == pytest.approx(float(result.gradients["f"]["x"]), rel=1e-12)
    assert f"  {n + 1}. f = sin(" in section(text, "Forward pass")  # x, then n nodes
    assert_good_latex(latex)


# --- LaTeX ------------------------------------------------------------------------------------------


def test_latex_perceptron():
    latex = steps_text(grad(PERCEPTRON, at=PERCEPTRON_AT, wrt="w1,w2,b"), latex=True)
    assert_good_latex(latex)
    assert (r"\frac{\partial c}{\partial w_{1}} &= \frac{\partial c}{\partial p} \times "
            r"\frac{\partial p}{\partial z} \times \frac{\partial z}{\partial w_{1}} = "
            r"0.17001 \times 0.24978 \times 0.5 = 0.021232") in latex
    assert r"\frac{\partial c}{\partial p} &= 2 \cdot \left(p - y\right) = 0.17001" in latex
    assert r"\times \left(-0.3\right) = -0.012739" in latex  # negative factors in parentheses


def test_latex_section1_multi_path_and_not_connected():
    for program, kw in [(CHAIN_RULE, {"x": 2, "of": "f,u", "wrt": "u,v,x"}), ("x*x", {"x": 3}),
                        ("f = x*x; g = y + 1", {"x": 0.1, "y": 2, "of": "f,g", "wrt": "x,y"})]:
        assert_good_latex(steps_text(grad(program, **kw), latex=True))


def test_latex_small_numbers_and_long_expressions():
    terms = " + ".join(f"{i}.5*x^{i}" for i in range(1, 40))
    latex = steps_text(grad(f"f = {terms}", x=0.01), latex=True)
    assert_good_latex(latex)
    assert r"\times 10^{-" in latex and "e-" not in latex
    literal = "[" + ", ".join(str(i) for i in range(1, 101)) + "]"  # printed cut after its limit
    latex = steps_text(grad(f"f = sum({literal} * sin(x))", x=2), latex=True)
    assert_good_latex(latex)
    assert r"\dots" in latex and r"\text{shape (100,): }" in latex
    assert r"\overline{x} = " in latex and "= -2101.5" in latex  # 5050·cos(2)


def test_close_latex_balances_a_cut_expression():
    for cut in [r"\frac{\left(a + \sqrt{b", r"\left|x\right| + \operatorname{sig", r"x^{2} + \left",
                r"\frac{1}{2} \cdot \left(a\right)", r"e^{\left(x"]:
        closed = close_latex(cut + "…")
        assert balanced(closed), closed
        assert len(re.findall(r"\\left[^a-zA-Z]", closed)) == len(re.findall(r"\\right[^a-zA-Z]", closed))
        assert r"\dots" in closed
    assert close_latex("x + y") == "x + y"


# --- not connected, arrays ------------------------------------------------------------------------


def test_not_connected_pairs():
    result = grad("f = x*x; g = y + 1", x=0.1, y=2, of="f,g", wrt="x,y")
    chain = section(steps_text(result), "Chain rule")
    assert "df/dy = 0   (not connected)" in chain
    assert "dg/dx = 0   (not connected)" in chain
    assert "dg/dy = 1" in chain
    assert set(result.not_connected) == {("f", "y"), ("g", "x")}
    assert_matches_gradients(result)


def test_target_is_an_input():
    text = steps_text(grad("f = x^2", x=1, of="x", wrt="x"))
    assert "dx/dx = 1" in text
    assert "None: every target is an input." in text


def test_array_program_conv_relu_mae():
    with open(os.path.join(ROOT, "samples", "conv_relu_mae.adiff"), encoding="utf-8") as f:
        program = f.read()
    result = grad(program, wrt="K,G,F,p,y")
    text = steps_text(result)
    local = section(text, "Local derivatives")
    assert "dF/dK = (a linear map: vector-Jacobian product)" in local
    assert "dp/dG = (a linear map: vector-Jacobian product)" in local
    assert "dG/dF = where(F > 0, 1, 0) = [[0, 1]]" in local
    assert "dc/dp = sign(p - y) = -1" in local
    chain = section(text, "Chain rule")
    # REFERENCE.md section 3
    assert "dc/dK = adjoint(K) = [[-0.1, -0.35], [-0.05, -0.25]]" in chain
    assert "dc/dG = adjoint(G) = [[-0.5, -0.5]]" in chain
    assert "dc/dF = adjoint(F) = [[0, -0.5]]" in chain
    assert "dc/dp = -1" in chain
    assert "vector-Jacobian products" in chain
    assert_good_latex(steps_text(result, latex=True))
