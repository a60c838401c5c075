"""The command line: a thin Typer layer over the library API. Errors are caught in one place.

No `from __future__ import annotations` here: Typer reads the commands' annotations, and as
strings it would compile and evaluate each of them on every run (about 1 ms)."""

import functools
import os
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from .errors import EXIT_INTERNAL, AdiffError, UsageError
from .initialisers import seeded
from .inputs import (
    COMPARE_ATOL,
    COMPARE_RTOL,
    EXPECT_ATOL,
    EXPECT_RTOL,
    names_listed,
    parse_at,
    read_points,
    read_stdin,
    read_text,
)
from .ops import CONVENTIONS

app = typer.Typer(
    name="adiff", no_args_is_help=True, rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Derivatives of composed expressions, node by node: forward values, local partials, "
         "reverse-pass adjoints.\n\nExit codes: 0 ok; 1 a requested value is not finite, or a "
         "check failed (compare, run); 2 usage, parse or shape error; 70 internal error; 130 "
         "interrupted.\n\n`adiff` alone opens a session: a prompt that keeps a program and answers "
         "the same commands.",
)


Convention = Enum("Convention", {name: name for name in CONVENTIONS}, type=str)  # choices of --convention


# Options shared by the commands, declared once.
def complete_function(incomplete: str) -> list[str]:
    """Shell completion of a program: the function names that the word being typed begins."""
    import re

    from .ops import FUNCTIONS

    word = re.search(r"[A-Za-z_]\w*$", incomplete)
    if word is None:
        return []
    head, start = incomplete[:word.start()], word.group()
    return [head + name + "(" for name in sorted(FUNCTIONS) if name.startswith(start)]


ProgramArg = Annotated[str | None, typer.Argument(
    help="The program text, e.g. \"exp(sin(x^2))\" or \"v = x^2; f = exp(v)\"; '-' reads standard input. "
         "A program may start with '-' (\"-x^2\").", show_default=False, autocompletion=complete_function)]
FileOpt = Annotated[Path | None, typer.Option("--file", "-f", help="Read the program from FILE.",
                                                 show_default=False)]
AtOpt = Annotated[list[str], typer.Option(
    "--at", help="Input values: --at x=2, repeatable; --at w1=-0.2,w2=0.2 works too; --at X=@data.csv "
                 "(or @data.csv:col1,col2, or @data.npy) reads an array from a file.")]
OfOpt = Annotated[list[str], typer.Option(
    "--of", help="Targets to differentiate (default: the last statement); f,u or repeated.")]
OneOfOpt = Annotated[str | None, typer.Option("--of", help="The target (default: the last statement).")]
WrtOpt = Annotated[list[str], typer.Option(
    "--wrt", help="Differentiate with respect to these names, inputs or named steps (default: every input).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document (schema in the README).")]
DigitsOpt = Annotated[int, typer.Option("--digits", min=1, max=17, help="Significant digits shown.")]
ConventionOpt = Annotated[Convention, typer.Option(
    "--convention",
    help="Partial used where an operation is not differentiable (abs or relu at 0, a max tie).")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="float64 (default) or float32 end to end.")]
FullOpt = Annotated[bool, typer.Option(
    "--full", help="Show long arrays and long node texts whole (otherwise their first and last parts).")]
AllNodesOpt = Annotated[bool, typer.Option("--all-nodes", help="Show every node, however many.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show Python tracebacks of errors.")]
SeedOpt = Annotated[int | None, typer.Option(
    "--seed", help="Seed of the initial values the program draws (W = glorot_uniform(2, 2)) and of fit's "
                   "shuffling; default 0, so a program always means the same numbers.", show_default=False)]


STEPS_CHARS = 20_000  # --steps output of a huge program is cut here unless --all-nodes


