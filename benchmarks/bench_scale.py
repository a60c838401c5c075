"""Scale (issue: terminal and scale), whole process, every command:

    python benchmarks/bench_scale.py [--runs N] [--skip-100k]

1. A 10,000-term sum sin(1*x) + ... + sin(10000*x) and a 10,000-deep nesting sin(sin(...x)),
   through grad, grad --json, compare, diff, graph --format dot and run (goal: under 1.5 s
   each), and the same at 100,000 (goal: 10x the size costs at most 12x the time). The size of
   grad --json's document is printed too (it must grow linearly).
2. A 5 MB program: refused at once (goal: within a second), with the limit and how to raise it.
3. graph --format svg --max-nodes 1000 of the 10,000-term sum: an answer or a refusal within
   its budget, never minutes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import adiff_command

COMMANDS = {
    "grad": ["grad", "-f", "{file}", "--at", "x=0.5"],
    "grad --json": ["grad", "-f", "{file}", "--at", "x=0.5", "--json"],
    "compare": ["compare", "-f", "{file}", "--at", "x=0.5"],
    "diff": ["diff", "-f", "{file}"],
    "graph --format dot": ["graph", "-f", "{file}", "--at", "x=0.5", "--format", "dot"],
    "run": ["run", "{program}"],
}


def timed(cmd: list[str], timeout: float = 600) -> tuple[float, int, int]:
    """Wall time, exit code and bytes written to standard output."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, -1, 0
    return time.perf_counter() - start, proc.returncode, len(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3, help="runs per 10,000 case (the median is shown)")
    parser.add_argument("--skip-100k", action="store_true")
    args = parser.parse_args()
    adiff = adiff_command()
    sizes = (10_000,) if args.skip_100k else (10_000, 100_000)
    with tempfile.TemporaryDirectory() as tmp:
        print("1. every command, whole process (median of", args.runs, "runs at 10,000; one at 100,000)")
        times: dict[tuple[str, str, int], float] = {}
        for n in sizes:
            for kind, text in (("sum", " + ".join(f"sin({i}*x)" for i in range(1, n + 1))),
                               ("nesting", "sin(" * n + "x" + ")" * n)):
                path = os.path.join(tmp, f"{kind}{n}.txt")
                program = os.path.join(tmp, f"{kind}{n}.adiff")
                with open(path, "w") as f:
                    f.write(text)
                with open(program, "w") as f:
                    f.write(f"x = 0.5\nf = {text}\nexpect f == f\n")
                for name, template in COMMANDS.items():
                    cmd = [*adiff, *(a.format(file=path, program=program) for a in template)]
                    runs = [timed(cmd) for _ in range(args.runs if n == 10_000 else 1)]
                    t = statistics.median(r[0] for r in runs)
                    times[(kind, name, n)] = t
                    code, size = runs[0][1], runs[0][2]
                    goal = "  (goal < 1.5 s)" if n == 10_000 else ""
                    extra = f"  {size / 1e6:.1f} MB" if name == "grad --json" else ""
                    print(f"   {kind:8s} {n:>7,}  {name:20s} {t:6.2f} s  exit {code}{extra}{goal}")
        if not args.skip_100k:
            for kind in ("sum", "nesting"):
                for name in COMMANDS:
                    ratio = times[(kind, name, 100_000)] / times[(kind, name, 10_000)]
                    print(f"   {kind:8s} {name:20s} 100,000 / 10,000 = {ratio:5.1f}x (goal <= 12x)")

        print("2. a 5 MB program")
        path = os.path.join(tmp, "huge.txt")
        with open(path, "w") as f:
            f.write("x + " * (5_000_000 // 4) + "x")
        t, code, _ = timed([*adiff, "grad", "-f", path, "--at", "x=1"])
        print(f"   refused in {t:.2f} s, exit {code} (goal: at once, exit 2)")

        print("3. graph --format svg --max-nodes 1000 of the 10,000-term sum")
        path = os.path.join(tmp, "sum10000.txt")
        cmd = [*adiff, "graph", "-f", path, "--at", "x=0.5", "--format", "svg", "--max-nodes", "1000",
               "-o", os.path.join(tmp, "g.svg")]
        t, code, _ = timed(cmd, timeout=300)
        print(f"   {t:.1f} s, exit {code} (goal: an image or a refusal within its budget)")


if __name__ == "__main__":
    sys.exit(main())
