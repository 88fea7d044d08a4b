"""The reparametrised sampler against references: PyMC's own NUTS on the same model, and the
naive model's posterior (same priors, raw parametrisation)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bayescale as bs
from bayescale.sampling import _whitening, build_naive_model
from bayescale.simulate import isoflop_design, simulate_runs
from conftest import HOFFMANN, check, seed


@pytest.mark.slow
def test_whitened_model_matches_the_naive_model():
    """The centred, whitened model and the textbook model (every parameter a PyMC random
    variable with its prior, raw inputs) sampled by PyMC's own NUTS give the same posterior:
    medians and sds agree within Monte Carlo error. A wrong Jacobian in the change of
    variables, or a mistake in the centring, shifts one against the other (by ~8 MC errors
    for a dropped amplitude Jacobian, see tests/broken.py)."""
    import arviz as az
    import pymc as pm

    law = bs.ChinchillaLaw(noise="constant", likelihood="normal")
    design = isoflop_design([1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21, 3e21], runs_per_budget=6)
    runs = simulate_runs(law, {**HOFFMANN, "sigma": 0.01}, design, seed=seed(4))
    fit = law.fit(runs, seed=seed(1), draws=4000, drift=False)
    with build_naive_model(law, runs):  # a dense mass matrix: the naive geometry needs it
        ref = pm.sample(
            draws=1000,
            tune=1500,
            chains=2,
            cores=1,
            init="jitter+adapt_full",
            random_seed=seed(2),
            target_accept=0.95,
            progressbar=False,
            compute_convergence_checks=False,
        )
    ours = fit.summary()
    names = ["E", "A", "B", "alpha", "beta", "sigma"]
    ess = az.ess(ref, var_names=names)
    for p in names:
        a, b = fit.posterior[p].to_numpy().ravel(), ref.posterior[p].to_numpy().ravel()
        n_a, n_b = float(ours.loc[p, "ess_bulk"]), float(ess[p])
        # Monte Carlo error of a median (about 1.25 sd / sqrt(ESS)), of both, combined
        mcse = np.hypot(1.25 * a.std() / np.sqrt(n_a), 1.25 * b.std() / np.sqrt(n_b))
        z = abs(np.median(a) - np.median(b)) / mcse
        check(f"{p}: |median difference| / MC error", z, "<", 4)
        # an sd's relative Monte Carlo error is about 1 / sqrt(2 ESS)
        rel = abs(a.std() / b.std() - 1) / np.hypot(1 / np.sqrt(2 * n_a), 1 / np.sqrt(2 * n_b))
        check(f"{p}: |sd ratio - 1| / MC error", rel, "<", 4)


@pytest.mark.slow
def test_pymc_fallback_agrees_with_nutpie(law, sim_runs, small_fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        fit = law.fit(
            sim_runs, seed=3, sampler="pymc", draws=400, tune=400, chains=2, cores=1, drift=False
        )
    assert fit.settings["sampler"] == "pymc"
    assert fit.diagnostics["divergences"] == 0
    a, b = fit.summary(), small_fit.summary()
    for p in ("E", "alpha", "beta", "sigma"):
        assert abs(a.loc[p, "median"] - b.loc[p, "median"]) < 0.5 * b.loc[p, "sd"], p


def test_whitening_recovers_covariance():
    rng = np.random.default_rng(0)
    factor = np.array([[1.0, 0.0, 0.0], [0.99, 0.14, 0.0], [0.0, 0.3, 1.4]])
    cov = factor @ factor.T  # correlation 0.99 between the first two coordinates
    draws = rng.multivariate_normal([1.0, -2.0, 0.5], cov, size=4000)
    loc, chol = _whitening(draws[None], np.zeros(3))
    np.testing.assert_allclose(loc, [1.0, -2.0, 0.5], atol=0.1)
    np.testing.assert_allclose(chol @ chol.T, cov, atol=0.1)


def test_whitening_falls_back_when_pilot_failed():
    loc, chol = _whitening(np.full((2, 3, 4), np.nan), np.ones(4))
    np.testing.assert_array_equal(loc, np.ones(4))
    np.testing.assert_array_equal(chol, np.eye(4))
