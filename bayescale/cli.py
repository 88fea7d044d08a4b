"""Command-line interface (Typer). No model logic lives here: each command parses its options,
calls the library, and prints.

Exit codes: 0 success; 2 bad input or usage (one line on stderr, no traceback, no output
written); 1 an unexpected internal error.
"""

from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="bayescale",
    help="Bayesian scaling-law modelling: fit laws by MCMC, answer with intervals.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

EXIT_BAD_INPUT = 2


class SamplerName(str, Enum):
    nutpie = "nutpie"
    pymc = "pymc"
    numpyro = "numpyro"
    blackjax = "blackjax"


class FitMethod(str, Enum):
    mcmc = "mcmc"
    map = "map"
    bootstrap = "bootstrap"


class PoolingName(str, Enum):
    complete = "complete"
    partial = "partial"
    none = "none"


class LikelihoodName(str, Enum):
    studentt = "studentt"
    normal = "normal"


def _err(message: str) -> None:
    typer.echo(f"bayescale: error: {' '.join(str(message).split())}", err=True)


def _warn(message: str) -> None:
    """One warning line on stderr (the result itself still goes to stdout)."""
    typer.echo(f"bayescale: warning: {' '.join(str(message).split())}", err=True)


@contextmanager
def _library_calls():
    """Turn bayescale errors into exit code 2 and print bayescale warnings on one line each."""
    from .exceptions import BayescaleError, BayescaleWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BayescaleWarning)
        try:
            yield
        except BayescaleError as exc:
            _err(str(exc))
            raise typer.Exit(EXIT_BAD_INPUT) from None
        finally:
            for w in caught:
                if issubclass(w.category, BayescaleWarning):
                    typer.echo(f"bayescale: warning: {w.message}", err=True)


def _progress(flag: bool | None) -> bool:
    return sys.stderr.isatty() if flag is None else flag


def _emit_json(doc: dict) -> None:
    from .io import dumps

    typer.echo(dumps(doc), nl=False)


def _print_table(frame) -> None:
    typer.echo(frame.to_string(float_format=lambda v: f"{v:.4g}"))


