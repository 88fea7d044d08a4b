"""The demo job: fit the shipped Chinchilla runs and set the posterior beside the replication.

Two fits of the default (robust Student-t) Chinchilla law: on the replication's 240 runs (the 5
highest-loss runs excluded, as the replication did by hand) and on all 245 runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .datasets import chinchilla_reference, load_chinchilla
from .fit import Fit
from .io import atomic_write_text
from .laws import ChinchillaLaw

__all__ = ["run_demo", "comparison_table"]

PARAMS = ("E", "A", "B", "alpha", "beta", "a")


def comparison_table(fit_240: Fit, fit_245: Fit, reference: dict[str, Any]) -> pd.DataFrame:
    """Posterior medians and 95% intervals beside the replication's estimates and intervals."""
    rep = reference["replication"]
    s240, s245 = fit_240.summary(interval=0.95), fit_245.summary(interval=0.95)
    rows = []
    for p in PARAMS:
        ref = rep[p]
        lo, hi = ref.get("lower"), ref.get("upper")
        med = s240.loc[p, "median"]
        inside = bool(lo <= med <= hi) if lo is not None else None
        rows.append(
            {
                "param": p,
                "replication": ref["estimate"],
                "replication_lower": lo if lo is not None else np.nan,
                "replication_upper": hi if hi is not None else np.nan,
                "median_240": med,
                "lower_240": s240.loc[p, "lower"],
                "upper_240": s240.loc[p, "upper"],
                "median_inside_replication_ci": inside,
                "median_245": s245.loc[p, "median"],
                "lower_245": s245.loc[p, "lower"],
                "upper_245": s245.loc[p, "upper"],
            }
        )
    return pd.DataFrame(rows).set_index("param")


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "–"
    return f"{x:.4g}" if abs(x) < 100 else f"{x:.0f}"


def to_markdown(table: pd.DataFrame) -> str:
    """The comparison as a Markdown table (as quoted in the README)."""
    head = (
        "| param | replication (95% CI) | bayescale, 240 runs: median (95% CI) | inside? "
        "| bayescale, all 245 runs: median (95% CI) |\n|---|---|---|---|---|\n"
    )
    lines = []
    for p, r in table.iterrows():
        ci = (
            f" ({_fmt(r.replication_lower)}–{_fmt(r.replication_upper)})"
            if not np.isnan(r.replication_lower)
            else ""
        )
        inside = {True: "yes", False: "**no**"}.get(r.median_inside_replication_ci, "–")
        lines.append(
            f"| {p} | {_fmt(r.replication)}{ci} "
            f"| {_fmt(r.median_240)} ({_fmt(r.lower_240)}–{_fmt(r.upper_240)}) | {inside} "
            f"| {_fmt(r.median_245)} ({_fmt(r.lower_245)}–{_fmt(r.upper_245)}) |"
        )
    return head + "\n".join(lines) + "\n"


def run_demo(
    out: str | os.PathLike,
    *,
    draws: int | None = None,
    tune: int = 1000,
    chains: int = 4,
    seed: int = 2024,
    progress: bool = False,
    extra: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, Fit, Fit]:
    """Fit both variants, write ``out/{fit_240,fit_245}/``, ``comparison.csv`` and ``.md``."""
    out = Path(out)
    runs = load_chinchilla()
    law = ChinchillaLaw()
    kw = dict(draws=draws, tune=tune, chains=chains, seed=seed, progress=progress)
    fit_240 = law.fit(runs, exclude_top_loss=5, **kw)
    fit_245 = law.fit(runs, **kw)
    table = comparison_table(fit_240, fit_245, chinchilla_reference())
    fit_240.save(out / "fit_240", extra=extra)
    fit_245.save(out / "fit_245", extra=extra)
    atomic_write_text(out / "comparison.csv", table.to_csv())
    atomic_write_text(out / "comparison.md", to_markdown(table))
    return table, fit_240, fit_245