def _handled(command: Callable[..., int | None]) -> Callable[..., None]:
    """Turn AdiffError into its message and exit code; anything else is a bug (exit 70)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            with seeded(kwargs.get("seed")):  # the numbers a program draws (initialisers.py)
                code = command(*args, **kwargs) or 0
        except AdiffError as err:
            if kwargs.get("debug"):
                raise
            sys.stderr.write(err.render() + "\n")
            raise typer.Exit(err.exit_code) from None
        except (typer.Exit, typer.Abort):
            raise
        except BrokenPipeError:  # the reader stopped early (| head): not an error of ours
            _quiet_stdout()
            raise typer.Exit(0) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except Exception as err:  # noqa: BLE001 - the one place a bug becomes a message
            if kwargs.get("debug"):
                raise
            sys.stderr.write(f"internal error: {type(err).__name__}: {err}\n"
                             "This is a bug in adiff; run again with --debug to see the traceback.\n")
            raise typer.Exit(EXIT_INTERNAL) from None
        raise typer.Exit(code)

    return wrapper


def _quiet_stdout() -> None:
    """After a broken pipe, send what is still buffered nowhere, so exiting does not fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def read_program(program: str | None, file: Path | None) -> str:
    if file is not None and program is not None:
        raise UsageError("give the program as an argument or with -f FILE, not both")
    if file is None and program is None:
        raise UsageError("no program given: pass it as an argument, '-' for standard input, or -f FILE")
    if file is not None:
        return read_text(file)
    if program == "-":
        return read_stdin()
    return program  # type: ignore[return-value]


def _write(json_: bool, results: Any, show: Callable[[], None]) -> None:
    """With --json, one JSON document (several results as {"results": [...]}); else show()."""
    from . import render

    if json_:
        docs = [r.to_dict() for r in results] if isinstance(results, list) else [results.to_dict()]
        sys.stdout.write(render.to_json(docs[0] if len(docs) == 1 else {"results": docs}) + "\n")
    else:
        show()


def _not_together(given: list[str | None], why: str = "") -> None:
    """Refuse options that do not go together, by name (rather than ignore one silently)."""
    named = [name for name in given if name]
    if len(named) > 1:
        raise UsageError(f"{' and '.join(named)} do not go together" + (f": {why}" if why else ""))


def _colour() -> bool:
    """Colour in plots: on a terminal, unless NO_COLOR is set."""
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


@app.command()
@_handled
def grad(program: ProgramArg = None, file: FileOpt = None, at: AtOpt = [],  # noqa: B006
         of: OfOpt = [], wrt: WrtOpt = [], json_: JsonOpt = False,  # noqa: B006
         digits: Annotated[int | None, typer.Option(
             "--digits", min=1, max=17, help="Significant digits (default 10; 5 with --steps).")] = None,
         convention: ConventionOpt = Convention.tensorflow, dtype: DtypeOpt = "float64",
         all_nodes: AllNodesOpt = False, full: FullOpt = False,
         grid: Annotated[list[str], typer.Option(
             "--grid", help="Points NAME=START:STOP:COUNT; several make a mesh.")] = [],  # noqa: B006
         points: Annotated[Path | None, typer.Option(
             "--points", help="A CSV file of points: a header of input names, a point per row.")] = None,
         csv: Annotated[bool, typer.Option("--csv", help="With --grid/--points: CSV output.")] = False,
         steps: Annotated[bool, typer.Option(
             "--steps", help="The chain rule written out: forward pass, local derivatives, paths.")] = False,
         latex: Annotated[bool, typer.Option("--latex", help="With --steps: LaTeX for a handout.")] = False,
         seed: SeedOpt = None, debug: DebugOpt = False) -> int:
    """Every node's value, local partials and adjoint, then the gradient.

    Example: adiff grad "exp(sin(x^2))" --at x=2
    """
    from . import api, render

    if latex and not steps:
        raise UsageError("--latex goes with --steps (adiff diff --latex prints a derivative as LaTeX)")
    gridded = "--grid" if grid else "--points" if points is not None else None
    for pair in ([gridded, "--wrt" if wrt else None], [gridded, "--steps" if steps else None],
                 ["--steps" if steps else None, "--json" if json_ else None],
                 ["--csv" if csv else None, "--json" if json_ else None]):
        _not_together(pair, "--grid and --points give the partials with respect to the points' inputs"
                      if gridded in pair else "")
    if csv and not gridded:
        raise UsageError("--csv goes with --grid or --points")
    if grid or points is not None:
        table = api.grid(read_program(program, file), grids=grid, of=",".join(of) or None, at=parse_at(at),
                         points=read_points(str(points)) if points is not None else None,
                         convention=convention.value, dtype=dtype)
        if csv:
            render.write_csv(table, sys.stdout)
        else:
            _write(json_, table, lambda: render.print_tables([render.grid_table(table, digits or 10)]))
        render.print_warnings(table.warnings)
        return 0 if np.isfinite(table.matrix()).all() else 1
    result = api.grad(read_program(program, file), of=of, wrt=wrt, at=parse_at(at),
                      convention=convention.value, dtype=dtype)
    if steps:
        from .steps import steps_text

        text = steps_text(result, digits=digits or 5, latex=latex)
        if not all_nodes and len(text) > STEPS_CHARS:
            text = text[:STEPS_CHARS] + f"…\n(cut at {STEPS_CHARS:,} characters; --all-nodes shows all)"
        sys.stdout.write(text.rstrip("\n") + "\n")
        render.print_warnings(result.warnings)
        return result.exit_code
    tables = functools.partial(render.grad_tables, result, digits or 10, all_nodes, full)
    _write(json_, result, lambda: render.print_report(tables(), result.warnings))
    return result.exit_code


