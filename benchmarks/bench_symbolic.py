"""Symbolic differentiation: how simple the formulas are, and how fast (issue 12).

    python benchmarks/bench_symbolic.py [--corpus-only | --speed-only] [--against ADIFF]

0. The corpus measure (tests/symbolic_corpus.py, a few hundred derivatives): the share of
   adiff's printed derivatives equal to SymPy's at random points, not longer than SymPy's
   simplify(diff(f)) (sympy.count_ops), at most 1.5 times as long; and the worst ten.
1. `adiff diff` of a 10,000-deep nesting sin(sin(...x)) and of a 10,000-term sum
   sin(1*x)+...+sin(10000*x), whole process (goal: under 1.5 s each), and of 100,000 (goal:
   within 12x of 10,000), with `python -c "import numpy, rich, typer, lark"` as the baseline
   measured in the same run. With --against ADIFF (another version's `adiff` script, e.g. a
   regular install of 01aff4e, the version before the canonical form, in its own virtual
   environment), both are run interleaved at 10,000 and the ratio is printed (goal: within 1.5x).
   Then, in this process, where the time of the 10,000-term sum goes: derivative() (reading
   the program excluded) and printing the formula (Formula.program_text), median of 5.
2. The derivative's size (nodes of its DAG) at n = 1,000 and 10,000: linear means 10x.
3. SymPy's diff on the same expressions (expression built iteratively, then sympy.diff),
   each size in its own process with a time limit: where it stops, and the time ratio.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

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


def corpus_figures() -> None:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
    import symbolic_corpus

    rows, figures = symbolic_corpus.measure()
    print(f"0. corpus of {figures['cases']} derivatives against SymPy")
    print(f"   equal to SymPy's derivative at random points: {figures['agree']:.1%}")
    print(f"   not longer than SymPy's simplify (count_ops): {figures['not_longer']:.1%}  (goal >= 80%)")
    print(f"   at most 1.5x as long:                         {figures['within_1_5']:.1%}  (goal >= 99%)")
    print("   the worst ten (adiff's size / SymPy's):")
    for r in sorted(rows, key=lambda r: -r["ratio"])[:10]:
        print(f"   {r['ratio']:.2f}  {r['adiff_ops']:>3} / {r['sympy_ops']:<3} d/d{r['wrt']} {r['f']}")


def speed(against: str | None = None) -> None:
    adiff = adiff_command()
    print("1. adiff diff, whole process, median of 3")
    base = timed([sys.executable, "-c", "import numpy, rich, typer, lark"])
    print(f"   baseline: python -c 'import numpy, rich, typer, lark' {base:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("nesting", "sum"):
            times, paths = {}, {}
            for n in (10_000, 100_000):
                path = paths[n] = os.path.join(tmp, f"{kind}{n}.adiff")
                with open(path, "w") as f:
                    f.write(program(kind, n))
                times[n] = timed([*adiff, "diff", "-f", path])
            print(f"   {kind:8s} n=10,000  {times[10_000]:.2f} s ({times[10_000] / base:.1f}x the baseline; "
                  f"goal < 1.5 s); n=100,000 {times[100_000]:.2f} s = {times[100_000] / times[10_000]:.1f}x "
                  "(goal <= 12x)")
            if against:
                ours, theirs = paired([*adiff, "diff", "-f", paths[10_000]],
                                      [against, "diff", "-f", paths[10_000]])
                print(f"   {'':8s} n=10,000 paired with {against}: {ours:.2f} s against {theirs:.2f} s = "
                      f"{ours / theirs:.2f}x (goal <= 1.5x)")
    in_process()


def paired(ours: list[str], theirs: list[str], runs: int = 5) -> tuple[float, float]:
    """Median whole-process times of two commands run alternately (the machine's load shared)."""
    times: dict[int, list[float]] = {0: [], 1: []}
    for _ in range(runs):
        for k, cmd in enumerate((ours, theirs)):
            start = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            times[k].append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def in_process() -> None:
    from autodiff_cli.parse import parse
    from autodiff_cli.symbolic import derivative

    print("   in this process, median of 5 (reading the program excluded):")
    for kind in ("nesting", "sum"):
        prog = parse(program(kind, 10_000))
        x = prog.inputs["x"]
        build = median_time(lambda: derivative(prog, prog.target, x), 5)  # noqa: B023 - called at once
        formula = derivative(prog, prog.target, x)
        show = median_time(lambda: formula.program_text(), 5)  # noqa: B023 - called at once
        print(f"   {kind:8s} n=10,000  derivative() {build:.3f} s, program_text() {show:.3f} s")


def main() -> None:
    from autodiff_cli.parse import parse
    from autodiff_cli.symbolic import derivative

    if "--speed-only" not in sys.argv:
        corpus_figures()
    if "--corpus-only" in sys.argv:
        return
    against = sys.argv[sys.argv.index("--against") + 1] if "--against" in sys.argv else None
    speed(against)
    adiff = adiff_command()

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
