"""The best a set of runs could do, by the linear (Bayes linear) approximation: how much a set of
new runs is expected to shrink a target's variance when the target and the runs' outcomes are
treated as jointly normal with the posterior's moments.

Where :mod:`bayescale.design` values a candidate by simulating its outcome and reweighting the
posterior's draws (exact in the limit, one candidate at a time, greedy), this module values a
*whole set* in closed form: the expected posterior variance of a target ``t`` after observing the
outcomes ``y_S = f_S(theta) + noise`` of the runs in ``S`` is, for jointly normal ``(t, y_S)``,

    Var(t) - Cov(t, y_S) [Cov(y_S) + diag(noise variance)]^-1 Cov(y_S, t),

the same for every outcome (Goldstein & Wooff 2007, *Bayes Linear Statistics*; the c-optimal
criterion of Bayesian experimental design, Chaloner & Verdinelli 1995). The moments come from the
posterior's draws, so nothing is refitted and nothing degenerates, and sets of any size can be
searched: :func:`best_linear_set` (greedy, then exchanges within a compute window) finds the set
that the approximation rates best. ``scripts/design_ceiling.py`` uses it to ask how far *any*
choice of runs from a candidate pool could narrow the interval, next to the design's own choice.

Its limit: a posterior that is far from normal (a skewed target, a curved ridge) learns more from
a run than the linear formula says; the formula is exact for a linear law with normal noise.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> theta = rng.normal(size=4000)                  # the prior: theta ~ N(0, 1)
>>> F = np.column_stack([theta, 0.1 * theta])      # run 0 measures theta, run 1 a tenth of it
>>> var = linear_variance(theta, F, np.array([1.0, 1.0]))
>>> [round(float(var(s)), 2) for s in ([], [0], [1], [0, 1])]  # exact: 1, 1/2, 0.99, 0.497
[1.0, 0.5, 0.99, 0.5]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["best_linear_set", "linear_check", "linear_variance"]


def linear_variance(
    values: np.ndarray, predictions: np.ndarray, noise_var: np.ndarray
) -> Callable[[Sequence[int]], float]:
    """The expected posterior variance of ``values`` after observing a set of runs, as a
    function of the set.

    Parameters
    ----------
    values
        The target per posterior draw (draws,).
    predictions
        Each candidate run's expected outcome per draw (draws x candidates), on the scale its
        noise is added.
    noise_var
        Each candidate's noise variance (candidates,) on that scale.

    Returns
    -------
    callable
        ``var(S)`` for a sequence ``S`` of candidate indices (repeats are the same run trained
        again, with fresh noise).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> theta = rng.normal(size=(4000, 2))            # two parameters, N(0, I)
    >>> F = theta @ np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])  # runs see a, b, a + b
    >>> var = linear_variance(theta[:, 0] - theta[:, 1], F, np.full(3, 0.5))
    >>> var([2]) > var([0]) > var([0, 1])             # a + b says nothing of a - b
    True
    """
    values = np.asarray(values, dtype=float)
    pred = np.asarray(predictions, dtype=float)
    if pred.ndim != 2 or pred.shape[0] != values.shape[0]:
        raise ValueError(f"predictions must be draws x candidates, got {pred.shape}")
    noise = np.broadcast_to(np.asarray(noise_var, dtype=float), (pred.shape[1],))
    n = len(values)
    centred = pred - pred.mean(axis=0)
    tc = values - values.mean()
    cov = centred.T @ centred / n  # candidates x candidates
    cross = centred.T @ tc / n  # candidates
    total = float(tc @ tc / n)

    def var(chosen: Sequence[int]) -> float:
        idx = np.asarray(list(chosen), dtype=int)
        if idx.size == 0:
            return total
        joint = cov[np.ix_(idx, idx)] + np.diag(noise[idx])
        c = cross[idx]
        return float(total - c @ np.linalg.solve(joint, c))

    return var


def best_linear_set(
    var: Callable[[Sequence[int]], float],
    size: int,
    candidates: int,
    cost: np.ndarray | None = None,
    window: tuple[float, float] | None = None,
    start: Sequence[int] | None = None,
) -> tuple[list[int], float]:
    """The set of ``size`` distinct candidates with the least ``var``: chosen greedily (or
    ``start``, a set of ``size``), then improved by exchanges (one run swapped for another while
    that lowers ``var``) until no swap does. With ``cost`` and ``window`` the set's total cost
    stays within ``window`` (low, high); the greedy start leaves room under the upper end, and
    exchanges first move the set inside.

    Returns the set (candidate indices) and its ``var`` (infinite when no exchange reached the
    window). A local optimum: it is the best set of a small problem (tests compare it with
    every set), not guaranteed on large ones.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> theta = rng.normal(size=2000)
    >>> F = theta[:, None] * np.array([0.1, 0.5, 1.0, 2.0])   # later runs measure more
    >>> var = linear_variance(theta, F, np.ones(4))
    >>> best_linear_set(var, 2, 4)[0]
    [3, 2]
    >>> best_linear_set(var, 2, 4, cost=np.array([1.0, 1.0, 1.0, 5.0]), window=(0.0, 2.0))[0]
    [2, 1]
    """
    cost = np.zeros(candidates) if cost is None else np.asarray(cost, dtype=float)
    low, high = (-np.inf, np.inf) if window is None else window
    cheapest = np.sort(cost)

    def outside(chosen: list[int]) -> float:
        """How far the set's total cost lies outside the window (0: inside)."""
        total = float(cost[chosen].sum())
        if low * (1 - 1e-9) <= total <= high * (1 + 1e-9):
            return 0.0
        return min(abs(total - low), abs(total - high))

    chosen: list[int] = [] if start is None else [int(j) for j in start]
    for _ in range(size - len(chosen)):
        # a pick must leave room for the rest at the cheapest prices
        room = high * (1 + 1e-9) - float(cheapest[: size - len(chosen) - 1].sum())
        options = [
            (var(chosen + [j]), j)
            for j in range(candidates)
            if j not in chosen and float(cost[chosen + [j]].sum()) <= room
        ]
        if not options:
            break
        chosen.append(min(options)[1])
    score = (outside(chosen), var(chosen))
    improved = True
    while improved:
        improved = False
        for a in range(len(chosen)):
            for j in range(candidates):
                if j in chosen:
                    continue
                trial = chosen[:a] + [j] + chosen[a + 1 :]
                off = outside(trial)
                if off > score[0]:
                    continue
                v = var(trial)
                if off < score[0] or v < score[1] - 1e-12 * max(abs(score[1]), 1.0):
                    chosen, score, improved = trial, (off, v), True
    best = score[1] if score[0] == 0 else np.inf
    return chosen, best