@app.command()
@_handled
def compare(program: ProgramArg = None, file: FileOpt = None, at: AtOpt = [],  # noqa: B006
            of: OfOpt = [], wrt: WrtOpt = [], json_: JsonOpt = False, digits: DigitsOpt = 10,  # noqa: B006
            eps: Annotated[float | None, typer.Option(
                "--eps", help="Step h of the central difference (default: chosen for float64).")] = None,
            rtol: Annotated[float, typer.Option("--rtol", min=0, help="Relative tolerance.")] = COMPARE_RTOL,
            atol: Annotated[float, typer.Option("--atol", min=0, help="Absolute tolerance.")] = COMPARE_ATOL,
            sweep: Annotated[bool, typer.Option(
                "--sweep", help="Central-difference error for h = 1e-1 ... 1e-14.")] = False,
            plot_: Annotated[bool, typer.Option(
                "--plot", help="With --sweep: draw the error against h (log-log; -o for an image).")] = False,
            output: Annotated[Path | None, typer.Option("-o", "--output", help="Image for --plot.")] = None,
            at_kink: Annotated[str, typer.Option(
                "--at-kink", help="fail (default): a point where no derivative exists (abs(x) at 0) "
                                  "exits 1; ok: compare the convention's values there.")] = "fail",
            convention: ConventionOpt = Convention.tensorflow, seed: SeedOpt = None,
            debug: DebugOpt = False) -> int:
    """The derivative three ways: symbolic formula, central difference, forward and reverse AD.

    Exit code 1 when any pair disagrees beyond --rtol/--atol (a gradient check for scripts).
    """
    from . import api, render

    _not_together(["--plot" if plot_ else None, "--json" if json_ else None])
    if output is not None and not plot_:
        raise UsageError("-o/--output goes with --plot")
    result = api.compare(read_program(program, file), of=of, wrt=wrt, at=parse_at(at),
                         convention=convention.value, eps=eps, rtol=rtol, atol=atol, sweep=sweep or plot_,
                         at_kink=at_kink)
    if plot_:
        from . import plot as plotting

        for pair in result.pairs:
            drawn = plotting.sweep_plot(pair.sweep, str(output) if output else None,
                                        f"∂{pair.of}/∂{pair.wrt}: |central difference - reverse|", _colour())
            if drawn:
                sys.stdout.write(drawn + "\n")
    _write(json_, result, lambda: render.print_report(render.compare_tables(result, digits), result.warnings))
    return result.exit_code