Draws = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Posterior draws per chain, exactly (default: adaptive, 1000 and more until the "
        "diagnostics pass, up to 8000; recorded in fit.json).",
    ),
]
Tune = Annotated[int, typer.Option(min=0, help="Tuning steps per chain.")]
Chains = Annotated[int, typer.Option(min=1, help="Number of chains.")]
Noise = Annotated[
    str | None,
    typer.Option(
        help="chinchilla: 'offopt' (noise grows off the optimum; default unpooled) or "
        "'constant' (default pooled)."
    ),
]
Seed = Annotated[
    int | None, typer.Option(min=0, help="Random seed (default: drawn and recorded in fit.json).")
]
Progress = Annotated[
    bool | None,
    typer.Option("--progress/--no-progress", help="Progress bar (default: on a terminal)."),
]


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
    likelihood: Annotated[
        LikelihoodName, typer.Option(help="Noise model on log loss.")
    ] = LikelihoodName.studentt,
    nu: Annotated[float, typer.Option(help="Student-t degrees of freedom.")] = 4.0,
    priors: Annotated[
        str | None, typer.Option(help="Named literature prior set, e.g. hoffmann2022.")
    ] = None,
    group_column: Annotated[
        str | None, typer.Option(help="Column that groups the runs (read as 'group').")
    ] = None,
    pooling: Annotated[
        PoolingName, typer.Option(help="Parameters shared by all groups, per group, or pooled.")
    ] = PoolingName.complete,
    noise: Noise = None,
    target_accept: Annotated[float, typer.Option(help="NUTS target acceptance.")] = 0.9,
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
) -> None:
    """Fit a law to RUNS and write posterior.nc, summary.csv, fit.json, runs.csv into OUT."""
    with _library_calls():
        from .laws import make_law

        options: dict = {"likelihood": likelihood.value, "nu": nu}
        if no_irreducible:
            options["irreducible"] = False
        if variable is not None:
            options["variable"] = variable
        if priors is not None:
            options["priors"] = priors
        if pooling is not PoolingName.complete:
            options["pooling"] = pooling.value
        if noise is not None:
            options["noise"] = noise
        model = make_law(law, **options)
        table = runs
        if group_column is not None:
            table = model.load_runs(runs, columns={"group": group_column})
        if method is not FitMethod.mcmc:
            from .pointfit import point_fit

            result = point_fit(
                model,
                table,
                method=method.value,
                n_boot=n_boot,
                seed=seed or 0,
                exclude_top_loss=exclude_top_loss,
            )
            result.save(out, extra={"command": sys.argv})
            typer.echo(f"{model.name}: {model.formula} ({method.value}; not MCMC)")
            _print_table(result.summary()[["median", "lower", "upper"]])
            typer.echo(f"seed {result.settings['seed']}; wrote {out}/")
            return
        result = model.fit(
            table,
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            sampler=sampler.value,
            exclude_top_loss=exclude_top_loss,
            target_accept=target_accept,
            progress=_progress(progress),
            drift=drift,
        )
        result.save(out, extra={"command": sys.argv})
    typer.echo(f"{model.name}: {model.formula}")
    _print_table(result.summary())
    d = result.diagnostics
    sampling = result.settings.get("sampling", {})
    typer.echo(
        f"{result.settings['chains']} chains x {result.settings['draws']} draws"
        + (f" (adaptive: {sampling['why']})" if sampling.get("adaptive") else "")
    )
    typer.echo(
        f"max R-hat {d['max_rhat']:.3f}, min ESS bulk {d['min_ess_bulk']:.0f}, "
        f"tail {d['min_ess_tail']:.0f}, divergences {d['divergences']}; "
        f"seed {result.settings['seed']}; wrote {out}/"
    )
    tau = result.settings.get("drift", {}).get("tau")
    if tau is not None:
        typer.echo(f"extrapolation drift tau {tau:.3g} per sqrt(decade) of compute beyond the runs")


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
    with _library_calls():
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
        _emit_json({"ranking": ranking, "all_converged": not unconverged})
    else:
        cols = ["law", "elpd_loo", "se", "elpd_diff", "dse", "weight", "pareto_k_bad", "converged"]
        _print_table(table[cols])
        bad = [r["name"] for r in ranking if r["pareto_k_bad"]]
        if bad:
            typer.echo(f"warning: Pareto k > 0.7 for some runs in {bad}: LOO is unreliable there")
    if unconverged:
        _warn(f"fit(s) {unconverged} did not converge: their ranking is not to be trusted")


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
    with _library_calls():
        from .demo import run_demo, to_markdown

        table, fit_240, fit_245 = run_demo(
            out,
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            progress=_progress(progress),
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


FitDir = Annotated[Path, typer.Argument(help="A fit directory written by `bayescale fit`.")]
Interval = Annotated[float, typer.Option(help="Central interval mass, in (0, 1).")]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]


def main() -> None:
    """Console entry point: usage errors become one line on stderr with exit code 2."""
    try:  # typer >= 0.2x vendors click; its exceptions derive from TyperException
        from typer import TyperException as CliError
    except ImportError:  # pragma: no cover - older typer on top of click
        from click import ClickException as CliError

    command = typer.main.get_command(app)
    try:
        rc = command.main(prog_name="bayescale", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _err("aborted")
        sys.exit(130)
    except CliError as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            typer.echo(ctx.get_help())
            sys.exit(0)
        _err(exc.format_message())
        sys.exit(getattr(exc, "exit_code", EXIT_BAD_INPUT))
    sys.exit(rc if isinstance(rc, int) else 0)


from . import cli_batch, cli_decisions  # noqa: E402,F401  (register predict, ..., batch)

if __name__ == "__main__":
    main()
