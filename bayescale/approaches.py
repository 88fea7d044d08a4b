"""Chinchilla's three estimation approaches side by side (Hoffmann et al. 2022, Table 2).

* **Approach 1 (envelope):** at each compute budget, the run with the lowest loss; regress
  ``log N`` of those runs on ``log C``: ``N* ~ C^a``.
* **Approach 2 (IsoFLOP profiles):** at each budget, fit loss against ``log N`` with a parabola
  (or a cubic, less biased when the profile is skewed), take its minimum, regress on ``log C``.
* **Approach 3 (parametric):** the posterior of ``a = beta / (alpha + beta)`` of a fitted law.

Approaches 1 and 2 get bootstrap intervals (runs resampled within each budget). Under
``C = k N D`` the data exponent is ``b = 1 - a`` for Approaches 1 and 2.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import constants as K
from .exceptions import DataError

__all__ = ["isoflop_budgets", "approach1", "approach2", "approaches", "profile_minima"]


def isoflop_budgets(runs: pd.DataFrame, tol_dex: float = 0.05) -> np.ndarray:
    """Label runs by compute budget: runs within ``tol_dex`` (in log10 C) of their neighbour
    share a budget. Returns one integer label per run (0 = smallest budget)."""
    logc = np.log10(runs[K.C].to_numpy(float))
    order = np.argsort(logc)
    labels = np.empty(len(logc), dtype=int)
    current = 0
    for i, j in enumerate(order):
        if i and logc[j] - logc[order[i - 1]] > tol_dex:
            current += 1
        labels[j] = current
    return labels


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(x, y, 1)[0])


def _envelope_points(runs: pd.DataFrame, labels: np.ndarray, target: str):
    idx = runs.groupby(labels)[target].idxmin()
    best = runs.loc[idx.to_numpy()]
    return np.log(best[K.C].to_numpy(float)), np.log(best[K.N].to_numpy(float))


def _profile_minima(runs: pd.DataFrame, labels: np.ndarray, target: str, degree: int):
    logc, logn = [], []
    for lab in np.unique(labels):
        part = runs[labels == lab]
        if len(part) < degree + 2:
            continue
        x = np.log(part[K.N].to_numpy(float))
        if len(np.unique(x)) < degree + 2:  # a bootstrap draw may repeat runs
            continue
        centre = x.mean()  # centring keeps the cubic's normal equations well conditioned
        coef = np.polyfit(x - centre, part[target].to_numpy(float), degree)
        grid = np.linspace(x.min(), x.max(), 400)
        vals = np.polyval(coef, grid - centre)
        j = int(np.argmin(vals))
        if j in (0, len(grid) - 1):  # no interior minimum: this budget says nothing
            continue
        logc.append(np.log(part[K.C].median()))
        logn.append(grid[j])
    return np.asarray(logc), np.asarray(logn)


def _bootstrap(runs, labels, estimate, n_boot: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = []
    groups = [np.flatnonzero(labels == lab) for lab in np.unique(labels)]
    for _ in range(n_boot):
        take = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
        sample = runs.iloc[take].reset_index(drop=True)
        try:
            out.append(estimate(sample, labels[take]))
        except (np.linalg.LinAlgError, ValueError, TypeError):
            continue
    return np.asarray(out)


def _summary(name: str, point: float, boot: np.ndarray, interval: float, n_budgets: int) -> dict:
    q = (1 - interval) / 2
    lo, hi = np.quantile(boot, [q, 1 - q]) if len(boot) else (np.nan, np.nan)
    return {
        "approach": name,
        "a": point,
        "a_lower": lo,
        "a_upper": hi,
        "b": 1 - point,
        "b_lower": 1 - hi,
        "b_upper": 1 - lo,
        "n_budgets": n_budgets,
    }


def profile_minima(
    runs: pd.DataFrame,
    *,
    degree: int = 2,
    n_boot: int = 200,
    seed: int = 0,
    target: str = K.LOSS,
) -> pd.DataFrame:
    """The compute-optimal model size of each IsoFLOP budget, read off its own runs: the
    minimum of a polynomial (``degree`` 2 or 3) of loss in ``log N``, as Approach 2 takes it,
    with the sd of ``log N_min`` over ``n_boot`` bootstrap resamples of the budget's runs.
    Budgets without an interior minimum are left out.

    Returns
    -------
    pandas.DataFrame
        One row per budget: ``compute`` (the budget's median C), ``N_min``, ``log_N_min``,
        ``log_N_min_sd`` and ``runs``.

    Examples
    --------
    >>> n = np.geomspace(1e8, 1e10, 9)
    >>> runs = pd.DataFrame({"N": n, "D": 1e20 / (6 * n), "C": 1e20})
    >>> runs["loss"] = 2 + 0.05 * np.log(n / 1e9) ** 2
    >>> row = profile_minima(runs, n_boot=0).iloc[0]
    >>> round(float(row.N_min) / 1e9, 1)  # on a grid of 400 sizes over the budget's range
    1.0
    """
    labels = isoflop_budgets(runs)
    rows = []
    for lab in np.unique(labels):
        part = runs[labels == lab].reset_index(drop=True)
        one = np.zeros(len(part), dtype=int)
        _, logn = _profile_minima(part, one, target, degree)
        if not len(logn):
            continue

        def estimate(r, lab):
            minimum = _profile_minima(r, lab, target, degree)[1]
            if not len(minimum):
                raise ValueError("no interior minimum in this resample")
            return float(minimum[0])

        boot = _bootstrap(part, one, estimate, n_boot, seed)
        rows.append(
            {
                K.COMPUTE: float(part[K.C].median()),
                "N_min": float(np.exp(logn[0])),
                "log_N_min": float(logn[0]),
                "log_N_min_sd": float(boot.std(ddof=1)) if len(boot) > 1 else float("nan"),
                "runs": len(part),
            }
        )
    return pd.DataFrame(rows)


def approach1(
    runs: pd.DataFrame,
    *,
    n_boot: int = 200,
    interval: float = K.DEFAULT_INTERVAL,
    seed: int = 0,
    target: str = K.LOSS,
) -> dict[str, Any]:
    """Approach 1: envelope of the lowest-loss run per budget; ``a`` with a bootstrap interval."""
    labels = isoflop_budgets(runs)
    if len(np.unique(labels)) < 3:
        raise DataError("Approach 1 needs runs at 3 or more compute budgets")

    def estimate(r, lab):
        return _slope(*_envelope_points(r, lab, target))

    point = estimate(runs, labels)
    boot = _bootstrap(runs, labels, estimate, n_boot, seed)
    return _summary("1: envelope", point, boot, interval, len(np.unique(labels)))


def approach2(
    runs: pd.DataFrame,
    *,
    degree: int = 2,
    n_boot: int = 200,
    interval: float = K.DEFAULT_INTERVAL,
    seed: int = 0,
    target: str = K.LOSS,
) -> dict[str, Any]:
    """Approach 2: minima of polynomial IsoFLOP profiles (``degree`` 2 or 3) regressed on C."""
    labels = isoflop_budgets(runs)

    def estimate(r, lab):
        logc, logn = _profile_minima(r, lab, target, degree)
        if len(logc) < 3:
            raise ValueError("fewer than 3 budgets with an interior minimum")
        return _slope(logc, logn)

    try:
        point = estimate(runs, labels)
    except ValueError:
        raise DataError(
            "Approach 2 needs 3 or more compute budgets whose IsoFLOP profile has an interior "
            f"minimum (degree {degree} needs {degree + 2}+ runs per budget)"
        ) from None
    boot = _bootstrap(runs, labels, estimate, n_boot, seed)
    n_used = len(_profile_minima(runs, labels, target, degree)[0])
    name = "2: IsoFLOP " + ("parabola" if degree == 2 else "cubic")
    return _summary(name, point, boot, interval, n_used)


def approaches(
    runs: pd.DataFrame,
    fit: Any = None,
    *,
    n_boot: int = 200,
    interval: float = K.DEFAULT_INTERVAL,
    seed: int = 0,
) -> pd.DataFrame:
    """Table of the allocation exponents ``a`` (N* ~ C^a) and ``b`` by Approaches 1, 2
    (parabola and cubic) and, given a fitted Chinchilla law, 3 (posterior median, interval)."""
    rows = [
        approach1(runs, n_boot=n_boot, interval=interval, seed=seed),
        approach2(runs, degree=2, n_boot=n_boot, interval=interval, seed=seed),
        approach2(runs, degree=3, n_boot=n_boot, interval=interval, seed=seed),
    ]
    if fit is not None:
        q = (1 - interval) / 2
        a = fit.posterior["a"].to_numpy().ravel()
        lo, med, hi = np.quantile(a, [q, 0.5, 1 - q])
        rows.append(
            {
                "approach": "3: parametric (posterior)",
                "a": med,
                "a_lower": lo,
                "a_upper": hi,
                "b": 1 - med,
                "b_lower": 1 - hi,
                "b_upper": 1 - lo,
                "n_budgets": len(np.unique(isoflop_budgets(fit.runs))),
            }
        )
    table = pd.DataFrame(rows).set_index("approach")
    table.attrs["interval"] = interval
    return table
