"""The op table is the one place an operation is defined: an entry added here (erf, in a
fixture) is callable, differentiated in reverse and forward mode, printed as text and LaTeX
and listed by `adiff functions`, with no other change; the README's function list is the
table's; array rules written in primitives make grad() through matmul, reshape and indexing
differentiable again (checked against central differences)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from autodiff_cli import api, ops
from autodiff_cli.cli import app
from autodiff_cli.engine import forward
from autodiff_cli.formulas import function_list
from autodiff_cli.inputs import input_values
from autodiff_cli.ops import FUNCTIONS, OPS, constant, fn, op
from autodiff_cli.parse import parse
from autodiff_cli.symbolic import derivative

README = Path(__file__).resolve().parent.parent / "README.md"


def _erf(x):
    return np.vectorize(math.erf, otypes=[float])(x)[()]


@pytest.fixture
def erf():
    """erf added as one entry: d/dx erf(x) = 2·exp(-x^2)/sqrt(pi), with pi named."""
    entry = op("erf", 1, _erf, lambda x, y: 2 * fn.exp(-x**2) / fn.sqrt(constant(x, "pi")),
               latex=r"\operatorname{erf}", notes=["the error function"])
    yield entry
    ops.unregister("erf")
    assert "erf" not in FUNCTIONS and "erf" not in OPS


def test_a_new_entry_is_listed_by_adiff_functions(erf):
    rows = {call: (partials, notes) for call, partials, notes in function_list()}
    assert rows["erf(x)"] == ([("x", "2·exp(-x^2)/sqrt(pi)")], "the error function")
    out = CliRunner().invoke(app, ["functions"], env={"COLUMNS": "200"}).output
    assert "erf(x)" in out and "2·exp(-x^2)/sqrt(pi)" in out


def test_a_new_entry_is_differentiated_in_both_modes(erf):
    x = 0.7
    exact = 2 / math.sqrt(math.pi) * math.exp(-(x * x) ** 2) * 2 * x  # d/dx erf(x^2), by hand
    result = api.compare("erf(x^2)", at={"x": x})
    (pair,) = result.pairs
    assert result.agree
    for value in (pair.reverse, pair.forward, pair.symbolic):
        assert float(value) == pytest.approx(exact, rel=1e-12)
    assert float(pair.finite_difference.value) == pytest.approx(exact, rel=1e-7)
    assert "pi" in "".join(text for _, text in pair.expanded)  # named, not 3.141592653589793


def test_a_new_entry_prints_as_text_and_latex_and_reads_back(erf):
    prog = parse("erf(x^2)")
    formula = derivative(prog, prog.target, prog.inputs["x"])
    text = formula.text()
    assert text == "4/sqrt(pi)·x·exp(-x^4)" or "sqrt(pi)" in text
    latex = "".join(t for _, t in formula.program_text(latex=True))
    assert r"\sqrt{\pi}" in latex and r"\exp" in latex
    back = parse(text)  # the printed derivative is a program adiff reads
    value = api.grad(back, at={"x": 0.7}).targets[back.target_name]
    assert float(value) == pytest.approx(4 / math.sqrt(math.pi) * 0.7 * math.exp(-0.7**4), rel=1e-12)


def test_every_callable_entry_declares_what_the_engines_need():
    for name, entry in FUNCTIONS.items():
        assert entry.call, name
        if entry.expand or entry.derivative:
            continue
        if entry.arity:
            assert entry.partials, f"{name}: no derivative rule"
        assert entry.evaluate is not None, name


def _readme_functions() -> set[str]:
    """The function names in the README's 'Functions' list (its bullet lines of `name(...)`)."""
    text = README.read_text("utf-8")
    start = text.index("<!-- functions -->")
    end = text.index("<!-- /functions -->")
    return set(re.findall(r"`([a-z_0-9]+)\(", text[start:end]))


def test_readme_function_list_is_the_table():
    listed = {call.split("(")[0] for call, _, _ in function_list()}
    aliases = {a for a, e in FUNCTIONS.items() if a != e.shown_name}
    assert _readme_functions() == listed | aliases


# --- array rules in primitives: grad() through them is a graph, so it can be differentiated again


def _central_hessian(f, x0, h=1e-4):
    x0 = np.asarray(x0, dtype=float)
    n = x0.size
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            e_i, e_j = np.zeros(n), np.zeros(n)
            e_i[i], e_j[j] = h, h
            a, b = (e_i + e_j).reshape(x0.shape), (e_i - e_j).reshape(x0.shape)
            out[i, j] = (f(x0 + a) - f(x0 + b) - f(x0 - b) + f(x0 - a)) / (4 * h * h)
    return out


W = np.array([[0.3, -0.8], [-0.4, 0.2], [0.5, 0.1]])


@pytest.mark.parametrize("body, numpy_f", [
    ("sum(sin(W @ x))", lambda x: np.sum(np.sin(W @ x))),
    ("sum(sin(x @ W'))", lambda x: np.sum(np.sin(x @ W.T))),
    ("sum(reshape(x, 1, 2) @ reshape(x, 2, 1) * x[0])", lambda x: float(x @ x) * x[0]),
    ("sum(tanh([x[1], x[0] * x[1]]))", lambda x: np.tanh(x[1]) + np.tanh(x[0] * x[1])),
    ("mean(exp(x' @ (W' @ W) @ x / 10))", lambda x: np.exp(x @ (W.T @ W) @ x / 10)),
])
def test_second_derivatives_through_array_operations_match_central_differences(body, numpy_f):
    x0 = np.array([0.4, -0.7])
    expected = _central_hessian(numpy_f, x0)
    w_literal = "[[0.3, -0.8], [-0.4, 0.2], [0.5, 0.1]]"
    # hessian() in a program, evaluated by the engine over the gradient's graph
    prog = parse(f"W = {w_literal}\nf = {body}\nh = hessian(f, x)")
    values, _ = forward(prog, input_values(prog, {"x": x0}))
    h = np.asarray(values[prog.bindings["h"]])
    np.testing.assert_allclose(h, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h, h.T, rtol=1e-12, atol=1e-12)  # a Hessian is symmetric
    # grad of grad: each row of the Hessian as the gradient of one element of the gradient
    program = f"W = {w_literal}\nf = {body}\ng = grad(f, x)\nr0 = g[0]\nr1 = g[1]"
    for i in range(2):
        row = api.grad(program, of=f"r{i}", wrt="x", at={"x": x0}).gradients[f"r{i}"]["x"]
        np.testing.assert_allclose(row, expected[i], rtol=1e-5, atol=1e-6)


def test_grad_of_grad_through_matmul_matches_the_hand_derived_formula():
    # f = sum((A @ x)^3): g = grad f = 3 Aᵀ (A x)^2; grad(sum(g)) = 6 Aᵀ ((A x) ⊙ (A 1))
    a = np.array([[1.0, 2.0], [-0.5, 0.3]])
    x0 = np.array([0.2, -0.1])
    program = "A = [[1, 2], [-0.5, 0.3]]\nf = sum((A @ x)^3)\ng = grad(f, x)\nk = grad(sum(g), x)"
    prog = parse(program)
    values, _ = forward(prog, input_values(prog, {"x": x0}))
    ax = a @ x0
    np.testing.assert_allclose(values[prog.bindings["g"]], 3 * a.T @ ax**2, rtol=1e-13)
    np.testing.assert_allclose(values[prog.bindings["k"]], 6 * a.T @ (ax * (a @ np.ones(2))), rtol=1e-13)
