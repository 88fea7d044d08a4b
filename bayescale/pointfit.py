"""The usual point-fit practice, as a baseline: Huber loss on log loss, L-BFGS from a grid of
starts, intervals from resampling runs (Hoffmann et al. 2022; Besiroglu et al. 2024).

Parameters are optimised on the log scale where their prior's support is positive, on the raw
scale otherwise. :func:`bootstrap_draws` returns parameter draws (one per resample) in the same
form as posterior draws, so backtests score both the same way.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from . import constants as K
from .laws.base import Law
from .priors import draw_prior
from .threads import single_threaded_blas

__all__ = ["huber_fit", "bootstrap_draws", "HUBER_DELTA"]

HUBER_DELTA = 1e-3
#: L-BFGS runs from this many of the grid's starts, those with the lowest objective.
SCREEN_KEEP = 12
_POSITIVE = {"HalfNormal", "LogNormal", "Gamma", "HalfCauchy", "Exponential", "HalfStudentT"}


def _positive(law: Law, name: str) -> bool:
    prior = law.priors[name]
    if prior.distribution in _POSITIVE:
        return True
    return prior.distribution == "TruncatedNormal" and prior.parameters.get("lower", -1) >= 0


def _huber(r: np.ndarray, delta: float) -> np.ndarray:
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))


def _unpack(law: Law, theta: np.ndarray) -> dict[str, float]:
    return {
        name: float(np.exp(v)) if _positive(law, name) else float(v)
        for name, v in zip(law.params, theta, strict=True)
    }


def _objective(law: Law, runs: pd.DataFrame, delta: float):
    logx = {x: np.log(runs[x].to_numpy(float)) for x in law.inputs}
    y = law.to_observed(runs[law.target].to_numpy(float))

    def f(theta: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            mu = law.location(law.numpy_params(_unpack(law, theta)), logx, np)
        value = float(np.sum(_huber(mu - y, delta)))
        return value if np.isfinite(value) else 1e30

    return f


def _grid(law: Law, size: int = 3) -> list[np.ndarray]:
    """Starts: for each parameter, a few values spread around its prior's median."""
    axes = []
    for name in law.params:
        qs = np.quantile(draw_prior(law.priors[name], 400), np.linspace(0.2, 0.8, size))
        axes.append(np.log(np.maximum(qs, 1e-12)) if _positive(law, name) else qs)
    return [np.array(p) for p in itertools.product(*axes)]


def huber_fit(
    law: Law,
    runs: pd.DataFrame,
    *,
    delta: float = HUBER_DELTA,
    starts: list[np.ndarray] | None = None,
) -> dict[str, float]:
    """Minimise the Huber loss of log-loss residuals; best point estimate.

    The grid's starts are screened first: the objective is evaluated at each, and L-BFGS runs
    from the :data:`SCREEN_KEEP` best (explicit ``starts`` are all used).
    """
    f = _objective(law, runs, delta)
    best, best_val = None, np.inf
    if starts is None:
        grid = _grid(law)
        values = np.array([f(x0) for x0 in grid])
        starts = [grid[i] for i in np.argsort(values, kind="stable")[:SCREEN_KEEP]]
    with warnings.catch_warnings(), single_threaded_blas():
        warnings.simplefilter("ignore")
        for x0 in starts:
            res = optimize.minimize(f, x0, method="L-BFGS-B")
            if res.fun < best_val:
                best, best_val = res.x, res.fun
    return _unpack(law, best)


def bootstrap_draws(
    law: Law,
    runs: pd.DataFrame,
    *,
    n_boot: int = 200,
    seed: int = 0,
    delta: float = HUBER_DELTA,
) -> dict[str, Any]:
    """Point estimate on all runs, then one refit per resample of the runs (started at the
    point estimate). Returns draws of the law's parameters (arrays of ``n_boot``) and
    ``sigma``, the residual scale of the point fit (for predictive noise)."""
    point = huber_fit(law, runs, delta=delta)
    x0 = np.array([np.log(point[n]) if _positive(law, n) else point[n] for n in law.params])
    rng = np.random.default_rng(seed)
    draws = {n: np.empty(n_boot) for n in law.params}
    with warnings.catch_warnings(), single_threaded_blas():
        warnings.simplefilter("ignore")
        for b in range(n_boot):
            sample = runs.iloc[rng.integers(0, len(runs), len(runs))].reset_index(drop=True)
            res = optimize.minimize(_objective(law, sample, delta), x0, method="L-BFGS-B")
            for n, v in _unpack(law, res.x).items():
                draws[n][b] = v
    logx = {x: np.log(runs[x].to_numpy(float)) for x in law.inputs}
    resid = law.location(law.numpy_params(point), logx, np) - law.to_observed(
        runs[law.target].to_numpy(float)
    )
    sigma = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))  # robust scale
    return {
        "point": point,
        "draws": draws,
        "sigma": sigma,
        "n_runs": len(runs),
        "compute_max": float(runs[K.C].max()),
    }


