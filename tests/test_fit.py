"""The fit result: InferenceData contract, summary, determinism, save/load, priors, warnings."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.fit import pointwise_loglik
from conftest import SMALL


def test_inference_data_groups_dims_and_coords(small_fit, sim_runs):
    idata = small_fit.idata
    for group in ("posterior", "sample_stats", "observed_data", "constant_data", "log_likelihood"):
        assert hasattr(idata, group), group
    post = idata.posterior
    assert set(["E", "A", "B", "alpha", "beta", "sigma", "a", "b"]) <= set(post.data_vars)
    assert post["alpha"].dims == ("chain", "draw")
    assert post.sizes["chain"] == 4 and post.sizes["draw"] == SMALL["draws"]
    ll = idata.log_likelihood["log_loss"]
    assert ll.dims == ("chain", "draw", "run")
    assert ll.sizes["run"] == len(sim_runs)
    np.testing.assert_allclose(idata.constant_data["N"], sim_runs["N"])
    np.testing.assert_allclose(idata.observed_data["log_loss"], np.log(sim_runs["loss"]))


def test_log_likelihood_matches_scipy(small_fit):
    from scipy import stats

    post = small_fit.posterior.isel(chain=[0], draw=slice(0, 3))
    ll = pointwise_loglik(small_fit.law, post, small_fit.runs)
    runs = small_fit.runs
    for d in range(3):
        p = {k: float(post[k][0, d]) for k in small_fit.law.sampled_params}
        mu = np.log(small_fit.law.predict(p, N=runs["N"].to_numpy(), D=runs["D"].to_numpy()))
        # default noise: sigma * exp(sigma_slope * |log(N / N*(C))|), N* from the allocation maths
        c = 6 * runs["N"].to_numpy() * runs["D"].to_numpy()
        n_opt = bs.allocation.optimal_allocation(*(p[k] for k in "E A B alpha beta".split()), c)
        scale = p["sigma"] * np.exp(p["sigma_slope"] * np.abs(np.log(runs["N"] / n_opt["N_opt"])))
        expect = stats.t.logpdf(np.log(runs["loss"]), df=4, loc=mu, scale=scale)
        np.testing.assert_allclose(ll[0, d], expect, rtol=1e-10)


def test_pointwise_log_likelihood_and_loo(small_fit):
    """The log-likelihood table LOO reads is each run's Student-t(4) density of its log loss
    (checked against scipy at one draw), and LOO's effective number of parameters is about the
    model's (7 free: E, A, B, alpha, beta, sigma, sigma_slope)."""
    import arviz as az
    from scipy import stats

    fit, law, runs = small_fit, small_fit.law, small_fit.runs
    draw = {n: float(fit.posterior[n].isel(chain=0, draw=0)) for n in law.sampled_params}
    mu, lik = law.predictive(draw, N=runs["N"].to_numpy(), D=runs["D"].to_numpy())
    expected = stats.t.logpdf(np.log(runs["loss"].to_numpy()), df=4, loc=mu, scale=lik["sigma"])
    table = fit.idata.log_likelihood["log_loss"].isel(chain=0, draw=0).to_numpy()
    np.testing.assert_allclose(table, expected, rtol=1e-10)

    loo = az.loo(fit.idata)
    assert loo.n_data_points == len(runs)
    assert 4 < loo.p_loo < 12
    # in-sample log predictive density from the table; LOO's is lower by p_loo
    ll = fit.idata.log_likelihood["log_loss"].stack(s=("chain", "draw")).to_numpy()
    lpd = float(
        np.sum(np.log(np.mean(np.exp(ll - ll.max(axis=1, keepdims=True)), axis=1)) + ll.max(axis=1))
    )
    assert lpd - loo.elpd_loo == pytest.approx(loo.p_loo, rel=1e-6)


