"""Convergence diagnostics, checked after every fit.

A fit is trustworthy when every chain agrees (R-hat <= 1.01), there are enough effective draws
for stable tails (bulk and tail ESS >= 400, i.e. 100 per chain for four chains; Vehtari et al.
2021), no transition diverged, and the energy fraction of missing information is not low
(E-BFMI >= 0.3). :func:`diagnose` measures these; :func:`warn_if_untrustworthy` turns each
failure into a :class:`~bayescale.exceptions.ConvergenceWarning` that names a fix.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import constants as K
from .exceptions import ConvergenceWarning

__all__ = ["diagnose", "warn_if_untrustworthy"]

BFMI_MIN = 0.3


def _worst(ds, fn) -> tuple[float, str]:
    values = {
        name: float(np.nanmin(ds[name].values)) if fn is min else float(np.nanmax(ds[name].values))
        for name in ds.data_vars
    }
    finite = {k: v for k, v in values.items() if np.isfinite(v)}
    if not finite:
        return float("nan"), ""
    name = fn(finite, key=finite.get)
    return finite[name], name


def diagnose(
    idata: Any,
    var_names: Sequence[str],
    *,
    rhat_max: float = K.RHAT_MAX,
    ess_min: float = K.ESS_MIN,
) -> dict[str, Any]:
    """Measure R-hat, ESS, divergences and E-BFMI of ``var_names``.

    Returns
    -------
    dict
        ``max_rhat``, ``max_rhat_param``, ``min_ess_bulk``, ``min_ess_bulk_param``,
        ``min_ess_tail``, ``min_ess_tail_param``, ``divergences``, ``n_draws``, ``chains``,
        ``min_bfmi``, ``problems`` (human-readable, each with a suggested fix) and ``ok``.
    """
    import arviz as az

    post = idata.posterior[list(var_names)]
    chains, draws = post.sizes[K.CHAIN], post.sizes[K.DRAW]
    problems: list[str] = []
    result: dict[str, Any] = {"chains": int(chains), "n_draws": int(draws)}

    if chains >= 2:
        rhat, rhat_p = _worst(az.rhat(post), max)
    else:
        rhat, rhat_p = float("nan"), ""
        problems.append("R-hat needs at least 2 chains: run chains=4 to check convergence")
    ess_b, ess_b_p = _worst(az.ess(post, method="bulk"), min)
    ess_t, ess_t_p = _worst(az.ess(post, method="tail"), min)
    stats = idata.sample_stats
    divergences = int(stats["diverging"].sum()) if "diverging" in stats else 0
    bfmi = float(np.min(az.bfmi(idata))) if "energy" in stats else float("nan")
    result.update(
        max_rhat=rhat,
        max_rhat_param=rhat_p,
        min_ess_bulk=ess_b,
        min_ess_bulk_param=ess_b_p,
        min_ess_tail=ess_t,
        min_ess_tail_param=ess_t_p,
        divergences=divergences,
        min_bfmi=bfmi,
    )
    if np.isfinite(rhat) and rhat > rhat_max:
        problems.append(
            f"R-hat {rhat:.3f} > {rhat_max} for '{rhat_p}': the chains disagree; run longer "
            "(draws=2000, tune=2000) and check for a multimodal or unidentified posterior"
        )
    if ess_b < ess_min:
        problems.append(
            f"bulk ESS {ess_b:.0f} < {ess_min} for '{ess_b_p}': too few effective draws for "
            "stable estimates; increase draws (or chains)"
        )
    if ess_t < ess_min:
        problems.append(
            f"tail ESS {ess_t:.0f} < {ess_min} for '{ess_t_p}': the interval ends are unstable; "
            "increase draws (or chains)"
        )
    if divergences:
        problems.append(
            f"{divergences} divergent transition(s): the sampler missed part of the posterior; "
            "raise target_accept (e.g. 0.95) or use more informative priors"
        )
    if np.isfinite(bfmi) and bfmi < BFMI_MIN:
        problems.append(
            f"E-BFMI {bfmi:.2f} < {BFMI_MIN}: the momentum resampling explores the energy poorly; "
            "consider more informative priors on weakly identified terms"
        )
    result["problems"] = problems
    result["ok"] = not problems
    return result


def warn_if_untrustworthy(diagnostics: dict[str, Any], stacklevel: int = 3) -> None:
    """Issue one :class:`ConvergenceWarning` listing every problem found by :func:`diagnose`."""
    if diagnostics["problems"]:
        warnings.warn(
            "this fit should not be trusted yet:\n  - " + "\n  - ".join(diagnostics["problems"]),
            ConvergenceWarning,
            stacklevel=stacklevel,
        )
