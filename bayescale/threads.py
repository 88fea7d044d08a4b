"""BLAS threads off for bayescale's work.

bayescale's arrays are tiny (hundreds of runs, a handful of parameters): BLAS threading brings
nothing, and OpenBLAS's idle worker threads spin on every core. Two processes doing such work
side by side (a batch with two workers, a notebook beside the test suite) then slow each other
down badly: two concurrent Huber fits took 117 s each instead of 7 s on a 2-core machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["single_threaded_blas", "SINGLE_THREAD_ENV"]

#: Environment for child processes: set before they import NumPy.
SINGLE_THREAD_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS / OpenMP thread pools of this process to one thread inside the block."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@contextmanager
def child_env() -> Iterator[None]:
    """Processes started inside the block inherit :data:`SINGLE_THREAD_ENV`."""
    old = {k: os.environ.get(k) for k in SINGLE_THREAD_ENV}
    os.environ.update({k: old[k] or v for k, v in SINGLE_THREAD_ENV.items()})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
