"""Loading and validating training runs.

A *runs table* is a :class:`pandas.DataFrame` with one row per training run and the columns
``N`` (parameters), ``D`` (training tokens), ``C`` (training FLOPs) and ``loss``, plus an optional
``group`` column and any extra columns a law needs (for example ``unique_tokens``).
:func:`load_runs` is the one gate every runs table passes through: it fills in ``C`` or ``D``,
and raises a :class:`~bayescale.exceptions.DataError` naming the column and row of any bad value.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import constants as K
from .columns import LOSS_UNITS, column_hint, loss_in_nats
from .curves import check_curves
from .exceptions import DataError, DataWarning

__all__ = [
    "load_runs",
    "drop_top_loss",
    "runs_sha256",
    "file_sha256",
    "column_hint",
]

_MAX_ROWS_NAMED = 8


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def runs_sha256(runs: pd.DataFrame) -> str:
    """SHA-256 of a runs table's canonical CSV form (independent of where it came from)."""
    buf = io.StringIO()
    runs.to_csv(buf, index=False, float_format="%.17g")
    return hashlib.sha256(buf.getvalue().encode()).hexdigest()


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"runs file not found: {path}")
    if path.is_dir():
        raise DataError(f"runs file is a directory, not a CSV file: {path}")
    if path.stat().st_size == 0:
        raise DataError(f"runs file is empty: {path}")
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise DataError(f"cannot read runs file {path}: {exc.strerror}") from None
    if b"\x00" in head:
        raise DataError(f"runs file is not a CSV text file (binary content): {path}")
    _check_unique_header(path)
    try:
        frame = pd.read_csv(path)
    except UnicodeDecodeError:
        raise DataError(f"runs file is not a UTF-8 CSV text file: {path}") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"runs file is empty (no header, no rows): {path}") from None
    except pd.errors.ParserError as exc:
        msg = str(exc).strip().splitlines()[-1]
        raise DataError(f"runs file is not valid CSV: {path}: {msg}") from None
    return frame


def _duplicated(names) -> list[str]:
    seen: set[str] = set()
    dups: list[str] = []
    for name in map(str, names):
        if name in seen and name not in dups:
            dups.append(name)
        seen.add(name)
    return dups


def _check_unique_header(path: Path) -> None:
    """Refuse a header that names a column twice (pandas would rename the second to ``N.1``)."""
    import csv

    try:
        with open(path, encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh), [])
    except (UnicodeDecodeError, csv.Error):
        return  # read_csv reports these with its own message
    dups = _duplicated(header)
    if dups:
        raise DataError(
            f"runs file {path} names column(s) {', '.join(map(repr, dups))} more than once in its "
            "header; keep one of each"
        )


class _Rows:
    """Names rows the way the user sees them: CSV line numbers for files, labels for frames."""

    def __init__(self, frame: pd.DataFrame, from_file: bool):
        self.labels = list(frame.index)
        self.from_file = from_file

    def name(self, positions: np.ndarray) -> str:
        positions = np.asarray(positions)
        if self.from_file:
            shown = [str(int(p) + 2) for p in positions[:_MAX_ROWS_NAMED]]  # header is line 1
            what = "CSV line" if len(positions) == 1 else "CSV lines"
        else:
            shown = [repr(self.labels[int(p)]) for p in positions[:_MAX_ROWS_NAMED]]
            what = "row" if len(positions) == 1 else "rows"
        more = (
            f" and {len(positions) - _MAX_ROWS_NAMED} more"
            if len(positions) > _MAX_ROWS_NAMED
            else ""
        )
        return f"{what} {', '.join(shown)}{more}"


def _numeric(frame: pd.DataFrame, col: str, rows: _Rows, positive: bool = True) -> np.ndarray:
    raw = frame[col]
    values = pd.to_numeric(raw, errors="coerce")
    bad = np.flatnonzero(values.isna().to_numpy() & raw.notna().to_numpy())
    if bad.size:
        example = raw.iloc[bad[0]]
        raise DataError(f"column '{col}' has non-numeric value {example!r} at {rows.name(bad)}")
    arr = values.to_numpy(dtype=float)
    missing = np.flatnonzero(np.isnan(arr))
    if missing.size:
        raise DataError(f"column '{col}' has missing values (NaN) at {rows.name(missing)}")
    inf = np.flatnonzero(~np.isfinite(arr))
    if inf.size:
        raise DataError(f"column '{col}' has non-finite value {arr[inf[0]]} at {rows.name(inf)}")
    nonpos = np.flatnonzero(arr <= 0) if positive else np.array([], dtype=int)
    if nonpos.size:
        raise DataError(
            f"column '{col}' must be positive, got {arr[nonpos[0]]:g} at {rows.name(nonpos)}"
        )
    return arr


