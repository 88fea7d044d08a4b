"""Derive data/chinchilla.csv from the digitized Chinchilla runs (Epoch AI replication).

Usage: python scripts/make_chinchilla_data.py SOURCE_DIR [OUT_CSV]

SOURCE_DIR holds ``svg_extracted_data.csv`` as published in epoch-research/analyzing-chinchilla
(commit 92258837425e1b5f2851d624287f0120583a3d0e, path data/svg_extracted_data.csv). The output
keeps N (``Model Size``), C (``Training FLOP``) and ``loss`` unchanged, derives D = C / (6 N) as the
replication does, and marks with ``replication_subset`` the 240 runs the replication kept (all but
the five highest-loss runs).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def main(source_dir: str, out: str = "data/chinchilla.csv") -> None:
    raw = pd.read_csv(Path(source_dir) / "svg_extracted_data.csv")
    runs = pd.DataFrame({"N": raw["Model Size"], "C": raw["Training FLOP"], "loss": raw["loss"]})
    runs.insert(1, "D", runs["C"] / (6.0 * runs["N"]))
    runs["group"] = "chinchilla_fig4"
    runs["replication_subset"] = ~runs.index.isin(runs["loss"].nlargest(5).index)
    runs.to_csv(out, index=False, float_format="%.17g")
    print(f"wrote {out}: {len(runs)} runs, {int(runs['replication_subset'].sum())} in the subset")


if __name__ == "__main__":
    main(*sys.argv[1:])
