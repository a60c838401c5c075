"""Helpers the benchmark scripts share. The scripts run as `python benchmarks/NAME.py`, so this
folder is on sys.path: `from common import median_time, peak`."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any


def adiff_command() -> list[str]:
    """The `adiff` script installed beside this interpreter (a virtual environment's), else this
    interpreter running the package: never a version manager's shim found on PATH, whose own
    start-up (pyenv's is a shell script) would be counted as adiff's."""
    beside = shutil.which("adiff", path=os.path.dirname(sys.executable))
    return [beside] if beside else [sys.executable, "-m", "autodiff_cli"]


def median_time(fn: Callable[[], Any], runs: int) -> float:
    """The median wall time of `runs` calls of fn, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak(fn: Callable[[], Any]) -> int:
    """The peak of memory allocated through Python (tracemalloc) during one call of fn, in bytes."""
    tracemalloc.start()
    fn()
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top
