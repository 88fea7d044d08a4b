"""Extrapolation drift: the law's error that grows with distance beyond the fitted runs.

A fitted law describes its training runs up to noise, but the runs it is asked about lie beyond
them, where the functional form is only an assumption. Backtests on real data show the cost:
on the Chinchilla runs the held-out larger runs miss the law's prediction by about three times
the in-sample noise, and systematically (they beat the law) — the law's parameter uncertainty
cannot represent that, so intervals built from parameters and noise alone under-cover.

bayescale models the discrepancy between law and reality beyond the data as a Brownian motion in
log compute: a run at compute ``C`` above the largest fitted run ``C_max`` gets an extra Normal
term on the observation scale with variance ``tau**2 * log10(C / C_max)``. ``tau`` is learned
from the runs themselves by a leave-future-out refit: hold out the top ``holdout_fraction`` of
the runs by compute, fit the rest, and maximise ``r_i ~ Normal(0, v_i + tau**2 d_i)`` over the
held-out runs (or solve ``E[r**2] = v + tau**2 d`` by least squares, ``method="moments"``), where
``r`` is the error of the posterior-mean prediction, ``v`` its predictive variance (parameters
and noise) and ``d`` the distance in decades. Nothing beyond the training runs is used, so a
backtest stays honest.

This module holds the maths (the drift's standard deviation, adding it to predictions, ``tau``
from held-out residuals); the leave-future-out refit itself is
:func:`bayescale.fitting.estimate_drift`, one step of the fit pipeline.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import constants as K
from .exceptions import ConfigError

__all__ = [
    "drift_sd",
    "with_drift",
    "tpp_drift_sd",
    "with_tpp_drift",
    "tau_from_residuals",
    "tau_posterior",
    "tau_prior",
    "prior_scale",
    "INNER_FIT",
]

HOLDOUT_FRACTION = 0.2
#: Settings of the inner (leave-future-out) fit: small, it only feeds a variance estimate.
INNER_FIT = {"draws": 300, "tune": 300, "chains": 2}


def drift_sd(tau: float | None, compute: Any, compute_max: float) -> np.ndarray:
    """Standard deviation of the drift term at ``compute`` (0 inside the fitted range).

    Examples
    --------
    >>> drift_sd(0.02, [1e20, 1e22, 1e23], 1e21).round(4).tolist()
    [0.0, 0.02, 0.0283]
    """
    c = np.asarray(compute, dtype=float)
    if tau is None or tau <= 0:
        return np.zeros_like(c)
    return tau * np.sqrt(np.maximum(np.log10(c / compute_max), 0.0))


def with_drift(
    fit: Any, centre: Any, compute: Any, rng: np.random.Generator, group: str | None = None
) -> Any:
    """``centre`` (observation scale, posterior draws first) plus one draw of the fit's drift
    per element at ``compute``; ``centre`` unchanged (and no random numbers drawn) when the fit
    has no drift. Where the fit carries draws of ``tau`` (its posterior given the inner
    held-out runs), each posterior draw gets its own ``tau``, so the drift's own estimation
    uncertainty widens the intervals too. ``group`` (a pooled fit's): the distance is measured
    from that group's largest run."""
    info = fit.settings.get("drift", {})
    tau = info.get("tau")
    taus = info.get("tau_draws")
    if not tau and not taus:
        return centre
    c = fit.runs[K.C]
    if group is not None and K.GROUP in fit.runs:
        mine = fit.runs[K.GROUP].astype(str) == str(group)
        c = c[mine] if mine.any() else c
    c_max = float(c.max())
    shape = np.shape(centre)
    if taus:
        t = rng.choice(np.asarray(taus, float), size=shape[0]).reshape(
            -1, *([1] * (len(shape) - 1))
        )
        sd = t * drift_sd(1.0, compute, c_max)
    else:
        sd = drift_sd(tau, compute, c_max)
    return centre + sd * rng.standard_normal(shape)


def tpp_drift_sd(tau: float | None, n: Any, d: Any, tpp_min: float) -> np.ndarray:
    """Standard deviation of the tokens-per-parameter drift at ``(n, d)``: ``tau`` times the
    square root of the decades of ``D / N`` below ``tpp_min`` (0 at or above it).

    Examples
    --------
    >>> tpp_drift_sd(0.04, [1e9, 1e9, 1e9], [2e10, 1e10, 1e9], 20.0).round(4).tolist()
    [0.0, 0.0219, 0.0456]
    """
    tpp = np.asarray(d, dtype=float) / np.asarray(n, dtype=float)
    if tau is None or tau <= 0:
        return np.zeros_like(tpp)
    return tau * np.sqrt(np.maximum(np.log10(tpp_min / tpp), 0.0))


def with_tpp_drift(fit: Any, centre: Any, n: Any, d: Any, rng: np.random.Generator) -> Any:
    """``centre`` (observation scale, posterior draws first) plus one draw of the fit's
    tokens-per-parameter drift per element at ``(n, d)``: a curve fit's law is extrapolated
    below the fitted runs' smallest ``D / N``, and the drift's scale is learned from the
    checkpoints its rule left out there (:func:`bayescale.tpp_drift.estimate_tpp_drift`).
    ``centre`` unchanged, and no random numbers drawn, when the fit has no such drift or no
    point lies below the range."""
    info = fit.settings.get("drift", {}).get("tpp") or {}
    taus, tau = info.get("tau_draws"), info.get("tau")
    if not (taus or tau) or n is None or d is None:
        return centre
    base = tpp_drift_sd(1.0, n, d, float(info["tpp_min"]))
    if not np.any(base > 0):
        return centre
    shape = np.shape(centre)
    if taus:  # each posterior draw its own tau (drift="mle"); else the point value ("moments")
        t = rng.choice(np.asarray(taus, float), size=shape[0])
        tau = t.reshape(-1, *([1] * (len(shape) - 1)))
    return centre + tau * base * rng.standard_normal(shape)


#: How ``tau`` is estimated from the held-out residuals (see :func:`tau_from_residuals`).
DRIFT_METHODS = ("moments", "mle")


def check_drift_method(method: str) -> str:
    if method not in DRIFT_METHODS:
        raise ConfigError(f"drift method must be one of {DRIFT_METHODS}, got {method!r}")
    return method


def tau_from_residuals(
    r: np.ndarray, v: np.ndarray, d: np.ndarray, method: str = "mle"
) -> dict[str, Any]:
    """``tau`` from held-out residuals ``r``, their predictive variances ``v`` (parameters and
    noise) and distances ``d`` (decades of compute beyond the fitted runs), under
    ``r_i ~ Normal(0, v_i + tau**2 d_i)``.

    ``method="mle"`` maximises that likelihood, which weighs each run by its own predictive
    variance (under ``noise="offopt"`` the noisy runs far from the optimum then do not mask the
    drift of the runs near it), and adds ``tau_draws`` (:func:`tau_posterior`);
    ``"moments"`` solves ``E[r**2] = v + tau**2 d`` by least squares, weighing every run alike.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = rng.uniform(0.1, 1.5, 4000); v = np.full(4000, 1e-4)
    >>> r = rng.normal(0, np.sqrt(v + 0.02**2 * d))
    >>> round(tau_from_residuals(r, v, d)["tau"], 3)
    0.02
    """
    check_drift_method(method)
    tau2 = _tau2_mle(r, v, d) if method == "mle" else _tau2_moments(r, v, d)
    extra = {"tau_draws": tau_posterior(r, v, d).round(6).tolist()} if method == "mle" else {}
    return {"tau": float(np.sqrt(tau2)), **extra, "method": method}


def _tau2_moments(r: np.ndarray, v: np.ndarray, d: np.ndarray) -> float:
    return max(0.0, float(np.sum((r**2 - v) * d) / np.sum(d**2)))


def _loglik(tau2: Any, r: np.ndarray, v: np.ndarray, d: np.ndarray) -> Any:
    """Log-likelihood of ``tau**2`` (a scalar or a 1-d grid) under
    ``r_i ~ Normal(0, v_i + tau**2 d_i)``, up to a constant."""
    s = v + np.asarray(tau2, dtype=float)[..., None] * d
    return -0.5 * np.sum(np.log(s) + r**2 / s, axis=-1)


def _tau2_mle(r: np.ndarray, v: np.ndarray, d: np.ndarray) -> float:
    """Maximum-likelihood ``tau**2 >= 0`` under ``r_i ~ Normal(0, v_i + tau**2 d_i)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = rng.uniform(0.1, 1.5, 4000); v = np.full(4000, 1e-4)
    >>> r = rng.normal(0, np.sqrt(v + 0.02**2 * d))
    >>> round(float(np.sqrt(_tau2_mle(r, v, d))), 3)
    0.02
    """
    from scipy import optimize

    def nll(log_t2: float) -> float:
        return -float(_loglik(np.exp(log_t2), r, v, d))

    res = optimize.minimize_scalar(nll, bounds=(-30.0, 2.0), method="bounded")
    return float(np.exp(res.x)) if nll(res.x) < nll(-30.0) else 0.0


#: Prior on ``tau`` (log loss per sqrt decade of compute): HalfNormal with this scale, learned
#: from the shipped data sets by :func:`prior_scale` (``python scripts/drift_prior.py``; the
#: numbers in ``docs/drift_prior.md``). A fit with few runs gets its drift from this prior
#: (updated by whatever held-out runs it has), so a small ladder's far extrapolations widen too.
TAU_PRIOR_SCALE = 0.044

_GRID_POINTS = 3001


def _grid(scale: float) -> np.ndarray:
    return np.linspace(0.0, 6 * scale, _GRID_POINTS)


def _quantiles(grid: np.ndarray, logp: np.ndarray, n: int) -> np.ndarray:
    w = np.exp(logp - logp.max())
    cdf = np.cumsum(w) / np.sum(w)
    return np.interp((np.arange(n) + 0.5) / n, cdf, grid)


def tau_posterior(
    r: np.ndarray, v: np.ndarray, d: np.ndarray, n: int = 200, scale: float = TAU_PRIOR_SCALE
) -> np.ndarray:
    """``n`` evenly spaced quantiles of the posterior of ``tau`` under
    ``r_i ~ Normal(0, v_i + tau**2 d_i)`` and a HalfNormal(``scale``) prior, computed on a grid
    (deterministic: no random numbers). With no residuals it is the prior's quantiles.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = rng.uniform(0.1, 1.5, 400); v = np.full(400, 1e-4)
    >>> r = rng.normal(0, np.sqrt(v + 0.02**2 * d))
    >>> q = tau_posterior(r, v, d)
    >>> bool(q[10] < 0.02 < q[-10])
    True
    """
    grid = _grid(scale)
    r, v, d = (np.asarray(a, dtype=float) for a in (r, v, d))
    logp = _loglik(grid**2, r, v, d) - 0.5 * (grid / scale) ** 2
    return _quantiles(grid, logp, n)


def tau_prior(n: int = 200, scale: float = TAU_PRIOR_SCALE) -> np.ndarray:
    """``n`` evenly spaced quantiles of the prior of ``tau`` (what a fit too small to hold runs
    out gets).

    Examples
    --------
    >>> q = tau_prior(scale=0.05)
    >>> round(float(np.median(q)), 3)  # HalfNormal(0.05): median 0.674 * 0.05
    0.034
    """
    return tau_posterior(np.zeros(0), np.zeros(0), np.zeros(0), n=n, scale=scale)


def log_marginal(r: np.ndarray, v: np.ndarray, d: np.ndarray, scale: float) -> float:
    """Log of ``p(r | scale) = integral of Normal(r; 0, v + tau**2 d) HalfNormal(tau; scale)``
    over ``tau`` (grid quadrature, with the Normal constants), for :func:`prior_scale`."""
    grid = np.linspace(0.0, 12 * scale, 6001)
    s = v + grid[:, None] ** 2 * d
    loglik = -0.5 * np.sum(np.log(2 * np.pi * s) + r**2 / s, axis=-1)
    logprior = np.log(2.0) - 0.5 * np.log(2 * np.pi * scale**2) - 0.5 * (grid / scale) ** 2
    f = loglik + logprior
    m = f.max()
    return float(m + np.log(np.trapezoid(np.exp(f - m), grid)))


def prior_scale(residual_sets: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict:
    """Empirical Bayes: the HalfNormal scale of ``tau`` that makes the held-out residuals of
    several data sets most likely, each set with its own ``tau`` drawn from the prior
    (``tau_j ~ HalfNormal(scale)``; maximises the sum of :func:`log_marginal` over sets).

    Returns ``{"scale", "per_set_mle"}`` (each set's own maximum-likelihood ``tau``).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> sets = []
    >>> for tau in np.abs(rng.normal(0, 0.03, 40)):
    ...     d = rng.uniform(0.1, 1.0, 30); v = np.full(30, 1e-6)
    ...     sets.append((rng.normal(0, np.sqrt(v + tau**2 * d)), v, d))
    >>> bool(0.02 < prior_scale(sets)["scale"] < 0.045)
    True
    """
    from scipy import optimize

    def nll(log_s: float) -> float:
        return -sum(log_marginal(r, v, d, float(np.exp(log_s))) for r, v, d in residual_sets)

    res = optimize.minimize_scalar(nll, bounds=(np.log(1e-4), np.log(0.5)), method="bounded")
    mles = [float(np.sqrt(_tau2_mle(r, v, d))) for r, v, d in residual_sets]
    return {"scale": float(np.exp(res.x)), "per_set_mle": mles}
