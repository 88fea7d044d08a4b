"""Backtests: the split, the scores, determinism, calibration on data from the law itself."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import bayescale as bs
from bayescale.backtest import backtest, backtest_sweep, score_predictive, split_by_compute
from bayescale.cli import main
from bayescale.simulate import isoflop_design, simulate_runs
from bayescale.splits import split_by_mask
from conftest import HOFFMANN, NOISE, check, seed


def test_split(sim_runs):
    train, test, cutoff = split_by_compute(sim_runs, holdout_top_fraction=0.25)
    assert len(test) == 20 and (test["C"] > cutoff).all() and (train["C"] <= cutoff).all()
    with pytest.raises(bs.ConfigError, match="exactly one"):
        split_by_compute(sim_runs)
    with pytest.raises(bs.DataError, match="no test runs"):
        split_by_compute(sim_runs, holdout_compute_above=1e30)


def test_split_by_a_selection_of_runs(law, sim_runs, tmp_path, capsys, monkeypatch):
    from conftest import run_cli

    runs = sim_runs.assign(size=np.where(sim_runs["N"] > 1e9, "big", "small"))
    train, test = split_by_mask(runs, "size=big")
    assert (test["N"] > 1e9).all() and (train["N"] <= 1e9).all()
    assert len(train) + len(test) == len(runs)
    same, _ = split_by_mask(runs, (runs["N"] > 1e9).to_numpy())
    assert same.equals(train)
    with pytest.raises(bs.DataError, match="selects 80 of 80 runs"):
        split_by_mask(runs, "size=big,small")
    with pytest.raises(bs.ConfigError, match="COLUMN=VALUE"):
        split_by_mask(runs, "size == 'big'")
    with pytest.raises(bs.ConfigError, match="'mixture' is not in the runs"):
        split_by_mask(runs, "mixture=a")
    with pytest.raises(bs.ConfigError, match="holds numbers; got big"):
        split_by_mask(runs, "N=big")
    first = float(runs["N"].iloc[0])
    assert len(split_by_mask(runs, f"N={first!r}")[1]) == (runs["N"] == first).sum()
    with pytest.raises(bs.ConfigError, match="a boolean per run"):
        split_by_mask(runs, [True, False])
    with pytest.raises(bs.DataError, match="selects 0 of 80 runs"):
        split_by_mask(runs, "N=1e30")
    with pytest.raises(bs.ConfigError, match="COLUMN=VALUE"):
        split_by_mask(runs, "size")
    with pytest.raises(bs.ConfigError, match="not both"):
        backtest(law, runs, holdout="size=big", holdout_top_fraction=0.2)
    path = tmp_path / "runs.csv"
    runs.to_csv(path, index=False)
    code, _, err = run_cli(["backtest", path, "--holdout-where", "size > 3"], capsys, monkeypatch)
    assert code == 2 and "COLUMN=VALUE" in err and "Traceback" not in err


def test_scores_of_a_known_predictive():
    rng = np.random.default_rng(0)
    draws = rng.standard_normal((20000, 1))
    s = score_predictive(draws, np.array([0.0]))
    assert s["width_0.9"][0] == pytest.approx(2 * 1.6449, rel=0.03)
    assert s["covered_0.5"][0]
    # CRPS of N(0, 1) at its mean is 2 phi(0) - 1/sqrt(pi) = 0.2337
    assert s["crps"][0] == pytest.approx(0.2337, abs=0.01)


@pytest.fixture(scope="module")
def calibrated_world(law):
    """200 IsoFLOP runs from the law itself (Student-t noise as the model assumes)."""
    design = isoflop_design(np.geomspace(1e18, 1e22, 10), runs_per_budget=20)
    return simulate_runs(law, {**HOFFMANN, **NOISE}, design, seed=seed(3))


def test_backtest_on_the_laws_own_data_is_calibrated_and_deterministic(law, calibrated_world):
    from scipy.stats import binom

    res = backtest(law, calibrated_world, holdout_compute_above=1.5e21, seed=seed(2))
    n = res["n_test"]
    assert n == 40 and res["diagnostics_ok"], res["problems"]
    # Two-sided: a calibrated model's coverage lies in the central 99% binomial band; far too
    # narrow intervals fail from below, far too wide ones from above (the 50% level can).
    for level in (0.5, 0.9):
        lo, hi = binom.ppf(0.005, n, level) / n, binom.ppf(0.995, n, level) / n
        check(f"coverage {level:.0%} (lower band)", res["coverage"][str(level)], ">=", lo)
        if hi < 1:
            check(f"coverage {level:.0%} (upper band)", res["coverage"][str(level)], "<=", hi)
    check("median abs. rel. error", res["median_abs_rel_error"], "<", 0.02)
    # data from the law itself have no extrapolation drift to learn
    check("drift tau (truth 0)", res["drift_tau"] or 0.0, "<", 0.01)
    again = backtest(law, calibrated_world, holdout_compute_above=1.5e21, seed=seed(2))
    assert json.dumps(again) == json.dumps(res)
    keys = {
        "interval",
        "cutoff",
        "n_train",
        "n_test",
        "coverage",
        "mean_width_log",
        "median_abs_rel_error",
        "crps",
        "runs",
    }
    assert keys <= set(res) and set(res["coverage"]) == {"0.5", "0.8", "0.9"}
    assert {"covered", "compute_factor", "lower", "upper"} <= set(res["runs"][0])


def test_sweep_and_cli(law, calibrated_world, tmp_path, capsys, monkeypatch):
    sweep = backtest_sweep(law, calibrated_world, [1.5e21, 4e20], seed=1, draws=300, tune=300)
    assert [r["n_test"] for r in sweep] == [40, 80]
    csv = tmp_path / "runs.csv"
    calibrated_world.to_csv(csv, index=False)
    argv = [
        "bayescale",
        "backtest",
        str(csv),
        "--holdout-compute-above",
        "1.5e21",
        "--holdout-compute-above",
        "4e20",
        "--draws",
        "300",
        "--tune",
        "300",
        "--seed",
        "1",
        "--json",
    ]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 0
    doc = json.loads(capsys.readouterr().out)
    assert isinstance(doc, list) and [r["n_test"] for r in doc] == [40, 80]
    assert doc[0]["coverage"] == sweep[0]["coverage"]
    monkeypatch.setattr(sys, "argv", ["bayescale", "backtest", str(csv)])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2


def test_huber_point_fit_reproduces_the_replication(chinchilla_runs):
    from bayescale.pointfit import huber_fit

    point = huber_fit(bs.ChinchillaLaw(), bs.drop_top_loss(chinchilla_runs, 5))
    # Besiroglu et al. (2024): E 1.817, A 482.0, B 2085, alpha 0.348, beta 0.366
    assert point["E"] == pytest.approx(1.817, abs=0.01)
    assert point["alpha"] == pytest.approx(0.348, abs=0.005)
    assert point["beta"] == pytest.approx(0.366, abs=0.005)
    assert point["A"] == pytest.approx(482.0, rel=0.05)
    assert point["B"] == pytest.approx(2085.0, rel=0.1)


def test_bootstrap_baseline_backtest(law, calibrated_world):
    res = backtest(
        law, calibrated_world, holdout_compute_above=1.5e21, seed=2, method="bootstrap", n_boot=40
    )
    assert res["method"] == "bootstrap" and res["n_test"] == 40
    assert res["median_abs_rel_error"] < 0.02
    again = backtest(
        law, calibrated_world, holdout_compute_above=1.5e21, seed=2, method="bootstrap", n_boot=40
    )
    assert again["coverage"] == res["coverage"]
    with pytest.raises(bs.ConfigError, match="method"):
        backtest(law, calibrated_world, holdout_compute_above=1.5e21, method="mcmc")


def test_offopt_noise_option_detects_its_slope_and_round_trips(tmp_path):
    law = bs.ChinchillaLaw(noise="offopt")
    assert law.sampled_params[-1] == "sigma_slope" and law.options() == {"noise": "offopt"}
    design = isoflop_design(np.geomspace(1e18, 1e21, 8), runs_per_budget=15)
    truth = {**HOFFMANN, "sigma": 0.004, "sigma_slope": 1.0}
    fit = law.fit(simulate_runs(law, truth, design, seed=7), seed=1)
    assert fit.diagnostics["ok"], fit.diagnostics["problems"]
    s = fit.summary(interval=0.95)
    # noise growing with |log(N / N*)| is detected: the slope's interval excludes small values
    assert s.loc["sigma_slope", "lower"] > 0.3
    loaded = bs.load_fit(fit.save(tmp_path / "f"))
    assert loaded.law == law
    # far-off-optimal plans get wider new-run intervals than the compute-optimal plan
    t = bs.predict_loss(fit, [1e8, 1e10], [1e10, 1e8])
    w = t["loss_new_run_upper"] - t["loss_new_run_lower"]
    near = bs.optimal_allocation(fit, 6e18)
    t2 = bs.predict_loss(fit, near["N_opt_median"], near["D_opt_median"])
    assert (w > (t2["loss_new_run_upper"] - t2["loss_new_run_lower"])[0]).all()
    with pytest.raises(bs.ConfigError, match="noise"):
        bs.ChinchillaLaw(noise="loud")


def test_unconverged_training_fit_is_flagged(law, calibrated_world, tmp_path, capsys, monkeypatch):
    from conftest import run_cli

    csv = tmp_path / "runs.csv"
    calibrated_world.to_csv(csv, index=False)
    argv = ["backtest", csv, "--holdout-compute-above", "1.5e21", "--draws", "20"]
    code, out, err = run_cli(
        [*argv, "--tune", "20", "--chains", "2", "--json"], capsys, monkeypatch
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["diagnostics_ok"] is False and doc["problems"]
    assert err.startswith("bayescale: warning: the training fit(s) of cut-off C > 1.5e+21")
    code, out, err = run_cli(argv, capsys, monkeypatch)
    assert "[fit NOT converged]" in out and "did not converge" in err
