"""Rich display in Jupyter: result tables and fits render as readable HTML.

Result tables stay tidy :class:`pandas.DataFrame` s (``loss_median``, ``loss_lower``, ...); the
:class:`ResultFrame` subclass only changes how they *look* in a notebook: each quantity becomes one
``median [lower, upper]`` cell with sensible significant figures, counts get SI suffixes (70B,
1.4T) and compute is written in FLOPs.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from .formatting import fmt_number, si

__all__ = ["ResultFrame", "interval_digits", "pretty_table", "fit_html"]

#: Columns (or quantity prefixes) that are counts: shown with SI suffixes.
COUNTS = ("N", "D", "N_opt", "D_opt", "N_factor", "D_factor", "unique_tokens")
#: Compute in FLOPs: scientific notation.
FLOPS = ("C", "compute", "compute_needed")
PROBS = (
    "prob_below_target",
    "prob_law_below",
    "prob_new_run_below",
    "prob_unreachable",
    "prob_gain_above_zero",
)


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


def _fmt(x: Any, kind: str, digits: int) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, (str, bool, np.bool_)):
        return str(x)
    x = float(x)
    if kind == "count":
        return si(x, digits)
    if kind == "flops":
        return "inf" if x == math.inf else f"{x:.{max(digits - 1, 2)}e}".replace("e+", "e")
    if kind == "prob":
        return f"{x:.3f}"
    if not math.isfinite(x):
        return fmt_number(x)
    return f"{x:#.{digits}g}".rstrip(".")


def _kind(name: str) -> str:
    if name in COUNTS:
        return "count"
    if name in FLOPS:
        return "flops"
    if name in PROBS:
        return "prob"
    return "number"


def pretty_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A display copy of a result table: each ``q_median/q_lower/q_upper`` triple becomes one
    ``q`` column of ``median [lower, upper]`` strings, with SI suffixes for counts.

    Examples
    --------
    >>> t = pd.DataFrame({"N": [7e10], "loss_median": [1.976], "loss_lower": [1.951],
    ...                   "loss_upper": [2.001]})
    >>> pretty_table(t).iloc[0].to_dict()
    {'N': '70B', 'loss': '1.976 [1.951, 2.001]'}
    """
    out: dict[str, list[str]] = {}
    done: set[str] = set()
    for col in frame.columns:
        if col in done:
            continue
        stem = col[: -len("_median")] if str(col).endswith("_median") else None
        if stem and f"{stem}_lower" in frame and f"{stem}_upper" in frame:
            kind = _kind(stem)
            cells = []
            for m, lo, hi in zip(
                frame[col], frame[f"{stem}_lower"], frame[f"{stem}_upper"], strict=True
            ):
                d = interval_digits(m, lo, hi)
                cells.append(f"{_fmt(m, kind, d)} [{_fmt(lo, kind, d)}, {_fmt(hi, kind, d)}]")
            out[stem] = cells
            done |= {col, f"{stem}_lower", f"{stem}_upper"}
        else:
            kind = _kind(str(col))
            if str(col).endswith("_factor") or col == "compute_factor":
                out[col] = [f"{float(v):.3g}×" if pd.notna(v) else "–" for v in frame[col]]
            else:
                out[col] = [_fmt(v, kind, 3) for v in frame[col]]
            done.add(col)
    return pd.DataFrame(out, index=frame.index)


class ResultFrame(pd.DataFrame):
    """A result table: a plain DataFrame that shows ``median [lower, upper]`` cells in Jupyter."""

    @property
    def _constructor(self):  # keep the subclass through pandas operations
        return ResultFrame

    def pretty(self) -> pd.DataFrame:
        """The display form (strings); see :func:`pretty_table`."""
        return pretty_table(self)

    def _repr_html_(self) -> str | None:
        try:
            shown = pretty_table(self)
        except Exception:  # never break display of a table a user has reshaped
            return super()._repr_html_()
        interval = self.attrs.get("interval")
        caption = f"<p>median [{interval:.0%} interval]</p>" if interval else ""
        return caption + shown.to_html(escape=True)


def fit_html(fit: Any) -> str:
    """HTML for a fit: headline, diagnostics (flagged), and the parameter table."""
    d = fit.diagnostics
    table = fit.summary()
    interval = table.attrs.get("interval", 0.9)
    bad_rhat, bad_ess = 1.01, 400
    rows = []
    for name, r in table.iterrows():
        digits = interval_digits(r["median"], r["lower"], r["upper"])
        flags = []
        if r["r_hat"] > bad_rhat:
            flags.append("R-hat")
        if min(r["ess_bulk"], r["ess_tail"]) < bad_ess:
            flags.append("ESS")
        cells = [
            escape(str(name)),
            f"{fmt_number(r['median'], digits)} [{fmt_number(r['lower'], digits)}, "
            f"{fmt_number(r['upper'], digits)}]",
            f"{r['r_hat']:.3f}",
            f"{r['ess_bulk']:.0f}",
            f"{r['ess_tail']:.0f}",
            "⚠ " + ", ".join(flags) if flags else "✓",
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(
        f"<th>{h}</th>"
        for h in ("param", f"median [{interval:.0%} interval]", "R-hat", "ESS bulk", "ESS tail", "")
    )
    status = "✓ diagnostics ok" if d.get("ok") else "⚠ do not trust this fit yet"
    if d.get("method", "mcmc") != "mcmc":
        status = f"{d['method']} point fit: no MCMC diagnostics"
    problems = "".join(f"<li>{escape(p)}</li>" for p in d.get("problems", []))
    s = fit.settings
    drift = "<br>" + escape(fit.drift_note).replace("tau", "τ").replace("sqrt(decade)", "√decade")
    if fit.drift is None:
        drift = f"<br><b>⚠</b> {drift[4:]}"
    return (
        f"<div><p><b>{escape(fit.law.name)}</b>: {escape(fit.law.formula)}<br>"
        f"{len(fit.runs)} runs; {s.get('chains')} chains × {s.get('draws')} draws, "
        f"seed {s.get('seed')}; max R-hat {d.get('max_rhat', float('nan')):.3f}, "
        f"min ESS bulk {d.get('min_ess_bulk', 0):.0f}, tail {d.get('min_ess_tail', 0):.0f}, "
        f"{d.get('divergences', 0)} divergences: "
        f"<b>{status}</b>{drift}</p>"
        + (f"<ul>{problems}</ul>" if problems else "")
        + f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )
