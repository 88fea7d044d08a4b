"""Every `bayescale fit` option reaches the law and the sampler: the options are checked on what
`Law.fit` / `point_fit` receive (no sampling), so a flag that is parsed but dropped fails."""

from __future__ import annotations

import pytest

import bayescale as bs
from conftest import run_cli


@pytest.fixture()
def captured(small_fit, monkeypatch):
    """Replace the sampler and the point fit with recorders that return a ready fit."""
    calls: dict = {}

    def fake_fit(self, runs, **kwargs):
        calls.update(law=self, runs=runs, kwargs=kwargs)
        return small_fit

    def fake_point_fit(law, runs, **kwargs):
        calls.update(law=law, runs=runs, kwargs=kwargs)
        return small_fit

    monkeypatch.setattr(bs.Law, "fit", fake_fit)
    monkeypatch.setattr("bayescale.pointfit.point_fit", fake_point_fit)
    return calls


@pytest.fixture()
def csv(sim_runs, tmp_path):
    path = tmp_path / "runs.csv"
    sim_runs.assign(config=["a", "b"] * (len(sim_runs) // 2)).to_csv(path, index=False)
    return path


CASES = [
    (["--noise", "constant"], lambda c: c["law"].options()["noise"] == "constant"),
    (["--likelihood", "normal"], lambda c: c["law"].likelihood.kind == "normal"),
    (["--nu", "7"], lambda c: c["law"].likelihood.nu == 7.0),
    (["--nu", "fit"], lambda c: c["law"].likelihood.free_nu),
    (["--law", "chinchilla"], lambda c: c["law"].likelihood.nu == 4.0),  # the law's default
    (
        ["--priors", "hoffmann2022"],
        lambda c: c["law"].priors["alpha"] != bs.ChinchillaLaw().priors["alpha"],
    ),
    (
        ["--group-column", "config", "--pooling", "partial"],
        lambda c: (
            c["law"].pooling == "partial"
            and set(c["runs"]["group"]) == {"a", "b"}
            and c["law"].auto_centred
        ),  # the form chosen per fit by default
    ),
    (
        ["--group-column", "config", "--pooling", "partial", "--centred", "none"],
        lambda c: c["law"].centred_exponents == frozenset() and not c["law"].auto_centred,
    ),
    (
        ["--group-column", "config", "--pooling", "partial", "--centred", "all"],
        lambda c: c["law"].centred_exponents == {"alpha", "beta"},
    ),
    (
        ["--law", "broken-power", "--variable", "D"],
        lambda c: c["law"].options()["variable"] == "D",
    ),
    (["--target-accept", "0.97"], lambda c: c["kwargs"]["target_accept"] == 0.97),
    (["--no-drift"], lambda c: c["kwargs"]["drift"] is False),
    (["--draws", "123"], lambda c: c["kwargs"]["draws"] == 123),
    ([], lambda c: c["kwargs"]["draws"] is None),  # adaptive by default
    (["--method", "map"], lambda c: c["kwargs"]["method"] == "map"),
    (["--loss-unit", "bits"], lambda c: c["runs"].attrs["converted_from"] == "bits"),
    (
        ["--flops-per-token-param", "8"],
        lambda c: c["runs"].attrs["flops_per_param_token"] == 8.0,
    ),
    (
        ["--method", "bootstrap", "--n-boot", "17"],
        lambda c: c["kwargs"]["method"] == "bootstrap" and c["kwargs"]["n_boot"] == 17,
    ),
]


@pytest.mark.parametrize("flags, received", CASES, ids=[" ".join(f) or "none" for f, _ in CASES])
def test_fit_option_reaches_the_fit(flags, received, captured, csv, tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(["fit", csv, "--out", tmp_path / "out", *flags], capsys, monkeypatch)
    assert code == 0, err
    assert received(captured), (flags, captured.get("kwargs"))


@pytest.mark.parametrize("bad", ["0", "-2", "many", "inf"])
def test_bad_degrees_of_freedom_exit_2(bad, captured, csv, tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(
        ["fit", csv, "--out", tmp_path / "out", "--nu", bad], capsys, monkeypatch
    )
    assert code == 2 and "--nu must be a positive number or 'fit'" in err
    assert not (tmp_path / "out").exists()


def test_jax_sampler_without_jax_names_the_install(law, sim_runs, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "jax" else real(name, *a)
    )
    with pytest.raises(bs.ConfigError, match=r"needs jax.*pip install 'bayescale\[jax\]'"):
        law.fit(sim_runs, sampler="numpyro")


# ------------------------------------------------------------------ backtest, report, batch
@pytest.fixture()
def backtest_calls(monkeypatch):
    """Replace the backtest with a recorder (no sampling) returning a minimal result."""
    calls: list = []

    def fake_backtest(law, runs, **kwargs):
        calls.append({"law": law, "runs": runs, **kwargs})
        cutoff = kwargs.get("holdout_compute_above") or 1e20
        return {"cutoff": cutoff, "diagnostics_ok": True}

    monkeypatch.setattr("bayescale.backtest.backtest", fake_backtest)
    return calls


BACKTEST_CASES = [
    (["--holdout-top-fraction", "0.3"], lambda c: c[0]["holdout_top_fraction"] == 0.3),
    (
        ["--holdout-compute-above", "1e20", "--holdout-compute-above", "1e21"],
        lambda c: [x["holdout_compute_above"] for x in c] == [1e20, 1e21],
    ),
    (["--holdout-where", "size=3B"], lambda c: c[0]["holdout"] == "size=3B"),
    (["--law", "kaplan-c"], lambda c: c[0]["law"].name == "kaplan-c"),
    (["--noise", "asym"], lambda c: c[0]["law"].options()["noise"] == "asym"),
    (["--noise", "constant"], lambda c: c[0]["law"].options()["noise"] == "constant"),
    (["--interval", "0.8"], lambda c: c[0]["interval"] == 0.8),
    (["--seed", "9"], lambda c: c[0]["seed"] == 9),
    (
        ["--draws", "50", "--tune", "60", "--chains", "3"],
        lambda c: (c[0]["draws"], c[0]["tune"], c[0]["chains"]) == (50, 60, 3),
    ),
    ([], lambda c: c[0]["draws"] is None and c[0]["drift"] is True),  # adaptive, drift on
    (["--no-drift"], lambda c: c[0]["drift"] is False),
    (
        ["--method", "bootstrap", "--n-boot", "11"],
        lambda c: c[0]["method"] == "bootstrap" and c[0]["n_boot"] == 11 and "drift" not in c[0],
    ),
]


@pytest.mark.parametrize(
    "flags, received", BACKTEST_CASES, ids=[" ".join(f) or "none" for f, _ in BACKTEST_CASES]
)
def test_backtest_option_reaches_the_backtest(
    flags, received, backtest_calls, csv, capsys, monkeypatch
):
    if not any(f.startswith("--holdout") for f in flags):
        flags = [*flags, "--holdout-top-fraction", "0.2"]
    code, _, err = run_cli(["backtest", csv, *flags, "--json"], capsys, monkeypatch)
    assert code == 0, err
    assert received(backtest_calls), (flags, backtest_calls)


def test_backtest_needs_exactly_one_kind_of_cut_off(backtest_calls, csv, capsys, monkeypatch):
    code, _, err = run_cli(["backtest", csv], capsys, monkeypatch)
    assert code == 2 and "--holdout-compute-above" in err and not backtest_calls
    flags = ["--holdout-compute-above", "1e20", "--holdout-top-fraction", "0.2"]
    code, _, _ = run_cli(["backtest", csv, *flags], capsys, monkeypatch)
    assert code == 2 and not backtest_calls
    flags = ["--holdout-where", "size=3B", "--holdout-top-fraction", "0.2"]
    code, _, err = run_cli(["backtest", csv, *flags], capsys, monkeypatch)
    assert code == 2 and "--holdout-where" in err and not backtest_calls


def test_report_options_reach_the_report(small_fit, tmp_path, capsys, monkeypatch):
    calls: list = []

    def fake_write_report(fit, out, *, fmt, compute):
        calls.append({"out": out, "fmt": fmt, "compute": compute})
        return out

    monkeypatch.setattr("bayescale.report.write_report", fake_write_report)
    fit_dir = small_fit.save(tmp_path / "fit")
    argv = ["report", fit_dir, "--format", "md", "--out", tmp_path / "r", "--compute", "1e21"]
    code, stdout, err = run_cli([*argv, "--compute", "1e22"], capsys, monkeypatch)
    assert code == 0, err
    assert calls == [{"out": tmp_path / "r", "fmt": "md", "compute": [1e21, 1e22]}]
    code, _, _ = run_cli(["report", fit_dir], capsys, monkeypatch)  # default: html in the dir
    assert calls[-1]["fmt"] == "html" and calls[-1]["out"] == fit_dir / "report.html"


@pytest.mark.parametrize(
    "flags, expected",
    [
        ([], {"workers": None, "scheduler": None, "force": False}),
        (["--workers", "3", "--force"], {"workers": 3, "scheduler": None, "force": True}),
        (["--scheduler", "tcp://h:8786"], {"workers": None, "scheduler": "tcp://h:8786"}),
    ],
)
def test_batch_options_reach_run_batch(flags, expected, tmp_path, capsys, monkeypatch):
    from bayescale.batch import BatchResult

    calls: list = []

    def fake_run_batch(manifest, out, **kwargs):
        calls.append(kwargs)
        return BatchResult(risks=None, jobs=[], out=out)

    monkeypatch.setattr("bayescale.batch.run_batch", fake_run_batch)
    argv = ["batch", tmp_path / "m.toml", "--out", tmp_path / "o", *flags]
    code, _, err = run_cli(argv, capsys, monkeypatch)
    assert code == 0, err
    assert {k: calls[0][k] for k in expected} == expected
    argv = ["batch", tmp_path / "m.toml", "--out", tmp_path / "o", "--workers", "0"]
    code, _, err = run_cli(argv, capsys, monkeypatch)
    assert code == 2 and "--workers" in err and len(calls) == 1


# ------------------------------------------------------------------ columns of other names
@pytest.fixture()
def renamed_csv(sim_runs, tmp_path):
    path = tmp_path / "renamed.csv"
    names = {"N": "params", "D": "tokens", "loss": "val_loss"}
    sim_runs[["N", "D", "loss"]].rename(columns=names).to_csv(path, index=False)
    return path


MAPPING = ["--column", "N=params", "--column", "D=tokens", "--column", "loss=val_loss"]


def _same_runs(runs, sim_runs) -> bool:
    import numpy as np

    return all(np.allclose(runs[c], sim_runs[c]) for c in ("N", "D", "C", "loss"))


def test_fit_and_backtest_read_mapped_columns(
    renamed_csv, sim_runs, captured, backtest_calls, tmp_path, capsys, monkeypatch
):
    code, _, err = run_cli(
        ["fit", renamed_csv, "--out", tmp_path / "out", *MAPPING], capsys, monkeypatch
    )
    assert code == 0, err
    assert _same_runs(captured["runs"], sim_runs)
    flags = ["--holdout-top-fraction", "0.2", "--json"]
    code, _, err = run_cli(["backtest", renamed_csv, *MAPPING, *flags], capsys, monkeypatch)
    assert code == 0, err
    assert _same_runs(backtest_calls[0]["runs"], sim_runs)


def test_unmapped_columns_exit_2_with_the_flags_to_give(
    renamed_csv, captured, tmp_path, capsys, monkeypatch
):
    code, out, err = run_cli(["fit", renamed_csv, "--out", tmp_path / "o"], capsys, monkeypatch)
    assert code == 2 and not captured and not (tmp_path / "o").exists()
    assert len(err.strip().splitlines()) == 1
    for flag in MAPPING[1::2]:
        assert f"--column {flag}" in err
    code, _, err = run_cli(
        ["fit", renamed_csv, "--out", tmp_path / "o", "--column", "N"], capsys, monkeypatch
    )
    assert code == 2 and "NAME=SOURCE" in err and not captured


def test_fit_strict_exits_3_on_an_unconverged_fit(small_fit, csv, tmp_path, capsys, monkeypatch):
    import copy

    bad = copy.copy(small_fit)
    problem = "R-hat 1.050 > 1.01 for 'E': the chains disagree"
    bad.diagnostics = {**small_fit.diagnostics, "ok": False, "problems": [problem]}
    monkeypatch.setattr(bs.Law, "fit", lambda self, runs, **kw: bad)
    code, _, err = run_cli(["fit", csv, "--out", tmp_path / "a"], capsys, monkeypatch)
    assert code == 0 and "did not converge (R-hat 1.050" in err  # said, but not an error
    code, _, err = run_cli(["fit", csv, "--out", tmp_path / "b", "--strict"], capsys, monkeypatch)
    assert code == 3 and "did not converge" in err
    assert (tmp_path / "b" / "fit.json").exists()  # written all the same, for inspection
    monkeypatch.setattr(bs.Law, "fit", lambda self, runs, **kw: small_fit)
    code, _, _ = run_cli(["fit", csv, "--out", tmp_path / "c", "--strict"], capsys, monkeypatch)
    assert code == 0


def test_a_pooled_fit_says_which_form_it_sampled(
    captured, small_fit, csv, tmp_path, capsys, monkeypatch
):
    """A fit whose record holds the ``centred="auto"`` choice prints it in one line."""
    record = {
        "lambda": {"alpha": 0.9, "beta": 0.2},
        "probed": True,
        "centred": [],
        "pilot_cost": {"default": [0, 80.0], "all": [12, 40.0]},
    }
    monkeypatch.setitem(small_fit.settings, "sampling", {"centring": record})
    code, out, err = run_cli(["fit", csv, "--out", tmp_path / "out"], capsys, monkeypatch)
    assert code == 0, err
    line = next(s for s in out.splitlines() if s.startswith("pooled exponents sampled centred"))
    assert "none" in line and "sampled worse, 12 divergences" in line and "alpha 0.90" in line