class DiffFormat(str, Enum):
    text = "text"
    latex = "latex"
    python = "python"
    numpy = "numpy"
    c = "c"
    sympy = "sympy"


@app.command()
@_handled
def diff(program: ProgramArg = None, file: FileOpt = None, at: AtOpt = [],  # noqa: B006
         of: OfOpt = [],  # noqa: B006
         wrt: WrtOpt = [],  # noqa: B006
         order: Annotated[int, typer.Option("--order", min=1, help="2 gives ∂²f/∂x² (the Hessian for "
                                                                   "several inputs).")] = 1,
         mixed: Annotated[str | None, typer.Option(
             "--mixed", help="One mixed derivative: --mixed x,y is ∂²f/∂x∂y.")] = None,
         latex: Annotated[bool, typer.Option("--latex", help="Print the derivative as LaTeX.")] = False,
         format_: Annotated[DiffFormat, typer.Option(
             "--format", help="text, latex, or code: python (math), numpy, c (C99 math.h), sympy.")
         ] = DiffFormat.text,
         factored: Annotated[bool, typer.Option("--factored", help="In the program's named steps.")] = False,
         expand: Annotated[bool, typer.Option(
             "--expand", help="The expanded sum, without common factors pulled out.")] = False,
         max_nodes: Annotated[int, typer.Option(
             "--max-nodes", min=1, help="Formula size a higher order may reach.")] = 50_000,
         max_chars: Annotated[int, typer.Option("--max-chars", min=0, help="Cut output (0: never).")] = 4000,
         json_: JsonOpt = False, digits: DigitsOpt = 10, seed: SeedOpt = None,
         debug: DebugOpt = False) -> int:
    """The symbolic derivative, as a CAS prints it; --at also evaluates it.

    --wrt x,y gives each partial (the gradient; with --order 2 the Hessian); --mixed x,y gives
    the mixed derivative ∂²f/∂x∂y.
    """
    from . import api, codegen, render

    code = format_.value not in ("text", "latex")
    _not_together([("--format " + format_.value) if code else None, "--json" if json_ else None])
    _not_together([("--format " + format_.value) if code else None, "--factored" if factored else None])
    results = api.diff(read_program(program, file), of=of, wrt=wrt, order=order, mixed=mixed, expand=expand,
                       max_nodes=max_nodes, at=parse_at(at))
    latex = latex or format_ is DiffFormat.latex

    def show() -> None:
        if code:
            sys.stdout.write(codegen.results_code(results, format_.value))
        elif latex or factored:
            sys.stdout.write(render.diff_lines(results, digits, latex, max_chars or None, factored))
        else:  # a whole Hessian as a matrix of formulas, the other derivatives a line each
            hessians, rest = render.hessian_tables(results, digits)
            if rest:
                sys.stdout.write(render.diff_lines(rest, digits, latex, max_chars or None, factored))
            if hessians:
                render.print_tables(hessians)
        render.print_warnings([note for r in results[:1] for note in r.notes], prefix="note")

    _write(json_, results, show)
    render.print_warnings([w for r in results for w in r.warnings])
    return 0 if all(r.answered for r in results) else 1


@app.command()
@_handled
def jacobian(program: ProgramArg = None, file: FileOpt = None, at: AtOpt = [],  # noqa: B006
             of: OneOfOpt = None,
             wrt: WrtOpt = [], json_: JsonOpt = False, digits: DigitsOpt = 10,  # noqa: B006
             full: FullOpt = False, convention: ConventionOpt = Convention.tensorflow,
             seed: SeedOpt = None, debug: DebugOpt = False) -> int:
    """The full Jacobian: rows are the target's elements, columns the variable's.

    Computed by reverse mode row by row or forward mode column by column, whichever needs
    fewer passes.
    """
    from . import api, render

    results = api.jacobian(read_program(program, file), of=of, wrt=wrt, at=parse_at(at),
                           convention=convention.value)
    _write(json_, results, lambda: render.print_tables(render.jacobian_tables(results, digits, full)))
    render.print_warnings([w for r in results for w in r.warnings])
    return 0 if all(r.answered for r in results) else 1


