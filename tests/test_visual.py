"""Pictures: the graph as DOT, Mermaid, a tree, SVG and PNG; plots of f and its derivatives."""

import os
import re
import shutil
import struct
import sys

import numpy as np
import pydot
import pytest

from autodiff_cli import plot as plotting

PERCEPTRON = ("z = w1*i1 + w2*i2 + b; p = sigmoid(z); c = (p - y)^2",
              "--at", "i1=0.5,i2=-0.3,y=0.4,w1=-0.2,w2=0.2,b=0.1")
CHAIN = ("v = x^2; u = sin(v); f = exp(u)", "--at", "x=2")


def test_dot_parses_with_nodes_edges_values_and_adjoints(run):
    code, out, _ = run("graph", *CHAIN, "--format", "dot")
    assert code == 0
    (graph,) = pydot.graph_from_dot_data(out)
    nodes = {n.get_name(): n.get_label() for n in graph.get_nodes() if re.fullmatch(r"n\d+", n.get_name())}
    assert len(nodes) == 4
    labels = " ".join(nodes.values())
    for text in ("1. x", "2. v", "3. u", "4. f", "value 4", "value -0.7568", "∂f/∂x = -1.227",
                 "∂f/∂v = -0.3067", "∂f/∂u = 0.4692"):
        assert text in labels, text
    edges = {(e.get_source(), e.get_destination()): e.get_label().strip('"') for e in graph.get_edges()}
    assert len(edges) == 3
    assert sorted(edges.values()) == ["2·x = 4", "cos(v) = -0.6536", "exp(u) = 0.4692"]
    assert "#1f5fbf" in out and "#b36200" in out  # forward values and adjoints in their colours


def test_mermaid_has_every_node_and_edge(run):
    code, out, _ = run("graph", *PERCEPTRON, "--format", "mermaid")
    assert code == 0
    assert out.startswith("flowchart LR")
    for name in ("w1", "i1", "w2", "i2", "b", "y", "z", "p", "c"):
        assert f". {name}<br/>" in out, name
    assert out.count(" --> ") == 12
    assert "sigmoid(z)·(1 - sigmoid(z)) = 0.2498" in out


def test_tree_on_a_pipe_is_plain_text(run):
    code, out, _ = run("graph", *CHAIN)
    assert code == 0
    assert out.splitlines()[0] == "4. f (exp)  value 0.4692  ∂f/∂f = 1"
    assert "      1. x (input)  via 2·x = 4  value 2  ∂f/∂x = -1.227" in out
    assert "\x1b[" not in out


def test_shared_node_is_drawn_once(run):
    code, out, _ = run("graph", "sin(x)*cos(x)", "--at", "x=1")
    assert out.count("(input)") == 2 and "(again)" in out


def test_large_graph_is_capped_and_says_so(run):
    code, out, _ = run("graph", "sin(" * 500 + "x" + ")" * 500, "--at", "x=1", "--format", "dot",
                       "--max-nodes", "30")
    (graph,) = pydot.graph_from_dot_data(out)
    assert len([n for n in graph.get_nodes() if re.fullmatch(r"n\d+", n.get_name())]) == 30
    assert "471 more nodes" in out


def _png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


@needs_dot
def test_png_and_svg_of_the_graph(run, tmp_path):
    png, svg = tmp_path / "g.png", tmp_path / "g.svg"
    assert run("graph", *PERCEPTRON, "--format", "png", "-o", str(png))[0] == 0
    width, height = _png_size(png)
    assert 400 < width < 5000 and 100 < height < 3000
    assert run("graph", *PERCEPTRON, "--format", "svg", "-o", str(svg))[0] == 0
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and "sigmoid" in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_a_large_picture_is_laid_out_with_straight_edges(run, tmp_path, monkeypatch):
    """dot's default layout of a 200-node sum ran for half a minute: a large picture is drawn
    with straight edges and a bounded crossing search; a small one keeps dot's curves."""
    import subprocess

    calls = []
    real = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: calls.append(args) or real(args, **kw))
    program = " + ".join(f"sin({k}*x)" for k in range(1, 80))
    assert run("graph", program, "--at", "x=0.5", "--format", "svg", "--max-nodes", "200",
               "-o", str(tmp_path / "big.svg"))[0] == 0
    assert "-Gsplines=line" in calls[-1] and "<svg" in (tmp_path / "big.svg").read_text()
    assert run("graph", *PERCEPTRON, "--format", "svg", "-o", str(tmp_path / "small.svg"))[0] == 0
    assert "-Gsplines=line" not in calls[-1]


