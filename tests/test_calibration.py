"""Simulation-based calibration of the default Chinchilla model (Talts et al. 2018): ranks of
the true values among posterior draws are uniform — and visibly not when the simulation prior
is wrong, so the check can fail."""

from __future__ import annotations

import pytest

import bayescale as bs
from bayescale.calibration import rank_uniformity, sbc
from bayescale.simulate import isoflop_design

SBC_FIT = dict(draws=200, tune=200, chains=2)


@pytest.fixture(scope="module")
def design():
    return isoflop_design([1e18, 1e19, 1e20, 1e21], runs_per_budget=6)


@pytest.mark.slow
def test_default_chinchilla_model_is_calibrated(law, design):
    ranks = sbc(law, design, 40, seed=1, **SBC_FIT)
    assert len(ranks) == 40 and ranks.attrs["n_ranks"] == 99
    p = rank_uniformity(ranks)
    assert set(p.index) == set(law.sampled_params)
    assert p.min() > 0.01, p.to_dict()  # chi-square on 5 bins, each of the 6 parameters


@pytest.mark.slow
def test_sbc_detects_a_wrong_prior(law, design):
    wrong = bs.Prior("TruncatedNormal", mu=1.0, sigma=0.05, lower=0)
    ranks = sbc(
        law, design, 20, seed=2, simulation_priors={"alpha": wrong, "beta": wrong}, **SBC_FIT
    )
    p = rank_uniformity(ranks)
    assert p["alpha"] < 1e-4 and p["beta"] < 1e-4, p.to_dict()
    assert ranks["alpha"].mean() > 80  # truths above the posterior: the prior pulls them down


def test_sbc_rejects_bad_arguments(law, design):
    with pytest.raises(bs.ConfigError, match="n_sims"):
        sbc(law, design, 0)
    with pytest.raises(bs.ConfigError, match="accepted"):
        sbc(law, design, 1, accept=lambda runs: False, max_tries=2)
