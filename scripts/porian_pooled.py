"""Partially pooled fit on Porian et al.'s IsoFLOP runs, per-configuration table.

Usage: python scripts/porian_pooled.py [--law isoflop|chinchilla] [--draws 2000] [--tune 1500]
       [--target-accept 0.99] [--seed 1] [--out DIR]

Prints, per training configuration (group), the posterior median and 90% interval of the
allocation exponent a of N* ~ C^a (the IsoFLOP law's own parameter; beta / (alpha + beta) for
Chinchilla's law) beside the published exponent (data/porian_published_fits.csv), data set by
data set, whether the highest and lowest published exponents are ranked highest and lowest, and
the fit's diagnostics.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import pandas as pd

import bayescale as bs
from bayescale.datasets import data_dir
from bayescale.laws import make_law


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--law", choices=["isoflop", "chinchilla"], default="isoflop")
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--tune", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--target-accept", type=float, default=0.99)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    runs = pd.read_csv(data_dir() / "porian_isoflop.csv")
    published = pd.read_csv(data_dir() / "porian_published_fits.csv").set_index("group")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.DataWarning)
        fit = make_law(args.law, pooling="partial").fit(
            runs,
            seed=args.seed,
            draws=args.draws,
            tune=args.tune,
            target_accept=args.target_accept,
        )
    a = fit.posterior["a"]
    table = pd.DataFrame(
        {
            "dataset": [g.split("|")[0] for g in a["group"].values],
            "a_median": a.median(("chain", "draw")).to_series(),
            "a_lower": a.quantile(0.05, ("chain", "draw")).to_series(),
            "a_upper": a.quantile(0.95, ("chain", "draw")).to_series(),
        }
    )
    table["published_a"] = published["n_exponent"].reindex(table.index)
    table = table.sort_values(["dataset", "published_a"])
    print(f"{args.law} law, partial pooling; a: posterior median [90% interval]")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    for ds, part in table.groupby("dataset"):
        top = part["published_a"].idxmax() == part["a_median"].idxmax()
        low = part["published_a"].idxmin() == part["a_median"].idxmin()
        print(f"{ds}: highest published a ranked highest: {top}; lowest ranked lowest: {low}")
    d = fit.diagnostics
    print(
        f"max R-hat {d['max_rhat']:.3f}, min bulk ESS {d['min_ess_bulk']:.0f}, "
        f"min tail ESS {d['min_ess_tail']:.0f}, divergences {d['divergences']}; "
        f"{fit.settings['timing']}\n" + "\n".join(d["problems"])
    )
    if args.out:
        fit.save(args.out)


if __name__ == "__main__":
    main()
