"""Noise models of the Chinchilla-type laws: how a run's scatter around the law varies.

The likelihood (:mod:`bayescale.likelihood`) fixes the shape of the noise (Student-t or
Normal); the noise model fixes its scale per run, on log loss. Every model has the scale
``sigma`` at the compute-optimal size of the run's compute; they differ in how it changes away
from there. With ``x = log(N / N*(C))`` (``N*`` the law's own compute-optimal size, so ``x > 0``
is a model too large for its compute, under-trained, and ``x < 0`` an over-trained one):

==============  ============================================================  =================
model           scale of a run                                                extra parameters
==============  ============================================================  =================
``constant``    ``sigma``                                                     none
``offopt``      ``sigma * exp(s * |x|)``                                      ``sigma_slope``
``asym``        ``sigma * exp(s_u * max(x, 0) + s_o * max(-x, 0))``           ``sigma_slope_under``,
                                                                              ``sigma_slope_over``
``size``        ``sigma * exp(-s * log(N / 1e9))``                            ``sigma_size``
==============  ============================================================  =================

``offopt`` was learned on IsoFLOP sweeps, where both ends of a sweep scatter; ``asym`` lets the
over-trained side (ladders, runs far past 20 tokens per parameter) have its own slope; ``size``
lets the scale change with model size (larger models, steadier losses when ``s > 0``; there
``sigma`` is the scale at 1B parameters, whatever the compute). The
slopes' priors are HalfNormal(1) (``sigma_size``: Normal(0, 0.5)): zero is constant noise.
``docs/noise_models.md`` compares them by PSIS-LOO and backtests on the shipped data sets.

The models need the law's compute-optimal frontier; :class:`FrontierNoise` is the mix-in that
gives a law with Chinchilla's ``A / N**alpha + B / D**beta`` terms the ``noise`` option.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .. import constants as K
from ..exceptions import ConfigError
from ..priors import Prior
from .base import raw_log

__all__ = ["NOISE_MODELS", "FrontierNoise", "log_size_ratio"]

NOISE_MODELS: dict[str, tuple[str, ...]] = {
    "constant": (),
    "offopt": ("sigma_slope",),
    "asym": ("sigma_slope_under", "sigma_slope_over"),
    "size": ("sigma_size",),
}

#: ``log(1e9)``: the size at which ``noise="size"``'s ``sigma`` is the scale.
LOG_SIZE_REF = math.log(1e9)

_SLOPE = Prior("HalfNormal", sigma=1.0)
_PRIORS: dict[str, Prior] = {
    "sigma_slope": _SLOPE,
    "sigma_slope_under": _SLOPE,
    "sigma_slope_over": _SLOPE,
    "sigma_size": Prior("Normal", mu=0.0, sigma=0.5),
}


def log_size_ratio(p: Mapping[str, Any], log_n: Any, log_d: Any, xp: Any) -> Any:
    """``log(N / N*(C))`` with ``C / k = N D`` and Chinchilla's frontier
    ``N* = G (C/k)**(beta / (alpha + beta))``, ``G = (alpha A / (beta B))**(1 / (alpha + beta))``
    (:mod:`bayescale.allocation`'s, in logs so that it also builds the sampler's graph).

    Works on NumPy arrays and PyTensor tensors alike (``xp``); ``p`` holds the amplitudes
    ``A``, ``B`` and the exponents.

    Examples
    --------
    >>> import numpy as np
    >>> p = dict(A=406.4, B=410.7, alpha=0.34, beta=0.28)
    >>> x = log_size_ratio(p, np.log(70e9), np.log(1.4e12), np)
    >>> round(float(np.exp(x)), 1)  # Chinchilla is twice its own law's optimal size
    2.2
    """
    total = p["alpha"] + p["beta"]
    log_g = (xp.log(p["alpha"]) + xp.log(p["A"]) - xp.log(p["beta"]) - xp.log(p["B"])) / total
    return log_n - (log_g + p["beta"] / total * (log_n + log_d))


class FrontierNoise:
    """Mix-in: the ``noise`` option (:data:`NOISE_MODELS`) of a law with Chinchilla's terms.

    Its ``__init__`` (the law's constructor, with ``noise=``) sets the noise model before the
    base class's, whose default priors include :meth:`default_noise_priors`; ``options()``
    saves it with the fit.
    """

    noise: str

    def __init__(
        self,
        priors: Any = None,
        likelihood: Any = "studentt",
        nu: float | None = 4.0,
        pooling: str = "complete",
        noise: str | None = None,
        centred: Any = None,
    ) -> None:
        curve = likelihood == "curve" or getattr(likelihood, "curve", False)
        self._set_noise(noise, pooling, curve)
        super().__init__(  # type: ignore[call-arg]
            priors=priors, likelihood=likelihood, nu=nu, pooling=pooling, centred=centred
        )

    def options(self) -> dict[str, Any]:
        return {**super().options(), "noise": self.noise}  # type: ignore[misc]

    #: The noise model of an unpooled fit when ``noise=None`` (pooled fits: ``"constant"``,
    #: the off-optimum scale sampled poorly there, #4; curve fits too: a run's offset and its
    #: correlated noise describe the scatter of its checkpoints).
    default_noise: str = "offopt"

    def _set_noise(self, noise: str | None, pooling: str, curve: bool = False) -> None:
        if noise is None:  # curves: the run offsets and the noise along a run take its place
            noise = self.default_noise if pooling == "complete" and not curve else "constant"
        if noise not in NOISE_MODELS:
            raise ConfigError(f"noise must be one of {tuple(NOISE_MODELS)}, got {noise!r}")
        self.noise = noise

    @property
    def noise_params(self) -> tuple[str, ...]:
        return NOISE_MODELS[self.noise]

    def default_noise_priors(self) -> dict[str, Prior]:
        return {name: _PRIORS[name] for name in NOISE_MODELS[self.noise]}

    def noise_scale(self, p: Mapping[str, Any], logx: Mapping[str, Any], xp: Any) -> Any:
        """The run's noise scale on log loss under :attr:`noise` (see the module's table)."""
        if self.noise == "constant":
            return p["sigma"]
        log_n = raw_log(logx, K.N)
        if self.noise == "size":
            return p["sigma"] * xp.exp(-p["sigma_size"] * (log_n - LOG_SIZE_REF))
        x = log_size_ratio(p, log_n, raw_log(logx, K.D), xp)
        if self.noise == "offopt":
            return p["sigma"] * xp.exp(p["sigma_slope"] * xp.abs(x))
        under, over = xp.maximum(x, 0.0), xp.maximum(-x, 0.0)
        return p["sigma"] * xp.exp(p["sigma_slope_under"] * under + p["sigma_slope_over"] * over)
