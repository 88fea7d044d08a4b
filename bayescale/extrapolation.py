"""How far a prediction reaches beyond the fitted runs, and the warnings that say so.

A law's intervals hold where its form does. Beyond the largest fitted run in compute the
extrapolation drift widens them (:mod:`bayescale.drift`), and past ``MAX_EXTRAPOLATION`` x a
warning says that the form is assumed to hold that far. Below the fitted runs' tokens per
parameter a run is much shorter for its size than any fitted one (an over-sized model, or an
early checkpoint of a curve): the law was never measured there, and on the OLMo ladder its
losses there are too low. A curve fit learns how much too low from the checkpoints its rule left
out there and widens its intervals by that drift (:mod:`bayescale.tpp_drift`; on the ladder's 3B
checkpoints below the range, coverage 0.29 -> 0.86, ``docs/curve_backtest.md``); a fit of final
losses has nothing to learn it from, and nothing widens its intervals there.
:func:`extrapolation` warns below ``1 / MIN_TOKENS_PER_PARAM_FACTOR`` of the smallest.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import constants as K
from .exceptions import ExtrapolationWarning
from .fit import Fit

__all__ = ["MAX_EXTRAPOLATION", "MIN_TOKENS_PER_PARAM_FACTOR", "extrapolation"]

MAX_EXTRAPOLATION = 100.0  #: compute factor beyond the largest fitted run that triggers a warning
#: A plan with fewer tokens per parameter than the fitted runs' smallest divided by this warns.
MIN_TOKENS_PER_PARAM_FACTOR = 1.5


def extrapolation(
    fit: Fit, n: np.ndarray | None, d: np.ndarray | None, c: np.ndarray, max_extrapolation: float
) -> dict[str, np.ndarray]:
    """Each plan's ``compute_factor`` (and ``N_factor``, ``D_factor`` where N and D are given)
    over the largest fitted run; an :class:`~bayescale.exceptions.ExtrapolationWarning` past
    ``max_extrapolation`` in compute, and for plans with under ``1 / 1.5`` of the fitted runs'
    smallest tokens per parameter (``max_extrapolation=inf`` silences both).

    Examples
    --------
    >>> out = extrapolation(fit, np.array([1e9]), np.array([2e10]), np.array([1.2e20]), 100.0)
    >>> sorted(out)
    ['D_factor', 'N_factor', 'compute_factor']
    """
    runs = fit.runs
    out = {"compute_factor": c / runs[K.C].max()}
    if n is not None:
        out["N_factor"] = n / runs[K.N].max()
    if d is not None:
        out["D_factor"] = d / runs[K.D].max()
    if not np.isfinite(max_extrapolation):
        return out
    if (out["compute_factor"] > max_extrapolation).any():
        warnings.warn(
            f"extrapolating {out['compute_factor'].max():.3g}x beyond the largest fitted run's "
            f"compute ({runs[K.C].max():.3g} FLOPs; warning threshold {max_extrapolation:g}x): "
            "the law's form is assumed to hold that far; the intervals cannot show if it breaks",
            ExtrapolationWarning,
            stacklevel=3,
        )
    if n is not None and d is not None:
        fitted = float((runs[K.D] / runs[K.N]).min())
        tpp = np.asarray(d, dtype=float) / np.asarray(n, dtype=float)
        if (tpp < fitted / MIN_TOKENS_PER_PARAM_FACTOR).any():
            learned = (fit.settings.get("drift", {}).get("tpp") or {}).get("tau") is not None
            widen = (
                "its intervals widen by the drift learned from the checkpoints left out there"
                if learned
                else "its intervals do not widen there"
            )
            warnings.warn(
                f"{tpp.min():.3g} tokens per parameter, under the fitted runs' smallest "
                f"({fitted:.3g}): the law is not measured that short for a model's size (an "
                f"early checkpoint, an over-sized model), and {widen}",
                ExtrapolationWarning,
                stacklevel=3,
            )
    return out
