"""Muennighoff et al. (2023): Chinchilla's law with repeated data (data-constrained scaling)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from .. import constants as K
from ..allocation import allocation_exponents
from ..exceptions import ConfigError
from ..priors import Prior
from .base import Law, raw_log, register_law
from .chinchilla import ChinchillaLaw
from .noise import FrontierNoise

__all__ = ["DataConstrainedLaw", "UNIQUE_TOKENS"]

UNIQUE_TOKENS = "unique_tokens"
_NO_FRONTIER = (
    "the data-constrained law's compute-optimal allocation depends on how many unique tokens "
    "there are, which a compute budget does not say; bayescale does not compute it (with fresh "
    "data, no token repeated, the law is Chinchilla's: allocate with a chinchilla fit, or "
    "compare plans with predict_loss(..., unique_tokens=...))"
)


@register_law
class DataConstrainedLaw(FrontierNoise, Law):
    """``L = E + A / N**alpha + B / D'**beta`` with effective data
    ``D' = U_D + U_D R_D* (1 - exp(-R_D / R_D*))``, ``R_D = D / U_D - 1`` repetitions.

    ``U_D`` (column ``unique_tokens``) is the number of unique tokens; repeated epochs are worth
    less and less, with a half-life of about ``R_D*`` repetitions (the paper found 15.4). The
    parameter-repetition term (R_N*) is not modelled: ``N' = N``.

    Defaults: Chinchilla's law's defaults plus ``R_D_star ~ LogNormal(log 15, 1.5)``. Noise
    (``noise=``, :mod:`bayescale.laws.noise`): ``"constant"`` by default; the other models
    measure a run's distance from the compute-optimal size of fresh data (total tokens ``D``).
    The Student-t's degrees of freedom are fitted by default (``nu=None``; ``nu=4`` fixes
    them): runs repeated hundreds of times overfit, which the law does not describe, and heavy
    tails keep them from pulling the fit (on datablations PSIS-LOO +103 over ``nu=4``, median
    error of held-out larger runs 2.2% instead of 4.9%; ``docs/noise_models.md``).

    Examples
    --------
    >>> from bayescale import DataConstrainedLaw
    >>> DataConstrainedLaw().sampled_params
    ('E', 'A', 'B', 'alpha', 'beta', 'R_D_star', 'sigma', 'nu')
    """

    name: ClassVar[str] = "data-constrained"
    formula: ClassVar[str] = (
        "L = E + A/N^alpha + B/D'^beta, D' = U_D + U_D R_D* (1 - exp(-(D/U_D - 1)/R_D*))"
    )
    params: ClassVar[tuple[str, ...]] = ("E", "A", "B", "alpha", "beta", "R_D_star")
    inputs: ClassVar[tuple[str, ...]] = (K.N, K.D, UNIQUE_TOKENS)
    amplitudes: ClassVar[dict[str, tuple[str, str]]] = {
        "A": ("alpha", K.N),
        "B": ("beta", UNIQUE_TOKENS),
    }
    reference: ClassVar[str] = (
        "Muennighoff et al. (2023), Scaling Data-Constrained Language Models, arXiv:2305.16264"
    )

    default_noise: ClassVar[str] = "constant"

    def __init__(self, priors: Any = None, likelihood: Any = "studentt", nu: Any = None, **kw):
        super().__init__(priors, likelihood, nu, **kw)  # nu fitted unless given

    def default_law_priors(self) -> dict[str, Prior]:
        return {
            **ChinchillaLaw.default_law_priors(),
            "R_D_star": Prior("LogNormal", mu=2.7, sigma=1.5),
        }

    def literature_priors(self) -> dict[str, dict[str, Prior]]:
        """``muennighoff2023``: the paper's constants (E=1.869, A=520.8, B=1487.7,
        alpha=beta=0.3527) with the hoffmann2022 widths, and R_D* ~ LogNormal(log 15.4, 0.5);
        ``across_datasets``: the Chinchilla law's set learned from the shipped data sets (R_D*
        keeps its default prior: only one shipped set repeats data)."""
        sets = ChinchillaLaw().literature_priors()
        return {
            "muennighoff2023": {
                **sets["muennighoff2023"],
                "R_D_star": Prior("LogNormal", mu=2.734, sigma=0.5),
            },
            "across_datasets": sets["across_datasets"],
        }

    def location(self, p: Mapping[str, Any], logx: Mapping[str, Any], xp: Any) -> Any:
        repeats = xp.exp(raw_log(logx, K.D) - raw_log(logx, UNIQUE_TOKENS)) - 1.0
        r_star = p["R_D_star"]
        # log D' = log U_D + log(1 + R* (1 - exp(-R / R*))); U_D enters (centred) via logx.
        log_gain = xp.log1p(-r_star * xp.expm1(-repeats / r_star))
        log_d_eff = logx[UNIQUE_TOKENS] + log_gain
        return xp.log(
            p["E"]
            + xp.exp(p["log_A"] - p["alpha"] * logx[K.N])
            + xp.exp(p["log_B"] - p["beta"] * log_d_eff)
        )

    def optimal_allocation(self, params: Mapping[str, Any], compute: Any, k: float = 6.0):
        raise ConfigError(_NO_FRONTIER)

    def compute_for_loss(self, params: Mapping[str, Any], target: Any, k: float = 6.0):
        raise ConfigError(_NO_FRONTIER)

    def derived(self, posterior: Mapping[str, Any]) -> dict[str, Any]:
        a, b = allocation_exponents(posterior["alpha"], posterior["beta"])
        return {"a": a, "b": b}
