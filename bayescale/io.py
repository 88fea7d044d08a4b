"""Atomic output: a crash never leaves a half-written result.

Every file is written to a temporary name in the destination folder and moved into place with
:func:`os.replace`; a result directory is assembled in a hidden sibling folder first and only then
renamed into place (or, when it already exists, its files are replaced one by one). Files and
directories get the modes the user's umask gives (0644 / 0755 under umask 022), as ``open`` and
``mkdir`` would give them, not the private modes of :mod:`tempfile`.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_write_text",
    "atomic_write_file",
    "file_mode",
    "dir_mode",
    "write_result_dir",
    "to_jsonable",
    "versions",
]


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays and non-finite floats into strict JSON values."""
    import numpy as np

    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def dumps(obj: Any) -> str:
    """Strict JSON (no NaN), indented, with a trailing newline."""
    return json.dumps(to_jsonable(obj), indent=2, allow_nan=False) + "\n"


def _umask() -> int:
    """The process's umask (read without changing it for longer than one call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode a new file gets under the user's umask (0644 under umask 022)."""
    return 0o666 & ~_umask()


def dir_mode() -> int:
    """Mode a new directory gets under the user's umask (0755 under umask 022)."""
    return 0o777 & ~_umask()


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode())  # mkstemp makes 0600; a file is created as open() would
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_file(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Have ``write`` write a file at a temporary path beside ``path``, then move it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, file_mode())
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_result_dir(
    out: str | os.PathLike,
    writers: Mapping[str, Callable[[Path], None]],
    derived: tuple[str, ...] = (),
) -> Path:
    """Create or update directory ``out`` with files produced by ``writers``.

    Each writer receives a path inside a temporary folder beside ``out`` and writes one file
    there. Only when all have succeeded are the files moved into ``out``; on any error the
    temporary folder is removed and ``out`` is left as it was. When ``out`` is updated, the
    files or folders named in ``derived`` (made from the previous result, e.g. its report) go
    first, so that nothing there describes a result that is no longer there.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    os.chmod(tmp, dir_mode())  # mkdtemp makes 0700; the result is created as mkdir would
    try:
        for name, write in writers.items():
            write(tmp / name)
        if not out.exists():
            os.rename(tmp, out)
            return out
        for name in derived:
            old = out / name
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            else:
                old.unlink(missing_ok=True)
        for name in writers:
            os.replace(tmp / name, out / name)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def package_version() -> str:
    """bayescale's installed version ("0.0.0" when run from a source tree not installed)."""
    try:
        return metadata.version("bayescale")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "0.0.0"


def versions() -> dict[str, str]:
    """Versions of bayescale, its main dependencies and Python (for reproducibility blocks)."""
    out = {"python": platform.python_version()}
    for pkg in ("bayescale", "pymc", "pytensor", "arviz", "nutpie", "numpy", "pandas", "scipy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out