def test_summary_columns_and_derived_a(small_fit):
    s = small_fit.summary()
    assert list(s.columns) == [
        "mean",
        "sd",
        "median",
        "lower",
        "upper",
        "r_hat",
        "ess_bulk",
        "ess_tail",
    ]
    assert {"E", "A", "B", "alpha", "beta", "a"} <= set(s.index)
    a = small_fit.posterior["beta"] / (small_fit.posterior["alpha"] + small_fit.posterior["beta"])
    assert s.loc["a", "median"] == pytest.approx(float(a.median()))
    assert (s["lower"] <= s["median"]).all() and (s["median"] <= s["upper"]).all()
    wide = small_fit.summary(interval=0.99)
    assert (wide["upper"] - wide["lower"] > s["upper"] - s["lower"]).all()
    with pytest.raises(bs.ConfigError, match="interval"):
        small_fit.summary(interval=1.5)


def test_same_seed_same_numbers(law, sim_runs, small_fit):
    # the posterior does not depend on the drift (a separate refit): skipped here
    again = law.fit(sim_runs, seed=5, drift=False, **SMALL)
    np.testing.assert_array_equal(again.posterior["alpha"], small_fit.posterior["alpha"])
    other = law.fit(sim_runs, seed=6, drift=False, **SMALL)
    assert not np.array_equal(other.posterior["alpha"], small_fit.posterior["alpha"])


