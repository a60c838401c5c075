"""`adiff fit` beyond SGD: initialisers drawn as Keras draws them and --seed in every command,
--save (the program written back, atomically), --validation-split, --metric accuracy, --json,
--plot, and Ctrl-C with --save."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from test_fit import FROM3, FROM3_ARGS, NETWORK, PARAMS, ROOT, numpy_fit, random_problem

from autodiff_cli import training
from autodiff_cli.initialisers import TRUNCATED_STDDEV, seeded
from autodiff_cli.parse import parse

# =====================================================================================================
# Initialisers
# =====================================================================================================


def drawn(call, seed=0):
    with seeded(seed):
        prog = parse(f"W = {call}\nf = sum(W)")
    return np.asarray(prog.defaults["W"])


@pytest.mark.parametrize(("call", "fan_in", "fan_out", "scale", "mode"), [
    ("glorot_uniform(300, 200)", 300, 200, 1.0, "avg"),
    ("he_uniform(300, 200)", 300, 200, 2.0, "in"),
    ("glorot_uniform(3, 3, 40, 20)", 360, 180, 1.0, "avg"),  # a conv kernel: fans times the field
])
def test_uniform_initialisers_follow_keras_limits(call, fan_in, fan_out, scale, mode):
    w = drawn(call)
    limit = math.sqrt(3 * scale / (fan_in if mode == "in" else (fan_in + fan_out) / 2))
    if call.startswith("glorot_uniform(300"):
        assert limit == pytest.approx(math.sqrt(6 / (300 + 200)))  # the issue's ±sqrt(6/(fan_in+fan_out))
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert abs(w.mean()) < 0.02 * limit
    assert w.var() == pytest.approx(limit**2 / 3, rel=0.03)  # the variance of U(-l, l)


@pytest.mark.parametrize(("call", "stddev"), [
    ("glorot_normal(300, 200)", math.sqrt(2 / 500)),
    ("he_normal(300, 200)", math.sqrt(2 / 300)),
])
def test_normal_initialisers_are_truncated_normals(call, stddev):
    w = drawn(call)
    cut = 2 * stddev / TRUNCATED_STDDEV  # two standard deviations of the normal before truncation
    assert np.abs(w).max() <= cut and np.abs(w).max() > 0.98 * cut
    assert w.std() == pytest.approx(stddev, rel=0.03)  # Keras's correction keeps the wanted stddev


def test_plain_random_initialisers_zeros_and_ones():
    u = drawn("random_uniform([400, 100], 2, 5)")
    assert u.shape == (400, 100) and 2 <= u.min() and u.max() < 5 and u.mean() == pytest.approx(3.5, abs=0.02)
    n = drawn("random_normal([400, 100], 1, 0.5)")
    assert n.mean() == pytest.approx(1, abs=0.01) and n.std() == pytest.approx(0.5, rel=0.02)
    assert np.abs(n - 1).max() > 1.5  # not truncated
    assert drawn("random_uniform(3)").shape == (3,) and np.abs(drawn("random_uniform(3)")).max() <= 0.05
    assert drawn("zeros(2, 3)").tolist() == [[0] * 3] * 2 and drawn("ones(2)").tolist() == [1, 1]


def test_seeds_make_the_same_numbers():
    text = ("A = glorot_uniform(2, 3)\nB = glorot_uniform(2, 3)\nC = he_normal(4, seed=9)\n"
            "f = sum(A @ transpose(B)) + sum(C)")
    with seeded(3):
        one, two = parse(text), parse(text)
    with seeded(4):
        other = parse(text)
    d1, d2, d3 = one.defaults, two.defaults, other.defaults
    np.testing.assert_array_equal(d1["A"], d2["A"])
    assert not np.array_equal(d1["A"], d1["B"])  # two calls, two draws
    assert not np.array_equal(d1["A"], d3["A"])
    np.testing.assert_array_equal(d1["C"], d3["C"])  # seed=9 in the call holds whatever --seed says
    with seeded(None):  # no --seed: the fixed default, 0
        default = parse(text).defaults
    with seeded(0):
        np.testing.assert_array_equal(parse(text).defaults["A"], default["A"])


def test_every_command_reads_the_same_numbers(run, tmp_path):
    path = tmp_path / "glorot.adiff"
    with open(os.path.join(ROOT, "samples", "dense_glorot.adiff"), encoding="utf-8") as f:
        path.write_text(f.read())
    with seeded(7):
        want = {k: np.asarray(v).tolist() for k, v in parse(path.read_text()).defaults.items()}
    code, out, err = run("grad", "-f", str(path), "--seed", "7", "--wrt", "W1", "--json")
    assert code == 0, err
    assert json.loads(out)["inputs"]["W1"] == want["W1"]
    code, out, err = run("fit", "-f", str(path), "--params", "W1,b1,W2,b2", "--samples", "X,Y", "--seed", "7",
                         "--epochs", "1", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["initial"]["W1"] == want["W1"] and doc["initial"]["W2"] == want["W2"] and doc["seed"] == 7
    assert doc["initial"]["b1"] == [0, 0]
    code, out, err = run("compare", "-f", str(path), "--seed", "7", "--json")
    assert code == 0, err
    code, out, err = run("run", str(path), "--seed", "7")
    assert code == 0, err


# =====================================================================================================
# --save
# =====================================================================================================

LINEAR = """# y = 2x + 0.5, to be learned
X = [[1], [2], [3], [4]]
Y = [[2.5], [4.5], [6.5], [8.5]]   # targets
w = [[0.1]]; b = 0                 # initial values
P = X @ w + b

