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


class LikelihoodName(str, Enum):
    studentt = "studentt"
    normal = "normal"


def _err(message: str) -> None:
    typer.echo(f"bayescale: error: {' '.join(str(message).split())}", err=True)


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


def _print_table(frame) -> None:
    typer.echo(frame.to_string(float_format=lambda v: f"{v:.4g}"))


Draws = Annotated[int, typer.Option(min=1, help="Posterior draws per chain.")]
Tune = Annotated[int, typer.Option(min=0, help="Tuning steps per chain.")]
Chains = Annotated[int, typer.Option(min=1, help="Number of chains.")]
Seed = Annotated[
    int | None, typer.Option(min=0, help="Random seed (default: drawn and recorded in fit.json).")
]
Progress = Annotated[
    bool | None,
    typer.Option("--progress/--no-progress", help="Progress bar (default: on a terminal)."),
]


@app.command()
def fit(
    runs: Annotated[Path, typer.Argument(help="CSV of runs: N, D (or C), loss.")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the fit into.")],
    draws: Draws = 1000,
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
    target_accept: Annotated[float, typer.Option(help="NUTS target acceptance.")] = 0.9,
    progress: Progress = None,
) -> None:
    """Fit Chinchilla's law to RUNS and write posterior.nc, summary.csv, fit.json, runs.csv."""
    with _library_calls():
        from .data import load_runs
        from .laws import ChinchillaLaw

        table = load_runs(runs)
        law = ChinchillaLaw(likelihood=likelihood.value, nu=nu)
        result = law.fit(
            table,
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            sampler=sampler.value,
            exclude_top_loss=exclude_top_loss,
            target_accept=target_accept,
            progress=_progress(progress),
        )
        result.save(out, extra={"command": sys.argv})
    _print_table(result.summary())
    d = result.diagnostics
    typer.echo(
        f"max R-hat {d['max_rhat']:.3f}, min ESS bulk {d['min_ess_bulk']:.0f}, "
        f"divergences {d['divergences']}; seed {result.settings['seed']}; wrote {out}/"
    )


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("results/demo"),
    draws: Draws = 1000,
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


if __name__ == "__main__":
    main()
