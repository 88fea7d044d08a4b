"""The prediction layer on fitted laws: every answer per draw, summarised with intervals."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bayescale as bs
from bayescale import predict as P

CHINCHILLA_C = 5.88e23


def test_chinchilla_tokens_per_param_at_chinchilla_budget(chinchilla_fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)
        t = bs.optimal_allocation(chinchilla_fit, [1e21, CHINCHILLA_C, 1e25])
    row = t.iloc[1]
    assert row["tokens_per_param_lower"] <= 18.4 <= row["tokens_per_param_upper"]
    assert 15 <= row["tokens_per_param_median"] <= 25
    assert t.attrs["a"]["lower"] <= 0.513 <= t.attrs["a"]["upper"]
    assert t.attrs["interval"] == 0.9
    # budgets are columns of one tidy table, increasing compute -> larger models, lower loss
    assert np.all(np.diff(t["N_opt_median"]) > 0) and np.all(np.diff(t["loss_opt_median"]) < 0)
    np.testing.assert_allclose(6 * t["N_opt_median"] * t["D_opt_median"], t["compute"], rtol=0.05)


def test_allocation_is_per_draw_not_at_posterior_mean(chinchilla_fit):
    """Within the fitted compute (no allocation drift there) the table is the law's per-draw
    allocation; beyond it, the drift widens N* and D* follows from C = 6 N D in every draw."""
    inside = float(chinchilla_fit.runs["C"].max()) / 10
    t = P.optimal_allocation(chinchilla_fit, inside, interval=0.5)
    draws = chinchilla_fit.law.optimal_allocation(chinchilla_fit.draws(), inside)
    assert t["tokens_per_param_median"][0] == pytest.approx(np.median(draws["tokens_per_param"]))
    far = P.optimal_allocation(chinchilla_fit, CHINCHILLA_C, interval=0.9)
    draws = chinchilla_fit.law.optimal_allocation(chinchilla_fit.draws(), CHINCHILLA_C)
    lo, hi = np.quantile(draws["N_opt"], [0.05, 0.95])
    assert far["N_opt_lower"][0] < lo and far["N_opt_upper"][0] > hi
    c = far["N_opt_median"][0] * far["D_opt_median"][0] * 6
    assert c == pytest.approx(CHINCHILLA_C)


def test_extrapolation_warning_and_factors(chinchilla_fit):
    with pytest.warns(bs.ExtrapolationWarning, match="772x"):
        P.optimal_allocation(chinchilla_fit, 1e25)
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.ExtrapolationWarning)
        t = P.predict_loss(chinchilla_fit, 70e9, 1.4e12)
    runs = chinchilla_fit.runs
    assert t["compute_factor"][0] == pytest.approx(6 * 70e9 * 1.4e12 / runs["C"].max())
    assert t["N_factor"][0] == pytest.approx(70e9 / runs["N"].max())
    assert t["D_factor"][0] == pytest.approx(1.4e12 / runs["D"].max())
    with pytest.warns(bs.ExtrapolationWarning):
        P.predict_loss(chinchilla_fit, 70e9, 1.4e12, max_extrapolation=10)


def test_a_plan_shorter_for_its_size_than_every_fitted_run_warns(chinchilla_fit):
    """Below the fitted runs' tokens per parameter the law is not measured and nothing widens
    its intervals: a warning says so; within 1.5x of the smallest, none."""
    runs = chinchilla_fit.runs
    i = int((runs["D"] / runs["N"]).idxmin())
    n, d = float(runs["N"][i]), float(runs["D"][i])
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.ExtrapolationWarning)
        P.predict_loss(chinchilla_fit, n, d / 1.4)
    with pytest.warns(bs.ExtrapolationWarning, match="tokens per parameter, under the fitted"):
        P.predict_loss(chinchilla_fit, n, d / 2)


def test_predict_loss_new_run_is_wider_and_deterministic(small_fit):
    t = P.predict_loss(small_fit, [1e9, 1e10], [2e10, 2e11], target=2.4)
    for i in range(2):
        law_w = t["loss_upper"][i] - t["loss_lower"][i]
        new_w = t["loss_new_run_upper"][i] - t["loss_new_run_lower"][i]
        assert new_w > law_w > 0
    again = P.predict_loss(small_fit, [1e9, 1e10], [2e10, 2e11], target=2.4)
    np.testing.assert_array_equal(t["prob_below_target"], again["prob_below_target"])
    draws = P.loss_draws(small_fit, [1e9, 1e10], [2e10, 2e11])
    assert draws.dims == ("chain", "draw", "point")
    assert float(draws.isel(point=0).median()) == pytest.approx(t["loss_median"][0])


def test_prob_loss_below_matches_the_predictive_quantiles(small_fit):
    """P(loss < the law's 95% quantile) is 0.95 and P(loss < its median) 0.5; a new run,
    noisier than the law's expected loss, is less sure to beat the upper quantile."""
    t = P.predict_loss(small_fit, 1e10, 2e11)
    upper = P.prob_loss_below(small_fit, 1e10, 2e11, target=float(t["loss_upper"][0]))
    median = P.prob_loss_below(small_fit, 1e10, 2e11, target=float(t["loss_median"][0]))
    assert upper["prob_law_below"][0] == pytest.approx(0.95, abs=0.002)
    assert median["prob_law_below"][0] == pytest.approx(0.5, abs=0.002)
    assert 0.5 < upper["prob_new_run_below"][0] < 0.94
    assert median["prob_new_run_below"][0] == pytest.approx(0.5, abs=0.03)


def test_compute_for_loss_inverts_the_law_per_draw(chinchilla_fit):
    fit = chinchilla_fit
    draws = fit.draws()
    for target in (2.0, 1.84):
        out = fit.law.compute_for_loss(draws, target)
        ok = out["reachable"]  # shape (draws, 1), like the compute
        assert 0 < ok.sum()
        compute = np.where(ok, out["compute"], 1e20)  # placeholder where unreachable
        loss_at = fit.law.optimal_allocation(draws, compute)["loss_opt"]
        # per reachable draw: L*(returned compute) == target
        np.testing.assert_allclose(loss_at[ok], target, rtol=1e-9)
        table = bs.compute_for_loss(fit, target)
        share = float((fit.posterior["E"] >= target).mean())
        assert table["prob_unreachable"][0] == pytest.approx(share)
    t = bs.compute_for_loss(fit, 1.5)  # below every E draw
    assert t["prob_unreachable"][0] == 1.0 and np.isposinf(t["compute_median"][0])
    assert not t.isna().any().any()


def test_expected_gain_and_suboptimality(small_fit):
    post = {k: small_fit.posterior[k].to_numpy().ravel() for k in ("A", "B", "alpha", "beta")}
    # closed forms per draw: scaling N by f removes A N^-alpha (1 - f^-alpha), and D likewise
    by_n = post["A"] * 1e9 ** -post["alpha"] * (1 - 4.0 ** -post["alpha"])
    by_d = post["B"] * 2e10 ** -post["beta"] * (1 - 4.0 ** -post["beta"])
    g = {a: bs.expected_gain(small_fit, 1e9, 2e10, factor=4, along=a) for a in ("N", "D", "C")}
    assert g["N"]["gain_median"][0] == pytest.approx(np.median(by_n), rel=1e-9)
    assert g["D"]["gain_median"][0] == pytest.approx(np.median(by_d), rel=1e-9)
    # 4x the compute spent optimally gains at least as much as 4x N or 4x D alone
    assert g["C"]["gain_lower"][0] >= max(np.quantile(by_n, 0.05), np.quantile(by_d, 0.05)) - 1e-12
    assert g["C"]["gain_median"][0] >= max(np.median(by_n), np.median(by_d)) - 1e-12
    opt = bs.optimal_allocation(small_fit, 1e21)
    n, d = opt["N_opt_median"][0], opt["D_opt_median"][0]
    s = bs.suboptimality(small_fit, [n, n * 8], [d, d / 8])
    assert s["compute_multiplier_median"][0] == pytest.approx(1.0, abs=0.02)
    assert s["extra_loss_median"][0] == pytest.approx(0.0, abs=1e-3)
    assert s["compute_multiplier_lower"][1] > 1.2 and s["extra_loss_lower"][1] > 0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda f: bs.predict_loss(f, -1e9, 2e10), "N must be positive"),
        (lambda f: bs.predict_loss(f, 1e9, np.inf), "D must be positive and finite"),
        (lambda f: bs.predict_loss(f, 1e9, np.nan), "D must be positive and finite"),
        (lambda f: bs.predict_loss(f, [1e9, 2e9, 3e9], [1e10, 2e10]), "same length"),
        (lambda f: bs.predict_loss(f, 1e9, 2e10, target=0), "target must be positive"),
        (lambda f: bs.optimal_allocation(f, 0), "compute must be positive"),
        (lambda f: bs.optimal_allocation(f, [1e20, -1]), "compute must be positive"),
        (lambda f: bs.optimal_allocation(f, "lots"), "compute must be numeric"),
        (lambda f: bs.compute_for_loss(f, np.inf), "target must be positive and finite"),
        (lambda f: bs.optimal_allocation(f, 1e21, interval=1.0), r"interval must be .* \(0, 1\)"),
        (lambda f: bs.predict_loss(f, 1e9, 1e10, interval=0), r"interval must be"),
        (lambda f: bs.expected_gain(f, 1e9, 1e10, 2, along="E"), "along must be"),
    ],
)
def test_bad_arguments(small_fit, call, match):
    with pytest.raises(bs.ConfigError, match=match):
        call(small_fit)
