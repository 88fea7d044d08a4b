"""Random-effects meta-analysis: what one parameter will be in a new data set.

Given a parameter's estimate in each of several data sets (``y_k``, with its variance ``v_k``),
the normal random-effects model says each data set has its own value,
``theta_k ~ Normal(mu, tau**2)``, measured as ``y_k ~ Normal(theta_k, v_k)``. The quantity a
prior for a *new* data set needs is the posterior predictive of ``theta_new``: the population
mean ``mu`` is uncertain (few data sets), and so is the spread ``tau`` between them.

With a flat prior on ``mu`` and ``tau ~ HalfNormal(tau_scale)``, ``mu`` integrates out in
closed form and ``tau`` is one-dimensional, so the posterior is computed exactly on a grid (no
sampling; Gelman et al., *Bayesian Data Analysis*, section 5.4):

- ``p(tau | y) ∝ p(tau) V(tau)**0.5 prod_k Normal(y_k | mû(tau), v_k + tau**2)``, with
  ``mû(tau)`` the precision-weighted mean of the estimates and ``V(tau)`` its variance;
- ``theta_new | tau, y ~ Normal(mû(tau), V(tau) + tau**2)``, mixed over ``p(tau | y)``.

:func:`predictive` returns that mixture's mean and standard deviation (a Normal prior matched
to its first two moments) and the spread's posterior median.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .exceptions import ConfigError

__all__ = ["predictive"]

#: Grid points over tau in (0, GRID_SPAN * tau_scale].
GRID = 4001
GRID_SPAN = 8.0


def predictive(estimates: Any, variances: Any, tau_scale: float) -> dict[str, float]:
    """Posterior predictive of a new data set's value of one parameter.

    Parameters
    ----------
    estimates, variances
        Each data set's estimate of the parameter and the variance of that estimate (e.g. a
        posterior mean and variance), one per data set.
    tau_scale
        Scale of the HalfNormal prior on the spread between data sets.

    Returns
    -------
    dict
        ``mean`` and ``sd`` of the predictive (its mean is the population mean's posterior
        mean), ``tau`` (posterior median of the spread) and ``n`` (data sets).

    Examples
    --------
    Three data sets that agree closely leave the spread small but not ruled out (three values
    say little about a spread), so the predictive is wider than any one estimate's error:

    >>> r = predictive([0.30, 0.31, 0.29], [1e-4, 1e-4, 1e-4], tau_scale=0.25)
    >>> round(r["mean"], 3), round(r["sd"], 3), round(r["tau"], 3)
    (0.3, 0.063, 0.015)

    With a tight prior on the spread it is the pooled estimate's own error:

    >>> round(predictive([0.30, 0.31, 0.29], [1e-4] * 3, tau_scale=1e-4)["sd"], 4)
    0.0058

    Estimates far apart give a predictive about as wide as their spread:

    >>> r = predictive([0.2, 0.35, 0.5], [1e-4, 1e-4, 1e-4], tau_scale=0.25)
    >>> 0.1 < r["tau"] < 0.3, r["sd"] > 0.12
    (True, True)
    """
    y = np.asarray(estimates, dtype=float).ravel()
    v = np.asarray(variances, dtype=float).ravel()
    if y.size == 0 or y.shape != v.shape:
        raise ConfigError("need one estimate and one variance per data set (at least one)")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(v)) and np.all(v >= 0)):
        raise ConfigError("estimates must be finite and variances finite and non-negative")
    if not (np.isfinite(tau_scale) and tau_scale > 0):
        raise ConfigError(f"tau_scale must be positive, got {tau_scale}")
    tau = np.linspace(0.0, GRID_SPAN * tau_scale, GRID)[:, None]
    total = v[None, :] + tau**2
    # the spread's grid starts at 0: a data set measured exactly (v = 0) would be singular there
    total = np.maximum(total, 1e-12 * tau_scale**2)
    w = 1.0 / total
    mu_hat = (w * y).sum(axis=1) / w.sum(axis=1)
    v_mu = 1.0 / w.sum(axis=1)
    log_post = (
        -0.5 * (tau[:, 0] / tau_scale) ** 2
        + 0.5 * np.log(v_mu)
        - 0.5 * np.log(total).sum(axis=1)
        - 0.5 * (w * (y[None, :] - mu_hat[:, None]) ** 2).sum(axis=1)
    )
    p = np.exp(log_post - log_post.max())
    p /= p.sum()
    mean = float((p * mu_hat).sum())
    second = float((p * (v_mu + tau[:, 0] ** 2 + mu_hat**2)).sum())
    cdf = np.cumsum(p)
    return {
        "mean": mean,
        "sd": float(np.sqrt(max(second - mean**2, 0.0))),
        "tau": float(tau[np.searchsorted(cdf, 0.5), 0]),
        "n": int(y.size),
    }
