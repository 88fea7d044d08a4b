"""``bayescale design``: which run to train next (:func:`bayescale.design_runs`). Registered on
:data:`bayescale.cli.app`; no model logic here."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .cli_app import AsJson, FitDir, Interval, app, emit_json, library_calls


class DesignRank(str, Enum):
    per_flop = "per_flop"
    shrinkage = "shrinkage"


class DesignTarget(str, Enum):
    n_opt = "n_opt"
    d_opt = "d_opt"
    tokens_per_param = "tokens_per_param"
    loss = "loss"


@app.command()
def design(
    fit_dir: FitDir,
    target: Annotated[
        DesignTarget,
        typer.Option(
            help="The quantity whose interval to narrow (at --compute, or 'loss' of "
            "the planned run --n/--d)."
        ),
    ],
    compute: Annotated[
        float | None, typer.Option(help="The budget (FLOPs) at which the target is asked.")
    ] = None,
    n: Annotated[float | None, typer.Option("--n", help="target loss: a planned run's N.")] = None,
    d: Annotated[float | None, typer.Option("--d", help="target loss: a planned run's D.")] = None,
    max_run_compute: Annotated[
        float | None,
        typer.Option(
            help="The most one candidate run may cost (FLOPs); without --candidates, "
            "a grid of runs up to it."
        ),
    ] = None,
    min_run_compute: Annotated[
        float | None, typer.Option(help="The grid's cheapest run (default: 1/100 of the most).")
    ] = None,
    candidates: Annotated[
        Path | None,
        typer.Option(help="CSV of candidate runs: columns N, D and optionally C (their cost)."),
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="Runs to choose, greedily.")] = 1,
    budget: Annotated[
        float | None,
        typer.Option(
            help="Total compute (FLOPs) of the batch: runs are chosen while they fit, by the "
            "better of the per-FLOP and per-run greedy rules."
        ),
    ] = None,
    rank: Annotated[
        DesignRank,
        typer.Option(
            help="per_flop: expected shrinkage per FLOP (compute is what is spent); shrinkage: "
            "expected shrinkage alone (the number of runs is)."
        ),
    ] = DesignRank.per_flop,
    sims: Annotated[int, typer.Option(min=8, help="Simulations per candidate.")] = 128,
    refit: Annotated[
        bool,
        typer.Option(
            "--refit/--no-refit",
            help="Refit the chosen runs' simulations whose importance weights degenerate.",
        ),
    ] = True,
    plot: Annotated[
        Path | None, typer.Option(help="Write the figure (PNG, PDF or SVG by its suffix).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (default: the fit's).")] = None,
    top: Annotated[int, typer.Option(min=1, help="Candidates shown (text output).")] = 10,
    interval: Interval = 0.9,
    as_json: AsJson = False,
) -> None:
    """Rank candidate runs by how much they are expected to narrow the target's interval, per
    FLOP (preposterior simulation on the fit's posterior draws)."""
    with library_calls():
        from .design import design_runs
        from .fit import load_fit

        fit = load_fit(fit_dir)
        plan = design_runs(
            fit,
            target.value,
            compute=compute,
            N=n,
            D=d,
            candidates=candidates,
            max_run_compute=max_run_compute,
            min_run_compute=min_run_compute,
            batch=batch,
            budget=budget,
            rank=rank.value,
            sims=sims,
            interval=interval,
            seed=seed,
            refit=refit,
        )
        if plot is not None:
            _save_plot(plan, fit, plot)
    if as_json:
        emit_json(plan.to_dict())
        return
    _print(plan, top)


def _save_plot(plan, fit, path: Path) -> None:
    import matplotlib.pyplot as plt

    from .design_plots import plot_design
    from .io import atomic_write_file

    ax = plot_design(plan, fit)
    fmt = path.suffix.lstrip(".").lower() or "png"
    try:
        atomic_write_file(path, lambda tmp: ax.figure.savefig(tmp, format=fmt, dpi=200))
    except ValueError as exc:  # matplotlib: unknown format
        from .exceptions import ConfigError

        raise ConfigError(f"--plot {str(path)!r}: {exc}") from None
    finally:
        plt.close(ax.figure)


def _print(plan, top: int) -> None:
    from .formatting import si

    cur = plan.current
    where = (
        f"at C = {plan.compute:.3g}"
        if plan.compute
        else f"of N={si(plan.plan[0])} D={si(plan.plan[1])}"
    )
    typer.echo(
        f"{plan.target} {where}: now {cur['median']:.4g} [{cur['lower']:.4g}, "
        f"{cur['upper']:.4g}] ({plan.interval:.0%}; width {cur['width']:.4g})"
    )
    is_batch = len(plan.picks) > 1 or plan.budget is not None
    rows = plan.picks if is_batch else plan.candidates.head(top)
    head = f"batch of {len(plan.picks)}, greedy" if is_batch else "best first"
    if plan.budget is not None:
        spent = float(plan.picks["C"].sum())
        head += f" {plan.rule.replace('_', ' ')}, {spent:.3g} of a budget of {plan.budget:.3g}"
    typer.echo(f"candidates ({head}; expected width once trained, {plan.sims} simulations):")
    for _, r in rows.iterrows():
        typer.echo(
            f"  N={si(r['N'])} D={si(r['D'])} C={r['C']:.3g}: width {r['expected_width']:.4g} "
            f"(shrinkage {r['shrinkage']:.1%}, {r['shrinkage_per_flop']:.3g} per FLOP)"
        )
    if plan.linear:
        typer.echo(
            f"linear check: the batch leaves {plan.linear['chosen_sd_ratio']:.2f} of the "
            f"target's sd; the best {len(plan.picks)} runs at no more compute, "
            f"{plan.linear['best_sd_ratio']:.2f}"
        )
