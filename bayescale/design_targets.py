"""A design's target: one quantity per posterior draw (the compute-optimal ``n_opt``, ``d_opt``,
``tokens_per_param`` or ``loss`` at a budget, or the loss of a planned run), and the width of its
central interval under importance weights (what one more run would leave of it).

Examples
--------
>>> w, ess = weighted_widths(np.arange(10.0), np.zeros((1, 10)), 0.5)
>>> float(w[0]), round(float(ess[0]), 6)
(5.0, 10.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import constants as K
from .exceptions import ConfigError
from .fit import Fit
from .predict import fit_k
from .summaries import positive_values

__all__ = [
    "TARGETS",
    "check_target",
    "law_inputs",
    "target_draws",
    "target_values",
    "weighted_widths",
]

#: Targets: the key of :meth:`Law.optimal_allocation`'s output for each (``loss`` at a planned
#: ``(N, D)`` is the law itself).
TARGETS = {
    "n_opt": "N_opt",
    "d_opt": "D_opt",
    "tokens_per_param": "tokens_per_param",
    "loss": "loss_opt",
}


def check_target(
    target: str, compute: Any, N: Any, D: Any
) -> tuple[str, float | None, tuple[float, float] | None]:
    if target not in TARGETS:
        raise ConfigError(f"unknown target {target!r}: one of {', '.join(TARGETS)}")
    planned = N is not None or D is not None
    if planned:
        if target != "loss":
            raise ConfigError(f"N and D name a planned run, whose target is 'loss', not {target!r}")
        if N is None or D is None or compute is not None:
            raise ConfigError("target 'loss' takes a compute budget, or N and D, not both")
        n, d = (float(positive_values(name, v)[0]) for name, v in (("N", N), ("D", D)))
        return target, None, (n, d)
    if compute is None:
        raise ConfigError(f"target {target!r} needs a compute budget (compute=, CLI --compute)")
    return target, float(positive_values("compute", compute)[0]), None


def law_inputs(fit: Fit, n: Any, d: Any, k: float) -> dict[str, Any]:
    values = {K.N: n, K.D: d, K.C: k * np.asarray(n) * np.asarray(d)}
    missing = [x for x in fit.law.inputs if x not in values]
    if missing:
        raise ConfigError(
            f"design needs a law of N and D; the {fit.law.name} law also needs {missing}"
        )
    return {x: values[x] for x in fit.law.inputs}


def target_draws(
    fit: Fit,
    target: str,
    *,
    compute: float | None = None,
    N: float | None = None,
    D: float | None = None,
    k: float | None = None,
    group: str | None = None,
) -> np.ndarray:
    """The target's value in every posterior draw (a flat array, chains pooled).

    Examples
    --------
    >>> t = target_draws(fit, "tokens_per_param", compute=5.88e23)
    >>> t.shape == (fit.draws()["alpha"].shape[0],)
    True
    """
    target, compute, plan = check_target(target, compute, N, D)
    return target_values(fit, fit.draws(group), target, compute, plan, fit_k(fit, k))


def target_values(
    fit: Fit,
    draws: dict[str, np.ndarray],
    target: str,
    compute: float | None,
    plan: tuple[float, float] | None,
    k: float,
) -> np.ndarray:
    if plan is not None:
        inputs = law_inputs(fit, np.array([plan[0]]), np.array([plan[1]]), k)
        return np.asarray(fit.law.predict(draws, **inputs), dtype=float)[:, 0]
    out = fit.law.optimal_allocation(draws, np.array([compute]), k=k)
    return np.asarray(out[TARGETS[target]], dtype=float)[:, 0]


def weighted_widths(
    values: np.ndarray, logw: np.ndarray, interval: float = K.DEFAULT_INTERVAL
) -> tuple[np.ndarray, np.ndarray]:
    """Width of the central ``interval`` of ``values`` (one per draw) under each row of log
    weights ``logw`` (simulations x draws), and each row's effective sample size.

    Examples
    --------
    >>> v = np.arange(100.0)
    >>> w, ess = weighted_widths(v, np.zeros((1, 100)), 0.5)
    >>> float(w[0]), float(ess[0])
    (50.0, 100.0)
    """
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    w = np.exp(logw - logw.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    ess = 1.0 / (w**2).sum(axis=1)
    cum = np.cumsum(w[:, order], axis=1)
    q = (1.0 - interval) / 2.0
    last = len(values) - 1
    lo = np.minimum((cum < q).sum(axis=1), last)
    hi = np.minimum((cum < 1.0 - q).sum(axis=1), last)
    return ordered[hi] - ordered[lo], ess
