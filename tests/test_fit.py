"""`adiff fit`: training checked against a hand-written numpy network and SGD, the lecture's
numbers for its 2-2-2 network, and bad input through the CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from autodiff_cli import training
from autodiff_cli.errors import AdiffError
from autodiff_cli.parse import parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANSI = re.compile(r"\x1b\[")

# REFERENCE.md section 4 (the lecture's from3: fixed initial weights, SGD, lr 1, batch size 1,
# 120 epochs, samples in order), copied here: the debug trace of the hidden layer's output and the
# network's output for the queries, as TensorFlow printed them (float32 digits).
FROM3 = """
X = [[0.9, 0.1], [0.1, 0.9]]
Y = [[0.1, 0.9], [0.9, 0.1]]
W1 = [[0.3, -0.8], [-0.4, 0.2]];  b1 = [0, 0]
W2 = [[0.3, -0.8], [-0.4, 0.2]];  b2 = [0, 0]
H = sigmoid(X @ W1 + b1)
P = H @ W2 + b2
loss = mse(P, Y)
"""
QUERY = [[0.9, 0.1], [0.1, 0.9], [0.8, 0.0], [0.2, 0.9]]
TRACE_H = [[0.12746507, 0.11996861], [0.21436849, 0.6516889], [0.14070073, 0.12929733],
           [0.19863003, 0.60348326]]
TRACE_P = [[0.1, 0.9], [0.9, 0.10000002], [0.11852115, 0.8831827], [0.82446176, 0.17439479]]
FROM3_ARGS = ["--params", "W1,b1,W2,b2", "--samples", "X,Y", "--batch-size", "1", "--lr", "1",
              "--epochs", "120", "--no-shuffle"]
QUERY_ARG = "X=[[0.9,0.1],[0.1,0.9],[0.8,0],[0.2,0.9]]"

NETWORK = "H = sigmoid(X @ W1 + b1); P = H @ W2 + b2; loss = mse(P, Y)"
PARAMS = ["W1", "b1", "W2", "b2"]


# =====================================================================================================
# The oracle: the same network and SGD written out by hand
# =====================================================================================================

def numpy_fit(data, lr, batch_size, epochs, seed=None, dtype=np.float64):
    """The 2-2-2 network trained by hand: forward pass, backpropagation by the chain rule,
    w ← w − lr·∂loss/∂w after each batch; batches in order, or shuffled by numpy's default_rng."""
    X, Y = (np.asarray(data[k], dtype=dtype) for k in ("X", "Y"))
    W1, b1, W2, b2 = (np.array(data[k], dtype=dtype) for k in PARAMS)
    lr = dtype(lr)
    rng = None if seed is None else np.random.default_rng(seed)
    epoch_losses = []
    n = len(X)
    for _ in range(epochs):
        order = np.arange(n) if rng is None else rng.permutation(n)
        losses = []
        for start in range(0, n, batch_size):
            rows = order[start:start + batch_size]
            x, y = X[rows], Y[rows]
            h = 1 / (1 + np.exp(-(x @ W1 + b1)))
            p = h @ W2 + b2
            losses.append(np.mean((p - y) ** 2))
            dp = 2 * (p - y) / p.size  # mse is the mean over every element of the batch
            dW2, db2 = h.T @ dp, dp.sum(axis=0)
            dz1 = (dp @ W2.T) * h * (1 - h)
            dW1, db1 = x.T @ dz1, dz1.sum(axis=0)
            W1, b1, W2, b2 = W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2
        epoch_losses.append(np.mean(losses))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, epoch_losses


def from3_data():
    prog = parse(FROM3)
    return {k: np.asarray(v) for k, v in prog.defaults.items()}


def fit_from3(**options):
    settings = dict(params=PARAMS, samples=["X", "Y"], lr=1, batch_size=1, epochs=120, shuffle=False)
    return training.fit(parse(FROM3), **{**settings, **options})


# =====================================================================================================
# The library
# =====================================================================================================

@pytest.mark.parametrize(("dtype", "atol"), [("float64", 1e-6), ("float32", 1e-5)])
def test_from3_reproduces_the_lecture_trace(dtype, atol):
    result = fit_from3(dtype=dtype, predict=["H", "P"], query={"X": np.array(QUERY)})
    assert result.predictions["P"].dtype == np.dtype(dtype)
    np.testing.assert_allclose(result.predictions["H"], TRACE_H, atol=atol)
    np.testing.assert_allclose(result.predictions["P"], TRACE_P, atol=atol)
    # The figures: P for [0.8, 0] about [0.1185, 0.8832], for [0.2, 0.9] about [0.8245, 0.1744].
    np.testing.assert_allclose(result.predictions["P"][2:], [[0.1185, 0.8832], [0.8245, 0.1744]], atol=1e-4)
    assert result.loss_after < 1e-12 < result.loss_before


