"""Every split of a runs table: the highest-loss runs set aside, the runs above a compute
cut-off (or the largest fraction, per group for pooled laws), or a selection of runs by a
column's values — what backtests, the drift's inner refit and ``exclude_top_loss`` hold out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import constants as K
from .data import drop_top_loss
from .exceptions import ConfigError, DataError

__all__ = ["split_top_loss", "split_by_compute", "split_by_mask"]


def split_top_loss(
    runs: pd.DataFrame, k: int, target: str = K.LOSS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(kept, excluded)``: :func:`drop_top_loss` and the ``k`` rows it dropped."""
    kept = drop_top_loss(runs, k, target=target)
    return kept, runs.loc[runs[target].nlargest(k).index]


def split_by_compute(
    runs: pd.DataFrame,
    *,
    holdout_compute_above: float | None = None,
    holdout_top_fraction: float | None = None,
    per_group: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame, float | None]:
    """Split runs into (train, test, cutoff): test = runs with C above the cut-off.

    ``per_group`` with ``holdout_top_fraction``: each group's own largest runs are held out
    (the cut-off returned is None: there is one per group)."""
    if (holdout_compute_above is None) == (holdout_top_fraction is None):
        raise ConfigError("give exactly one of holdout_compute_above and holdout_top_fraction")
    if per_group and holdout_top_fraction is not None and K.GROUP in runs:
        parts = [
            split_by_compute(g, holdout_top_fraction=holdout_top_fraction)
            for _, g in runs.groupby(K.GROUP, sort=False)
        ]
        train = pd.concat([p[0] for p in parts], ignore_index=True)
        held = pd.concat([p[1] for p in parts], ignore_index=True)
        train.attrs.update(runs.attrs)
        return train, held, None
    c = runs[K.C].to_numpy(float)
    if holdout_top_fraction is not None:
        if not 0 < holdout_top_fraction < 1:
            raise ConfigError(f"holdout_top_fraction must be in (0, 1), got {holdout_top_fraction}")
        n_test = max(1, int(round(holdout_top_fraction * len(runs))))
        cutoff = float(np.sort(c)[len(c) - n_test - 1])
    else:
        cutoff = float(holdout_compute_above)
        if not np.isfinite(cutoff) or cutoff <= 0:
            raise ConfigError(f"holdout_compute_above must be positive, got {cutoff}")
    test = c > cutoff
    if test.sum() == 0 or (~test).sum() == 0:
        raise DataError(f"the cut-off C = {cutoff:.3g} leaves no test runs or no training runs")
    train = runs[~test].reset_index(drop=True)
    held = runs[test].reset_index(drop=True)
    train.attrs.update(runs.attrs)
    return train, held, cutoff


def split_by_mask(runs: pd.DataFrame, holdout: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split runs into (train, test) by ``holdout``: a boolean mask over the rows, or
    ``"COLUMN=VALUE[,VALUE...]"`` selecting the test runs by a column's values (``"size=3B"``:
    a ladder's largest rung; numbers compare as numbers).

    Examples
    --------
    >>> runs = pd.DataFrame({"size": ["1B", "3B", "3B"], "xC": [1.0, 1.0, 10.0]})
    >>> [len(part) for part in split_by_mask(runs, "size=3B")]
    [1, 2]
    >>> [len(part) for part in split_by_mask(runs, "xC=10")]
    [2, 1]
    """
    mask = _selection(runs, holdout) if isinstance(holdout, str) else np.asarray(holdout)
    if mask.dtype != bool or mask.shape != (len(runs),):
        raise ConfigError(
            f"holdout must select runs: a boolean per run ({len(runs)}), got {mask.dtype} "
            f"of shape {mask.shape}"
        )
    if mask.all() or not mask.any():
        raise DataError(f"the holdout selects {int(mask.sum())} of {len(runs)} runs: none left")
    train = runs[~mask].reset_index(drop=True)
    held = runs[mask].reset_index(drop=True)
    train.attrs.update(runs.attrs)
    return train, held


def _selection(runs: pd.DataFrame, text: str) -> np.ndarray:
    """The rows whose ``COLUMN`` holds one of the values of ``"COLUMN=V1,V2"``."""
    name, sep, values = text.partition("=")
    name = name.strip()
    wanted = [v.strip() for v in values.split(",") if v.strip()]
    malformed = any(c in name for c in "<>! ") or values.startswith("=")  # "size == 3B"
    if not sep or not name or not wanted or malformed:
        raise ConfigError(f"holdout must read COLUMN=VALUE[,VALUE...], got {text!r}")
    if name not in runs.columns:
        raise ConfigError(
            f"holdout column {name!r} is not in the runs (columns: {', '.join(map(str, runs))})"
        )
    column = runs[name]
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        try:
            numbers = [float(v) for v in wanted]
        except ValueError:
            raise ConfigError(
                f"holdout column {name!r} holds numbers; got {', '.join(wanted)}"
            ) from None
        return column.isin(numbers).to_numpy()
    return column.astype(str).isin(wanted).to_numpy()
