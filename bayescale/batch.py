"""Batch risk estimates: many jobs (runs file x law x settings) and their questions in one run.

The parent process validates the manifest, loads and hashes each job's runs, skips jobs whose
inputs have not changed since the last run, and hands the rest to an executor: local processes
(:class:`concurrent.futures.ProcessPoolExecutor`) or a Dask ``distributed`` cluster. A worker
receives the law and the runs table (no shared file system needed), fits, and sends the saved fit
files back; the parent writes them atomically and answers the questions. A worker keeps its
compiled models between jobs and reads those other processes compiled from the disk cache; with
several workers, each model that several jobs share is compiled once before those jobs start
(:func:`~bayescale.workers.submit_warmed`).

Output folder::

    OUT/jobs/<name>/fit/      the fit, as `bayescale fit` writes it
    OUT/jobs/<name>/job.json  the job's input key (skip check), status and timings
    OUT/risks.csv             one row per (job, question); risks.parquet too if pyarrow is present
    OUT/batch.json            timings, statuses, and the reproducibility block
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .answers import COLUMNS, answer_job, answer_questions
from .exceptions import BayescaleError, BayescaleWarning, ConfigError
from .fit import LINK_DIR
from .io import (
    atomic_write_file,
    atomic_write_text,
    dumps,
    package_version,
    versions,
    write_result_dir,
)
from .laws.link import SCORE
from .manifest import Job, load_manifest
from .threads import child_env, single_threaded_blas
from .workers import dask_cores_per_job, default_workers, submit_warmed

__all__ = [
    "run_batch",
    "BatchResult",
    "fit_job",
    "answer_questions",
    "dask_cores_per_job",
    "default_workers",
]

_FIT_FILES = ("posterior.nc", "fit.json", "summary.csv", "runs.csv")


@dataclass
class BatchResult:
    """What :func:`run_batch` did: the risk table, one record per job, and the output folder."""

    risks: pd.DataFrame
    jobs: list[dict[str, Any]]
    out: Path

    @property
    def n_failed(self) -> int:
        """Number of jobs that failed."""
        return sum(j["status"] == "failed" for j in self.jobs)

    @property
    def unconverged(self) -> list[str]:
        """Names of the jobs whose fit did not pass its diagnostics."""
        return [j["name"] for j in self.jobs if j.get("converged") is False]


# ----------------------------------------------------------------------------- worker
def fit_job(
    law_dict: dict[str, Any],
    runs: pd.DataFrame,
    settings: dict[str, Any],
    questions: Job | None = None,
) -> dict:
    """Fit one job (runs on a worker). Never raises: an error comes back as ``{"error": ...}``.

    Returns the saved fit's files as bytes, the timings, any bayescale warnings, and, given the
    job (``questions``), its answers computed here on the worker (``"answers"``: rows, or an
    error of answering) with the fit's diagnostics, so the parent does not load the fit again.
    """
    from .laws import law_from_dict

    t0 = time.perf_counter()
    worker = f"{platform.node()}:{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="bayescale-job-"))
    try:
        with warnings.catch_warnings(record=True) as caught, single_threaded_blas():
            warnings.simplefilter("always", BayescaleWarning)
            law = law_from_dict(law_dict)
            if questions is not None and questions.link:  # a downstream chain's two steps
                from .chain import fit_chain

                fit = fit_chain(
                    law,
                    runs,
                    link=questions.link,
                    chance=questions.chance,
                    ceiling_sd=questions.ceiling_sd,
                    **settings,
                )
            else:
                fit = law.fit(runs, progress=False, **settings)
            fit.save(tmp / "fit")
        files = {name: (tmp / "fit" / name).read_bytes() for name in _FIT_FILES}
        if fit.link is not None:  # step 2's own fit directory, as Fit.save lays it out
            files.update(
                {f"{LINK_DIR}/{n}": (tmp / "fit" / LINK_DIR / n).read_bytes() for n in _FIT_FILES}
            )
        timing = dict(fit.settings.get("timing", {}))
        notes = [str(w.message) for w in caught if issubclass(w.category, BayescaleWarning)]
        out = {"files": files, "timing": timing, "warnings": notes, "worker": worker}
        if questions is not None:
            out["answers"] = answer_job(fit, questions)
        timing["total_s"] = time.perf_counter() - t0
        return out
    except BayescaleError as exc:
        return {"error": str(exc), "worker": worker}
    except Exception as exc:  # a worker must report, not crash the batch
        return {"error": f"{type(exc).__name__}: {exc}", "worker": worker}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------- inputs
def _load_job_runs(job: Job) -> pd.DataFrame:
    extra = {"numeric": (SCORE,)} if job.link else {}  # a chain's score: checked as numbers
    runs = job.make_law().load_runs(job.runs, columns=job.column_map(), **job.read_options, **extra)
    for col, values in job.filter.items():
        if col not in runs.columns:
            raise ConfigError(
                f"filter column '{col}' is not in {job.runs.name}; found: {list(runs.columns)}"
            )
        runs = runs[runs[col].astype(str).isin([str(v) for v in values])]
    if runs.empty:
        raise ConfigError(f"no runs of {job.runs.name} pass the filter {job.filter}")
    return runs.reset_index(drop=True)


def _job_key(job: Job, runs: pd.DataFrame) -> str:
    from .data import runs_sha256

    doc = {"data": runs_sha256(runs), "fit": job.fit_spec(), "bayescale": package_version()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def _previous(job_dir: Path, key: str) -> bool:
    """Whether ``job_dir`` holds a complete fit made from the same inputs."""
    try:
        record = json.loads((job_dir / "job.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    complete = all((job_dir / "fit" / f).is_file() for f in _FIT_FILES)
    return complete and record.get("key") == key and record.get("status") in ("fitted", "skipped")


# -------------------------------------------------------------------------- executors
def _local_executor(workers: int):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))

    def submit(fn, *args):
        with child_env():  # workers start on a submit: single-threaded BLAS (bayescale.threads)
            return pool.submit(fn, *args)

    # A spawned pool starts a worker per submit while none is idle: start them all now, each
    # importing the sampling stack, so that they are ready when a warm-up ends rather than
    # starting (and importing, ~5 s) only then.
    for _ in range(workers):
        submit(_preload)
    return submit, as_completed, pool.shutdown


def _preload() -> None:
    """Import what a fit needs (PyMC, PyTensor, nutpie), in a worker that has just started."""
    import nutpie  # noqa: F401

    from . import fitting  # noqa: F401


class _Deferred:
    """A call shaped like a future; it runs when its result is asked for (in this process)."""

    def __init__(self, fn: Callable, *args: Any) -> None:
        self.fn, self.args = fn, args

    def result(self) -> Any:
        return self.fn(*self.args)


def _inline_executor():
    """One worker: run jobs in this process (no start-up cost; reuses its compiled models)."""
    return _Deferred, iter, lambda: None


def _dask_executor(client: Any):
    from distributed import as_completed

    def submit(fn, *args):
        return client.submit(fn, *args, pure=False)

    return submit, as_completed, lambda: None


def _progress_bar(total: int, enabled: bool) -> Callable[[str], None]:
    if not enabled or total == 0:
        return lambda _label: None
    from rich.progress import Progress

    progress = Progress(transient=False)
    task = progress.add_task("jobs", total=total)
    progress.start()
    done = {"n": 0}

    def advance(label: str) -> None:
        done["n"] += 1
        progress.update(task, advance=1, description=label)
        if done["n"] >= total:
            progress.stop()

    return advance


# -------------------------------------------------------------------------------- run
def run_batch(
    manifest: str | os.PathLike | list[Job],
    out: str | os.PathLike,
    *,
    workers: int | None = None,
    client: Any = None,
    scheduler: str | None = None,
    force: bool = False,
    progress: bool = False,
) -> BatchResult:
    """Fit every job of ``manifest`` and answer its questions; write ``risks.csv``, ``batch.json``.

    Parameters
    ----------
    manifest
        Path of a TOML manifest (see :mod:`bayescale.manifest`) or already parsed jobs.
    out
        Output folder (created if missing).
    workers
        Local worker processes (default: :func:`~bayescale.workers.default_workers`, as many
        as run their chains side by side on the cores, e.g. 1 on 2 cores and 4 on 16 for fits
        of 4 chains); with 1, jobs run one after the other in this process. Ignored with a
        Dask cluster.
    client, scheduler
        A ``distributed.Client``, or the address (``tcp://host:port``) of a Dask scheduler to
        connect to: jobs are submitted there instead of to local processes.
    force
        Refit every job even if its inputs did not change.
    progress
        Show a progress bar over jobs (on stderr).

    Returns
    -------
    BatchResult
        ``risks`` (one row per job and question), ``jobs`` (status, timings), ``n_failed``.
    """
    t_start = time.perf_counter()
    started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    jobs = manifest if isinstance(manifest, list) else load_manifest(manifest)
    manifest_sha = None
    if not isinstance(manifest, list):
        manifest_sha = hashlib.sha256(Path(manifest).read_bytes()).hexdigest()
    out = Path(out)
    (out / "jobs").mkdir(parents=True, exist_ok=True)
    ncpu = os.cpu_count() or 1
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    if workers is None:
        chains = max((int(job.fit_settings["chains"]) for job in jobs), default=1)
        workers = default_workers(len(jobs), chains, ncpu)

    records: dict[str, dict[str, Any]] = {}
    payloads: dict[str, tuple] = {}
    for job in jobs:
        rec: dict[str, Any] = {
            "name": job.name,
            "runs": str(job.runs),
            "law": job.law,
            "seed": job.fit_settings["seed"],
        }
        records[job.name] = rec
        try:
            runs = _load_job_runs(job)
        except BayescaleError as exc:
            rec.update(status="failed", error=f"runs file {job.runs}: {exc}")
            continue
        rec["n_runs"] = len(runs)
        rec["key"] = _job_key(job, runs)
        if not force and _previous(out / "jobs" / job.name, rec["key"]):
            rec["status"] = "skipped"
            continue
        settings = dict(job.fit_settings)
        if settings["cores"] is None and client is None and scheduler is None:
            settings["cores"] = max(1, ncpu // min(workers, len(jobs)))
        payloads[job.name] = (job.make_law().to_dict(), runs, settings, job)

    by_worker: dict[str, dict[str, Any]] = {}  # the answers workers computed, by job
    warmup: dict[str, Any] = {"models": 0}
    advance = _progress_bar(len(payloads), progress)
    owned = None  # a client this call connected itself (closed at the end)
    if payloads:
        if client is None and scheduler is not None:
            from distributed import Client

            client = owned = Client(scheduler)
        if client is not None:
            cores = dask_cores_per_job(client, len(payloads))
            for _, _, settings, _ in payloads.values():
                if settings["cores"] is None:
                    settings["cores"] = cores
            submit, as_completed, close = _dask_executor(client)
        elif min(workers, len(payloads)) == 1:
            submit, as_completed, close = _inline_executor()
        else:
            submit, as_completed, close = _local_executor(min(workers, len(payloads)))
        try:
            if submit is _Deferred:  # in this process, one job after the other
                futures = {submit(fit_job, *payloads[name]): name for name in payloads}
            else:  # several workers: each model several jobs share is compiled once
                futures, warmup = submit_warmed(payloads, fit_job, submit, as_completed)
            for future in as_completed(list(futures)):
                name = futures[future]
                result = future.result()
                _store(out / "jobs" / name, records[name], result)
                if "answers" in result:
                    by_worker[name] = result["answers"]
                advance(f"{name}: {records[name]['status']}")
        finally:
            close()
    executor = "dask" if client is not None or scheduler is not None else "processes"
    address = str(client.scheduler.address) if client is not None else scheduler
    if owned is not None:
        owned.close()

    rows = []
    by_name = {job.name: job for job in jobs}
    for name, rec in records.items():
        rows += _job_rows(by_name[name], rec, out / "jobs" / name, by_worker.get(name))
    risks = pd.DataFrame(rows)
    risks = risks.reindex(columns=[*COLUMNS, *[c for c in risks.columns if c not in COLUMNS]])
    _write_outputs(
        out,
        risks,
        records,
        started,
        time.perf_counter() - t_start,
        manifest_sha,
        workers if executor == "processes" else None,
        executor,
        address,
        warmup,
    )
    return BatchResult(risks=risks, jobs=list(records.values()), out=out)


def _store(job_dir: Path, rec: dict[str, Any], result: dict[str, Any]) -> None:
    rec["worker"] = result.get("worker")
    if "error" in result:
        rec.update(status="failed", error=result["error"])
        return
    files = result["files"]
    top = {n: b for n, b in files.items() if "/" not in n}
    link = {n.split("/", 1)[1]: b for n, b in files.items() if n.startswith(f"{LINK_DIR}/")}

    def write_link(path: Path) -> None:
        path.mkdir()
        for name, data in link.items():
            (path / name).write_bytes(data)

    writers = {n: (lambda p, b=top[n]: p.write_bytes(b)) for n in top}
    if link:
        writers[LINK_DIR] = write_link
    # a chain's step 2 from an earlier result goes first (derived) unless written again
    write_result_dir(job_dir / "fit", writers, derived=(LINK_DIR,))
    rec.update(status="fitted", timing=result["timing"], warnings=result["warnings"])
    record = {k: rec[k] for k in ("name", "key", "status", "timing", "worker", "n_runs")}
    atomic_write_text(job_dir / "job.json", dumps(record))


def _job_rows(
    job: Job, rec: dict[str, Any], job_dir: Path, answers: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The job's rows of risks.csv: from the answers its worker computed, or (a job skipped as
    unchanged) from its saved fit."""
    base = {
        "job": job.name,
        "law": job.law,
        "runs": str(job.runs),
        "seed": job.fit_settings["seed"],
        "interval": job.interval,
    }
    if rec["status"] == "failed":
        return [{**base, "question": "fit", "status": "failed", "error": rec["error"]}]
    if answers is None:
        from .fit import load_fit

        try:
            answers = answer_job(load_fit(job_dir / "fit"), job)
        except BayescaleError as exc:
            answers = {"error": f"answering: {exc}"}
    if "error" in answers:
        rec.update(status="failed", error=answers["error"])
        return [{**base, "question": "fit", "status": "failed", "error": rec["error"]}]
    rec["diagnostics"] = answers["diagnostics"]
    rec["converged"] = bool(answers["diagnostics"].get("ok", False))
    rec["fit_dir"] = str(job_dir / "fit")
    diag = answers["columns"]
    return [{**base, "status": "ok", "error": None, **row, **diag} for row in answers["rows"]]


def _write_outputs(
    out, risks, records, started, wall, manifest_sha, workers, executor, address, warmup
) -> None:
    csv = risks.to_csv(index=False, float_format="%.6g")
    atomic_write_text(out / "risks.csv", csv)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        (out / "risks.parquet").unlink(missing_ok=True)
    else:
        atomic_write_file(out / "risks.parquet", lambda p: risks.to_parquet(p, index=False))
    jobs = list(records.values())
    doc = {
        "started": started,
        "wall_s": wall,
        "executor": executor,
        "scheduler": address,
        "workers": workers,
        "warmup": warmup,
        "n_jobs": len(jobs),
        "n_fitted": sum(j["status"] == "fitted" for j in jobs),
        "n_skipped": sum(j["status"] == "skipped" for j in jobs),
        "n_failed": sum(j["status"] == "failed" for j in jobs),
        "unconverged": [j["name"] for j in jobs if j.get("converged") is False],
        "jobs": jobs,
        "reproducibility": {
            "manifest_sha256": manifest_sha,
            "versions": versions(),
            "platform": platform.platform(),
            "seeds": {j["name"]: j["seed"] for j in jobs},
        },
    }
    atomic_write_text(out / "batch.json", dumps(doc))


def exit_code(result: BatchResult, strict: bool = False) -> int:
    """The CLI's exit code: the number of failed jobs, with ``strict`` plus the number of
    unconverged ones (capped at 100)."""
    return min(result.n_failed + (len(result.unconverged) if strict else 0), 100)