def linear_check(
    var: Callable[[Sequence[int]], float],
    chosen: Sequence[int],
    cost: np.ndarray,
    budget: float | None = None,
) -> dict[str, float | list[int]]:
    """How a chosen set compares with the best set of as many runs at no more compute (or
    within ``budget``), by the linear approximation: each one's expected posterior sd over the
    sd now (``chosen_sd_ratio``, ``best_sd_ratio``) and the best set (``best``). The search
    starts from the greedy set and from ``chosen``, so the best is never rated worse than it.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> theta = rng.normal(size=(2000, 2))
    >>> F = theta @ np.array([[1.0, 0.0, 1.0, 0.2], [0.0, 1.0, 1.0, 0.2]])
    >>> var = linear_variance(theta[:, 0], F, np.full(4, 0.3))
    >>> check = linear_check(var, [1, 3], np.ones(4))   # b and a weak view of a + b
    >>> check["best"], check["best_sd_ratio"] < check["chosen_sd_ratio"]
    ([0, 2], True)
    """
    chosen = [int(j) for j in chosen]
    cost = np.asarray(cost, dtype=float)
    top = float(cost[chosen].sum()) if budget is None else float(budget)
    window = (0.0, top)
    found = [
        best_linear_set(var, len(chosen), len(cost), cost=cost, window=window, start=start)
        for start in (None, chosen)
    ]
    best, best_var = min(found, key=lambda f: f[1])
    now = var([])
    return {
        "chosen_sd_ratio": float(np.sqrt(max(var(chosen), 0.0) / now)),
        "best_sd_ratio": float(np.sqrt(max(best_var, 0.0) / now)),
        "best": sorted(best),
    }
