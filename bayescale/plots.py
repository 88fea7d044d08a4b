"""Publication-quality figures of fits and predictions (matplotlib).

Every function takes a fit (and options), draws on ``ax`` (a new figure when ``None``) and returns
the Axes, so figures compose in Jupyter and in reports. Log axes carry SI tick labels (1B, 10B),
colours come from the Okabe-Ito colour-blind-safe palette, bands are posterior intervals (50% and
90% by default) computed per draw. Save with ``fig.savefig(path, dpi=300)`` (PDF, SVG or PNG).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator

from . import constants as K
from . import predict as P
from .alloc_drift import allocation_draws
from .curve_noise import log_run_length, schedule_gap, with_schedule
from .curves import at_end
from .fit import Fit, observed_name
from .formatting import formula_tex, si

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PALETTE",
    "plot_fit",
    "plot_isoflop",
    "plot_isoloss",
    "plot_allocation",
    "plot_residuals",
    "plot_posterior_pairs",
    "plot_compare",
    "plot_curves",
]

#: Okabe & Ito (2008) colour-blind-safe palette.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
BANDS = (0.9, 0.5)
#: Axis labels of the inputs (math text).
AXIS_LABELS = {
    K.C: r"training compute $C$ [FLOPs]",
    K.N: r"parameters $N$",
    K.D: r"training tokens $D$",
}


def _legend(ax: Any, **kw: Any) -> Any:
    """A legend whose band swatches are big enough to see."""
    kw = {"frameon": False, "fontsize": 8, "handlelength": 2.2, "handleheight": 1.4, **kw}
    return ax.legend(**kw)


def _largest_run(ax: Any, x: float) -> None:
    ax.axvline(x, color="0.5", lw=0.8, ls=":", label="largest fitted run")


def _axes(ax: Any) -> Any:
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.0), constrained_layout=True)
    return ax


def _tick(v: float) -> str:
    """1M, 10B, 1T; powers of ten beyond 1e15 as 1e18."""
    if v >= 1e16:
        return f"1e{np.log10(v):.0f}" if np.isclose(np.log10(v) % 1, 0) else f"{v:.0e}"
    return si(v, 3)


def _si_axis(axis: Any) -> None:
    axis.set_major_locator(LogLocator(base=10))
    axis.set_major_formatter(FuncFormatter(lambda v, _: _tick(v)))


def _band(
    ax, x, draws: np.ndarray, color: str, label: str | None, band_labels: bool = True
) -> None:
    """Median line and nested central bands of ``draws`` (draws x points)."""
    for mass, alpha in zip(BANDS, (0.18, 0.32), strict=True):
        q = (1 - mass) / 2
        lo, hi = np.quantile(draws, [q, 1 - q], axis=0)
        ax.fill_between(
            x,
            lo,
            hi,
            color=color,
            alpha=alpha,
            linewidth=0,
            label=f"{label}: {mass:.0%} interval" if label and band_labels else None,
        )
    shown = f"{label}: median" if label and band_labels else label
    ax.plot(x, np.median(draws, axis=0), color=color, lw=1.8, label=shown)


def plot_fit(
    fit: Fit,
    *,
    x: str | None = None,
    color_by: str = K.N,
    extrapolate_to: float | None = None,
    ax: Any = None,
    group: str | None = None,
) -> Any:
    """Runs and the fitted law, with the posterior bands.

    ``x`` is ``"C"`` (default for Chinchilla), ``"N"`` or ``"D"``. For Chinchilla the curve is
    the compute-optimal frontier: ``L*(C)`` against C, or against ``N*(C)`` / ``D*(C)``; for a
    single-factor law it is the law in its own variable. ``extrapolate_to`` extends the curve
    to that value of ``x``, where the bands widen. Runs are coloured by ``log10 N``
    (``color_by="N"``) or by ``"group"``. A curve fit shows its runs' final checkpoints (its
    curves: :func:`plot_curves`).
    """
    ax = _axes(ax)
    law, runs = fit.law, fit.runs
    if law.likelihood.curve:  # the law is of final losses: each run's final checkpoint
        runs = runs[at_end(runs)]
    frontier = law.name == "chinchilla"
    if x is None:
        x = K.C if (frontier or K.C in law.inputs) else law.inputs[0]
    allowed = (K.C, K.N, K.D) if frontier else tuple(law.inputs)
    if x not in allowed:
        raise ValueError(f"x must be one of {allowed}, got {x!r}")
    xs = runs[x].to_numpy(float)
    hi = max(xs.max(), extrapolate_to or 0)
    grid = np.geomspace(xs.min(), hi, 120)
    p = fit.draws(group)
    if frontier:
        c_grid = np.geomspace(runs[K.C].min() / 100, runs[K.C].max() * 1e3 * hi / xs.max(), 200)
        alloc = law.optimal_allocation(p, c_grid)
        path = {
            K.C: np.broadcast_to(c_grid, alloc["N_opt"].shape),
            K.N: alloc["N_opt"],
            K.D: alloc["D_opt"],
        }[x]
        # per draw, the frontier's loss where its C (or N*, D*) equals each grid value
        curve = np.stack(
            [
                np.interp(np.log(grid), np.log(path[i]), alloc["loss_opt"][i])
                for i in range(path.shape[0])
            ]
        )
        label = (
            r"compute-optimal loss $L^*$"
            + {
                K.C: "$(C)$",
                K.N: r" against $N^*$",
                K.D: r" against $D^*$",
            }[x]
        )
    else:
        curve = law.predict(p, **{x: grid})
        label = f"{law.name} law"
    points = None
    if color_by == K.GROUP and K.GROUP in runs.columns:
        for i, (g, part) in enumerate(runs.groupby(K.GROUP)):
            ax.scatter(
                part[x],
                part[law.target],
                s=14,
                color=PALETTE[(i + 1) % len(PALETTE)],
                edgecolor="none",
                alpha=0.8,
                label=str(g),
            )
    else:
        points = ax.scatter(
            xs,
            runs[law.target],
            c=np.log10(runs[K.N]),
            cmap="viridis",
            s=14,
            edgecolor="none",
            alpha=0.8,
            label="runs",
        )
    _band(ax, grid, curve, PALETTE[0], label)
    if extrapolate_to and extrapolate_to > xs.max():
        _largest_run(ax, xs.max())
    ax.set_xscale("log")
    _si_axis(ax.xaxis)
    ax.set_xlabel(AXIS_LABELS[x])
    ax.set_ylabel(r"loss $L$ [nats/token]" if law.target == K.LOSS else law.target)
    ax.set_title(f"${formula_tex(law.formula)}$", fontsize=8 if len(law.formula) > 60 else 10)
    if points is not None:
        cbar = ax.figure.colorbar(points, ax=ax, pad=0.01)
        cbar.set_label(r"$\log_{10} N$")
    _legend(ax)
    return ax


def _budgets(runs) -> np.ndarray:
    c = runs[K.C].to_numpy(float)
    return np.unique(np.round(np.log10(c), 2))


def plot_isoflop(
    fit: Fit,
    *,
    budgets: Sequence[float] | None = None,
    ax: Any = None,
    k: float | None = None,
    max_budgets: int = 8,
) -> Any:
    """IsoFLOP profiles: loss against N at fixed compute, with bands and the optimum's interval.

    ``budgets`` default to the run budgets (at most ``max_budgets``, evenly chosen).
    """
    k = P.fit_k(fit, k)
    ax = _axes(ax)
    runs, law = fit.runs, fit.law
    if budgets is None:
        logc = _budgets(runs)
        pick = np.unique(
            np.linspace(0, len(logc) - 1, min(max_budgets, len(logc))).round().astype(int)
        )
        budgets = 10 ** logc[pick]
    p = fit.draws()
    alloc = P.optimal_allocation(fit, budgets, k=k, max_extrapolation=np.inf)
    for i, c in enumerate(budgets):
        color = PALETTE[i % len(PALETTE)]
        n_grid = np.geomspace(runs[K.N].min() / 3, runs[K.N].max() * 3, 100)
        loss = law.predict(p, **{K.N: n_grid, K.D: c / (k * n_grid)})
        _band(ax, n_grid, loss, color, f"$C$ = {_tick(c)}", band_labels=False)
        near = np.isclose(np.log10(runs[K.C]), np.log10(c), atol=0.02)
        ax.scatter(runs.loc[near, K.N], runs.loc[near, law.target], color=color, s=12, zorder=3)
        row = alloc.iloc[i]
        ax.errorbar(
            row["N_opt_median"],
            row["loss_opt_median"],
            xerr=[
                [row["N_opt_median"] - row["N_opt_lower"]],
                [row["N_opt_upper"] - row["N_opt_median"]],
            ],
            fmt="D",
            color=color,
            ms=5,
            mec="k",
            capsize=2,
            zorder=4,
        )
    ax.set_xscale("log")
    _si_axis(ax.xaxis)
    ax.set_xlabel(AXIS_LABELS[K.N])
    ax.set_ylabel(r"loss $L$ [nats/token]")
    ax.set_title(r"IsoFLOP profiles (diamonds: optimal $N^*$ with 90% interval)")
    lo, hi = np.quantile(runs[law.target], [0.0, 0.95])
    ax.set_ylim(lo - 0.05 * (hi - lo), hi)
    _legend(ax, fontsize=7, ncol=2)
    return ax


def plot_isoloss(
    fit: Fit,
    *,
    ax: Any = None,
    k: float | None = None,
    levels: int = 10,
) -> Any:
    """IsoLoss contours of the median law in the (N, D) plane, the efficient frontier with its
    90% band, and iso-FLOP lines."""
    k = P.fit_k(fit, k)
    ax = _axes(ax)
    runs, law = fit.runs, fit.law
    n = np.geomspace(runs[K.N].min() / 3, runs[K.N].max() * 30, 80)
    d = np.geomspace(runs[K.D].min() / 3, runs[K.D].max() * 30, 80)
    nn, dd = np.meshgrid(n, d)
    med = {name: float(np.median(fit.posterior[name])) for name in law.sampled_params}
    loss = law.predict(med, **{K.N: nn, K.D: dd})
    cs = ax.contour(nn, dd, loss, levels=levels, cmap="viridis_r", linewidths=0.9)
    ax.clabel(cs, fontsize=7, fmt="%.2f")
    c_grid = np.geomspace(k * n.min() * d.min(), k * n.max() * d.max(), 60)
    alloc = P.optimal_allocation(fit, c_grid, k=k, max_extrapolation=np.inf)
    ax.plot(
        alloc["N_opt_median"],
        alloc["D_opt_median"],
        color=PALETTE[3],
        lw=2,
        label="efficient frontier",
    )
    ax.fill_betweenx(
        alloc["D_opt_median"],
        alloc["N_opt_lower"],
        alloc["N_opt_upper"],
        color=PALETTE[3],
        alpha=0.25,
        linewidth=0,
        label=r"90% interval of $N^*$",
    )
    for i, c in enumerate(10.0 ** np.arange(np.ceil(np.log10(c_grid[0])), np.log10(c_grid[-1]), 2)):
        label = "iso-FLOP lines (every 100x)" if i == 0 else "_iso-FLOP"
        ax.plot(n, c / (k * n), color="0.6", lw=0.6, ls="--", label=label)
    ax.scatter(runs[K.N], runs[K.D], s=8, color="k", alpha=0.5, label="runs")
    ax.set(xscale="log", yscale="log", xlim=(n[0], n[-1]), ylim=(d[0], d[-1]))
    _si_axis(ax.xaxis)
    _si_axis(ax.yaxis)
    ax.set_xlabel(AXIS_LABELS[K.N])
    ax.set_ylabel(AXIS_LABELS[K.D])
    ax.set_title("IsoLoss contours of the median law (labels: loss)")
    _legend(ax, fontsize=7, loc="upper left")
    return ax


def plot_allocation(
    fit: Fit,
    *,
    compute: Sequence[float] | None = None,
    axes: Any = None,
    k: float | None = None,
) -> Any:
    """Compute-optimal N*(C), D*(C) and tokens per parameter, fan charts (beyond the largest run
    with the fit's allocation drift, as :func:`bayescale.optimal_allocation` gives them), with
    reference lines for Chinchilla's 20 tokens/parameter and Kaplan's allocation
    (N* ~ C^0.73)."""
    k = P.fit_k(fit, k)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    runs = fit.runs
    c = (
        np.asarray(compute)
        if compute is not None
        else np.geomspace(runs[K.C].min(), runs[K.C].max() * 1e4, 80)
    )
    rng = np.random.default_rng(fit.settings.get("seed", 0))
    out = allocation_draws(fit, c, k=k, rng=rng)  # with the allocation drift beyond the runs
    ax = axes[0]
    _band(ax, c, out["N_opt"], PALETTE[0], "$N^*$")
    _band(ax, c, out["D_opt"], PALETTE[1], "$D^*$")
    n_mid = float(np.median(out["N_opt"][:, len(c) // 2]))
    ax.plot(
        c,
        n_mid * (c / c[len(c) // 2]) ** 0.73,
        color="0.4",
        ls="--",
        lw=1,
        label=r"Kaplan: $N^* \propto C^{0.73}$",
    )
    ax.set(xscale="log", yscale="log")
    _si_axis(ax.xaxis)
    _si_axis(ax.yaxis)
    _largest_run(ax, runs[K.C].max())
    ax.set_xlabel(AXIS_LABELS[K.C])
    ax.set_ylabel(r"parameters $N^*$ and tokens $D^*$")
    ax.set_title("Compute-optimal allocation")
    _legend(ax, fontsize=7)
    ax = axes[1]
    _band(ax, c, out["tokens_per_param"], PALETTE[2], "$D^*/N^*$")
    ax.axhline(20, color="0.4", ls="--", lw=1, label="Chinchilla: 20 tokens/param")
    ax.set(xscale="log", yscale="log")  # the allocation drift's spread is multiplicative
    _si_axis(ax.yaxis)
    _si_axis(ax.xaxis)
    ax.set_xlabel(AXIS_LABELS[K.C])
    ax.set_ylabel(r"tokens per parameter $D^*/N^*$")
    ax.set_title("Tokens per parameter")
    _largest_run(ax, runs[K.C].max())
    _legend(ax)
    return axes


def _gap(p: dict[str, np.ndarray], runs: pd.DataFrame) -> np.ndarray:
    """Each checkpoint's schedule gap (draws x rows) under a curve fit's draws ``p``."""
    length = log_run_length(runs[K.N].to_numpy(float), runs[K.RUN_TOKENS].to_numpy(float))
    return schedule_gap(p, runs[K.SCHEDULE].to_numpy(float), length)


def plot_residuals(fit: Fit, *, ax: Any = None) -> Any:
    """Posterior-predictive check: residuals on the observation scale against compute,
    with each run's 90% posterior-predictive interval."""
    ax = _axes(ax)
    law, runs = fit.law, fit.runs
    inputs = {x: runs[x].to_numpy(float) for x in law.inputs}
    if law.grouped:
        raise ValueError("plot_residuals takes fits without group-level parameters")
    p = fit.draws()
    mu, lik = law.predictive(p, **inputs)
    if law.likelihood.curve:  # a checkpoint's loss carries the anneal still to come
        mu = with_schedule(mu, _gap(p, runs))
    rng = np.random.default_rng(fit.settings.get("seed", 0))
    y_rep = law.likelihood.sample(rng, mu, lik)
    y = np.asarray(fit.idata.observed_data[observed_name(law)])
    med = np.median(mu, axis=0)
    lo, hi = np.quantile(y_rep - med, [0.05, 0.95], axis=0)
    c = runs[K.C].to_numpy(float)
    # one interval per run: with noise="offopt" the scale differs between runs of one budget
    ax.vlines(c, lo, hi, color=PALETTE[0], alpha=0.35, linewidth=2, label="90% predictive interval")
    ax.scatter(c, y - med, s=12, color=PALETTE[3], label="runs")
    ax.axhline(0, color="k", lw=0.8, label="median law")
    ax.set_xscale("log")
    _si_axis(ax.xaxis)
    ax.set_xlabel(AXIS_LABELS[K.C])
    ax.set_ylabel(
        r"residual, $\log L$ (observed $-$ median law)"
        if law.observation == "log"
        else f"residual, {law.target} (observed $-$ median law)"
    )
    ax.set_title("Posterior-predictive check")
    _legend(ax)
    return ax


def plot_posterior_pairs(fit: Fit, var_names: Sequence[str] = ("alpha", "beta", "E")) -> Any:
    """Pair plot of posterior draws (ArviZ ``plot_pair`` with marginal densities)."""
    import arviz as az

    names = [v for v in var_names if v in fit.posterior]
    return az.plot_pair(
        fit.idata,
        var_names=names,
        kind="scatter",
        marginals=True,
        scatter_kwargs={"alpha": 0.15, "color": PALETTE[0]},
    )


def plot_compare(table: Any, *, ax: Any = None) -> Any:
    """ArviZ's comparison plot of a :func:`bayescale.compare` table."""
    import arviz as az

    ax = _axes(ax)
    az.plot_compare(table.drop(columns=["law", "pareto_k_bad"], errors="ignore"), ax=ax)
    ax.set_title("Model comparison (PSIS-LOO)")
    return ax


def plot_curves(
    curves: Any, fit: Fit | None = None, *, min_fraction: float = 0.1, ax: Any = None
) -> Any:
    """Training curves: each run's loss against the tokens seen, one colour per model size,
    its final checkpoint marked; with a fit, the law's final loss ``L(N, D)`` for each model
    size across its runs' lengths (median and bands: what a run stopped and fully annealed at
    each D would reach, so the curves lie above it until their own end), and with a curve fit
    also each fitted run's median checkpoint loss (dashed: the law plus the anneal to come).

    ``curves`` is a validated curves table (:func:`bayescale.load_runs` with a ``run``
    column), e.g. ``bs.datasets.load_olmo_ladder(curves=True)``; checkpoints before
    ``min_fraction`` of their run (the warm-up, far above the rest) are not drawn (0: all).
    """
    if K.RUN_ID not in curves.columns:
        raise ValueError("plot_curves needs a curves table: a 'run' column (see load_runs)")
    ax = _axes(ax)
    curves = curves[curves[K.D] >= min_fraction * curves[K.RUN_TOKENS]]
    sizes = sorted(curves[K.N].unique())
    target = fit.law.target if fit is not None else K.LOSS
    p = fit.draws() if fit is not None else {}  # once: every size reads the same draws
    for i, n in enumerate(sizes):
        color = PALETTE[i % len(PALETTE)]
        part = curves[curves[K.N] == n]
        for j, (_, run) in enumerate(part.groupby(K.RUN_ID, sort=False)):
            label = f"N = {si(n, 3)}" if j == 0 else None
            ax.plot(run[K.D], run[target], color=color, lw=0.8, alpha=0.6, label=label)
        ends = part[at_end(part)]
        ax.scatter(ends[K.D], ends[target], color=color, s=14, zorder=3)
        if fit is not None and fit.law.likelihood.curve and K.SCHEDULE in part.columns:
            law = fit.law.predict(p, N=part[K.N].to_numpy(float), D=part[K.D].to_numpy(float))
            level = np.median(law + _gap(p, part), axis=0)
            for run_id in part[K.RUN_ID].unique():
                mine = (part[K.RUN_ID] == run_id).to_numpy()
                ax.plot(part[K.D][mine], level[mine], color=color, lw=1.0, ls="--")
        if fit is not None and len(ends):
            grid = np.geomspace(ends[K.D].min(), ends[K.D].max(), 60)
            draws = fit.law.predict(p, N=np.full_like(grid, n), D=grid)
            _band(ax, grid, draws, color, None)
    ax.set_xscale("log")
    _si_axis(ax.xaxis)
    ax.set_xlabel(r"tokens seen $D$")
    ax.set_ylabel(r"loss $L$ [nats/token]" if target == K.LOSS else target)
    title = "Training curves" + (" and the law of final losses" if fit is not None else "")
    ax.set_title(title)
    _legend(ax)
    return ax
