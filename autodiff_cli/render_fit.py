"""The rendering of `adiff fit`: training progress, the tables of a FitResult, its JSON document."""

from __future__ import annotations

from typing import Any, TextIO

import numpy as np

from .render import Table, _ends, fmt, wants_rich


def fit_heading(result: Any) -> str:
    """One line: what was trained on what, and how."""
    order = "in order" if not result.shuffle else f"shuffled (seed {result.seed})"
    epochs = f"{result.epochs} epoch" + ("s" if result.epochs != 1 else "")
    held = f", {result.n_validation} held out for validation" if result.n_validation else ""
    return (f"Trained {', '.join(result.params)} on {result.n_samples} samples "
            f"({', '.join(result.samples)}){held} to lower {result.cost}: {_optimizer_text(result)}, "
            f"batch size {result.batch_size}, {epochs}, {order}, {result.dtype}")


def _optimizer_text(result: Any) -> str:
    """SGD, lr 1 / ADAM, lr 0.001 (β₁ 0.9, β₂ 0.999, ε 1e-07) / ..., with the step decay."""
    s = result.optimizer_settings or {"name": result.optimizer, "lr": result.lr}
    names = {"momentum": "μ", "beta_1": "β₁", "beta_2": "β₂", "rho": "ρ", "epsilon": "ε"}
    constants = ", ".join(f"{names[k]} {s[k]:g}" for k in names if k in s)
    text = f"{s['name'].upper()}, lr {s['lr']:g}" + (f" ({constants})" if constants else "")
    if s.get("lr_decay_every"):
        text += f", lr × {s['lr_decay']:g} every {s['lr_decay_every']} steps"
    return text


def progress_every(epochs: int) -> int:
    """Piped output has a line every this many epochs (about ten lines), and the last."""
    return max(1, epochs // 10)


class FitProgress:
    """The progress of training, for the callback of training.fit: on a terminal a Rich
    progress bar with the epoch, the epoch's running loss, steps per second, time left and
    the last epoch's validation figures (Keras's verbose=1 line); piped, a plain line every few
    epochs; quiet, nothing."""

    def __init__(self, stream: TextIO, quiet: bool = False):
        self.stream, self.quiet = stream, quiet
        self.rich = not quiet and wants_rich(stream)
        self.bar: Any = None
        self.task: Any = None
        self.shown = -1.0  # when the bar was last told the progress (seconds into training)

    def __enter__(self) -> FitProgress:
        if self.rich:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            console = Console(file=self.stream, highlight=False)
            # The line fits the terminal: a shorter bar when narrow, the epoch's validation
            # figures only where there is room for them (about 50 columns).
            bar = BarColumn(bar_width=max(8, min(30, console.width - 58)))
            columns = [TextColumn("{task.description}"), bar,
                       TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[rate]}"),
                       TimeRemainingColumn()]
            if console.width >= 130:
                columns.append(TextColumn("{task.fields[figures]}"))
            self.bar = Progress(*columns, console=console)
            self.bar.start()
        return self

    def __call__(self, p: Any) -> None:
        if self.quiet:
            return
        if self.rich:
            done = (p.epoch - 1) * p.steps + p.step
            if self.task is None:
                self.task = self.bar.add_task("", total=p.epochs * p.steps, loss="", rate="", figures="")
            if p.epoch_figures:  # the last epoch's validation loss and accuracy, until the next
                self.bar.update(self.task, figures=", ".join(f"{name} {fmt(value, 4)}"
                                                            for name, value in p.epoch_figures.items()))
            last = done == p.epochs * p.steps
            if p.seconds < self.shown + 0.05 and not last:  # the bar redraws at 10 Hz anyway
                return
            self.shown = p.seconds
            self.bar.update(self.task, completed=done, description=f"epoch {p.epoch}/{p.epochs}",
                            loss=fmt(p.loss, 4), rate=f"{done / p.seconds:,.0f} steps/s" if p.seconds else "")
        elif p.end_of_epoch and (p.epoch % progress_every(p.epochs) == 0 or p.epoch in (1, p.epochs)):
            figures = "".join(f", {name} {fmt(value, 6)}" for name, value in p.epoch_figures.items())
            self.stream.write(f"epoch {p.epoch}/{p.epochs}: loss {fmt(p.loss, 6)}{figures}\n")
            self.stream.flush()

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.stop()


def fit_tables(result: Any, digits: int = 6, full: bool = False) -> list[Table]:
    """The losses, the parameters before and after, the predictions at the query, and the
    gradient check of the first step."""
    from .inputs import COMPARE_ATOL, COMPARE_RTOL  # the check's tolerances are compare's

    tables = []
    if result.gradient_check:
        check = Table("Gradient check at the first step: reverse mode against central differences",
                      ["parameter", "reverse mode", "central difference", "max |difference|", "agree"],
                      styles={1: "yellow"})
        for c in result.gradient_check:
            check.rows.append([c.name, fmt(c.reverse, digits, full), fmt(c.finite_difference, digits, full),
                               fmt(c.max_abs_error, 3), "yes" if c.agree else "NO"])
        check.notes.append("(f(w+h) - f(w-h))/2h element by element in float64, h = ∛ε·max(1, |w|); "
                           f"agree within rtol {COMPARE_RTOL:g}, atol {COMPARE_ATOL:g}")
        if result.check_failed:
            check.notes.append("the gradients disagree: training did not start")
        tables.append(check)
    if result.check_failed:
        return tables
    params = Table("Parameters", ["parameter", "initial", "trained"], styles={2: "cyan"})
    for name in result.params:
        params.rows.append([name, fmt(result.initial[name], digits, full),
                            fmt(result.trained[name], digits, full)])
    after = "" if result.loss_after is None else f", {fmt(result.loss_after, digits)} after"
    steps = f"{result.steps_done} step" + ("" if result.steps_done == 1 else "s")
    params.notes.append(f"{result.cost} over all samples: {fmt(result.loss_before, digits)} "
                        f"before{after}; {steps}; {result.seconds:.2f} s")
    params.notes.extend(f"note: {n}" for n in result.notes)
    if result.saved:
        params.notes.append(f"saved the trained program to {result.saved}")
    tables.append(params)
    if result.validation_losses or result.accuracy:
        tables.append(_epoch_table(result, digits))
    if result.predictions:
        tables.append(_prediction_table(result, digits, full))
    return tables


