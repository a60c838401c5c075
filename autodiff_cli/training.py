"""Training a program's parameters on sample arrays, as Keras's model.fit does: the library
half of `adiff fit`.

Each step takes a batch of rows of the sample arrays (their first axis is the sample axis; a
batch keeps the shape, so one row of a 2×2 X is 1×2), runs the engine's forward pass,
linearization and reverse pass on the cost, and moves every parameter against its gradient:

    w ← w − lr · ∂cost/∂w                                    (SGD, Keras's optimizer "sgd")

A cost that is an array is reduced by its mean, as Keras does. Nothing here prints: progress
goes to a callback, the outcome is a plain FitResult.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .checks import auto_step, central_difference, close
from .engine import Diagnostic, first_nonfinite, forward, linearize, needed_nodes, reverse
from .errors import EXIT_CHECK, AdiffError, NameLookupError, UsageError
from .graph import Program
from .inputs import COMPARE_ATOL, COMPARE_RTOL, dtype_named, input_values

OPTIMIZERS = ("sgd",)
CHECK_ELEMENTS = 2_000  # per parameter, for the finite-difference check of the first step


class TrainingStopped(AdiffError):
    """Training cannot go on: the loss or a gradient became non-finite (exit code 1)."""

    exit_code = EXIT_CHECK


@dataclass
class Progress:
    """What the progress callback receives after every step."""

    epoch: int  # 1-based
    epochs: int
    step: int  # within the epoch, 1-based
    steps: int  # per epoch
    loss: float  # the mean of this epoch's batch losses so far (Keras's running loss)
    seconds: float  # since training began
    end_of_epoch: bool


@dataclass
class GradientCheck:
    """A parameter's reverse-mode gradient at the first step against central differences."""

    name: str
    reverse: Any
    finite_difference: Any
    eps: float
    max_abs_error: float
    agree: bool
    elements_checked: int