# ------------------------------------------------------------------ fast point-fit modes
POINT_METHODS = ("map", "bootstrap")


def map_estimate(law: Law, runs: pd.DataFrame, *, start: dict[str, float] | None = None) -> dict:
    """Maximum a posteriori estimate of every sampled parameter (priors included).

    Optimises the posterior density of the named parameters (PyMC's ``find_MAP``: L-BFGS on the
    unconstrained scale without the Jacobian, so the mode is that of the named parameters),
    started from the Huber point fit so the strongly correlated amplitude/exponent pairs need
    no search.
    """
    import pymc as pm

    from .sampling import build_naive_model

    if start is None:
        start = huber_fit(law, runs)
    model = build_naive_model(law, runs)
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        init = {n: v for n, v in start.items() if n in law.sampled_params}
        init.setdefault("sigma", 0.02)  # initial values on the named parameters' own scale
        for name in law.noise_params:  # e.g. sigma_slope: start near constant noise
            init.setdefault(name, 0.1)
        point = pm.find_MAP(start=init, progressbar=False, maxeval=20000)
    return {n: float(np.asarray(point[n])) for n in law.sampled_params}


def point_fit(
    law: Law,
    runs: pd.DataFrame,
    *,
    method: str = "map",
    n_boot: int = 200,
    seed: int = 0,
    exclude_top_loss: int = 0,
):
    """Fast point-estimate modes, returned as a :class:`~bayescale.fit.Fit` so the prediction
    layer works unchanged.

    ``method="map"``: the posterior mode (one draw: every interval collapses to the estimate —
    a point fit says nothing about uncertainty). ``method="bootstrap"``: the usual practice,
    Huber fits on ``n_boot`` resamples of the runs, one draw each, with the noise scale fixed at
    the point fit's robust residual scale (constant: any noise-model parameter such as
    ``sigma_slope`` is set to 0, as in the usual practice). Neither is MCMC:
    ``fit.diagnostics`` says so.
    """
    import time

    import xarray as xr

    from .curves import final_checkpoints
    from .exceptions import ConfigError
    from .fit import Fit
    from .splits import split_top_loss

    if method not in POINT_METHODS:
        raise ConfigError(f"method must be one of {POINT_METHODS}, got {method!r}")
    if law.grouped or law.likelihood.noise_params != ("sigma",):
        raise ConfigError(
            f"method={method!r} supports ungrouped laws with a fixed likelihood shape; "
            "use MCMC (the default) for this law"
        )
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 2:
        raise ConfigError(f"n_boot must be an integer >= 2, got {n_boot!r}")
    runs = final_checkpoints(law.load_runs(runs))
    runs, excluded = split_top_loss(runs, exclude_top_loss, target=law.target)
    t0 = time.perf_counter()
    if method == "map":
        start = huber_fit(law, runs, starts=_grid(law, size=2))
        values = {n: np.array([[v]]) for n, v in map_estimate(law, runs, start=start).items()}
    else:
        boot = bootstrap_draws(law, runs, n_boot=n_boot, seed=seed)
        values = {n: v[None, :] for n, v in boot["draws"].items()}
        values["sigma"] = np.full((1, n_boot), boot["sigma"])
        values.update({n: np.zeros((1, n_boot)) for n in law.noise_params})
    posterior = xr.Dataset({n: ((K.CHAIN, K.DRAW), v) for n, v in values.items()})
    settings = {
        "method": method,
        "seed": int(seed),
        "chains": 1,
        "draws": int(posterior.sizes[K.DRAW]),
        "exclude_top_loss": int(exclude_top_loss),
        "timing": {"fit_s": time.perf_counter() - t0},
    }
    if method == "bootstrap":
        settings.update(n_boot=int(n_boot), huber_delta=HUBER_DELTA)
    return Fit.from_samples(
        law, runs, posterior, xr.Dataset(), settings=settings, excluded=excluded, method=method
    )
