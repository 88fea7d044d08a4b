"""Priors learned across data sets: the meta-analysis maths and ``learn_priors`` on point fits
(no sampling: bootstrap fits stand in for posteriors)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import bayescale as bs
from bayescale.datasets import load_chinchilla
from bayescale.learned_priors import learn_priors
from bayescale.meta_analysis import predictive
from bayescale.pointfit import point_fit

ROOT = Path(__file__).resolve().parents[1]


def test_predictive_without_spread_is_the_precision_weighted_mean():
    y, v = np.array([0.30, 0.34, 0.33]), np.array([1e-4, 4e-4, 1e-4])
    r = predictive(y, v, tau_scale=1e-6)  # spread pinned at ~0: the fixed-effect answer
    w = 1 / v
    assert r["mean"] == pytest.approx((w * y).sum() / w.sum(), abs=1e-9)
    assert r["sd"] == pytest.approx(w.sum() ** -0.5, rel=1e-3)


def test_predictive_is_calibrated_for_a_new_data_set():
    """Simulated from the model (spread ~ HalfNormal, four data sets): the predictive's 90%
    interval covers the new data set's value about 90% of the time, and ignoring the spread
    (the fixed-effect mean's interval) does not."""
    rng = np.random.default_rng(0)
    scale, hits, fixed_hits, n_sim = 0.1, 0, 0, 1500
    for _ in range(n_sim):
        tau = abs(rng.normal(0, scale))
        theta = rng.normal(0.3, tau, size=5)  # four seen, the fifth new
        v = rng.uniform(1e-5, 1e-3, size=4)
        y = rng.normal(theta[:4], np.sqrt(v))
        r = predictive(y, v, tau_scale=scale)
        hits += abs(theta[4] - r["mean"]) <= 1.645 * r["sd"]
        w = 1 / v
        fixed = (w * y).sum() / w.sum()
        fixed_hits += abs(theta[4] - fixed) <= 1.645 * w.sum() ** -0.5
    assert 0.86 <= hits / n_sim <= 0.97
    assert fixed_hits / n_sim < 0.6


@pytest.mark.parametrize(
    "y, v, scale",
    [([], [], 1.0), ([0.3], [0.1, 0.2], 1.0), ([0.3], [-1.0], 1.0), ([0.3], [0.1], 0)],
)
def test_predictive_rejects_bad_input(y, v, scale):
    with pytest.raises(bs.ConfigError):
        predictive(y, v, tau_scale=scale)


@pytest.fixture(scope="module")
def point_fits():
    runs = load_chinchilla(replication_subset=True)
    law = bs.ChinchillaLaw()
    return {
        "all": point_fit(law, runs, method="bootstrap", n_boot=30, seed=0),
        "small": point_fit(law, runs[runs["C"] < 3e20], method="bootstrap", n_boot=30, seed=0),
        "large": point_fit(law, runs[runs["C"] >= 1e19], method="bootstrap", n_boot=30, seed=0),
    }


def test_learn_priors_centres_and_forms(point_fits):
    learned = learn_priors(
        {"one": point_fits["all"], "parts": [point_fits["small"], point_fits["large"]]}
    )
    assert list(learned.priors) == ["E", "A", "B", "alpha", "beta"]
    assert learned.priors["A"].distribution == "LogNormal"
    assert learned.priors["alpha"].distribution == "TruncatedNormal"
    est = learned.estimates
    # a data set of two parts is their mean; the learned centre lies between the data sets
    parts = [float(point_fits[k].posterior["alpha"].mean()) for k in ("small", "large")]
    assert est.loc["parts", ("alpha", "mean")] == pytest.approx(np.mean(parts))
    lo, hi = sorted(est[("alpha", "mean")])
    assert lo <= learned.priors["alpha"].parameters["mu"] <= hi
    log_a = np.log(point_fits["all"].posterior["A"].to_numpy()).mean()
    assert est.loc["one", ("A", "mean")] == pytest.approx(log_a)
    # two data sets cannot pin the spread: the prior is wider than either estimate's error
    assert learned.priors["alpha"].parameters["sigma"] > 3 * est[("alpha", "sd")].max()
    # and narrower than the default prior it replaces
    assert learned.priors["alpha"].parameters["sigma"] < 0.25


def test_learned_priors_fit_a_law(point_fits):
    learned = learn_priors({"a": point_fits["small"], "b": point_fits["large"]}, params=["alpha"])
    law = bs.ChinchillaLaw(priors=learned.priors)
    assert law.priors["alpha"] == learned.priors["alpha"]
    assert law.priors["beta"] == bs.ChinchillaLaw().priors["beta"]


def test_learn_priors_refuses_what_it_cannot_use(point_fits):
    with pytest.raises(bs.ConfigError, match="at least one"):
        learn_priors({})
    with pytest.raises(bs.ConfigError, match="no parameter"):
        learn_priors({"a": point_fits["all"]}, params=["gamma"])


def test_the_shipped_set_is_the_documented_one():
    """``across_datasets`` holds the numbers ``scripts/learned_prior.py`` wrote to the docs
    (rounded): a change of either without the other fails here."""
    text = (ROOT / "docs" / "learned_prior.md").read_text(encoding="utf-8")
    shipped = bs.ChinchillaLaw(priors="across_datasets").priors
    for name in ("E", "A", "B", "alpha", "beta"):
        row = re.search(rf"^\| {name} \| (\w+) \| ([-\d.e]+) \| ([-\d.e]+) \|", text, re.M)
        assert row, name
        mu, sd = float(row.group(2)), float(row.group(3))
        prior = shipped[name].parameters
        assert prior["mu"] == pytest.approx(mu, rel=0.02, abs=0.002), name
        assert prior["sigma"] == pytest.approx(sd, rel=0.05), name
    dc = bs.DataConstrainedLaw(priors="across_datasets").priors
    assert dc["alpha"] == shipped["alpha"]
    assert dc["R_D_star"] == bs.DataConstrainedLaw().priors["R_D_star"]
