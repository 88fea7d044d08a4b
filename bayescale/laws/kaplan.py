"""Kaplan et al. (2020) laws: single-factor power laws and the joint L(N, D) overfitting form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from .. import constants as K
from ..likelihood import Likelihood
from ..priors import Prior
from .base import Law, register_law

__all__ = ["KaplanN", "KaplanD", "KaplanC", "KaplanJoint"]

KAPLAN = "Kaplan et al. (2020), Scaling Laws for Neural Language Models, arXiv:2001.08361"


class _SingleFactor(Law):
    """``L(x) = E + A / x**alpha`` (``irreducible=False``: ``A / x**alpha``)."""

    variable: ClassVar[str]
    amplitude: ClassVar[str]
    exponent: ClassVar[str]
    reference: ClassVar[str] = KAPLAN

    def __init__(
        self,
        priors: Mapping[str, Any] | None = None,
        likelihood: str | Likelihood = "studentt",
        nu: float | None = 4.0,
        irreducible: bool = True,
    ) -> None:
        self.irreducible = bool(irreducible)
        super().__init__(priors=priors, likelihood=likelihood, nu=nu)

    @property
    def params(self) -> tuple[str, ...]:  # type: ignore[override]
        core = (self.amplitude, self.exponent)
        return ("E", *core) if self.irreducible else core

    @property
    def inputs(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.variable,)

    @property
    def amplitudes(self) -> dict[str, tuple[str, str]]:  # type: ignore[override]
        return {self.amplitude: (self.exponent, self.variable)}

    @property
    def formula(self) -> str:  # type: ignore[override]
        x, a, e = self.variable, self.amplitude, self.exponent
        return f"L({x}) = {'E + ' if self.irreducible else ''}{a} / {x}^{e}"

    def options(self) -> dict[str, Any]:
        return {**super().options(), "irreducible": self.irreducible}

    def default_law_priors(self) -> dict[str, Prior]:
        if self.irreducible:
            priors = {
                "E": Prior("HalfNormal", sigma=2.5),
                self.amplitude: Prior("LogNormal", mu=self.amp_mu, sigma=3.0),
                self.exponent: Prior("TruncatedNormal", mu=0.3, sigma=0.25, lower=0.0),
            }
        else:  # pure power laws have Kaplan's small exponents
            priors = {
                self.amplitude: Prior("LogNormal", mu=self.amp_mu_pure, sigma=3.0),
                self.exponent: Prior("TruncatedNormal", mu=0.08, sigma=0.1, lower=0.0),
            }
        return priors

    amp_mu: ClassVar[float] = 6.0
    amp_mu_pure: ClassVar[float] = 2.5

    def location(self, p: Mapping[str, Any], logx: Mapping[str, Any], xp: Any) -> Any:
        term = p["log_" + self.amplitude] - p[self.exponent] * logx[self.variable]
        return xp.log(p["E"] + xp.exp(term)) if self.irreducible else term


@register_law
class KaplanN(_SingleFactor):
    """Model-size law ``L(N) = E + A / N**alpha`` (Kaplan: ``(N_c / N)**alpha_N``, E = 0).

    Defaults: E ~ HalfNormal(2.5), A ~ LogNormal(6, 3), alpha ~ TruncatedNormal(0.3, 0.25, >0);
    without E: A ~ LogNormal(2.5, 3), alpha ~ TruncatedNormal(0.08, 0.1, >0) (Kaplan's
    alpha_N = 0.076, N_c = 8.8e13 give A = N_c**alpha_N = 11.5).

    Examples
    --------
    >>> from bayescale import KaplanN
    >>> KaplanN().sampled_params
    ('E', 'A', 'alpha', 'sigma')
    """

    name: ClassVar[str] = "kaplan-n"
    variable: ClassVar[str] = K.N
    amplitude: ClassVar[str] = "A"
    exponent: ClassVar[str] = "alpha"


@register_law
class KaplanD(_SingleFactor):
    """Data law ``L(D) = E + B / D**beta`` (Kaplan: ``(D_c / D)**alpha_D``, alpha_D = 0.095).

    Examples
    --------
    >>> from bayescale import KaplanD
    >>> KaplanD().sampled_params
    ('E', 'B', 'beta', 'sigma')
    """

    name: ClassVar[str] = "kaplan-d"
    variable: ClassVar[str] = K.D
    amplitude: ClassVar[str] = "B"
    exponent: ClassVar[str] = "beta"


@register_law
class KaplanC(_SingleFactor):
    """Compute law ``L(C) = E + C0 / C**gamma`` (Kaplan: ``(C_c / C)**alpha_C``, alpha_C ~ 0.05).

    Examples
    --------
    >>> from bayescale import KaplanC
    >>> KaplanC().sampled_params
    ('E', 'C0', 'gamma', 'sigma')
    """

    name: ClassVar[str] = "kaplan-c"
    variable: ClassVar[str] = K.C
    amplitude: ClassVar[str] = "C0"
    exponent: ClassVar[str] = "gamma"
    amp_mu: ClassVar[float] = 8.0
    amp_mu_pure: ClassVar[float] = 3.5


@register_law
class KaplanJoint(Law):
    """Kaplan's joint law ``L(N, D) = [(N_c / N)**(alpha_N / alpha_D) + D_c / D]**alpha_D``.

    Defaults centred on Kaplan et al.'s Table 2 (N_c = 8.8e13, D_c = 5.4e13, alpha_N = 0.076,
    alpha_D = 0.095) with wide widths: N_c, D_c ~ LogNormal(log value, 4); alpha_N, alpha_D ~
    TruncatedNormal(value, 0.1, >0). No irreducible term (the form has none).

    Examples
    --------
    >>> from bayescale import KaplanJoint
    >>> KaplanJoint().sampled_params
    ('N_c', 'D_c', 'alpha_N', 'alpha_D', 'sigma')
    """

    name: ClassVar[str] = "kaplan-joint"
    formula: ClassVar[str] = "L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D"
    params: ClassVar[tuple[str, ...]] = ("N_c", "D_c", "alpha_N", "alpha_D")
    inputs: ClassVar[tuple[str, ...]] = (K.N, K.D)
    reference: ClassVar[str] = KAPLAN

    def default_law_priors(self) -> dict[str, Prior]:
        return {
            "N_c": Prior("LogNormal", mu=32.1, sigma=4.0),
            "D_c": Prior("LogNormal", mu=31.6, sigma=4.0),
            "alpha_N": Prior("TruncatedNormal", mu=0.076, sigma=0.1, lower=0.0),
            "alpha_D": Prior("TruncatedNormal", mu=0.095, sigma=0.1, lower=0.0),
        }

    def location(self, p: Mapping[str, Any], logx: Mapping[str, Any], xp: Any) -> Any:
        n_term = p["alpha_N"] / p["alpha_D"] * (xp.log(p["N_c"]) - logx[K.N])
        d_term = xp.log(p["D_c"]) - logx[K.D]
        return p["alpha_D"] * xp.logaddexp(n_term, d_term)
