"""Small argument checks shared by several modules (foundation floor: imports only exceptions).

Examples
--------
>>> check_interval(0.9)
0.9
"""

from __future__ import annotations

from typing import Any

from .exceptions import ConfigError

__all__ = ["check_interval"]


def check_interval(interval: Any) -> float:
    """``interval`` as a float in (0, 1), or a :class:`ConfigError` naming the value."""
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0 < interval < 1:
        raise ConfigError(f"interval must be a number in (0, 1), got {interval!r}")
    return float(interval)
