"""Training speed (issue 11, adiff fit), as ratios against baselines measured in the same run.

    python benchmarks/bench_fit.py [--runs N] [--skip-large]

1. Whole process: the issue's command (the lecture's from3, 240 steps) against
   `adiff grad -f samples/dense_2_2_2.adiff` (goal: within 1.3x: training adds little to
   start-up); median of --runs interleaved runs, so both see the same load on a shared machine.
2. In process, per step at batch size 1 on the 2-2-2 network: training.fit against the same
   training written by hand in numpy (forward, backpropagation, update; goal: at most 3x); the
   runs of the two alternate, as in 1, and in 3 (4 x --runs of them: each takes some 10 ms).
   The trained weights of both are checked to agree first.
3. A 64-256-10 network, softmax cross-entropy, 20,000 synthetic samples, batch size 128,
   3 epochs: training.fit against numpy by hand doing the same work (goal: within 1.5x): the
   steps, and the loss over all samples before and after training, batch by batch, which fit
   reports (both losses are checked to agree, as are the trained weights); the steps alone of
   each (fit's own timer, and the loop by hand without the losses); peak memory of each
   (tracemalloc).
4. PyTorch eager (float64, one thread; forward, backward and the SGD update) on the work of 2
   and the steps of 3, where torch is installed here (`pip install torch==2.13.0` in a virtual
   environment with this project), its weights checked against numpy's first; its runs
   alternate with adiff's again.
Prints the figures; asserts nothing about time. BLAS runs one thread (for this script and the
processes it starts): on this project's 2 shared cores OpenBLAS's threads make a 128×64 @ 64×256
product take anywhere from 0.2 to 30 ms, which would measure the load, not the code.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # before numpy is imported

import numpy as np  # noqa: E402
from common import adiff_command, peak  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join("samples", "dense_2_2_2.adiff")
FIT_ARGS = ["--params", "W1,b1,W2,b2", "--samples", "X,Y", "--batch-size", "1", "--lr", "1",
            "--epochs", "120", "--no-shuffle", "--predict", "P",
            "--query", "X=[[0.9,0.1],[0.1,0.9],[0.8,0],[0.2,0.9]]"]
LARGE = "H = relu(X @ W1 + b1); Z = H @ W2 + b2\nloss = -mean(sum(Y * log(softmax(Z, axis=-1)), axis=-1))"


def interleaved(fns: list, runs: int) -> list[float]:
    """The median time of each function, their runs taken in turn (one of each, `runs` times),
    so that all of them see the same load on a shared machine."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, into in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            into.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT)
    return time.perf_counter() - start


def dense_by_hand(data: dict, lr: float, epochs: int) -> dict:
    """The 2-2-2 network of the lecture trained by hand: batch size 1, samples in order."""
    X, Y = data["X"], data["Y"]
    W1, b1, W2, b2 = (np.array(data[k]) for k in ("W1", "b1", "W2", "b2"))
    for _ in range(epochs):
        for i in range(len(X)):
            x, y = X[i:i + 1], Y[i:i + 1]
            h = 1 / (1 + np.exp(-(x @ W1 + b1)))
            p = h @ W2 + b2
            dp = 2 * (p - y) / p.size
            dz1 = (dp @ W2.T) * h * (1 - h)
            W2, b2 = W2 - lr * (h.T @ dp), b2 - lr * dp.sum(axis=0)
            W1, b1 = W1 - lr * (x.T @ dz1), b1 - lr * dz1.sum(axis=0)
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def softmax_loss_by_hand(X, Y, W1, b1, W2, b2, batch: int) -> float:
    """The cost over all samples as `adiff fit` computes its loss before and after training:
    batch by batch, each batch's mean weighted by its rows."""
    total = 0.0
    for i in range(0, len(X), batch):
        x, y = X[i:i + batch], Y[i:i + batch]
        z = np.maximum(x @ W1 + b1, 0) @ W2 + b2
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        total += -np.mean(np.sum(y * np.log(e / e.sum(axis=-1, keepdims=True)), axis=-1)) * len(x)
    return total / len(X)


