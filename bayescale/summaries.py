"""Per-draw answers as tables: planned inputs checked and paired, draws summarised as a median
and a central interval (``<name>_median``, ``_lower``, ``_upper``), the result as a
:class:`~bayescale.display.ResultFrame` recording its interval.

Examples
--------
>>> table = {}
>>> add_interval(table, "loss", np.array([[1.0], [2.0], [3.0]]), 0.5)
>>> [float(table[k][0]) for k in ("loss_median", "loss_lower", "loss_upper")]
[2.0, 1.5, 2.5]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .exceptions import ConfigError

__all__ = ["add_interval", "paired", "positive_values", "quantiles", "result_frame"]

_HUGE = np.finfo(float).max


def positive_values(name: str, values: Any) -> np.ndarray:
    """``values`` as a flat float array, every one positive and finite, or a
    :class:`ConfigError` naming ``name`` and the first bad value."""
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be numeric, got {values!r}") from None
    if arr.size == 0:
        raise ConfigError(f"{name} is empty")
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        raise ConfigError(f"{name} must be positive and finite, got {arr[bad][0]:g}")
    return arr.ravel()


def paired(N: Any, D: Any) -> tuple[np.ndarray, np.ndarray]:
    """Planned model sizes and tokens, checked and broadcast to one length."""
    n, d = positive_values("N", N), positive_values("D", D)
    try:
        n, d = np.broadcast_arrays(n, d)
    except ValueError:
        raise ConfigError(f"N and D must have the same length, got {n.size} and {d.size}") from None
    return n.astype(float), d.astype(float)


def quantiles(x: np.ndarray, interval: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and central interval over axis 0; +inf (unreachable) draws stay +inf."""
    q = (1 - interval) / 2
    finite = np.where(np.isposinf(x), _HUGE, x)
    med, lo, hi = np.quantile(finite, [0.5, q, 1 - q], axis=0)
    back = [np.where(v >= _HUGE / 2, np.inf, v) for v in (med, lo, hi)]
    return back[0], back[1], back[2]


def add_interval(table: dict[str, Any], name: str, draws: np.ndarray, interval: float) -> None:
    """Add ``<name>_median``, ``<name>_lower``, ``<name>_upper`` of ``draws`` (draws first)."""
    table[f"{name}_median"], table[f"{name}_lower"], table[f"{name}_upper"] = quantiles(
        draws, interval
    )


def result_frame(table: dict[str, Any], interval: float) -> pd.DataFrame:
    """The table as a :class:`~bayescale.display.ResultFrame` with ``attrs["interval"]``."""
    from .display import ResultFrame

    out = ResultFrame(table)
    out.attrs["interval"] = interval
    return out