def _epoch_table(result: Any, digits: int, most: int = 20) -> Table:
    """Loss (and validation loss, accuracy) per epoch, as Keras prints them: the first and
    last epochs when there are many."""
    columns = {"loss": result.epoch_losses}
    if result.validation_losses:
        columns["validation loss"] = result.validation_losses
    if result.accuracy:
        columns["accuracy"] = result.accuracy
    if result.validation_accuracy:
        columns["validation accuracy"] = result.validation_accuracy
    t = Table("Per epoch", ["epoch", *columns])
    n = len(result.epoch_losses)
    for i in _ends(n, most, False):
        t.rows.append([str(i + 1), *(fmt(v[i], digits) for v in columns.values())])
    if n > len(t.rows):
        t.notes.append(f"{n - len(t.rows)} of {n} epochs not shown; --json has every one")
    return t


def _prediction_table(result: Any, digits: int, full: bool) -> Table:
    """A row per query sample when the query's inputs and the nodes share a first axis (as
    the lecture prints them); else a row per node with its whole value."""
    shown = {**result.query, **result.predictions}
    lengths = {np.shape(v)[0] if np.ndim(v) else None for v in shown.values()}
    title = "Predictions at the query" if result.query else "Predictions at the program's inputs"
    if len(lengths) == 1 and None not in lengths and result.query:
        (n,) = lengths
        t = Table(title, ["#", *shown], styles={1 + len(result.query) + i: "cyan"
                                               for i in range(len(result.predictions))})
        for i in _ends(n, 20, full):
            t.rows.append([str(i + 1), *(fmt(v[i], digits, full) for v in shown.values())])
        if n > len(t.rows):
            t.notes.append(f"{n - len(t.rows)} of {n} rows not shown; --full shows every one")
        return t
    t = Table(title, ["node", "value"], styles={1: "cyan"})
    for name, value in shown.items():
        t.rows.append([name, fmt(value, digits, full)])
    return t


def fit_document(result: Any) -> dict[str, Any]:
    """The JSON document of `adiff fit --json` (schema in the README)."""
    from .results import jsonable

    return {
        "params": result.params, "samples": result.samples, "cost": result.cost,
        "optimizer": result.optimizer_settings or {"name": result.optimizer, "lr": result.lr},
        "batch_size": result.batch_size, "epochs": result.epochs, "shuffle": result.shuffle,
        "seed": result.seed, "dtype": result.dtype, "n_samples": result.n_samples,
        "n_validation": result.n_validation,
        "loss_before": jsonable(result.loss_before), "loss_after": jsonable(result.loss_after),
        "epoch_losses": [jsonable(v) for v in result.epoch_losses],
        "validation_losses": [jsonable(v) for v in result.validation_losses],
        "metric": result.metric,
        "accuracy": result.accuracy, "validation_accuracy": result.validation_accuracy,
        "initial": {k: jsonable(v) for k, v in result.initial.items()},
        "trained": {k: jsonable(v) for k, v in result.trained.items()},
        "query": {k: jsonable(v) for k, v in result.query.items()},
        "predictions": {k: jsonable(v) for k, v in result.predictions.items()},
        "gradient_check": [{"param": c.name, "reverse": jsonable(c.reverse),
                            "finite_difference": jsonable(c.finite_difference), "eps": c.eps,
                            "max_abs_error": jsonable(c.max_abs_error), "agree": c.agree}
                           for c in result.gradient_check],
        "steps": result.steps_done, "seconds": result.seconds, "interrupted": result.interrupted,
        "saved": result.saved, "notes": result.notes,
    }


def loss_plot(result: Any, path: str | None, colour: bool = False) -> str | None:
    """The loss per epoch (and the validation loss): an image at `path` (matplotlib), or the
    terminal's text (plotext) when `path` is None."""
    from .plot import _need, _plain, _plotext

    epochs = list(range(1, len(result.epoch_losses) + 1))
    curves = {"loss": result.epoch_losses}
    if result.validation_losses:
        curves["validation loss"] = result.validation_losses
    if not epochs:
        return "(no whole epoch to draw)"
    if path is None:
        plt = _plotext(80, 20, colour)
        for label, values in curves.items():
            plt.plot(epochs, [float(v) for v in values], label=label)
        plt.xlabel("epoch")
        plt.title(f"{result.cost} per epoch")
        return _plain(plt.build(), colour)
    matplotlib = _need("matplotlib", "adiff[plot]")
    matplotlib.use("Agg")
    import matplotlib.pyplot as mpl

    fig, ax = mpl.subplots(figsize=(7, 4.2), dpi=120)
    for label, values in curves.items():
        ax.plot(epochs, values, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(result.cost)
    ax.set_title(f"{result.cost} per epoch ({', '.join(result.params)})")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        fig.savefig(path)
    except OSError as err:
        from .errors import UsageError

        raise UsageError(f"--plot {path}: cannot write it ({err.strerror or err})") from None
    finally:
        mpl.close(fig)
    return None
