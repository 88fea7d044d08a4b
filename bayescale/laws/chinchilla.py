"""Chinchilla's parametric law (Hoffmann et al. 2022, Approach 3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from .. import allocation
from .. import constants as K
from ..priors import Prior
from .base import Law, register_law

__all__ = ["ChinchillaLaw"]


@register_law
class ChinchillaLaw(Law):
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
    ``sigma``     ``HalfNormal(sigma=0.1)``                              noise scale on log loss
    ============  =====================================================  ==========================

    Derived: ``a = beta / (alpha + beta)`` and ``b = alpha / (alpha + beta)``, the exponents of
    the compute-optimal ``N* ~ C**a`` and ``D* ~ C**b``.

    Examples
    --------
    >>> alpha = Prior("TruncatedNormal", mu=0.34, sigma=0.05, lower=0)
    >>> law = ChinchillaLaw(priors={"alpha": alpha})
    >>> law.priors["alpha"]
    Prior("TruncatedNormal", mu=0.34, sigma=0.05, lower=0)
    >>> law.sampled_params
    ('E', 'A', 'B', 'alpha', 'beta', 'sigma')
    """

    name: ClassVar[str] = "chinchilla"
    formula: ClassVar[str] = "L(N, D) = E + A / N^alpha + B / D^beta"
    params: ClassVar[tuple[str, ...]] = ("E", "A", "B", "alpha", "beta")
    inputs: ClassVar[tuple[str, ...]] = (K.N, K.D)
    amplitudes: ClassVar[dict[str, tuple[str, str]]] = {"A": ("alpha", K.N), "B": ("beta", K.D)}
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
        total = posterior["alpha"] + posterior["beta"]
        return {"a": posterior["beta"] / total, "b": posterior["alpha"] / total}
