"""The tokens-per-parameter drift of a curve fit, learned from the checkpoints its rule left out.

A curve fit keeps the checkpoints with at least the shortest run's tokens per parameter
(:func:`bayescale.curves.keep_checkpoints`): below that the law ``L(N, D)`` would be asked about
runs shorter than any it has seen trained, and fitting them bends it (on the OLMo ladder the fit
broke). Predictions there are still asked for, e.g. the early checkpoints of a new run, and the
law's error grows with the distance below the fitted range, which parameter uncertainty cannot
show. The checkpoints the rule left out measure that error without any held-out run: every
training run past ``min_fraction`` and below the range is predicted from the fit's posterior as
a checkpoint of its run (the law, the anneal still to come from the run's own schedule as in
the fit, a new run's noise), as ``predict_loss(fit, N, D, run_tokens=T, schedule=...)`` would
for a planned run, and the drift's scale ``tau`` comes from their residuals as the compute
drift's does (:func:`bayescale.drift.tau_from_residuals`, ``d`` = decades of ``D / N`` below
the range). Predictions below the range then carry ``Normal(0, tau**2 d)`` more on the
observation scale (:func:`bayescale.drift.with_tpp_drift`).

The residuals of one run are correlated (the run's own offset, its smooth noise), so ``tau``'s
posterior is narrower than the evidence warrants; its point value is what matters here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import constants as K
from .curve_noise import log_run_length, schedule_gap
from .curves import keep_checkpoints, schedule_remaining
from .drift import tau_from_residuals
from .laws.base import Law

__all__ = ["estimate_tpp_drift", "left_out_checkpoints", "MIN_LEFT_OUT", "tpp_residuals"]

#: Fewest left-out checkpoints (from at least two runs) to learn the drift from.
MIN_LEFT_OUT = 10


def left_out_checkpoints(runs: pd.DataFrame, kept: pd.DataFrame, min_fraction: float) -> tuple:
    """The checkpoints past ``min_fraction`` of their run with fewer tokens per parameter than
    any ``kept`` one (with their ``schedule``, the anneal still to come, from the ``lr`` column
    where given: :func:`bayescale.curves.schedule_remaining`), and that smallest ``D / N`` of
    the kept ones.

    Examples
    --------
    >>> runs = pd.DataFrame({"run": ["a"] * 4 + ["b"] * 4, "N": 1e8,
    ...                      "D": [1e8, 5e8, 1e9, 2e9, 2e8, 1e9, 2e9, 4e9],
    ...                      "run_tokens": [2e9] * 4 + [4e9] * 4})
    >>> kept = runs[runs["D"] / runs["N"] >= 20]  # the shortest run's 20 tokens per parameter
    >>> table, tpp_min = left_out_checkpoints(runs, kept, 0.1)
    >>> table["D"].tolist(), tpp_min  # past 10% of their run and under 20 tokens per parameter
    ([500000000.0, 1000000000.0, 1000000000.0], 20.0)
    """
    tpp_min = float((kept[K.D] / kept[K.N]).min())
    past = keep_checkpoints(runs, min_fraction, None)
    below = (runs[K.D] / runs[K.N]).to_numpy() < tpp_min * (1 - 1e-9)
    table = runs.assign(**{K.SCHEDULE: schedule_remaining(runs)})  # on whole runs, as a fit's
    return table[past & below].reset_index(drop=True), tpp_min


def tpp_residuals(
    law: Law, params: dict[str, np.ndarray], table: pd.DataFrame, tpp_min: float
) -> dict[str, np.ndarray]:
    """Residuals ``r`` of the checkpoints in ``table`` (with their ``schedule``) against the
    posterior-mean prediction of each as a checkpoint of its run, their predictive variances
    ``v`` (parameters and a new run's noise, as the compute drift's held-out runs have them:
    :func:`bayescale.fitting.drift_residuals`) and distances ``d`` (decades of ``D / N`` below
    ``tpp_min``), all on the observation scale."""
    n, dd, total = (table[c].to_numpy(float) for c in (K.N, K.D, K.RUN_TOKENS))
    inputs = {x: table[x].to_numpy(float) for x in law.inputs}
    with np.errstate(all="ignore"):
        loss = law.predict(params, **inputs)
        g = table[K.SCHEDULE].to_numpy(float)
        mu = law.to_observed(loss + schedule_gap(params, g, log_run_length(n, total)))
        noise = np.broadcast_to(law.noise_variance(params, **inputs), mu.shape)
    y = law.to_observed(table[law.target].to_numpy(float))
    return {
        "r": y - mu.mean(axis=0),
        "v": mu.var(axis=0) + noise.mean(axis=0),
        "d": np.log10(tpp_min * n / dd),
    }


def estimate_tpp_drift(
    law: Law,
    posterior: Any,
    runs: pd.DataFrame,
    kept: pd.DataFrame,
    min_fraction: float,
    *,
    method: str = "mle",
) -> dict[str, Any]:
    """Learn the tokens-per-parameter drift of a curve fit (see the module's docstring).

    ``runs``: every validated checkpoint; ``kept``: those the fit was conditioned on. Returns
    ``{"tau", "tau_draws", "method", "tpp_min", "n_left_out", "runs_left_out", "note"}``, or
    ``{"tau": None, "note": why}`` when fewer than :data:`MIN_LEFT_OUT` checkpoints of two runs
    were left out (then nothing widens predictions below the range; they still warn).
    """
    table, tpp_min = left_out_checkpoints(runs, kept, min_fraction)
    n_runs = int(table[K.RUN_ID].nunique()) if len(table) else 0
    if len(table) < MIN_LEFT_OUT or n_runs < 2:
        return {
            "tau": None,
            "tpp_min": tpp_min,
            "note": f"not learned: {len(table)} checkpoint(s) of {n_runs} run(s) lie past "
            f"min_fraction below the fitted D/N of {tpp_min:.3g} (need {MIN_LEFT_OUT} of 2)",
        }
    res = tpp_residuals(law, law.flat_draws(posterior), table, tpp_min)
    ok = np.isfinite(res["r"]) & np.isfinite(res["v"]) & (res["d"] > 0)
    out = tau_from_residuals(res["r"][ok], res["v"][ok], res["d"][ok], method)
    return {
        **out,
        "tpp_min": tpp_min,
        "n_left_out": int(ok.sum()),
        "runs_left_out": n_runs,
        "note": "learned from the checkpoints the curve rule left out below the fitted D/N "
        "(see bayescale.tpp_drift)",
    }
