"""The prior of the extrapolation drift's scale, learned from the shipped data sets.

Usage: python scripts/drift_prior.py [--out docs/drift_prior.md]

For each data set (Chinchilla; each of Porian's ten IsoFLOP configurations; datablations with
the data-constrained law) the leave-future-out refit of the drift (``bayescale.fitting.
drift_residuals``: top 20% by compute held out, the default noise model) gives held-out
residuals; ``bayescale.drift.prior_scale`` finds the HalfNormal scale of tau under which they
are most likely, each set with its own tau (empirical Bayes). Leave-one-data-set-out scales show
how much any one set moves it. The OLMo ladder is left out on purpose: it is the small-data
case the prior serves, and its backtests stay honest only if the prior has not seen it.
The result is bayescale.drift.TAU_PRIOR_SCALE (set by hand from this output, rounded up).
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
from bayescale.datasets import load_chinchilla  # noqa: E402
from bayescale.drift import prior_scale  # noqa: E402
from bayescale.fitting import drift_residuals  # noqa: E402
from bayescale.io import atomic_write_text  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "drift_prior.md")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    porian = pd.read_csv(ROOT / "data" / "porian_isoflop.csv")
    sets = {"chinchilla": (bs.ChinchillaLaw(), load_chinchilla())}
    for name, g in porian.groupby("group"):
        sets[f"porian {name}"] = (bs.ChinchillaLaw(), bs.load_runs(g.reset_index(drop=True)))
    sets["datablations"] = (
        bs.DataConstrainedLaw(),
        bs.DataConstrainedLaw().load_runs(ROOT / "data" / "datablations.csv"),
    )
    residuals = {}
    for name, (law, runs) in sets.items():
        res = drift_residuals(law, runs, seed=0)
        residuals[name] = (res["r"], res["v"], res["d"])
        print(name, len(res["r"]), file=sys.stderr, flush=True)
    all_sets = list(residuals.values())
    fitted = prior_scale(all_sets)
    lines = [
        "| data set | held-out runs | own tau (MLE) | prior scale without this set |",
        "|---|---|---|---|",
    ]
    for (name, rvd), mle in zip(residuals.items(), fitted["per_set_mle"], strict=True):
        others = prior_scale([v for k, v in residuals.items() if k != name])["scale"]
        shown = name.replace("|", "/")
        lines.append(f"| {shown} | {len(rvd[0])} | {mle:.4f} | {others:.4f} |")
    text = (
        "# The drift prior, learned from the shipped data sets\n\n"
        "Empirical-Bayes scale of the drift prior tau ~ HalfNormal(scale) "
        f"(`python scripts/drift_prior.py`): **{fitted['scale']:.4f}** over "
        f"{len(all_sets)} data sets.\n\n" + "\n".join(lines) + "\n\n"
        "Each data set's own tau is its maximum-likelihood estimate from its held-out runs (0 "
        "where\ntheir errors are within the predictive spread); "
        "`bayescale.drift.TAU_PRIOR_SCALE` is 0.044.\n"
        "See [backtests](backtests.md) for how the prior is used.\n"
    )
    atomic_write_text(args.out, text)
    print(text)
    print("median own tau", float(np.median(fitted["per_set_mle"])))


if __name__ == "__main__":
    main()
