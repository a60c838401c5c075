"""Every console example in the README runs and prints exactly what the README says."""

import glob
import os
import re
import shlex
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()


def console_examples():
    """(command, expected output) for each `$ adiff ...` in ```console blocks."""
    out = []
    for block in re.findall(r"```console\n(.*?)```", README, re.S):
        lines = block.split("\n")
        i = 0
        while i < len(lines):
            if lines[i].startswith("$ "):
                cmd = lines[i][2:]
                j = i + 1
                while j < len(lines) and not lines[j].startswith("$ "):
                    j += 1
                out.append((cmd, "\n".join(lines[i + 1:j]).rstrip("\n")))
                i = j
            else:
                i += 1
    return out


def adiff(cmd: str):
    args = shlex.split(cmd)
    assert args[0] == "adiff"
    args = [a for arg in args for a in (sorted(glob.glob(os.path.join(ROOT, arg))) or [arg])]
    args = [os.path.relpath(a, ROOT) if os.path.isabs(a) else a for a in args]
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "autodiff_cli", *args[1:]], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=60)


TIMING = re.compile(r"; \d+\.\d\d s$", re.M)  # run's summary ends with the time it took


@pytest.mark.parametrize(("cmd", "expected"), console_examples())
def test_console_example(cmd, expected):
    proc = adiff(cmd)
    shown = (proc.stdout + proc.stderr).rstrip("\n")
    if expected:
        assert TIMING.sub("; … s", shown) == TIMING.sub("; … s", expected)
    else:
        assert proc.returncode == 0, proc.stderr


def test_first_lines_are_the_two_commands():
    lines = [ln.strip() for ln in README.splitlines()[:5] if ln.strip()]
    assert lines[1] == 'pip install . && adiff grad "exp(sin(x^2))" --at x=2'
    assert lines[2] == "pip install '.[test]' && pytest"


def test_perceptron_claim():
    proc = adiff("adiff grad -f samples/perceptron.adiff --wrt w1,w2,b --digits 6")
    assert "∂c      0.021232  -0.0127392  0.042464" in proc.stdout


def test_library_example():
    from autodiff_cli import grad

    result = grad("exp(sin(x^2))", x=2)
    assert result.gradients["f"]["x"] == -1.226664708936842
    assert result.targets["f"] == 0.46916418587400077
    r = grad("v = x^2; u = sin(v); f = exp(u)", at={"x": 2}, of="f,u", wrt="u,v,x")
    assert r.gradients["f"]["v"] == -0.3066661772342105
    assert set(r.to_dict()) >= {"inputs", "nodes", "gradients", "warnings"}


def test_json_example_keys_match():
    from autodiff_cli import grad

    block = re.search(r"```json\n(.*?)```", README, re.S).group(1)
    keys = set(re.findall(r'^  "(\w+)"', block, re.M))
    assert keys == set(grad("exp(sin(x^2))", x=2).to_dict())


@pytest.mark.parametrize("command", ["grad", "compare", "diff", "jacobian", "run", "graph", "plot",
                                     "functions"])
def test_every_option_in_help_is_in_the_readme(command):
    """The README and the --help text stay in step: each command and each of its options."""
    proc = adiff(f"adiff {command} --help")
    assert proc.returncode == 0
    assert f"adiff {command}" in README
    options = set(re.findall(r"(--[a-z][a-z-]+)", proc.stdout)) - {"--help"}
    missing = sorted(o for o in options if o not in README)
    assert not missing, f"{command}: {missing} are not in the README"
