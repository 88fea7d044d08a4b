"""Extrapolation drift: learned from the training runs alone, zero inside the fitted range, and
what makes the default model's intervals calibrated on held-out larger Chinchilla runs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import binom

import bayescale as bs
from bayescale.backtest import backtest
from bayescale.drift import drift_sd
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


def test_no_drift_for_small_or_pooled_fits(law, sim_runs):
    assert estimate_drift(law, sim_runs.head(20))["tau"] is None
    pooled = bs.ChinchillaLaw(pooling="partial")
    assert estimate_drift(pooled, sim_runs)["tau"] is None


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