@dataclass
class FitResult:
    """Everything `adiff fit` shows: losses, trained parameters, predictions, the check."""

    params: list[str]
    samples: list[str]
    cost: str
    optimizer: str
    lr: float
    batch_size: int
    epochs: int
    shuffle: bool
    seed: int | None  # of the shuffling; None when the batches are taken in order
    dtype: str
    n_samples: int
    initial: dict[str, Any]  # parameter -> value before training
    trained: dict[str, Any]  # parameter -> value after training (or where it stopped)
    loss_before: float  # the cost over all samples at the initial parameters (batch by batch)
    loss_after: float | None  # the same at the trained parameters
    epoch_losses: list[float] = field(default_factory=list)  # mean batch loss of each epoch
    steps_done: int = 0
    seconds: float = 0.0
    query: dict[str, Any] = field(default_factory=dict)  # the query inputs, as given
    predictions: dict[str, Any] = field(default_factory=dict)  # node name -> value at the query
    gradient_check: list[GradientCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    interrupted: bool = False  # stopped by Ctrl-C after a whole step

    @property
    def check_failed(self) -> bool:
        return any(not c.agree for c in self.gradient_check)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return EXIT_CHECK if self.check_failed else 0


def _closest(name: str, names: list[str]) -> str:
    near = difflib.get_close_matches(name, names, n=1)
    return f"did you mean {near[0]}? " if near else ""


def _lookup(program: Program, names: list[str], option: str, inputs_only: bool = True) -> list[int]:
    """Each name's node; a name the program lacks is an error naming the closest one."""
    pool = program.inputs if inputs_only else {**program.inputs, **program.bindings}
    kind = "input" if inputs_only else "node"
    nodes = []
    for name in names:
        if name not in pool:
            known = list(pool)
            raise NameLookupError(f"{option} {name}: the program has no {kind} named '{name}' "
                                  f"({_closest(name, known)}its {kind}s: {', '.join(known) or 'none'})")
        nodes.append(pool[name])
    return nodes


def _finite(value: Any) -> bool:
    return bool(np.isfinite(value).all())


def _unused(program: Program, nodes: list[int]) -> dict[int, Any]:
    """A placeholder for every node the given nodes do not need, for the forward pass's
    overrides: statements and expect lines they do not use are not evaluated at all (they may
    not even fit a batch's shapes)."""
    used = program.graph.ancestors(nodes)
    return {n: 0.0 for n in range(len(program.graph)) if n not in used}


@dataclass
class Plan:
    """The program prepared once for training: which nodes the cost needs, which edges carry
    a gradient from a parameter to the cost; each step replays the engine's passes on it."""

    program: Program
    cost_node: int
    param_nodes: dict[str, int]
    dtype: Any
    convention: str = "tensorflow"
    skipped: dict[int, Any] = field(default_factory=dict)  # nodes the cost does not need
    needed: set[int] = field(default_factory=set)  # nodes on a path from a parameter to the cost

    @classmethod
    def build(cls, program: Program, cost_node: int, param_nodes: dict[str, int], dtype: Any,
              convention: str = "tensorflow") -> Plan:
        needed = needed_nodes(program, [cost_node]) & program.graph.descendants(list(param_nodes.values()))
        return cls(program, cost_node, param_nodes, dtype, convention, _unused(program, [cost_node]), needed)

    def loss(self, inputs: dict[str, Any]) -> tuple[float, list[Any]]:
        """The cost (its mean, when it is an array) and the forward values."""
        values, _ = forward(self.program, inputs, self.dtype, overrides=self.skipped)
        return float(np.mean(values[self.cost_node])), values

    def loss_over(self, inputs: dict[str, Any], samples: list[str], n: int,
                  batch_size: int) -> tuple[float, list[Any]]:
        """The cost over all samples, as Keras's evaluate computes it: batch by batch (so no
        more memory than a step needs), each batch's cost weighted by its rows; for a cost that
        is a mean over the rows (mse), the cost of the whole set. Returns the values of the
        first batch whose cost is not finite, or of the last batch."""
        total = 0.0
        for rows in _batches(n, batch_size, None):
            loss, values = self.loss({**inputs, **{s: inputs[s][rows] for s in samples}})
            if not math.isfinite(loss):
                return loss, values
            total += loss * (rows.stop - rows.start)
        return total / n, values

    def gradients(self, inputs: dict[str, Any]) -> tuple[float, dict[str, Any], list[Any], Any]:
        """The cost, ∂cost/∂parameter for each parameter, the forward values, and the first
        non-finite product of the reverse pass (or None)."""
        loss, values = self.loss(inputs)
        lin = linearize(self.program, values, self.needed, self.convention)
        cost = values[self.cost_node]
        seed = None if np.ndim(cost) == 0 else np.full(np.shape(cost), 1 / np.size(cost), dtype=self.dtype)
        adjoints, problem = reverse(self.program, lin, self.cost_node, seed)
        grads = {}
        for name, node in self.param_nodes.items():
            shape = np.shape(values[node])
            if node in adjoints:
                grads[name] = np.broadcast_to(adjoints[node], shape).astype(self.dtype, copy=False)
            else:
                grads[name] = np.zeros(shape, dtype=self.dtype)
        return loss, grads, values, problem


def check_gradients(plan: Plan, inputs: dict[str, Any], rtol: float = COMPARE_RTOL,
                    atol: float = COMPARE_ATOL) -> list[GradientCheck]:
    """Reverse mode against central differences, (L(w+h) − L(w−h))/2h element by element, in
    float64 whatever the training dtype (the check is of the gradient, not of float32's digits);
    h = ∛ε·max(1, |w|) as `adiff compare` chooses it."""
    plan64 = dataclasses.replace(plan, dtype=np.float64)
    inputs = {k: np.asarray(v, dtype=np.float64) for k, v in inputs.items()}
    loss, grads, values, _ = plan64.gradients(inputs)
    cost_size = np.size(values[plan.cost_node])  # the loss is the cost's mean: its sum / size
    checks = []
    for name, node in plan.param_nodes.items():
        point = inputs[name]
        h, _ = auto_step(point)
        count = min(point.size, CHECK_ELEMENTS)
        numeric = central_difference(plan.program, inputs, plan.cost_node, node, point, h,
                                     skipped=plan.skipped, count=count) / cost_size
        rev = grads[name]
        checked_rev, checked_numeric = rev.ravel()[:count], numeric.ravel()[:count]
        worst = float(np.max(np.abs(checked_rev - checked_numeric), initial=0.0))
        agree = close(checked_rev, checked_numeric, rtol, atol)
        checks.append(GradientCheck(name, rev, numeric, h, worst, agree, count))
    return checks


def _batches(n: int, batch_size: int, rng: np.random.Generator | None) -> list[Any]:
    """Index ranges of one epoch: slices in order (views of the data), or a shuffled order."""
    if rng is None:
        return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def _diverged(plan: Plan, cost_name: str, when: str, loss: float, grads: dict[str, Any],
              values: list[Any], problem: Any) -> TrainingStopped:
    """The epoch and step, what is not finite, and the node where it began (forward pass) or
    the product that made it (reverse pass), as `adiff grad` traces it."""
    if not math.isfinite(loss):
        what = f"the cost {cost_name} is {loss}"
    else:
        what = f"the gradient of {next(p for p, g in grads.items() if not _finite(g))} is not finite"
        if problem is None:
            lin = linearize(plan.program, values, plan.needed, plan.convention)
            _, problem = reverse(plan.program, lin, plan.cost_node, check_all=True)
    return TrainingStopped(f"training diverged at {when}: {what}; "
                           f"{_where_nonfinite(plan, values, problem)}; try a smaller --lr")


def _where_nonfinite(plan: Plan, values: list[Any], problem: Any) -> str:
    found = first_nonfinite(plan.program, values)
    if found is not None:
        return found.message
    if problem is not None:
        return problem.message
    return "no single node explains it"


def fit(program: Program, *, params: list[str], samples: list[str], inputs: dict[str, Any] | None = None,
        cost: str | None = None, optimizer: str = "sgd", lr: float = 0.01, batch_size: int = 32,
        epochs: int = 1, shuffle: bool = True, seed: int | None = None, dtype: str = "float64",
        convention: str = "tensorflow", check_gradient: bool = False,
        predict: list[str] | None = None, query: dict[str, Any] | None = None,
        progress: Callable[[Progress], None] | None = None) -> FitResult:
    """Train `params` (inputs of the program) on `samples` (inputs whose first axes are the
    sample axis) by mini-batch SGD on `cost` (default the last statement).

    `inputs` gives values for any input (numbers, arrays, or --at text such as "pi/4"),
    overriding the program's own; the others take the program's values. With `check_gradient`,
    the first step's gradient is checked against central differences first and training does
    not start if they disagree.
    With `predict` (node names) and `query` (input values), the nodes' values at the query
    after training. A Ctrl-C stops after the current step with what was reached."""
    kind = dtype_named(dtype)
    if optimizer not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer '{optimizer}' (this version has: {', '.join(OPTIMIZERS)})")
    if not params:
        raise UsageError("no parameters to train: name them with --params W1,b1,...")
    if not samples:
        raise UsageError("no samples: name the inputs whose first axis is the sample axis with --samples X,Y")
    both = [n for n in params if n in samples]
    if both:
        raise UsageError(f"{both[0]} is named by --params and by --samples; a name is one or the other")
    for option, names in (("--params", params), ("--samples", samples)):
        twice = [n for n in names if names.count(n) > 1]
        if twice:
            raise UsageError(f"{option} names {twice[0]} twice")
    if not (math.isfinite(lr) and lr > 0):
        raise UsageError(f"--lr must be a positive number, got {lr:g}")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {batch_size}")
    if epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {epochs}")
    param_nodes = dict(zip(params, _lookup(program, params, "--params"), strict=True))
    _lookup(program, samples, "--samples")
    cost_name = cost or program.target_name
    (cost_node,) = _lookup(program, [cost_name], "--cost", inputs_only=False)

    values = input_values(program, inputs or {}, kind)
    shapes = {name: np.shape(values[name]) for name in samples}
    flat = [name for name, shape in shapes.items() if not shape]
    if flat:
        raise UsageError(f"--samples {flat[0]}: a sample array needs a first axis (the samples); "
                         f"{flat[0]} is a single number")
    lengths = {shape[0] for shape in shapes.values()}
    if len(lengths) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise UsageError(f"the sample arrays' first axes differ: {listed}; each row is one sample")
    n_samples = lengths.pop()
    if n_samples == 0:
        raise UsageError("the sample arrays are empty: there is nothing to train on")
    bad = [name for name, v in values.items() if not _finite(v)]
    if bad:
        raise UsageError(f"the input {bad[0]} has a value that is not finite; training needs finite numbers")

    plan = Plan.build(program, cost_node, param_nodes, kind, convention)
    notes = []
    unused = [name for name, node in param_nodes.items() if node not in plan.needed]
    if unused:
        notes.append(f"the cost {cost_name} does not depend on {', '.join(unused)}: "
                     f"{'it is' if len(unused) == 1 else 'they are'} not changed by training")
    if batch_size > n_samples:
        notes.append(f"--batch-size {batch_size} is larger than the {n_samples} samples: "
                     "one batch of all of them per epoch")
    if seed is None and shuffle:  # drawn, so that the result can say which it was
        seed = int(np.random.default_rng().integers(2**31))
    rng = np.random.default_rng(seed) if shuffle else None
    step_size = kind(lr)

    loss_before, start_values = plan.loss_over(values, samples, n_samples, batch_size)
    if not math.isfinite(loss_before):
        raise TrainingStopped(f"the cost {cost_name} is {loss_before} at the initial parameters, before "
                              f"training: {_where_nonfinite(plan, start_values, None)}")
    result = FitResult(params, samples, cost_name, optimizer, float(lr), batch_size, epochs, shuffle, seed,
                       dtype, n_samples, {p: values[p] for p in params}, {}, loss_before, None, notes=notes)
    batches_per_epoch = math.ceil(n_samples / batch_size)
    if check_gradient:
        first = _batches(n_samples, batch_size, None if rng is None else np.random.default_rng(seed))[0]
        result.gradient_check = check_gradients(plan, {**values, **{s: values[s][first] for s in samples}})
        if result.check_failed:
            result.trained = dict(result.initial)
            return result

    began = time.perf_counter()
    current = dict(values)
    try:
        for epoch in range(1, epochs + 1):
            total = 0.0
            for step, rows in enumerate(_batches(n_samples, batch_size, rng), start=1):
                batch = {**current, **{s: values[s][rows] for s in samples}}
                loss, grads, step_values, problem = plan.gradients(batch)
                if not (math.isfinite(loss) and all(_finite(g) for g in grads.values())):
                    raise _diverged(plan, cost_name, f"epoch {epoch}, step {step}", loss, grads,
                                    step_values, problem)
                # One assignment, so a Ctrl-C leaves either the old parameters or the new ones.
                current = {**current, **{p: current[p] - step_size * grads[p] for p in params}}
                total += loss
                result.steps_done += 1
                if progress is not None:
                    progress(Progress(epoch, epochs, step, batches_per_epoch, total / step,
                                      time.perf_counter() - began, step == batches_per_epoch))
            result.epoch_losses.append(total / batches_per_epoch)
    except KeyboardInterrupt:
        result.interrupted = True
    result.seconds = time.perf_counter() - began
    result.trained = {p: current[p] for p in params}
    loss_after, _ = plan.loss_over({**values, **result.trained}, samples, n_samples, batch_size)
    result.loss_after = loss_after
    if predict:
        result.query = dict(query or {})
        result.predictions = predictions(program, {**values, **result.trained}, predict, query or {}, kind)
    return result


def predictions(program: Program, values: dict[str, Any], names: list[str], query: dict[str, Any],
                dtype: Any = np.float64) -> dict[str, Any]:
    """The named nodes' values with the query's inputs in place of the program's; only what
    the named nodes need is evaluated (the cost, with its targets, is not)."""
    nodes = _lookup(program, names, "--predict", inputs_only=False)
    _lookup(program, list(query), "--query")
    inputs = {**values, **{k: np.asarray(v, dtype=dtype) for k, v in query.items()}}
    out, _ = forward(program, inputs, dtype, overrides=_unused(program, nodes))
    return {name: out[node] for name, node in zip(names, nodes, strict=True)}
