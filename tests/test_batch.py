"""`adiff run FILE...` as a user runs it: the samples, failed and non-finite checks, files that
cannot be read or parsed among good ones, JSON Lines, --jobs, standard input, tolerances."""

from __future__ import annotations

import glob
import json
import math
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "samples", "*.adiff")))
SUMMARY = re.compile(r"^(\d+) files?: (\d+) passed, (\d+) failed, (\d+) errors?; "
                     r"(\d+) expects: (\d+) passed, (\d+) failed; \d+\.\d\d s$")

GOOD = "x = 2\nf = x^2\nexpect f == 4\nexpect grad(f, x) == 4\n"
FAILING = "x = 2\nf = x^2\nexpect f == 4.1\nexpect grad(f, x) == 4\n"
BROKEN = "x = 2\nf = x^^2\nexpect f == 4\n"
NON_FINITE = "x = 0\nf = log(x)\n"


def strict_json(line: str) -> dict:
    """One JSON Lines record; NaN and Infinity are not JSON."""
    def refuse(token: str):
        raise ValueError(f"not JSON: {token}")
    return json.loads(line, parse_constant=refuse)


def heads(out: str) -> list[tuple[str, str]]:
    """(status, file) of each file's line in the text output."""
    found = []
    for line in out.splitlines():
        m = re.match(r"^(PASS|FAIL|ERROR) +(\S+)", line)
        if m:
            found.append((m.group(1), m.group(2)))
    return found


def summary_of(text: str) -> tuple[int, ...]:
    last = text.strip().splitlines()[-1]
    m = SUMMARY.match(last)
    assert m, last
    return tuple(int(g) for g in m.groups())


def write(folder, files: dict[str, str | bytes]) -> list[str]:
    for name, content in files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return list(files)


