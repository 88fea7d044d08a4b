"""Simulation-based calibration (Talts et al. 2018, arXiv:1804.06788).

Draw parameters from the prior, simulate runs from the law and its likelihood, fit, and record
the rank of each true value among the (thinned) posterior draws. If the sampler and the model
are right, every rank is uniform on ``0..L``. A simulation may be rejected on its *data* alone
(``accept``): conditioning on the data keeps the posterior, and so the ranks, calibrated — this
is how implausible prior draws (losses of 10^6) are kept out without breaking the check.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .exceptions import ConfigError
from .laws.base import Law
from .priors import Prior, draw_prior
from .simulate import simulate_runs

__all__ = ["sbc", "rank_uniformity", "rank_coverage"]


def _plausible(runs: pd.DataFrame, target: str) -> bool:
    y = runs[target].to_numpy(float)
    return bool(np.all(np.isfinite(y)) and np.all(y > 1.0) and np.all(y < 10.0))


def sbc(
    law: Law,
    design: pd.DataFrame,
    n_sims: int,
    *,
    seed: int = 0,
    n_ranks: int = 99,
    simulation_priors: Mapping[str, Prior] | None = None,
    accept: Callable[[pd.DataFrame], bool] | None = None,
    max_tries: int = 50,
    simulate_with: Callable[[dict[str, float]], dict[str, float]] | None = None,
    **fit_kwargs: Any,
) -> pd.DataFrame:
    """Rank statistics of the true parameters among posterior draws, one row per simulation.

    Parameters
    ----------
    law
        The model under test (its priors are what the fit uses).
    design
        Where to simulate runs (N, D, C columns; see :func:`bayescale.simulate.isoflop_design`).
    n_sims
        Number of accepted simulations.
    seed
        Seed of everything (prior draws, simulated noise, fits).
    n_ranks
        Posterior draws kept (evenly thinned) per fit: ranks lie in ``0..n_ranks``.
    simulation_priors
        Draw the true values from these priors instead of the law's (only to show that the check
        detects a mismatch: a correct setup never sets this).
    accept
        ``accept(runs) -> bool`` on the simulated runs only (default: every loss in (1, 10)).
    max_tries
        Give up after this many rejected simulations per accepted one.
    simulate_with
        ``simulate_with(truth) -> params``: simulate the runs with other parameters than the
        recorded truth, e.g. ``lambda t: {**t, "sigma": 2 * t["sigma"]}`` (only for negative
        controls: a correct setup never sets this).
    **fit_kwargs
        Passed to :meth:`Law.fit` (draws, tune, chains, ...).

    Returns
    -------
    pandas.DataFrame
        Columns: one rank per sampled parameter, ``contraction_<param>`` (posterior sd / prior
        sd: near 1 when the data teach nothing), ``divergences``, ``ok`` (diagnostics verdict).
    """
    if n_sims < 1:
        raise ConfigError(f"n_sims must be >= 1, got {n_sims}")
    accept = accept or (lambda runs: _plausible(runs, law.target))
    priors = {**law.priors, **(simulation_priors or {})}
    names = law.sampled_params
    rng = np.random.default_rng(seed)
    budget = max_tries * n_sims
    pool = {n: draw_prior(priors[n], budget, int(rng.integers(2**31))) for n in names}
    seeds = rng.integers(2**31, size=budget)
    prior_sd = {n: float(np.std(draw_prior(law.priors[n], 4000, 0))) for n in names}
    rows = []
    tries = 0
    while len(rows) < n_sims:
        if tries >= budget:
            raise ConfigError(
                f"only {len(rows)} of {tries} simulations were accepted: the prior rarely "
                "produces plausible runs at this design; change the design or accept="
            )
        truth = {n: float(pool[n][tries]) for n in names}
        s = int(seeds[tries])
        tries += 1
        runs = simulate_runs(law, simulate_with(truth) if simulate_with else truth, design, seed=s)
        if not accept(runs):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # the posterior is what is calibrated: no drift refit (it is about extrapolation)
            fit = law.fit(runs, seed=s, **{"drift": False, **fit_kwargs})
        post = fit.posterior
        row: dict[str, Any] = {}
        for n in names:
            draws = post[n].to_numpy().ravel()
            keep = draws[np.linspace(0, len(draws) - 1, n_ranks).round().astype(int)]
            row[n] = int(np.sum(keep < truth[n]))
            row[f"contraction_{n}"] = float(draws.std() / prior_sd[n])
        row["divergences"] = fit.diagnostics.get("divergences", 0)
        row["ok"] = fit.diagnostics.get("ok", False)
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["n_ranks"] = n_ranks
    out.attrs["acceptance"] = n_sims / tries
    return out


def rank_uniformity(ranks: pd.DataFrame, bins: int = 5) -> pd.Series:
    """Chi-square p-value per parameter for uniform ranks in ``bins`` equal bins.

    Examples
    --------
    >>> r = pd.DataFrame({"x": np.arange(100) % 100})
    >>> r.attrs["n_ranks"] = 99
    >>> float(rank_uniformity(r)["x"]) > 0.99
    True
    """
    n_ranks = ranks.attrs.get("n_ranks")
    if n_ranks is None:
        raise ConfigError("ranks must come from sbc() (attrs['n_ranks'] is missing)")
    out = {}
    for name in ranks.columns:
        if name in ("divergences", "ok") or name.startswith("contraction_"):
            continue
        counts = np.bincount(
            np.minimum((ranks[name].to_numpy() * bins) // (n_ranks + 1), bins - 1), minlength=bins
        )
        out[name] = float(stats.chisquare(counts).pvalue)
    return pd.Series(out, name="p_value")


def rank_coverage(ranks: pd.DataFrame, level: float = 0.5) -> pd.Series:
    """Share of simulations whose truth lies in the central ``level`` posterior interval, per
    parameter: ``level`` when calibrated, less when posteriors are too narrow, more when too
    wide. Sharper than a rank histogram against a posterior of the wrong width.

    Examples
    --------
    >>> r = pd.DataFrame({"x": np.arange(100) % 100})
    >>> r.attrs["n_ranks"] = 99
    >>> float(rank_coverage(r)["x"])
    0.5
    """
    n_ranks = ranks.attrs.get("n_ranks")
    if n_ranks is None:
        raise ConfigError("ranks must come from sbc() (attrs['n_ranks'] is missing)")
    lo, hi = (1 - level) / 2 * (n_ranks + 1), (1 + level) / 2 * (n_ranks + 1)
    out = {
        name: float(np.mean((ranks[name] >= lo) & (ranks[name] < hi)))
        for name in ranks.columns
        if name not in ("divergences", "ok") and not name.startswith("contraction_")
    }
    return pd.Series(out, name=f"coverage_{level:g}")
