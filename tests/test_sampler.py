"""The reparametrised sampler against references: PyMC's own NUTS on the same model, and the
naive model's posterior (same priors, raw parametrisation)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bayescale as bs
from bayescale.sampling import _whitening


@pytest.mark.slow
def test_pymc_fallback_agrees_with_nutpie(law, sim_runs, small_fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        fit = law.fit(sim_runs, seed=3, sampler="pymc", draws=400, tune=400, chains=2, cores=1)
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
