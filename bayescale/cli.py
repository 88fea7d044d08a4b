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


class BacktestMethod(str, Enum):
    bayes = "bayes"
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
    runs: Annotated[Path, typer.Argument(help="CSV of runs: N, D (or C), loss (or score).")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the fit into.")],
    law: Annotated[str, typer.Option(help="Law to fit (see `bayescale laws`).")] = "chinchilla",
    no_irreducible: Annotated[
        bool, typer.Option("--no-irreducible", help="Single-factor laws: drop the E term.")
    ] = False,
    variable: Annotated[
        str | None, typer.Option(help="broken-power: the scaled input, N, D or C.")
    ] = None,
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
    priors: Annotated[
        str | None, typer.Option(help="Named literature prior set, e.g. hoffmann2022.")
    ] = None,
    group_column: Annotated[
        str | None, typer.Option(help="Column that groups the runs (read as 'group').")
    ] = None,
    pooling: Annotated[
        PoolingName, typer.Option(help="Parameters shared by all groups, per group, or pooled.")
    ] = PoolingName.complete,
    target_accept: Annotated[float, typer.Option(help="NUTS target acceptance.")] = 0.9,
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
        model = make_law(law, **options)
        table = runs
        if group_column is not None:
            from .data import load_runs

            table = load_runs(
                runs,
                columns={"group": group_column},
                target=model.target,
                positive_target=model.observation == "log",
            )
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
        )
        result.save(out, extra={"command": sys.argv})
    typer.echo(f"{model.name}: {model.formula}")
    _print_table(result.summary())
    d = result.diagnostics
    typer.echo(
        f"max R-hat {d['max_rhat']:.3f}, min ESS bulk {d['min_ess_bulk']:.0f}, "
        f"divergences {d['divergences']}; seed {result.settings['seed']}; wrote {out}/"
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
    with _library_calls():
        from .compare import compare as compare_fits
        from .fit import load_fit

        names = [p.name for p in fit_dirs]
        if len(set(names)) != len(names):
            from .exceptions import ConfigError

            raise ConfigError(f"fit directories must have distinct names, got {names}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Pareto k: counted in pareto_k_bad
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
        }
        for name, r in table.iterrows()
    ]
    if as_json:
        _emit_json({"ranking": ranking})
        return
    cols = ["law", "elpd_loo", "se", "elpd_diff", "dse", "weight", "pareto_k_bad"]
    _print_table(table[cols])
    bad = [r["name"] for r in ranking if r["pareto_k_bad"]]
    if bad:
        typer.echo(f"warning: Pareto k > 0.7 for some runs in {bad}: LOO is unreliable there")


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


FitDir = Annotated[Path, typer.Argument(help="A fit directory written by `bayescale fit`.")]
Interval = Annotated[float, typer.Option(help="Central interval mass, in (0, 1).")]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]


