"""Candidate runs for :func:`bayescale.design_runs`: a grid within a compute range, or a user's
table of runs with their costs (validated, errors naming the column and line).

Examples
--------
>>> read_candidates(pd.DataFrame({"N": [1e9, 2e9], "D": [2e10, 4e10]}))["C"].tolist()
[1.2e+20, 4.8e+20]
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from . import constants as K
from .exceptions import ConfigError, DataError
from .fit import Fit
from .predict import fit_k
from .summaries import positive_values

__all__ = ["candidate_grid", "read_candidates"]


def candidate_grid(
    fit: Fit,
    max_run_compute: float,
    *,
    min_run_compute: float | None = None,
    budgets: int = 5,
    per_budget: int = 9,
    tokens_per_param: tuple[float, float] = (2.0, 300.0),
    k: float | None = None,
) -> pd.DataFrame:
    """Candidate runs: ``budgets`` compute levels spaced evenly in log from ``min_run_compute``
    (default: 1/100 of the maximum) to ``max_run_compute``, ``per_budget`` model sizes on each,
    spanning ``tokens_per_param`` (D / N). Columns ``N``, ``D``, ``C``.

    Examples
    --------
    >>> grid = candidate_grid(fit, 1e21, budgets=3, per_budget=4)
    >>> len(grid), float(grid["C"].max())
    (12, 1e+21)
    """
    k = fit_k(fit, k)
    top = float(positive_values("max_run_compute", max_run_compute)[0])
    low = (
        top / 100.0
        if min_run_compute is None
        else float(positive_values("min_run_compute", min_run_compute)[0])
    )
    if low > top:
        raise ConfigError(f"min_run_compute {low:g} is above max_run_compute {top:g}")
    lo_r, hi_r = (float(x) for x in positive_values("tokens_per_param", tokens_per_param))
    rows = []
    for c in np.geomspace(low, top, budgets) if budgets > 1 else [top]:
        for r in np.geomspace(lo_r, hi_r, per_budget):
            n = np.sqrt(c / (k * r))  # C = k N D and D = r N
            rows.append({K.N: n, K.D: r * n, K.C: c})
    return pd.DataFrame(rows)


def read_candidates(
    source: str | os.PathLike | pd.DataFrame, k: float = K.FLOPS_PER_PARAM_TOKEN
) -> pd.DataFrame:
    """Candidate runs from a CSV file (or DataFrame) with columns ``N`` and ``D`` and optionally
    ``C``, each run's cost in FLOPs (default ``k N D``).

    Raises
    ------
    DataError
        A missing ``N`` or ``D`` column, or a value that is not a positive number (naming the
        column and the CSV line).
    """
    if isinstance(source, pd.DataFrame):
        frame, where = source.reset_index(drop=True), "row"
    else:
        try:
            frame = pd.read_csv(source)
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise DataError(f"cannot read candidates {str(source)!r}: {exc}") from None
        where = "CSV line"
    missing = [c for c in (K.N, K.D) if c not in frame.columns]
    if missing:
        raise DataError(
            f"candidates need columns N and D (C optional: the run's FLOPs); missing "
            f"{', '.join(missing)} among {list(frame.columns)}"
        )
    if frame.empty:
        raise DataError("the candidates table has no rows")
    out = pd.DataFrame()
    for col in (K.N, K.D, K.C):
        if col not in frame.columns:
            continue
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
        bad = np.flatnonzero(~np.isfinite(values) | (values <= 0))
        if bad.size:
            line = int(bad[0]) + (2 if where == "CSV line" else 0)
            raise DataError(
                f"candidates column {col!r} must hold positive numbers; {where} {line} has "
                f"{frame[col].iloc[bad[0]]!r}"
            )
        out[col] = values
    if K.C not in out.columns:
        out[K.C] = k * out[K.N] * out[K.D]
    return out
