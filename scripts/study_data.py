"""The data sets and splits shared by ``backtest_table.py`` and ``noise_study.py``, and the
table helpers (one definition of each split and each column)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binom

import bayescale as bs
from bayescale.datasets import load_chinchilla


def splits(root: Path) -> dict[str, dict]:
    """Key -> {"title", "law" (class or factory), "loo_runs" (tables to fit for PSIS-LOO),
    "cases" (list of (runs, backtest keyword arguments)), and "pooled" for the partially
    pooled split (a law with its own noise model: not in the noise study)}."""
    porian = pd.read_csv(root / "data" / "porian_isoflop.csv")
    configs = [g.reset_index(drop=True) for _, g in porian.groupby("group")]
    blations = pd.read_csv(root / "data" / "datablations.csv")
    ladder = pd.read_csv(root / "data" / "olmo_ladder.csv")
    target = pd.read_csv(root / "data" / "olmo_ladder_target.csv")
    paper = pd.concat(
        [ladder[ladder["paper_subset"] | (ladder["size"] == "3B")], target], ignore_index=True
    )
    return {
        "chinchilla": {
            "title": "Chinchilla, top 20% held out",
            "law": bs.ChinchillaLaw,
            "loo_runs": [load_chinchilla()],
            "cases": [(load_chinchilla(), dict(holdout_top_fraction=0.2))],
        },
        "porian": {
            "title": "Porian, two largest budgets held out (10 configs)",
            "law": bs.ChinchillaLaw,
            "loo_runs": [bs.load_runs(g) for g in configs],
            "cases": [
                (bs.load_runs(g), dict(holdout_compute_above=float(np.sort(g["C"].unique())[-3])))
                for g in configs
            ],
        },
        "porian_pooled": {
            "title": "Porian, two largest budgets held out, partially pooled across the 10",
            "law": partial(bs.ChinchillaLaw, pooling="partial"),
            "loo_runs": [],
            "cases": [(bs.load_runs(porian), dict(holdout=_top_budgets(porian, 2)))],
            "pooled": True,
        },
        "datablations": {
            "title": "datablations (data-constrained law), top 20% held out",
            "law": bs.DataConstrainedLaw,
            "loo_runs": [blations],
            "cases": [(blations, dict(holdout_top_fraction=0.2))],
        },
        "olmo": {
            "title": "OLMo ladder: rungs to 3B",
            "law": bs.ChinchillaLaw,
            "loo_runs": [bs.load_runs(ladder)],
            "cases": [(bs.load_runs(ladder), dict(holdout="size=3B"))],
        },
        "olmo16": {
            "title": "OLMo ladder: paper's 16 rungs to 3B and 7B",
            "law": bs.ChinchillaLaw,
            "loo_runs": [],
            "cases": [(bs.load_runs(paper), dict(holdout="size=3B,7B"))],
        },
    }


def _top_budgets(runs: pd.DataFrame, k: int) -> np.ndarray:
    """A boolean per run: its compute is one of its group's ``k`` largest budgets."""
    cut = runs.groupby("group")["C"].transform(lambda c: np.sort(c.unique())[-k - 1])
    return (runs["C"] > cut).to_numpy()


def collect(results: list[dict]) -> dict:
    """One table row from backtest results (their held-out runs pooled)."""
    runs = pd.DataFrame([r for res in results for r in res["runs"]])
    y = np.log(runs["loss"])
    err = np.abs(np.log(runs["median"]) - y)
    half = (np.log(runs["upper"]) - np.log(runs["lower"])) / 2
    n = len(runs)
    return {
        "held-out runs": n,
        "max compute factor": runs["compute_factor"].max(),
        "coverage 90%": runs["covered"].mean(),
        "calibrated floor": binom.ppf(0.05, n, 0.9) / n,
        "mean half-width (log)": half.mean(),
        "median abs. error (log)": err.median(),
        "half-width / median error": half.mean() / err.median(),
        "median abs. rel. error": runs["abs_rel_error"].median(),
    }


def markdown(table: pd.DataFrame) -> str:
    def cell(v) -> str:
        if isinstance(v, str):
            return v
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        if float(v).is_integer() and abs(v) >= 1:
            return f"{int(v)}"
        return f"{v:.3g}"

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(False)]
    return "\n".join(lines) + "\n"
