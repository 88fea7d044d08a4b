"""Figures of a downstream chain (:func:`bayescale.fit_chain`): the link with the checkpoints it
was fitted on, and the score against compute with its bands.

Examples
--------
``chain`` is a chain fit::

    from bayescale.chain_plots import plot_link, plot_score
    plot_link(chain)
    plot_score(chain)
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from . import constants as K
from .chain import NO_LINK
from .curves import at_end
from .exceptions import ConfigError
from .fit import Fit
from .formatting import formula_tex
from .predict import fit_k, predict_loss

__all__ = ["plot_link", "plot_score"]

BLUE, ORANGE = "#0072B2", "#E69F00"


def _link_of(fit: Fit) -> Fit:
    if fit.link is None:
        raise ConfigError(NO_LINK)
    return fit.link


def plot_link(fit: Fit, *, interval: float = K.DEFAULT_INTERVAL, ax: Any = None) -> Any:
    """The link from task loss to score: the checkpoints it was fitted on (coloured by model
    size), its posterior median and ``interval`` band of the mean score, from 30% below the
    lowest fitted loss (where big models go) to the highest."""
    link = _link_of(fit)
    runs = link.runs
    ax = ax if ax is not None else plt.subplots(figsize=(6, 4.2))[1]
    x = runs[K.LOSS].to_numpy(float)
    points = ax.scatter(
        x, runs["score"], c=np.log10(runs[K.N]), s=6, cmap="viridis", alpha=0.6, lw=0
    )
    grid = np.linspace(0.7 * x.min(), x.max(), 200)
    mean = _mean_band(link, grid)
    lo, med, hi = np.quantile(mean, [(1 - interval) / 2, 0.5, (1 + interval) / 2], axis=0)
    ax.fill_between(grid, lo, hi, color=ORANGE, alpha=0.3, lw=0, label=f"{interval:.0%} band")
    ax.plot(grid, med, color=ORANGE, lw=2, label="link (median)")
    ax.axvline(x.min(), color="0.5", ls=":", lw=1)
    ax.set_xlabel("task loss")
    ax.set_ylabel("score")
    ax.set_title(f"${formula_tex(link.law.formula)}$", fontsize=9)
    ax.figure.colorbar(points, ax=ax, label=r"$\log_{10} N$")
    ax.legend(frameon=False, fontsize=8)
    return ax


def _mean_band(link: Fit, grid: np.ndarray) -> np.ndarray:
    """The link's mean score at each loss of ``grid``, per posterior draw (draws, points)."""
    p = link.draws()
    return np.asarray(link.law.predict(p, **{K.LOSS: grid[None, :]}), dtype=float)


def plot_score(
    fit: Fit,
    *,
    tokens_per_param: float | None = None,
    interval: float = K.DEFAULT_INTERVAL,
    reach: float = 1000.0,
    ax: Any = None,
) -> Any:
    """A new run's score against compute, median and ``interval`` band, along runs of
    ``tokens_per_param`` (default: the median of the fitted runs) from the smallest fitted
    compute to ``reach`` times the largest; the runs' final checkpoints as points."""
    link = _link_of(fit)
    k = fit_k(fit)
    runs = fit.runs
    tpp = float(np.median(runs[K.D] / runs[K.N])) if tokens_per_param is None else tokens_per_param
    c = np.geomspace(runs[K.C].min(), reach * runs[K.C].max(), 40)
    n = np.sqrt(c / (k * tpp))
    table = predict_loss(fit, n, tpp * n, interval=interval, max_extrapolation=np.inf)
    ax = ax if ax is not None else plt.subplots(figsize=(6, 4.2))[1]
    ax.fill_between(
        c,
        table.score_lower,
        table.score_upper,
        color=BLUE,
        alpha=0.25,
        lw=0,
        label=f"new run, {interval:.0%}",
    )
    ax.plot(c, table.score_median, color=BLUE, lw=2, label=f"median ({tpp:.0f} tokens/param)")
    ends = link.runs[at_end(link.runs)] if K.RUN_TOKENS in link.runs else link.runs
    ax.scatter(ends[K.C], ends["score"], s=14, color="k", zorder=3, label="runs (final)")
    ax.axvline(runs[K.C].max(), color="0.5", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("compute C [FLOPs]")
    ax.set_ylabel("score")
    ax.legend(frameon=False, fontsize=8)
    return ax
