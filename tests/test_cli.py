"""The command line: success writes the fit directory; bad input exits 2 with one line on stderr,
no traceback, and leaves the output directory absent or untouched."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from conftest import run_cli

run = run_cli


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
    "too_few": ("N,D,loss\n1e8,2e9,3.0\n2e8,4e9,2.9\n", ["cannot identify 7 free parameters"]),
    "empty": ("", ["empty"]),
    "not_csv": ('N,D,loss\n1,2,3\n4,"5,6\n', ["not valid CSV"]),
    "duplicate_column": ("N,N,D,loss\n1e8,1e8,2e9,3.0\n", ["'N' more than once"]),
    "duplicate_columns": ("N,D,loss,D,loss\n1,2,3,4,5\n", ["'D', 'loss' more than once"]),
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


@pytest.fixture(scope="module")
def fit_dir(chinchilla_fit, tmp_path_factory):
    return chinchilla_fit.save(tmp_path_factory.mktemp("cli") / "fit")


QUANTITY = {"median", "lower", "upper"}


def test_allocate_json_keys(fit_dir, capsys, monkeypatch):
    code, out, _ = run(
        ["allocate", fit_dir, "--compute", 1e21, "--compute", 5.88e23, "--json"],
        capsys,
        monkeypatch,
    )
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"interval", "rows", "a", "b"} and doc["interval"] == 0.9
    assert set(doc["a"]) == QUANTITY == set(doc["b"])
    assert [r["compute"] for r in doc["rows"]] == [1e21, 5.88e23]
    for row in doc["rows"]:
        assert set(row) == {"compute", "N_opt", "D_opt", "loss_opt", "tokens_per_param"}
        assert all(set(row[q]) == QUANTITY for q in row if q != "compute")
    tpp = doc["rows"][1]["tokens_per_param"]
    assert tpp["lower"] <= 18.4 <= tpp["upper"]


def test_allocate_says_what_its_intervals_carry_beyond_the_fit(fit_dir, capsys, monkeypatch):
    """Beyond the largest fitted run the text output says which allocation drift the intervals
    carry; within the fitted compute there is none, and no note."""
    code, out, _ = run(["allocate", fit_dir, "--compute", 5.88e23], capsys, monkeypatch)
    assert code == 0 and "carry the allocation drift (tau" in out
    code, out, _ = run(["allocate", fit_dir, "--compute", 1e15], capsys, monkeypatch)
    assert code == 0 and "note:" not in out


def test_predict_json_keys(fit_dir, capsys, monkeypatch):
    code, out, _ = run(
        [
            "predict",
            fit_dir,
            "--n",
            70e9,
            "--d",
            1.4e12,
            "--target",
            1.97,
            "--interval",
            0.8,
            "--json",
        ],
        capsys,
        monkeypatch,
    )
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"interval", "rows"} and doc["interval"] == 0.8
    (row,) = doc["rows"]
    assert set(row) == {"N", "D", "C", "loss", "loss_new_run", "prob_below_target", "extrapolation"}
    assert set(row["loss"]) == QUANTITY == set(row["loss_new_run"])
    assert set(row["extrapolation"]) == {"compute_factor", "N_factor", "D_factor"}
    assert 0 < row["prob_below_target"] < 1 and row["C"] == pytest.approx(5.88e23)
    code, out, _ = run(["predict", fit_dir, "--n", 1e9, "--d", 2e10, "--json"], capsys, monkeypatch)
    assert json.loads(out)["rows"][0]["prob_below_target"] is None


def test_target_json_keys(fit_dir, capsys, monkeypatch):
    code, out, _ = run(["target", fit_dir, "--loss", 1.79, "--json"], capsys, monkeypatch)
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"interval", "target", "prob_unreachable", "compute", "N_opt", "D_opt"}
    assert 0 < doc["prob_unreachable"] < 0.5
    assert doc["compute"]["upper"] is None  # not reached with 95% probability -> null, not NaN


def test_predict_warns_when_extrapolating_without_drift(
    chinchilla_fit, tmp_path, capsys, monkeypatch
):
    import copy

    none = copy.copy(chinchilla_fit)
    none.settings = {
        **chinchilla_fit.settings,
        "drift": {"tau": None, "note": "fewer than 30 runs"},
    }
    fit_dir = none.save(tmp_path / "nodrift")
    plan = ["--n", 7e10, "--d", 1.4e12, "--json"]
    code, out, err = run(["predict", fit_dir, *plan], capsys, monkeypatch)
    assert code == 0 and json.loads(out)["rows"]
    assert "extrapolating beyond the largest fitted run with no extrapolation drift" in err
    code, _, err = run(["predict", fit_dir, "--n", 1e8, "--d", 2e9], capsys, monkeypatch)
    assert code == 0 and "extrapolating" not in err  # inside the runs: nothing to say


def test_target_answers_every_loss_given(fit_dir, capsys, monkeypatch):
    argv = ["target", fit_dir, "--loss", 2.6, "--loss", 1.79, "--json"]
    code, out, _ = run(argv, capsys, monkeypatch)
    docs = json.loads(out)
    assert code == 0 and [d["target"] for d in docs] == [2.6, 1.79]
    _, one, _ = run(["target", fit_dir, "--loss", 1.79, "--json"], capsys, monkeypatch)
    assert docs[1] == json.loads(one)  # each entry is exactly the single-target object
    assert docs[0]["compute"]["median"] < docs[1]["compute"]["median"]
    code, out, _ = run(argv[:-1], capsys, monkeypatch)
    assert code == 0 and "E >= 2.6)" in out and "E >= 1.79)" in out


def test_human_tables(fit_dir, capsys, monkeypatch):
    code, out, _ = run(["allocate", fit_dir, "--compute", 5.88e23], capsys, monkeypatch)
    assert code == 0 and "tokens/param" in out and "B [" in out
    code, out, _ = run(["target", fit_dir, "--loss", 2.0], capsys, monkeypatch)
    assert code == 0 and "P(target unreachable" in out


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["predict", "{dir}", "--n", "-5", "--d", "1e10"], "N must be positive"),
        (["predict", "{dir}", "--n", "1e9", "--d", "inf"], "D must be positive and finite"),
        (["predict", "{dir}", "--n", "1e9", "--n", "2e9", "--d", "1e10"], "as many --n as --d"),
        (["predict", "{dir}", "--n", "1e9", "--d", "1e10", "--target", "0"], "target must be"),
        (["allocate", "{dir}", "--compute", "0"], "compute must be positive"),
        (["allocate", "{dir}", "--compute", "nan"], "compute must be positive and finite"),
        (["allocate", "{dir}", "--compute", "1e21", "--interval", "1.5"], "interval must be"),
        (["target", "{dir}", "--loss", "-2"], "target must be positive"),
        (["target", "{dir}", "--loss", "2", "--interval", "0"], "interval must be"),
        (["allocate", "{missing}", "--compute", "1e21"], "no fit directory"),
    ],
)
def test_prediction_bad_arguments(args, fragment, fit_dir, tmp_path, capsys, monkeypatch):
    argv = [a.format(dir=fit_dir, missing=tmp_path / "nope") for a in args]
    code, out, err = run(argv, capsys, monkeypatch)
    assert_bad_input(code, err, fragment)
    assert out == ""


def test_outputs_get_the_umask_modes(small_fit, tmp_path):
    """Fit directories, their files and reports are created as mkdir / open would create
    them under the user's umask (0755 / 0644 under 022), not tempfile's private modes."""
    import os
    import stat

    from bayescale.report import write_report

    def mode(path):
        return stat.S_IMODE(path.stat().st_mode)

    old = os.umask(0o022)
    try:
        out = small_fit.save(tmp_path / "fit")
        small_fit.save(out)  # updating an existing directory keeps the modes too
        write_report(small_fit, out / "report.html")
    finally:
        os.umask(old)
    assert mode(out) == 0o755
    files = sorted(out.iterdir())
    assert {p.name for p in files} >= {"posterior.nc", "fit.json", "report.html"}
    assert {p.name: mode(p) for p in files} == {p.name: 0o644 for p in files}
    old = os.umask(0o077)
    try:
        private = small_fit.save(tmp_path / "private")
    finally:
        os.umask(old)
    assert mode(private) == 0o700 and mode(private / "fit.json") == 0o600