@app.command()
@_handled
def run(files: Annotated[list[str], typer.Argument(help="Program files ('-' reads standard input).")],
        json_: Annotated[bool, typer.Option("--json", help="JSON Lines: one object per file.")] = False,
        jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Run files in N processes.")] = 1,
        rtol: Annotated[float, typer.Option(
            "--rtol", min=0, help="expect's relative tolerance.")] = EXPECT_RTOL,
        atol: Annotated[float, typer.Option(
            "--atol", min=0, help="expect's absolute tolerance.")] = EXPECT_ATOL,
        seed: SeedOpt = None, debug: DebugOpt = False) -> int:
    """Run sample files: evaluate, differentiate, check every expect line.

    Exit code 0 when all passed, 1 when an expect failed or a value is not finite, 2 when a
    file could not be read or parsed. One bad file never stops the others.
    """
    import time

    from . import batch, render

    start = time.perf_counter()
    stdin_text = read_stdin() if "-" in files else None
    results = []
    for result in batch.run_files(files, rtol, atol, jobs, stdin_text):
        results.append(result)
        if json_:
            sys.stdout.write(render.to_json_line(result.to_dict()) + "\n")
        else:
            render.write_run_lines(result)
        sys.stdout.flush()
    summary = render.run_summary(results, time.perf_counter() - start)
    (sys.stderr if json_ else sys.stdout).write(summary + "\n")
    return batch.exit_code(results)


class GraphFormat(str, Enum):
    tree = "tree"
    dot = "dot"
    mermaid = "mermaid"
    svg = "svg"
    png = "png"


GraphFormatOpt = Annotated[GraphFormat, typer.Option(
    "--format", help="tree, dot (Graphviz text), mermaid, svg or png (with -o).")]


@app.command()
@_handled
def graph(program: ProgramArg = None, file: FileOpt = None, at: AtOpt = [],  # noqa: B006
          of: OneOfOpt = None, format: GraphFormatOpt = GraphFormat.tree,
          output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to FILE.")] = None,
          max_nodes: Annotated[int, typer.Option("--max-nodes", min=1, help="Nodes drawn at most.")] = 60,
          digits: Annotated[int, typer.Option("--digits", min=1, max=17)] = 4,
          convention: ConventionOpt = Convention.tensorflow, seed: SeedOpt = None,
          debug: DebugOpt = False) -> int:
    """The computational graph: each node's operation, forward value and adjoint; edges
    labelled with local partials."""
    from . import api, render, visual

    result = api.grad(read_program(program, file), of=of, at=parse_at(at), convention=convention.value)
    pic = visual.picture(result, render.fmt, digits, max_nodes)
    if format is GraphFormat.tree:
        render.graph_tree(pic)
        return 0
    text = visual.to_mermaid(pic) if format is GraphFormat.mermaid else visual.to_dot(pic)
    if format in (GraphFormat.dot, GraphFormat.mermaid):
        if output is None:
            sys.stdout.write(text)
        else:
            visual.write_file(output, text)
        return 0
    if output is None:
        raise UsageError(f"--format {format.value} writes an image: give a file, -o FILE.{format.value}")
    missing = visual.render_image(text, output, format.value)
    if missing:
        sys.stderr.write(missing + "\n")
        return 1
    return 0


