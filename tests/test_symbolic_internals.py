"""What the symbolic derivative's speed-ups must not change: each table entry's own rule is
used (rules are looked up once per entry, not per name), and the cycle collector, paused
while a derivative is built, is left as it was found, also when the derivative fails; and a
higher order whose canonical form grows as a square is stopped within its budget."""

from __future__ import annotations

import gc
import math

import numpy as np
import pytest

from autodiff_cli import ops
from autodiff_cli.errors import UsageError
from autodiff_cli.ops import fn, op
from autodiff_cli.parse import parse
from autodiff_cli.symbolic import NoClosedForm, derivative, differentiate, nth_derivative


def _erf(x):
    return np.vectorize(math.erf, otypes=[float])(x)[()]


def _d_dx(text: str) -> str:
    program = parse(text)
    return derivative(program, program.target, program.inputs["x"]).text()


@pytest.mark.parametrize("rule, expected", [
    (lambda x, y: 2 * fn.exp(-x**2), "2·exp(-x^2)"),  # erf's rule without its constant, by hand
    (lambda x, y: 3 * x**2, "3·x^2"),  # another entry under the same name: its own rule
])
def test_an_entry_registered_again_under_the_same_name_differentiates_by_its_own_rule(rule, expected):
    op("erf", 1, _erf, rule)
    try:
        assert _d_dx("erf(x)") == expected
    finally:
        ops.unregister("erf")


def test_two_entries_in_turn_in_one_process():
    seen = []
    for rule in (lambda x, y: fn.cos(x), lambda x, y: -fn.sin(x)):
        op("erf", 1, _erf, rule)
        try:
            seen.append(_d_dx("erf(x^2)"))
        finally:
            ops.unregister("erf")
    assert seen == ["2·x·cos(x^2)", "-2·x·sin(x^2)"]  # the chain rule by hand, each rule's own


@pytest.mark.parametrize("enabled", [True, False])
def test_the_cycle_collector_is_left_as_it_was_found(enabled):
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        program = parse("sin(x)^3")
        first = derivative(program, program.target, program.inputs["x"])
        assert gc.isenabled() is enabled
        assert differentiate(first, "x").text() is not None
        assert gc.isenabled() is enabled
        failing = parse("s = sum(x); s")
        with pytest.raises(NoClosedForm):
            derivative(failing, failing.target, failing.inputs["x"])
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_a_second_order_that_grows_as_the_square_is_stopped_within_its_budget(run):
    # the second derivative of sin(sin(…x)) n deep has about n²/2 formula nodes in canonical form
    # (flat products write out the prefixes the chain rule shares): 1,000 deep took 8 s
    code, out, err = run("diff", "sin(" * 1000 + "x" + ")" * 1000, "--order", "2")
    assert (code, out) == (2, "")
    assert "order 2 would have too many formula nodes" in err and "places" in err
    assert "budget of 50,000" in err and "--max-nodes 200000" in err
    program = parse("sin(" * 100 + "x" + ")" * 100)
    x = program.inputs["x"]
    twice = [("x", x), ("x", x)]
    with pytest.raises(UsageError, match="too many formula nodes"):
        nth_derivative(program, program.target, twice, max_nodes=2_000)  # 5 × 299 passes the estimate
    within = nth_derivative(program, program.target, twice, max_nodes=6_000)
    unbounded = differentiate(derivative(program, program.target, x), "x")
    assert within.size() == unbounded.size() == 5_450  # about 100²/2
    assert within.text() == unbounded.text()
