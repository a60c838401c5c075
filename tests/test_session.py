"""The session (`adiff` with no arguments), driven as a user drives it: piped lines answered in
order, with the shell's own output as the oracle for every command, hand-derived derivatives
and the lecture's numbers for the answers; and the prompt itself, on prompt_toolkit's test
input and on a real pseudo-terminal."""

import json
import math
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time

import pytest
import typer
from reference import CHAIN_DF_DX, CHAIN_PARTIALS, PERCEPTRON_GRADIENTS

from autodiff_cli.cli import app
from autodiff_cli.session import BANNER, Session, in_order

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHAIN = "v = x^2; u = sin(v); f = exp(u)"


@pytest.fixture
def session_run(tmp_path):
    """Pipe lines into `adiff` (a real process); returns (exit code, stdout, stderr)."""

    def run(*lines: str, cwd: str = ROOT):
        env = {**os.environ, "COLUMNS": "200", "XDG_DATA_HOME": str(tmp_path / "data")}
        proc = subprocess.run([sys.executable, "-m", "autodiff_cli"], input="\n".join(lines) + "\n",
                              capture_output=True, text=True, cwd=cwd, env=env, timeout=120)
        return proc.returncode, proc.stdout, proc.stderr

    return run


@pytest.fixture
def session(monkeypatch, tmp_path):
    """A session in this process (answers printed to the captured stdout)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return Session(lambda: typer.main.get_command(app))


def json_answer(out: str) -> dict:
    return json.loads(out)


# -- every command prints what the shell prints ---------------------------------------------------

def test_commands_print_what_the_shell_prints(session_run, run):
    """The oracle is the shell itself: `adiff COMMAND PROGRAM OPTIONS`, one command at a time."""
    questions = [("grad", "--at", "x=2"), ("compare", "--at", "x=2", "--eps", "1e-3"),
                 ("jacobian", "--at", "x=2"), ("diff", "--wrt", "x", "--at", "x=2"),
                 ("graph", "--at", "x=2"), ("grad", "--at", "x=2", "--of", "f,u", "--wrt", "u,v,x", "--json"),
                 ("grad", "--grid", "x=0:1:3", "--csv"), ("functions",)]
    code, out, err = session_run(CHAIN, *[" ".join(q) for q in questions])
    expected_out, expected_err, codes = "", "", []
    for q in questions:
        args = [q[0], CHAIN, *q[1:]] if q[0] != "functions" else list(q)
        c, o, e = run(*args)
        expected_out, expected_err = expected_out + o, expected_err + e
        codes.append(c)
    assert out == expected_out
    assert err == expected_err
    assert code == next((c for c in codes if c), 0)


def test_help_inside_is_the_shells_help(session_run, shell):
    code, out, _ = session_run("grad --help", "help grad", "compare --help")
    assert code == 0
    assert out == shell("grad", "--help")[1] * 2 + shell("compare", "--help")[1]  # (a real process: Click's
    # CliRunner formats help 80 wide, a terminal's process 78)


def test_usage_errors_and_parse_errors_are_the_shells(session_run, run):
    code, _, err = session_run(CHAIN, "grad --bogus", "sin(x, 2)", "grad --of h --at x=1", "f = exp(sin(x^2)")
    expected = (run("grad", "--bogus", CHAIN)[2] + run("grad", "sin(x, 2)")[2]
                + run("grad", CHAIN, "--of", "h", "--at", "x=1")[2] + run("grad", "f = exp(sin(x^2)")[2])
    assert err == expected
    assert "column" in err and "^" in err  # the caret, placed in the line as typed
    assert code == 2


def test_run_and_a_program_given_to_the_command(session_run, run):
    code, out, _ = session_run(CHAIN, "run samples/perceptron.adiff", 'grad "x*y" --at x=2,y=3')
    timing = re.compile(r"; \d+\.\d\d s$", re.M)
    expected = run("run", "samples/perceptron.adiff")[1] + run("grad", "x*y", "--at", "x=2,y=3")[1]
    assert timing.sub("", out) == timing.sub("", expected)
    assert code == 0


def test_a_program_that_starts_with_a_minus_as_in_the_shell(session_run, shell):
    assert session_run('grad "-x^2" --at x=3') == shell("grad", "-x^2", "--at", "x=3")


# -- the session's program ------------------------------------------------------------------------

def test_an_input_given_a_value_acts_as_at(session, capsys):
    session.answer(CHAIN)
    session.answer("x = 3")
    session.answer("grad --json")
    at_3 = json_answer(capsys.readouterr().out)
    # ∂/∂x exp(sin(x²)) = 2x·cos(x²)·exp(sin(x²)), by hand
    assert at_3["gradients"]["f"]["x"] == pytest.approx(6 * math.cos(9) * math.exp(math.sin(9)), rel=1e-14)
    session.answer("grad --json --at x=2")  # --at still overrides the value
    assert json_answer(capsys.readouterr().out)["gradients"]["f"]["x"] == CHAIN_DF_DX
    session.answer("x = pi/4")  # an expression of numbers is a value too, as in --at x=pi/4
    session.answer("grad --json")
    x = math.pi / 4
    got = json_answer(capsys.readouterr().out)["gradients"]["f"]["x"]
    assert got == pytest.approx(2 * x * math.cos(x * x) * math.exp(math.sin(x * x)), rel=1e-14)
    assert session.definitions["x"].text == f"x = {x!r}  # pi/4"  # as saved: a file reads it the same


def test_redefinition_replaces_and_dependants_follow(session, capsys):
    for line in (CHAIN, "x = 2", "v = x^3"):
        assert session.answer(line) == 0
    session.answer("grad --json")
    got = json_answer(capsys.readouterr().out)["gradients"]["f"]["x"]
    # ∂/∂x exp(sin(x³)) = 3x²·cos(x³)·exp(sin(x³)), by hand
    assert got == pytest.approx(12 * math.cos(8) * math.exp(math.sin(8)), rel=1e-14)
    assert session.program_text() == "x = 2\nv = x^3\nu = sin(v)\nf = exp(u)"


def test_statements_in_any_order_are_put_in_dependency_order(session, capsys):
    for line in ("f = exp(u)", "u = sin(v)", "v = x^2", "x = 2"):
        assert session.answer(line) == 0
    assert session.program_text() == "x = 2\nv = x^2\nu = sin(v)\nf = exp(u)"
    session.answer("grad --json --of f,u --wrt u,v,x")
    grads = json_answer(capsys.readouterr().out)["gradients"]
    for (target, wrt), value in CHAIN_PARTIALS.items():
        if target in grads:
            assert grads[target][wrt] == pytest.approx(value, rel=1e-15)


def test_a_line_in_any_order(session, capsys):
    """In a file, `x = 2` after x is read is an error; in a session, statements are ordered."""
    assert session.answer("f = exp(v); v = x^2; x = 2") == 0
    session.answer("grad --json")
    got = json_answer(capsys.readouterr().out)["gradients"]["f"]["x"]
    assert got == pytest.approx(4 * math.exp(4), rel=1e-15)  # ∂/∂x exp(x²) = 2x·exp(x²)
    assert session.answer("g = 1; h = sin(x, 2)") == 2  # a real error is still the line's, placed in it
    assert "error at line 1, column 12: sin() takes one argument" in capsys.readouterr().err
    assert "g" not in session.definitions  # a line is added whole or not at all


def test_the_latest_formula_is_the_default_target(session, capsys):
    for line in (CHAIN, "x = 2", "g = f * cos(x)", "y = 5"):
        session.answer(line)
    assert [d.name for d in in_order(session.definitions)][-1] == "g"
    session.answer("grad --json --wrt v")
    grads = json_answer(capsys.readouterr().out)["gradients"]
    # g = exp(u)·cos(x) with v held independent: ∂g/∂v = cos(x)·exp(u)·cos(v)
    assert grads["g"]["v"] == pytest.approx(math.cos(2) * math.exp(math.sin(4)) * math.cos(4), rel=1e-14)


def test_a_definition_that_reads_itself_is_refused(session, capsys):
    session.answer(CHAIN)
    assert session.answer("x = f + 1") == 2
    assert "x would depend on itself (x → v → u → f → x)" in capsys.readouterr().err
    assert session.answer("u = f") == 2
    assert "u would depend on itself (u → f → u)" in capsys.readouterr().err
    assert session.program_text() == "v = x^2\nu = sin(v)\nf = exp(u)"  # unchanged


def test_a_bare_expression_is_f_and_shows_its_value(session, capsys):
    session.answer("x = 2")
    session.answer("exp(sin(x^2))")
    assert capsys.readouterr().out == "f = 0.4691641859\n"
    session.answer("x^3")  # a new bare expression replaces the last
    assert capsys.readouterr().out == "f = 8\n"
    session.answer("f = cos(x)")
    session.answer("f + 1")  # f is the user's own now: the bare expression is `result`
    assert capsys.readouterr().out == f"result = {math.cos(2) + 1:.10g}\n"


def test_multi_line_statements_and_expect_lines(session_run, tmp_path):
    saved = tmp_path / "s.adiff"
    code, out, err = session_run("x = 2", "f = exp(sin(", "  x^2))", "expect f == 0.4691641859",
                                 "grad --json", f":save {saved}")
    assert code == 0, err
    assert json.loads(out.split("\nsaved")[0])["gradients"]["f"]["x"] == CHAIN_DF_DX
    assert saved.read_text() == "x = 2\nf = exp(sin(\n  x^2))\nexpect f == 0.4691641859\n"


@pytest.mark.slow
def test_a_program_100000_deep(session, capsys, tmp_path):
    """Nothing in the session recurses over an expression: a 100,000-deep program loads, orders,
    saves and answers."""
    path = tmp_path / "deep.adiff"
    path.write_text("x = 0.5\nf = " + "sin(" * 100_000 + "x" + ")" * 100_000 + "\n")
    assert session.answer(f":load {path}") == 0
    assert session.answer("grad --json") == 0
    # ∂f/∂x is the product of cos(x_k) over the 100,000 nested sines, x_0 = x, x_(k+1) = sin(x_k)
    x, product = 0.5, 1.0
    for _ in range(100_000):
        product *= math.cos(x)
        x = math.sin(x)
    assert json_answer(capsys.readouterr().out)["gradients"]["f"]["x"] == pytest.approx(product, rel=1e-9)


# -- : commands --------------------------------------------------------------------------------

def test_vars_lists_names_definitions_and_values(session, capsys):
    session.answer(CHAIN)
    session.answer(":vars")
    out = capsys.readouterr().out
    assert re.search(r"v\s+x\^2\s+step\s*\n", out)  # no value while x has none
    assert re.search(r"x\s+input\s+no value", out)
    session.answer("x = 2")
    session.answer(":vars")
    out = capsys.readouterr().out
    assert re.search(r"x\s+2\s+input\s+2\n", out)
    assert re.search(r"u\s+sin\(v\)\s+step\s+-0.7568024953\n", out)  # REFERENCE.md section 1


def test_del_and_reset(session, capsys):
    session.answer(CHAIN)
    session.answer("x = 2")
    assert session.answer(":del u") == 0
    assert "f now reads u as an input without a value" in capsys.readouterr().err
    assert session.answer("grad") == 2
    assert "the input 'u' has no value" in capsys.readouterr().err
    assert session.answer(":del nothing") == 2
    assert "no definition named 'nothing'" in capsys.readouterr().err
    session.answer(":reset")
    assert session.answer("grad") == 2
    assert "the session has no program yet" in capsys.readouterr().err
    assert session.answer(":frobnicate") == 2


def test_save_load_round_trip_with_the_shell(session, capsys, tmp_path, shell):
    path = tmp_path / "lecture.adiff"
    session.answer(":load samples/perceptron.adiff")  # values, steps and expect lines
    assert session.answer(f":save {path}") == 0
    assert capsys.readouterr().out == f"saved 15 lines to {path}\n"
    code, out, _ = shell("run", str(path))
    assert code == 0 and "6/6" in out  # adiff run accepts it, and its 6 expect lines hold
    code, out, _ = shell("grad", "-f", str(path), "--wrt", "w1,w2,b", "--json")
    assert json.loads(out)["gradients"]["c"] == pytest.approx(PERCEPTRON_GRADIENTS, rel=1e-15)
    again = Session(session._make_group)
    assert again.answer(f":load {path}") == 0
    assert again.program_text() == session.program_text()
    assert [p.name for p in tmp_path.iterdir()] == ["lecture.adiff"]  # no temporary file left


def test_save_is_atomic_and_says_why_it_cannot_write(session, capsys, tmp_path):
    path = tmp_path / "kept.adiff"
    path.write_text("x = 1\n")
    assert session.answer(":save " + str(path)) == 2  # nothing to save: the file is untouched
    session.answer("f = x^2")
    assert session.answer(f":save {tmp_path}/missing/f.adiff") == 2
    assert "cannot write" in capsys.readouterr().err
    assert path.read_text() == "x = 1\n"


def test_help_lists_every_command(session, capsys):
    session.answer("help")
    out = capsys.readouterr().out
    for name in [*session.group.commands, ":vars", ":del", ":reset", ":load", ":save"]:
        assert re.search(rf"^  {re.escape(name)}\b", out, re.M), name


# -- piped input as a script -----------------------------------------------------------------------

def test_piped_exit_code_is_the_first_errors_and_the_session_goes_on(session_run):
    code, out, err = session_run('compare "relu(x)" --at x=0', "sin(x))", "x = 2", "exp(x)")
    assert code == 1  # compare's disagreement came first; the syntax error (2) later
    assert out.startswith("∂f/∂x at x = 0\n") and "error at line 1" in err
    assert out.endswith(f"f = {math.exp(2):.10g}\n")  # later lines still answered
    assert session_run("# a comment", "", "x = 2")[0] == 0


def test_nothing_interactive_is_echoed_when_piped(session_run):
    code, out, err = session_run("x = 2", "v = x^2")
    assert (code, out, err) == (0, "", "")


def test_the_lecture_sample_replays_the_lecture(session_run):
    with open(os.path.join(ROOT, "samples", "session_lecture.txt"), encoding="utf-8") as f:
        code, out, err = session_run(f.read())
    assert code == 0, err
    chain = "  ".join(f"{CHAIN_PARTIALS['f', w]:.10g}" for w in ("u", "v", "x"))
    assert re.search(rf"∂f\s+{re.escape(chain)}\n", out)
    assert "-1.2267  3.33e-06" in out  # the lecture's central difference, h = 1e-3
    perceptron = "  ".join(f"{PERCEPTRON_GRADIENTS[w]:.6g}" for w in ("w1", "w2", "b"))
    assert re.search(rf"∂c\s+{re.escape(perceptron)}\n", out)


def test_ctrl_c_in_a_computation_returns_to_the_prompt(session, capsys, monkeypatch):
    from autodiff_cli import api
    from autodiff_cli.session_prompt import interactive

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    session.answer(CHAIN)
    monkeypatch.setattr(api, "grad", interrupted)
    lines = iter(["grad --at x=2", "x = 2", "exp(x)"])

    def read():
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    assert interactive(session, read) == 0
    captured = capsys.readouterr()
    assert captured.err == "interrupted\n"
    assert captured.out.endswith(f"result = {math.exp(2):.10g}\n\n")  # f is the program's own


def test_plain_prompt_without_prompt_toolkit_or_a_terminal(session, capsys, monkeypatch):
    """Standard output is not a terminal here, so the prompt is input(), with `...` lines."""
    from autodiff_cli.session_prompt import interactive

    typed = iter(["x = 2", "f = exp(x +", "  1)", "grad --json"])
    prompts = []

    def fake_input(prompt):
        prompts.append(prompt)
        try:
            return next(typed)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr("builtins.input", fake_input)
    assert interactive(session) == 0
    assert prompts == [">>> ", ">>> ", "... ", ">>> ", ">>> "]
    out = capsys.readouterr().out
    assert out.startswith(BANNER + "\n")
    assert json.loads(out[len(BANNER) + 1:])["gradients"]["f"]["x"] == pytest.approx(math.exp(3), rel=1e-15)


# -- the README's transcript -----------------------------------------------------------------------

def readme_transcript() -> tuple[list[str], str]:
    """The Session section's transcript: the lines typed after >>>, and what was printed."""
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = readme.split("\n## Session", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```text\n\$ adiff\n(.*?)```", section, re.S).group(1)
    lines = block.split("\n")
    assert lines[0] == BANNER
    typed, shown = [], []
    for line in lines[1:]:
        if line.startswith(">>> ") or line.startswith("... "):
            typed.append(line[4:])
        else:
            shown.append(line)
    return typed, "\n".join(shown)


def test_readme_transcript(session_run, tmp_path):
    typed, shown = readme_transcript()
    code, out, err = session_run(*typed, cwd=ROOT)
    assert (out + err).rstrip("\n") == shown.rstrip("\n")
    assert code == 2  # the transcript shows an error, and says so


# -- the prompt ----------------------------------------------------------------------------------

def test_prompt_completion_history_and_multi_line(session, capsys, tmp_path):
    pytest.importorskip("prompt_toolkit")
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from autodiff_cli.session_prompt import history_path, prompt_session

    def ask(*keys: str) -> int:
        """Type the keys, a pause after each group (completion runs between keys), answer the line."""

        def type_keys():
            for chunk in keys:
                time.sleep(0.15)
                inp.send_text(chunk)

        typist = threading.Thread(target=type_keys)
        typist.start()
        text = prompt.prompt()
        typist.join()
        return session.answer(text)

    with create_pipe_input() as inp:
        prompt = prompt_session(session, input=inp, output=DummyOutput())
        ask("weight = 2\r")
        ask("f = sigmoi\t", "(wei\t", ")\r")  # Tab completes a function's name, and the session's names
        ask("grad --js\t", "\r")  # ... and a command's options
        first = json_answer(capsys.readouterr().out)
        ask("\x1b[A", "\r")  # Up: the last line again
        again = json_answer(capsys.readouterr().out)
        ask("g = (f +\r", " 1)\r")  # an open bracket: Enter continues the line
        ask("f = 0\r")
        ask("\x12sigm", "\r", "\r")  # Ctrl-R finds f = sigmoid(weight); Enter takes it, Enter runs it
    s = 1 / (1 + math.exp(-2))
    assert first["gradients"]["f"]["weight"] == pytest.approx(s * (1 - s), rel=1e-15)  # σ' = σ(1 - σ)
    assert again == first
    assert session.definitions["g"].text == "g = (f +\n 1)"
    assert session.definitions["f"].text == "f = sigmoid(weight)"
    history = history_path().read_text()
    assert history_path() == tmp_path / "data" / "adiff" / "history"
    assert "+grad --json" in history and "+f = sigmoid(weight)" in history  # kept for the next session


def test_ctrl_c_cancels_the_line_and_ctrl_d_quits(session, capsys):
    pytest.importorskip("prompt_toolkit")
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from autodiff_cli.session_prompt import interactive, prompt_session

    with create_pipe_input() as inp:
        def type_keys():
            for chunk in ("x = 2\r", "y = 1 +\x03", "exp(x)\r", "\x04"):
                time.sleep(0.15)
                inp.send_text(chunk)

        typist = threading.Thread(target=type_keys)
        typist.start()
        code = interactive(session, prompt_session(session, input=inp, output=DummyOutput()).prompt)
        typist.join()
    assert code == 0
    assert "y" not in session.definitions  # the line Ctrl-C cancelled
    assert capsys.readouterr().out == f"{BANNER}\nf = {math.exp(2):.10g}\n\n"


def test_completions(session, monkeypatch):
    monkeypatch.chdir(ROOT)
    from autodiff_cli.session_prompt import completions

    session.answer(CHAIN)
    assert completions(session, "gr") == ("gr", ["grad", "graph"])
    assert completions(session, "grad --w") == ("--w", ["--wrt"])
    assert completions(session, "help ja") == ("ja", ["jacobian"])
    assert completions(session, "g = sigm") == ("sigm", ["sigmoid"])
    assert completions(session, "g = sin(u") == ("u", [])  # u is complete already
    assert "v" in completions(session, ":del ")[1]
    assert completions(session, ":v") == (":v", [":vars"])
    assert completions(session, ":load samples/chain_r") == ("samples/chain_r", ["samples/chain_rule.adiff"])
    assert completions(session, "run samp") == ("samp", ["samples/"])
    assert completions(session, "grad -f samples/perc") == ("samples/perc", ["samples/perceptron.adiff"])
    assert completions(session, "run --js") == ("--js", ["--json"])


def test_highlighting_covers_the_line(session):
    from autodiff_cli.session_prompt import highlighted

    session.answer(CHAIN)
    for line in ("g = exp(v) * 2  # a comment", "grad --at x=2", "g = $", "expect f == 1 within 2"):
        pieces = highlighted(session, line)
        assert "".join(text for _, text in pieces) == line
    styles = dict((text, style) for style, text in highlighted(session, "g = exp(v) * 2  # a comment"))
    assert styles["exp"] == "class:function" and styles["2"] == "class:number"
    assert styles["v"] == "class:defined" and styles["# a comment"] == "class:comment"


def test_prompt_on_a_real_terminal(tmp_path):
    """`adiff` on a pseudo-terminal: the banner and prompt, a definition, an answer, Ctrl-D."""
    pytest.importorskip("prompt_toolkit")
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: adiff, alone
        os.chdir(ROOT)
        os.environ.update(XDG_DATA_HOME=str(tmp_path), COLUMNS="120", LINES="40", NO_COLOR="1", TERM="xterm")
        os.execv(sys.executable, [sys.executable, "-m", "autodiff_cli"])
    seen, status = b"", None

    def read_until(text: bytes | None, timeout: float = 30) -> None:
        """Read what adiff shows until `text` appears (None: until it closes the terminal)."""
        nonlocal seen
        end = time.monotonic() + timeout
        while (text is None or text not in seen) and time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # the terminal closed: adiff has exited
                    break
                if not chunk:
                    break
                if b"\x1b[6n" in chunk:  # prompt_toolkit asks where the cursor is: answer as a terminal does
                    os.write(fd, b"\x1b[1;1R")
                seen += chunk
        assert text is None or text in seen, seen[-2000:]

    def answered(text: bytes) -> None:
        """Read until `text`, then until the prompt is back."""
        read_until(text)
        start = len(seen)
        end = time.monotonic() + 30
        while b">>>" not in seen[start:] and time.monotonic() < end:
            read_until(None, timeout=0.2)
        assert b">>>" in seen[start:], seen[-2000:]

    try:
        read_until(b">>>")  # the space after it is a cursor movement
        os.write(fd, b"v = x^2; f = exp(v)\r")
        os.write(fd, b"grad --at x=1\r")
        answered(b"5.436563657")  # ∂/∂x exp(x²) = 2x·exp(x²) = 2e at x = 1
        os.write(fd, b"\x04")  # Ctrl-D
        end = time.monotonic() + 30
        while status is None and time.monotonic() < end:
            read_until(None, timeout=0.5)
            done, code = os.waitpid(pid, os.WNOHANG)
            status = code if done else None
        assert status is not None, "adiff did not quit on Ctrl-D"
    finally:
        os.close(fd)
        if status is None:  # the test failed before adiff exited: do not leave it running
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert b"derivatives node by node" in seen
    assert os.waitstatus_to_exitcode(status) == 0
