"""How a batch divides the machine: worker processes, and cores (chain threads) per job.

nutpie samples a fit's chains on threads, and a batch runs fits side by side in worker
processes. Chains x concurrent fits beyond the cores only take turns on them, while each extra
worker compiles every law again; so a batch runs as many workers as fit their chains side by
side on the cores. Measured on 16 cores (24 jobs of 4 chains, issue #19): 1 worker 102 s, 4
workers 54 s, 8 and 16 workers 57 s.
"""

from __future__ import annotations

from typing import Any

__all__ = ["default_workers", "dask_cores_per_job"]


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
