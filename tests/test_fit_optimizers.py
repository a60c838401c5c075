"""`adiff fit --optimizer`: every update rule against a hand-written numpy implementation of
Keras 3's formula (keras/src/optimizers/sgd.py, adam.py, rmsprop.py) on a random problem,
several epochs, batch sizes 1, 3 and the whole set, float64 and float32; the step decay; and
the step plan's gradients against the engine's."""

from __future__ import annotations

import numpy as np
import pytest
from test_fit import NETWORK, PARAMS, random_problem

from autodiff_cli import training
from autodiff_cli.engine import forward, linearize, needed_nodes, reverse
from autodiff_cli.errors import AdiffError
from autodiff_cli.parse import parse
from autodiff_cli.plan import StepPlan


def backprop(x, y, p):
    """The loss and gradients of H = sigmoid(X·W1 + b1), P = H·W2 + b2, mse(P, Y) by hand."""
    h = 1 / (1 + np.exp(-(x @ p["W1"] + p["b1"])))
    out = h @ p["W2"] + p["b2"]
    dp = 2 * (out - y) / out.size
    dz1 = (dp @ p["W2"].T) * h * (1 - h)
    grads = {"W1": x.T @ dz1, "b1": dz1.sum(axis=0), "W2": h.T @ dp, "b2": dp.sum(axis=0)}
    return np.mean((out - y) ** 2), grads


class KerasByHand:
    """Keras 3's update_step of each optimizer, written out (m, v from zeros; t from 1)."""

    def __init__(self, name, lr, dtype, momentum=0.9, decay=1.0, every=0):
        self.name, self.lr, self.dtype, self.mu = name, lr, dtype, momentum
        self.decay, self.every, self.t, self.m, self.v = decay, every, 0, {}, {}

    def step(self, params, grads):
        lr = self.lr * self.decay ** (self.t // self.every) if self.every else self.lr
        self.t += 1
        for k, g in grads.items():
            w, c = params[k], self.dtype
            m = self.m.setdefault(k, np.zeros_like(w))
            v = self.v.setdefault(k, np.zeros_like(w))
            if self.name == "sgd":
                params[k] = w - c(lr) * g
            elif self.name in ("momentum", "nesterov"):
                m = c(self.mu) * m - c(lr) * g
                params[k] = w + m if self.name == "momentum" else w + c(self.mu) * m - c(lr) * g
            elif self.name == "adam":
                b1, b2 = c(0.9), c(0.999)
                alpha = c(lr) * np.sqrt(1 - b2 ** c(self.t)) / (1 - b1 ** c(self.t))
                m = m + (g - m) * (1 - b1)
                v = v + (g * g - v) * (1 - b2)
                params[k] = w - m * alpha / (np.sqrt(v) + c(1e-7))
            else:  # rmsprop
                v = c(0.9) * v + (1 - c(0.9)) * (g * g)
                params[k] = w - c(lr) * g / np.sqrt(v + c(1e-7))
            self.m[k], self.v[k] = m, v


def by_hand(data, name, lr, batch_size, epochs, seed, dtype, **settings):
    x_all, y_all = (np.asarray(data[k], dtype=dtype) for k in ("X", "Y"))
    params = {k: np.array(data[k], dtype=dtype) for k in PARAMS}
    opt, rng = KerasByHand(name, lr, dtype, **settings), np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(x_all))
        batch_losses = []
        for start in range(0, len(x_all), batch_size):
            rows = order[start:start + batch_size]
            loss, grads = backprop(x_all[rows], y_all[rows], params)
            batch_losses.append(loss)
            opt.step(params, grads)
        losses.append(np.mean(batch_losses))
    return params, losses


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam", "rmsprop"])
@pytest.mark.parametrize("batch_size", [1, 3, 7])
@pytest.mark.parametrize(("dtype", "rtol"), [(np.float64, 1e-9), (np.float32, 2e-4)])
def test_each_optimizer_is_keras_formula(name, batch_size, dtype, rtol):
    data = random_problem()
    lr = 0.1 if name in ("sgd", "momentum", "nesterov") else 0.01
    result = training.fit(parse(NETWORK), params=PARAMS, samples=["X", "Y"], inputs=data, optimizer=name,
                          lr=lr, batch_size=batch_size, epochs=4, seed=5, dtype=np.dtype(dtype).name)
    expected, losses = by_hand(data, name, lr, batch_size, 4, 5, dtype)
    for k in PARAMS:
        assert result.trained[k].dtype == dtype
        np.testing.assert_allclose(result.trained[k], expected[k], rtol=rtol, atol=rtol)
        assert not np.allclose(result.trained[k], data[k], rtol=1e-3, atol=1e-4), f"{k} did not move"
    np.testing.assert_allclose(result.epoch_losses, losses, rtol=rtol)
    assert result.optimizer_settings["name"] == name


