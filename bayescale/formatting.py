"""Human-readable numbers: SI suffixes (70B, 1.4T) and intervals with sensible precision."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["si", "fmt_number", "fmt_interval", "interval_digits", "formula_tex", "quantity"]

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


def interval_digits(median: float, lower: float, upper: float) -> int:
    """Significant figures that resolve an interval: two digits of its width, at least 3.

    Examples
    --------
    >>> interval_digits(1.976, 1.951, 2.001)
    4
    >>> interval_digits(70e9, 61e9, 85e9)
    3
    >>> interval_digits(1.8123, 1.8101, 1.8145)
    5
    """
    values = [abs(v) for v in (median, lower, upper) if v is not None and math.isfinite(v)]
    width = upper - lower if math.isfinite(upper - lower) else 0.0
    if not values or width <= 0:
        return 4
    lead = math.floor(math.log10(max(values))) if max(values) > 0 else 0
    return int(min(8, max(3, lead - math.floor(math.log10(width)) + 2)))


#: Numbers in this range are written as plain decimals; others in scientific notation.
_PLAIN = (1e-4, 1e6)


def _decimals(scale: float, digits: int) -> int | None:
    """Decimal places that give ``digits`` significant figures at magnitude ``scale`` (None:
    outside the plain range, write it in scientific notation)."""
    if scale == 0:
        return max(digits - 1, 0)
    if not _PLAIN[0] <= scale < _PLAIN[1]:
        return None
    return max(0, digits - 1 - math.floor(math.log10(scale)))


def fmt_number(x: float, digits: int = 4, kind: str = "number", decimals: int | None = None) -> str:
    """One number as every table, the CLI, the display and the report write it.

    ``kind``: ``"number"`` (plain decimals between 1e-4 and 1e6, else scientific), ``"count"``
    (SI suffixes: 70B), ``"flops"`` (scientific: 5.88e23), ``"prob"`` (three decimals).
    ``decimals`` fixes the decimal places of a plain number (shared by an interval's ends).

    Examples
    --------
    >>> fmt_number(1260, 3), fmt_number(2.37, 4), fmt_number(3.2e-7, 3), fmt_number(5.88e23, 3)
    ('1260', '2.370', '3.20e-07', '5.88e+23')
    >>> fmt_number(7e10, 3, "count"), fmt_number(5.88e23, 3, "flops"), fmt_number(0.25, kind="prob")
    ('70B', '5.88e23', '0.250')
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    x = float(x)
    if not math.isfinite(x):
        return "inf" if x > 0 else "-inf"
    if kind == "count":
        return si(x, digits)
    if kind == "flops":
        return f"{x:.{max(digits - 1, 2)}e}".replace("e+", "e")
    if kind == "prob":
        return f"{x:.3f}"
    places = decimals if decimals is not None else _decimals(abs(x), digits)
    if places is None:
        return f"{x:.{max(digits - 1, 0)}e}"
    return f"{x:.{places}f}"


def fmt_interval(
    median: float, lower: float, upper: float, counts: bool = False, kind: str | None = None
) -> str:
    """``median [lower, upper]`` with significant figures set by the interval's width
    (:func:`interval_digits`) and, for plain numbers, the same decimal places on all three.

    Examples
    --------
    >>> fmt_interval(70.1e9, 61e9, 85.2e9, counts=True)
    '70.1B [61B, 85.2B]'
    >>> fmt_interval(2.506, 2.37, 2.591), fmt_interval(1260.0, 871.0, 1880.0)
    ('2.51 [2.37, 2.59]', '1260 [871, 1880]')
    >>> fmt_interval(1.954, 1.943, 1.966), fmt_interval(0.3392, 0.32, 0.36)
    ('1.954 [1.943, 1.966]', '0.339 [0.320, 0.360]')
    """
    kind = kind or ("count" if counts else "number")
    digits = interval_digits(median, lower, upper)
    decimals = None
    if kind == "number":
        ends = [abs(v) for v in (median, lower, upper) if v is not None and math.isfinite(v)]
        decimals = _decimals(max(ends), digits) if ends else None
    f = [fmt_number(v, digits, kind, decimals) for v in (median, lower, upper)]
    return f"{f[0]} [{f[1]}, {f[2]}]"


_GREEK = ("alpha", "beta", "gamma", "delta", "sigma", "tau", "nu")
_FUNCS = ("log", "exp")


def _exponent(text: str, i: int) -> tuple[str, int]:
    """The exponent starting at ``text[i]`` (after ``^``) and the index after it."""
    if text[i] == "(":
        depth, j = 0, i
        while j < len(text):
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            if depth == 0:
                return text[i + 1 : j], j + 1
            j += 1
        return text[i + 1 :], len(text)
    j = i + (text[i] == "-")
    while j < len(text) and (text[j].isalnum() or text[j] in "_.\\"):
        j += 1
    return text[i:j], j


def formula_tex(formula: str) -> str:
    r"""A law's ASCII formula as matplotlib math text (Greek letters, raised exponents, upright
    words), without the enclosing ``$``.

    Examples
    --------
    >>> print(formula_tex("L(N, D) = E + A / N^alpha + B / D^beta"))
    L(N,\, D) = E + A / N^{\alpha} + B / D^{\beta}
    >>> print(formula_tex("score(D) = ceiling - A / D^alpha"))
    \mathrm{score}(D) = \mathrm{ceiling} - A / D^{\alpha}
    """
    import re

    s = re.sub(r"\b1e(\d+)\b", r"10^{\1}", formula)
    s = re.sub(r"(?<![A-Za-z\\])(" + "|".join(_GREEK) + r")(?![A-Za-z])", r"\\\1", s)
    s = re.sub(r"(?<![A-Za-z\\])(" + "|".join(_FUNCS) + r")(?![A-Za-z])", r"\\\1", s)
    s = re.sub(r"(?<![A-Za-z\\_])([A-Za-z]{2,})(?![A-Za-z])", r"\\mathrm{\1}", s)
    out, i = [], 0
    while i < len(s):
        if s[i] == "^" and i + 1 < len(s) and s[i + 1] != "{":
            exp, i = _exponent(s, i + 1)
            out.append("^{" + exp + "}")
        else:
            out.append(s[i])
            i += 1
    s = "".join(out)
    s = re.sub(r"(?<![A-Za-z\\])([A-Z])0\b", r"\1_0", s)  # N0 -> N_0
    s = re.sub(r"\s+\*\s+", r" \\cdot ", s)
    # commas: a thin space inside brackets, a wide one between statements
    parts, depth = [], 0
    for ch in s:
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(ch, 0)
        parts.append(ch if ch != "," else ("," if depth else ",\\quad"))
    s = "".join(parts).replace(", ", ",\\, ")
    # a thin space where a space separated two terms (mathtext drops spaces)
    s = re.sub(r"(?<=[\w}\)'*])\s+(?=[\w\\(])", r"\\,", s)
    return s


def quantity(row: Any, name: str) -> dict[str, float | None]:
    """``{"median", "lower", "upper"}`` of ``name`` in a result row (inf becomes None)."""

    def clean(v: Any) -> float | None:
        v = float(v)
        return v if math.isfinite(v) else None

    return {s: clean(row[f"{name}_{s}"]) for s in ("median", "lower", "upper")}
