"""Training a program's parameters on sample arrays, as Keras's model.fit does: the library
half of `adiff fit`.

Each step takes a batch of rows of the sample arrays (their first axis is the sample axis; a
batch keeps the shape, so one row of a 2×2 X is 1×2), replays the program's compiled step plan
(plan.py: forward pass and reverse pass of the cost) and moves every parameter against its
gradient by the optimizer's rule (optimizers.py), e.g. SGD's w ← w − lr · ∂cost/∂w.

A cost that is an array is reduced by its mean, as Keras does. Nothing here prints: progress
goes to a callback, the outcome is a plain FitResult.
"""

from __future__ import annotations

import difflib
import math
import signal
import threading
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
from .optimizers import DEFAULT_LR, Optimizer
from .plan import StepPlan, compile_plan

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
    epoch_figures: dict[str, float] = field(default_factory=dict)  # at an epoch's end: validation loss, ...


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
    optimizer_settings: dict[str, Any] = field(default_factory=dict)  # the rule, its constants
    n_validation: int = 0  # samples held out by --validation-split (the last ones)
    validation_losses: list[float] = field(default_factory=list)  # after each epoch
    metric: str | None = None
    accuracy: list[float] = field(default_factory=list)  # over the training samples, each epoch
    validation_accuracy: list[float] = field(default_factory=list)
    saved: str | None = None  # where --save wrote the trained program

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


def _all_finite(grads: dict[str, Any]) -> bool:
    """Every gradient finite: one sum per gradient first (a sum of finite numbers is finite
    unless it overflows), each element looked at only when a sum is not. A small gradient is
    summed as Python floats: numpy's reduction costs more to call than that sum of a few."""
    total = 0.0
    for g in grads.values():
        total += sum(g.ravel().tolist()) if g.size <= 64 else float(g.sum())
    return math.isfinite(total) or all(map(_finite, grads.values()))


def _unused(program: Program, nodes: list[int]) -> dict[int, Any]:
    """A placeholder for every node the given nodes do not need, for the forward pass's
    overrides: statements and expect lines they do not use are not evaluated at all (they may
    not even fit a batch's shapes)."""
    used = program.graph.ancestors(nodes)
    return {n: 0.0 for n in range(len(program.graph)) if n not in used}


