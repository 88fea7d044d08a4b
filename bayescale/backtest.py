"""Backtests: fit on the smaller runs, predict the held-out larger ones, score the intervals.

The question behind every scaling-law fit is whether the big run lands where the law says.
:func:`backtest` holds out the runs above a compute cut-off (or the top fraction by compute),
fits the law on the rest, and scores each held-out run's posterior-predictive distribution
(run-to-run noise included): coverage of the central 50 / 80 / 90% intervals, interval width on
the log scale, error of the median, CRPS and log predictive density, and the extrapolation
factor in compute. :func:`backtest_sweep` repeats this over several cut-offs.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from . import constants as K
from .curves import final_checkpoints, has_curves
from .drift import with_drift, with_tpp_drift
from .exceptions import ConfigError, DataError
from .laws.base import Law
from .splits import split_by_compute, split_by_mask

__all__ = ["split_by_compute", "backtest", "backtest_sweep", "score_predictive"]

LEVELS = (0.5, 0.8, 0.9)


def score_predictive(draws: np.ndarray, y: np.ndarray, logpdf: np.ndarray | None = None) -> dict:
    """Scores of predictive draws (draws x runs, observation scale) against outcomes ``y``.

    Returns per-run arrays: ``covered_<level>``, ``width_<level>``, ``median``, ``crps`` (sample
    estimate ``E|X - y| - E|X - X'| / 2``) and, given pointwise log densities per draw,
    ``lpd`` (log of the mean predictive density).
    """
    out: dict[str, Any] = {"median": np.median(draws, axis=0)}
    for level in LEVELS:
        q = (1 - level) / 2
        lo, hi = np.quantile(draws, [q, 1 - q], axis=0)
        out[f"covered_{level}"] = (y >= lo) & (y <= hi)
        out[f"width_{level}"] = hi - lo
    term1 = np.mean(np.abs(draws - y), axis=0)
    half = draws.shape[0] // 2
    term2 = np.mean(np.abs(draws[:half] - draws[half : 2 * half]), axis=0)
    out["crps"] = term1 - 0.5 * term2
    if logpdf is not None:
        out["lpd"] = logsumexp(logpdf, axis=0) - np.log(logpdf.shape[0])
    return out


def _bayes_predictive(law: Law, fit: Any, test: pd.DataFrame, seed: int):
    """Posterior-predictive draws of the held-out runs on the observation scale (a pooled
    fit's runs from their own group's parameters)."""
    rng = np.random.default_rng(seed)
    if not law.grouped:
        return _predictive_draws(law, fit, test, rng, None)
    groups = test[K.GROUP].astype(str).to_numpy()
    draws = logpdf = None
    for g in dict.fromkeys(groups):
        rows = groups == g
        d, lp = _predictive_draws(law, fit, test[rows], rng, g)
        if draws is None:
            draws = np.empty((d.shape[0], len(test)))
            logpdf = np.empty_like(draws)
        draws[:, rows], logpdf[:, rows] = d, lp
    return draws, logpdf


def _predictive_draws(law: Law, fit: Any, test: pd.DataFrame, rng, group: str | None):
    inputs = {x: test[x].to_numpy(float) for x in law.inputs}
    mu, p = law.predictive(fit.draws(group), **inputs)
    # one drift value per draw and run: the predictive is the mixture over draws
    mu = with_drift(fit, mu, test[K.C].to_numpy(float), rng, group)
    mu = with_tpp_drift(fit, mu, test.get(K.N), test.get(K.D), rng)
    draws = law.likelihood.sample(rng, mu, p)
    y = law.to_observed(test[law.target].to_numpy(float))
    return draws, np.broadcast_to(law.likelihood.logpdf(y, mu, p), draws.shape)


def _bootstrap_predictive(
    law: Law, train: pd.DataFrame, test: pd.DataFrame, seed: int, n_boot: int
):
    """Predictive draws of the point-fit baseline: one law prediction per bootstrap refit plus
    Normal noise at the point fit's robust residual scale (on the observation scale)."""
    from .pointfit import bootstrap_draws

    boot = bootstrap_draws(law, train, n_boot=n_boot, seed=seed)
    params = {n: v.reshape(-1, 1) for n, v in boot["draws"].items()}
    inputs = {x: test[x].to_numpy(float) for x in law.inputs}
    mu = law.to_observed(law.predict(params, **inputs))
    sigma = max(boot["sigma"], 1e-6)
    rng = np.random.default_rng(seed)
    draws = mu + sigma * rng.standard_normal(mu.shape)
    y = law.to_observed(test[law.target].to_numpy(float))
    logpdf = -0.5 * ((y - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)
    return draws, logpdf


BACKTEST_METHODS = ("bayes", "bootstrap")


def backtest(
    law: Law,
    runs: pd.DataFrame | str,
    *,
    holdout_compute_above: float | None = None,
    holdout_top_fraction: float | None = None,
    holdout: Any = None,
    interval: float = K.DEFAULT_INTERVAL,
    seed: int = 0,
    method: str = "bayes",
    n_boot: int = 200,
    **fit_kwargs: Any,
) -> dict[str, Any]:
    """Fit on the runs below a compute cut-off and score predictions of the runs above it.

    Parameters
    ----------
    law
        The law to test (its priors and likelihood included).
    runs
        Runs table or CSV path.
    holdout_compute_above, holdout_top_fraction
        The cut-off: a compute, or the fraction of runs (largest compute) to hold out; for a
        pooled law (``pooling="partial"`` or ``"none"``) the fraction is taken in each group,
        and each group's held-out runs are predicted from its own parameters.
    holdout
        Instead of a cut-off, the held-out runs themselves: a boolean per run, or
        ``"COLUMN=VALUE[,VALUE...]"`` (``"size=3B"``: a ladder's largest rung); the result's
        ``cutoff`` is then None.
    interval
        The interval reported per run (``lower`` / ``upper``) and as ``interval``.
    seed
        Seed of the fit and of the predictive draws (same seed, same numbers).
    method
        ``"bayes"`` (the law's posterior predictive) or ``"bootstrap"``: the usual point-fit
        practice (Huber loss, delta 1e-3, on log loss; L-BFGS from a grid of starts; ``n_boot``
        resamples of the runs), with Normal noise at the fit's robust residual scale.
    n_boot
        Bootstrap resamples for ``method="bootstrap"``.
    **fit_kwargs
        Passed to :meth:`Law.fit` (draws, tune, chains, ``min_fraction`` ...).

    Training curves (a run column) are split by run: held-out runs are scored by their final
    checkpoints; a law with ``likelihood="curve"`` is fitted to every kept checkpoint of the
    training runs, any other law to their final checkpoints.

    Returns
    -------
    dict
        ``interval``, ``cutoff``, ``n_train``, ``n_test``, ``coverage`` (``{"0.5", "0.8",
        "0.9"}``: share of held-out runs inside each central predictive interval),
        ``mean_width_log`` (mean width of the ``interval`` on log loss),
        ``median_abs_rel_error`` (of the predictive median), ``crps`` (mean, observation
        scale), ``lpd`` (mean log predictive density), ``max_compute_factor``, ``runs`` (one
        record per held-out run) and ``diagnostics_ok`` of the training fit; for ``bayes``
        also its diagnostics' ``problems`` and ``drift_tau`` (the learned drift, ``None``
        when there is none).
    """
    if not 0 < interval < 1:
        raise ConfigError(f"interval must be in (0, 1), got {interval}")
    if method not in BACKTEST_METHODS:
        raise ConfigError(f"method must be one of {BACKTEST_METHODS}, got {method!r}")
    table = law.load_runs(runs)
    runs = final_checkpoints(table)  # runs are split, and held-out runs scored, by their end
    if holdout is not None:
        if holdout_compute_above is not None or holdout_top_fraction is not None:
            raise ConfigError("give holdout or a compute cut-off, not both")
        train, test = split_by_mask(runs, holdout)
        cutoff = None
    else:
        train, test, cutoff = split_by_compute(
            runs,
            holdout_compute_above=holdout_compute_above,
            holdout_top_fraction=holdout_top_fraction,
            per_group=law.grouped,
        )
    if law.grouped:
        missing = sorted(set(test[K.GROUP].astype(str)) - set(train[K.GROUP].astype(str)))
        if missing:
            raise DataError(
                f"group(s) {', '.join(missing)} would have no training runs: a pooled "
                "backtest predicts each group from its own smaller runs"
            )
    if method == "bootstrap":
        draws, logpdf = _bootstrap_predictive(law, train, test, seed, n_boot)
        result = _result(law, train, test, cutoff, draws, logpdf, interval, True)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # diagnostics are reported in the result instead
            fit = law.fit(_training_table(law, table, train), seed=seed, **fit_kwargs)
        draws, logpdf = _bayes_predictive(law, fit, test, seed)
        result = _result(law, train, test, cutoff, draws, logpdf, interval, fit.diagnostics["ok"])
        result["problems"] = list(fit.diagnostics.get("problems", []))
        result["drift_tau"] = fit.settings.get("drift", {}).get("tau")
    return {**result, "method": method}


def _training_table(law: Law, table: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    """What the training fit sees: the training runs' final checkpoints, or for a curve
    likelihood every checkpoint of the training runs (the held-out runs' none)."""
    if not (law.likelihood.curve and has_curves(table)):
        return train
    return table[table[K.RUN_ID].isin(set(train[K.RUN_ID]))]


def _result(law, train, test, cutoff, draws, logpdf, interval, ok) -> dict[str, Any]:
    y = law.to_observed(test[law.target].to_numpy(float))
    s = score_predictive(draws, y, logpdf)
    q = (1 - interval) / 2
    lo, hi = np.quantile(draws, [q, 1 - q], axis=0)
    if law.observation == "log":
        width_log = hi - lo
    else:  # scores: width in log units of the score, where positive
        width_log = np.log(np.abs(hi) / np.maximum(np.abs(lo), 1e-12))
    median = law.from_observed(s["median"])
    target = test[law.target].to_numpy(float)
    rel = np.abs(median - target) / np.abs(target)
    if law.grouped:  # each group's extrapolation, from its own largest training run
        largest = train.groupby(train[K.GROUP].astype(str))[K.C].max()
        factor = test[K.C].to_numpy(float) / test[K.GROUP].astype(str).map(largest).to_numpy()
    else:
        factor = test[K.C].to_numpy(float) / train[K.C].max()
    records = [
        {
            K.N: float(test[K.N].iloc[i]),
            K.D: float(test[K.D].iloc[i]),
            K.C: float(test[K.C].iloc[i]),
            **({K.GROUP: str(test[K.GROUP].iloc[i])} if law.grouped else {}),
            law.target: float(target[i]),
            "median": float(median[i]),
            "lower": float(law.from_observed(lo[i])),
            "upper": float(law.from_observed(hi[i])),
            "covered": bool((y[i] >= lo[i]) & (y[i] <= hi[i])),
            "abs_rel_error": float(rel[i]),
            "crps": float(s["crps"][i]),
            "lpd": float(s["lpd"][i]),
            "compute_factor": float(factor[i]),
        }
        for i in range(len(test))
    ]
    return {
        "interval": interval,
        "cutoff": cutoff,
        "n_train": int(len(train)),
        "n_test": int(len(test)),
        "coverage": {str(level): float(np.mean(s[f"covered_{level}"])) for level in LEVELS},
        "mean_width_log": float(np.mean(width_log)),
        "median_abs_rel_error": float(np.median(rel)),
        "crps": float(np.mean(s["crps"])),
        "lpd": float(np.mean(s["lpd"])),
        "max_compute_factor": float(factor.max()),
        "diagnostics_ok": bool(ok),
        "runs": records,
    }


def backtest_sweep(
    law: Law,
    runs: pd.DataFrame | str,
    cutoffs: Sequence[float],
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Leave-future-out: one :func:`backtest` per compute cut-off, so trust can be read off
    against extrapolation distance."""
    return [backtest(law, runs, holdout_compute_above=c, **kwargs) for c in cutoffs]
