"""Model comparison by PSIS-LOO (ArviZ), with Pareto-k diagnostics passed on."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .exceptions import ConfigError, ConvergenceWarning
from .fit import Fit, observed_name

__all__ = ["compare", "PARETO_K_BAD"]

PARETO_K_BAD = 0.7  #: Pareto k above which PSIS-LOO's estimate for a run is unreliable


def compare(fits: Mapping[str, Fit]) -> pd.DataFrame:
    """Rank fitted laws by expected log predictive density (PSIS-LOO), best first.

    Parameters
    ----------
    fits
        Name -> fit; every fit must be conditioned on the same runs, with the same
        observation scale (a log-loss law cannot be compared with a score law).

    Returns
    -------
    pandas.DataFrame
        ArviZ's comparison table (``rank``, ``elpd_loo``, ``p_loo``, ``elpd_diff``, ``weight``,
        ``se``, ``dse``, ``warning``) plus ``law``, ``pareto_k_bad`` (runs with k > 0.7) and
        ``converged`` (the fit's diagnostics passed). A difference is meaningful when
        ``elpd_diff`` is several times ``dse``, and only between converged fits.

    Warns
    -----
    ConvergenceWarning
        Naming every fit whose diagnostics failed: its LOO estimate is not to be trusted.
    UserWarning
        ArviZ's own warning when Pareto k values are high (the LOO estimate is then unreliable;
        ``pareto_k_bad`` counts the runs concerned).

    Examples
    --------
    ``fit`` is a fitted Chinchilla law; a fit compared with itself ties:

    >>> t = bs.compare({"chinchilla": fit, "again": fit})
    >>> t["elpd_diff"].tolist(), t["law"].tolist()
    ([0.0, 0.0], ['chinchilla', 'chinchilla'])
    """
    import arviz as az

    point = [n for n, f in fits.items() if f.settings.get("method", "mcmc") != "mcmc"]
    if point:
        raise ConfigError(
            f"PSIS-LOO needs posterior draws; {point} are point or bootstrap fits: refit by MCMC"
        )

    if len(fits) < 2:
        raise ConfigError("compare needs at least two fits")
    if len({f.law.observation for f in fits.values()}) > 1:
        raise ConfigError("fits model different observation scales (log loss vs score)")
    (first, base), *others = fits.items()
    for name, f in others:
        why = _difference(first, base, name, f)
        if why:
            raise ConfigError(
                f"fits were conditioned on different runs and cannot be compared: {why}"
            )
    with warnings.catch_warnings():
        # ArviZ's own Pareto-k warnings (one per fit and call) become the pareto_k_bad column
        # and one warning below; its pandas deprecation notice is not the user's business
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        warnings.filterwarnings("ignore", message=".*inplace keyword", module="arviz")
        table = az.compare({name: f.idata for name, f in fits.items()}, ic="loo")
        bad = {}
        for name, f in fits.items():
            loo = az.loo(f.idata, pointwise=True)
            bad[name] = int(np.sum(np.asarray(loo.pareto_k) > PARETO_K_BAD))
    table["law"] = [fits[name].law.name for name in table.index]
    table["pareto_k_bad"] = [bad[name] for name in table.index]
    table["converged"] = [bool(fits[name].diagnostics.get("ok", False)) for name in table.index]
    unreliable = [str(n) for n in table.index if table.loc[n, "pareto_k_bad"]]
    if unreliable:
        warnings.warn(
            f"PSIS-LOO is unreliable for some runs of {unreliable} (Pareto k > {PARETO_K_BAD}; "
            "column pareto_k_bad): those runs sway their fit strongly",
            UserWarning,
            stacklevel=2,
        )
    unconverged = [str(n) for n in table.index if not table.loc[n, "converged"]]
    if unconverged:
        warnings.warn(
            f"fit(s) {unconverged} did not converge (see their diagnostics): their ranking is "
            "not to be trusted; refit them before comparing",
            ConvergenceWarning,
            stacklevel=2,
        )
    return table


def _difference(name_a: str, a: Fit, name_b: str, b: Fit) -> str | None:
    """What differs between the runs two fits were conditioned on (None: the same runs)."""
    ya = np.asarray(a.idata.observed_data[observed_name(a.law)])
    yb = np.asarray(b.idata.observed_data[observed_name(b.law)])
    files = (
        f" (data: {name_a} from {a.data_info.get('source')}, {name_b} from "
        f"{b.data_info.get('source')})"
    )
    if ya.shape != yb.shape:
        return f"{name_a} has {ya.size} runs, {name_b} {yb.size}{files}"
    if np.array_equal(ya, yb):
        return None
    diff = np.flatnonzero(ya.ravel() != yb.ravel())
    i = int(diff[0])
    return (
        f"{name_a} and {name_b} both have {ya.size} runs, but {diff.size} of their observed "
        f"values differ (first: run {i}, {ya.ravel()[i]:.6g} vs {yb.ravel()[i]:.6g} on the "
        f"{a.law.observation} scale){files}"
    )
