"""A smoothly broken power law with one break (Caballero et al. 2022)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from .. import constants as K
from ..exceptions import ConfigError
from ..likelihood import Likelihood
from ..priors import Prior
from .base import Law, raw_log, register_law

__all__ = ["BrokenPowerLaw"]


@register_law
class BrokenPowerLaw(Law):
    """``L(x) = E + A x**-alpha (1 + (x / x_b)**(1/f))**(-delta f)`` for x in N, D or C.

    The local exponent moves from ``alpha`` (x << x_b) to ``alpha + delta`` (x >> x_b); ``f``
    (``smoothness``, fixed, default 1) sets how sharp the break is. Defaults: E ~ HalfNormal(2.5),
    A ~ LogNormal(6, 3), alpha ~ TruncatedNormal(0.3, 0.25, >0), delta ~ Normal(0, 0.3),
    x_b ~ LogNormal(log 1e9 for N / 2e10 for D / 1e20 for C, 3).

    Examples
    --------
    >>> from bayescale import BrokenPowerLaw
    >>> BrokenPowerLaw().sampled_params
    ('E', 'A', 'alpha', 'delta', 'x_b', 'sigma')
    """

    name: ClassVar[str] = "broken-power"
    params: ClassVar[tuple[str, ...]] = ("E", "A", "alpha", "delta", "x_b")
    reference: ClassVar[str] = (
        "Caballero et al. (2022), Broken Neural Scaling Laws, arXiv:2210.14891"
    )
    _BREAK = {K.N: 20.7, K.D: 23.7, K.C: 46.1}

    def __init__(
        self,
        priors: Mapping[str, Any] | None = None,
        likelihood: str | Likelihood = "studentt",
        nu: float | None = 4.0,
        variable: str = K.N,
        smoothness: float = 1.0,
    ) -> None:
        if variable not in self._BREAK:
            raise ConfigError(f"variable must be one of N, D, C, got {variable!r}")
        if not smoothness > 0:
            raise ConfigError(f"smoothness must be positive, got {smoothness}")
        self.variable = variable
        self.smoothness = float(smoothness)
        super().__init__(priors=priors, likelihood=likelihood, nu=nu)

    @property
    def inputs(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.variable,)

    @property
    def amplitudes(self) -> dict[str, tuple[str, str]]:  # type: ignore[override]
        return {"A": ("alpha", self.variable)}

    @property
    def formula(self) -> str:  # type: ignore[override]
        x = self.variable
        return (
            f"L({x}) = E + A {x}^-alpha (1 + ({x}/x_b)^(1/f))^(-delta f), f = {self.smoothness:g}"
        )

    def options(self) -> dict[str, Any]:
        return {**super().options(), "variable": self.variable, "smoothness": self.smoothness}

    def default_law_priors(self) -> dict[str, Prior]:
        return {
            "E": Prior("HalfNormal", sigma=2.5),
            "A": Prior("LogNormal", mu=6.0, sigma=3.0),
            "alpha": Prior("TruncatedNormal", mu=0.3, sigma=0.25, lower=0.0),
            "delta": Prior("Normal", mu=0.0, sigma=0.3),
            "x_b": Prior("LogNormal", mu=self._BREAK[self.variable], sigma=3.0),
        }

    def location(self, p: Mapping[str, Any], logx: Mapping[str, Any], xp: Any) -> Any:
        x = self.variable
        f = self.smoothness
        z = (raw_log(logx, x) - xp.log(p["x_b"])) / f
        softplus = xp.logaddexp(0.0, z)  # log(1 + (x/x_b)^(1/f))
        term = p["log_A"] - p["alpha"] * logx[x] - p["delta"] * f * softplus
        return xp.log(p["E"] + xp.exp(term))
