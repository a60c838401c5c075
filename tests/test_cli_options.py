"""Standard options and input read as a person means it, through the real entry point (main)."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def adiff(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autodiff_cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "COLUMNS": "200", **(env or {})}, timeout=60)


def test_version_long_and_short():
    from importlib.metadata import version

    for flag in ("--version", "-V"):
        proc = adiff(flag)
        assert proc.returncode == 0
        assert proc.stdout == f"adiff {version('adiff')}\n"


def test_h_is_help():
    assert adiff("-h").stdout == adiff("--help").stdout
    assert "Usage: adiff grad" in adiff("grad", "-h").stdout


@pytest.mark.parametrize(("program", "value", "slope"), [("-x^2", "-9", "-6"), ("-x", "-3", "-1"),
                                                          ("-sin(x)*2", None, None)])
def test_a_program_may_start_with_minus(program, value, slope):
    proc = adiff("grad", program, "--at", "x=3")
    assert proc.returncode == 0, proc.stderr
    if value:
        assert f"f = {value}\n" in proc.stdout
        assert proc.stdout.splitlines()[-2].split() == ["∂f", slope]
    # the program after the options reads the same
    assert adiff("grad", "--at", "x=3", program).stdout == proc.stdout


def test_a_misspelt_long_option_is_still_an_option_error():
    proc = adiff("grad", "x", "--att", "3")
    assert proc.returncode == 2
    assert "No such option: --att" in proc.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["grad", "x", "--at", "x=1", "--steps", "--json"], "--steps and --json do not go together"),
    (["grad", "x^2", "--grid", "x=0:1:3", "--csv", "--json"], "--csv and --json do not go together"),
    (["grad", "x^2", "--grid", "x=0:1:3", "--wrt", "x"], "--grid and --wrt do not go together"),
    (["grad", "x", "--at", "x=1", "--csv"], "--csv goes with --grid or --points"),
    (["compare", "x", "--at", "x=1", "--plot", "--json"], "--plot and --json do not go together"),
])
def test_options_that_do_not_go_together_are_refused_by_name(args, message):
    proc = adiff(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stdout == ""


def test_shell_completion_of_function_names_and_options():
    env = {"_ADIFF_COMPLETE": "complete_bash", "COMP_WORDS": "adiff grad exp(si", "COMP_CWORD": "2"}
    words = adiff(env=env).stdout.split()
    assert "exp(sin(" in words and "exp(sinh(" in words and "exp(cos(" not in words
    env.update(COMP_WORDS="adiff grad --a")
    assert {"--at", "--all-nodes"} <= set(adiff(env=env).stdout.split())
    assert "complete" in adiff("--show-completion", "bash").stdout


def test_jacobian_of_several_scalar_inputs_is_one_matrix():
    import json

    proc = adiff("jacobian", "[x*y, x+y]", "--at", "x=1,y=2", "--json")
    doc = json.loads(proc.stdout)
    # hand-derived: d(xy)/dx = y = 2, d(xy)/dy = x = 1; d(x+y)/dx = d(x+y)/dy = 1
    assert doc["jacobian"] == [[2.0, 1.0], [1.0, 1.0]] and doc["wrt"] == ["x", "y"] and doc["shape"] == [2, 2]
    doc = json.loads(adiff("jacobian", "x*y", "--at", "x=1,y=2", "--json").stdout)
    assert doc["jacobian"] == [[2.0, 1.0]] and doc["shape"] == [1, 2] and doc["wrt_shape"] == [2]
    # an array variable keeps its own matrix
    doc = json.loads(adiff("jacobian", "x*y", "--at", "x=[1,2]", "--at", "y=3", "--json").stdout)
    assert [r["wrt"] for r in doc["results"]] == ["x", "y"]


def test_the_command_line_builds_only_the_command_asked_for():
    from autodiff_cli.cli import command_line

    assert list(command_line(["grad", "x"]).commands) == ["grad"]
    assert {"grad", "compare", "diff", "run"} <= set(command_line(["--help"]).commands)
    proc = adiff("gard", "x")  # a misspelt command still gets the suggestion from the whole app
    assert proc.returncode == 2 and "Did you mean 'grad'?" in proc.stderr
