"""The allocation drift: learned from held-out IsoFLOP budgets, applied beyond the fit."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bayescale.alloc_drift import (
    TAU_PRIOR_SCALE,
    allocation_drift_from,
    with_allocation_drift,
)
from conftest import check


def _fit(taus, c_max=1e20):
    """A stand-in for a fit: its runs' largest compute and an allocation drift."""
    runs = pd.DataFrame({"C": [c_max / 100, c_max]})
    drift = {"allocation": {"tau_draws": list(taus)}} if taus is not None else {}
    return SimpleNamespace(settings={"drift": drift}, runs=runs)


def test_the_drift_widens_log_n_by_tau_root_decades_beyond_the_fit_only():
    rng = np.random.default_rng(0)
    n_opt = np.full((20000, 3), 1e9)
    compute = np.array([1e19, 1e21, 1e22])  # inside, one and two decades beyond
    out = with_allocation_drift(_fit([0.2] * 5), n_opt, compute, rng)
    sd = np.log(out).std(axis=0)
    assert sd[0] < 1e-9  # exp(0 * z): the posterior draws unchanged
    np.testing.assert_allclose(sd[1:], [0.2, 0.2 * np.sqrt(2)], rtol=0.03)
    np.testing.assert_allclose(np.median(np.log(out / 1e9), axis=0), 0, atol=0.01)
    assert with_allocation_drift(_fit(None), n_opt, compute, rng) is n_opt  # no drift: as is


def test_the_posterior_of_tau_follows_the_residuals():
    """No residual: the prior (HalfNormal median 0.674 x scale); residuals within their spread
    pull tau below the prior's median, residuals far beyond it push tau above."""
    prior = allocation_drift_from({"note": "none held out"})
    assert prior["budgets"] == 0 and prior["note"].startswith("the prior alone")
    assert prior["tau"] == pytest.approx(0.674 * TAU_PRIOR_SCALE, rel=0.02)
    d = np.array([0.3, 0.6, 0.9])
    small = allocation_drift_from({"r": np.zeros(3), "v": np.full(3, 1e-4), "d": d})
    large = allocation_drift_from({"r": np.array([0.3, -0.5, 0.6]), "v": np.full(3, 1e-4), "d": d})
    assert small["tau"] < prior["tau"] < large["tau"]
    assert small["mle"] == 0 and large["mle"] > 0.5


def test_a_fit_learns_its_allocation_drift_from_its_own_isoflop_budgets(small_fit):
    """The default fit of simulated IsoFLOP runs (the law's own world): each held-out budget's
    residual lies within its stated spread (posterior and bootstrap), and the allocation beyond
    the fit carries the drift."""
    info = small_fit.settings["drift"]["allocation"]
    assert len(info["tau_draws"]) == 200 and info["prior_scale"] == TAU_PRIOR_SCALE
    if info["budgets"]:
        z = np.asarray(info["r"]) / np.sqrt(np.asarray(info["v"]))
        check("max |residual| / its sd", np.abs(z).max(), "<", 4, info)
    else:
        assert info["note"].startswith("the prior alone")
    import bayescale as bs

    far = bs.optimal_allocation(small_fit, 100 * float(small_fit.runs["C"].max()))
    assert "carry the allocation drift" in far.attrs["note"]
