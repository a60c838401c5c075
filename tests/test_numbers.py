"""Numbers shown to people: float32 values as the shortest decimal that reads back as the same
float32 (as TensorFlow prints them), float64 with the digits asked for."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import (
    CHAIN_F_TF221_FLOAT32,
    CHAIN_PARTIALS_TF221_FLOAT32,
    CHAIN_PARTIALS_TF_FLOAT32,
    CHAIN_PROGRAM,
    TF_FLOAT32_COS_4,
)

from autodiff_cli import grad
from autodiff_cli.numfmt import format_value


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_float32_prints_the_shortest_text_that_reads_back(v):
    value = np.float32(v)
    text = format_value(value)
    assert np.float32(float(text)) == value
    digits = len(text.lstrip("-").split("e")[0].replace(".", "").lstrip("0"))
    assert digits <= 9  # never more than float32 needs


def test_float32_fewer_digits_when_asked():
    assert format_value(np.float32(0.46916418), digits=3) == "0.469"
    assert format_value(np.array([0.3, -0.4], dtype=np.float32)) == "[0.3, -0.4]"


def test_float64_unchanged():
    assert format_value(0.46916418587400077) == "0.4691641859"


def test_the_lecture_in_float32_prints_tensorflows_digits():
    result = grad(CHAIN_PROGRAM, at={"x": 2}, of="f,u", wrt="u,v,x", dtype="float32")
    shown = {(t, w): format_value(result.gradients[t][w]) for t, w in CHAIN_PARTIALS_TF_FLOAT32 if t != "v"}
    # a partial that does not pass through float32 cos(4) is TensorFlow's, digit for digit
    assert shown[("f", "u")] == CHAIN_PARTIALS_TF_FLOAT32[("f", "u")]
    # TensorFlow's float32 cos(4) is one ulp from the correctly rounded value that numpy computes
    tf_cos, ours = np.float32(float(TF_FLOAT32_COS_4)), np.float32(float(shown[("u", "v")]))
    assert ours == np.float32(np.cos(4.0)) and abs(ours - tf_cos) == np.spacing(np.abs(tf_cos))
    # ... so the partials through it are within two ulps of TensorFlow's
    for key in [("f", "v"), ("f", "x"), ("u", "x")]:
        ours, theirs = np.float32(float(shown[key])), np.float32(float(CHAIN_PARTIALS_TF_FLOAT32[key]))
        assert abs(ours - theirs) <= 2 * np.spacing(np.abs(theirs)), key


def test_float32_prints_tensorflow_2_21s_digits_every_one():
    """TensorFlow 2.21's float32 cos(4) is correctly rounded: there, every number is the same."""
    result = grad(CHAIN_PROGRAM, at={"x": 2}, of="f,u", wrt="u,v,x", dtype="float32")
    shown = {key: format_value(result.gradients[key[0]][key[1]]) for key in CHAIN_PARTIALS_TF221_FLOAT32}
    assert shown == CHAIN_PARTIALS_TF221_FLOAT32
    assert format_value(result.targets["f"]) == CHAIN_F_TF221_FLOAT32


@pytest.mark.parametrize("dtype", ["float32"])
def test_float32_cli_digits(dtype):
    from typer.testing import CliRunner

    from autodiff_cli.cli import app

    out = CliRunner().invoke(app, ["grad", "exp(sin(x^2))", "--at", "x=2", "--dtype", dtype]).stdout
    assert "f = 0.4691642\n" in out
    assert "0.4691641927" not in out
