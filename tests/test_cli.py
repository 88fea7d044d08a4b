"""The command line: success writes the fit directory; bad input exits 2 with one line on stderr,
no traceback, and leaves the output directory absent or untouched."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from bayescale.cli import main


def run(argv, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["bayescale", *map(str, argv)])
    with pytest.raises(SystemExit) as exc:
        main()
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def assert_bad_input(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("bayescale: error: ")
    assert "Traceback" not in err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


def test_fit_writes_directory(sim_runs, tmp_path, capsys, monkeypatch):
    csv = tmp_path / "runs.csv"
    sim_runs.to_csv(csv, index=False)
    out = tmp_path / "fit"
    code, stdout, _ = run(
        ["fit", csv, "--out", out, "--draws", 500, "--tune", 500, "--seed", 4, "--no-progress"],
        capsys,
        monkeypatch,
    )
    assert code == 0
    assert {"posterior.nc", "summary.csv", "fit.json", "runs.csv"} <= {
        p.name for p in out.iterdir()
    }
    meta = json.loads((out / "fit.json").read_text())
    assert meta["settings"]["seed"] == 4
    assert meta["data"]["sha256"] and meta["data"]["source"] == str(csv)
    assert meta["command"][1] == "fit"
    assert {"pymc", "arviz", "nutpie", "bayescale"} <= set(meta["versions"])
    summary = pd.read_csv(out / "summary.csv", index_col=0)
    assert {"E", "A", "B", "alpha", "beta", "a"} <= set(summary.index)
    assert "alpha" in stdout and "wrote" in stdout


BAD_FILES = {
    "missing_column": ("N,loss\n1e8,3.0\n", ["missing column", "'D (or C)'"]),
    "non_numeric": ("N,D,loss\n1e8,2e9,3.0\n2e8,abc,2.9\n", ["column 'D'", "'abc'", "CSV line 3"]),
    "nan": ("N,D,loss\n1e8,2e9,3.0\n2e8,4e9,\n", ["column 'loss'", "NaN", "CSV line 3"]),
    "inf": ("N,D,loss\n1e8,2e9,3.0\n2e8,inf,2.9\n", ["column 'D'", "non-finite", "CSV line 3"]),
    "negative": ("N,D,loss\n-1e8,2e9,3.0\n", ["column 'N'", "must be positive", "CSV line 2"]),
    "zero_loss": ("N,D,loss\n1e8,2e9,0\n", ["column 'loss'", "must be positive"]),
    "too_few": ("N,D,loss\n1e8,2e9,3.0\n2e8,4e9,2.9\n", ["cannot identify 6 free parameters"]),
    "empty": ("", ["empty"]),
    "not_csv": ('N,D,loss\n1,2,3\n4,"5,6\n', ["not valid CSV"]),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_runs_file_exit_2_one_line(case, tmp_path, capsys, monkeypatch):
    text, fragments = BAD_FILES[case]
    csv = tmp_path / "runs.csv"
    csv.write_text(text)
    out = tmp_path / "out"
    code, _, err = run(["fit", csv, "--out", out], capsys, monkeypatch)
    assert_bad_input(code, err, *fragments)
    assert not out.exists()


def test_binary_file(tmp_path, capsys, monkeypatch):
    f = tmp_path / "runs.nc"
    f.write_bytes(b"\x89HDF\r\n\x1a\n\x00\x00binary")
    code, _, err = run(["fit", f, "--out", tmp_path / "o"], capsys, monkeypatch)
    assert_bad_input(code, err, "not a CSV")


def test_bad_input_leaves_existing_directory_as_it_was(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous result")
    csv = tmp_path / "runs.csv"
    csv.write_text("N,D,loss\n1e8,2e9,-3\n")
    code, _, err = run(["fit", csv, "--out", out], capsys, monkeypatch)
    assert_bad_input(code, err, "must be positive")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["fit", "data/chinchilla.csv", "--out", "x", "--draws", "abc"], "--draws"),
        (["fit", "data/chinchilla.csv", "--out", "x", "--sampler", "stan"], "--sampler"),
        (
            ["fit", "data/chinchilla.csv", "--out", "x", "--exclude-top-loss", "-1"],
            "--exclude-top-loss",
        ),
        (["fit", "nope.csv", "--out", "x"], "not found"),
        (["fit"], "Missing argument"),
    ],
)
def test_usage_errors(argv, fragment, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(argv, capsys, monkeypatch)
    assert_bad_input(code, err, fragment)


def test_console_script_bad_input(tmp_path):
    """The installed entry point itself (a real process): exit 2, one line, no traceback."""
    csv = tmp_path / "runs.csv"
    csv.write_text("N,D,loss\n1e8,2e9,3.0\n2e8,abc,2.9\n")
    exe = [sys.executable, "-c", "from bayescale.cli import main; main()"]
    proc = subprocess.run(
        [*exe, "fit", str(csv), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "bayescale: error: column 'D' has non-numeric value 'abc' at CSV line 3"
    ]
    assert not (tmp_path / "o").exists()
