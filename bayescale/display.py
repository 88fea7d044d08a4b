"""Rich display in Jupyter: result tables and fits render as readable HTML.

Result tables stay tidy :class:`pandas.DataFrame` s (``loss_median``, ``loss_lower``, ...); the
:class:`ResultFrame` subclass only changes how they *look* in a notebook: each quantity becomes one
``median [lower, upper]`` cell with sensible significant figures, counts get SI suffixes (70B,
1.4T) and compute is written in FLOPs.
"""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np
import pandas as pd

from .formatting import fmt_interval, fmt_number, interval_digits

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


def _fmt(x: Any, kind: str, digits: int) -> str:
    if isinstance(x, (str, bool, np.bool_)):
        return str(x)
    return fmt_number(x, digits, kind)


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
                cells.append(fmt_interval(m, lo, hi, kind=kind))
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
        flags = []
        if r["r_hat"] > bad_rhat:
            flags.append("R-hat")
        if min(r["ess_bulk"], r["ess_tail"]) < bad_ess:
            flags.append("ESS")
        cells = [
            escape(str(name)),
            fmt_interval(r["median"], r["lower"], r["upper"]),
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