@dataclass
class Plan:
    """The program prepared once for training: which nodes the cost needs, which edges carry
    a gradient from a parameter to the cost, and the compiled step plan (plan.py) that each
    step replays; the engine's passes where the plan cannot go (hessian()) and to explain a
    value that is not finite."""

    program: Program
    cost_node: int
    param_nodes: dict[str, int]
    dtype: Any
    convention: str = "tensorflow"
    skipped: dict[int, Any] = field(default_factory=dict)  # nodes the cost does not need
    needed: set[int] = field(default_factory=set)  # nodes on a path from a parameter to the cost
    step: StepPlan | None = None

    @classmethod
    def build(cls, program: Program, cost_node: int, param_nodes: dict[str, int], dtype: Any,
              convention: str = "tensorflow") -> Plan:
        needed = needed_nodes(program, [cost_node]) & program.graph.descendants(list(param_nodes.values()))
        return cls(program, cost_node, param_nodes, dtype, convention, _unused(program, [cost_node]), needed,
                   compile_plan(program, cost_node, param_nodes, dtype, convention))

    def values(self, inputs: dict[str, Any]) -> list[Any]:
        """Every node's value by the engine (the nodes the cost does not need skipped)."""
        values, _ = forward(self.program, inputs, self.dtype, overrides=self.skipped)
        return values

    def loss(self, inputs: dict[str, Any]) -> float:
        """The cost (its mean, when it is an array)."""
        if self.step is not None:
            try:
                with np.errstate(all="ignore"):
                    return float(np.mean(self.step.forward(inputs)))
            except Exception:  # noqa: BLE001 - a shape that does not fit: the engine's message
                pass
        return float(np.mean(self.values(inputs)[self.cost_node]))

    def loss_over(self, inputs: dict[str, Any], samples: list[str], rows: slice | Any,
                  batch_size: int) -> float:
        """The cost over the given rows of the samples, as Keras's evaluate computes it: batch
        by batch (so no more memory than a step needs), each batch's cost weighted by its rows;
        for a cost that is a mean over the rows (mse), the cost of the whole set."""
        start, stop = rows.start, rows.stop
        total = 0.0
        for part in _batches(stop - start, batch_size, None):
            part = slice(start + part.start, start + part.stop)
            loss = self.loss({**inputs, **{s: inputs[s][part] for s in samples}})
            if not math.isfinite(loss):
                return loss
            total += loss * (part.stop - part.start)
        return total / (stop - start)

    def gradients(self, inputs: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        """The cost and ∂cost/∂parameter for each parameter (numpy's error state is the
        caller's: training ignores floating-point warnings and looks at the values)."""
        if self.step is not None:
            try:
                return self.step.gradients(inputs)
            except Exception:  # noqa: BLE001 - the engine says what does not fit, and where
                self.values(inputs)
                raise
        values = self.values(inputs)
        loss = float(np.mean(values[self.cost_node]))
        lin = linearize(self.program, values, self.needed, self.convention)
        cost = values[self.cost_node]
        seed = None if np.ndim(cost) == 0 else np.full(np.shape(cost), 1 / np.size(cost), dtype=self.dtype)
        adjoints, _ = reverse(self.program, lin, self.cost_node, seed)
        grads = {}
        for name, node in self.param_nodes.items():
            shape = np.shape(values[node])
            if node in adjoints:
                grads[name] = np.broadcast_to(adjoints[node], shape).astype(self.dtype, copy=False)
            else:
                grads[name] = np.zeros(shape, dtype=self.dtype)
        return loss, grads


def check_gradients(plan: Plan, inputs: dict[str, Any], rtol: float = COMPARE_RTOL,
                    atol: float = COMPARE_ATOL) -> list[GradientCheck]:
    """Reverse mode (the step plan's, as training uses it) against central differences,
    (L(w+h) − L(w−h))/2h element by element, in float64 whatever the training dtype (the
    check is of the gradient, not of float32's digits); h = ∛ε·max(1, |w|) as `adiff compare`
    chooses it."""
    plan64 = Plan.build(plan.program, plan.cost_node, plan.param_nodes, np.float64, plan.convention)
    inputs = {k: np.asarray(v, dtype=np.float64) for k, v in inputs.items()}
    with np.errstate(all="ignore"):
        _, grads = plan64.gradients(inputs)
    cost_size = np.size(plan64.values(inputs)[plan.cost_node])  # the loss is the cost's mean: sum / size
    checks = []
    for name, node in plan.param_nodes.items():
        point = inputs[name]
        h, _ = auto_step(point)
        count = min(point.size, CHECK_ELEMENTS)
        numeric = central_difference(plan.program, inputs, plan.cost_node, node, point, h,
                                     skipped=plan.skipped, count=count) / cost_size
        rev = np.array(grads[name])
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
              inputs: dict[str, Any]) -> TrainingStopped:
    """The epoch and step, what is not finite, and the node where it began (forward pass) or
    the product that made it (reverse pass), as `adiff grad` traces it."""
    values = plan.values(inputs)
    problem = None
    if not math.isfinite(loss):
        what = f"the cost {cost_name} is {loss}"
    else:
        what = f"the gradient of {next(p for p, g in grads.items() if not _finite(g))} is not finite"
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


class _CtrlC:
    """While training: a Ctrl-C sets a flag, and training stops after the step under way (so
    the parameters are never half updated). Only in the main thread, where Python delivers
    signals; elsewhere Ctrl-C raises KeyboardInterrupt as usual."""

    def __init__(self) -> None:
        self.pressed = False
        self.previous: Any = None

    def __enter__(self) -> _CtrlC:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._press)
        return self

    def _press(self, signum: int, frame: Any) -> None:
        self.pressed = True

    def __exit__(self, *exc: Any) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _accuracy(plan: Plan, inputs: dict[str, Any], samples: list[str], rows: slice, batch_size: int,
              output: int, target: str) -> float:
    """The fraction of rows whose argmax of the output node equals the argmax of the target
    (one-hot) row, over the given rows, batch by batch; with one output per sample (a
    probability), whether it is on the target's side of 0.5 (Keras's binary accuracy)."""
    right = 0
    for part in _batches(rows.stop - rows.start, batch_size, None):
        part = slice(rows.start + part.start, rows.start + part.stop)
        batch = {**inputs, **{s: inputs[s][part] for s in samples}}
        if plan.step is not None:
            plan.step.forward(batch)
            predicted = plan.step.values[output]
        else:
            predicted = plan.values(batch)[output]
        n = part.stop - part.start
        if np.ndim(predicted) < 2 or np.shape(predicted)[-1] == 1:  # one probability per sample
            p, y = np.reshape(predicted, (n, -1)), np.reshape(batch[target], (n, -1))
            right += int(np.sum(np.all((p > 0.5) == (y > 0.5), axis=1)))
        else:
            right += int(np.sum(np.argmax(predicted, axis=-1) == np.argmax(batch[target], axis=-1)))
    return right / (rows.stop - rows.start)