def expect_lines(path: str) -> int:
    """The number of expect lines of a file, counted in its text (not by the parser)."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return sum(1 for line in f if re.match(r"\s*expect\b", line))


# =====================================================================================================
# The samples
# =====================================================================================================

def test_samples_exist():
    assert len(SAMPLES) >= 3
    for path in SAMPLES:
        assert expect_lines(path) >= 1, f"{path} checks nothing"


def test_every_sample_passes(shell):
    code, out, err = shell("run", *SAMPLES)
    assert code == 0, out + err
    assert heads(out) == [("PASS", p) for p in SAMPLES]
    for p in SAMPLES:
        n = expect_lines(p)
        assert f"PASS  {p}  ({n}/{n} expects)" in out
    total = sum(expect_lines(p) for p in SAMPLES)
    assert summary_of(out) == (len(SAMPLES), len(SAMPLES), 0, 0, total, total, 0)
    assert err == ""


def test_every_sample_passes_in_json(shell):
    code, out, err = shell("run", *SAMPLES, "--json")
    assert code == 0, out + err
    docs = [strict_json(line) for line in out.splitlines()]
    assert [d["file"] for d in docs] == SAMPLES
    for doc in docs:
        assert doc["ok"] is True and doc["error"] is None
        assert len(doc["expects"]) == expect_lines(doc["file"])
        assert all(e["ok"] for e in doc["expects"])
        assert doc["gradients"]
    total = sum(expect_lines(p) for p in SAMPLES)
    assert summary_of(err) == (len(SAMPLES), len(SAMPLES), 0, 0, total, total, 0)


# =====================================================================================================
# Failed and non-finite checks
# =====================================================================================================

def test_failed_expect_shows_both_sides_difference_and_tolerance(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {"fail.adiff": FAILING})
    code, out, _ = run("run", "fail.adiff")
    assert code == 1
    assert "FAIL  fail.adiff  (1/2 expects)" in out
    assert "line 3: expect f == 4.1" in out
    assert "left 4, right 4.1, difference 0.1, tolerance rtol 1e-06, atol 1e-09" in out
    assert "line 4" not in out  # the expect that passed is not listed
    assert summary_of(out) == (1, 0, 1, 0, 2, 1, 1)


def test_failed_expect_in_json(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {"fail.adiff": FAILING})
    code, out, err = run("run", "fail.adiff", "--json")
    assert code == 1
    doc = strict_json(out)
    assert doc["ok"] is False and doc["error"] is None
    bad, good = doc["expects"]
    assert bad["ok"] is False and good["ok"] is True
    assert bad["text"] == "expect f == 4.1" and bad["line"] == 3
    assert bad["lhs"] == 4.0 and bad["rhs"] == 4.1
    assert bad["difference"] == pytest.approx(0.1, rel=1e-12)
    assert bad["tolerance"] == "rtol 1e-06, atol 1e-09"
    assert good["lhs"] == 4.0 and good["line"] == 4
    assert doc["gradients"] == {"f": {"x": 4.0}}
    assert summary_of(err) == (1, 0, 1, 0, 2, 1, 1)


def test_failed_array_expect_shows_both_arrays(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {"a.adiff": "x = [2, 3]\nf = sum(x^2)\nexpect grad(f, x) == [4, 5]\n"})
    code, out, _ = run("run", "a.adiff")
    assert code == 1
    assert "left [4, 6], right [4, 5], difference 1, tolerance rtol 1e-06, atol 1e-09" in out


def test_non_finite_target_gives_exit_1(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {"nf.adiff": NON_FINITE})
    code, out, _ = run("run", "nf.adiff")
    assert code == 1
    assert heads(out) == [("FAIL", "nf.adiff")]
    assert "-inf" in out and "line 2" in out
    code, out, _ = run("run", "nf.adiff", "--json")
    assert code == 1
    doc = strict_json(out)  # no NaN or Infinity tokens
    assert doc["ok"] is False and "-inf" in doc["error"]


def test_non_finite_expect_value_gives_exit_1(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # the target f is finite; the expects' sides are not, so neither can pass
    write(tmp_path, {"nf.adiff": "x = 2\nf = x^2\nexpect log(x - 2) == 1\nexpect 0/(x - 2) == 0\n"})
    code, out, _ = run("run", "nf.adiff", "--json")
    assert code == 1
    doc = strict_json(out)
    assert doc["ok"] is False
    assert [e["ok"] for e in doc["expects"]] == [False, False]
    assert doc["expects"][0]["lhs"] == "-inf"
    assert doc["expects"][1]["lhs"] == "nan"


# =====================================================================================================
# Files that cannot be read or parsed, among good ones
# =====================================================================================================

MIXED = {
    "good.adiff": GOOD,
    "broken.adiff": BROKEN,
    "fail.adiff": FAILING,
    "missing.adiff": None,
    "folder.adiff": "folder",
    "latin1.adiff": "x = 2 # café\nf = x\n".encode("latin-1"),
    "nf.adiff": NON_FINITE,
    "good2.adiff": "y = 3\ng = y^3\nexpect grad(g, y) == 27\n",
}
EXPECTED_STATUS = ["PASS", "ERROR", "FAIL", "ERROR", "ERROR", "ERROR", "FAIL", "PASS"]


def make_mixed(tmp_path) -> list[str]:
    for name, content in MIXED.items():
        if content is None:
            continue
        if content == "folder":
            (tmp_path / name).mkdir()
        else:
            write(tmp_path, {name: content})
    return list(MIXED)


def test_bad_files_do_not_stop_the_others(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = make_mixed(tmp_path)
    code, out, _ = run("run", *names)
    assert code == 2
    assert heads(out) == list(zip(EXPECTED_STATUS, names, strict=True))
    blocks = dict(zip(names, re.split(r"^(?:PASS|FAIL|ERROR) .*$", out, flags=re.M)[1:], strict=False))
    assert "error at line 2, column 7" in blocks["broken.adiff"] and "x^^2" in blocks["broken.adiff"]
    assert "no such file" in blocks["missing.adiff"]
    assert "folder" in blocks["folder.adiff"]
    assert "UTF-8" in blocks["latin1.adiff"]
    assert "expect f == 4.1" in blocks["fail.adiff"]
    # 8 files: 2 passed, 2 failed, 4 errors; expects: good 2, fail 2 (1 passed), good2 1
    assert summary_of(out) == (8, 2, 2, 4, 5, 4, 1)


def test_bad_files_do_not_stop_the_others_in_json(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = make_mixed(tmp_path)
    code, out, err = run("run", *names, "--json")
    assert code == 2
    lines = out.splitlines()
    assert len(lines) == len(names)
    docs = [strict_json(line) for line in lines]
    for doc in docs:
        assert set(doc) >= {"file", "ok", "expects", "gradients", "error"}
        for e in doc["expects"]:
            assert set(e) >= {"text", "line", "ok", "lhs", "rhs", "difference", "tolerance"}
    assert [d["file"] for d in docs] == names
    assert [d["ok"] for d in docs] == [s == "PASS" for s in EXPECTED_STATUS]
    by_name = {d["file"]: d for d in docs}
    for name in ("broken.adiff", "missing.adiff", "folder.adiff", "latin1.adiff", "nf.adiff"):
        assert by_name[name]["error"], name
    for name in ("good.adiff", "fail.adiff", "good2.adiff"):
        assert by_name[name]["error"] is None, name
    assert "line 2" in by_name["broken.adiff"]["error"]
    assert by_name["good2.adiff"]["expects"][0]["lhs"] == 27.0
    assert summary_of(err) == (8, 2, 2, 4, 5, 4, 1)  # the summary is on stderr, not in the JSON


@pytest.mark.parametrize("names, code", [
    (["good.adiff"], 0),
    (["good.adiff", "good2.adiff"], 0),
    (["good.adiff", "fail.adiff"], 1),
    (["nf.adiff", "good.adiff"], 1),
    (["fail.adiff", "broken.adiff", "good.adiff"], 2),
    (["missing.adiff"], 2),
])
def test_exit_code_is_the_worst_file(run, tmp_path, monkeypatch, names, code):
    monkeypatch.chdir(tmp_path)
    make_mixed(tmp_path)
    assert run("run", *names)[0] == code
    assert run("run", *names, "--json")[0] == code


def test_an_internal_error_in_one_file_does_not_stop_the_others(run, tmp_path, monkeypatch):
    import autodiff_cli.batch as batch

    real = batch.grad

    def faulty(program, *args, **kwargs):
        if "BOOM" in program.source:
            raise RuntimeError("injected fault")
        return real(program, *args, **kwargs)

    monkeypatch.setattr(batch, "grad", faulty)
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {"good.adiff": GOOD, "boom.adiff": "x = 1\nf = x # BOOM\n", "fail.adiff": FAILING})
    code, out, err = run("run", "good.adiff", "boom.adiff", "fail.adiff")
    assert [f for _, f in heads(out)] == ["good.adiff", "boom.adiff", "fail.adiff"], out + err
    assert code != 0


# =====================================================================================================
# --jobs, standard input
# =====================================================================================================

def varied_files(folder, n: int = 24) -> list[str]:
    names = []
    for i in range(n):
        name = f"p{i:02d}.adiff"
        if i == 7:
            text = BROKEN
        elif i % 5 == 3:
            text = f"x = {i}\nf = x^2 + 1\nexpect f == {i * i + 2}\n"  # fails
        else:
            expected = 3 * math.cos(i / 10)
            text = f"x = {i / 10}\nw = [1, 2]\nf = sum(w * sin(x))\nexpect grad(f, x) == {expected!r}\n"
        (folder / name).write_text(text, encoding="utf-8")
        names.append(name)
    names.insert(12, "missing.adiff")
    return names


def without_time(text: str) -> str:
    return re.sub(r"\d+\.\d\d s$", "N s", text.rstrip("\n"))


def test_jobs_2_gives_the_same_output_in_the_same_order(shell, tmp_path):
    names = [str(tmp_path / n) for n in varied_files(tmp_path)]
    one = shell("run", "--jobs", "1", *names, "--json")
    two = shell("run", "--jobs", "2", *names, "--json")
    assert one[0] == two[0] == 2
    assert one[1] == two[1]
    assert [strict_json(line)["file"] for line in two[1].splitlines()] == names
    assert without_time(one[2]) == without_time(two[2])
    one_text = shell("run", *names, "-j", "1")
    two_text = shell("run", *names, "-j", "2")
    assert one_text[0] == two_text[0] == 2
    assert without_time(one_text[1]) == without_time(two_text[1])
    assert [f for _, f in heads(two_text[1])] == names


def test_dash_reads_standard_input(run):
    code, out, _ = run("run", "-", input=GOOD)
    assert code == 0
    assert "PASS  -  (2/2 expects)" in out
    code, out, _ = run("run", "-", "--json", input=FAILING)
    assert code == 1
    doc = strict_json(out)
    assert doc["file"] == "-" and doc["expects"][0]["lhs"] == 4.0


def test_dash_among_files_keeps_its_place(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {"good.adiff": GOOD, "fail.adiff": FAILING})
    code, out, _ = run("run", "good.adiff", "-", "fail.adiff", input=BROKEN)
    assert code == 2
    assert heads(out) == [("PASS", "good.adiff"), ("ERROR", "-"), ("FAIL", "fail.adiff")]


def test_dash_with_jobs_2(shell, tmp_path):
    write(tmp_path, {"good.adiff": GOOD, "fail.adiff": FAILING})
    files = [str(tmp_path / "good.adiff"), "-", str(tmp_path / "fail.adiff")]
    code, out, _ = shell("run", "--jobs", "2", *files, "--json", input=GOOD)
    assert code == 1
    docs = [strict_json(line) for line in out.splitlines()]
    assert [d["file"] for d in docs] == files
    assert [d["ok"] for d in docs] == [True, True, False]


# =====================================================================================================
# Tolerances: within TOL (absolute), --rtol/--atol (the default check)
# =====================================================================================================

# f = x^2 = 4 at x = 2. Default: |lhs - rhs| <= atol + rtol·|rhs| with rtol 1e-6, atol 1e-9;
# `within TOL`: |lhs - rhs| <= TOL, whatever --rtol/--atol say. The cases are chosen so that a
# relative tolerance taken from either side gives the same verdict.
TOLERANCE_CASES = [
    ("expect f == 4.1", [], False, "rtol 1e-06, atol 1e-09"),
    ("expect f == 4.1", ["--atol", "0.2"], True, "rtol 1e-06, atol 0.2"),
    ("expect f == 4.1", ["--atol", "0.05"], False, "rtol 1e-06, atol 0.05"),
    ("expect f == 4.1", ["--rtol", "0.05"], True, "rtol 0.05, atol 1e-09"),
    ("expect f == 4.1", ["--rtol", "0.02"], False, "rtol 0.02, atol 1e-09"),
    ("expect f == 4.000001", [], True, "rtol 1e-06, atol 1e-09"),
    ("expect f == 4.00001", [], False, "rtol 1e-06, atol 1e-09"),
    ("expect f == 4.00001", ["--rtol", "1e-5"], True, "rtol 1e-05, atol 1e-09"),
    ("expect f - 4 == 5e-10", [], True, "rtol 1e-06, atol 1e-09"),
    ("expect f - 4 == 5e-9", [], False, "rtol 1e-06, atol 1e-09"),
    ("expect f - 4 == 5e-9", ["--atol", "1e-8"], True, "rtol 1e-06, atol 1e-08"),
    ("expect f == 4.1 within 0.2", [], True, "within 0.2"),
    ("expect f == 4.1 within 0.05", [], False, "within 0.05"),
    ("expect f == 4.1 within 0.05", ["--rtol", "1", "--atol", "1"], False, "within 0.05"),
    ("expect f == 4.1 within 0.2", ["--rtol", "0", "--atol", "0"], True, "within 0.2"),
    ("expect f == 4 within 0", [], True, "within 0"),
    ("expect [f, f + 1] == [4.05, 5.15] within 0.1", [], False, "within 0.1"),
    ("expect [f, f + 1] == [4.05, 5.05] within 0.1", [], True, "within 0.1"),
]


@pytest.mark.parametrize("line, options, ok, tolerance", TOLERANCE_CASES)
def test_tolerances(run, line, options, ok, tolerance):
    code, out, _ = run("run", "-", "--json", *options, input=f"x = 2\nf = x^2\n{line}\n")
    doc = strict_json(out)
    (e,) = doc["expects"]
    assert e["ok"] is ok
    assert e["tolerance"] == tolerance
    assert code == (0 if ok else 1)


def test_within_takes_a_number(run):
    code, out, _ = run("run", "-", input="x = 2\nf = x^2\nexpect f == 4 within x\n")
    assert code == 2
    assert "line 3" in out and "within" in out


def test_negative_within_is_an_error(run):
    code, out, _ = run("run", "-", input="x = 2\nf = x^2\nexpect f == 4 within -1\n")
    assert code == 2
    assert "line 3" in out


# =====================================================================================================
# expect lines that are not == comparisons
# =====================================================================================================

@pytest.mark.parametrize("line", ["expect f < 5", "expect f >= 4", "expect f != 3", "expect f",
                                  "expect grad(f, x)"])
def test_expect_without_equality_is_a_parse_error_with_its_line(run, line):
    program = f"# a comment\nx = 2\n\nf = x^2   # the target\n{line}\nexpect f == 4\n"
    code, out, _ = run("run", "-", input=program)
    assert code == 2
    assert heads(out) == [("ERROR", "-")]
    assert "line 5" in out and "==" in out
    code, out, _ = run("run", "-", "--json", input=program)
    doc = strict_json(out)
    assert code == 2 and "line 5" in doc["error"] and doc["expects"] == []


def test_expect_of_a_parenthesized_expression(run):
    code, out, _ = run("run", "-", input="x = 1\nf = x\nexpect (x + 1) == 2\n")
    assert code == 0, out


def test_expect_with_shapes_that_differ_names_its_line(run):
    code, out, _ = run("run", "-", input="x = [1, 2]\nf = sum(x)\nexpect x == [1, 2, 3]\n")
    assert code in (1, 2)
    assert "line 3" in out and "eq:" not in out
