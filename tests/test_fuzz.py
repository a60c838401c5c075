"""Grammar-aware fuzzing of adiff, with a small budget in the default test run (a few hundred
programs, seconds); benchmarks/fuzz.py runs the same strategies for minutes.

Programs are generated from the language's own productions and the op table: statements
(`v1 = expr`), infix operators with their precedence levels, calls of every scalar function in
FUNCTIONS with its arity, comparisons inside where(), unary minus, grad(f, x), numbers from
tiny to huge and the named constants. Mutations then break them the way people and files do:
a token deleted or duplicated, a stray unicode or control character, CRLF line ends, a
byte-order mark, bytes that are not UTF-8, and odd command-line options.

Invariants:
- no command ever exits 70 (an internal error), whatever the input;
- every failure says something: exit 2 has an `error` message on stderr, exit 1 a warning or a
  verdict; a parse error of program text has a line and a column;
- at smooth, finite points reverse mode, forward mode and central differences agree;
- the symbolic derivative that `adiff diff` prints, read back by adiff, evaluates to the same
  numbers as the derivative adiff computed.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from autodiff_cli import api, engine
from autodiff_cli.cli import app
from autodiff_cli.errors import EXIT_INTERNAL, AdiffError, ParseError
from autodiff_cli.ops import FUNCTIONS, OPS
from autodiff_cli.parse import parse

# --- the generator ----------------------------------------------------------------------------------

NAMES = ("x", "y", "z")
INFIX = ("+", "-", "*", "/", "^")  # the grammar's arithmetic levels: sum, product, power
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
REDUCTIONS = ("sum", "mean", "max", "min", "logsumexp")  # array operations of an array literal
SPECIAL_NUMBERS = ("1e308", "1e-320", "1e400", "0", "0.0", "2.5e-3", "pi", "e", "π", "123456789")


def _scalar_calls() -> dict[int, list[str]]:
    """Every call name of an elementwise function in the op table, by its number of arguments."""
    by_arity: dict[int, list[str]] = {}
    for name, entry in sorted(FUNCTIONS.items()):
        if entry.arity < 1 or entry.is_array or entry.params or entry.variadic or entry.derivative:
            continue
        if entry.name not in OPS or not entry.call:
            continue
        by_arity.setdefault(entry.arity, []).append(name)
    return by_arity


CALLS = _scalar_calls()

numbers = st.one_of(
    st.integers(0, 12).map(str),
    st.floats(0.01, 10, allow_nan=False).map(lambda v: f"{v:.3g}"),
    st.sampled_from(SPECIAL_NUMBERS),
)
leaves = st.one_of(st.sampled_from(NAMES), st.sampled_from(NAMES), numbers)


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, st.sampled_from(INFIX), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda a: f"-{a}"),
        st.tuples(st.sampled_from(CALLS[1]), inner).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(CALLS[2]), inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(inner, st.sampled_from(COMPARISONS), inner, inner, inner).map(
            lambda t: f"where({t[0]} {t[1]} {t[2]}, {t[3]}, {t[4]})"),
        st.tuples(inner, st.sampled_from(NAMES)).map(lambda t: f"grad({t[0]}, {t[1]})"),
        st.tuples(st.sampled_from(REDUCTIONS), inner, inner).map(lambda t: f"{t[0]}([{t[1]}, {t[2]}])"),
    )


expressions = st.recursive(leaves, _extend, max_leaves=12)


@st.composite
def programs(draw: Any) -> str:
    """A program: a few named steps, each using the inputs and the steps before it, then an
    expression; statements on lines or separated by semicolons."""
    steps = draw(st.integers(0, 3))
    lines = []
    for i in range(steps):
        expr = draw(expressions)
        if i and draw(st.booleans()):
            expr = f"{expr} * v{i}"  # use an earlier step
        lines.append(f"v{i + 1} = {expr}")
    last = draw(expressions)
    if steps and draw(st.booleans()):
        last = f"{last} + v{steps}"
    lines.append(last)
    return draw(st.sampled_from(["\n", "; "])).join(lines)


TOKEN = re.compile(r"\d+\.?\d*(?:e-?\d+)?|\w+|\S")
STRAY = ("é", "∂", "\u200b", "\x00", "\x07", "😀", "√", "°", "\t", "\\", "'", '"', "#", "[", "]", ",", "@",
         "=")


@st.composite
def mutated(draw: Any) -> str:
    """A generated program broken one way or another (or left alone, sometimes)."""
    text = draw(programs())
    tokens = [(m.start(), m.end()) for m in TOKEN.finditer(text)]
    kind = draw(st.sampled_from(["delete", "duplicate", "stray", "crlf", "bom", "huge", "none"]))
    if kind in ("delete", "duplicate", "stray", "huge") and tokens:
        start, end = tokens[draw(st.integers(0, len(tokens) - 1))]
        if kind == "delete":
            text = text[:start] + text[end:]
        elif kind == "duplicate":
            text = text[:end] + " " + text[start:end] + text[end:]
        elif kind == "stray":
            text = text[:start] + draw(st.sampled_from(STRAY)) + text[start:]
        else:
            text = text[:start] + draw(st.sampled_from(["1e999999", "9" * 400, "-1e-999", "0x1F", "1_000"])) \
                + text[end:]
    elif kind == "crlf":
        text = text.replace("\n", "\r\n").replace("; ", "\r\n")
    elif kind == "bom":
        text = "\ufeff" + text
    return text


def points(names: list[str]) -> st.SearchStrategy[dict[str, float]]:
    values = st.floats(-3, 3, allow_nan=False).map(lambda v: round(v, 3))
    return st.fixed_dictionaries({n: values for n in names})


ODD_OPTIONS = (
    [], ["--json"], ["--digits", "1"], ["--at", "x="], ["--at", "x=1e999"], ["--at", "x=[nan]"],
    ["--at", "3"], ["--at", "x=1", "--at", "x=2"], ["--wrt", "nosuch"], ["--wrt", "x,x"], ["--of", "nosuch"],
    ["--convention", "pytorch"], ["--convention", "jax"], ["--at", "x=[1,2]"], ["--at", "y=[[1],[2]]"],
    ["--at", "x=é"], ["--at", "x=1,,y=2"], ["--at", "=1"], ["--at", "x=ones(3)"],
)
COMMAND_OPTIONS = {
    "grad": (["--steps"], ["--dtype", "float32"], ["--all-nodes"], ["--grid", "x=0:1:3"],
             ["--grid", "x=0:1:0"]),
    "compare": (["--rtol", "nan"], ["--atol", "inf"], ["--eps", "-1"], ["--eps", "1e-300"], ["--sweep"],
                ["--at-kink", "ok"]),
    "diff": (["--order", "2"], ["--order", "0"], ["--latex"], ["--factored"], ["--max-chars", "5"]),
    "jacobian": (["--full"],),
    "graph": (["--format", "dot"], ["--format", "mermaid"], ["--max-nodes", "1"]),
}


# --- running adiff as a user does ------------------------------------------------------------------

def invoke(args: list[str], input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, input=input, env={"NO_COLOR": "1", "COLUMNS": "120"})
    return result.exit_code, result.stdout, result.stderr


def check_answer(args: list[str], code: int, out: str, err: str) -> None:
    """No internal error, and every failure says something."""
    shown = " ".join(repr(a) for a in args)
    assert code != EXIT_INTERNAL, f"internal error for adiff {shown}:\n{err}"
    assert "Traceback" not in err, f"a traceback for adiff {shown}:\n{err}"
    if code == 2:  # `run` reports a file's error on its own line of the output
        assert err.strip() or args[0] == "run" and "ERROR" in out, \
            f"exit 2 without a message for adiff {shown}"
    if code == 1:  # with --json, the warnings are in the document
        said = err.strip() or "DISAGREE" in out or "NO DERIVATIVE" in out or "FAIL" in out
        assert said or "--json" in args and ('"kind": "non-finite"' in out or '"agree": false' in out), \
            f"exit 1 without a message for adiff {shown}:\n{out}"


def input_args(point: dict[str, float]) -> list[str]:
    return [a for n, v in point.items() for a in ("--at", f"{n}={v!r}")]


# The default run's budget: 50 programs per invariant, the same ones every run. benchmarks/fuzz.py
# sets ADIFF_FUZZ_EXAMPLES for long runs of fresh programs.
LONG_RUN = os.environ.get("ADIFF_FUZZ_EXAMPLES")
FUZZ = settings(max_examples=int(LONG_RUN or 50), deadline=None, derandomize=not LONG_RUN, database=None,
                suppress_health_check=list(HealthCheck))


# --- invariants --------------------------------------------------------------------------------------

@FUZZ
@given(program=programs(), point=points(list(NAMES)),
       command=st.sampled_from(["grad", "compare", "diff", "jacobian", "graph"]), data=st.data())
def test_commands_answer_or_refuse_clearly(program: str, point: dict, command: str, data: Any) -> None:
    extra = data.draw(st.sampled_from(ODD_OPTIONS + COMMAND_OPTIONS[command]))
    used = {n: v for n, v in point.items() if re.search(rf"\b{n}\b", program)}
    args = [command, program, *input_args(used), *extra]
    check_answer(args, *invoke(args))


@FUZZ
@given(text=mutated(), point=points(list(NAMES)))
def test_broken_programs_are_placed_and_refused(text: str, point: dict) -> None:
    try:
        parse(text)
    except ParseError as err:
        assert err.message.strip()
        if "empty" not in err.message and "characters long" not in err.message:
            assert err.line is not None, f"no line for {text!r}: {err.message}"
            assert err.column is not None or "expect" in err.message or "shapes" in err.message, \
                f"no column for {text!r}: {err.message}"
    except AdiffError as err:
        assert err.message.strip()
    args = ["grad", "-", *input_args(point)]
    check_answer(args, *invoke(args, input=text))


@FUZZ
@given(program=programs(), data=st.binary(min_size=1, max_size=6))
def test_files_that_are_not_text_are_refused_with_the_place(tmp_path_factory: Any, program: str,
                                                             data: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "program.adiff"
    raw = program.encode()
    cut = len(raw) // 2
    path.write_bytes(b"\xef\xbb\xbf" + raw[:cut] + data + raw[cut:])
    for args in (["grad", "-f", str(path), "--at", "x=1", "--at", "y=2", "--at", "z=3"],
                 ["run", str(path)]):
        code, out, err = invoke(args)
        check_answer(args, code, out, err)
        if "not UTF-8" in err:
            assert re.search(r"byte 0x[0-9a-f]{2} at line \d+, column \d+", err), err


def _smooth_gradient(program: str, point: dict[str, float]) -> tuple[Any, dict] | None:
    """The program and its gradient where the point is a fair test: everything finite and of
    moderate size, no kink or selection on the way, no warning."""
    try:
        prog = parse(program)
        at = {n: point[n] for n in prog.inputs if n in point}
        if len(at) != len(prog.inputs):
            return None
        result = api.grad(prog, at=at)
    except AdiffError:
        return None
    if not result.answered or result.warnings or result.not_connected:
        return None
    row = result.gradients[prog.target_name]
    values = [v for v in result.values if v is not None]
    if any(np.ndim(v) or not abs(float(v)) < 1e4 for v in [*values, *row.values()]):
        return None
    if any(prog.graph[n].op in engine.SELECTING or OPS.get(prog.graph[n].op) is not None
           and OPS[prog.graph[n].op].kink is not None for n in prog.graph.ancestors([prog.target])):
        return None  # piecewise: a central difference may straddle the switch
    return prog, row


def _central(prog: Any, point: dict[str, float], name: str, h: float) -> float:
    """The oracle: (f(x + h) - f(x - h)) / 2h from forward values alone."""
    def value(shift: float) -> float:
        moved = {n: np.float64(v + (shift if n == name else 0.0))
                 for n, v in point.items() if n in prog.inputs}
        values, _ = engine.forward(prog, moved)
        return float(values[prog.target])

    return (value(h) - value(-h)) / (2 * h)


@FUZZ
@given(program=programs(), point=points(list(NAMES)))
def test_reverse_forward_and_central_differences_agree(program: str, point: dict) -> None:
    found = _smooth_gradient(program, point)
    if found is None:
        return
    prog, row = found
    values, _ = engine.forward(prog, {n: np.float64(point[n]) for n in prog.inputs})
    lin = engine.linearize(prog, values, engine.needed_nodes(prog, [prog.target]))
    for name, reverse in row.items():
        tangent = engine.tangents(prog, lin, prog.inputs[name]).get(prog.target, 0.0)
        assert np.isclose(tangent, reverse, rtol=1e-9, atol=1e-9), (program, name, tangent, reverse)
        coarse, fine = _central(prog, point, name, 1e-4), _central(prog, point, name, 1e-5)
        if not np.isclose(coarse, fine, rtol=1e-3, atol=1e-5):
            continue  # not smooth at this scale: no oracle here
        assert np.isclose(fine, reverse, rtol=1e-4, atol=1e-5), (program, point, name, fine, reverse)


@FUZZ
@given(program=programs(), point=points(list(NAMES)))
def test_printed_derivative_reads_back_to_the_same_numbers(program: str, point: dict) -> None:
    found = _smooth_gradient(program, point)
    if found is None:
        return
    prog, row = found
    at = {n: point[n] for n in prog.inputs}
    try:
        results = api.diff(program, at=at)
    except AdiffError:
        return  # a refusal (no closed form, a formula too large) is an answer
    for result in results:
        if result.value is None or not result.answered:
            continue
        text = "\n".join(f"{n} = {t}" if n else t for n, t in result.statements())
        read = parse(text)
        values, _ = engine.forward(read, {n: np.float64(at[n]) for n in read.inputs})
        again = values[read.target]
        assert np.isclose(again, result.value, rtol=1e-9, atol=1e-12), (program, text, again, result.value)
        assert np.isclose(result.value, row[result.wrt[0]], rtol=1e-7, atol=1e-9), (program, text)


@pytest.mark.parametrize("program", ["x^2", "v = sin(x); v*y"])
def test_the_generator_reaches_every_scalar_function(program: str) -> None:
    """The generator's vocabulary is the op table's: every elementwise call name is drawn."""
    drawn = set(CALLS[1]) | set(CALLS[2])
    assert {"sin", "exp", "log", "atan2", "max", "hypot"} <= drawn
    assert all(name in FUNCTIONS for name in drawn)
    assert parse(program).inputs
