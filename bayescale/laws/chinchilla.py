"""Chinchilla's parametric law (Hoffmann et al. 2022, Approach 3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from .. import allocation
from .. import constants as K
from ..priors import Prior
from .base import Law, register_law
from .noise import FrontierNoise

__all__ = ["ChinchillaLaw"]


def _centred(e, a, b, alpha, beta, sd_e, sd_log_a, sd_log_b, sd_alpha, sd_beta):
    return {
        "E": Prior("TruncatedNormal", mu=e, sigma=sd_e, lower=0.0),
        "A": Prior("LogNormal", mu=float(np.log(a)), sigma=sd_log_a),
        "B": Prior("LogNormal", mu=float(np.log(b)), sigma=sd_log_b),
        "alpha": Prior("TruncatedNormal", mu=alpha, sigma=sd_alpha, lower=0.0),
        "beta": Prior("TruncatedNormal", mu=beta, sigma=sd_beta, lower=0.0),
    }


@register_law
class ChinchillaLaw(FrontierNoise, Law):
    """``L(N, D) = E + A / N**alpha + B / D**beta``.

    Default priors (weakly informative for losses in nats/token; Hoffmann et al. found
    E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28, the Besiroglu et al. replication
    E=1.82, A=482, B=2085, alpha=0.35, beta=0.37):

    ============  =====================================================  ==========================
    parameter     default prior                                          meaning
    ============  =====================================================  ==========================
    ``E``         ``HalfNormal(sigma=2.5)``                              irreducible loss
    ``A``         ``LogNormal(mu=6, sigma=3)``  (median 403)              model-size term amplitude
    ``B``         ``LogNormal(mu=6, sigma=3)``                           data term amplitude
    ``alpha``     ``TruncatedNormal(mu=0.35, sigma=0.25, lower=0)``      model-size exponent
    ``beta``      ``TruncatedNormal(mu=0.35, sigma=0.25, lower=0)``      data exponent
    ``sigma``     ``HalfNormal(sigma=0.1)``                              noise scale at the optimum
    ``sigma_slope`` ``HalfNormal(sigma=1)``                              growth of the noise off it
    ============  =====================================================  ==========================

    Noise (``noise=``): ``"offopt"`` (default for unpooled fits) lets the noise scale on log
    loss grow with the distance of a run's model size from the compute-optimal size at its
    compute, ``sigma * exp(sigma_slope * |log(N / N*(C))|)``: IsoFLOP sweeps put many runs far
    from the optimum, where losses scatter more and the law fits worst, and a constant scale
    lets them dictate the fit near the optimum, where the decisions are made. It halved the
    median error of held-out larger runs in the backtests (``docs/backtest_table.md``).
    ``"constant"`` is one scale for all runs (the default for pooled fits, where the off-optimum
    scale sampled poorly); ``"asym"`` and ``"size"``: see :mod:`bayescale.laws.noise`.

    Derived: ``a = beta / (alpha + beta)`` and ``b = alpha / (alpha + beta)``, the exponents of
    the compute-optimal ``N* ~ C**a`` and ``D* ~ C**b``.

    Examples
    --------
    >>> alpha = Prior("TruncatedNormal", mu=0.34, sigma=0.05, lower=0)
    >>> law = ChinchillaLaw(priors={"alpha": alpha})
    >>> law.priors["alpha"]
    Prior("TruncatedNormal", mu=0.34, sigma=0.05, lower=0)
    >>> law.sampled_params
    ('E', 'A', 'B', 'alpha', 'beta', 'sigma', 'sigma_slope')
    >>> ChinchillaLaw(noise="constant").sampled_params
    ('E', 'A', 'B', 'alpha', 'beta', 'sigma')
    """

    name: ClassVar[str] = "chinchilla"
    has_allocation: ClassVar[bool] = True
    formula: ClassVar[str] = "L(N, D) = E + A / N^alpha + B / D^beta"
    params: ClassVar[tuple[str, ...]] = ("E", "A", "B", "alpha", "beta")
    inputs: ClassVar[tuple[str, ...]] = (K.N, K.D)
    amplitudes: ClassVar[dict[str, tuple[str, str]]] = {"A": ("alpha", K.N), "B": ("beta", K.D)}
    level_param: ClassVar[str | None] = "E"
    reference: ClassVar[str] = (
        "Hoffmann et al. (2022), Training Compute-Optimal Large Language Models, arXiv:2203.15556"
    )

    @classmethod
    def default_law_priors(cls) -> dict[str, Prior]:
        exponent = Prior("TruncatedNormal", mu=0.35, sigma=0.25, lower=0.0)
        return {
            "E": Prior("HalfNormal", sigma=2.5),
            "A": Prior("LogNormal", mu=6.0, sigma=3.0),
            "B": Prior("LogNormal", mu=6.0, sigma=3.0),
            "alpha": exponent,
            "beta": exponent,
        }

    def literature_priors(self) -> dict[str, dict[str, Prior]]:
        """Prior sets centred on published fits of this law.

        - ``hoffmann2022``: Hoffmann et al.'s Approach 3 (E=1.69, A=406.4, B=410.7, alpha=0.34,
          beta=0.28); widths sd 0.1 on E, 0.03 on the exponents, 30% (log sd 0.3) on A and B.
        - ``besiroglu2024``: the replication's estimates (E=1.817, A=482, B=2085, alpha=0.348,
          beta=0.366), widths twice its bootstrap standard errors.
        - ``muennighoff2023``: Muennighoff et al.'s C4 constants (E=1.869, A=520.8, B=1487.7,
          alpha=beta=0.3527), the hoffmann2022 widths.
        - ``across_datasets``: learned from the four shipped data sets (Chinchilla, Porian,
          datablations, the OLMo ladder) by a random-effects meta-analysis of their fits
          (:func:`bayescale.learn_priors`, ``scripts/learned_prior.py``,
          ``docs/learned_prior.md``): the prior of a parameter in a data set not yet seen. The
          sets disagree (exponents 0.13–0.83), so it is about as wide as the defaults.
        """
        return {
            "across_datasets": {
                "E": Prior("TruncatedNormal", mu=1.676, sigma=1.274, lower=0.0),
                "A": Prior("LogNormal", mu=6.919, sigma=4.173),
                "B": Prior("LogNormal", mu=6.370, sigma=4.306),
                "alpha": Prior("TruncatedNormal", mu=0.4154, sigma=0.3124, lower=0.0),
                "beta": Prior("TruncatedNormal", mu=0.2969, sigma=0.2842, lower=0.0),
            },
            "hoffmann2022": _centred(1.69, 406.4, 410.7, 0.34, 0.28, 0.1, 0.3, 0.3, 0.03, 0.03),
            "besiroglu2024": _centred(
                1.817, 482.01, 2085.43, 0.348, 0.366, 0.052, 0.52, 1.24, 0.03, 0.042
            ),
            "muennighoff2023": _centred(
                1.869, 520.8, 1487.7, 0.3527, 0.3527, 0.1, 0.3, 0.3, 0.03, 0.03
            ),
        }

    def location(self, p: Mapping[str, Any], logx: Mapping[str, Any], xp: Any) -> Any:
        return xp.log(
            p["E"]
            + xp.exp(p["log_A"] - p["alpha"] * logx[K.N])
            + xp.exp(p["log_B"] - p["beta"] * logx[K.D])
        )

    def optimal_allocation(
        self, params: Mapping[str, Any], compute: Any, k: float = K.FLOPS_PER_PARAM_TOKEN
    ) -> dict[str, Any]:
        p = [params[n] for n in self.params]
        return allocation.optimal_allocation(*p, compute, k=k)

    def compute_for_loss(
        self, params: Mapping[str, Any], target: Any, k: float = K.FLOPS_PER_PARAM_TOKEN
    ) -> dict[str, Any]:
        p = [params[n] for n in self.params]
        return allocation.compute_for_loss(*p, target, k=k)

    def derived(self, posterior: Mapping[str, Any]) -> dict[str, Any]:
        a, b = allocation.allocation_exponents(posterior["alpha"], posterior["beta"])
        return {"a": a, "b": b}