def test_momentum_option_and_step_decay():
    data = random_problem()
    common = dict(params=PARAMS, samples=["X", "Y"], inputs=data, batch_size=2, epochs=3, seed=1)
    result = training.fit(parse(NETWORK), optimizer="nesterov", lr=0.2, momentum=0.5, lr_decay=0.5,
                          lr_decay_every=3, **common)
    expected, _ = by_hand(data, "nesterov", 0.2, 2, 3, 1, np.float64, momentum=0.5, decay=0.5, every=3)
    for k in PARAMS:
        np.testing.assert_allclose(result.trained[k], expected[k], rtol=1e-10, atol=1e-12)
    without = training.fit(parse(NETWORK), optimizer="nesterov", lr=0.2, momentum=0.5, **common)
    assert not np.allclose(without.trained["W1"], result.trained["W1"])
    assert result.optimizer_settings == {"name": "nesterov", "lr": 0.2, "momentum": 0.5, "lr_decay": 0.5,
                                         "lr_decay_every": 3, "rule": "m ← μ·m − η·g; w ← w + μ·m − η·g"}


def test_keras_default_learning_rates():
    data = random_problem()
    for name, lr in (("sgd", 0.01), ("adam", 0.001), ("rmsprop", 0.001)):
        result = training.fit(parse(NETWORK), params=PARAMS, samples=["X", "Y"], inputs=data, optimizer=name,
                              epochs=1, seed=0)
        assert result.lr == lr


@pytest.mark.parametrize("bad", [{"optimizer": "adagrad"}, {"momentum": 1.0}, {"lr_decay": 0.0},
                                 {"lr_decay_every": -1}, {"lr": -1.0}])
def test_bad_optimizer_settings(bad):
    with pytest.raises(AdiffError) as err:
        training.fit(parse(NETWORK), params=PARAMS, samples=["X", "Y"], inputs=random_problem(), **bad)
    assert err.value.exit_code == 2


PROGRAMS = [
    NETWORK,
    "H = relu(X @ W1 + b1); Z = H @ W2 + b2; loss = -mean(sum(Y * log(softmax(Z, axis=-1)), axis=-1))",
    "H = tanh(X @ W1) * b1; P = transpose(W2 @ transpose(H)) + b2; loss = mean(abs(P - Y)) + sum(W1^2) / 10",
    "P = sigmoid(X @ W1 + b1) @ W2 + b2; loss = (P - Y)^2",  # an array cost: its mean
    "P = max(X @ W1, 0.1) @ W2 + b2 + 0 * sum(b1); loss = binary_crossentropy(sigmoid(P), Y)",
    # relu's partial as the mask x > 0, its adjoint a scalar (the mean's, not yet spread) and an array
    "H = relu(X @ W1 + b1); loss = mean(relu(H @ W2 + b2 - Y)) + sum(relu(b1) * b1)",
]


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_plan_gradients_equal_the_engine(program, dtype):
    prog = parse(program)
    data = {k: np.asarray(v, dtype=dtype) for k, v in random_problem(n=5, seed=8).items()}
    data["Y"] = np.abs(data["Y"]) / np.abs(data["Y"]).sum(axis=1, keepdims=True)  # rows of probabilities
    cost = prog.target
    nodes = {k: prog.inputs[k] for k in PARAMS}
    plan = StepPlan(prog, cost, nodes, dtype)
    for step in range(2):  # the second pass runs the kernels specialised after the first
        loss, grads = plan.gradients(data)
        values, _ = forward(prog, data, dtype)
        lin = linearize(prog, values, needed_nodes(prog, [cost]))
        c = values[cost]
        seed = None if np.ndim(c) == 0 else np.full(np.shape(c), 1 / np.size(c), dtype=dtype)
        adjoints, _ = reverse(prog, lin, cost, seed)
        assert loss == pytest.approx(float(np.mean(c)), rel=1e-6 if dtype == np.float32 else 1e-15)
        for k, node in nodes.items():
            want = np.broadcast_to(adjoints.get(node, 0.0), np.shape(data[k]))
            assert grads[k].dtype == dtype, (step, k)
            np.testing.assert_allclose(grads[k], want, rtol=1e-5 if dtype == np.float32 else 1e-13,
                                       atol=1e-7 if dtype == np.float32 else 1e-15, err_msg=f"{step} {k}")
        data = {**data, "W1": data["W1"] * dtype(0.5)}