def _emit_json(doc: dict) -> None:
    from .io import dumps

    typer.echo(dumps(doc), nl=False)


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
    interval: Interval = 0.9,
    as_json: AsJson = False,
) -> None:
    """Extrapolated loss of planned runs (N, D), with intervals."""
    from .formatting import si
    from .predict import predict_loss, quantity

    with _library_calls():
        from .fit import load_fit

        fit = load_fit(fit_dir)
        if len(n) != len(d):
            from .exceptions import ConfigError

            raise ConfigError(f"give as many --n as --d values, got {len(n)} and {len(d)}")
        table = predict_loss(fit, n, d, interval=interval, target=target)
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
            }
            for _, r in table.iterrows()
        ]
        _emit_json({"interval": interval, "rows": rows})
        return
    _human(
        table,
        {"loss (law)": ("loss", False), "loss (new run)": ("loss_new_run", False)},
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
    from .predict import optimal_allocation, quantity

    with _library_calls():
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
        _emit_json(
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


@app.command("target")
def target_cmd(
    fit_dir: FitDir,
    loss: Annotated[float, typer.Option("--loss", help="Target loss.")],
    interval: Interval = 0.9,
    as_json: AsJson = False,
) -> None:
    """Compute (and N*, D*) needed to reach a target loss, and P(unreachable)."""
    from .predict import compute_for_loss, quantity

    with _library_calls():
        from .fit import load_fit

        table = compute_for_loss(load_fit(fit_dir), loss, interval=interval)
    r = table.iloc[0]
    if as_json:
        _emit_json(
            {
                "interval": interval,
                "target": loss,
                "prob_unreachable": float(r["prob_unreachable"]),
                **{q: quantity(r, q) for q in ("compute", "N_opt", "D_opt")},
            }
        )
        return
    _human(
        table,
        {"compute [FLOPs]": ("compute", False), "N_opt": ("N_opt", True), "D_opt": ("D_opt", True)},
        f"To reach loss {loss:g} compute-optimally, median [{interval:.0%} interval] "
        "(inf: not reached at that probability)",
        ("target", [f"{loss:g}"]),
    )
    typer.echo(f"P(target unreachable: E >= {loss:g}) = {r['prob_unreachable']:.3f}")


@app.command()
def backtest(
    runs: Annotated[Path, typer.Argument(help="CSV of runs.")],
    law: Annotated[str, typer.Option(help="Law to test (see `bayescale laws`).")] = "chinchilla",
    holdout_compute_above: Annotated[
        list[float] | None,
        typer.Option(
            help="Hold out runs above this compute (repeat for a leave-future-out sweep)."
        ),
    ] = None,
    holdout_top_fraction: Annotated[
        float | None, typer.Option(help="Hold out this fraction of runs, largest compute first.")
    ] = None,
    interval: Interval = 0.9,
    draws: Draws = 1000,
    tune: Tune = 1000,
    chains: Chains = 4,
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 0,
    method: Annotated[
        BacktestMethod, typer.Option(help="bayes, or the Huber point fit + bootstrap baseline.")
    ] = BacktestMethod.bayes,
    n_boot: Annotated[int, typer.Option(min=10, help="Bootstrap resamples.")] = 200,
    as_json: AsJson = False,
) -> None:
    """Fit on the smaller runs, predict the held-out larger ones, score interval coverage."""
    with _library_calls():
        from .backtest import backtest as run_backtest
        from .exceptions import ConfigError
        from .laws import make_law

        model = make_law(law)
        cutoffs = holdout_compute_above or []
        if bool(cutoffs) == (holdout_top_fraction is not None):
            raise ConfigError(
                "give --holdout-compute-above (once or more) or --holdout-top-fraction"
            )
        kw = dict(
            interval=interval,
            seed=seed,
            draws=draws,
            tune=tune,
            chains=chains,
            method=method.value,
            n_boot=n_boot,
        )
        if cutoffs:
            results = [run_backtest(model, runs, holdout_compute_above=c, **kw) for c in cutoffs]
        else:
            results = [run_backtest(model, runs, holdout_top_fraction=holdout_top_fraction, **kw)]
    if as_json:
        _emit_json(results if len(results) > 1 else results[0])
        return
    typer.echo(
        f"{model.name} ({results[0]['method']}): held-out runs scored by their {interval:.0%} "
        "predictive intervals"
    )
    for r in results:
        cov = r["coverage"]
        typer.echo(
            f"cut-off C > {r['cutoff']:.3g}: train {r['n_train']}, test {r['n_test']} (up to "
            f"{r['max_compute_factor']:.3g}x the largest training run); coverage 50% "
            f"{cov['0.5']:.2f}, 80% {cov['0.8']:.2f}, 90% {cov['0.9']:.2f}; mean width (log) "
            f"{r['mean_width_log']:.4f}; median |rel. error| {r['median_abs_rel_error']:.2%}; "
            f"CRPS {r['crps']:.4g}"
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
    with _library_calls():
        from .fit import load_fit
        from .report import write_report

        fit = load_fit(fit_dir)
        target = out or (fit_dir / ("report.html" if fmt is ReportFormat.html else "report"))
        path = write_report(fit, target, fmt=fmt.value, compute=compute)
    typer.echo(f"wrote {path}")


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
