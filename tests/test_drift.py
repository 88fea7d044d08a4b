"""Extrapolation drift: learned from the training runs alone, zero inside the fitted range, and
what makes the default model's intervals calibrated on held-out larger Chinchilla runs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

import bayescale as bs
from bayescale.backtest import backtest
from bayescale.drift import TAU_PRIOR_SCALE, drift_sd, tau_from_residuals, with_drift
from bayescale.fitting import estimate_drift


def test_drift_is_learned_on_real_runs_and_widens_only_beyond_them(chinchilla_fit):
    info = chinchilla_fit.settings["drift"]
    assert 0.005 < info["tau"] < 0.1 and info["n_inner_test"] >= 40
    c_max = chinchilla_fit.runs.C.max()
    assert drift_sd(info["tau"], [c_max / 10, c_max], c_max).tolist() == [0.0, 0.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)
        far = bs.predict_loss(chinchilla_fit, 7e10, 1.4e12)  # 45x the largest run
    inside = bs.predict_loss(chinchilla_fit, 1e9, 2e10)
    no_drift = {**chinchilla_fit.settings, "drift": {"tau": None}}
    plain = bs.Fit(
        chinchilla_fit.law,
        chinchilla_fit.runs,
        chinchilla_fit.idata,
        no_drift,
        chinchilla_fit.diagnostics,
        chinchilla_fit.data_info,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)
        far_plain = bs.predict_loss(plain, 7e10, 1.4e12)
    inside_plain = bs.predict_loss(plain, 1e9, 2e10)

    def width(t):
        return float(t.loss_new_run_upper.iloc[0] - t.loss_new_run_lower.iloc[0])

    assert width(far) > 1.5 * width(far_plain)
    assert width(inside) == pytest.approx(width(inside_plain), rel=0.05)
    assert far.loss_median.iloc[0] == far_plain.loss_median.iloc[0]  # the law itself unchanged


def test_small_fits_take_their_drift_from_the_data_derived_prior(law, sim_runs, chinchilla_fit):
    info = estimate_drift(law, sim_runs.head(12))  # too few runs to hold any out: no refit
    assert info["method"] == "prior" and "12 runs are too few" in info["note"]
    q = np.asarray(info["tau_draws"])
    # HalfNormal(scale) quantiles: median 0.674 scale, 95% 1.96 scale
    assert np.median(q) == pytest.approx(0.6745 * TAU_PRIOR_SCALE, rel=0.02)
    assert np.quantile(q, 0.95) == pytest.approx(1.96 * TAU_PRIOR_SCALE, rel=0.03)
    assert estimate_drift(law, sim_runs.head(12), method="moments")["tau"] is None
    pooled = estimate_drift(bs.ChinchillaLaw(pooling="partial"), sim_runs)
    assert pooled["method"] == "prior" and pooled["tau_draws"] == info["tau_draws"]
    # such a fit's extrapolations widen with distance, and say where the drift came from
    settings = {**chinchilla_fit.settings, "drift": info}
    fit = bs.Fit(
        chinchilla_fit.law,
        chinchilla_fit.runs,
        chinchilla_fit.idata,
        settings,
        chinchilla_fit.diagnostics,
        chinchilla_fit.data_info,
    )
    assert "from the prior learned on the shipped data sets" in fit.drift_note
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)
        t = bs.predict_loss(fit, [1e10, 7e10], [2e11, 1.4e12])  # 1.4x and 45x the largest run
    log_width = np.log(t.loss_new_run_upper / t.loss_new_run_lower)
    # at 45x (1.65 decades) the prior drift's 90% half-width alone is about 1.65 x 0.044 x 1.4
    assert log_width.iloc[1] > 2 * log_width.iloc[0] and log_width.iloc[1] > 0.12


def test_zero_maximum_likelihood_tau_keeps_its_posterior_draws():
    # held-out residuals smaller than their predictive variance: the MLE is 0, but the
    # posterior given a few runs still has mass above 0, and predictions keep it
    rng = np.random.default_rng(0)
    d = rng.uniform(0.1, 1.0, 5)
    v = np.full(5, 1e-4)
    res = tau_from_residuals(np.full(5, 1e-4), v, d)
    assert res["tau"] == 0.0 and np.median(res["tau_draws"]) > 0.005

    class Small:  # what with_drift reads of a fit
        settings = {"drift": res}
        runs = pd.DataFrame({"C": [1e20]})

    spread = with_drift(Small, np.zeros((400, 1)), np.array([1e22]), rng).std()
    assert spread > 0.005  # two decades out: the drift's posterior draws, not nothing


@pytest.mark.slow
def test_default_model_is_calibrated_and_sharp_on_held_out_chinchilla_runs(chinchilla_runs):
    """Issue 6, must-show 1 (Chinchilla split): top 20% by compute held out."""
    result = backtest(bs.ChinchillaLaw(), chinchilla_runs, holdout_top_fraction=0.2, seed=0)
    n = result["n_test"]
    floor = binom.ppf(0.05, n, 0.9) / n
    assert result["coverage"]["0.9"] >= floor
    assert result["median_abs_rel_error"] <= 0.02
    runs = result["runs"]
    half = np.mean([(np.log(r["upper"]) - np.log(r["lower"])) / 2 for r in runs])
    err = np.median([abs(np.log(r["median"]) - np.log(r["loss"])) for r in runs])
    assert half / err <= 3.0


def test_drift_methods_and_bad_method(law, chinchilla_runs):
    with pytest.raises(bs.ConfigError, match="drift method"):
        estimate_drift(law, chinchilla_runs, method="median")
    mle = estimate_drift(law, chinchilla_runs, method="mle", seed=3)
    # the default fit's drift on the same runs (excluding 5) is 0.0128: all 245 are close
    assert mle["method"] == "mle" and 0.005 < mle["tau"] < 0.03


def test_tpp_drift_widens_only_below_the_fitted_tokens_per_parameter():
    """``with_tpp_drift`` adds Normal(0, tau**2 d) at d decades of D/N below the fitted range,
    nothing (and no random numbers) at or above it or for a fit without it."""
    from types import SimpleNamespace

    from bayescale.drift import with_tpp_drift

    fit = SimpleNamespace(settings={"drift": {"tpp": {"tau_draws": [0.05] * 10, "tpp_min": 20.0}}})
    centre = np.zeros((40_000, 3))
    n, d = np.full(3, 1e9), np.array([2e9, 2e10, 4e10])  # 2, 20 and 40 tokens per parameter
    rng = np.random.default_rng(0)
    out = with_tpp_drift(fit, centre, n, d, rng)
    assert out[:, 0].std() == pytest.approx(0.05, rel=0.02)  # 40 000 draws: sd within 0.4%
    assert (out[:, 1:] == 0).all()
    state = rng.bit_generator.state
    for inside in (with_tpp_drift(fit, centre[:, 1:], n[1:], d[1:], rng), centre[:, 1:]):
        assert (inside == 0).all()
    assert rng.bit_generator.state == state
    bare = SimpleNamespace(settings={"drift": {"tau": 0.02}})
    assert with_tpp_drift(bare, centre, n, d, rng) is centre
    # drift="moments": a point value of tau, no draws
    point = SimpleNamespace(settings={"drift": {"tpp": {"tau": 0.05, "tpp_min": 20.0}}})
    assert with_tpp_drift(point, centre, n, d, rng)[:, 0].std() == pytest.approx(0.05, rel=0.02)
    none = SimpleNamespace(settings={"drift": {"tpp": {"tau": None, "tpp_min": 20.0}}})
    assert with_tpp_drift(none, centre, n, d, rng) is centre