@app.command()
@_handled
def plot(program: ProgramArg = None, file: FileOpt = None, at: AtOpt = [],  # noqa: B006
         over: Annotated[str, typer.Option("--over", help="NAME=START:STOP[:COUNT], e.g. x=-3:3.")] = "",
         of: OneOfOpt = None,
         order: Annotated[int, typer.Option("--order", min=1, max=3, help="Derivatives drawn.")] = 1,
         output: Annotated[Path | None, typer.Option(
             "-o", "--output", help="Write an image (.png, .svg), not a terminal plot.")] = None,
         seed: SeedOpt = None, debug: DebugOpt = False) -> int:
    """f and its derivatives over a range: in the terminal, or as an image with -o.

    Kinks and non-finite points are gaps, not lines through them.
    """
    from . import plot as plotting

    if not over:
        raise UsageError("give the range to draw: --over x=-3:3")
    curves = plotting.curves(read_program(program, file), over, order, parse_at(at), of)
    if output is None:
        sys.stdout.write(plotting.terminal_plot(curves, colour=_colour()) + "\n")
    else:
        if output.suffix.lower() not in (".png", ".svg", ".pdf"):
            raise UsageError(f"-o {output}: the image must end in .png, .svg or .pdf")
        try:
            plotting.image_plot(curves, str(output), title=program or str(file))
        except OSError as err:
            raise UsageError(f"cannot write {output}: {err.strerror or err}") from None
    return 0


@app.command()
@_handled
def functions(debug: DebugOpt = False) -> int:
    """The functions a program can call, with the derivative of each."""
    from . import api, render

    render.print_tables([render.functions_table(api.function_list())])
    return 0


# ----------------------------------------------------------------------------------------------
# adiff fit: training a program's parameters (the library half is training.py)
# ----------------------------------------------------------------------------------------------