def test_every_column_of_the_fit_tables_has_a_title():
    """The query table's row numbers too (its first column): every table fit prints, with a
    check, a validation split, a metric and a query."""
    from autodiff_cli.render_fit import fit_tables

    result = fit_from3(epochs=3, check_gradient=True, validation_split=0.5, metric="accuracy",
                       metric_output="P", predict=["P", "H"], query={"X": np.array(QUERY)})
    tables = fit_tables(result)
    assert "Predictions at the query" in [t.title for t in tables]
    for table in tables:
        assert all(c.strip() for c in table.columns), (table.title, table.columns)
    (query,) = [t for t in tables if t.title == "Predictions at the query"]
    assert query.columns == ["#", "X", "P", "H"] and [r[0] for r in query.rows] == ["1", "2", "3", "4"]


def test_from3_float32_and_float64_agree():
    a = fit_from3(predict=["P"], query={"X": np.array(QUERY)}).predictions["P"]
    b = fit_from3(dtype="float32", predict=["P"], query={"X": np.array(QUERY)}).predictions["P"]
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_from3_matches_the_hand_written_network():
    result = fit_from3()
    expected, losses = numpy_fit(from3_data(), lr=1, batch_size=1, epochs=120)
    for name in PARAMS:
        np.testing.assert_allclose(result.trained[name], expected[name], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(result.epoch_losses, losses, rtol=1e-9, atol=1e-20)
    assert result.steps_done == 240


def random_problem(n=7, seed=3):
    rng = np.random.default_rng(seed)
    return {"X": rng.uniform(-1, 1, (n, 2)), "Y": rng.uniform(0, 1, (n, 2)),
            "W1": rng.normal(0, 0.8, (2, 2)), "b1": rng.normal(0, 0.1, 2),
            "W2": rng.normal(0, 0.8, (2, 2)), "b2": rng.normal(0, 0.1, 2)}


@pytest.mark.parametrize("batch_size", [1, 3, 7])
@pytest.mark.parametrize(("dtype", "rtol"), [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_shuffled_batches_match_the_hand_written_network(batch_size, dtype, rtol):
    data = random_problem()
    result = training.fit(parse(NETWORK), params=PARAMS, samples=["X", "Y"], inputs=data, lr=0.5,
                          batch_size=batch_size, epochs=5, seed=11, dtype=np.dtype(dtype).name)
    expected, losses = numpy_fit(data, lr=0.5, batch_size=batch_size, epochs=5, seed=11, dtype=dtype)
    for name in PARAMS:
        assert result.trained[name].dtype == dtype
        np.testing.assert_allclose(result.trained[name], expected[name], rtol=rtol, atol=rtol)
    np.testing.assert_allclose(result.epoch_losses, losses, rtol=rtol)
    assert result.steps_done == 5 * -(-7 // batch_size)


def test_an_array_cost_is_reduced_by_its_mean():
    data = random_problem()
    common = dict(params=PARAMS, samples=["X", "Y"], inputs=data, lr=0.5, batch_size=3, epochs=3, seed=1)
    by_mse = training.fit(parse(NETWORK), **common)
    by_array = training.fit(parse(NETWORK.replace("mse(P, Y)", "(P - Y)^2")), **common)
    for name in PARAMS:
        np.testing.assert_allclose(by_array.trained[name], by_mse.trained[name], rtol=1e-13)


def test_a_batch_keeps_the_sample_axis():
    # X[0, :] needs a 2-D batch: a batch of one row of X is 1×2, not a vector of 2.
    prog = parse("X = [[1, 2], [3, 4], [5, 6]]; Y = [[1], [2], [3]]; w = [0.1, 0.2]\n"
                 "loss = mean((sum(X[0, :] * w) - Y[0, 0])^2)")
    result = training.fit(prog, params=["w"], samples=["X", "Y"], batch_size=1, lr=0.01, epochs=2,
                          shuffle=False)
    assert result.steps_done == 6


def test_seed_makes_shuffling_reproducible():
    data = random_problem()
    common = dict(params=PARAMS, samples=["X", "Y"], inputs=data, lr=0.5, batch_size=2, epochs=3)
    a = training.fit(parse(NETWORK), seed=5, **common)
    b = training.fit(parse(NETWORK), seed=5, **common)
    c = training.fit(parse(NETWORK), seed=6, **common)
    drawn = training.fit(parse(NETWORK), **common)
    np.testing.assert_array_equal(a.trained["W1"], b.trained["W1"])
    assert not np.array_equal(a.trained["W1"], c.trained["W1"])
    again = training.fit(parse(NETWORK), seed=drawn.seed, **common)  # a drawn seed is reported
    np.testing.assert_array_equal(drawn.trained["W1"], again.trained["W1"])


def test_progress_goes_to_the_callback_and_nothing_is_printed(capsys):
    seen = []
    result = fit_from3(epochs=3, progress=seen.append)
    assert [(p.epoch, p.step, p.end_of_epoch) for p in seen] == [
        (1, 1, False), (1, 2, True), (2, 1, False), (2, 2, True), (3, 1, False), (3, 2, True)]
    assert [p.loss for p in seen if p.end_of_epoch] == result.epoch_losses
    assert capsys.readouterr() == ("", "")


def test_gradient_check_of_the_first_step():
    result = fit_from3(epochs=1, check_gradient=True)
    assert [c.name for c in result.gradient_check] == PARAMS
    assert all(c.agree and c.max_abs_error < 1e-8 for c in result.gradient_check)
    assert result.exit_code == 0


@pytest.fixture
def doubled_gradients(monkeypatch):
    """Every gradient twice what it should be: a bug of the kind a hand-written layer invites."""
    right = training.Plan.gradients

    def doubled(self, inputs):
        loss, grads = right(self, inputs)
        return loss, {k: 2 * g for k, g in grads.items()}

    monkeypatch.setattr(training.Plan, "gradients", doubled)


@pytest.mark.usefixtures("doubled_gradients")
def test_a_wrong_gradient_stops_training():
    result = fit_from3(check_gradient=True)
    assert result.check_failed and result.exit_code == 1
    assert result.steps_done == 0
    for name in PARAMS:
        np.testing.assert_array_equal(result.trained[name], result.initial[name])


def test_notes_for_a_large_batch_and_an_unused_parameter():
    prog = parse(FROM3 + "unused = [1, 2]\nloss2 = loss + 0 * sum(W1)\n")
    result = training.fit(prog, params=["W1", "unused"], samples=["X", "Y"], batch_size=5, lr=0.1, seed=0)
    assert any("larger than the 2 samples" in n for n in result.notes)
    assert any("does not depend on unused" in n for n in result.notes)
    assert result.steps_done == 1


def test_nodes_the_cost_does_not_use_are_not_evaluated():
    # An expect line and a statement over the whole sample set would not fit a batch's shapes.
    prog = parse(FROM3 + "whole = X + [[1, 2], [3, 4]]\nexpect sum(Y) == 2\nloss = mse(P, Y)\n")
    result = training.fit(prog, params=PARAMS, samples=["X", "Y"], batch_size=1, lr=1, shuffle=False)
    assert result.steps_done == 2


def test_library_errors():
    with pytest.raises(AdiffError, match="did you mean W1"):
        fit_from3(params=["W_1", "b1"])
    with pytest.raises(AdiffError, match=r"first axes differ: X \(3, 2\), Y \(2, 2\)"):
        fit_from3(inputs={"X": np.ones((3, 2))})
    with pytest.raises(AdiffError, match="not finite"):
        fit_from3(inputs={"X": np.array([[np.nan, 0], [0, 0]])})
    for bad in ({"lr": 0}, {"lr": float("nan")}, {"batch_size": 0}, {"epochs": 0}, {"dtype": "int8"},
                {"optimizer": "adagrad"}, {"params": []}, {"samples": []}):
        with pytest.raises(AdiffError) as err:
            fit_from3(**bad)
        assert err.value.exit_code == 2


def test_divergence_names_the_epoch_the_step_and_the_node():
    prog = parse("X = [1, 2, 3]; Y = [2, 4, 6]; w = 0.5\nloss = mean((X*w - Y)^2)")
    with pytest.raises(training.TrainingStopped) as err:
        training.fit(prog, params=["w"], samples=["X", "Y"], lr=1e3, batch_size=1, epochs=100, shuffle=False)
    assert err.value.exit_code == 1
    assert re.search(r"training diverged at epoch \d+, step \d+: .*(forward|reverse) pass", err.value.message)


# =====================================================================================================
# The command line
# =====================================================================================================

@pytest.mark.parametrize(("dtype", "atol"), [("float64", 1e-6), ("float32", 1e-5)])
def test_cli_from3_json(run, dtype, atol):
    code, out, _ = run("fit", FROM3, *FROM3_ARGS, "--predict", "P", "--show", "H", "--query", QUERY_ARG,
                       "--dtype", dtype, "--json")
    assert code == 0
    doc = json.loads(out)
    np.testing.assert_allclose(doc["predictions"]["P"], TRACE_P, atol=atol)
    np.testing.assert_allclose(doc["predictions"]["H"], TRACE_H, atol=atol)
    assert len(doc["epoch_losses"]) == 120 and doc["steps"] == 240
    assert doc["optimizer"] == {"name": "sgd", "lr": 1.0, "rule": "w ← w − η·g"}
    assert set(doc["trained"]) == set(PARAMS)
    assert doc["query"]["X"] == QUERY


def test_cli_text_output_piped(run):
    code, out, err = run("fit", "-f", os.path.join(ROOT, "samples", "dense_2_2_2.adiff"), *FROM3_ARGS,
                         "--predict", "P", "--query", QUERY_ARG, "--check-gradient")
    assert code == 0, err
    assert not ANSI.search(out)
    epochs = re.findall(r"^epoch (\d+)/120: loss \S+$", out, re.M)
    assert epochs == ["1", *map(str, range(12, 121, 12))]
    assert "Trained W1, b1, W2, b2 on 2 samples (X, Y) to lower loss: SGD, lr 1, batch size 1" in out
    assert re.search(r"^  3 +\[0.8, 0\] +\[0.11852\d*, 0.88318\d*\]$", out, re.M)
    assert "Gradient check at the first step" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--params", "W_1,b1"], "did you mean W1?"),
    (["--samples", "X,Z"], "--samples Z: the program has no input named 'Z'"),
    (["--at", "X=[[1, 2], [3, 4], [5, 6]]"], "first axes differ: X (3, 2), Y (2, 2)"),
    (["--lr", "0"], "--lr must be a positive number"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--optimizer", "adagrad"], "unknown optimizer 'adagrad'"),
    (["--dtype", "float16"], "unknown dtype"),
    (["--cost", "lost"], "did you mean loss?"),
    (["--predict", "Q", "--query", "X=[[1, 2]]"], "--predict Q"),
    (["--query", "X=[[1, 2]]"], "--query gives inputs for --predict"),
    (["--params", "W1,X"], "X is named by --params and by --samples"),
])
def test_cli_bad_input_exit_code_2(run, args, message):
    base = {"--params": "W1,b1,W2,b2", "--samples": "X,Y", "--epochs": "2"}
    given = dict(zip(args[::2], args[1::2], strict=True))
    merged = [*[x for k, v in base.items() if k not in given for x in (k, v)], *args]
    code, out, err = run("fit", FROM3, *merged)
    assert code == 2, out + err
    assert message in err
    assert err.startswith("error") and "Traceback" not in err


def test_cli_divergence_exit_code_1(run):
    code, _, err = run("fit", "X = [1, 2, 3]; Y = [2, 4, 6]; w = 0.5; loss = mean((X*w - Y)^2)",
                       "--params", "w", "--samples", "X,Y", "--lr", "1000", "--epochs", "100")
    assert code == 1
    assert "training diverged at epoch" in err


@pytest.mark.usefixtures("doubled_gradients")
def test_cli_check_gradient_disagreement_exit_code_1(run):
    code, out, _ = run("fit", FROM3, *FROM3_ARGS, "--check-gradient")
    assert code == 1
    assert "training did not start" in out and "Parameters" not in out


def test_ctrl_c_stops_after_a_step_and_shows_the_state(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "autodiff_cli", "fit", FROM3, *FROM3_ARGS[:-3],
                             "--epochs", "1000000"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
    first = proc.stdout.readline()  # epoch 1's line: training is under way
    assert first.startswith("epoch 1/1000000: loss")
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted: stopped after" in err
    assert "Parameters" in out and "W1" in out


def test_every_fit_option_is_in_the_readme(run):
    """The README's section and `adiff fit --help` stay in step."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    code, out, _ = run("fit", "--help")
    assert code == 0
    options = set(re.findall(r"(--[a-z][a-z-]+)", out)) - {"--help"}
    assert {"--params", "--samples", "--no-shuffle", "--check-gradient"} <= options
    missing = sorted(o for o in options if o not in readme)
    assert not missing, f"{missing} are not in the README"
    assert "## Training: `adiff fit`" in readme


def test_the_finiteness_check_of_the_gradients():
    """Small gradients are summed as Python floats, large ones by numpy: an inf or a nan in
    either is caught, and a sum that overflows from finite elements is not taken for one."""
    from autodiff_cli.training import _all_finite

    small, large = np.ones((2, 2)), np.ones((30, 30))
    assert _all_finite({"a": small, "b": large, "c": np.float64(2.0)})
    for where in ("a", "b"):
        for bad in (np.inf, -np.inf, np.nan):
            grads = {"a": small.copy(), "b": large.copy()}
            grads[where][1, 1] = bad
            assert not _all_finite(grads), (where, bad)
    with np.errstate(all="ignore"):
        assert _all_finite({"a": np.full(100, 1e308), "b": np.full((2, 2), 3e38, dtype=np.float32)})
