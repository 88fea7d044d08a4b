"""Chinchilla's Approaches 1, 2 and 3 side by side on the shipped data.

Usage: python scripts/approaches_table.py [--n-boot 200] [--seed 0]

Chinchilla runs: Approaches 1 and 2 (bootstrap 90% intervals) and 3 (a fresh default fit on the
replication's 240 runs). Porian et al.'s IsoFLOP runs: Approaches 1 and 2 per configuration
beside the published exponent.
"""

from __future__ import annotations

import argparse

import pandas as pd

import bayescale as bs
from bayescale.approaches import approach1, approach2, approaches
from bayescale.datasets import data_dir, load_chinchilla


def fmt(row) -> str:
    if pd.isna(row["a_lower"]):
        return f"{row['a']:.3f}"
    return f"{row['a']:.3f} [{row['a_lower']:.3f}, {row['a_upper']:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    runs = load_chinchilla(replication_subset=True)
    fit = bs.ChinchillaLaw().fit(runs, seed=2024)
    table = approaches(runs, fit, n_boot=args.n_boot, seed=args.seed)
    print("Chinchilla runs (240): allocation exponent a (N* ~ C^a), median [90% interval]")
    for name, row in table.iterrows():
        print(
            f"  {name:28s} {fmt(row)}   b = {row['b']:.3f}   budgets used: {int(row['n_budgets'])}"
        )

    porian = pd.read_csv(data_dir() / "porian_isoflop.csv")
    published = pd.read_csv(data_dir() / "porian_published_fits.csv").set_index("group")
    print("\nPorian et al. IsoFLOP runs: a per configuration")
    print(f"  {'configuration':42s} {'Approach 1':26s} {'Approach 2 (parabola)':26s} published")
    for group, part in porian.groupby("group"):
        part = part.reset_index(drop=True)
        a1 = approach1(part, n_boot=args.n_boot, seed=args.seed)
        a2 = approach2(part, n_boot=args.n_boot, seed=args.seed)
        print(f"  {group:42s} {fmt(a1):26s} {fmt(a2):26s} {published.loc[group, 'n_exponent']:.3f}")


if __name__ == "__main__":
    main()
