"""What a person sees on a terminal: at any width a number or a name is never wrapped or cut, and
no column is dropped (the table changes layout instead); failed checks are the loudest line.

The oracle is the piped rendering of the same command, which is never wrapped: every number in
it must appear, whole and as often, in the terminal rendering at widths 40 to 200.
"""

import collections
import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest
from typer.testing import CliRunner

from autodiff_cli import render, render_fit
from autodiff_cli.cli import app
from autodiff_cli.layout import Table, fit_widths, lay_out, overhead, wrap_words

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIDTHS = [40, 60, 80, 120, 200]
NUMBER = re.compile(r"(?<![\w.\[])-?(?:\d+\.?\d*(?:e[+-]?\d+)?|nan|inf)(?![\w.])")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

THIRTY = " + ".join(f"{k}*x{k}^2" for k in range(1, 31))
THIRTY_AT = ",".join(f"x{k}={k / 10}" for k in range(1, 31))
COMMANDS = [
    ["grad", "exp(sin(x^2))", "--at", "x=2"],
    ["grad", "v = x^2; u = sin(v); f = exp(u)", "--at", "x=2", "--of", "f,u", "--wrt", "u,v,x"],
    ["grad", THIRTY, "--at", THIRTY_AT],
    ["grad", "-f", "samples/perceptron.adiff"],
    ["jacobian", "softmax(x)", "--at", "x=[1,2,3,4,5,6,7,8,9,10]"],
    ["compare", "x^x * sin(x) / (1 + exp(-x))", "--at", "x=1.7"],
    ["compare", "x^2", "--at", "x=1", "--sweep"],
    ["grad", "sin(x)*x", "--grid", "x=-3:3:50"],
    ["functions"],
]


def rendered(args: list[str], width: int | None, monkeypatch) -> str:
    """The command's standard output: piped (width None) or as Rich draws it on a terminal."""
    if width is not None:
        monkeypatch.setattr(render, "wants_rich", lambda stream: True)
        monkeypatch.setattr(render_fit, "wants_rich", lambda stream: True)
    env = {"COLUMNS": str(width or 200), "NO_COLOR": "1", "TERM": "xterm"}
    result = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    monkeypatch.undo()
    return ANSI.sub("", result.stdout)


def numbers(text: str) -> collections.Counter:
    return collections.Counter(NUMBER.findall(text))


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a)[:40])
def test_every_number_whole_at_every_width(args, monkeypatch):
    os.chdir(ROOT)
    piped = rendered(args, None, monkeypatch)
    wanted = numbers(piped)
    assert wanted, piped
    for width in WIDTHS:
        text = rendered(args, width, monkeypatch)
        got = numbers(text)
        missing = {n: c for n, c in wanted.items() if got[n] < c}
        assert not missing, f"at {width} columns, numbers broken or dropped: {missing}\n{text}"
        long = [line for line in text.splitlines() if len(line.rstrip()) > width]
        assert not long, f"lines wider than {width}: {long}"


def test_thirty_inputs_keep_every_column_and_whole_headers(monkeypatch):
    text = rendered(["grad", THIRTY, "--at", THIRTY_AT], 120, monkeypatch)
    for k in range(1, 31):
        assert f"∂/∂x{k}" in text  # no header stacked letter by letter, none dropped


def test_gradient_turns_to_one_row_per_variable_when_too_wide():
    t = Table("Gradient", ["target", *[f"∂/∂x{k}" for k in range(30)]], [["∂f", *["-1.226664709"] * 30]],
              turnable=True)
    (part,) = lay_out(t, 80)
    assert part.table.columns == ["target", "∂f"]
    assert [row[0] for row in part.table.rows] == [f"∂/∂x{k}" for k in range(30)]


def test_fit_widths_never_goes_below_the_longest_word():
    ranges = [(13, 13), (5, 40), (14, 44)]
    widths = fit_widths(ranges, 60)
    assert widths is not None and sum(widths) + overhead(3) <= 60
    assert all(w >= low for w, (low, _) in zip(widths, ranges, strict=False))
    assert fit_widths(ranges, 39) is None


def test_wrap_words_breaks_only_at_spaces():
    text = "∂f/∂(sin(x^2)) = exp(sin(x^2)) = 0.4691641859"
    lines = wrap_words(text, 20)
    assert " ".join(line.strip() for line in lines) == text
    assert all(len(line) <= 20 for line in lines)


def test_a_column_too_wide_for_any_part_is_shown_as_records(monkeypatch):
    formula = " + ".join(f"{k}·sin({k}·x)" for k in range(1, 12))
    t = Table("Nodes", ["#", "node", "formula"], [["1", "f", formula]], keys=2)
    parts = lay_out(t, 40)
    assert all(p.widths is not None for p in parts)  # the words fit: the formula wraps between them
    t.rows[0][2] = "x" * 60  # one word longer than the line
    (part,) = lay_out(t, 40)
    assert part.widths is None


