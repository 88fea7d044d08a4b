"""The training-curve noise (run offsets + OU noise in log tokens): the O(n) marginal density
against the dense multivariate Normal it stands for, in NumPy and PyTensor."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from bayescale.curve_noise import curve_layout, curve_logp, curve_logp_runs


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


def test_a_scale_per_row_is_the_scaled_ou_process(curves):
    """sigma per row: r_j = b + sigma_j u_j with u a unit OU process, i.e. the dense covariance
    sigma_i sigma_j exp(-|log d_i - log d_j| / ell) + sigma_run**2."""
    run, d, r = curves
    lay = curve_layout(run, d)
    s = np.linspace(0.005, 0.03, len(r))
    fast = curve_logp(r, **lay, sigma=s, sigma_run=0.02, ell=0.8)
    total = 0.0
    for name in dict.fromkeys(run):
        rows = np.flatnonzero(run == name)
        logd = np.log(d[rows])
        cov = np.outer(s[rows], s[rows]) * np.exp(-np.abs(logd[:, None] - logd[None, :]) / 0.8)
        total += multivariate_normal(np.zeros(len(rows)), cov + 0.02**2).logpdf(r[rows])
    assert fast == pytest.approx(total, rel=1e-10)


def test_per_run_values_and_draw_axes(curves):
    """One value per run, summing to the total; leading axes (posterior draws) broadcast."""
    run, d, r = curves
    lay = curve_layout(run, d)
    sigmas = np.array([[0.01], [0.02], [0.04]])
    per_run = curve_logp_runs(
        r[None, :] * np.ones((3, 1)), **lay, sigma=sigmas, sigma_run=0.01, ell=0.5
    )
    assert per_run.shape == (3, lay["n_runs"])
    for i, s in enumerate(sigmas[:, 0]):
        expected = _dense_logp(r, run, d, s, 0.01, 0.5)
        assert per_run[i].sum() == pytest.approx(expected, rel=1e-10)
        assert per_run[i] == pytest.approx(
            curve_logp_runs(r, **lay, sigma=s, sigma_run=0.01, ell=0.5), rel=1e-12
        )


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


def test_simulated_curves_give_back_their_noise():
    """Curves simulated with run offsets and OU noise: maximum likelihood on their residuals
    (the law and schedule term known) returns sigma, sigma_run and ell near the truth, and the
    simulated table passes load_runs' curve checks."""
    import pandas as pd
    from scipy.optimize import minimize

    import bayescale as bs
    from bayescale.curves import schedule_remaining
    from bayescale.simulate import simulate_curves

    law = bs.ChinchillaLaw()
    p = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
    plan = pd.DataFrame({"N": np.repeat(np.geomspace(1e8, 1e9, 10), 6)})
    plan["D"] = plan["N"] * np.tile([5.0, 10, 20, 50, 100, 200], 10)
    truth = dict(sigma=0.004, sigma_run=0.006, ell=0.4)
    curves = bs.load_runs(simulate_curves(law, p, plan, schedule=0.05, seed=3, **truth))
    g = schedule_remaining(curves)
    mu = np.log(law.predict(p, N=curves["N"].to_numpy(), D=curves["D"].to_numpy()) + 0.05 * g)
    r = np.log(curves["loss"].to_numpy()) - mu
    lay = curve_layout(curves["run"].to_numpy(), curves["D"].to_numpy())

    def nll(t):
        s, s_run, ell = np.exp(t)
        return -curve_logp(r, **lay, sigma=s, sigma_run=s_run, ell=ell)

    found = np.exp(minimize(nll, np.log([0.01, 0.01, 1.0]), method="Nelder-Mead").x)
    # worst relative errors over seeds 0-9: 8% (sigma), 19% (sigma_run: 60 runs), 21% (ell)
    tolerance = {"sigma": 0.25, "sigma_run": 0.4, "ell": 0.35}
    for value, (name, true) in zip(found, truth.items(), strict=True):
        assert value == pytest.approx(true, rel=tolerance[name]), name
