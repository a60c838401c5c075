import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from autodiff_cli.cli import app

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def run():
    """Run `adiff ARGS` in-process as a user would (CliRunner); returns (exit code, stdout, stderr)."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        result = runner.invoke(app, list(args), input=input, env={"NO_COLOR": "1", "COLUMNS": "200"})
        return result.exit_code, result.stdout, result.stderr

    return invoke


@pytest.fixture
def shell():
    """Run `adiff ARGS` as a real subprocess (python -m autodiff_cli), stdout piped."""

    def invoke(*args: str, input: str | None = None, env: dict | None = None):
        full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
        proc = subprocess.run([sys.executable, "-m", "autodiff_cli", *args], input=input,
                              capture_output=True, text=True, cwd=ROOT, env=full_env, timeout=120)
        return proc.returncode, proc.stdout, proc.stderr

    return invoke