def test_without_dot_the_dot_text_is_kept_and_the_fix_said(shell, tmp_path):
    bare = tmp_path / "bin"
    bare.mkdir()
    os.symlink(sys.executable, bare / "python")
    out_file = tmp_path / "g.png"
    code, _, err = shell("graph", *CHAIN, "--format", "png", "-o", str(out_file),
                         env={"PATH": str(bare)})
    assert code == 1
    assert "Graphviz's dot program is not installed" in err and "apt-get install graphviz" in err
    assert (tmp_path / "g.dot").read_text().startswith("digraph adiff")
    assert "Traceback" not in err


def test_image_formats_need_an_output_file(run):
    code, _, err = run("graph", *CHAIN, "--format", "svg")
    assert code == 2 and "-o FILE.svg" in err


# --- plots ---------------------------------------------------------------------------------------

def test_curves_are_exact_derivatives_with_gaps():
    c = plotting.curves("x^3 + floor(x)", "x=-2:2:401", order=2)
    x = c.x
    f, d1, d2 = c.series.values()
    finite = np.isfinite(d1)
    assert np.allclose(d1[finite], 3 * x[finite] ** 2)  # floor' = 0 between its jumps
    assert np.allclose(d2[np.isfinite(d2)], 6 * x[np.isfinite(d2)])
    jumps = np.where(np.isnan(f))[0]  # floor jumps at -1, 0, 1, 2: the line is broken there
    assert len(jumps) >= 3
    assert set(np.round(x[jumps]).astype(int)) >= {-1, 0, 1}


def test_non_finite_points_are_gaps():
    c = plotting.curves("1/x", "x=-1:1:5", order=1)
    f, d1 = c.series.values()
    assert np.isnan(f[2]) and np.isnan(d1[2])  # x = 0


def test_plot_png_and_svg(run, tmp_path):
    png, svg = tmp_path / "p.png", tmp_path / "p.svg"
    assert run("plot", "exp(sin(x^2))", "--over", "x=-3:3", "--order", "2", "-o", str(png))[0] == 0
    width, height = _png_size(png)
    assert 300 < width < 3000 and 200 < height < 2000
    assert run("plot", "abs(x)", "--over", "x=-1:1", "-o", str(svg))[0] == 0
    assert "<svg" in svg.read_text()


def test_terminal_plot_piped_has_no_colour(run):
    code, out, _ = run("plot", "sin(x)", "--over", "x=-3:3")
    assert code == 0
    assert "df/dx" in out and "\x1b[" not in out


def test_sweep_plot(run, tmp_path):
    png = tmp_path / "s.png"
    code, out, _ = run("compare", "exp(sin(x^2))", "--at", "x=2", "--sweep", "--plot", "-o", str(png))
    assert code == 0
    _png_size(png)
    code, out, _ = run("compare", "exp(sin(x^2))", "--at", "x=2", "--sweep", "--plot")
    assert "central difference" in out


def test_missing_optional_extras_say_how_to_install(run, monkeypatch):
    monkeypatch.setitem(sys.modules, "plotext", None)  # import fails as if not installed
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = run("plot", "sin(x)", "--over", "x=-1:1")
    assert code == 2
    assert "pip install 'adiff[plot]'" in err and "Traceback" not in err
    code, _, err = run("plot", "sin(x)", "--over", "x=-1:1", "-o", "x.png")
    assert code == 2 and "matplotlib" in err


def test_plot_bad_input(run):
    assert run("plot", "sin(x)")[0] == 2
    code, _, err = run("plot", "sin(x)", "--over", "y=0:1")
    assert code == 2 and "no input 'y'" in err
    code, _, err = run("plot", "sum(x)", "--over", "x=0:1")
    assert code == 2 and "whole arrays" in err
