"""``bayescale fit``, ``laws``, ``compare`` and ``demo``: fit laws and rank them. Registered on
:data:`bayescale.cli_app.app`; no model logic here."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer

from .cli_app import (
    EXIT_UNTRUSTED,
    CeilingSd,
    Centred,
    Chains,
    Chance,
    Column,
    Draws,
    FitMethod,
    FlopsPerTokenParam,
    GroupColumn,
    LikelihoodName,
    LikelihoodOption,
    LinkName,
    LinkOption,
    LossColumn,
    LrColumn,
    MinFraction,
    Noise,
    Pooling,
    PoolingName,
    Progress,
    RunColumn,
    RunTokensColumn,
    SamplerName,
    ScoreColumn,
    Seed,
    TargetAccept,
    Tune,
    UnitOfLoss,
    app,
    column_map,
    emit_json,
    library_calls,
    print_table,
    progress_flag,
    read_options,
    warn,
)


@app.command()
def fit(
    runs: Annotated[Path, typer.Argument(help="CSV of runs: N, D (or C), loss (or score).")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the fit into.")],
    law: Annotated[str, typer.Option(help="Law to fit (see `bayescale laws`).")] = "chinchilla",
    no_irreducible: Annotated[
        bool, typer.Option("--no-irreducible", help="Single-factor laws: drop the E term.")
    ] = False,
    variable: Annotated[
        str | None, typer.Option(help="broken-power: the scaled input, N, D or C.")
    ] = None,
    draws: Draws = None,
    tune: Tune = 1000,
    chains: Chains = 4,
    seed: Seed = None,
    exclude_top_loss: Annotated[
        int, typer.Option(min=0, help="Drop the K highest-loss runs before fitting.")
    ] = 0,
    sampler: Annotated[SamplerName, typer.Option(help="MCMC sampler.")] = SamplerName.nutpie,
    likelihood: LikelihoodOption = LikelihoodName.studentt,
    min_fraction: MinFraction = 0.1,
    nu: Annotated[
        str | None,
        typer.Option(
            help="Student-t degrees of freedom, or 'fit' to sample them (default: the law's; "
            "4, and fitted for data-constrained)."
        ),
    ] = None,
    priors: Annotated[
        str | None,
        typer.Option(
            help="Named prior set: hoffmann2022, besiroglu2024, muennighoff2023 (published fits) "
            "or across_datasets (learned from the shipped data sets)."
        ),
    ] = None,
    column: Column = None,
    loss_unit: UnitOfLoss = None,
    flops_per_token_param: FlopsPerTokenParam = None,
    group_column: GroupColumn = None,
    run_column: RunColumn = None,
    lr_column: LrColumn = None,
    run_tokens_column: RunTokensColumn = None,
    loss_column: LossColumn = None,
    score_column: ScoreColumn = None,
    link: LinkOption = LinkName.sigmoid,
    chance: Chance = None,
    ceiling_sd: CeilingSd = None,
    pooling: Pooling = PoolingName.complete,
    centred: Centred = None,
    noise: Noise = None,
    target_accept: TargetAccept = 0.9,
    method: Annotated[
        FitMethod,
        typer.Option(help="mcmc (posterior), or a fast point fit: map, bootstrap (Huber)."),
    ] = FitMethod.mcmc,
    n_boot: Annotated[int, typer.Option(min=2, help="Resamples for --method bootstrap.")] = 200,
    drift: Annotated[
        bool,
        typer.Option("--drift/--no-drift", help="Learn the extrapolation drift (bayescale.drift)."),
    ] = True,
    progress: Progress = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help=f"Exit {EXIT_UNTRUSTED} when the fit's diagnostics fail (it is still written).",
        ),
    ] = False,
) -> None:
    """Fit a law to RUNS and write posterior.nc, summary.csv, fit.json, runs.csv into OUT.

    With --score-column, a downstream chain: the law on the task loss, a link from task loss
    to score (in OUT/link/); `bayescale predict` then gives a new run's score too.

    Exit code: 0, also for a fit whose diagnostics fail (a warning says so) unless ``--strict``
    (then 3); 2 for bad input, with nothing written.
    """
    with library_calls():
        from .laws import make_law

        options: dict = {"likelihood": likelihood.value}
        if nu is not None:
            options["nu"] = _degrees_of_freedom(nu)
        if no_irreducible:
            options["irreducible"] = False
        for key, value in (("variable", variable), ("priors", priors), ("noise", noise)):
            if value is not None:
                options[key] = value
        if pooling is not PoolingName.complete:
            options["pooling"] = pooling.value
        if centred is not None:
            names = [n.strip() for n in centred.split(",") if n.strip()]
            keyword = len(names) == 1 and names[0] in ("all", "auto", "none")
            options["centred"] = names[0] if keyword else names
        model = make_law(law, **options)
        columns = column_map(
            column,
            group_column,
            run_column,
            lr_column,
            run_tokens_column,
            loss_column,
            score_column,
        )
        read = read_options(loss_unit, flops_per_token_param)
        chain_options = (link is not LinkName.sigmoid, chance is not None, ceiling_sd is not None)
        if score_column is not None or any(chain_options):
            _check_chain(score_column, method)
        fit_options = dict(
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            sampler=sampler.value,
            exclude_top_loss=exclude_top_loss,
            target_accept=target_accept,
            progress=progress_flag(progress),
            drift=drift,
            min_fraction=min_fraction,
        )
        if score_column is not None:
            from .chain import fit_chain

            result = fit_chain(
                model,
                runs,
                link=link.value,
                chance=chance,
                ceiling_sd=ceiling_sd,
                columns=columns,
                **read,
                **fit_options,
            )
        else:
            table = model.load_runs(runs, columns=columns, **read)
            if method is not FitMethod.mcmc:
                _point_fit(model, table, out, method.value, n_boot, seed, exclude_top_loss)
                return
            result = model.fit(table, **fit_options)
        result.save(out, extra={"command": sys.argv})
    _print_fit(result, out)
    _warn_untrusted(result, out, strict)


def _check_chain(score_column: str | None, method: FitMethod) -> None:
    from .exceptions import ConfigError

    if score_column is None:
        raise ConfigError(
            "--link, --chance and --ceiling-sd describe a downstream chain: add --score-column"
        )
    if method is not FitMethod.mcmc:
        raise ConfigError("a downstream chain (--score-column) is fitted by MCMC: drop --method")


def _warn_untrusted(result, out: Path, strict: bool) -> None:
    """Warn (and with ``--strict`` exit 3) when a fit, or a chain's link, did not converge."""
    bad = [(f"the fit in {out}", result)]
    if getattr(result, "link", None) is not None:
        bad.append((f"the link in {out}/link", result.link))
    failed = False
    for where, one in bad:
        if not one.diagnostics.get("ok", True):
            problems = "; ".join(one.diagnostics["problems"][:2])
            warn(f"{where} did not converge ({problems}): do not trust its numbers yet")
            failed = True
    if failed and strict:
        raise typer.Exit(EXIT_UNTRUSTED)


