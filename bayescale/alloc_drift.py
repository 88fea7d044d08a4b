"""The allocation drift: how far a fit's compute-optimal model size misses beyond its runs.

The allocation backtest (``scripts/allocation_backtest.py``) found the posterior's intervals of
``N*`` (and so of ``D*`` and tokens per parameter) too narrow beyond the fitted compute: the
law's allocation, like its loss, errs more the farther it extrapolates, and the parameter
posterior cannot show it. The fit's runs measure that error themselves where they hold IsoFLOP
profiles. The loss drift's leave-future-out refit (:func:`bayescale.fitting.drift_residuals`,
on the runs below the top 20% by compute) also gives ``N*`` at the held-out runs' budgets,
and each held-out budget with an interior minimum gives its own optimum
(:func:`bayescale.approaches.profile_minima`: Approach 2's parabola, with a bootstrap sd). The
residuals ``r = median log N*_inner - log N_min``, their variances ``v`` (the inner posterior's
plus the bootstrap's) and distances ``d`` (decades of compute beyond the inner fit's largest
run) update a prior on ``tau`` under ``r ~ Normal(0, v + tau**2 d)``: the posterior's draws
(:func:`bayescale.drift.tau_posterior`) under ``tau ~ HalfNormal(``:data:`TAU_PRIOR_SCALE```)``,
the scale learned across the shipped IsoFLOP data sets as the loss drift's is
(``python scripts/allocation_drift_prior.py``). A few held-out budgets (one to three, typically)
say little on their own; the prior carries what the other data sets showed.
:func:`with_allocation_drift` then multiplies ``N*`` by ``exp(Normal(0, tau**2 d))`` at budgets
``d`` decades beyond the largest fitted run, one ``tau`` draw per posterior draw.

Runs without IsoFLOP profiles among the held-out ones (a model ladder, training curves) get the
prior alone, as the loss drift does for fits too small to hold runs out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import constants as K
from .approaches import profile_minima
from .drift import drift_sd, tau_from_residuals, tau_posterior
from .laws.base import Law

__all__ = [
    "ALLOCATION_NOTE",
    "allocation_draws",
    "allocation_drift_from",
    "allocation_note",
    "allocation_residuals",
    "with_allocation_drift",
    "TAU_PRIOR_SCALE",
]

#: What an allocation beyond the fitted compute lacks without the allocation drift
#: (``optimal_allocation``'s ``attrs["note"]`` for such a fit; ``bayescale allocate`` prints it).
ALLOCATION_NOTE = (
    "N*, D* and tokens-per-parameter intervals beyond the largest fitted run carry no "
    "extrapolation drift and are too narrow there: on held-out IsoFLOP budgets 1-5x beyond the "
    "fitted compute the posterior's 90% interval of N* held 12 of 23 budgets' optima "
    "(scripts/allocation_backtest.py, docs/backtests.md)"
)


#: Bootstrap resamples of each held-out budget's runs for the sd of its optimum.
N_BOOT = 100
#: Prior on the allocation drift's ``tau`` (log N* per sqrt decade of compute): HalfNormal with
#: this scale, learned from the shipped IsoFLOP data sets by
#: :func:`bayescale.drift.prior_scale` (``python scripts/allocation_drift_prior.py``; the
#: numbers in ``docs/allocation_drift_prior.md``).
TAU_PRIOR_SCALE = 0.24


def allocation_residuals(
    law: Law,
    inner_draws: dict[str, np.ndarray],
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    k: float = K.FLOPS_PER_PARAM_TOKEN,
    seed: int = 0,
) -> dict[str, Any]:
    """The residuals of ``log N*`` at the IsoFLOP budgets of ``test`` (with an interior
    minimum), predicted by a posterior fitted on ``train`` (``inner_draws``: flat draws of the
    law's parameters, one value per draw): ``r``, ``v``, ``d`` and the budgets' ``compute``;
    ``{"note": why}`` where no held-out budget has an interior minimum.

    Examples
    --------
    >>> import bayescale as bs
    >>> law = bs.ChinchillaLaw(noise="constant")
    >>> truth = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28, sigma=0.002)
    >>> runs = bs.simulate.simulate_runs(law, truth, bs.simulate.isoflop_design(
    ...     [1e18, 1e19, 1e20], runs_per_budget=9), seed=0)
    >>> draws = {p: np.full(4, truth[p]) for p in truth}
    >>> out = allocation_residuals(law, draws, runs[runs.C < 5e19], runs[runs.C > 5e19])
    >>> len(out["r"]), round(float(out["d"][0]), 2), bool(abs(out["r"][0]) < 0.1)
    (1, 1.0, True)
    """
    budgets = profile_minima(test, n_boot=N_BOOT, seed=seed)
    if budgets.empty:
        return {"note": "no held-out IsoFLOP budget has an interior minimum"}
    c = budgets[K.COMPUTE].to_numpy(float)
    draws = {name: np.reshape(value, (-1, 1)) for name, value in inner_draws.items()}
    with np.errstate(all="ignore"):
        n_opt = law.optimal_allocation(draws, c[None, :], k=k)["N_opt"]
    log_n = np.log(np.asarray(n_opt, dtype=float))
    r = np.median(log_n, axis=0) - budgets["log_N_min"].to_numpy(float)
    v = log_n.var(axis=0, ddof=1) + np.nan_to_num(budgets["log_N_min_sd"].to_numpy(float)) ** 2
    d = np.log10(c / train[K.C].max())
    ok = np.isfinite(r) & np.isfinite(v) & (v > 0) & (d > 0)
    if not ok.any():
        return {"note": "the held-out IsoFLOP budgets gave no usable residual"}
    return {"r": r[ok], "v": v[ok], "d": d[ok], K.COMPUTE: c[ok]}


def allocation_drift_from(res: dict[str, Any], scale: float | None = None) -> dict[str, Any]:
    """The allocation drift learned from :func:`allocation_residuals`' ``res`` (or its
    ``{"note": why}``): ``tau`` (the posterior median), ``tau_draws`` (its posterior under
    ``HalfNormal(scale)``, default :data:`TAU_PRIOR_SCALE`), ``mle`` (the residuals' own
    maximum-likelihood ``tau``), ``budgets`` and the residuals ``r``, ``v``, ``d``; where no
    held-out budget gave a residual, the prior alone (``budgets`` 0, the note says why)."""
    scale = TAU_PRIOR_SCALE if scale is None else float(scale)
    empty = np.zeros(0)
    r, v, d = (np.asarray(res.get(x, empty), dtype=float) for x in ("r", "v", "d"))
    draws = tau_posterior(r, v, d, scale=scale)
    out = {
        "tau": float(np.median(draws)),
        "tau_draws": draws.round(6).tolist(),
        "prior_scale": scale,
        "budgets": int(len(r)),
    }
    if not len(r):
        return {**out, "note": f"the prior alone: {res['note']}"}
    return {
        **out,
        "mle": _mle(r, v, d),
        "r": np.round(r, 5).tolist(),
        "v": np.round(v, 7).tolist(),
        "d": np.round(d, 5).tolist(),
        "note": "leave-future-out: the inner fit's N* against the held-out IsoFLOP budgets' "
        "own optima (see bayescale.alloc_drift)",
    }


def _mle(r: np.ndarray, v: np.ndarray, d: np.ndarray) -> float:
    return float(tau_from_residuals(r, v, d, "mle")["tau"])


def with_allocation_drift(
    fit: Any,
    n_opt: np.ndarray,
    compute: np.ndarray,
    rng: np.random.Generator,
    group: str | None = None,
) -> np.ndarray:
    """``n_opt`` (posterior draws first) times ``exp(tau sqrt(d) z)``, ``d`` the decades of
    ``compute`` beyond the largest fitted run (of ``group`` in a pooled fit), each posterior
    draw with its own draw of ``tau`` and one standard normal ``z`` for all its budgets;
    unchanged (and no random numbers drawn) when the fit carries no allocation drift (fits made
    before it existed, ``drift=False``)."""
    info = (fit.settings.get("drift") or {}).get("allocation") or {}
    taus = info.get("tau_draws")
    if not taus:
        return n_opt
    c = fit.runs[K.C]
    if group is not None and K.GROUP in fit.runs:
        mine = fit.runs[K.GROUP].astype(str) == str(group)
        c = c[mine] if mine.any() else c
    shape = np.shape(n_opt)
    per_draw = (-1, *([1] * (len(shape) - 1)))
    t = rng.choice(np.asarray(taus, float), size=shape[0]).reshape(per_draw)
    sd = t * drift_sd(1.0, np.asarray(compute, dtype=float), float(c.max()))
    # one normal deviate per draw for all budgets: the law's error is a smooth function of
    # compute (a draw's N*(C) stays a smooth curve), and each budget's spread is the same
    return n_opt * np.exp(sd * rng.standard_normal(shape[0]).reshape(per_draw))


def allocation_note(fit: Any) -> str:
    """What the intervals of an allocation beyond the largest fitted run carry: the allocation
    drift the fit learned (:mod:`bayescale.alloc_drift`), or, where it learned none,
    :data:`ALLOCATION_NOTE` and why."""
    info = (fit.settings.get("drift") or {}).get("allocation") or {}
    if not info.get("tau_draws"):
        why = info.get("note", "the fit has none (drift=False, or saved before it existed)")
        return f"{ALLOCATION_NOTE}; no allocation drift: {why}"
    source = (
        f"learned from {info['budgets']} held-out IsoFLOP budget(s) and its prior"
        if info.get("budgets")
        else "from its prior alone (no held-out IsoFLOP budget to learn from)"
    )
    return (
        f"N*, D* and tokens per parameter beyond the largest fitted run carry the allocation "
        f"drift (tau {info['tau']:.3f} per sqrt(decade) on log N*, {source}); on held-out "
        "IsoFLOP budgets its 90% intervals held 18 of 23 optima (docs/backtests.md)"
    )


def allocation_draws(
    fit: Any, compute: Any, *, k: float, rng: np.random.Generator, group: str | None = None
) -> dict[str, np.ndarray]:
    """The law's compute-optimal allocation per posterior draw at ``compute`` (``N_opt``,
    ``D_opt``, ``loss_opt``, ``tokens_per_param``; draws x budgets), ``N_opt`` carrying the
    fit's allocation drift beyond its largest run (:func:`with_allocation_drift`) and ``D_opt``
    and tokens per parameter following from ``C = k N D``."""
    c = np.asarray(compute, dtype=float)
    out = dict(fit.law.optimal_allocation(fit.draws(group), c, k=k))
    posterior_n = np.asarray(out["N_opt"], dtype=float)
    n_opt = with_allocation_drift(fit, posterior_n, c, rng, group)
    if n_opt is not posterior_n:
        out["N_opt"], out["D_opt"] = n_opt, c / (k * n_opt)
        out["tokens_per_param"] = out["D_opt"] / n_opt
    return out
