"""The session's speed (issue 14, `adiff` with no arguments), as ratios against baselines
measured in the same run.

    python benchmarks/bench_session.py [--runs N] [--questions N]

1. Answer time at the prompt: the lecture's program (v = x^2; u = sin(v); f = exp(u)) is
   defined, then --questions `grad --at x=...` lines (default 100, a new point each) are replayed
   as piped input is, in this process (session.run_script's reading, session.answer for each
   line, the tables written to a buffer as to a pipe, and again drawn by Rich as on a terminal);
   the median time per answer, against
   (a) the whole process `adiff grad PROGRAM --at x=2` (goal: under 20 ms an answer; the issue
   quotes about 200 ms for the process) and (b) the library call api.grad alone (what the
   session adds: Click's parsing, the program's text, rendering).
2. The prompt appearing: `adiff` started on a pseudo-terminal, until its `>>>` is drawn, against
   the whole `adiff grad` process (goal: within 1.2x); runs interleaved, so both see the same
   load on a shared machine. Also: `adiff` reading an empty pipe (start-up, no prompt_toolkit).
3. qalc and Maxima's whole processes and their own answers, where they are installed.
Prints the figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import pty
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import adiff_command, median_time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
PROGRAM = "v = x^2; u = sin(v); f = exp(u)"  # REFERENCE.md section 1


class TerminalBuffer(io.StringIO):
    """Text that says it is a terminal: the tables are drawn by Rich, as at a real prompt."""

    def isatty(self) -> bool:
        return True


def answer_times(questions: int, terminal: bool = False) -> list[float]:
    """Each grad answer's time, in this process, as piped lines are answered (their tables
    written as to a pipe, or as to a terminal)."""
    import typer

    from autodiff_cli.cli import app
    from autodiff_cli.session import Session, lines_of

    session = Session(lambda: typer.main.get_command(app))
    questions_text = [f"grad --at x={1 + i / questions}" for i in range(questions)]
    script = io.StringIO("\n".join([PROGRAM, *questions_text]))
    times = []
    sink = TerminalBuffer() if terminal else io.StringIO()
    with contextlib.redirect_stdout(sink):
        for text in lines_of(script):
            start = time.perf_counter()
            code = session.answer(text)
            times.append(time.perf_counter() - start)
            assert code == 0, text
    assert sink.getvalue().count("Gradient") == questions
    return times[1:]  # the first line is the definition


def library_time(runs: int) -> float:
    from autodiff_cli import api

    return median_time(lambda: api.grad(PROGRAM, at={"x": 2.0}), runs)


def process_time() -> float:
    start = time.perf_counter()
    subprocess.run([*adiff_command(), "grad", PROGRAM, "--at", "x=2"], capture_output=True, check=True,
                   cwd=ROOT)
    return time.perf_counter() - start


def empty_pipe_time() -> float:
    start = time.perf_counter()
    subprocess.run(adiff_command(), input=b"", capture_output=True, check=True, cwd=ROOT)
    return time.perf_counter() - start


def prompt_time(history_folder: str) -> float:
    """From starting `adiff` on a pseudo-terminal to its prompt drawn (then Ctrl-D)."""
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(XDG_DATA_HOME=history_folder, TERM="xterm", COLUMNS="100", LINES="40")
        command = adiff_command()
        os.execv(command[0], command)
    seen, drawn = b"", None
    while drawn is None and time.perf_counter() - start < 30:
        if select.select([fd], [], [], 0.5)[0]:
            chunk = os.read(fd, 65536)
            if b"\x1b[6n" in chunk:  # the cursor position request a terminal answers
                os.write(fd, b"\x1b[1;1R")
            seen += chunk
            if b">>>" in seen:
                drawn = time.perf_counter() - start
    os.write(fd, b"\x04")
    with contextlib.suppress(OSError):
        while select.select([fd], [], [], 2)[0] and os.read(fd, 65536):
            pass
    os.waitpid(pid, 0)
    os.close(fd)
    if drawn is None:
        raise RuntimeError(f"no prompt within 30 s: {seen[-500:]!r}")
    return drawn


def interleaved(fns: list, runs: int) -> list[float]:
    """The median time of each function, taken in turn `runs` times (the same load for all)."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, into in zip(fns, times, strict=True):
            into.append(fn())
    return [statistics.median(t) for t in times]


def other_tools(runs: int, questions: int = 100) -> list[str]:
    """qalc's and Maxima's whole processes for one derivative, and their own answer time at their
    prompt: the same process fed 1 and 1 + `questions` derivatives on standard input, the
    difference divided by `questions` (what a session of questions costs them per answer)."""
    lines = []
    tools = {"qalc": (["qalc"], "diff(exp(sin(x^2)), x)\n"),
             "maxima": (["maxima", "--very-quiet"], "diff(exp(sin(x^2)),x);\n")}
    for tool, (args, question) in tools.items():
        if shutil.which(tool) is None:
            lines.append(f"  {tool}: not installed here")
            continue

        def fed(n: int, args: list[str] = args, question: str = question) -> float:
            start = time.perf_counter()
            subprocess.run(args, input=question * n, capture_output=True, text=True, check=False)
            return time.perf_counter() - start

        one, many = interleaved([lambda: fed(1), lambda: fed(1 + questions)], runs)
        lines.append(f"  {tool}: whole process {one * 1000:.0f} ms; at its prompt "
                     f"{(many - one) / questions * 1000:.2f} ms an answer")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11, help="whole-process runs of each kind")
    parser.add_argument("--questions", type=int, default=100, help="grad lines replayed in process")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as history:
        process, prompt, piped = interleaved(
            [process_time, lambda: prompt_time(history), empty_pipe_time], args.runs)
    answers = answer_times(args.questions)
    answer = statistics.median(answers)
    drawn = statistics.median(answer_times(args.questions, terminal=True))
    library = library_time(args.questions)
    print(f"1. answer to a grad line at the prompt (median of {len(answers)}, in process): "
          f"{answer * 1000:.1f} ms (goal: under 20 ms)")
    print(f"   the same, the tables drawn by Rich as on a terminal: {drawn * 1000:.1f} ms")
    print(f"   whole process `adiff grad` (median of {args.runs}): {process * 1000:.0f} ms: "
          f"the answer takes {answer / process:.3f}x of it")
    print(f"   api.grad alone: {library * 1000:.1f} ms: the session's answer is {answer / library:.1f}x "
          "(Click's parsing of the line, the program's text, the tables)")
    print(f"2. prompt drawn on a pseudo-terminal (median of {args.runs}): {prompt * 1000:.0f} ms: "
          f"{prompt / process:.2f}x the whole `adiff grad` process (goal: within 1.2x)")
    print(f"   `adiff` reading an empty pipe: {piped * 1000:.0f} ms ({piped / process:.2f}x)")
    print("3. other tools:")
    print("\n".join(other_tools(args.runs)))


if __name__ == "__main__":
    main()