@app.command()
@_handled
def fit(program: ProgramArg = None, file: FileOpt = None, at: AtOpt = [],  # noqa: B006
        params: Annotated[list[str], typer.Option(
            "--params", help="The inputs to train: W1,b1,W2,b2 or repeated.")] = [],  # noqa: B006
        samples: Annotated[list[str], typer.Option(
            "--samples", help="Inputs whose first axis is the sample axis: X,Y. A batch is some of "
                              "their rows, shape kept.")] = [],  # noqa: B006
        cost: Annotated[str | None, typer.Option(
            "--cost", help="The node to lower (default: the last statement); of an array, its mean.")] = None,
        optimizer: Annotated[str, typer.Option(
            "--optimizer", help="The update of each parameter w by its gradient g, as Keras 3 writes it. "
            "sgd: w ← w − η·g. momentum: m ← μ·m − η·g; w ← w + m. nesterov: m ← μ·m − η·g; "
            "w ← w + μ·m − η·g. adam (step t): m ← m + (g − m)(1 − β₁); v ← v + (g² − v)(1 − β₂); "
            "w ← w − η·√(1 − β₂ᵗ)/(1 − β₁ᵗ)·m/(√v + ε), β₁ 0.9, β₂ 0.999, ε 1e-7. rmsprop: "
            "v ← ρ·v + (1 − ρ)·g²; w ← w − η·g/√(v + ε), ρ 0.9, ε 1e-7.")] = "sgd",
        lr: Annotated[float | None, typer.Option(
            "--lr", help="Learning rate η (default: Keras's, 0.01 for sgd, momentum and nesterov, "
                         "0.001 for adam and rmsprop).", show_default=False)] = None,
        momentum: Annotated[float, typer.Option("--momentum", help="μ of momentum and nesterov.")] = 0.9,
        lr_decay: Annotated[float, typer.Option(
            "--lr-decay", help="Step decay: η is multiplied by F every N steps, N given next "
                               "(η_t = lr·F^⌊(t−1)/N⌋, Keras's ExponentialDecay with staircase).")] = 1.0,
        lr_decay_every: Annotated[int, typer.Option(
            "--lr-decay-every", help="N, the steps between two decays (0: no decay).")] = 0,
        batch_size: Annotated[int, typer.Option("--batch-size", help="Samples per step.")] = 32,
        epochs: Annotated[int, typer.Option("--epochs", help="Passes over the samples.")] = 1,
        shuffle: Annotated[bool, typer.Option(
            "--shuffle/--no-shuffle", help="Shuffle the samples each epoch, or take them in order.")] = True,
        validation_split: Annotated[float, typer.Option(
            "--validation-split", help="Hold out this last fraction of the samples (before shuffling) and "
                                       "show their loss after each epoch, as Keras does.")] = 0.0,
        metric: Annotated[str | None, typer.Option(
            "--metric", help="accuracy: how often the argmax of the first --predict node equals the "
                             "argmax of the last --samples array (one-hot targets; with one output, "
                             "both on the same side of 0.5), each epoch.")] = None,
        predict: Annotated[list[str], typer.Option(
            "--predict", help="Nodes to evaluate after training, at --query (e.g. P).")] = [],  # noqa: B006
        show: Annotated[list[str], typer.Option(
            "--show", help="More nodes to show at the query, e.g. the hidden layer H.")] = [],  # noqa: B006
        query: Annotated[list[str], typer.Option(
            "--query", help="Input values for the predictions: --query \"X=[[0.8, 0]]\".")] = [],  # noqa: B006
        check_gradient: Annotated[bool, typer.Option(
            "--check-gradient", help="First compare each parameter's gradient with central differences; "
                                     "exit code 1, no training, if they disagree.")] = False,
        plot: Annotated[str | None, typer.Option(
            "--plot", help="Draw the loss per epoch (and the validation loss) to FILE.png or FILE.svg, "
                           "or in the terminal with --plot -.", show_default=False)] = None,
        save: Annotated[Path | None, typer.Option(
            "--save", help="Write the program with the trained values in place of the initial ones "
                           "(also after Ctrl-C; not after divergence).", show_default=False)] = None,
        json_: JsonOpt = False,
        digits: DigitsOpt = 6,
        full: FullOpt = False, dtype: DtypeOpt = "float64", seed: SeedOpt = None,
        convention: ConventionOpt = Convention.tensorflow, debug: DebugOpt = False) -> int:
    """Train the parameters of a program on sample arrays, as Keras's model.fit.

    Example: adiff fit -f samples/dense_2_2_2.adiff --params W1,b1,W2,b2 --samples X,Y --batch-size 1
    --lr 1 --epochs 120 --no-shuffle --predict P --query "X=[[0.8,0],[0.2,0.9]]"

    Exit codes: 0 trained; 1 the loss or a gradient became non-finite (training diverged), or
    --check-gradient found a disagreement; 2 bad program, names, shapes or options; 130 Ctrl-C
    (training stops after the current step, and the state reached is shown and saved).
    """
    from . import render, render_fit, training
    from .initialisers import DEFAULT_SEED
    from .inputs import value_of
    from .parse import parse

    nodes = list(dict.fromkeys(names_listed(predict) + names_listed(show)))
    if query and not nodes:
        raise UsageError("--query gives inputs for --predict or --show: name the nodes to evaluate")
    if plot not in (None, "-") and not plot.lower().endswith((".png", ".svg")):
        raise UsageError(f"--plot {plot}: the image must end in .png or .svg (or --plot - for the terminal)")
    if save is not None and save.suffix != ".adiff":
        raise UsageError(f"--save {save}: the program is saved to a .adiff file")
    prog = parse(read_program(program, file))
    if save is not None:
        from .rewrite import save_atomically, value_places, with_values

        value_places(prog, names_listed(params))  # a --save that cannot be done fails before training
    queried = {name: value_of(text, name) for name, text in parse_at(query).items()}
    out = sys.stderr if json_ else sys.stdout
    with render_fit.FitProgress(out, quiet=json_ and not render.wants_rich(out)) as progress:
        result = training.fit(prog, params=names_listed(params), samples=names_listed(samples),
                              inputs=parse_at(at), cost=cost, optimizer=optimizer, lr=lr, momentum=momentum,
                              lr_decay=lr_decay, lr_decay_every=lr_decay_every, batch_size=batch_size,
                              epochs=epochs, shuffle=shuffle, seed=DEFAULT_SEED if seed is None else seed,
                              dtype=dtype, convention=convention.value, check_gradient=check_gradient,
                              validation_split=validation_split, metric=metric,
                              metric_output=nodes[0] if nodes else None,
                              predict=nodes, query=queried, progress=progress)
    if result.interrupted:
        sys.stderr.write(f"interrupted: stopped after {result.steps_done} steps "
                         f"({len(result.epoch_losses)} whole epochs); the state reached follows\n")
    unsaved = None
    if save is not None and not result.check_failed:
        try:
            save_atomically(str(save), with_values(prog, result.trained))
            result.saved = str(save)
        except AdiffError as err:  # the results are shown all the same, then the error
            unsaved = err
    if json_:
        sys.stdout.write(render.to_json(render_fit.fit_document(result)) + "\n")
    else:
        sys.stdout.write(render_fit.fit_heading(result) + "\n")
        render.print_tables(render_fit.fit_tables(result, digits, full))
    if plot is not None:
        drawn = render_fit.loss_plot(result, None if plot == "-" else plot, colour=_colour())
        if drawn:
            (sys.stderr if json_ else sys.stdout).write(drawn + "\n")
    if unsaved is not None:
        sys.stderr.write(unsaved.render() + "\n")
        return unsaved.exit_code
    return result.exit_code


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        sys.stdout.write(f"adiff {version('adiff')}\n")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", "-V", is_eager=True, callback=_version, help="Print adiff's version and exit.")] = False
          ) -> None:
    """The options before a command (the help text is the app's)."""