def _point_fit(model, table, out: Path, method: str, n_boot: int, seed, exclude: int) -> None:
    from .pointfit import point_fit

    result = point_fit(
        model, table, method=method, n_boot=n_boot, seed=seed or 0, exclude_top_loss=exclude
    )
    result.save(out, extra={"command": sys.argv})
    typer.echo(f"{model.name}: {model.formula} ({method}; not MCMC)")
    typer.echo(summary_text(result.summary(), mcmc=False))
    typer.echo(f"seed {result.settings['seed']}; wrote {out}/")


def summary_text(summary, mcmc: bool = True) -> str:
    """A fit's summary table as the CLI prints it (the shared number format)."""
    import pandas as pd

    from .formatting import fmt_interval, fmt_number

    interval = summary.attrs.get("interval", 0.9)
    shown = pd.DataFrame(
        {
            f"median [{interval:.0%} interval]": [
                fmt_interval(r["median"], r["lower"], r["upper"]) for _, r in summary.iterrows()
            ],
            "sd": [fmt_number(v, 2) for v in summary["sd"]],
            "R-hat": [f"{v:.3f}" for v in summary["r_hat"]],
            "ESS bulk": [f"{v:.0f}" for v in summary["ess_bulk"]],
            "ESS tail": [f"{v:.0f}" for v in summary["ess_tail"]],
        },
        index=summary.index,
    )
    return (shown if mcmc else shown.iloc[:, :1]).to_string()


