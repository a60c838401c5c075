"""Arrays from files: --at X=@FILE.csv, @FILE.npy, @FILE.csv:col1,col2 (datafiles.py), in every
command that takes --at, and the messages for files that cannot be read."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autodiff_cli.datafiles import read_array
from autodiff_cli.errors import AdiffError

TABLE = np.array([[0.9, 0.1, 1.0], [0.1, 0.9, 0.0], [0.25, -1.5e-3, 1.0]])


@pytest.fixture
def files(tmp_path):
    rows = "\n".join(",".join(repr(float(v)) for v in row) for row in TABLE)
    (tmp_path / "plain.csv").write_text(rows + "\n", encoding="utf-8")
    (tmp_path / "named.csv").write_text("x1,x2,y\n" + rows + "\n\n", encoding="utf-8")
    spreadsheet = "x1, x2 ,y\r\n" + rows.replace("\n", "\r\n")  # a BOM, CRLF, spaces in the header
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + spreadsheet.encode())
    np.save(tmp_path / "table.npy", TABLE)
    np.save(tmp_path / "ints.npy", np.arange(6).reshape(2, 3))
    return tmp_path


def test_csv_npy_and_columns(files):
    np.testing.assert_array_equal(read_array(str(files / "plain.csv")), TABLE)
    np.testing.assert_array_equal(read_array(str(files / "named.csv")), TABLE)
    np.testing.assert_array_equal(read_array(str(files / "bom.csv")), TABLE)
    np.testing.assert_array_equal(read_array(f"{files / 'named.csv'}:y,x1"), TABLE[:, [2, 0]])
    np.testing.assert_array_equal(read_array(f"{files / 'bom.csv'}:x2"), TABLE[:, [1]])  # stays 2-D
    np.testing.assert_array_equal(read_array(str(files / "table.npy")), TABLE)
    ints = read_array(str(files / "ints.npy"))
    assert ints.dtype == np.float64 and ints.tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize(("content", "spec", "message"), [
    (b"a,b\n1,2\n3,zz\n", "", "line 3, column 2: 'zz' is not a number"),
    (b"1,2\n3\n", "", "line 2: 1 fields, but the first line has 2"),
    (b"a,b\n1,2,3\n", "", "line 2: 3 fields, but the header names 2"),
    (b"a,b\n1,\xff\n", "", "line 2, column 3: the file is not UTF-8 text (byte 0xff)"),
    (b"a,b\n", "", "has a header but no rows of numbers"),
    (b"\n\n", "", "has no rows of numbers"),
    (b"1,2\n", ":a", "has no header row"),
    (b"alpha,beta\n1,2\n", ":alpah", "has no column 'alpah' (did you mean alpha? its columns: alpha, beta)"),
])
def test_malformed_csv(tmp_path, content, spec, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(AdiffError) as err:
        read_array(f"{path}{spec}", "X")
    assert err.value.exit_code == 2
    assert message in err.value.message and str(path) in err.value.message


def test_malformed_npy_and_other_files(tmp_path):
    (tmp_path / "junk.npy").write_text("not numpy")
    np.save(tmp_path / "good.npy", TABLE)
    (tmp_path / "cut.npy").write_bytes((tmp_path / "good.npy").read_bytes()[:100])
    np.save(tmp_path / "text.npy", np.array(["a", "b"]))
    for name, message in (("junk.npy", "is not a .npy file"), ("cut.npy", "is not a readable .npy file"),
                          ("text.npy", "adiff reads integers or floats"), ("missing.csv", "cannot read"),
                          ("table.txt", "must end in .csv or .npy"), ("good.npy:a", "taken whole")):
        with pytest.raises(AdiffError) as err:
            read_array(str(tmp_path / name), "X")
        assert message in err.value.message and err.value.exit_code == 2


def test_every_command_with_at_reads_files(run, files):
    program = "f = sum(X @ w)"
    at = ["--at", f"X=@{files / 'named.csv'}:x1,x2", "--at", "w=[1, 2]"]
    want = float(np.sum(TABLE[:, :2] @ [1, 2]))
    code, out, err = run("grad", program, *at, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["targets"]["f"] == pytest.approx(want, rel=1e-15)
    np.testing.assert_allclose(doc["gradients"]["f"]["w"], TABLE[:, :2].sum(axis=0), rtol=1e-15)
    code, out, err = run("compare", program, *at, "--json")
    assert code == 0, err
    npy = f"X=@{files / 'table.npy'}"
    code, out, err = run("grad", program, "--at", npy, "--at", "w=[1, 2, 3]", "--json")
    assert code == 0 and json.loads(out)["targets"]["f"] == pytest.approx(float(np.sum(TABLE @ [1, 2, 3])))


def test_cli_bad_file_exit_code_2(run, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,x\n")
    code, out, err = run("grad", "f = sum(X)", "--at", f"X=@{path}")
    assert code == 2 and out == ""
    assert err.startswith("error") and "Traceback" not in err
    assert "line 2, column 2: 'x' is not a number" in err
