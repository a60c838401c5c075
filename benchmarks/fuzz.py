"""Long fuzzing runs: the strategies and invariants of tests/test_fuzz.py, with fresh random
programs for as long as asked, plus the real command line in a subprocess with a time budget.

    python benchmarks/fuzz.py --minutes 10          # every invariant, in turn, for ten minutes
    python benchmarks/fuzz.py --minutes 1 --budget 20 --seed 7

Each round runs every invariant of the test file on `--examples` new programs (Hypothesis
shrinks a failure to a small program, printed here and kept going), then a few generated
programs through `adiff` as a separate process, each command with `--budget` seconds: one
that runs longer is a finding (the bounded-work rule: an answer or a refusal, never minutes).
In-process commands that take longer than the budget are reported too. Exit code 1 when
anything was found, 0 otherwise.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import adiff_command  # noqa: E402

COMMANDS = ("grad", "compare", "diff", "jacobian", "graph")


class _Temp:
    """tmp_path_factory for the file invariant, outside pytest."""

    def __init__(self, base: Path):
        self.base, self.count = base, 0

    def mktemp(self, name: str) -> Path:
        self.count += 1
        path = self.base / f"{name}{self.count}"
        path.mkdir(parents=True, exist_ok=True)
        return path


def timed_invoke(budget: float, slow: list[str]) -> Any:
    """test_fuzz.invoke, timed: a command over the budget is recorded."""
    plain = test_fuzz.invoke

    def invoke(args: list[str], input: str | None = None) -> tuple[int, str, str]:
        start = time.perf_counter()
        result = plain(args, input)
        seconds = time.perf_counter() - start
        if seconds > budget:
            slow.append(f"{seconds:.1f} s in process: adiff {' '.join(repr(a) for a in args)[:300]}")
        return result

    return invoke


def run_invariant(test: Any, temp: _Temp) -> str | None:
    """One invariant on new programs (ADIFF_FUZZ_EXAMPLES of them); the shrunk failure, or None."""
    try:
        if "tmp_path_factory" in test.hypothesis.inner_test.__code__.co_varnames:
            test(tmp_path_factory=temp)
        else:
            test()
    except Exception:  # noqa: BLE001 - a finding: reported, and the run goes on
        return f"{test.__name__}:\n{traceback.format_exc(limit=3)}"
    return None


def subprocess_round(rng: random.Random, budget: float, count: int) -> list[str]:
    """`count` generated programs through the real command line, each command timed."""
    findings = []
    for _ in range(count):
        program = test_fuzz.programs().example()
        command = rng.choice(COMMANDS)
        used = [n for n in test_fuzz.NAMES if re.search(rf"\b{n}\b", program)]
        args = [command, program] + [a for n in used for a in ("--at", f"{n}={rng.uniform(-3, 3):.3f}")]
        start = time.perf_counter()
        try:
            proc = subprocess.run([*adiff_command(), *args], capture_output=True, text=True, timeout=budget,
                                  env={**os.environ, "NO_COLOR": "1"}, cwd=ROOT)
        except subprocess.TimeoutExpired:
            findings.append(f"over the {budget:g} s budget: adiff {' '.join(repr(a) for a in args)[:300]}")
            continue
        try:
            test_fuzz.check_answer(args, proc.returncode, proc.stdout, proc.stderr)
        except AssertionError as err:
            findings.append(f"command line: {err}")
        seconds = time.perf_counter() - start
        if seconds > budget:
            findings.append(f"{seconds:.1f} s: adiff {' '.join(repr(a) for a in args)[:300]}")
    return findings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to fuzz (default 10)")
    parser.add_argument("--examples", type=int, default=200, help="programs per invariant and round")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds a command may take")
    parser.add_argument("--processes", type=int, default=5, help="command-line runs per round")
    parser.add_argument("--seed", type=int, default=None, help="seed of the command-line runs")
    options = parser.parse_args()
    os.environ["ADIFF_FUZZ_EXAMPLES"] = str(options.examples)  # fresh programs, this many per round
    global test_fuzz
    import warnings

    import test_fuzz
    from hypothesis.errors import NonInteractiveExampleWarning

    warnings.filterwarnings("ignore", category=NonInteractiveExampleWarning)
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    rng = random.Random(options.seed)
    slow: list[str] = []
    test_fuzz.invoke = timed_invoke(options.budget, slow)
    temp = _Temp(Path(os.environ.get("TMPDIR", "/tmp")) / f"adiff-fuzz-{os.getpid()}")
    end = time.monotonic() + 60 * options.minutes
    findings: list[str] = []
    rounds = programs = 0
    invariants = [test_fuzz.test_commands_answer_or_refuse_clearly,
                  test_fuzz.test_broken_programs_are_placed_and_refused,
                  test_fuzz.test_files_that_are_not_text_are_refused_with_the_place,
                  test_fuzz.test_reverse_forward_and_central_differences_agree,
                  test_fuzz.test_printed_derivative_reads_back_to_the_same_numbers]
    while time.monotonic() < end:
        rounds += 1
        for test in invariants:
            if time.monotonic() >= end:
                break
            found = run_invariant(test, temp)
            programs += options.examples
            if found:
                findings.append(found)
                print(f"FOUND {found}", flush=True)
        findings += subprocess_round(rng, options.budget, options.processes)
        programs += options.processes
        print(f"round {rounds}: about {programs:,} programs, {len(findings) + len(slow)} findings",
              flush=True)
    findings += slow
    print(f"\n{rounds} rounds, about {programs:,} programs in {options.minutes:g} min; "
          f"{len(findings)} findings")
    for f in findings:
        print("-", f)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
