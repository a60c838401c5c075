"""Batch speed goal (adiff run): 1,000 small program files in under 3 s, whole process.

    python benchmarks/bench_run.py [--runs N] [--files N]

Writes 1,000 small programs (a few statements and 2-3 expect lines each, six kinds: chain rule,
perceptron, polynomial, arrays, second derivative, logsumexp) to a temporary folder, then
times ONE `adiff run <all files>` call, whole process, median of --runs runs (after one
warm-up run that also checks that every file passes), with --jobs 1 and with --jobs 2; and
`python -c "import numpy, rich, typer, lark"` in the same run as a baseline for the machine.
Prints the figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

from common import adiff_command

GOAL_SECONDS = 3.0


def _chain(r: random.Random) -> str:
    a = round(r.uniform(0.2, 2.0), 3)
    v = a * a
    return (f"x = {a!r}\nv = x^2\nu = sin(v)\nf = exp(u)\n"
            f"expect u == {math.sin(v)!r}\n"
            f"expect grad(f, x) == {math.exp(math.sin(v)) * math.cos(v) * 2 * a!r}\n"
            f"expect grad(f, v) == {math.exp(math.sin(v)) * math.cos(v)!r}\n")


def _perceptron(r: random.Random) -> str:
    w, b, i, y = (round(r.uniform(-1, 1), 3) for _ in range(4))
    z = w * i + b
    p = 1 / (1 + math.exp(-z))
    dz = 2 * (p - y) * p * (1 - p)
    return (f"w = {w!r}\nb = {b!r}\ni = {i!r}\ny = {y!r}\nz = w*i + b\np = sigmoid(z)\nc = (p - y)^2\n"
            f"expect grad(c, w) == {dz * i!r}\nexpect grad(c, b) == {dz!r}\n")


def _polynomial(r: random.Random) -> str:
    a, k = round(r.uniform(-2, 2), 3), r.randint(1, 9)
    return (f"x = {a!r}\nf = x^3 + {k}*x - 1\n"
            f"expect f == {a ** 3 + k * a - 1!r}\nexpect grad(f, x) == {3 * a * a + k!r}\n")


def _arrays(r: random.Random) -> str:
    xs = [round(r.uniform(-3, 3), 2) for _ in range(r.randint(2, 5))]
    return (f"x = {xs!r}\nf = sum(x^2)\n"
            f"expect f == {sum(v * v for v in xs)!r}\nexpect grad(f, x) == {[2 * v for v in xs]!r}\n"
            f"expect mean(x) == {sum(xs) / len(xs)!r}\n")


def _second(r: random.Random) -> str:
    a, b = round(r.uniform(-2, 2), 3), round(r.uniform(-2, 2), 3)
    return (f"x = {a!r}\ny = {b!r}\nf = x^2*y^3\n"
            f"expect grad(grad(f, x), y) == {6 * a * b * b!r}\nexpect grad(f, y) == {3 * a * a * b * b!r}\n")


def _logsumexp(r: random.Random) -> str:
    zs = [round(r.uniform(-2, 2), 3) for _ in range(3)]
    total = sum(math.exp(v) for v in zs)
    return (f"z = {zs!r}\nf = logsumexp(z)\n"
            f"expect f == {math.log(total)!r}\nexpect grad(f, z) == {[math.exp(v) / total for v in zs]!r}\n")


KINDS = [_chain, _perceptron, _polynomial, _arrays, _second, _logsumexp]


def write_files(folder: str, n: int) -> list[str]:
    r = random.Random(2024)
    names = []
    for i in range(n):
        name = f"p{i:04d}.adiff"
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.write(f"# program {i}\n" + KINDS[i % len(KINDS)](r))
        names.append(name)
    return names


def wall(cmd: list[str], cwd: str) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    return time.perf_counter() - start, proc


def median(cmd: list[str], runs: int, cwd: str) -> tuple[float, str]:
    """Median wall time of `runs` runs after one warm-up run, which must succeed; and the
    summary line of that warm-up run."""
    _, proc = wall(cmd, cwd)
    if proc.returncode != 0:
        shown = (proc.stdout + proc.stderr)[-2000:]
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd[:4])} ...\n{shown}")
    summary = (proc.stdout.strip().splitlines() or [""])[-1]
    return statistics.median(wall(cmd, cwd)[0] for _ in range(runs)), summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    adiff = adiff_command()

    with tempfile.TemporaryDirectory() as tmp:
        names = write_files(tmp, args.files)
        print(f"adiff run: {args.files:,} small files (2-3 expects each), whole process, "
              f"median of {args.runs} runs")
        base, _ = median([sys.executable, "-c", "import numpy, rich, typer, lark"], args.runs, tmp)
        one, summary = median([*adiff, "run", *names], args.runs, tmp)
        two, _ = median([*adiff, "run", "--jobs", "2", *names], args.runs, tmp)
        print(f"   {summary}")
        rows = [("import numpy, rich, typer, lark", base, ""),
                (f"adiff run <{args.files:,} files>", one,
                 f"(goal: 1,000 small files in under {GOAL_SECONDS:g} s; "
                 f"{'met' if one < GOAL_SECONDS else 'NOT met'})"),
                (f"adiff run --jobs 2 <{args.files:,} files>", two,
                 f"({one / two:.2f}x the speed of --jobs 1)")]
        for label, seconds, note in rows:
            print(f"   {label:38s} {seconds:6.3f} s   {note}".rstrip())
        print(f"   per file, --jobs 1: {(one - base) / args.files * 1000:.2f} ms beyond the imports")


if __name__ == "__main__":
    main()