def fit(program: Program, *, params: list[str], samples: list[str], inputs: dict[str, Any] | None = None,
        cost: str | None = None, optimizer: str = "sgd", lr: float | None = None, momentum: float = 0.9,
        lr_decay: float = 1.0, lr_decay_every: int = 0, batch_size: int = 32,
        epochs: int = 1, shuffle: bool = True, seed: int | None = None, dtype: str = "float64",
        convention: str = "tensorflow", check_gradient: bool = False, validation_split: float = 0.0,
        metric: str | None = None, metric_output: str | None = None,
        predict: list[str] | None = None, query: dict[str, Any] | None = None,
        progress: Callable[[Progress], None] | None = None) -> FitResult:
    """Train `params` (inputs of the program) on `samples` (inputs whose first axes are the
    sample axis) by mini-batch steps of `optimizer` (optimizers.py) on `cost` (default the
    last statement).

    `inputs` gives values for any input (numbers, arrays, or --at text such as "pi/4"),
    overriding the program's own; the others take the program's values. With `check_gradient`,
    the first step's gradient is checked against central differences first and training does
    not start if they disagree. `validation_split` holds out the last fraction of the samples
    (before any shuffling, as Keras does) and reports their loss after every epoch; `metric`
    "accuracy" is the argmax agreement of the node `metric_output` with the last sample array
    (one-hot targets), after every epoch.
    With `predict` (node names) and `query` (input values), the nodes' values at the query
    after training. A Ctrl-C stops after the current step with what was reached."""
    kind = dtype_named(dtype)
    opt = Optimizer(optimizer, DEFAULT_LR.get(optimizer, 0.01) if lr is None else lr,
                    momentum=momentum, decay=lr_decay, decay_every=lr_decay_every)
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
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {batch_size}")
    if epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {epochs}")
    if not 0 <= validation_split < 1:
        raise UsageError(f"--validation-split must be at least 0 and below 1, got {validation_split:g}")
    if metric not in (None, "accuracy"):
        raise UsageError(f"unknown metric '{metric}' (this version has: accuracy)")
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
    n_all = lengths.pop()
    if n_all == 0:
        raise UsageError("the sample arrays are empty: there is nothing to train on")
    bad = [name for name, v in values.items() if not _finite(v)]
    if bad:
        raise UsageError(f"the input {bad[0]} has a value that is not finite; training needs finite numbers")
    n_samples = math.ceil(n_all * (1 - validation_split)) if validation_split else n_all
    if validation_split and not 0 < n_samples < n_all:
        raise UsageError(f"--validation-split {validation_split:g} of {n_all} samples leaves {n_samples} "
                         f"to train on and {n_all - n_samples} to validate: each needs a sample or more")
    output = None
    if metric:
        if metric_output is None:
            raise UsageError("--metric accuracy compares a node with the targets: name it with --predict P")
        (output,) = _lookup(program, [metric_output], "--predict", inputs_only=False)
        if output not in program.graph.ancestors([cost_node]):
            raise UsageError(f"--metric accuracy: the cost {cost_name} does not use {metric_output}")

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

    train_rows, held_out = slice(0, n_samples), slice(n_samples, n_all)
    loss_before = plan.loss_over(values, samples, train_rows, batch_size)
    if not math.isfinite(loss_before):
        raise TrainingStopped(f"the cost {cost_name} is {loss_before} at the initial parameters, before "
                              f"training: {_where_nonfinite(plan, plan.values(values), None)}")
    result = FitResult(params, samples, cost_name, opt.name, float(opt.lr), batch_size, epochs, shuffle,
                       seed, dtype, n_samples, {p: np.array(values[p]) for p in params}, {}, loss_before,
                       None, notes=notes, optimizer_settings=opt.settings(),
                       n_validation=n_all - n_samples, metric=metric)
    batches_per_epoch = math.ceil(n_samples / batch_size)
    if check_gradient:
        first = _batches(n_samples, batch_size, None if rng is None else np.random.default_rng(seed))[0]
        result.gradient_check = check_gradients(plan, {**values, **{s: values[s][first] for s in samples}})
        if result.check_failed:
            result.trained = dict(result.initial)
            return result

    began = time.perf_counter()
    current = {**values, **{p: np.array(values[p], dtype=kind) for p in params}}  # updated in place
    target = samples[-1]
    with _CtrlC() as ctrl_c, np.errstate(all="ignore"):
        for epoch in range(1, epochs + 1):
            total = 0.0
            for step, rows in enumerate(_batches(n_samples, batch_size, rng), start=1):
                batch = {**current, **{s: values[s][rows] for s in samples}}
                loss, grads = plan.gradients(batch)
                if not (math.isfinite(loss) and _all_finite(grads)):
                    raise _diverged(plan, cost_name, f"epoch {epoch}, step {step}", loss, grads, batch)
                opt.update(current, grads)
                total += loss
                result.steps_done += 1
                if progress is not None and step < batches_per_epoch:
                    progress(Progress(epoch, epochs, step, batches_per_epoch, total / step,
                                      time.perf_counter() - began, False))
                if ctrl_c.pressed:
                    break
            if ctrl_c.pressed:
                result.interrupted = True
                break
            result.epoch_losses.append(total / batches_per_epoch)
            if held_out.stop > held_out.start:
                result.validation_losses.append(plan.loss_over(current, samples, held_out, batch_size))
            if output is not None:
                for rows, into in ((train_rows, result.accuracy), (held_out, result.validation_accuracy)):
                    if rows.stop > rows.start:
                        into.append(_accuracy(plan, current, samples, rows, batch_size, output, target))
            if progress is not None:  # the epoch's last step, with what is measured after an epoch
                shown = {"validation loss": result.validation_losses, "accuracy": result.accuracy,
                         "validation accuracy": result.validation_accuracy}
                progress(Progress(epoch, epochs, batches_per_epoch, batches_per_epoch,
                                  result.epoch_losses[-1], time.perf_counter() - began, True,
                                  {k: v[-1] for k, v in shown.items() if v}))
    result.seconds = time.perf_counter() - began
    result.trained = {p: current[p] for p in params}
    result.loss_after = plan.loss_over(current, samples, train_rows, batch_size)
    if predict:
        result.query = dict(query or {})
        result.predictions = predictions(program, current, predict, query or {}, kind)
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
