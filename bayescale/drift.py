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
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from . import constants as K
from .laws.base import Law

__all__ = ["estimate_drift", "drift_sd", "with_drift", "MIN_RUNS", "INNER_FIT"]

#: Fewer runs than this: no drift is estimated (``tau`` is None: intervals from the law only).
MIN_RUNS = 30
HOLDOUT_FRACTION = 0.2
#: Settings of the inner (leave-future-out) fit: small, it only feeds a variance estimate.
INNER_FIT = {"draws": 300, "tune": 300, "chains": 2}


def _noise_variance(law: Law, p: dict[str, np.ndarray], logx: dict[str, np.ndarray]) -> Any:
    scale = law.with_noise(law.numpy_params(p), logx, np)
    sigma = np.asarray(scale["sigma"])
    lik = law.likelihood
    if lik.kind == "normal":
        return sigma**2
    nu = np.asarray(p["nu"]) if lik.free_nu else lik.nu
    return sigma**2 * np.where(np.asarray(nu) > 2.5, nu / np.maximum(nu - 2.0, 0.5), 5.0)


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


def with_drift(fit: Any, centre: Any, compute: Any, rng: np.random.Generator) -> Any:
    """``centre`` (observation scale, posterior draws first) plus one draw of the fit's drift
    per element at ``compute``; ``centre`` unchanged (and no random numbers drawn) when the fit
    has no drift. Where the fit carries draws of ``tau`` (its posterior given the inner
    held-out runs), each posterior draw gets its own ``tau``, so the drift's own estimation
    uncertainty widens the intervals too."""
    info = fit.settings.get("drift", {})
    tau = info.get("tau")
    if not tau:
        return centre
    c_max = float(fit.runs[K.C].max())
    shape = np.shape(centre)
    taus = info.get("tau_draws")
    if taus:
        t = rng.choice(np.asarray(taus, float), size=shape[0]).reshape(
            -1, *([1] * (len(shape) - 1))
        )
        sd = t * drift_sd(1.0, compute, c_max)
    else:
        sd = drift_sd(tau, compute, c_max)
    return centre + sd * rng.standard_normal(shape)


METHODS = ("moments", "mle")


def estimate_drift(
    law: Law,
    runs: pd.DataFrame,
    *,
    seed: int = 0,
    sampler: str = "nutpie",
    target_accept: float = 0.9,
    holdout_fraction: float = HOLDOUT_FRACTION,
    method: str = "mle",
) -> dict[str, Any]:
    """Learn the drift scale ``tau`` (per square-root decade of compute) from ``runs``.

    ``method="mle"`` (default) maximises the Normal likelihood ``r ~ Normal(0, v + tau**2 d)``,
    which weighs each run by its own predictive variance (under ``noise="offopt"`` the noisy
    runs far from the optimum then do not mask the drift of the runs near it);
    ``"moments"`` solves ``E[r**2] = v + tau**2 d`` by least squares, weighing every run alike.

    Returns ``{"tau", "method", "n_inner_train", "n_inner_test", "inner_cutoff", "note"}``;
    ``tau`` is None (no drift) for pooled laws and when there are fewer than :data:`MIN_RUNS`
    runs.
    """
    if method not in METHODS:
        from .exceptions import ConfigError

        raise ConfigError(f"drift method must be one of {METHODS}, got {method!r}")
    from .backtest import split_by_compute
    from .sampling import fit_law

    if law.grouped:
        return {"tau": None, "note": "not estimated for pooled fits"}
    if len(runs) < MIN_RUNS:
        return {"tau": None, "note": f"not estimated: fewer than {MIN_RUNS} runs"}
    train, test, cutoff = split_by_compute(runs, holdout_top_fraction=holdout_fraction)
    if len(train) <= 2 * law.n_free or len(test) < 3 or train[K.C].max() <= 0:
        return {"tau": None, "note": "not estimated: too few runs on one side of the split"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inner = fit_law(
            law,
            train,
            seed=seed,
            sampler=sampler,
            target_accept=target_accept,
            drift=False,
            **INNER_FIT,
        )
    post = inner.posterior
    p = {n: post[n].to_numpy().reshape(-1, 1) for n in law.sampled_params}
    inputs = {x: test[x].to_numpy(float) for x in law.inputs}
    with np.errstate(all="ignore"):
        mu = law.to_observed(law.predict(p, **inputs))
        noise = _noise_variance(law, p, {x: np.log(v) for x, v in inputs.items()})
    y = law.to_observed(test[law.target].to_numpy(float))
    r = y - mu.mean(axis=0)
    v = mu.var(axis=0) + np.broadcast_to(noise, mu.shape).mean(axis=0)
    d = np.log10(test[K.C].to_numpy(float) / train[K.C].max())
    ok = np.isfinite(r) & np.isfinite(v) & (d > 0)
    if ok.sum() < 3:
        return {"tau": None, "note": "not estimated: held-out runs share the largest compute"}
    r, v, d = r[ok], v[ok], d[ok]
    tau2 = _tau2_mle(r, v, d) if method == "mle" else _tau2_moments(r, v, d)
    extra = {"tau_draws": tau_posterior(r, v, d).round(6).tolist()} if method == "mle" else {}
    return {
        "tau": float(np.sqrt(tau2)),
        **extra,
        "method": method,
        "n_inner_train": int(len(train)),
        "n_inner_test": int(ok.sum()),
        "inner_cutoff": float(cutoff),
        "note": "leave-future-out estimate (see bayescale.drift)",
    }


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


#: Prior on ``tau`` for its posterior: HalfNormal with this scale (log loss per sqrt decade).
TAU_PRIOR_SCALE = 0.05


def tau_posterior(r: np.ndarray, v: np.ndarray, d: np.ndarray, n: int = 200) -> np.ndarray:
    """``n`` evenly spaced quantiles of the posterior of ``tau`` under
    ``r_i ~ Normal(0, v_i + tau**2 d_i)`` and a HalfNormal(:data:`TAU_PRIOR_SCALE`) prior,
    computed on a grid (deterministic: no random numbers).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = rng.uniform(0.1, 1.5, 400); v = np.full(400, 1e-4)
    >>> r = rng.normal(0, np.sqrt(v + 0.02**2 * d))
    >>> q = tau_posterior(r, v, d)
    >>> bool(q[10] < 0.02 < q[-10])
    True
    """
    grid = np.linspace(0.0, 6 * TAU_PRIOR_SCALE, 3001)
    logp = _loglik(grid**2, r, v, d) - 0.5 * (grid / TAU_PRIOR_SCALE) ** 2
    w = np.exp(logp - logp.max())
    cdf = np.cumsum(w) / np.sum(w)
    return np.interp((np.arange(n) + 0.5) / n, cdf, grid)
