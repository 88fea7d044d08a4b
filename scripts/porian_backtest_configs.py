"""Per-configuration backtest on Porian et al.'s IsoFLOP runs: the errors' sources.

Usage: python scripts/porian_backtest_configs.py [--draws 500] [--out FILE.md]

Each of the ten configurations is fitted on its own with the default Chinchilla model, its two
largest budgets held out. Per configuration: held-out runs, 90% coverage, the median absolute
relative error of the median prediction, the same for runs within a factor e of their budget's
best model size, and the mean signed error of the predicted log loss (negative: the larger runs
are worse than the small ones extrapolate).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bayescale as bs  # noqa: E402
from bayescale.backtest import backtest  # noqa: E402
from bayescale.io import atomic_write_text  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "porian_backtest_configs.md")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    porian = pd.read_csv(ROOT / "data" / "porian_isoflop.csv")
    rows = []
    for group, part in porian.groupby("group"):
        runs = bs.load_runs(part.reset_index(drop=True))
        cut = float(np.sort(runs["C"].unique())[-3])
        res = backtest(
            bs.ChinchillaLaw(),
            runs,
            holdout_compute_above=cut,
            seed=0,
            draws=args.draws,
            tune=args.draws,
        )
        held = pd.DataFrame(res["runs"])
        best = held.loc[held.groupby("C")["loss"].idxmin(), ["C", "N"]].set_index("C")["N"]
        near = np.abs(np.log(held["N"] / held["C"].map(best))) < 1
        signed = np.log(held["median"]) - np.log(held["loss"])
        rows.append(
            {
                "configuration": group.replace("|", "\\|"),
                "held-out runs": len(held),
                "coverage 90%": f"{held['covered'].mean():.2f}",
                "median abs. rel. error": f"{held['abs_rel_error'].median():.3f}",
                "same, near the optimum": f"{held.loc[near, 'abs_rel_error'].median():.3f}",
                "mean signed error (log)": f"{signed.mean():+.3f}",
            }
        )
    table = pd.DataFrame(rows)
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in table.itertuples(False)]
    text = "\n".join(lines) + "\n"
    atomic_write_text(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