def softmax_by_hand(data: dict, lr: float, batch: int, epochs: int, losses: bool = False) -> dict:
    """64-256-10, relu, softmax cross-entropy, batches in order, by hand; with `losses`, also
    the loss over all samples before and after training, which `adiff fit` reports."""
    X, Y = data["X"], data["Y"]
    W1, b1, W2, b2 = (np.array(data[k]) for k in ("W1", "b1", "W2", "b2"))
    before = softmax_loss_by_hand(X, Y, W1, b1, W2, b2, batch) if losses else None
    for _ in range(epochs):
        for i in range(0, len(X), batch):
            x, y = X[i:i + batch], Y[i:i + batch]
            z1 = x @ W1 + b1
            h = np.maximum(z1, 0)
            z = h @ W2 + b2
            e = np.exp(z - z.max(axis=-1, keepdims=True))
            s = e / e.sum(axis=-1, keepdims=True)
            dz = (s - y) / len(x)
            dh = (dz @ W2.T) * (z1 > 0)
            W2, b2 = W2 - lr * (h.T @ dz), b2 - lr * dz.sum(axis=0)
            W1, b1 = W1 - lr * (x.T @ dh), b1 - lr * dh.sum(axis=0)
    after = softmax_loss_by_hand(X, Y, W1, b1, W2, b2, batch) if losses else None
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "before": before, "after": after}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--skip-large", action="store_true", help="leave out part 3")
    args = parser.parse_args()
    from autodiff_cli import training
    from autodiff_cli.parse import parse

    adiff = adiff_command()
    fit_cmd = [*adiff, "fit", "-f", SAMPLE, *FIT_ARGS]
    grad_cmd = [*adiff, "grad", "-f", SAMPLE]
    wall(fit_cmd), wall(grad_cmd)  # warm the file cache
    fits, grads = [], []
    for _ in range(args.runs):  # interleaved
        fits.append(wall(fit_cmd))
        grads.append(wall(grad_cmd))
    fit_s, grad_s = statistics.median(fits), statistics.median(grads)
    print(f"1. whole process, median of {args.runs} interleaved runs (piped)")
    print(f"   adiff grad -f {SAMPLE}   {grad_s:7.3f} s")
    print(f"   adiff fit ... (from3, 240 steps)     {fit_s:7.3f} s   ratio {fit_s / grad_s:.2f} "
          f"(goal <= 1.3)")

    with open(os.path.join(ROOT, SAMPLE), encoding="utf-8") as f:
        prog = parse(f.read())
    data = {k: np.asarray(v, dtype=np.float64) for k, v in prog.defaults.items()}

    def ours():
        return training.fit(prog, params=["W1", "b1", "W2", "b2"], samples=["X", "Y"], batch_size=1, lr=1,
                            epochs=120, shuffle=False)

    trained = ours().trained
    by_hand = dense_by_hand(data, 1.0, 120)
    for k in by_hand:
        assert np.allclose(trained[k], by_hand[k], rtol=1e-10, atol=1e-12), k
    short = 4 * args.runs  # a run takes some 10 ms here: more of them, for a steadier median
    ours_s, hand_s = interleaved([ours, lambda: dense_by_hand(data, 1.0, 120)], short)
    print(f"2. in process, 2-2-2 network, batch size 1, 240 steps, median of {short}")
    print(f"   numpy by hand          {hand_s / 240 * 1e6:8.1f} us per step")
    print(f"   adiff training.fit     {ours_s / 240 * 1e6:8.1f} us per step   ratio {ours_s / hand_s:.1f} "
          f"(goal <= 3)")

    if not args.skip_large:
        rng = np.random.default_rng(0)
        n = 20_000
        labels = rng.integers(0, 10, n)
        large = {"X": rng.normal(size=(n, 64)), "Y": np.eye(10)[labels],
                 "W1": rng.normal(0, np.sqrt(2 / 64), (64, 256)), "b1": np.zeros(256),
                 "W2": rng.normal(0, np.sqrt(2 / 256), (256, 10)), "b2": np.zeros(10)}
        large_prog = parse(LARGE)

        loops: list[float] = []  # the training loop alone, without the loss before and after

        def ours_large():
            result = training.fit(large_prog, params=["W1", "b1", "W2", "b2"], samples=["X", "Y"],
                                  inputs=large, batch_size=128, lr=0.1, epochs=3, shuffle=False)
            loops.append(result.seconds)
            return result

        got = ours_large()
        want = softmax_by_hand(large, 0.1, 128, 3, losses=True)
        for k in ("W1", "b1", "W2", "b2"):
            assert np.allclose(got.trained[k], want[k], rtol=1e-8, atol=1e-10), k
        assert np.isclose(got.loss_before, want["before"], rtol=1e-12), (got.loss_before, want["before"])
        assert np.isclose(got.loss_after, want["after"], rtol=1e-10), (got.loss_after, want["after"])
        runs = args.runs
        loops.clear()
        hand_loops: list[float] = []

        def hand_loop():  # the training loop by hand alone, timed inside as fit times its steps
            start = time.perf_counter()
            softmax_by_hand(large, 0.1, 128, 3)
            hand_loops.append(time.perf_counter() - start)

        big_ours, big_hand, _ = interleaved(
            [ours_large, lambda: softmax_by_hand(large, 0.1, 128, 3, losses=True), hand_loop], runs)
        loop, hand_alone = statistics.median(loops), statistics.median(hand_loops)
        mem_ours, mem_hand = peak(ours_large), peak(lambda: softmax_by_hand(large, 0.1, 128, 3, losses=True))
        print(f"3. in process, 64-256-10 softmax cross-entropy, 20,000 samples, batch 128, 3 epochs, "
              f"median of {runs}")
        print(f"   numpy by hand, with the loss over all samples before and after (as fit reports it) "
              f"{big_hand:8.3f} s")
        print(f"   adiff training.fit     {big_ours:8.3f} s   ratio {big_ours / big_hand:.2f} (goal <= 1.5)")
        print(f"   the training steps alone: numpy {hand_alone:.3f} s, adiff {loop:.3f} s   ratio "
              f"{loop / hand_alone:.2f}")
        print(f"   (adiff's whole fit against numpy's steps alone: ratio {big_ours / hand_alone:.2f})")
        print(f"   peak memory beyond the data: numpy {mem_hand / 2**20:.1f} MiB, "
              f"adiff {mem_ours / 2**20:.1f} MiB")

    try:
        import torch
    except ImportError:
        print("4. PyTorch: not installed here; no comparison")
        return
    torch.set_num_threads(1)
    torch_trained = dense_by_torch(torch, data, 1.0, 120)
    for k, p in zip(("W1", "b1", "W2", "b2"), torch_trained, strict=True):
        assert np.allclose(p.detach().numpy(), by_hand[k], rtol=1e-10, atol=1e-12), k
    ours_again, dense_s = interleaved([ours, lambda: dense_by_torch(torch, data, 1.0, 120)], short)
    print(f"4. PyTorch {torch.__version__} eager, float64, one thread, each alternating with adiff again "
          f"(medians of {short} and {args.runs})")
    print(f"   2-2-2, batch size 1    {dense_s / 240 * 1e6:8.1f} us per step   adiff is "
          f"{ours_again / dense_s:.2f}x its time (goal: faster, < 1)")
    if not args.skip_large:
        torch_large = softmax_by_torch(torch, large, 0.1, 128, 3)
        for k, p in zip(("W1", "b1", "W2", "b2"), torch_large, strict=True):
            assert np.allclose(p.detach().numpy(), want[k], rtol=1e-8, atol=1e-10), k
        loops.clear()
        _, big_torch = interleaved([ours_large, lambda: softmax_by_torch(torch, large, 0.1, 128, 3)], runs)
        print(f"   64-256-10, the steps   {big_torch:8.3f} s   adiff's steps are "
              f"{statistics.median(loops) / big_torch:.2f}x its time; torch is {big_torch / hand_alone:.2f}x "
              "numpy's steps of part 3")


