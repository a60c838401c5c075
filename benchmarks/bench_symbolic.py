"""Symbolic differentiation speed (issue: compare/diff), with SymPy on the same work.

    python benchmarks/bench_symbolic.py

1. `adiff diff` of a 10,000-deep nesting sin(sin(...x)) and of a 10,000-term sum
   sin(1*x)+...+sin(10000*x), whole process (goal: under 1.5 s each).
2. The derivative's size (nodes of its DAG) at n = 1,000 and 10,000: linear means 10x.
3. SymPy's diff on the same expressions (expression built iteratively, then sympy.diff),
   each size in its own process with a time limit: where it stops, and the time ratio.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from common import adiff_command, median_time

SYMPY = """
import sys, time
import sympy
n, kind = int(sys.argv[1]), sys.argv[2]
x = sympy.Symbol("x")
if kind == "nesting":
    e = x
    for _ in range(n):
        e = sympy.sin(e)
else:
    e = sympy.Add(*[sympy.sin(i * x) for i in range(1, n + 1)])
t = time.perf_counter()
d = sympy.diff(e, x)
print(time.perf_counter() - t)
"""


def program(kind: str, n: int) -> str:
    if kind == "nesting":
        return "sin(" * n + "x" + ")" * n
    return "+".join(f"sin({i}*x)" for i in range(1, n + 1))


def timed(cmd: list[str], runs: int = 3) -> float:
    return median_time(lambda: subprocess.run(cmd, capture_output=True, check=True), runs)


def sympy_time(kind: str, n: int, limit: float = 120) -> tuple[float | None, str]:
    try:
        proc = subprocess.run([sys.executable, "-c", SYMPY, str(n), kind], capture_output=True,
                              text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return None, f"gave up after {limit:.0f} s"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return None, "fails: " + last[:60]
    return float(proc.stdout), f"{float(proc.stdout):.3f} s (diff only)"


def main() -> None:
    from autodiff_cli.parse import parse
    from autodiff_cli.symbolic import derivative

    adiff = adiff_command()
    print("1. adiff diff, whole process, median of 3")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("nesting", "sum"):
            path = os.path.join(tmp, f"{kind}.adiff")
            with open(path, "w") as f:
                f.write(program(kind, 10_000))
            t = timed([*adiff, "diff", "-f", path])
            print(f"   {kind:8s} n=10,000  {t:.2f} s  (goal < 1.5 s)")

    print("2. size of the derivative (DAG nodes)")
    for kind in ("nesting", "sum"):
        sizes = {}
        for n in (1_000, 10_000):
            prog = parse(program(kind, n))
            x = prog.inputs["x"]
            sizes[n] = (derivative(prog, prog.target, x).size(),
                        derivative(prog, prog.target, x, factored=True).size())
        print(f"   {kind:8s} expanded {sizes[1_000][0]:,} -> {sizes[10_000][0]:,} "
              f"({sizes[10_000][0] / sizes[1_000][0]:.1f}x); factored {sizes[1_000][1]:,} -> "
              f"{sizes[10_000][1]:,} ({sizes[10_000][1] / sizes[1_000][1]:.1f}x) for 10x the input")

    print("3. SymPy", end=" ")
    try:
        import sympy
        print(sympy.__version__, "(each in its own process)")
    except ImportError:
        print("is not installed here: pip install sympy")
        return
    with tempfile.TemporaryDirectory() as tmp:
        for kind, sizes in (("nesting", (100, 140, 150, 200, 1_000, 10_000)), ("sum", (1_000, 10_000))):
            for n in sizes:
                seconds, text = sympy_time(kind, n)
                line = f"   {kind:8s} n={n:>6,}  sympy {text}"
                if seconds is not None:
                    path = os.path.join(tmp, f"{kind}{n}.adiff")
                    with open(path, "w") as f:
                        f.write(program(kind, n))
                    ours = timed([*adiff, "diff", "-f", path])
                    line += f"; adiff {ours:.3f} s whole process; sympy/adiff = {seconds / ours:.1f}x"
                print(line)


if __name__ == "__main__":
    main()
