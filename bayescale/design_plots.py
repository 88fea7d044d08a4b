"""The figure of :func:`bayescale.design_runs`: candidate runs on the (N, D) plane coloured by
expected shrinkage per FLOP, with the fitted runs, the chosen batch and the compute-optimal
frontier.

Examples
--------
``fit`` is a fitted Chinchilla law::

    plan = bs.design_runs(fit, "tokens_per_param", compute=5.88e23, max_run_compute=1e21)
    plot_design(plan, fit).figure.savefig("design.pdf")
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

from . import constants as K
from .design import Design
from .exceptions import ConfigError
from .fit import Fit
from .plots import AXIS_LABELS, _legend, _si_axis
from .predict import fit_k

__all__ = ["plot_design"]

_TARGET_NAMES = {
    "n_opt": "$N^*$",
    "d_opt": "$D^*$",
    "tokens_per_param": "tokens per parameter",
    "loss": "loss",
}


def plot_design(design: Design, fit: Fit, *, ax: Any = None) -> Any:
    """Candidates coloured by expected shrinkage per FLOP (log scale; those that would not
    narrow the interval in grey), the fitted runs, the chosen runs numbered in the order
    picked, and the median compute-optimal frontier (N*(C), D*(C)) over the candidates'
    compute range and up to the target budget. Returns the axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 4.6), constrained_layout=True)
    cand = design.candidates
    runs = fit.runs
    ax.scatter(runs[K.N], runs[K.D], s=10, color="0.55", label="fitted runs", zorder=2)
    gain = cand["shrinkage_per_flop"].to_numpy(float)
    good = gain > 0
    if (~good).any():
        ax.scatter(
            cand.loc[~good, K.N],
            cand.loc[~good, K.D],
            s=28,
            marker="s",
            facecolor="none",
            edgecolor="0.7",
            label="candidates (no shrinkage)",
            zorder=3,
        )
    if good.any():
        dots = ax.scatter(
            cand.loc[good, K.N],
            cand.loc[good, K.D],
            c=gain[good],
            s=36,
            marker="s",
            cmap="viridis",
            norm=LogNorm(gain[good].min(), gain[good].max()),
            zorder=3,
            label="candidates",
        )
        ax.figure.colorbar(dots, ax=ax, label="expected shrinkage per FLOP")
    picks = design.picks
    ax.scatter(
        picks[K.N],
        picks[K.D],
        s=140,
        facecolor="none",
        edgecolor="#D55E00",
        lw=1.6,
        label="chosen",
        zorder=4,
    )
    for _, r in picks.iterrows():
        ax.annotate(
            str(int(r["pick"])),
            (r[K.N], r[K.D]),
            xytext=(6, 5),
            textcoords="offset points",
            fontsize=8,
            color="#D55E00",
        )
    k = fit_k(fit)
    top = max(float(cand[K.C].max()), design.compute or 0.0)
    c = np.geomspace(min(float(runs[K.C].min()), float(cand[K.C].min())), top, 60)
    try:
        out = fit.law.optimal_allocation(fit.draws(), c, k=k)
        ax.plot(
            np.median(out["N_opt"], axis=0),
            np.median(out["D_opt"], axis=0),
            color="k",
            lw=1.2,
            ls="--",
            label="compute-optimal frontier (median)",
        )
    except ConfigError:  # a law without a frontier (target: a planned run's loss)
        pass
    ax.set(xscale="log", yscale="log")
    _si_axis(ax.xaxis)
    _si_axis(ax.yaxis)
    ax.set_xlabel(AXIS_LABELS[K.N])
    ax.set_ylabel(AXIS_LABELS[K.D])
    where = f"at C = {design.compute:.3g}" if design.compute else "of the planned run"
    ax.set_title(f"Which run next: {_TARGET_NAMES[design.target]} {where}", fontsize=10)
    _legend(ax, fontsize=7, loc="lower right")
    return ax
