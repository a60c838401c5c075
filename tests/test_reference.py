"""REFERENCE.md sections 1 and 2: the lecture's numbers, through the library and the CLI."""

import json

import pytest
from reference import (
    CHAIN_DF_DX,
    CHAIN_F,
    CHAIN_PARTIALS,
    CHAIN_PROGRAM,
    CHAIN_U,
    CHAIN_V,
    CHAIN_X,
    PERCEPTRON_AT,
    PERCEPTRON_C,
    PERCEPTRON_DC_DP,
    PERCEPTRON_DP_DZ,
    PERCEPTRON_GRADIENTS,
    PERCEPTRON_PROGRAM,
)

from autodiff_cli import grad

CHAIN = CHAIN_PROGRAM
SECTION_1 = CHAIN_PARTIALS  # (target, wrt) -> the lecture's float64 value
PERCEPTRON = PERCEPTRON_PROGRAM
SECTION_2 = PERCEPTRON_GRADIENTS


@pytest.mark.parametrize(("target", "wrt"), list(SECTION_1))
def test_section_1_library(target, wrt):
    result = grad(CHAIN, at={"x": CHAIN_X}, of=target, wrt=wrt)
    assert result.gradients[target][wrt] == pytest.approx(SECTION_1[(target, wrt)], rel=1e-15)


def test_section_1_forward_values():
    result = grad(CHAIN, x=CHAIN_X, of="f,u,v")
    assert result.targets["v"] == CHAIN_V
    assert result.targets["u"] == pytest.approx(CHAIN_U, abs=1e-10)
    assert result.targets["f"] == pytest.approx(CHAIN_F, abs=1e-10)


def test_section_1_unnamed_expression():
    result = grad("exp(sin(x^2))", x=CHAIN_X)
    assert result.gradients == {"f": {"x": pytest.approx(CHAIN_DF_DX, rel=1e-15)}}


def test_section_2_library():
    result = grad(PERCEPTRON, at=PERCEPTRON_AT, wrt="w1,w2,b")
    for name, expected in SECTION_2.items():
        assert result.gradients["c"][name] == pytest.approx(expected, rel=1e-14)
    assert result.targets["c"] == pytest.approx(PERCEPTRON_C, abs=1e-10)


def test_section_2_local_partials():
    """The lecture's hand computation: dc/dp = 2p - 2y = 0.17001, dp/dz = p(1 - p) = 0.24978."""
    rows = {row.name: row for row in grad(PERCEPTRON, at=PERCEPTRON_AT).rows()}
    (dc_d,) = rows["c"].local_partials
    assert dc_d.value == pytest.approx(PERCEPTRON_DC_DP, abs=1e-10)
    (dp_dz,) = rows["p"].local_partials
    assert dp_dz.formula == "sigmoid(z)·(1 - sigmoid(z))"
    assert dp_dz.value == pytest.approx(PERCEPTRON_DP_DZ, abs=1e-10)


def test_section_1_cli_json(run):
    code, out, _ = run("grad", CHAIN, "--at", "x=2", "--of", "f,u", "--wrt", "u,v,x", "--json")
    assert code == 0
    doc = json.loads(out)
    for (target, wrt), expected in SECTION_1.items():
        if target in doc["gradients"]:
            assert doc["gradients"][target][wrt] == expected
    assert doc["not_connected"] == []
    assert [n["name"] for n in doc["nodes"]] == ["x", "v", "u", "f"]


def test_section_1_cli_table(shell):
    code, out, err = shell("grad", CHAIN, "--at", "x=2", "--of", "f,u", "--wrt", "u,v,x")
    assert code == 0, err
    assert "∂v/∂x = 2·x = 4" in out
    assert "∂u/∂v = cos(v) = -0.6536436209" in out
    assert "∂f/∂u = exp(u) = 0.4691641859" in out
    assert "∂f      0.4691641859  -0.3066661772  -1.226664709" in out
    assert "∂u      1             -0.6536436209  -2.614574483" in out


def test_not_connected(run):
    code, out, _ = run("grad", CHAIN, "--at", "x=2", "--of", "u", "--wrt", "f,x", "--json")
    doc = json.loads(out)
    assert code == 0
    assert doc["gradients"]["u"]["f"] == 0
    assert doc["not_connected"] == [["u", "f"]]
    code, out, _ = run("grad", CHAIN, "--at", "x=2", "--of", "u", "--wrt", "f,x")
    assert "0 (not connected)" in out


def test_section_2_cli_from_sample(shell):
    code, out, _ = shell("grad", "-f", "samples/perceptron.adiff", "--wrt", "w1,w2,b", "--json")
    grads = json.loads(out)["gradients"]["c"]
    assert code == 0
    assert grads == {k: pytest.approx(v, rel=1e-14) for k, v in SECTION_2.items()}


def test_section_1_sample(shell):
    code, out, _ = shell("grad", "-f", "samples/chain_rule.adiff", "--of", "f,u", "--wrt", "u,v,x", "--json")
    doc = json.loads(out)
    for (target, wrt), expected in SECTION_1.items():
        if target in doc["gradients"]:
            assert doc["gradients"][target][wrt] == pytest.approx(expected, rel=1e-15)
