"""Observation models: how a run's measured target scatters around the law, on the law's
observation scale (the log of a loss; a score such as accuracy as it is).

Real training runs have outliers (the Chinchilla replication dropped five by hand), so the default
is a Student-t with ``nu = 4``; ``nu=None`` makes the degrees of freedom a parameter,
and ``kind="normal"`` gives the Gaussian model most point fits assume. Each likelihood has a
PyTensor form (for the sampler) and a NumPy form (for log-likelihood tables and simulation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytensor.tensor as pt
from scipy import special, stats

from .exceptions import ConfigError
from .priors import Prior

__all__ = ["Likelihood"]

_KINDS = ("studentt", "normal")


@dataclass(frozen=True)
class Likelihood:
    """Noise model for ``log(loss) = log(law(N, D)) + noise``.

    Parameters
    ----------
    kind
        ``"studentt"`` (default, robust to outlying runs) or ``"normal"``.
    nu
        Student-t degrees of freedom; ``None`` samples it (prior ``nu`` in the law's priors).

    Examples
    --------
    >>> Likelihood().noise_params
    ('sigma',)
    >>> Likelihood(nu=None).noise_params
    ('sigma', 'nu')
    """

    kind: str = "studentt"
    nu: float | None = 4.0

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ConfigError(f"likelihood must be one of {_KINDS}, got {self.kind!r}")
        if self.kind == "studentt" and self.nu is not None:
            if not np.isfinite(self.nu) or self.nu <= 0:
                raise ConfigError(f"Student-t nu must be positive, got {self.nu}")

    @property
    def noise_params(self) -> tuple[str, ...]:
        """Names of the sampled noise parameters."""
        return ("sigma", "nu") if self.free_nu else ("sigma",)

    @property
    def free_nu(self) -> bool:
        return self.kind == "studentt" and self.nu is None

    def default_priors(self) -> dict[str, Prior]:
        """``sigma`` is the noise scale on log loss (a few percent of the loss at most)."""
        priors = {"sigma": Prior("HalfNormal", sigma=0.1)}
        if self.free_nu:
            priors["nu"] = Prior("Gamma", alpha=2.0, beta=0.1)  # Juarez & Steel (2010)
        return priors

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "nu": self.nu}

    def describe(self, observed: str = "log loss") -> str:
        """In words, for reports.

        Examples
        --------
        >>> Likelihood().describe()
        'Student-t noise (4 degrees of freedom) on log loss'
        >>> Likelihood("studentt", None).describe("score")
        'Student-t noise (degrees of freedom fitted) on score'
        """
        if self.kind == "normal":
            return f"Gaussian noise on {observed}"
        dof = "degrees of freedom fitted" if self.free_nu else f"{self.nu:g} degrees of freedom"
        return f"Student-t noise ({dof}) on {observed}"

    def _nu(self, params: dict[str, Any]):
        return params["nu"] if self.free_nu else self.nu

    def logp(self, y, mu, params: dict[str, Any]):
        """Pointwise PyTensor log density of observed log loss ``y`` around ``mu``."""
        sigma = params["sigma"]
        z = (y - mu) / sigma
        if self.kind == "normal":
            return -0.5 * z**2 - pt.log(sigma) - 0.5 * np.log(2 * np.pi)
        nu = self._nu(params)
        return (
            pt.gammaln((nu + 1) / 2)
            - pt.gammaln(nu / 2)
            - 0.5 * pt.log(nu * np.pi)
            - pt.log(sigma)
            - (nu + 1) / 2 * pt.log1p(z**2 / nu)
        )

    def logpdf(self, y, mu, params: dict[str, Any]):
        """Pointwise NumPy log density (broadcasts like ``mu``)."""
        sigma = params["sigma"]
        z = (y - mu) / sigma
        if self.kind == "normal":
            return -0.5 * z**2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)
        nu = self._nu(params)
        return (
            special.gammaln((nu + 1) / 2)
            - special.gammaln(nu / 2)
            - 0.5 * np.log(nu * np.pi)
            - np.log(sigma)
            - (nu + 1) / 2 * np.log1p(z**2 / nu)
        )

    def sample(self, rng: np.random.Generator, mu, params: dict[str, Any]):
        """Draw noisy log losses around ``mu`` (NumPy arrays broadcasting together)."""
        sigma = np.asarray(params["sigma"])
        mu = np.asarray(mu)
        shape = np.broadcast_shapes(mu.shape, sigma.shape)
        if self.kind == "normal":
            eps = rng.standard_normal(shape)
        else:
            eps = rng.standard_t(np.asarray(self._nu(params)), size=shape)
        return mu + sigma * eps

    def quantile(self, q: float, params: dict[str, Any]):
        """Quantile of the standardised noise (per draw when ``nu`` is sampled)."""
        if self.kind == "normal":
            return stats.norm.ppf(q)
        return stats.t.ppf(q, np.asarray(self._nu(params)))