def test_seed_is_drawn_and_recorded_when_missing(law, sim_runs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        fit = law.fit(sim_runs, draws=100, tune=200, chains=2)
    assert isinstance(fit.settings["seed"], int)


def test_save_load_round_trip(small_fit, tmp_path):
    out = small_fit.save(tmp_path / "fit")
    assert sorted(p.name for p in out.iterdir()) == [
        "fit.json",
        "posterior.nc",
        "runs.csv",
        "summary.csv",
    ]
    meta = json.loads((out / "fit.json").read_text())
    assert meta["settings"]["seed"] == 5
    assert meta["law"]["priors"]["alpha"]["dist"] == "TruncatedNormal"
    assert meta["data"]["runs_sha256"] == small_fit.data_info["runs_sha256"]
    assert {"max_rhat", "min_ess_bulk", "divergences"} <= set(meta["diagnostics"])
    loaded = bs.load_fit(out)
    assert loaded.law == small_fit.law
    pd.testing.assert_frame_equal(loaded.summary(), small_fit.summary())
    pd.testing.assert_frame_equal(
        loaded.runs[["N", "D", "C", "loss"]], small_fit.runs[["N", "D", "C", "loss"]]
    )
    # Saving over an existing directory replaces the files.
    small_fit.save(out)
    assert bs.load_fit(out).settings["seed"] == 5


def test_load_errors(tmp_path, small_fit):
    with pytest.raises(bs.FitFileError, match="no fit directory"):
        bs.load_fit(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(bs.FitFileError, match="not a complete bayescale fit: missing .*fit.json"):
        bs.load_fit(tmp_path / "empty")
    out = small_fit.save(tmp_path / "other")
    meta = json.loads((out / "fit.json").read_text())
    meta["format"] = "something-else"
    (out / "fit.json").write_text(json.dumps(meta))
    with pytest.raises(bs.FitFileError, match="not written by bayescale"):
        bs.load_fit(out)


def test_failed_save_leaves_directory_untouched(small_fit, tmp_path, monkeypatch):
    out = small_fit.save(tmp_path / "fit")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(self, *a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(type(small_fit.idata), "to_netcdf", boom)
    with pytest.raises(RuntimeError):
        small_fit.save(out)
    with pytest.raises(RuntimeError):
        small_fit.save(tmp_path / "new")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not (tmp_path / "new").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["fit"]


def test_convergence_warning_names_problem_and_fix(law, sim_runs):
    with pytest.warns(bs.ConvergenceWarning, match="ESS .* increase draws"):
        fit = law.fit(sim_runs, seed=1, draws=30, tune=30, chains=2)
    assert not fit.diagnostics["ok"]


def test_user_prior_replaces_only_its_default(sim_runs):
    tight = bs.Prior("TruncatedNormal", mu=0.6, sigma=0.005, lower=0)
    law = bs.ChinchillaLaw(priors={"alpha": tight})
    assert law.priors["alpha"] == tight
    assert law.priors["beta"] == bs.ChinchillaLaw().priors["beta"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        fit = law.fit(sim_runs, seed=2, draws=200, tune=300, chains=2)
    # The data say 0.34; a prior this tight holds alpha near 0.6.
    assert fit.summary().loc["alpha", "median"] == pytest.approx(0.6, abs=0.03)


def test_bad_priors_and_settings(law, sim_runs):
    with pytest.raises(bs.ConfigError, match="unknown prior 'gamma'"):
        bs.ChinchillaLaw(priors={"gamma": bs.Prior("Normal")})
    with pytest.raises(bs.ConfigError, match="must be a pymc_extras Prior"):
        bs.ChinchillaLaw(priors={"alpha": 0.3})
    with pytest.raises(bs.ConfigError, match="likelihood"):
        bs.ChinchillaLaw(likelihood="cauchy")
    with pytest.raises(bs.ConfigError, match="draws"):
        law.fit(sim_runs, draws=0)
    with pytest.raises(bs.ConfigError, match="sampler"):
        law.fit(sim_runs, sampler="stan")
    with pytest.raises(bs.ConfigError, match="target_accept"):
        law.fit(sim_runs, target_accept=1.5)


def test_law_round_trips_through_dict():
    law = bs.ChinchillaLaw(priors={"E": bs.Prior("HalfNormal", sigma=1.0)}, likelihood="normal")
    from bayescale.laws import law_from_dict

    again = law_from_dict(json.loads(json.dumps(law.to_dict())))
    assert again == law and again.likelihood.kind == "normal"


def test_repr_and_html(small_fit):
    assert "ChinchillaLaw" in repr(small_fit) and "R-hat" in repr(small_fit)
    html = small_fit._repr_html_()
    assert "<table" in html and "alpha" in html


def test_adaptive_draws_continue_until_the_diagnostics_pass(law, sim_runs, monkeypatch):
    """draws=None: more draws while the diagnostics fail, recorded; a number means exactly it."""
    from bayescale import sampling

    monkeypatch.setattr(sampling, "DEFAULT_DRAWS", 60)  # too few for 400 effective draws
    monkeypatch.setattr(sampling, "MAX_ADAPTIVE_DRAWS", 2000)
    fit = law.fit(sim_runs, seed=5, tune=400, drift=False)
    record = fit.settings["sampling"]
    runs = record["runs"]
    assert record["adaptive"] and len(runs) >= 2 and not runs[0]["ok"] and runs[-1]["ok"]
    assert [r["draws"] for r in runs] == [60 * 2**i for i in range(len(runs))]
    assert fit.posterior.sizes["draw"] == record["draws_used"] == fit.settings["draws"]
    assert fit.diagnostics["ok"] and "until they passed" in record["why"]
    with pytest.warns(bs.ConvergenceWarning):
        exact = law.fit(sim_runs, seed=5, draws=60, tune=400, drift=False)
    assert exact.posterior.sizes["draw"] == 60 and len(exact.settings["sampling"]["runs"]) == 1
    assert (
        not exact.settings["sampling"]["adaptive"]
        and "exactly" in exact.settings["sampling"]["why"]
    )


def test_adaptive_draws_stop_at_the_cap(law, sim_runs, monkeypatch):
    from bayescale import sampling

    monkeypatch.setattr(sampling, "DEFAULT_DRAWS", 20)
    monkeypatch.setattr(sampling, "MAX_ADAPTIVE_DRAWS", 40)
    with pytest.warns(bs.ConvergenceWarning):
        fit = law.fit(sim_runs, seed=5, tune=100, chains=2, drift=False)
    record = fit.settings["sampling"]
    assert [r["draws"] for r in record["runs"]] == [20, 40]
    assert not fit.diagnostics["ok"] and "at the cap of 40" in record["why"]
    assert sampling._next_target_accept(0.9) == 0.95 and sampling._next_target_accept(0.99) == 0.99
