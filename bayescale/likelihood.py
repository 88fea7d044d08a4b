"""Observation models: how a run's measured target scatters around the law, on the law's
observation scale (the log of a loss; a score such as accuracy as it is).

Real training runs have outliers (the Chinchilla replication dropped five by hand), so the default
is a Student-t with ``nu = 4``; ``nu=None`` makes the degrees of freedom a parameter,
and ``kind="normal"`` gives the Gaussian model most point fits assume. ``kind="curve"`` is the
model of whole training curves (:mod:`bayescale.curve_noise`): a checkpoint at ``d`` of a run
planned for ``T`` tokens has log loss ``log(L(N, d) + gap)``, the gap the anneal still to come
(:func:`~bayescale.curve_noise.schedule_gap`: ``anneal * g ** anneal_power * (T / 20 N) **
anneal_length``, ``g`` the part of the learning-rate anneal still to come, 0 at the run's end),
plus a run offset (``sigma_run``) and
noise correlated along the run (an OU process in log tokens, ``sigma`` and ``ell``); a run's
checkpoints are one observation. Each likelihood has a
PyTensor form (for the sampler) and a NumPy form (for log-likelihood tables and simulation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytensor.tensor as pt
from scipy import special, stats

from .curve_noise import curve_logp_runs, schedule_gap, with_schedule
from .exceptions import ConfigError
from .priors import Prior

__all__ = ["Likelihood"]

_KINDS = ("studentt", "normal", "curve")
#: What a curve likelihood reads from the model besides ``y`` and ``mu``, per row (the
#: schedule ``g`` and :func:`~bayescale.curve_noise.curve_layout`'s arrays).
CURVE_DATA = ("schedule", "log_run_length", "run_idx", "first", "dlogd", "n_runs")
#: The curve likelihood's noise and schedule parameters.
CURVE_PARAMS = ("sigma", "sigma_run", "ell", "anneal", "anneal_power", "anneal_length")


@dataclass(frozen=True)
class Likelihood:
    """Noise model for ``log(loss) = log(law(N, D)) + noise``.

    Parameters
    ----------
    kind
        ``"studentt"`` (default, robust to outlying runs), ``"normal"``, or ``"curve"``
        (training curves: every checkpoint of a run; see the module's docstring).
    nu
        Student-t degrees of freedom; ``None`` samples it (prior ``nu`` in the law's priors).

    Examples
    --------
    >>> Likelihood().noise_params
    ('sigma',)
    >>> Likelihood(nu=None).noise_params
    ('sigma', 'nu')
    >>> Likelihood("curve").noise_params
    ('sigma', 'sigma_run', 'ell', 'anneal', 'anneal_power', 'anneal_length')
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
        if self.kind == "curve":
            return CURVE_PARAMS
        return ("sigma", "nu") if self.free_nu else ("sigma",)

    @property
    def curve(self) -> bool:
        """Whether this is the model of whole training curves."""
        return self.kind == "curve"

    @property
    def free_nu(self) -> bool:
        return self.kind == "studentt" and self.nu is None

    def default_priors(self) -> dict[str, Prior]:
        """``sigma`` is the noise scale on log loss (a few percent of the loss at most)."""
        priors = {"sigma": Prior("HalfNormal", sigma=0.1)}
        if self.curve:  # run offsets, correlation length (e-folds of d), the anneal (loss)
            priors["sigma_run"] = Prior("HalfNormal", sigma=0.1)
            priors["ell"] = Prior("LogNormal", mu=0.0, sigma=1.0)
            priors["anneal"] = Prior("HalfNormal", sigma=0.5)
            # the gap's shape, centred on a gap in proportion to the anneal to come, the same
            # for runs of every length (power 1, length 0): 95% of the prior within 0.37-2.7
            # and +-1, a gap from a quarter to four times as large for a run twice as long
            priors["anneal_power"] = Prior("LogNormal", mu=0.0, sigma=0.5)
            priors["anneal_length"] = Prior("Normal", mu=0.0, sigma=0.5)
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
        if self.curve:
            return (
                f"training curves on {observed}: a schedule term that vanishes at each run's "
                "end, run offsets and Gaussian noise correlated along each run"
            )
        if self.kind == "normal":
            return f"Gaussian noise on {observed}"
        dof = "degrees of freedom fitted" if self.free_nu else f"{self.nu:g} degrees of freedom"
        return f"Student-t noise ({dof}) on {observed}"

    def _nu(self, params: dict[str, Any]):
        return params["nu"] if self.free_nu else self.nu

    def logp(self, y, mu, params: dict[str, Any]):
        """PyTensor log density of observed log loss ``y`` around ``mu``: pointwise, or for
        ``kind="curve"`` one value per run (``params`` then carries :data:`CURVE_DATA`)."""
        if self.curve:
            return _curve_runs(y, mu, params, pt)
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
        """Pointwise NumPy log density (broadcasts like ``mu``); for ``kind="curve"`` each row
        as a checkpoint of a new run, on its own (Normal, the run offset's and the noise's
        variances added; the joint density of whole runs is :meth:`curve_logpdf`)."""
        if self.curve:
            return stats.norm.logpdf(y, mu, self.new_run_scale(params))
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

    def curve_logpdf(self, y, mu, params: dict[str, Any]):
        """NumPy log density of each run's checkpoints together (``kind="curve"``), one value
        per run along the last axis; ``params`` carries :data:`CURVE_DATA`."""
        return _curve_runs(y, mu, params, np)

    def new_run_scale(self, params: dict[str, Any]):
        """Scale of a new run's departure from the law (``sigma``; for curves the run offset's
        and the noise's together)."""
        sigma = np.asarray(params["sigma"])
        if self.curve:
            return np.sqrt(sigma**2 + np.asarray(params["sigma_run"]) ** 2)
        return sigma

    def sample(self, rng: np.random.Generator, mu, params: dict[str, Any]):
        """Draw noisy log losses around ``mu`` (NumPy arrays broadcasting together)."""
        sigma = self.new_run_scale(params)
        mu = np.asarray(mu)
        shape = np.broadcast_shapes(mu.shape, sigma.shape)
        if self.kind in ("normal", "curve"):
            eps = rng.standard_normal(shape)
        else:
            eps = rng.standard_t(np.asarray(self._nu(params)), size=shape)
        return mu + sigma * eps

    def quantile(self, q: float, params: dict[str, Any]):
        """Quantile of the standardised noise (per draw when ``nu`` is sampled)."""
        if self.kind in ("normal", "curve"):
            return stats.norm.ppf(q)
        return stats.t.ppf(q, np.asarray(self._nu(params)))


def _curve_runs(y, mu, params: dict[str, Any], xp: Any):
    """Each run's log density under the curve model (``xp``: NumPy or PyTensor)."""
    missing = [k for k in CURVE_DATA if k not in params]
    if missing:
        raise ConfigError(f"the curve likelihood needs {missing} (a curve fit's runs)")
    gap = schedule_gap(params, params["schedule"], params["log_run_length"], xp)
    level = with_schedule(mu, gap, xp)
    layout = {k: params[k] for k in CURVE_DATA[2:]}
    return curve_logp_runs(
        y - level,
        **layout,
        sigma=params["sigma"],
        sigma_run=params["sigma_run"],
        ell=params["ell"],
        xp=xp,
    )
