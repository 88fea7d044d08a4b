"""How a batch divides the machine: worker processes, and cores (chain threads) per job.

nutpie samples a fit's chains on threads, and a batch runs fits side by side in worker
processes. Chains x concurrent fits beyond the cores only take turns on them; so a batch runs
as many workers as fit their chains side by side on the cores. Measured on 16 cores (24 jobs of
4 chains, issue #19, before the compiled models were cached on disk): 1 worker 102 s, 4 workers
54 s, 8 and 16 workers 57 s; with the disk cache (docs/batch.md): 68.9 s, 41.0 s and 39.5 s
at 1, 4 and 16 workers. Each model that several jobs share is compiled once, on one
worker, before those jobs start (:func:`submit_warmed`); the other workers read it from the
disk cache.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "default_workers",
    "dask_cores_per_job",
    "shared_models",
    "submit_warmed",
    "warm_model",
]


def default_workers(n_jobs: int, chains: int, cpus: int) -> int:
    """Local worker processes for ``n_jobs`` fits of ``chains`` chains each on ``cpus`` cores:
    as many as run all their chains at once (``cpus // chains``), at least one, never more
    than the jobs.

    Examples
    --------
    >>> default_workers(24, 4, 16), default_workers(12, 4, 2), default_workers(2, 4, 16)
    (4, 1, 2)
    """
    return max(1, min(n_jobs, cpus // max(chains, 1)))


def dask_cores_per_job(client: Any, n_jobs: int) -> int:
    """Cores (nutpie's chain threads) for each of ``n_jobs`` fits on a Dask cluster: a worker
    runs as many tasks at once as it has threads, so a job gets its worker's threads shared by
    the jobs that worker runs at once (the narrowest worker counts); chains x concurrent jobs
    stay within the cluster's threads.

    Examples
    --------
    >>> class Cluster:  # 4 workers of 4 threads
    ...     def scheduler_info(self):
    ...         return {"workers": {i: {"nthreads": 4} for i in range(4)}}
    >>> [dask_cores_per_job(Cluster(), n) for n in (4, 8, 24)]
    [4, 2, 1]
    """
    threads = [int(w["nthreads"]) for w in client.scheduler_info()["workers"].values()]
    per_worker = -(-max(n_jobs, 1) // max(len(threads), 1))  # jobs one worker runs at once
    return max(1, min(threads, default=1) // per_worker)


def shared_models(payloads: Mapping[str, tuple]) -> dict[str, tuple[tuple, list[str]]]:
    """The compiled models that two or more of a batch's jobs fit with (nutpie jobs only): by
    model key (:func:`bayescale.sampling.model_key`), one job's ``(law_dict, runs)`` and the
    names of the jobs that use it.

    ``payloads`` maps job names to the batch's ``(law_dict, runs, settings, job)`` tuples. A
    model only one job uses is compiled by that job; warming it first would gain nothing.
    """
    from .laws import law_from_dict
    from .sampling import model_key

    found: dict[str, tuple[tuple, list[str]]] = {}
    for name, (law_dict, runs, settings, _) in payloads.items():
        if settings.get("sampler", "nutpie") != "nutpie":
            continue
        try:
            key = model_key(law_from_dict(law_dict), runs)
        except Exception:  # noqa: BLE001 (the job itself will report it)
            continue
        found.setdefault(key, ((law_dict, runs), []))[1].append(name)
    return {key: value for key, value in found.items() if len(value[1]) > 1}


def warm_model(law_dict: dict[str, Any], runs: Any) -> dict[str, Any]:
    """Compile the model of ``law_dict`` on ``runs`` on a worker, which writes it to the disk
    caches the other workers then read (and keeps it for this worker's own jobs). Never
    raises: an error comes back as ``{"error": ...}`` (the jobs compile for themselves)."""
    from .laws import law_from_dict
    from .sampling import compile_for
    from .threads import single_threaded_blas

    worker = f"{platform.node()}:{os.getpid()}"
    try:
        with single_threaded_blas():
            return {"compile_s": compile_for(law_from_dict(law_dict), runs), "worker": worker}
    except Exception as exc:  # noqa: BLE001 (a warm-up must not stop the batch)
        return {"error": f"{type(exc).__name__}: {exc}", "worker": worker}


def submit_warmed(
    payloads: Mapping[str, tuple], fit: Callable, submit: Callable, as_completed: Callable
) -> tuple[dict[Any, str], dict[str, Any]]:
    """Submit a batch's jobs so that each model several jobs share is compiled once: first
    one :func:`warm_model` task per shared model (:func:`shared_models`) and every job whose
    model no other job shares; each shared model's jobs as soon as its warm-up is done. Returns
    the jobs' futures (future -> job name) and what the warm-up did, for batch.json.

    Without it every worker that starts a job of a law compiles that law at the same moment
    (on 16 cores, 16 compiles at once took 13-28 s each, issue #19); with it one worker
    compiles and the others read the model from PyTensor's disk cache (numba code and
    bayescale's callbacks), while the free workers already fit the other jobs.
    """
    t0 = time.perf_counter()
    shared = shared_models(payloads)
    warm = {submit(warm_model, *args): key for key, (args, _) in shared.items()}
    held = {name for _, names in shared.values() for name in names}
    futures = {submit(fit, *payloads[n]): n for n in payloads if n not in held}
    results = []
    for future in as_completed(list(warm)):
        results.append(future.result())
        for name in shared[warm[future]][1]:
            futures[submit(fit, *payloads[name])] = name
    return futures, {
        "models": len(shared),
        "wall_s": time.perf_counter() - t0,
        "compile_s": sum(r.get("compile_s", 0.0) for r in results),
        "errors": [r["error"] for r in results if "error" in r],
    }
