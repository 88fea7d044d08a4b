"""Command-line commands that answer questions with a fitted law: predict, allocate, target,
backtest, report. Registered on :data:`bayescale.cli.app`; no model logic here either."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .cli_app import (
    AsJson,
    Chains,
    Column,
    Draws,
    FitDir,
    FlopsPerTokenParam,
    GroupColumn,
    Interval,
    LikelihoodName,
    LikelihoodOption,
    LrColumn,
    MinFraction,
    Noise,
    Pooling,
    PoolingName,
    RunColumn,
    RunTokensColumn,
    TargetAccept,
    Tune,
    UnitOfLoss,
    app,
    column_map,
    emit_json,
    library_calls,
    read_options,
    warn,
)


class BacktestMethod(str, Enum):
    bayes = "bayes"
    bootstrap = "bootstrap"


def _human(
    frame, columns: dict[str, tuple[str, bool]], head: str, first: tuple[str, list[str]]
) -> None:
    """Print ``median [lower, upper]`` for each (label -> (quantity, counts?))."""
    import pandas as pd

    from .formatting import fmt_interval

    shown = pd.DataFrame(
        {
            first[0]: first[1],
            **{
                label: [
                    fmt_interval(r[f"{q}_median"], r[f"{q}_lower"], r[f"{q}_upper"], counts)
                    for _, r in frame.iterrows()
                ]
                for label, (q, counts) in columns.items()
            },
        }
    )
    typer.echo(head)
    typer.echo(shown.to_string(index=False))


@app.command()
def predict(
    fit_dir: FitDir,
    n: Annotated[list[float], typer.Option("--n", help="Model size N (repeatable).")],
    d: Annotated[list[float], typer.Option("--d", help="Training tokens D (repeatable).")],
    target: Annotated[
        float | None, typer.Option(help="Target loss: adds P(new run ends below it).")
    ] = None,
    unique_tokens: Annotated[
        list[float] | None,
        typer.Option(
            "--unique-tokens",
            help="data-constrained law: unique tokens of each plan (once for all, or per --n).",
        ),
    ] = None,
    run_tokens: Annotated[
        list[float] | None,
        typer.Option(
            "--run-tokens",
            help="Curve fits: each plan's total tokens, --d a checkpoint part-way (once for "
            "all, or per --n).",
        ),
    ] = None,
    schedule: Annotated[
        str,
        typer.Option(
            help="With --run-tokens: the planned runs' schedule, cosine, linear or wsd "
            "(warmup-stable-decay)."
        ),
    ] = "cosine",
    decay_fraction: Annotated[
        float, typer.Option(help="--schedule wsd: the share of the run that decays.")
    ] = 0.2,
    target_score: Annotated[
        float | None,
        typer.Option(help="Chain fits: a target score; adds P(new run scores at least it)."),
    ] = None,
    interval: Interval = 0.9,
    as_json: AsJson = False,
) -> None:
    """Extrapolated loss of planned runs (N, D), with intervals (and a chain fit's score)."""
    from .formatting import quantity, si
    from .predict import predict_loss

    with library_calls():
        from .fit import load_fit

        fit = load_fit(fit_dir)
        if len(n) != len(d):
            from .exceptions import ConfigError

            raise ConfigError(f"give as many --n as --d values, got {len(n)} and {len(d)}")
        for flag, values in (("--unique-tokens", unique_tokens), ("--run-tokens", run_tokens)):
            if values and len(values) not in (1, len(n)):
                from .exceptions import ConfigError

                raise ConfigError(
                    f"give {flag} once or once per --n, got {len(values)} for {len(n)}"
                )
        table = predict_loss(
            fit,
            n,
            d,
            interval=interval,
            target=target,
            unique_tokens=unique_tokens or None,  # one value broadcasts to every plan
            run_tokens=run_tokens or None,
            schedule=schedule,
            decay_fraction=decay_fraction,
            target_score=target_score,
        )
    chain = fit.link is not None
    if fit.drift is None and (table["compute_factor"] > 1).any():
        warn(f"extrapolating beyond the largest fitted run with {fit.drift_note}")
    if as_json:
        rows = [
            {
                "N": r["N"],
                "D": r["D"],
                "C": r["C"],
                "loss": quantity(r, "loss"),
                "loss_new_run": quantity(r, "loss_new_run"),
                "prob_below_target": float(r["prob_below_target"]) if target is not None else None,
                "extrapolation": {
                    "compute_factor": r["compute_factor"],
                    "N_factor": r["N_factor"],
                    "D_factor": r["D_factor"],
                },
                **({"unique_tokens": r["unique_tokens"]} if "unique_tokens" in r else {}),
                **({"score": quantity(r, "score")} if chain else {}),
                **(
                    {"prob_score_above_target": float(r["prob_score_above_target"])}
                    if target_score is not None
                    else {}
                ),
            }
            for _, r in table.iterrows()
        ]
        emit_json({"interval": interval, "rows": rows})
        return
    _human(
        table,
        {
            "loss (law)": ("loss", False),
            "loss (new run)": ("loss_new_run", False),
            **({"score (new run)": ("score", False)} if chain else {}),
        },
        f"Predicted loss, median [{interval:.0%} interval]",
        (
            "plan",
            [
                f"N={si(a)} D={si(b)} C={c:.3g}"
                for a, b, c in zip(table.N, table.D, table.C, strict=True)
            ],
        ),
    )
    for _, r in table.iterrows():
        extra = f"; P(loss < {target:g}) = {r['prob_below_target']:.3f}" if target else ""
        if target_score is not None:
            extra += f"; P(score >= {target_score:g}) = {r['prob_score_above_target']:.3f}"
        typer.echo(
            f"N={si(r['N'])}, D={si(r['D'])}: {r['compute_factor']:.3g}x the largest fitted "
            f"run's compute{extra}"
        )


@app.command()
def allocate(
    fit_dir: FitDir,
    compute: Annotated[
        list[float], typer.Option("--compute", help="Budget in FLOPs (repeatable).")
    ],
    interval: Interval = 0.9,
    as_json: AsJson = False,
) -> None:
    """Compute-optimal N*, D*, L* and tokens per parameter for each budget."""
    from .formatting import quantity
    from .predict import optimal_allocation

    with library_calls():
        from .fit import load_fit

        table = optimal_allocation(load_fit(fit_dir), compute, interval=interval)
    if as_json:
        rows = [
            {
                "compute": r["compute"],
                **{q: quantity(r, q) for q in ("N_opt", "D_opt", "loss_opt", "tokens_per_param")},
            }
            for _, r in table.iterrows()
        ]
        emit_json(
            {"interval": interval, "rows": rows, "a": table.attrs["a"], "b": table.attrs["b"]}
        )
        return
    _human(
        table,
        {
            "N_opt": ("N_opt", True),
            "D_opt": ("D_opt", True),
            "loss_opt": ("loss_opt", False),
            "tokens/param": ("tokens_per_param", False),
        },
        f"Compute-optimal allocation, median [{interval:.0%} interval]",
        ("compute [FLOPs]", [f"{c:.3g}" for c in table["compute"]]),
    )
    a, b = table.attrs["a"], table.attrs["b"]
    typer.echo(
        f"N* ~ C^a, a = {a['median']:.3f} [{a['lower']:.3f}, {a['upper']:.3f}]; "
        f"D* ~ C^b, b = {b['median']:.3f} [{b['lower']:.3f}, {b['upper']:.3f}]"
    )
    if table.attrs.get("note"):
        typer.echo(f"note: {table.attrs['note']}")


@app.command("target")
def target_cmd(
    fit_dir: FitDir,
    loss: Annotated[
        list[float], typer.Option("--loss", help="Target loss (repeat for several targets).")
    ],
    interval: Interval = 0.9,
    as_json: AsJson = False,
) -> None:
    """Compute (and N*, D*) needed to reach a target loss, and P(unreachable).

    With one ``--loss`` the JSON is one object; with several, a list of such objects in the
    order given.
    """
    from .formatting import quantity
    from .predict import compute_for_loss

    with library_calls():
        from .fit import load_fit

        table = compute_for_loss(load_fit(fit_dir), loss, interval=interval)
    if as_json:
        docs = [
            {
                "interval": interval,
                "target": float(r["target"]),
                "prob_unreachable": float(r["prob_unreachable"]),
                **{q: quantity(r, q) for q in ("compute", "N_opt", "D_opt")},
            }
            for _, r in table.iterrows()
        ]
        emit_json(docs[0] if len(docs) == 1 else docs)
        return
    shown = ", ".join(f"{x:g}" for x in loss)
    _human(
        table,
        {"compute [FLOPs]": ("compute", False), "N_opt": ("N_opt", True), "D_opt": ("D_opt", True)},
        f"To reach loss {shown} compute-optimally, median [{interval:.0%} interval] "
        "(inf: not reached at that probability)",
        ("target", [f"{x:g}" for x in loss]),
    )
    for x, p in zip(loss, table["prob_unreachable"], strict=True):
        typer.echo(f"P(target unreachable: E >= {x:g}) = {p:.3f}")


@app.command()
def backtest(
    runs: Annotated[Path, typer.Argument(help="CSV of runs.")],
    law: Annotated[str, typer.Option(help="Law to test (see `bayescale laws`).")] = "chinchilla",
    column: Column = None,
    loss_unit: UnitOfLoss = None,
    flops_per_token_param: FlopsPerTokenParam = None,
    noise: Noise = None,
    group_column: GroupColumn = None,
    run_column: RunColumn = None,
    lr_column: LrColumn = None,
    run_tokens_column: RunTokensColumn = None,
    pooling: Pooling = PoolingName.complete,
    likelihood: LikelihoodOption = LikelihoodName.studentt,
    min_fraction: MinFraction = 0.1,
    holdout_compute_above: Annotated[
        list[float] | None,
        typer.Option(
            help="Hold out runs above this compute (repeat for a leave-future-out sweep)."
        ),
    ] = None,
    holdout_top_fraction: Annotated[
        float | None, typer.Option(help="Hold out this fraction of runs, largest compute first.")
    ] = None,
    holdout_where: Annotated[
        str | None,
        typer.Option(
            help="Hold out the runs whose COLUMN holds one of the VALUEs: COLUMN=VALUE[,VALUE...], "
            "e.g. size=3B (a ladder's largest rung)."
        ),
    ] = None,
    interval: Interval = 0.9,
    draws: Draws = None,
    tune: Tune = 1000,
    chains: Chains = 4,
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 0,
    target_accept: TargetAccept = 0.9,
    method: Annotated[
        BacktestMethod, typer.Option(help="bayes, or the Huber point fit + bootstrap baseline.")
    ] = BacktestMethod.bayes,
    n_boot: Annotated[int, typer.Option(min=10, help="Bootstrap resamples.")] = 200,
    drift: Annotated[
        bool, typer.Option("--drift/--no-drift", help="bayes: model the extrapolation drift.")
    ] = True,
    as_json: AsJson = False,
) -> None:
    """Fit on the smaller runs, predict the held-out larger ones, score interval coverage.

    With --pooling partial (or none) and a group column, each group's own largest runs are
    held out (--holdout-top-fraction is taken per group) and predicted from its parameters.
    Training curves (--run-column) are split by run and held-out runs scored by their final
    checkpoints; with --likelihood curve the fit uses every kept checkpoint of the training runs.
    """
    with library_calls():
        from .backtest import backtest as run_backtest
        from .exceptions import ConfigError
        from .laws import make_law

        options: dict = {"likelihood": likelihood.value}
        if noise is not None:
            options["noise"] = noise
        if pooling is not PoolingName.complete:
            options["pooling"] = pooling.value
        model = make_law(law, **options)
        runs = model.load_runs(
            runs,
            columns=column_map(column, group_column, run_column, lr_column, run_tokens_column),
            **read_options(loss_unit, flops_per_token_param),
        )
        cutoffs = holdout_compute_above or []
        chosen = bool(cutoffs) + (holdout_top_fraction is not None) + (holdout_where is not None)
        if chosen != 1:
            raise ConfigError(
                "give one of --holdout-compute-above (once or more), --holdout-top-fraction "
                "and --holdout-where"
            )
        kw = {"interval": interval, "seed": seed, "method": method.value, "n_boot": n_boot}
        kw.update(draws=draws, tune=tune, chains=chains)
        if method is BacktestMethod.bayes:
            kw.update(drift=drift, target_accept=target_accept)
            if likelihood is LikelihoodName.curve:
                kw["min_fraction"] = min_fraction
        if cutoffs:
            results = [run_backtest(model, runs, holdout_compute_above=c, **kw) for c in cutoffs]
        elif holdout_where is not None:
            results = [run_backtest(model, runs, holdout=holdout_where, **kw)]
        else:
            results = [run_backtest(model, runs, holdout_top_fraction=holdout_top_fraction, **kw)]
    unconverged = [_split_name(r) for r in results if not r["diagnostics_ok"]]
    if as_json:
        emit_json(results if len(results) > 1 else results[0])
    else:
        _print_backtest(model, results, interval)
    if unconverged:
        warn(
            f"the training fit(s) of {', '.join(unconverged)} "
            "did not converge (diagnostics_ok: false): their scores are not to be trusted"
        )


def _split_name(result: dict) -> str:
    cutoff = result["cutoff"]
    return "the selected runs held out" if cutoff is None else f"cut-off C > {cutoff:.3g}"


def _print_backtest(model, results: list[dict], interval: float) -> None:
    typer.echo(
        f"{model.name} ({results[0]['method']}): held-out runs scored by their {interval:.0%} "
        "predictive intervals"
    )
    for r in results:
        cov = r["coverage"]
        typer.echo(
            f"{_split_name(r)}: train {r['n_train']}, test {r['n_test']} (up to "
            f"{r['max_compute_factor']:.3g}x the largest training run); coverage 50% "
            f"{cov['0.5']:.2f}, 80% {cov['0.8']:.2f}, 90% {cov['0.9']:.2f}; mean width (log) "
            f"{r['mean_width_log']:.4f}; median |rel. error| {r['median_abs_rel_error']:.2%}; "
            f"CRPS {r['crps']:.4g}" + ("" if r["diagnostics_ok"] else " [fit NOT converged]")
        )


class ReportFormat(str, Enum):
    html = "html"
    md = "md"


@app.command()
def report(
    fit_dir: FitDir,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output file (html) or directory (md).")
    ] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="html or md.")] = ReportFormat.html,
    compute: Annotated[
        list[float] | None, typer.Option("--compute", help="Budgets for the allocation table.")
    ] = None,
) -> None:
    """Build a self-contained report of a fit (HTML with embedded figures, or Markdown + PNG)."""
    with library_calls():
        from .fit import load_fit
        from .report import write_report

        fit = load_fit(fit_dir)
        target = out or (fit_dir / ("report.html" if fmt is ReportFormat.html else "report"))
        path = write_report(fit, target, fmt=fmt.value, compute=compute)
    typer.echo(f"wrote {path}")
