"""Array speed and memory (issue: arrays), as ratios against hand-written numpy in the same run.

    python benchmarks/bench_arrays.py [--n 1000000] [--runs 7]

The work: f = exp(sin(x^2)) and its derivative, x = linspace(-3, 3, n).
1. In process: adiff's grad (parse, forward, reverse) against numpy computing f and f' with
   shared subexpressions (goal: at most 1.5x); adiff's reverse pass against its forward pass
   (goal: at most 3x); peak memory of each, measured by tracemalloc (goal: at most 3x).
2. Whole process at 10x n: `adiff grad ... --at "x=linspace(-3,3,N)"` against a script doing
   the numpy version (goal: at most 1.6x).
3. PyTorch eager and JAX on the same work, where they are installed here.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

import numpy as np
from common import adiff_command, median_time, peak

PROGRAM = "exp(sin(x^2))"


def by_hand(x):
    v = x * x
    u = np.sin(v)
    f = np.exp(u)
    return f, f * np.cos(v) * 2 * x


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    from autodiff_cli import api, engine
    from autodiff_cli.parse import parse

    x = np.linspace(-3, 3, args.n)
    result = api.grad(PROGRAM, x=x)
    f, df = by_hand(x)
    assert np.allclose(result.gradients["f"]["x"], df, rtol=1e-12, atol=1e-12)

    hand = median_time(lambda: by_hand(x), args.runs)
    ours = median_time(lambda: api.grad(PROGRAM, x=x), args.runs)
    prog = parse(PROGRAM)
    needed = engine.needed_nodes(prog, [prog.target])

    def forward_only():
        return engine.forward(prog, {"x": x})

    values, _ = forward_only()

    def backward_only():
        lin = engine.linearize(prog, values, needed)
        return engine.reverse(prog, lin, prog.target)

    fwd = median_time(forward_only, args.runs)
    bwd = median_time(backward_only, args.runs)
    print(f"1. n = {args.n:,}, median of {args.runs}")
    print(f"   numpy by hand (f and f')        {hand * 1e3:8.1f} ms")
    print(f"   adiff grad                      {ours * 1e3:8.1f} ms   ratio {ours / hand:.2f} (goal <= 1.5)")
    print(f"   adiff forward pass              {fwd * 1e3:8.1f} ms")
    print(f"   adiff local partials + reverse  {bwd * 1e3:8.1f} ms   reverse/forward {bwd / fwd:.2f}"
          " (goal <= 3)")
    mem_hand = peak(lambda: by_hand(x))
    mem_ours = peak(lambda: api.grad(PROGRAM, x=x))
    print(f"   peak memory: numpy {mem_hand / 2**20:.1f} MiB, adiff {mem_ours / 2**20:.1f} MiB, "
          f"ratio {mem_ours / mem_hand:.2f} (goal <= 3)")

    grid_run = median_time(lambda: api.grid(PROGRAM, grids=[f"x=-3:3:{args.n}"]), args.runs)
    print(f"   adiff grad --grid x=-3:3:{args.n} (library)  {grid_run * 1e3:8.1f} ms   ratio "
          f"{grid_run / hand:.2f} (goal <= 1.5)")

    n10 = args.n * 10
    script = (f"import numpy as np; x = np.linspace(-3, 3, {n10}); v = x * x; u = np.sin(v); "
              "f = np.exp(u); d = f * np.cos(v) * 2 * x; print(f.sum(), d.sum())")
    adiff = adiff_command()
    cmd = [*adiff, "grad", PROGRAM, "--at", f"x=linspace(-3,3,{n10})"]
    hand_cmd = [sys.executable, "-c", script]
    hand_times, our_times = [], []
    for _ in range(7):  # interleaved, so both see the same load on a shared machine
        hand_times.append(median_time(lambda: subprocess.run(hand_cmd, capture_output=True, check=True), 1))
        our_times.append(median_time(lambda: subprocess.run(cmd, capture_output=True, check=True), 1))
    whole_hand, whole_ours = statistics.median(hand_times), statistics.median(our_times)
    print(f"2. whole process, n = {n10:,}, median of 7 interleaved runs")
    print(f"   python + numpy script           {whole_hand:8.2f} s")
    print(f"   adiff grad ... --at x=linspace  {whole_ours:8.2f} s   ratio {whole_ours / whole_hand:.2f} "
          "(goal <= 1.6)")

    print(f"3. other frameworks, n = {args.n:,}, in process, median of {args.runs}")
    try:
        import torch

        xt = torch.linspace(-3, 3, args.n, dtype=torch.float64)

        def torch_grad():
            xr = xt.clone().requires_grad_(True)
            out = torch.exp(torch.sin(xr ** 2))
            out.sum().backward()
            return xr.grad

        t = median_time(torch_grad, args.runs)
        print(f"   PyTorch {torch.__version__} eager  {t * 1e3:8.1f} ms   adiff/torch {ours / t:.2f}")
    except ImportError:
        print("   PyTorch: not installed here (pip install torch==2.13.0)")
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        g = jax.jit(jax.grad(lambda v: jnp.sum(jnp.exp(jnp.sin(v ** 2)))))
        xj = jnp.linspace(-3, 3, args.n)
        g(xj).block_until_ready()
        t = median_time(lambda: g(xj).block_until_ready(), args.runs)
        print(f"   JAX {jax.__version__} (jit)         {t * 1e3:8.1f} ms   adiff/jax {ours / t:.2f}")
    except ImportError:
        print("   JAX: not installed here (pip install jax jaxlib)")


if __name__ == "__main__":
    main()