def _print_fit(result, out: Path) -> None:
    """The summary table, the draws used (and why, when adaptive), the diagnostics, the drift."""
    typer.echo(f"{result.law.name}: {result.law.formula}")
    typer.echo(summary_text(result.summary()))
    d = result.diagnostics
    sampling = result.settings.get("sampling", {})
    typer.echo(
        f"{result.settings['chains']} chains x {result.settings['draws']} draws"
        + (f" (adaptive: {sampling['why']})" if sampling.get("adaptive") else "")
    )
    if sampling.get("centring"):
        from .centring import centring_note

        typer.echo(centring_note(sampling["centring"]))
    typer.echo(
        f"max R-hat {d['max_rhat']:.3f}, min ESS bulk {d['min_ess_bulk']:.0f}, "
        f"tail {d['min_ess_tail']:.0f}, divergences {d['divergences']}; "
        f"seed {result.settings['seed']}; wrote {out}/"
    )
    typer.echo(result.drift_note)
    if getattr(result, "link", None) is not None:
        link = result.link
        typer.echo(f"\nstep 2, {link.law.name}: {link.law.formula} ({len(link.runs)} rows)")
        typer.echo(summary_text(link.summary()))
        ld = link.diagnostics
        typer.echo(
            f"max R-hat {ld['max_rhat']:.3f}, min ESS bulk {ld['min_ess_bulk']:.0f}, "
            f"tail {ld['min_ess_tail']:.0f}, divergences {ld['divergences']}; wrote {out}/link/"
        )


@app.command()
def laws() -> None:
    """List the laws bayescale can fit, with their formulas and references."""
    from .laws import LAWS

    for name, cls in sorted(LAWS.items()):
        law = cls()
        typer.echo(f"{name:18s} {law.formula}")
        typer.echo(f"{'':18s} parameters: {', '.join(law.sampled_params)}; {cls.reference}")


@app.command()
def compare(
    fit_dirs: Annotated[list[Path], typer.Argument(help="Fit directories (two or more).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
) -> None:
    """Rank fits of several laws on the same runs by PSIS-LOO (best first)."""
    with library_calls():
        from .compare import compare as compare_fits
        from .fit import load_fit

        names = [p.name for p in fit_dirs]
        if len(set(names)) != len(names):
            from .exceptions import ConfigError

            raise ConfigError(f"fit directories must have distinct names, got {names}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Pareto k, convergence: columns below
            table = compare_fits({p.name: load_fit(p) for p in fit_dirs})
    ranking = [
        {
            "name": name,
            "law": r["law"],
            "elpd_loo": r["elpd_loo"],
            "se": r["se"],
            "elpd_diff": r["elpd_diff"],
            "dse": r["dse"],
            "weight": r["weight"],
            "pareto_k_bad": int(r["pareto_k_bad"]),
            "converged": bool(r["converged"]),
        }
        for name, r in table.iterrows()
    ]
    unconverged = [r["name"] for r in ranking if not r["converged"]]
    if as_json:
        emit_json({"ranking": ranking, "all_converged": not unconverged})
    else:
        cols = ["law", "elpd_loo", "se", "elpd_diff", "dse", "weight", "pareto_k_bad", "converged"]
        print_table(table[cols])
        bad = [r["name"] for r in ranking if r["pareto_k_bad"]]
        if bad:
            typer.echo(f"warning: Pareto k > 0.7 for some runs in {bad}: LOO is unreliable there")
    if unconverged:
        warn(f"fit(s) {unconverged} did not converge: their ranking is not to be trusted")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("results/demo"),
    draws: Draws = None,
    tune: Tune = 1000,
    chains: Chains = 4,
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 2024,
    progress: Progress = None,
) -> None:
    """Fit the shipped Chinchilla runs and compare with the published replication."""
    with library_calls():
        from .demo import run_demo, to_markdown

        table, fit_240, fit_245 = run_demo(
            out,
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            progress=progress_flag(progress),
            extra={"command": sys.argv},
        )
    typer.echo(
        "Chinchilla's law on the digitized Chinchilla runs (posterior medians, 95% intervals)"
    )
    typer.echo(to_markdown(table))
    for label, f in (("240 runs", fit_240), ("245 runs", fit_245)):
        d = f.diagnostics
        typer.echo(
            f"{label}: max R-hat {d['max_rhat']:.3f}, min ESS bulk {d['min_ess_bulk']:.0f}, "
            f"divergences {d['divergences']}, sampling {f.settings['timing']['sampling_s']:.1f} s"
        )
    typer.echo(f"wrote {out}/ (fit_240/, fit_245/, comparison.csv, comparison.md)")


def _degrees_of_freedom(text: str) -> float | None:
    """``--nu``: a positive number, or ``fit`` (sampled: None)."""
    from .exceptions import ConfigError

    if text.strip().lower() == "fit":
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"--nu must be a positive number or 'fit', got {text!r}")
    return value
