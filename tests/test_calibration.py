"""Simulation-based calibration of the default Chinchilla model (Talts et al. 2018): ranks of
the true values among posterior draws are uniform, truths fall in the central 50% of their
posteriors half of the time, and the posteriors contract — and the check visibly fails when the
simulation prior is wrong or the data are noisier than the model says, so it can fail."""

from __future__ import annotations

import pytest

import bayescale as bs
from bayescale.calibration import rank_coverage, rank_uniformity, sbc
from bayescale.simulate import isoflop_design
from conftest import check, seed

SBC_FIT = dict(draws=200, tune=200, chains=2)
N_SIMS = 60  #: a 10-bin rank test; 50% coverage to +-0.065 per parameter, +-0.035 pooled
LAW_PARAMS = ("E", "A", "B", "alpha", "beta")


@pytest.fixture(scope="module")
def design():
    return isoflop_design([1e18, 1e19, 1e20, 1e21], runs_per_budget=6)


@pytest.fixture(scope="module")
def ranks(law, design):
    return sbc(law, design, N_SIMS, seed=seed(1), **SBC_FIT)


@pytest.mark.slow
def test_default_chinchilla_model_is_calibrated(law, ranks):
    assert len(ranks) == N_SIMS and ranks.attrs["n_ranks"] == 99
    p = rank_uniformity(ranks, bins=10)
    assert set(p.index) == set(law.sampled_params)
    # 7 parameters: a calibrated model fails this 0.7% of the time
    check("min p-value (10-bin rank chi-square)", p.min(), ">", 0.001, p.to_dict())
    # truths inside the central 50% interval: 0.5 when calibrated, ~0.37 for a 30% too
    # narrow posterior, ~1 for the prior itself; pooled over parameters (sd about 0.035)
    cov = rank_coverage(ranks, 0.5)
    check("50% coverage, mean over parameters", cov.mean(), ">", 0.4, cov.to_dict())
    check("50% coverage, mean over parameters", cov.mean(), "<", 0.6, cov.to_dict())


@pytest.mark.slow
def test_posteriors_contract(ranks):
    """Posterior = prior passes a rank test; it cannot pass this (every ratio would be ~1).
    On this 24-run design the exponents contract least (median ratio ~0.7), E, A, B most."""
    shrink = {n: float(ranks[f"contraction_{n}"].median()) for n in LAW_PARAMS}
    for name, value in shrink.items():
        check(f"{name}: median posterior sd / prior sd", value, "<", 0.9)
    mean = sum(shrink.values()) / len(shrink)
    check("mean over E, A, B, alpha, beta of the above", mean, "<", 0.6, shrink)


@pytest.mark.slow
def test_sbc_detects_a_wrong_prior(law, design):
    wrong = bs.Prior("TruncatedNormal", mu=1.0, sigma=0.05, lower=0)
    ranks = sbc(
        law,
        design,
        20,
        seed=seed(2),
        simulation_priors={"alpha": wrong, "beta": wrong},
        **SBC_FIT,
    )
    p = rank_uniformity(ranks)
    check("p-value of alpha's ranks (wrong prior)", p["alpha"], "<", 1e-4)
    check("p-value of beta's ranks (wrong prior)", p["beta"], "<", 1e-4)
    # truths above the posterior: the prior pulls them down
    check("mean rank of alpha (wrong prior)", ranks["alpha"].mean(), ">", 80)


@pytest.mark.slow
def test_sbc_detects_data_noisier_than_the_model(law):
    """A subtler mismatch: runs simulated with twice the noise scale the truth says. On 32
    runs the posterior of sigma sits above the truth (null: mean rank 49.5, sd 7.2 for 16
    simulations; measured 15 and 21 at two seeds)."""
    design = isoflop_design([1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21, 3e21], runs_per_budget=4)
    ranks = sbc(
        law,
        design,
        16,
        seed=seed(5),
        simulate_with=lambda t: {**t, "sigma": 2 * t["sigma"]},
        **SBC_FIT,
    )
    check("mean rank of sigma (2x noise)", ranks["sigma"].mean(), "<", 33)


def test_sbc_rejects_bad_arguments(law, design):
    with pytest.raises(bs.ConfigError, match="n_sims"):
        sbc(law, design, 0)
    with pytest.raises(bs.ConfigError, match="accepted"):
        sbc(law, design, 1, accept=lambda runs: False, max_tries=2)
