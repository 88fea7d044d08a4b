"""``bayescale batch``: many jobs and questions from one TOML manifest (see
:mod:`bayescale.manifest` and :mod:`bayescale.batch`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .cli_app import Progress, app, library_calls, progress_flag, warn


@app.command()
def batch(
    manifest: Annotated[Path, typer.Argument(help="TOML manifest listing jobs and questions.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Local worker processes (default: cores // chains, at least 1)."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Address of a Dask scheduler (tcp://HOST:PORT) to submit jobs to."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Refit unchanged jobs too.")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Count jobs whose fit did not converge as failed.")
    ] = False,
    progress: Progress = None,
) -> None:
    """Fit every job of MANIFEST, answer its questions, write OUT/risks.csv and OUT/batch.json.

    Exit code: the number of failed jobs (0 = all succeeded), with ``--strict`` plus the number
    of jobs whose fit did not converge (capped at 100); 2 for an invalid manifest, which is
    checked before anything is sampled.
    """
    with library_calls():
        from .batch import exit_code, run_batch

        result = run_batch(
            manifest,
            out,
            workers=workers,
            scheduler=scheduler,
            force=force,
            progress=progress_flag(progress),
        )
    for job in result.jobs:
        line = f"{job['name']:24s} {job['status']:8s}"
        if job.get("converged") is False:
            line += " NOT CONVERGED (see risks.csv: converged=False);"
        if job["status"] == "failed":
            line += f" {job['error']}"
        elif job.get("timing"):
            t = job["timing"]
            line += f" compile {t.get('compile_s', 0):.1f} s, total {t.get('total_s', 0):.1f} s"
        typer.echo(line)
    typer.echo(
        f"{len(result.jobs)} jobs: {sum(j['status'] == 'fitted' for j in result.jobs)} fitted, "
        f"{sum(j['status'] == 'skipped' for j in result.jobs)} skipped, {result.n_failed} failed"
        + (f", {len(result.unconverged)} not converged" if result.unconverged else "")
        + f"; wrote {out}/risks.csv and {out}/batch.json"
    )
    if result.unconverged:
        warn(
            f"job(s) {result.unconverged} did not converge: their risk estimates are not to be "
            "trusted (batch.json: unconverged)"
        )
    raise typer.Exit(exit_code(result, strict=strict))