def _plan_and_engine(prog, data, nodes, convention):
    """The step plan's gradients and the engine's adjoints of the same cost at the same point."""
    _, grads = StepPlan(prog, prog.target, nodes, np.float64, convention).gradients(data)
    values, _ = forward(prog, data)
    lin = linearize(prog, values, needed_nodes(prog, [prog.target]), convention)
    return grads, reverse(prog, lin, prog.target)[0]


@pytest.mark.parametrize("convention", ["tensorflow", "pytorch", "jax"])
def test_the_plan_uses_the_convention_at_a_kink(convention):
    """abs and max at exactly their kinks: the plan takes each framework's value, as the engine."""
    prog = parse("P = abs(X @ W1) + max(X @ W2, b1); loss = mean((P - Y)^2)")
    data = {"X": np.array([[1.0, 0.0], [0.0, 1.0]]), "Y": np.ones((2, 2)),
            "W1": np.array([[0.0, 0.5], [-0.5, 0.0]]), "W2": np.array([[0.3, 0.0], [0.2, 0.0]]),
            "b1": np.array([0.3, 0.0])}
    nodes = {k: prog.inputs[k] for k in ("W1", "W2", "b1")}
    grads, adjoints = _plan_and_engine(prog, data, nodes, convention)
    for k, node in nodes.items():
        want = np.broadcast_to(adjoints[node], data[k].shape)
        np.testing.assert_allclose(grads[k], want, rtol=1e-15, err_msg=k)
    tf = StepPlan(prog, prog.target, nodes, np.float64, "tensorflow").gradients(data)[1]
    if convention == "jax":  # abs'(0) is 1 in JAX, 0 in TensorFlow: the gradients differ
        assert not np.array_equal(tf["W1"], grads["W1"])


@pytest.mark.parametrize("convention", ["tensorflow", "pytorch", "jax"])
def test_the_plan_takes_relu_as_zero_at_its_kink(convention):
    """relu at exactly 0 (X @ W1 + b1 has zeros): its partial there is 0 in every convention,
    in the plan's mask x > 0 as in the engine's rule; and 1 just above 0."""
    prog = parse("H = relu(X @ W1 + b1); loss = sum(H @ W2)")
    data = {"X": np.array([[1.0, 0.0], [0.0, 1.0]]), "W1": np.array([[0.0, 0.5], [-0.5, 1e-300]]),
            "b1": np.zeros(2), "W2": np.array([[1.0], [2.0]])}
    nodes = {k: prog.inputs[k] for k in ("W1", "b1", "W2")}
    grads, adjoints = _plan_and_engine(prog, data, nodes, convention)
    for k, node in nodes.items():
        np.testing.assert_array_equal(grads[k], np.broadcast_to(adjoints[node], data[k].shape), err_msg=k)
    # by hand: X @ W1 + b1 = [[0, 0.5], [-0.5, 1e-300]]: only the 0.5 and the 1e-300 pass W2 back
    np.testing.assert_array_equal(grads["W1"], [[0.0, 2.0], [0.0, 2.0]])
    np.testing.assert_array_equal(grads["b1"], [0.0, 4.0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_plans_own_kernels_give_the_engines_bits(dtype):
    """After the first pass the plan replays the mean of every element as sum/size and skips
    the dtype test of local partials (_specialise): the cost and the gradients stay bit for bit
    the engine's, in float64 and float32."""
    prog = parse("H = sigmoid(X @ W1 + b1); P = H @ W2 + b2; loss = mean((P - Y)^2) + mean(tanh(b1))")
    data = {k: np.asarray(v, dtype=dtype) for k, v in random_problem(n=7, seed=3).items()}
    nodes = {k: prog.inputs[k] for k in PARAMS}
    plan = StepPlan(prog, prog.target, nodes, dtype)
    plan.gradients(data)
    assert plan.specialised
    loss, grads = plan.gradients(data)
    values, _ = forward(prog, data, dtype)
    lin = linearize(prog, values, needed_nodes(prog, [prog.target]))
    adjoints, _ = reverse(prog, lin, prog.target)
    assert loss == float(values[prog.target])
    assert type(plan.forward(data)) is type(values[prog.target]) and plan.forward(data).dtype == dtype
    for k, node in nodes.items():
        np.testing.assert_array_equal(grads[k], np.broadcast_to(adjoints[node], data[k].shape), err_msg=k)
