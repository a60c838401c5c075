"""The CLI driven as a user drives it: program sources, options, JSON, colour rules."""

import io
import json
import re

import pytest

from autodiff_cli import render
from autodiff_cli.api import grad

ANSI = re.compile(r"\x1b\[")


def test_json_schema(run):
    code, out, _ = run("grad", "v = x^2; f = exp(sin(v))", "--at", "x=2", "--json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) >= {"inputs", "targets", "nodes", "gradients", "warnings", "not_connected", "convention"}
    assert doc["inputs"] == {"x": 2.0}
    assert [n["name"] for n in doc["nodes"]] == ["x", "v", "sin(v)", "f"]
    for node in doc["nodes"]:
        assert set(node) >= {"id", "name", "expr", "op", "value", "adjoint", "adjoints", "local_partials"}
    v = doc["nodes"][1]
    assert v["local_partials"] == [{"wrt": "x", "formula": "2·x", "value": 4.0}]
    assert v["adjoint"] == pytest.approx(-0.3066661772342105, rel=1e-15)
    assert doc["nodes"][3]["expr"] == "exp(sin(v))"


def test_json_is_strict_with_non_finite_values(run):
    code, out, _ = run("grad", "log(x)", "--at", "x=0", "--json")
    assert code == 1
    assert "NaN" not in out and "Infinity" not in out
    doc = json.loads(out)
    assert doc["targets"]["f"] == "-inf"
    assert doc["gradients"]["f"]["x"] == "inf"


def test_program_from_stdin_and_file(run, tmp_path):
    code, out, _ = run("grad", "-", "--at", "x=3", "--json", input="y = x^2\n")
    assert json.loads(out)["gradients"]["y"]["x"] == 6
    path = tmp_path / "p.adiff"
    path.write_text("# comment\nx = 3\ny = x^3  # cube\n")
    code, out, _ = run("grad", "-f", str(path), "--json")
    assert json.loads(out)["gradients"]["y"]["x"] == 27


def test_double_dash_allows_leading_minus(run):
    code, out, _ = run("grad", "--at", "x=3", "--json", "--", "-x^2")
    assert code == 0
    assert json.loads(out)["gradients"]["f"]["x"] == -6


def test_at_forms(run):
    code, out, _ = run("grad", "w1*i1 + w2", "--at", "w1=-0.2,w2=0.2", "--at", "i1=pi/4", "--json")
    doc = json.loads(out)
    assert doc["inputs"] == {"w1": -0.2, "i1": pytest.approx(0.7853981633974483), "w2": 0.2}
    assert doc["gradients"]["f"]["w1"] == pytest.approx(0.7853981633974483)


def test_at_overrides_program_default(run):
    code, out, _ = run("grad", "x = 2; f = x^2", "--at", "x=5", "--json")
    assert json.loads(out)["gradients"]["f"]["x"] == 10


def test_digits(run):
    _, out, _ = run("grad", "exp(sin(x^2))", "--at", "x=2", "--digits", "4")
    assert "∂f      -1.227" in out
    _, out, _ = run("grad", "exp(sin(x^2))", "--at", "x=2", "--digits", "17")
    assert "-1.226664708936842" in out


def test_rebinding_a_name(run):
    code, out, _ = run("grad", "a = x + 1; a = a * 3; f = a^2", "--at", "x=1", "--wrt", "a,x", "--json")
    grads = json.loads(out)["gradients"]["f"]
    assert grads == {"a": 12, "x": 36}  # a is its latest binding, 3(x+1) = 6


def test_shared_subexpression_is_one_node():
    result = grad("sin(x^2) + cos(x^2)", x=1.5)
    pows = [r for r in result.rows() if r.op == "pow"]
    assert len(pows) == 1
    # d/dx (sin(x^2) + cos(x^2)) = 2x (cos(x^2) - sin(x^2)), the adjoint summed over both uses
    import math
    assert result.gradients["f"]["x"] == pytest.approx(3 * (math.cos(2.25) - math.sin(2.25)), rel=1e-14)


def test_x_times_x_sums_adjoints():
    assert grad("x*x", x=3).gradients["f"]["x"] == 6


def test_large_graph_rows_are_capped(run):
    program = "+".join(f"sin({i}*x)" for i in range(1, 101))
    code, out, _ = run("grad", program, "--at", "x=0.5")
    assert code == 0
    assert "nodes not shown; --all-nodes shows every one" in out
    assert len(out.splitlines()) < 70
    code, out, _ = run("grad", program, "--at", "x=0.5", "--all-nodes")
    assert len(out.splitlines()) > 300


def test_piped_output_has_no_colour_codes(shell):
    code, out, err = shell("grad", "abs(x)", "--at", "x=0")
    assert code == 0
    assert not ANSI.search(out) and not ANSI.search(err)


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_terminal_output_is_rich_and_honours_no_color(monkeypatch):
    tables = render.grad_tables(grad("exp(sin(x^2))", x=2))
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "160")
    stream = _Tty()
    render.print_tables(tables, stream)
    assert ANSI.search(stream.getvalue())
    assert "-1.226664709" in stream.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    stream = _Tty()
    render.print_tables(tables, stream)
    text = stream.getvalue()
    assert "-1.226664709" in text
    assert not re.search(r"\x1b\[[0-9;]*3[0-9]m", text)  # no foreground colours


