"""Backtest table: the default model against the bootstrap baseline on the same splits.

Usage: python scripts/backtest_table.py [--out docs/backtest_table.md] [--quick]

Splits: the shipped Chinchilla runs with the top 20% by compute held out; and the Porian et al.
IsoFLOP runs, each of the ten configurations fitted on its own, with its two largest budgets
held out (results pooled over configurations). Each row: held-out runs, 90% coverage and the
lowest coverage a calibrated 90% interval reaches 95% of the time at that many runs, mean
half-width of the 90% interval and median absolute error of the median on log loss (and their
ratio: a calibrated Normal gives 2.4, a Student-t(4) 2.9), median relative error.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binom

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bayescale as bs  # noqa: E402
from bayescale.backtest import backtest  # noqa: E402
from bayescale.datasets import load_chinchilla  # noqa: E402
from bayescale.io import atomic_write_text  # noqa: E402


def _collect(results: list[dict]) -> dict:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "backtest_table.md")
    parser.add_argument("--quick", action="store_true", help="Small draws (a smoke run).")
    args = parser.parse_args()
    sampling = dict(draws=300, tune=300, chains=2) if args.quick else {}
    n_boot = 20 if args.quick else 200
    warnings.simplefilter("ignore")
    porian = pd.read_csv(ROOT / "data" / "porian_isoflop.csv")
    splits = {
        "Chinchilla, top 20% held out": [(load_chinchilla(), dict(holdout_top_fraction=0.2))],
        "Porian, two largest budgets held out (10 configs)": [
            (
                bs.load_runs(g.reset_index(drop=True)),
                dict(holdout_compute_above=float(np.sort(g["C"].unique())[-3])),
            )
            for _, g in porian.groupby("group")
        ],
    }
    models = {
        "bayescale default (noise offopt, drift MLE)": lambda r, kw: backtest(
            bs.ChinchillaLaw(), r, seed=0, **kw, **sampling
        ),
        "noise constant, drift by moments (0.1 dev default)": lambda r, kw: backtest(
            bs.ChinchillaLaw(noise="constant"), r, seed=0, drift="moments", **kw, **sampling
        ),
        "noise offopt, drift by moments": lambda r, kw: backtest(
            bs.ChinchillaLaw(), r, seed=0, drift="moments", **kw, **sampling
        ),
        "default without drift": lambda r, kw: backtest(
            bs.ChinchillaLaw(), r, seed=0, drift=False, **kw, **sampling
        ),
        "bootstrap (Huber)": lambda r, kw: backtest(
            bs.ChinchillaLaw(), r, seed=0, method="bootstrap", n_boot=n_boot, **kw
        ),
    }
    rows = []
    for split, cases in splits.items():
        for name, run in models.items():
            results = [run(r, kw) for r, kw in cases]
            rows.append({"split": split, "method": name, **_collect(results)})
            print(rows[-1], file=sys.stderr)
    text = _markdown(pd.DataFrame(rows))
    atomic_write_text(args.out, text)
    print(text)


def _markdown(table: pd.DataFrame) -> str:
    def cell(v) -> str:
        if isinstance(v, str):
            return v
        if float(v).is_integer() and abs(v) >= 1:
            return f"{int(v)}"
        return f"{v:.3g}"

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(False)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