loss = mse(P, Y)   # the cost
"""


def test_save_writes_the_trained_values_back(run, tmp_path):
    source = tmp_path / "linear.adiff"
    source.write_text(LINEAR)
    saved = tmp_path / "trained.adiff"
    code, out, err = run("fit", "-f", str(source), "--params", "w,b", "--samples", "X,Y", "--batch-size", "4",
                         "--lr", "0.05", "--epochs", "3000", "--no-shuffle", "--save", str(saved), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["saved"] == str(saved)
    assert source.read_text() == LINEAR  # the input file is not touched
    text = saved.read_text()
    old, new = LINEAR.splitlines(), text.splitlines()
    changed = [a for a, b in zip(old, new, strict=True) if a != b]
    assert changed == ["w = [[0.1]]; b = 0                 # initial values"]
    assert new[3].endswith("                 # initial values")
    prog = parse(text)
    assert np.asarray(prog.defaults["w"]).tolist() == doc["trained"]["w"]  # every float64 digit
    assert float(prog.defaults["b"]) == doc["trained"]["b"]
    assert doc["trained"]["w"][0][0] == pytest.approx(2, abs=1e-6)
    assert doc["trained"]["b"] == pytest.approx(0.5, abs=1e-5)
    code, out, err = run("grad", "-f", str(saved), "--wrt", "w,b", "--json")
    assert code == 0, err
    grads = json.loads(out)["gradients"]["loss"]
    assert abs(grads["w"][0][0]) < 1e-8 and abs(grads["b"]) < 1e-8  # a minimum: the gradient is 0
    for command in (["compare", "-f", str(saved)], ["run", str(saved)],
                    ["fit", "-f", str(saved), "--params", "w,b", "--samples", "X,Y"]):
        code, _, err = run(*command)
        assert code == 0, (command, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["linear.adiff", "trained.adiff"]  # no temporary


def test_save_replaces_initialisers_and_multi_line_arrays(run, tmp_path):
    source = tmp_path / "net.adiff"
    source.write_text(FROM3.replace("W1 = [[0.3, -0.8], [-0.4, 0.2]]", "W1 = [[0.3, -0.8],  # first row\n"
                                    "      [-0.4, 0.2]]").replace("b2 = [0, 0]", "b2 = zeros(2)")
                      + "W3 = glorot_uniform(2, 2)\n")
    code, out, err = run("fit", "-f", str(source), "--params", "W1,b1,W2,b2", "--samples", "X,Y",
                         "--epochs", "3", "--batch-size", "1", "--dtype", "float32", "--save", str(source),
                         "--json")
    assert code == 0, err
    doc = json.loads(out)
    text = source.read_text()
    assert "zeros" not in text and "glorot_uniform(2, 2)" in text  # W3 was not trained
    prog = parse(text)
    for name in PARAMS:
        assert np.asarray(prog.defaults[name], dtype=np.float32).tolist() == doc["trained"][name]
    assert "H = sigmoid(X @ W1 + b1)" in text and text.count("\n") == FROM3.count("\n") + 1


def test_no_save_after_divergence_and_save_after_ctrl_c(run, tmp_path):
    source = tmp_path / "diverges.adiff"
    program = "X = [1, 2, 3]; Y = [2, 4, 6]; w = 0.5\nloss = mean((X*w - Y)^2)\n"
    source.write_text(program)
    code, _, err = run("fit", "-f", str(source), "--params", "w", "--samples", "X,Y", "--lr", "1e3",
                       "--batch-size", "1", "--epochs", "100", "--save", str(source))
    assert code == 1 and "diverged" in err
    assert source.read_text() == program

    saved = tmp_path / "stopped.adiff"
    proc = subprocess.Popen([sys.executable, "-m", "autodiff_cli", "fit", FROM3, *FROM3_ARGS[:-3],
                             "--epochs", "1000000", "--save", str(saved)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
    assert proc.stdout.readline().startswith("epoch 1/1000000: loss")
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert f"saved the trained program to {saved}" in out
    prog = parse(saved.read_text())
    assert not np.array_equal(prog.defaults["W1"], [[0.3, -0.8], [-0.4, 0.2]])


# =====================================================================================================
# --validation-split, --metric accuracy, --json, --plot
# =====================================================================================================

def test_validation_split_holds_out_the_last_samples():
    data = random_problem(n=10, seed=4)
    result = training.fit(parse(NETWORK), params=PARAMS, samples=["X", "Y"], inputs=data, lr=0.5,
                          batch_size=3, epochs=4, seed=2, validation_split=0.25)
    assert result.n_samples == 8 and result.n_validation == 2  # Keras: ceil(10 · 0.75) to train
    train = {k: v[:8] if k in ("X", "Y") else v for k, v in data.items()}
    expected, losses = numpy_fit(train, lr=0.5, batch_size=3, epochs=4, seed=2)
    for k in PARAMS:
        np.testing.assert_allclose(result.trained[k], expected[k], rtol=1e-12)
    np.testing.assert_allclose(result.epoch_losses, losses, rtol=1e-12)
    h = 1 / (1 + np.exp(-(data["X"][8:] @ expected["W1"] + expected["b1"])))
    held_out = np.mean((h @ expected["W2"] + expected["b2"] - data["Y"][8:]) ** 2)
    assert len(result.validation_losses) == 4
    assert result.validation_losses[-1] == pytest.approx(held_out, rel=1e-12)


def test_accuracy_is_argmax_agreement():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(30, 3))
    labels = np.argmax(x @ rng.normal(size=(3, 4)), axis=1)
    data = {"X": x, "Y": np.eye(4)[labels], "W": rng.normal(0, 0.1, (3, 4)), "b": np.zeros(4)}
    program = "Z = X @ W + b; loss = -mean(sum(Y * log(softmax(Z, axis=-1)), axis=-1))"
    result = training.fit(parse(program), params=["W", "b"], samples=["X", "Y"], inputs=data, lr=0.5,
                          batch_size=5, epochs=6, seed=0, validation_split=0.2, metric="accuracy",
                          metric_output="Z")
    z = x @ result.trained["W"] + result.trained["b"]
    right = np.argmax(z, axis=1) == labels
    assert result.accuracy[-1] == pytest.approx(right[:24].mean()) and len(result.accuracy) == 6
    assert result.validation_accuracy[-1] == pytest.approx(right[24:].mean())
    assert result.accuracy[-1] > result.accuracy[0] or result.accuracy[0] == 1


def test_json_document(run):
    code, out, err = run("fit", FROM3, *FROM3_ARGS[:-3], "--epochs", "5", "--optimizer", "adam",
                         "--lr", "0.1", "--validation-split", "0.5", "--seed", "3", "--predict", "P",
                         "--metric", "accuracy", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["optimizer"] == {"name": "adam", "lr": 0.1, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
                                "rule": doc["optimizer"]["rule"]}
    assert "√v + ε" in doc["optimizer"]["rule"]
    assert doc["seed"] == 3 and doc["n_samples"] == 1 and doc["n_validation"] == 1
    assert len(doc["epoch_losses"]) == len(doc["validation_losses"]) == len(doc["accuracy"]) == 5
    assert doc["metric"] == "accuracy" and set(doc["trained"]) == set(PARAMS) and "P" in doc["predictions"]


def test_plot_to_an_image_and_to_the_terminal(run, tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("plotext")
    for name, magic in (("loss.png", b"\x89PNG"), ("loss.svg", b"<?xml")):
        code, _, err = run("fit", FROM3, *FROM3_ARGS[:-3], "--epochs", "5", "--plot", str(tmp_path / name))
        assert code == 0, err
        assert (tmp_path / name).read_bytes().startswith(magic)
    code, out, err = run("fit", FROM3, *FROM3_ARGS[:-3], "--epochs", "5", "--validation-split", "0.5",
                         "--plot", "-")
    assert code == 0, err
    assert "loss per epoch" in out and "validation loss" in out and "\x1b[" not in out


@pytest.mark.parametrize(("args", "message"), [
    (["--validation-split", "1"], "--validation-split must be at least 0 and below 1"),
    (["--validation-split", "0.1"], "leaves 2 to train on and 0 to validate"),
    (["--metric", "accuracy"], "name it with --predict P"),
    (["--metric", "recall", "--predict", "P"], "unknown metric 'recall'"),
    (["--plot", "loss.jpg"], "must end in .png or .svg"),
    (["--save", "out.txt"], "saved to a .adiff file"),
    (["--momentum", "1.5", "--optimizer", "momentum"], "--momentum must be at least 0 and below 1"),
    (["--optimizer", "sgdd"], "unknown optimizer 'sgdd': one of sgd, momentum, nesterov, adam, rmsprop"),
])
def test_cli_bad_options_exit_code_2(run, args, message):
    code, out, err = run("fit", FROM3, "--params", "W1,b1,W2,b2", "--samples", "X,Y", *args)
    assert code == 2, out + err
    assert message in err and "Traceback" not in err


def test_a_save_that_cannot_be_done(run, tmp_path):
    """A parameter with no value in the program fails before training; a folder that cannot be
    written fails after it, with the results shown first."""
    program = "X = [1, 2]; Y = [2, 4]; loss = mean((X*w - Y)^2)"
    code, out, err = run("fit", program, "--at", "w=0.5", "--params", "w", "--samples", "X,Y",
                         "--save", str(tmp_path / "out.adiff"))
    assert code == 2 and out == "" and "w has no value written in the program" in err
    code, out, err = run("fit", "X = [1, 2]; Y = [2, 4]; w = 0.5\nloss = mean((X*w - Y)^2)", "--params", "w",
                         "--samples", "X,Y", "--save", str(tmp_path / "missing" / "out.adiff"))
    assert code == 2 and "Parameters" in out and "cannot write there" in err
    assert list(tmp_path.iterdir()) == []


def test_piped_epoch_lines_carry_the_validation_figures(run):
    code, out, err = run("fit", FROM3, *FROM3_ARGS[:-3], "--epochs", "3", "--validation-split", "0.5",
                         "--predict", "P", "--metric", "accuracy", "--json")
    assert code == 0, err
    doc = json.loads(out)
    code, out, err = run("fit", FROM3, *FROM3_ARGS[:-3], "--epochs", "3", "--validation-split", "0.5",
                         "--predict", "P", "--metric", "accuracy")
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith(f"epoch 1/3: loss {doc['epoch_losses'][0]:.6g}, validation loss ")
    assert f"validation loss {doc['validation_losses'][0]:.6g}, accuracy " in first
    assert first.endswith(f", validation accuracy {doc['validation_accuracy'][0]:g}")


def test_accuracy_of_one_probability_per_sample_is_thresholded():
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    data = {"X": x, "Y": np.array([[0.0], [1.0], [1.0], [0.0]]), "W": np.array([[2.0], [2.0]]), "b": -1.0}
    program = "P = sigmoid(X @ W + b); loss = binary_crossentropy(P, Y)"
    result = training.fit(parse(program), params=["W", "b"], samples=["X", "Y"], inputs=data, lr=1e-9,
                          batch_size=2, epochs=1, shuffle=False, metric="accuracy", metric_output="P")
    p = 1 / (1 + np.exp(-(x @ result.trained["W"] + result.trained["b"])))  # 0.27, 0.73, 0.73, 0.95
    assert result.accuracy == [np.mean((p > 0.5) == (data["Y"] > 0.5))] == [0.75]