def test_disagree_is_bold_red_and_marks_the_row(monkeypatch):
    monkeypatch.setattr(render, "wants_rich", lambda stream: True)
    env = {"COLUMNS": "120", "TERM": "xterm", "FORCE_COLOR": "1"}
    env.pop("NO_COLOR", None)
    monkeypatch.delenv("NO_COLOR", raising=False)
    # a step far too large for x^3 at 1: the central difference is 3.25, the derivative 3
    out = CliRunner().invoke(app, ["compare", "x^3", "--at", "x=1", "--eps", "0.5"], env=env).stdout
    plain = ANSI.sub("", out)
    assert "DISAGREE" in plain
    assert "\x1b[1;31mDISAGREE" in out  # bold red
    assert "✗ 2 central difference" in plain  # the row that differs, marked in words too
    assert "✗ 3 forward" not in plain and "✗ 1 symbolic" not in plain
    kink = CliRunner().invoke(app, ["compare", "relu(x)", "--at", "x=0"], env=env).stdout
    assert "\x1b[1;31mNO DERIVATIVE" in kink
    agree = CliRunner().invoke(app, ["compare", "x^2", "--at", "x=1"], env=env).stdout
    assert "\x1b[32magree" in agree  # green


def test_no_trailing_blank_line_after_tables(monkeypatch):
    piped = rendered(["grad", "exp(sin(x^2))", "--at", "x=2"], None, monkeypatch)
    assert piped.endswith("f = 0.4691641859\n")
    term = rendered(["grad", "exp(sin(x^2))", "--at", "x=2"], 80, monkeypatch)
    assert term.rstrip(" ").endswith("f = 0.4691641859\n")


def test_constant_partial_printed_once(monkeypatch):
    piped = rendered(["grad", "x^2 + 1", "--at", "x=3"], None, monkeypatch)
    assert "= 1 = 1" not in piped
    assert "∂f/∂(x^2) = 1 " in piped


def _pty_run(args: list[str], cols: int) -> str:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(TERM="xterm", NO_COLOR="1")
    proc = subprocess.Popen([sys.executable, "-m", "autodiff_cli", *args], stdin=slave, stdout=slave,
                            stderr=slave, env=env, cwd=ROOT, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(master)
    return ANSI.sub("", b"".join(chunks).decode()).replace("\r\n", "\n")


@pytest.mark.parametrize("cols", [60, 80])
def test_on_a_real_pseudo_terminal(cols):
    """The README's first example on a real terminal of 60 and 80 columns."""
    text = _pty_run(["grad", "exp(sin(x^2))", "--at", "x=2"], cols)
    for number in ["-1.226664709", "-0.3066661772", "0.4691641859", "-0.6536436209", "-0.7568024953"]:
        assert number in text
    assert all(len(line.rstrip()) <= cols for line in text.splitlines())


def test_run_fail_is_bold_red_pass_green(tmp_path, monkeypatch):
    bad = tmp_path / "bad.adiff"
    bad.write_text("x = 2\nf = x^2\nexpect f == 5\n")
    good = tmp_path / "good.adiff"
    good.write_text("x = 2\nf = x^2\nexpect f == 4\n")
    monkeypatch.setattr(render, "wants_rich", lambda stream: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    env = {"FORCE_COLOR": "1", "TERM": "xterm"}
    out = CliRunner().invoke(app, ["run", str(bad), str(good)], env=env).stdout
    assert "\x1b[1;31mFAIL" in out
    assert "\x1b[32mPASS" in out
    plain = CliRunner().invoke(app, ["run", str(bad)], env={"NO_COLOR": "1"}).stdout
    assert plain.startswith("FAIL") and "\x1b[" not in plain


def test_plot_axes_use_scientific_notation_for_tiny_values():
    pytest.importorskip("plotext")
    out = CliRunner().invoke(app, ["plot", "1e-8*sin(x)", "--over", "x=-3:3"], env={"NO_COLOR": "1"}).stdout
    assert "0.00000" not in out
    assert re.search(r"\de-0[89]┤", out), out
    sweep = CliRunner().invoke(app, ["compare", "x^2", "--at", "x=1", "--sweep", "--plot"]).stdout
    assert "0.00000" not in sweep and "e-08" in sweep


def test_long_node_texts_show_their_first_and_last_parts(monkeypatch):
    program = " + ".join(f"sin({k}*x)" for k in range(1, 101))
    piped = rendered(["grad", program, "--at", "x=0.5"], None, monkeypatch)
    last_sum = [line for line in piped.splitlines() if "  add  " in line][-2]  # [-1] is f
    label = last_sum.split("  add  ")[0].strip().split(" ", 1)[1].strip()
    assert label.startswith("sin(1·x) + sin(2·x)") and label.endswith("+ sin(98·x) + sin(99·x)")
    assert " … " in label and len(label) <= 80
    full = rendered(["grad", program, "--at", "x=0.5", "--full"], None, monkeypatch)
    whole = " + ".join(f"sin({k}·x)" for k in range(1, 100))  # the sum before f, whole
    assert whole in full


def test_warnings_fold_between_words_on_a_terminal(monkeypatch):
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setenv("COLUMNS", "40")
    message = "relu is not differentiable where its argument is 0; used -1.226664709 (tensorflow convention)"
    stream = Terminal()
    render.print_warnings([message], stream)
    lines = stream.getvalue().splitlines()
    assert len(lines) > 1 and all(len(line) <= 40 for line in lines)
    assert " ".join(line.strip() for line in lines) == f"warning: {message}"
    piped = io.StringIO()
    render.print_warnings([message], piped)
    assert piped.getvalue() == f"warning: {message}\n"  # piped: one line, as scripts read it