def _torch_params(torch, data):
    return [torch.tensor(np.asarray(data[k]), dtype=torch.float64, requires_grad=True)
            for k in ("W1", "b1", "W2", "b2")]


def _torch_sgd(torch, params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None


def dense_by_torch(torch, data, lr, epochs):
    """The 2-2-2 network in PyTorch eager: forward, loss.backward(), the SGD update, per sample."""
    X, Y = (torch.tensor(np.asarray(data[k]), dtype=torch.float64) for k in ("X", "Y"))
    params = _torch_params(torch, data)
    W1, b1, W2, b2 = params
    for _ in range(epochs):
        for i in range(len(X)):
            p = torch.sigmoid(X[i:i + 1] @ W1 + b1) @ W2 + b2
            torch.mean((p - Y[i:i + 1]) ** 2).backward()
            _torch_sgd(torch, params, lr)
    return params


def softmax_by_torch(torch, data, lr, batch, epochs):
    X, Y = (torch.tensor(np.asarray(data[k]), dtype=torch.float64) for k in ("X", "Y"))
    params = _torch_params(torch, data)
    W1, b1, W2, b2 = params
    for _ in range(epochs):
        for i in range(0, len(X), batch):
            z = torch.relu(X[i:i + batch] @ W1 + b1) @ W2 + b2
            (-(Y[i:i + batch] * torch.log_softmax(z, dim=-1)).sum(dim=-1).mean()).backward()
            _torch_sgd(torch, params, lr)
    return params


if __name__ == "__main__":
    main()
