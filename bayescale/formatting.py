"""Human-readable numbers: SI suffixes (70B, 1.4T) and intervals with sensible precision."""

from __future__ import annotations

import math

__all__ = ["si", "fmt_number", "fmt_interval"]

_SUFFIXES = ((1e15, "P"), (1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def si(x: float, digits: int = 3) -> str:
    """Format a count with an SI-style suffix (B for billions, as ML papers write it).

    Examples
    --------
    >>> si(70e9), si(1.4e12), si(5.88e23), si(950)
    ('70B', '1.4T', '5.88e+23', '950')
    """
    if x is None or not math.isfinite(x):
        return "inf" if x is not None and x > 0 else "–"
    ax = abs(x)
    if ax >= 1e18:
        return f"{x:.{digits}g}"
    for scale, suffix in _SUFFIXES:
        if ax >= scale:
            return f"{x / scale:.{digits}g}{suffix}"
    return f"{x:.{digits}g}"


def fmt_number(x: float, digits: int = 4) -> str:
    """Plain number with ``digits`` significant figures; ``inf`` for unreachable values."""
    if x is None or not math.isfinite(x):
        return "inf" if x is not None and x > 0 else "–"
    return f"{x:.{digits}g}"


def fmt_interval(median: float, lower: float, upper: float, counts: bool = False) -> str:
    """``median [lower, upper]``; ``counts=True`` uses SI suffixes.

    Examples
    --------
    >>> fmt_interval(70.1e9, 61e9, 85.2e9, counts=True)
    '70.1B [61B, 85.2B]'
    """
    f = si if counts else fmt_number
    return f"{f(median)} [{f(lower)}, {f(upper)}]"
