"""Sample files and batch runs: each file is evaluated, differentiated and its `expect` lines
checked; one bad file never loses the others' results."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .api import grad
from .engine import forward, nonfinite_on_the_way
from .errors import EXIT_CHECK, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, AdiffError, UsageError
from .inputs import EXPECT_ATOL, EXPECT_RTOL, input_values, read_text
from .parse import parse
from .results import jsonable


@dataclass
class ExpectResult:
    text: str
    line: int
    ok: bool
    lhs: Any
    rhs: Any
    difference: Any
    tolerance: str

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "line": self.line, "ok": self.ok, "lhs": jsonable(self.lhs),
                "rhs": jsonable(self.rhs), "difference": jsonable(self.difference),
                "tolerance": self.tolerance}


@dataclass
class RunResult:
    """One file's run: its expects, the gradient of its target, or the error that stopped it."""

    file: str
    expects: list[ExpectResult] = field(default_factory=list)
    gradients: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    error_code: int = EXIT_OK
    finite: bool = True
    seconds: float = 0.0
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.finite and all(e.ok for e in self.expects)

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return self.error_code
        return EXIT_OK if self.ok else EXIT_CHECK

    def to_dict(self) -> dict[str, Any]:
        """One line of `adiff run --json` (JSON Lines)."""
        return {"file": self.file, "ok": self.ok, "expects": [e.to_dict() for e in self.expects],
                "gradients": {t: {w: jsonable(v) for w, v in row.items()}
                              for t, row in self.gradients.items()},
                "error": self.error, "note": self.note}


def _within(lhs: Any, rhs: Any, tol: float | None, rtol: float, atol: float) -> tuple[bool, Any, str]:
    with np.errstate(all="ignore"):
        lhs, rhs = np.asarray(lhs, dtype=float), np.asarray(rhs, dtype=float)
        if lhs.shape != rhs.shape and rhs.size != 1:  # a number on the right may stand for all
            return False, np.nan, f"shapes differ: {lhs.shape} and {rhs.shape}"
        difference = np.abs(lhs - rhs)
        if tol is not None:
            ok = bool(np.all(difference <= tol))
            text = f"within {tol:g}"
        else:
            ok = bool(np.all(difference <= atol + rtol * np.abs(rhs)))
            text = f"rtol {rtol:g}, atol {atol:g}"
        ok = ok and bool(np.isfinite(lhs).all() and np.isfinite(rhs).all())
        return ok, np.max(difference) if difference.size else 0.0, text


def run_text(text: str, name: str, rtol: float = EXPECT_RTOL, atol: float = EXPECT_ATOL) -> RunResult:
    """Run one program: evaluate it, check each expect line, differentiate its target with
    respect to its inputs. Errors become part of the result, never an exception."""
    start = time.perf_counter()
    result = RunResult(name)
    try:
        program = parse(text)
        values, _ = forward(program, input_values(program, {}, from_command_line=False))
        through = nonfinite_on_the_way(program, values, [program.target, *[e.node for e in program.expects]])
        if through is not None:  # a finite value computed through a nan or inf: not an answer
            result.error, result.error_code, result.finite = through.message, EXIT_CHECK, False
        for e in program.expects:
            ok, difference, tolerance = _within(values[e.lhs], values[e.rhs], e.tol, rtol, atol)
            result.expects.append(ExpectResult(e.text, e.line, ok, values[e.lhs], values[e.rhs],
                                               difference, tolerance))
        try:
            computed = grad(program)
        except AdiffError as err:  # e.g. a target that is itself a gradient through matmul
            result.note = f"no gradient of the target: {err.message}"
        else:
            result.gradients = computed.gradients
            result.finite = computed.answered
            if not computed.answered:
                result.error = next((w.message for w in computed.warnings if w.kind == "non-finite"),
                                    "a requested value is not finite")
                result.error_code = EXIT_CHECK
    except AdiffError as err:
        result.error = err.render()
        result.error_code = err.exit_code
    except Exception as err:  # noqa: BLE001 - a bug must not lose the other files' results
        result.error = f"internal error: {type(err).__name__}: {err} (a bug in adiff)"
        result.error_code = EXIT_INTERNAL
    result.seconds = time.perf_counter() - start
    return result


def run_file(path: str, rtol: float = EXPECT_RTOL, atol: float = EXPECT_ATOL,
             stdin_text: str | None = None) -> RunResult:
    if path == "-":
        return run_text(stdin_text or "", "-", rtol, atol)
    try:
        text = read_text(path)
    except UsageError as err:
        return RunResult(path, error=err.message, error_code=EXIT_USAGE)
    return run_text(text, path, rtol, atol)


def _run_one(job: tuple[str, float, float, str | None]) -> RunResult:
    return run_file(*job)


def run_files(paths: list[str], rtol: float = EXPECT_RTOL, atol: float = EXPECT_ATOL, jobs: int = 1,
              stdin_text: str | None = None):
    """Each file's result, in the order given; with jobs > 1, files run in that many processes."""
    from .api import check_tolerances

    check_tolerances(rtol, atol)
    work = [(p, rtol, atol, stdin_text) for p in paths]
    if jobs <= 1 or len(paths) <= 1:
        yield from map(_run_one, work)
        return
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        yield from pool.imap(_run_one, work, chunksize=max(1, len(work) // (jobs * 8)))


def exit_code(results: list[RunResult]) -> int:
    """70 when adiff failed on a file (a bug); else 2 when a file could not be read or parsed;
    else 1 when an expect failed or a value is not finite; else 0."""
    codes = {r.exit_code for r in results}
    for code in (EXIT_INTERNAL, EXIT_USAGE, EXIT_CHECK):
        if code in codes:
            return code
    return EXIT_OK
