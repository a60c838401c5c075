"""Core speed goals (issue: core), as ratios against baselines measured in the same run.

    python benchmarks/bench_core.py [--runs N] [--only startup|size]

1. Start-up: `adiff grad "exp(sin(x^2))" --at x=2`, whole process, median wall time, against
   `python -c "import numpy, rich, typer, lark"` (goal: at most 1.0x). Measured with stdout
   piped (plain text) and on a pseudo-terminal (Rich tables).
2. Size: a 10,000-deep nesting sin(sin(...)) and a 10,000-term sum sin(1*x)+sin(2*x)+...,
   parse + forward + reverse, whole process (goal: under 1.5 s each); and the same at 100,000
   (goal: 10x the size costs at most 12x the time).
"""

from __future__ import annotations

import argparse
import os
import pty
import statistics
import subprocess
import sys
import tempfile
import time

from common import adiff_command


def wall(cmd: list[str], tty: bool = False) -> float:
    start = time.perf_counter()
    if tty:
        primary, secondary = pty.openpty()
        proc = subprocess.Popen(cmd, stdout=secondary, stderr=secondary, stdin=subprocess.DEVNULL)
        os.close(secondary)
        while True:  # drain the terminal so the program never blocks on a full buffer
            try:
                if not os.read(primary, 65536):
                    break
            except OSError:
                break
        proc.wait()
        os.close(primary)
    else:
        proc = subprocess.run(cmd, capture_output=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd[:4])} ...")
    return elapsed


def median(cmd: list[str], runs: int, tty: bool = False) -> float:
    wall(cmd, tty)  # warm the file cache (and Lark's grammar cache)
    return statistics.median(wall(cmd, tty) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--only", choices=["startup", "size"], help="run one part")
    args = parser.parse_args()
    adiff = adiff_command()
    if args.only != "size":
        startup(adiff, args.runs)
    if args.only != "startup":
        size(adiff)


def startup(adiff: list[str], runs: int) -> None:
    print("1. start-up, median of", runs, "interleaved runs (both see the same load)")
    commands = {"base": [sys.executable, "-c", "import numpy, rich, typer, lark"],
                "piped": [*adiff, "grad", "exp(sin(x^2))", "--at", "x=2"]}
    for cmd in commands.values():
        wall(cmd)  # warm the file cache (and Lark's grammar cache)
    times: dict[str, list[float]] = {name: [] for name in [*commands, "tty"]}
    for _ in range(runs):
        for name, cmd in commands.items():
            times[name].append(wall(cmd))
        times["tty"].append(wall(commands["piped"], tty=True))
    base, piped, tty = (statistics.median(times[n]) for n in ("base", "piped", "tty"))
    print(f"   import numpy, rich, typer, lark        {base:.3f} s")
    print(f"   adiff grad ... (piped, plain text)      {piped:.3f} s   ratio {piped / base:.2f}"
          " (goal <= 1.0)")
    print(f"   adiff grad ... (terminal, Rich tables)  {tty:.3f} s   ratio {tty / base:.2f}")


def size(adiff: list[str]) -> None:
    print("2. size, whole process, median of 3 runs")
    with tempfile.TemporaryDirectory() as tmp:
        times = {}
        for n in (10_000, 100_000):
            programs = {
                "nesting": "sin(" * n + "x" + ")" * n,
                "sum": "+".join(f"sin({i}*x)" for i in range(1, n + 1)),
            }
            for kind, text in programs.items():
                path = os.path.join(tmp, f"{kind}{n}.adiff")
                with open(path, "w") as f:
                    f.write(text)
                t = median([*adiff, "grad", "-f", path, "--at", "x=0.5"], 3)
                times[(kind, n)] = t
                goal = "   (goal < 1.5 s)" if n == 10_000 else ""
                print(f"   {kind:8s} n={n:>7,}  {t:6.2f} s{goal}")
        for kind in ("nesting", "sum"):
            ratio = times[(kind, 100_000)] / times[(kind, 10_000)]
            print(f"   {kind:8s} 100,000 / 10,000 = {ratio:.1f}x (goal <= 12x)")


if __name__ == "__main__":
    main()
