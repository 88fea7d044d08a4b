"""Compiling through PyTensor's disk cache of numba code, safe against damaged entries.

PyTensor keeps the numba machine code of each compiled operation under ``<compiledir>/numba``
(one entry per operation and graph: an index file and data files, keyed by PyTensor on the
operation and by numba on the Python and numba versions and the source), so a law compiles in
a new process in a fraction of the cold time. numba reads an entry with ``pickle`` and catches
only a missing file: one damaged file (a full disk, a process killed while writing, a copied
home directory) would stop every fit with an ``UnpicklingError``.

:func:`compile_tolerating_cache` runs a compile; where reading numba's cache raised, it removes
the files that failed (:func:`cache_failure` finds them in the error's traceback) and every
other unreadable index beside them, compiles again (the removed entries are written afresh) and
warns, naming the folder; after a few failures it compiles with PyTensor's cache off (the same
numbers, at the cost of a cold compile). A stale entry (another
version or another graph) is never read: numba's own key rejects it and PyTensor's key is the
graph's.
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .exceptions import BayescaleWarning

__all__ = ["CacheWarning", "cache_failure", "compile_tolerating_cache", "unreadable_entries"]

T = TypeVar("T")

_NUMBA_CACHING = os.path.join("numba", "core", "caching.py")


class CacheWarning(BayescaleWarning):
    """A damaged compile cache entry was removed and the model compiled without the cache."""


def cache_failure(err: BaseException) -> list[str] | None:
    """The numba cache files whose reading raised ``err``, or ``None`` when ``err`` was not
    raised while numba read its cache (found from the frames of its traceback: the index file
    of the entry read, and the data file when that was what failed).

    Examples
    --------
    >>> cache_failure(ValueError("not from a cache")) is None
    True
    """
    paths: list[str] = []
    hit = False
    tb = err.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_filename.endswith(_NUMBA_CACHING):
            hit = True
            local = frame.f_locals
            for candidate in (local.get("path"), getattr(local.get("self"), "_index_path", None)):
                if isinstance(candidate, str | os.PathLike):
                    paths.append(os.fspath(candidate))
        tb = tb.tb_next
    return sorted(set(paths)) if hit else None


def unreadable_entries(folder: str | os.PathLike) -> list[str]:
    """numba cache index files (``*.nbi``) in ``folder`` that do not unpickle as numba writes
    them (a version, then the source stamp and the overloads).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (Path(d) / "f.py311.nbi").write_bytes(b"not a pickle")
    ...     [Path(f).name for f in unreadable_entries(d)]
    ['f.py311.nbi']
    """
    bad = []
    for index in sorted(Path(folder).glob("*.nbi")):
        try:
            with open(index, "rb") as f:
                pickle.load(f)
                _stamp, _overloads = pickle.loads(f.read())
        except Exception:  # noqa: BLE001 (any failure to read is a damaged entry)
            bad.append(str(index))
    return bad


def compile_tolerating_cache(compile_fn: Callable[[], T], attempts: int = 4) -> T:
    """``compile_fn()``; where it fails reading numba's disk cache, the damaged files are
    removed and it runs again.

    The files removed are those whose reading failed (:func:`cache_failure`) and every other
    unreadable index in their folder (:func:`unreadable_entries`); the cache stays on, so the
    intact entries serve and the removed ones are written afresh. After ``attempts`` failures
    the model is compiled with PyTensor's numba cache off (the same numbers, a cold compile).
    A :class:`CacheWarning` says how many files were removed, and from which folder. Any other
    error propagates unchanged.
    """
    removed: list[str] = []
    why = ""
    for _ in range(attempts):
        try:
            result = compile_fn()
        except Exception as err:  # noqa: BLE001 (re-raised below unless it is the cache's)
            bad = cache_failure(err)
            if bad is None:
                raise
            why = f"{type(err).__name__}: {err}"
            folders = {os.path.dirname(path) for path in bad}
            for path in [*bad, *(f for d in folders for f in unreadable_entries(d))]:
                Path(path).unlink(missing_ok=True)
                removed.append(path)
            continue
        if removed:
            _warn(removed, why, "compiled again with the cache")
        return result
    import pytensor

    _warn(removed, why, "compiled without the cache this time")
    with pytensor.config.change_flags(numba__cache=False):
        return compile_fn()


def _warn(removed: list[str], why: str, what: str) -> None:
    files = sorted(set(removed))
    folder = os.path.dirname(files[0]) if files else "?"
    warnings.warn(
        f"bayescale: {len(files)} damaged compile cache file(s) in {folder} could not be read "
        f"({why}); removed them and {what} (the same results)",
        CacheWarning,
        stacklevel=3,
    )
