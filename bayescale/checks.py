"""Small argument checks shared by several modules (foundation floor: imports only exceptions).

Examples
--------
>>> check_interval(0.9)
0.9
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .exceptions import ConfigError

__all__ = ["check_finite", "check_interval"]


def check_interval(interval: Any) -> float:
    """``interval`` as a float in (0, 1), or a :class:`ConfigError` naming the value."""
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0 < interval < 1:
        raise ConfigError(f"interval must be a number in (0, 1), got {interval!r}")
    return float(interval)


def check_finite(name: str, value: Any) -> float | None:
    """``value`` as a finite float (``None`` stays ``None``), or a :class:`ConfigError`
    naming ``name`` and the value.

    Examples
    --------
    >>> check_finite("target_score", "0.6")
    0.6
    """
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(x):
        raise ConfigError(f"{name} must be finite, got {x}")
    return x