def load_runs(
    source: str | os.PathLike | pd.DataFrame,
    columns: Mapping[str, str] | None = None,
    *,
    flops_per_param_token: float | None = None,
    loss_unit: str | None = None,
    min_runs: int = 1,
    target: str = K.LOSS,
    positive_target: bool = True,
    require: tuple[str, ...] = (),
    numeric: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Read and validate a table of training runs.

    Parameters
    ----------
    source
        Path of a CSV file, or a DataFrame.
    columns
        Maps bayescale's column names to the source's, e.g. ``{"N": "params", "loss": "val_loss"}``.
    flops_per_param_token
        ``k`` in ``C = k * N * D``, used to fill a missing ``C`` or ``D`` column (default: the
        value a loaded table records in ``attrs``, else 6). Recorded in ``attrs`` and, through
        the fit, in ``fit.json``; predictions use the fit's ``k``.
    loss_unit
        ``"nats"`` (default) or ``"bits"``: losses in bits (per token or byte) are converted to
        nats (times ln 2) and the conversion is recorded. A loss column whose name mentions bits
        (``bit``, ``bpb``, ``bpc``) without ``loss_unit`` gets a warning, and so do losses above
        20, which look like perplexities or percentages rather than cross-entropy.
    min_runs
        Fewest runs accepted (a law passes its number of free parameters).
    target
        Name of the measured column: ``"loss"`` (default) or, for laws of rising metrics,
        ``"score"``.
    positive_target
        Require the target to be positive (losses); scores may be zero or negative.
    require
        Further columns that must be present, numeric and positive (e.g. ``unique_tokens``).
    numeric
        Further columns that must be present and numeric, of any sign (the ``score`` beside
        the task loss of a downstream chain, :func:`bayescale.fit_chain`).

    Returns
    -------
    pandas.DataFrame
        Columns ``N``, ``D``, ``C`` and ``target`` as float, ``group`` as string when present,
        then any other source columns unchanged; a fresh 0..n-1 index. ``attrs`` holds
        ``source`` and, for files, ``sha256``; ``flops_per_param_token``; ``derived`` (which of
        D and C was computed from the other, if any); ``loss_unit`` and ``converted_from``.

    Raises
    ------
    DataError
        Naming the column and row(s) of a missing column, non-numeric, NaN, infinite or
        non-positive value, and for empty, non-CSV or too-short input.

    Warns
    -----
    DataWarning
        For duplicated runs and for ``C`` far from ``k * N * D``.

    Examples
    --------
    >>> import pandas as pd
    >>> runs = load_runs(pd.DataFrame({"N": [1e8, 4e8], "D": [2e9, 8e9], "loss": [3.1, 2.8]}))
    >>> runs["C"].tolist()
    [1.2e+18, 1.92e+19]
    """
    frame, attrs, from_file = _read_source(source)
    k = attrs.get("flops_per_param_token", K.FLOPS_PER_PARAM_TOKEN)
    k = float(k if flops_per_param_token is None else flops_per_param_token)
    if not np.isfinite(k) or k <= 0:
        raise DataError(f"flops_per_param_token must be positive, got {flops_per_param_token}")
    if loss_unit not in (None, *LOSS_UNITS):
        raise DataError(f"loss_unit must be one of {LOSS_UNITS}, got {loss_unit!r}")
    where = f" in {attrs['source']}" if from_file else ""
    target_source = str((columns or {}).get(target, target))
    frame = _rename_columns(frame, columns, target, where, (*require, *numeric))
    _check_columns_present(frame, target, where)
    rows = _Rows(frame, from_file)

    n = _numeric(frame, K.N, rows)
    y = _numeric(frame, target, rows, positive=positive_target)
    extra = {}
    for col in (*require, *numeric):
        if col not in frame.columns:
            found = list(map(str, frame.columns))
            source = column_hint(col, found)
            hint = f"; did you mean --column {col}={source}?" if source else ""
            raise DataError(f"missing column '{col}'{where}; found: {found[:12]}{hint}")
        extra[col] = _numeric(frame, col, rows, positive=col not in numeric)
    d, c = _tokens_and_compute(frame, n, rows, k)
    if K.D not in frame.columns:
        attrs["derived"] = f"D = C / ({k:g} N): the file gives C, not D"
    elif K.C not in frame.columns:
        attrs["derived"] = f"C = {k:g} N D"
    attrs["flops_per_param_token"] = k
    if target == K.LOSS:
        y = loss_in_nats(y, loss_unit, target_source, attrs, where)

    out = pd.DataFrame({K.N: n, K.D: d, K.C: c, target: y, **extra})
    if K.GROUP in frame.columns:
        groups = frame[K.GROUP]
        gmiss = np.flatnonzero(groups.isna().to_numpy())
        if gmiss.size:
            raise DataError(f"column 'group' has missing values at {rows.name(gmiss)}")
        out[K.GROUP] = groups.astype(str).to_numpy()
    if K.RUN_ID in frame.columns:
        _curve_columns(frame, out, rows)
    for col in frame.columns:
        if col not in out.columns:
            out[col] = frame[col].to_numpy()

    if len(out) < min_runs:
        raise DataError(
            f"runs table{where} has {len(out)} run(s); at least {min_runs} are needed "
            "(more runs than the law's free parameters)"
        )
    _warn_duplicated_runs(out, rows)
    out.attrs.update(attrs)
    return out


def _read_source(source: Any) -> tuple[pd.DataFrame, dict[str, str], bool]:
    """The raw table, its ``attrs`` (source, and a file's sha256), and whether it is a file."""
    if isinstance(source, pd.DataFrame):
        attrs = {"source": "<DataFrame>", **source.attrs}
        frame, from_file = source.copy(), False
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        frame, from_file = _read_csv(path), True
        attrs = {"source": str(path), "sha256": file_sha256(path)}
    else:
        raise DataError(f"runs must be a CSV path or a DataFrame, got {type(source).__name__}")
    dups = _duplicated(frame.columns)
    if dups:
        raise DataError(f"runs table names column(s) {', '.join(map(repr, dups))} more than once")
    return frame, attrs, from_file


def _rename_columns(
    frame: pd.DataFrame,
    columns: Mapping[str, str] | None,
    target: str,
    where: str,
    require: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Apply ``columns=`` (bayescale name -> source name); a clashing source column goes."""
    if not columns:
        return frame
    known = (K.N, K.D, K.C, target, K.GROUP, K.RUN_ID, K.LR, K.RUN_TOKENS, *require)
    unknown = [k for k in columns if k not in known]
    if unknown:
        raise DataError(
            f"columns= maps unknown name(s) {unknown}; known: {', '.join(dict.fromkeys(known))}"
        )
    missing_src = [v for v in columns.values() if v not in frame.columns]
    if missing_src:
        raise DataError(
            f"column(s) {missing_src} named in columns= not found{where}; "
            f"found: {list(map(str, frame.columns))[:12]}"
        )
    sources = list(columns.values())
    twice = _duplicated(sources)
    if twice:
        raise DataError(f"columns= maps column(s) {twice} to more than one name")
    clash = [k for k, v in columns.items() if k in frame.columns and k != v and k not in sources]
    return frame.drop(columns=clash).rename(columns={v: k for k, v in columns.items()})


def _check_columns_present(frame: pd.DataFrame, target: str, where: str) -> None:
    missing = [c for c in (K.N, target) if c not in frame.columns]
    if K.D not in frame.columns and K.C not in frame.columns:
        missing.append("D (or C)")
    if missing:
        found = list(map(str, frame.columns))
        known = {K.N, K.D, K.C, target, K.GROUP}
        hints = {}
        for m in missing:
            for name in (K.D, K.C) if m == "D (or C)" else (m,):
                source = column_hint(name, found)
                if source is not None and source not in known and source not in hints.values():
                    hints[name] = source
                    break
        if hints:
            maps = ", ".join(f"{k!r}: {v!r}" for k, v in hints.items())
            flags = " ".join(f"--column {k}={v}" for k, v in hints.items())
            hint = f"; did you mean columns={{{maps}}} (CLI: {flags})?"
        elif not known & set(found):
            hint = " (is this a CSV of runs?)"
        else:
            hint = ""
        raise DataError(
            f"missing column(s) {', '.join(repr(m) for m in missing)}{where}; "
            f"found: {found[:12]}{hint}"
        )
    if len(frame) == 0:
        raise DataError(f"runs table{where} has a header but no rows")


def _tokens_and_compute(
    frame: pd.DataFrame, n: np.ndarray, rows: _Rows, k: float
) -> tuple[np.ndarray, np.ndarray]:
    """``D`` and ``C``, the missing one from ``C = k N D``; a warning where both are given and
    disagree."""
    has_d, has_c = K.D in frame.columns, K.C in frame.columns
    d = _numeric(frame, K.D, rows) if has_d else None
    c = _numeric(frame, K.C, rows) if has_c else None
    if d is None:
        return c / (k * n), c
    if c is None:
        return d, k * n * d
    rel = np.abs(c / (k * n * d) - 1.0)
    off = np.flatnonzero(rel > K.COMPUTE_MISMATCH_TOL)
    if off.size:
        worst = int(off[np.argmax(rel[off])])
        warnings.warn(
            f"C differs from {k:g}*N*D by more than {K.COMPUTE_MISMATCH_TOL:.0%} at "
            f"{rows.name(off)} (worst: {rel[worst]:.0%} at {rows.name(np.array([worst]))}); "
            "C is used as given for compute, N and D for the law",
            DataWarning,
            stacklevel=4,
        )
    return d, c


def _curve_columns(frame: pd.DataFrame, out: pd.DataFrame, rows: _Rows) -> None:
    """Training curves: the run of each checkpoint, its learning rate, the run's planned total
    (:mod:`bayescale.curves` checks them)."""
    names = frame[K.RUN_ID]
    missing = np.flatnonzero(names.isna().to_numpy())
    if missing.size:
        raise DataError(f"column 'run' has missing values at {rows.name(missing)}")
    out[K.RUN_ID] = names.astype(str).to_numpy()
    tokens = _numeric(frame, K.RUN_TOKENS, rows) if K.RUN_TOKENS in frame.columns else None
    out[K.RUN_TOKENS] = check_curves(
        out[K.RUN_ID].to_numpy(), out[K.N].to_numpy(), out[K.D].to_numpy(), tokens, rows.name
    )
    if K.LR in frame.columns:
        lr = _numeric(frame, K.LR, rows, positive=False)
        negative = np.flatnonzero(lr < 0)
        if negative.size:
            raise DataError(
                f"column 'lr' must be non-negative, got {lr[negative[0]]:g} at "
                f"{rows.name(negative)}"
            )
        out[K.LR] = lr


def _warn_duplicated_runs(out: pd.DataFrame, rows: _Rows) -> None:
    key_cols = [K.N, K.D] + [c for c in (K.GROUP, K.RUN_ID) if c in out.columns]
    dup = np.flatnonzero(out.duplicated(subset=key_cols, keep=False).to_numpy())
    if dup.size:
        warnings.warn(
            f"duplicated runs (same N and D) at {rows.name(dup)}; each is kept as a separate "
            "observation (repeated seeds), drop them first if they are copies",
            DataWarning,
            stacklevel=3,
        )


def drop_top_loss(runs: pd.DataFrame, k: int, target: str = K.LOSS) -> pd.DataFrame:
    """Return ``runs`` without its ``k`` highest-loss rows (the replication's outlier rule).

    Examples
    --------
    >>> import pandas as pd
    >>> runs = pd.DataFrame({"N": [1, 2, 3], "D": [1, 2, 3], "loss": [3.0, 5.0, 4.0]})
    >>> drop_top_loss(runs, 1)["loss"].tolist()
    [3.0, 4.0]
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise DataError(f"exclude_top_loss must be a non-negative integer, got {k!r}")
    if k >= len(runs):
        raise DataError(f"cannot exclude {k} highest-loss runs from a table of {len(runs)}")
    if k == 0:
        return runs
    keep = runs.drop(index=runs[target].nlargest(k).index).reset_index(drop=True)
    keep.attrs.update(runs.attrs)
    return keep
