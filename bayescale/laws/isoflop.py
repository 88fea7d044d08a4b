"""The IsoFLOP law: Chinchilla's law with its compute-optimal frontier set free.

Along an IsoFLOP curve (fixed compute ``C``), Chinchilla's law is exactly

    L(N, C) = E + R C**-gamma * P(x),   x = log(N / N*(C)),
    P(x) = (beta exp(-alpha x) + alpha exp(beta x)) / (alpha + beta),

with ``P(0) = 1`` the minimum, the frontier ``N*(C) ~ C**a`` and ``a = beta / (alpha + beta)``,
``gamma = alpha beta / (alpha + beta)``. Chinchilla ties the allocation exponent ``a`` and the
frontier's loss exponent ``gamma`` to the exponents that shape the curves far from the optimum;
when the runs do not follow the law's shape everywhere (e.g. learning-rate schedules tuned at
one scale), the tie pulls ``a`` away from where the IsoFLOP minima are. This law keeps the same
curve shape but gives the frontier its own parameters — it is Hoffmann et al.'s Approach 2
(minima of IsoFLOP profiles, regressed on compute) written as one likelihood over all runs, so
the exponent gets a posterior, no two-stage error propagation, and partial pooling across
groups. With ``a = beta / (alpha + beta)`` and ``gamma = alpha beta / (alpha + beta)`` it is
Chinchilla's law again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from .. import constants as K
from ..priors import Prior
from .base import Law, raw_log, register_law

__all__ = ["IsoFLOPLaw", "C_REF"]

#: Reference compute of ``N0`` (FLOPs): ``N*(C) = N0 (C / C_REF)**a``.
C_REF = 1e21


def _broadcast(*values: Any) -> list[np.ndarray]:
    return [np.asarray(v, dtype=float) for v in np.broadcast_arrays(*values)]


@register_law
class IsoFLOPLaw(Law):
    """``L(N, C) = E + R / C**gamma * P(log(N / N*(C)))``, ``N*(C) = N0 (C / 1e21)**a``.

    ``P(x) = (beta exp(-alpha x) + alpha exp(beta x)) / (alpha + beta)`` is the shape of
    Chinchilla's IsoFLOP curves (``P(0) = 1``). Default priors:

    ==========  ================================================  =============================
    parameter   default prior                                     meaning
    ==========  ================================================  =============================
    ``E``       ``LogNormal(mu=0.5, sigma=0.75)`` (90%: 0.5-5.6)  irreducible loss
    ``R``       ``LogNormal(mu=6, sigma=3)``                      frontier's reducible loss at
                                                                  C = 1 FLOP
    ``gamma``   ``TruncatedNormal(mu=0.15, sigma=0.15, lower=0)``  ``L*(C) - E ~ C**-gamma``
    ``a``       ``TruncatedNormal(mu=0.5, sigma=0.25, lower=0)``   allocation exponent
                                                                  ``N* ~ C**a``
    ``N0``      ``LogNormal(mu=21.8, sigma=3)`` (median 2.9e9)    ``N*`` at 1e21 FLOPs
    ``alpha``   ``TruncatedNormal(mu=0.35, sigma=0.25, lower=0)``  curve shape, small-N side
    ``beta``    ``TruncatedNormal(mu=0.35, sigma=0.25, lower=0)``  curve shape, large-N side
    ==========  ================================================  =============================

    ``E`` and ``gamma`` trade off along a curved ridge when the budgets span a few decades; the
    prior on ``E`` vanishes at 0 (a loss of 0 nats is not plausible for text), which keeps the
    sampler out of the funnel that the ridge otherwise runs into (divergences with
    ``HalfNormal``, on Porian et al.'s runs).

    Inputs: ``N`` and ``C`` (``C = 6 N D`` when the runs give ``D``). ``pooling="partial"``
    pools the four exponents (``gamma``, ``a``, ``alpha``, ``beta``) across groups; ``E``,
    ``R`` and ``N0`` are per group. ``centred="all"`` samples every population centred and
    ``gamma`` through each group's frontier (:mod:`bayescale.model`): much faster where the
    groups' exponents differ (Porian et al.'s runs: 23 s against 155 s), worse where they are
    nearly equal.

    Examples
    --------
    >>> law = IsoFLOPLaw()
    >>> p = dict(E=1.69, R=3000.0, gamma=0.15, a=0.5, N0=3e9, alpha=0.34, beta=0.28)
    >>> bool(law.predict(p, N=3e9, C=1e21) < law.predict(p, N=1e9, C=1e21))
    True
    >>> out = law.optimal_allocation(p, 1e21)
    >>> round(float(out["N_opt"]) / 1e9, 2), round(float(out["tokens_per_param"]), 1)
    (3.0, 18.5)
    """

    name: ClassVar[str] = "isoflop"
    has_allocation: ClassVar[bool] = True
    formula: ClassVar[str] = (
        "L(N, C) = E + R / C^gamma * P(log(N / N*(C))), N*(C) = N0 (C / 1e21)^a, "
        "P(x) = (beta e^(-alpha x) + alpha e^(beta x)) / (alpha + beta)"
    )
    params: ClassVar[tuple[str, ...]] = ("E", "R", "gamma", "a", "N0", "alpha", "beta")
    inputs: ClassVar[tuple[str, ...]] = (K.N, K.C)
    amplitudes: ClassVar[dict[str, tuple[str, str]]] = {"R": ("gamma", K.C)}
    population_centres: ClassVar[dict[str, float]] = {"gamma": 0.15, "a": 0.5}
    #: Each group's IsoFLOP minima pin its frontier exponent down; gamma and the shape may
    #: be equal across groups (a population scale near 0), where the non-centred form is right.
    #: Where they differ, ``centred="all"`` samples them centred, gamma through each group's
    #: frontier (:attr:`frontier_params`; see docs/performance.md).
    centred_exponents: ClassVar[frozenset[str]] = frozenset({"a"})
    frontier_params: ClassVar[tuple[str, str] | None] = ("E", "R")
    reference: ClassVar[str] = (
        "Hoffmann et al. (2022), Approach 2, arXiv:2203.15556; Porian et al. (2024), "
        "Resolving Discrepancies in Compute-Optimal Scaling of Language Models, arXiv:2406.19146"
    )

    @classmethod
    def default_law_priors(cls) -> dict[str, Prior]:
        shape = Prior("TruncatedNormal", mu=0.35, sigma=0.25, lower=0.0)
        return {
            "E": Prior("LogNormal", mu=0.5, sigma=0.75),
            "R": Prior("LogNormal", mu=6.0, sigma=3.0),
            "gamma": Prior("TruncatedNormal", mu=0.15, sigma=0.15, lower=0.0),
            "a": Prior("TruncatedNormal", mu=0.5, sigma=0.25, lower=0.0),
            "N0": Prior("LogNormal", mu=21.8, sigma=3.0),
            "alpha": shape,
            "beta": shape,
        }

    @property
    def pooled_exponents(self) -> tuple[str, ...]:
        return ("gamma", "a", "alpha", "beta") if self.pooling == "partial" else ()

    def location(self, p: Mapping[str, Any], logx: Mapping[str, Any], xp: Any) -> Any:
        log_c = raw_log(logx, K.C)
        x = raw_log(logx, K.N) - xp.log(p["N0"]) - p["a"] * (log_c - np.log(C_REF))
        al, be = p["alpha"], p["beta"]
        shape = (be * xp.exp(-al * x) + al * xp.exp(be * x)) / (al + be)
        return xp.log(p["E"] + xp.exp(p["log_R"] - p["gamma"] * logx[K.C]) * shape)

    def optimal_allocation(
        self, params: Mapping[str, Any], compute: Any, k: float = K.FLOPS_PER_PARAM_TOKEN
    ) -> dict[str, Any]:
        e, r, gamma, a, n0, c = _broadcast(
            *(params[n] for n in ("E", "R", "gamma", "a", "N0")), compute
        )
        n_opt = n0 * (c / C_REF) ** a
        d_opt = c / (k * n_opt)
        return {
            "N_opt": n_opt,
            "D_opt": d_opt,
            "loss_opt": e + r * c**-gamma,
            "tokens_per_param": d_opt / n_opt,
        }

    def compute_for_loss(
        self, params: Mapping[str, Any], target: Any, k: float = K.FLOPS_PER_PARAM_TOKEN
    ) -> dict[str, Any]:
        e, r, gamma, a, n0, t = _broadcast(
            *(params[n] for n in ("E", "R", "gamma", "a", "N0")), target
        )
        reachable = t > e
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            c = np.where(reachable, (r / np.where(reachable, t - e, 1.0)) ** (1.0 / gamma), np.inf)
            n_opt = np.where(reachable, n0 * (c / C_REF) ** a, np.inf)
            d_opt = np.where(reachable, c / (k * n_opt), np.inf)
        return {"compute": c, "N_opt": n_opt, "D_opt": d_opt, "reachable": reachable}

    def derived(self, posterior: Mapping[str, Any]) -> dict[str, Any]:
        return {"b": 1.0 - posterior["a"]}
