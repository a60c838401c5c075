"""Nothing recursive over user expressions: 100,000-deep nestings and sums work."""

import math
import subprocess
import sys

import pytest

from autodiff_cli import grad


@pytest.mark.slow
def test_deep_nesting_library():
    n = 100_000
    result = grad("sin(" * n + "x" + ")" * n, x=0.5)
    # oracle: iterate the chain rule by hand
    v, d = 0.5, 1.0
    for _ in range(n):
        d *= math.cos(v)
        v = math.sin(v)
    assert math.isclose(result.targets["f"], v, rel_tol=1e-12)
    assert math.isclose(result.gradients["f"]["x"], d, rel_tol=1e-9)


@pytest.mark.slow
def test_long_sum_library():
    n = 100_000
    result = grad("+".join(f"sin({i}*x)" for i in range(1, n + 1)), x=0.5)
    expected = math.fsum(i * math.cos(i * 0.5) for i in range(1, n + 1))
    assert math.isclose(result.gradients["f"]["x"], expected, rel_tol=1e-9)


@pytest.mark.slow
def test_deep_program_through_the_cli(tmp_path):
    n = 100_000
    path = tmp_path / "deep.adiff"
    path.write_text("x = 0.5\n" + "tanh(" * n + "x" + ")" * n + "\n")
    proc = subprocess.run([sys.executable, "-m", "autodiff_cli", "grad", "-f", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "RecursionError" not in proc.stderr
    assert "nodes not shown" in proc.stdout


def test_many_statements():
    n = 20_000
    lines = ["x = 1.0001"] + [f"v{i} = v{i - 1} * x" if i else "v0 = x" for i in range(n)]
    result = grad("\n".join(lines))
    # v_{n-1} = x^n, so d/dx = n x^(n-1)
    assert math.isclose(result.gradients[f"v{n - 1}"]["x"], n * 1.0001 ** (n - 1), rel_tol=1e-9)
