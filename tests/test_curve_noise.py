"""The training-curve noise (run offsets + OU noise in log tokens): the O(n) marginal density
against the dense multivariate Normal it stands for, in NumPy and PyTensor."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from bayescale.curve_noise import curve_layout, curve_logp


def _dense_logp(r, run, d, sigma, sigma_run, ell):
    total = 0.0
    for name in dict.fromkeys(run):
        rows = np.flatnonzero(run == name)
        logd = np.log(d[rows])
        cov = sigma**2 * np.exp(-np.abs(logd[:, None] - logd[None, :]) / ell)
        cov += sigma_run**2
        total += multivariate_normal(np.zeros(len(rows)), cov).logpdf(r[rows])
    return total


@pytest.fixture(scope="module")
def curves():
    rng = np.random.default_rng(1)
    run, d = [], []
    for i, n in enumerate([1, 3, 7, 12]):  # runs of one to twelve checkpoints, uneven spacing
        run += [f"r{i}"] * n
        d += list(np.sort(rng.uniform(1e8, 1e10, size=n)))
    run, d = np.array(run), np.array(d)
    return run, d, rng.normal(0, 0.02, size=len(run))


@pytest.mark.parametrize(
    "sigma, sigma_run, ell", [(0.01, 0.02, 0.5), (0.02, 0.0, 2.0), (0.005, 0.05, 0.05)]
)
def test_marginal_equals_the_dense_multivariate_normal(curves, sigma, sigma_run, ell):
    run, d, r = curves
    lay = curve_layout(run, d)
    fast = curve_logp(r, **lay, sigma=sigma, sigma_run=sigma_run, ell=ell)
    assert fast == pytest.approx(_dense_logp(r, run, d, sigma, sigma_run, ell), rel=1e-10)


def test_pytensor_matches_numpy(curves):
    import pytensor
    import pytensor.tensor as pt

    run, d, r = curves
    lay = curve_layout(run, d)
    rv, s, sr, ell = pt.vector("r"), pt.scalar("s"), pt.scalar("sr"), pt.scalar("ell")
    out = curve_logp(rv, **lay, sigma=s, sigma_run=sr, ell=ell, xp=pt)
    f = pytensor.function([rv, s, sr, ell], out, mode="FAST_COMPILE")
    expected = curve_logp(r, **lay, sigma=0.01, sigma_run=0.03, ell=0.7)
    assert float(f(r, 0.01, 0.03, 0.7)) == pytest.approx(expected, rel=1e-10)


def test_layout_refuses_unsorted_runs():
    with pytest.raises(ValueError, match="contiguous"):
        curve_layout(["a", "b", "a"], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="increase"):
        curve_layout(["a", "a"], [2.0, 1.0])