def test_python_m_and_help(shell):
    code, out, _ = shell("--help")
    assert code == 0
    assert "grad" in out and "Exit codes" in out
    code, out, _ = shell("grad", "--help")
    assert "--wrt" in out and "--convention" in out


def test_functions_command_lists_every_function(run):
    from autodiff_cli.ops import FUNCTIONS

    code, out, _ = run("functions")
    assert code == 0
    for name in FUNCTIONS:
        assert f"{name}(" in out or f"also {name}" in out or f", {name}" in out
    assert "∂/∂x = cos(x)" in out


def test_library_never_prints(capsys):
    grad("abs(x) + log(x)", x=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_steps_through_the_cli(run):
    code, out, _ = run("grad", "z = w1*i1 + w2*i2 + b; p = sigmoid(z); c = (p - y)^2",
                       "--at", "i1=0.5,i2=-0.3,y=0.4,w1=-0.2,w2=0.2,b=0.1", "--wrt", "w1", "--steps")
    assert code == 0
    assert "dc/dp = 2·(p - y) = 0.17001" in out
    assert "dp/dz = sigmoid(z)·(1 - sigmoid(z)) = 0.24978" in out
    assert "dc/dw1 = dc/dp × dp/dz × dz/dw1 = 0.17001 × 0.24978 × 0.5 = 0.021232" in out
    code, out, _ = run("grad", "v = x^2; u = sin(v); f = exp(u)", "--at", "x=2", "--steps", "--latex")
    assert code == 0 and "\\frac{\\partial f}{\\partial x}" in out and "-1.2267" in out


def test_a_closed_pipe_ends_quietly():
    import subprocess
    import sys

    proc = subprocess.run(f"{sys.executable} -m autodiff_cli grad 'exp(sin(x^2))' --grid x=-1:1:200000 --csv"
                          " | head -1", shell=True, capture_output=True, text=True, timeout=120)
    assert proc.stdout == "x,f,df/dx\n"
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("graph", "3"), None),
    (("graph", "x*y", "--at", "x=1,y=2", "--format", "dot", "-o", "/nonexistent/g.dot"), "cannot write"),
    (("plot", "x", "--over", "x=0:1", "-o", "/nonexistent/p.png"), "cannot write"),
    (("grad", "x = 2; sum(x, axis=0)"), "axis=0 needs an array"),
    (("grad", "zeros(2.5)*x", "--at", "x=1"), "whole number"),
    (("grad", "x", "--grid", "x=0:1:3", "--wrt", "x"), "--grid and --wrt do not go together"),
    (("grad", "x*y", "--grid", "x=0:1:3", "--grid", "x=0:1:3", "--at", "y=1"), "twice"),
    (("grad", "x*y", "--grid", "x=0:1:3", "--at", "x=1,y=1"), "give it once"),
    (("jacobian", "x", "--at", "x=1", "--of", "f,x"), "one target"),
    (("grad", "x", "--at", "x=1", "--latex"), "--latex goes with --steps"),
    (("compare", "x", "--at", "x=1", "--rtol", "-1"), None),
    (("plot", "x", "--over", "x=0:inf"), "finite"),
])
def test_review_findings_are_user_errors_not_bugs(run, args, message):
    code, out, err = run(*args)
    assert code != 70 and "internal error" not in err, err
    if message is not None:
        assert code == 2 and message in err, err


def test_sweep_plot_when_the_difference_is_exact(run):
    code, out, err = run("compare", "2*x", "--at", "x=1", "--sweep", "--plot")
    assert code == 0 and "nothing to draw" in out


def test_non_finite_number_in_the_program_is_named(run):
    code, _, err = run("grad", "1e999*x", "--at", "x=1")
    assert code == 1
    assert "a number in the program is inf in float64" in err


def test_plot_of_an_unknown_name_is_a_user_error(run):
    code, _, err = run("plot", "x^2", "--over", "x=-1:1", "--of", "nope")
    assert code == 2
    assert err.startswith("error: --of nope: the program has no node named 'nope' (it has: x"), err


def test_files_that_cannot_be_read_say_why_the_same_way(run, tmp_path):
    """-f, --points and run read files through one function, with one set of messages."""
    missing = tmp_path / "missing.txt"
    assert run("grad", "-f", str(missing))[2] == f"error: cannot read {missing}: no such file\n"
    assert run("grad", "x", "--points", str(missing))[2] == f"error: cannot read {missing}: no such file\n"
    code, out, _ = run("run", str(tmp_path))
    assert code == 2 and f"cannot read {tmp_path}: it is a folder" in out