def program_first(command: Any, args: list[str]) -> list[str]:
    """Only names that are real options are options: a program that starts with '-' (`adiff grad
    "-x^2" --at x=3`) is moved after a `--`, so Click reads it as the program, not an option."""
    sub = command.commands.get(args[0]) if args and hasattr(command, "commands") else None
    if sub is None or "--" in args or not any(p.name == "program" for p in sub.params):
        return args
    options = {name: p for p in sub.params if p.param_type_name == "option"
               for name in p.opts + p.secondary_opts}
    i = 1
    while i < len(args):
        arg = args[i]
        option = options.get(arg.split("=", 1)[0])
        if option is not None:
            i += 1 if "=" in arg or option.is_flag or option.count else 2
        elif arg.startswith("-") and not arg.startswith("--") and len(arg) > 1 and arg not in ("-h",):
            return [*args[:i], *args[i + 1:], "--", arg]
        else:
            i += 1
    return args


def command_line(args: list[str]) -> Any:
    """The Click command for one invocation, built once. Typer builds a command's options from
    its signature, about 3 ms a command: only the command named is built, the whole app for
    anything else (--help, a misspelt command, shell completion)."""
    every = app.registered_commands
    named = [c for c in every if args and (c.name or c.callback.__name__.replace("_", "-")) == args[0]]
    if not named or "_ADIFF_COMPLETE" in os.environ:
        return typer.main.get_command(app)
    app.registered_commands = named
    try:
        return typer.main.get_command(app)
    finally:
        app.registered_commands = every


def main() -> None:
    import warnings

    warnings.filterwarnings("ignore", category=RuntimeWarning)  # adiff reports non-finite values itself
    if len(sys.argv) == 1 and "_ADIFF_COMPLETE" not in os.environ:  # `adiff` alone: the session
        # (session.py, session_prompt.py); shell completion also runs `adiff` alone, with that variable
        from .session_prompt import start

        sys.exit(start(lambda: typer.main.get_command(app), program_first))
    command = command_line(sys.argv[1:])
    try:
        command.main(args=program_first(command, sys.argv[1:]), prog_name="adiff")
    except BrokenPipeError:
        _quiet_stdout()
