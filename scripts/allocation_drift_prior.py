"""The prior of the allocation drift's scale, learned from the shipped IsoFLOP data sets.

Usage: python scripts/allocation_drift_prior.py [--out docs/allocation_drift_prior.md]

For each data set with IsoFLOP profiles (Chinchilla; each of Porian's ten configurations) the
drift's leave-future-out refit (``bayescale.fitting.drift_residuals``: top 20% by compute held
out) also predicts N* at the held-out IsoFLOP budgets, and each budget's own optimum gives a
residual (``bayescale.alloc_drift.allocation_residuals``); ``bayescale.drift.prior_scale``
finds the HalfNormal scale of tau under which they are most likely, each set with its own tau
(empirical Bayes), as ``scripts/drift_prior.py`` does for the loss. Leave-one-data-set-out
scales show how much any one set moves it. The result is
bayescale.alloc_drift.TAU_PRIOR_SCALE (set by hand from this output, rounded).
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
from bayescale.alloc_drift import TAU_PRIOR_SCALE, allocation_residuals  # noqa: E402
from bayescale.datasets import load_chinchilla  # noqa: E402
from bayescale.drift import prior_scale  # noqa: E402
from bayescale.fitting import drift_residuals  # noqa: E402
from bayescale.io import atomic_write_text  # noqa: E402


def residual_sets() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Data set -> the allocation residuals ``(r, v, d)`` of its leave-future-out refit."""
    porian = pd.read_csv(ROOT / "data" / "porian_isoflop.csv")
    sets = {"chinchilla": load_chinchilla()}
    for name, g in porian.groupby("group"):
        sets[f"porian {name}"] = bs.load_runs(g.reset_index(drop=True))
    out = {}
    law = bs.ChinchillaLaw()
    for name, runs in sets.items():
        p, train, test = drift_residuals(law, runs, seed=0)["inner"]
        res = allocation_residuals(law, p, train, test, seed=0)
        if "r" in res:
            out[name] = (res["r"], res["v"], res["d"])
        print(name, len(res.get("r", [])), file=sys.stderr, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "allocation_drift_prior.md")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    residuals = residual_sets()
    all_sets = list(residuals.values())
    fitted = prior_scale(all_sets)
    lines = [
        "| data set | held-out budgets | residuals of log N* | own tau (MLE) "
        "| prior scale without this set |",
        "|---|---|---|---|---|",
    ]
    for (name, rvd), mle in zip(residuals.items(), fitted["per_set_mle"], strict=True):
        others = prior_scale([v for k, v in residuals.items() if k != name])["scale"]
        shown = name.replace("|", "/")
        r = ", ".join(f"{x:+.3f}" for x in rvd[0])
        lines.append(f"| {shown} | {len(rvd[0])} | {r} | {mle:.4f} | {others:.4f} |")
    text = (
        "# The allocation drift's prior, learned from the shipped IsoFLOP data sets\n\n"
        "Empirical-Bayes scale of the prior tau ~ HalfNormal(scale) on log N* per square root "
        "decade of compute (`python scripts/allocation_drift_prior.py`): "
        f"**{fitted['scale']:.4f}** over {len(all_sets)} data sets.\n\n"
        + "\n".join(lines)
        + "\n\nEach data set's own tau is its maximum-likelihood estimate from its held-out "
        "budgets (0 where their errors are within the predictive spread); "
        f"`bayescale.alloc_drift.TAU_PRIOR_SCALE` is {TAU_PRIOR_SCALE:g}.\n"
        "See [backtests](backtests.md#allocation-answers-on-held-out-budgets) for how it is "
        "used and checked.\n"
    )
    atomic_write_text(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
