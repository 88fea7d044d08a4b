"""Choosing the sigmoid link's ceiling prior by held-out runs (issue #18).

Usage: python scripts/link_ceiling_study.py [--out docs/link_ceiling.md]
       [--sds 0.15 0.05 0.02 0.005] [--tasks mmlu ...] [--seed 0]

A task loss of zero (the model puts all its probability on the correct answer) means a score of
one: the paper's "ideal point" (Bhagia et al. 2024), which its point fits add as a data point.
The sigmoid's ceiling is its score at a loss well below its midpoint, so the ideal point is a
prior on the ceiling at 1; how tight that prior should be is chosen here by runs no fit sees.

For each prior sd and each of the eight tasks, the chain (:func:`bayescale.fit_chain`, default
settings) is fitted on the paper's 16 rungs (190M-1B at 1-10 xC) and asked about the ladder's
five 3B runs (0.5-10 xC, no rerun; larger than every fitted rung, and the 10 xC run's task loss
lies below theirs): each run's final checkpoint,

- **chain**: a new run's score at the 3B run's (N, D), median and 90% interval;
- **link alone**: a new run's score at the 3B run's *actual* task loss (step 2 without step 1).

Reported per sd: coverage of the 90% intervals (40 predictions each), median relative error,
median width. The 7B target is not used for the choice; the same fits' 7B predictions are in
``docs/downstream_chain.md`` (``scripts/downstream_chain.py``).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from downstream_chain import CHANCE, LN2, fit_task  # noqa: E402
from study_data import markdown  # noqa: E402

import bayescale as bs  # noqa: E402
from bayescale.chain import link_scores  # noqa: E402
from bayescale.datasets import load_olmo_ladder  # noqa: E402
from bayescale.io import atomic_write_text  # noqa: E402


def held_out(curves: pd.DataFrame) -> pd.DataFrame:
    """The final checkpoint of each 3B run (no rerun)."""
    three = curves[(curves["size"] == "3B") & (~curves["rerun"])]
    return three.loc[three.groupby("run")["D"].idxmax()].reset_index(drop=True)


def one(task: str, sd: float, rungs: pd.DataFrame, test: pd.DataFrame, seed: int) -> pd.DataFrame:
    fit = fit_task(task, rungs, seed, ceiling_sd=sd)
    pred = bs.predict_loss(fit, test["N"].to_numpy(float), test["D"].to_numpy(float))
    rng = np.random.default_rng(seed)
    actual_loss = test[f"bpb_{task}"].to_numpy(float) * LN2
    alone = link_scores(fit.link, np.tile(actual_loss, (4000, 1)), rng)
    lo, med, hi = np.quantile(alone, [0.05, 0.5, 0.95], axis=0)
    y = test[f"acc_{task}"].to_numpy(float)
    failed = [s for s, f in (("step 1", fit), ("link", fit.link)) if not f.diagnostics.get("ok")]
    return pd.DataFrame(
        {
            "task": task,
            "sd": sd,
            "run": test["run"].to_numpy(),
            "y": y,
            "chain_in": (pred["score_lower"] <= y) & (y <= pred["score_upper"]),
            "chain_err": np.abs(pred["score_median"].to_numpy() / y - 1),
            "chain_width": (pred["score_upper"] - pred["score_lower"]).to_numpy(),
            "link_in": (lo <= y) & (y <= hi),
            "link_err": np.abs(med / y - 1),
            "link_width": hi - lo,
            "ceiling": float(fit.link.summary().loc["ceiling", "median"]),
            "ok": not failed,
            "failed": ", ".join(failed),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "link_ceiling.md"))
    parser.add_argument("--sds", nargs="*", type=float, default=[0.15, 0.05, 0.02, 0.005])
    parser.add_argument("--tasks", nargs="*", default=list(CHANCE))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    curves = load_olmo_ladder(curves=True)
    rungs = curves[curves["paper_subset"]].reset_index(drop=True)
    test = held_out(curves)
    t0 = time.perf_counter()
    parts = []
    for sd in args.sds:
        for task in args.tasks:
            parts.append(one(task, sd, rungs, test, args.seed))
            p = parts[-1]
            print(
                f"sd {sd:g} {task}: chain in {int(p['chain_in'].sum())}/{len(p)}, "
                f"link in {int(p['link_in'].sum())}/{len(p)}, ceiling {p['ceiling'].iloc[0]:.3f}",
                flush=True,
            )
    rows = pd.concat(parts, ignore_index=True)
    table = (
        rows.groupby("sd", sort=False)
        .agg(
            chain_coverage=("chain_in", "mean"),
            chain_median_rel_error=("chain_err", "median"),
            chain_median_width=("chain_width", "median"),
            link_coverage=("link_in", "mean"),
            link_median_rel_error=("link_err", "median"),
            link_median_width=("link_width", "median"),
            converged=("ok", "mean"),
        )
        .reset_index()
        .rename(columns={"sd": "ceiling prior sd"})
    )
    per_task = rows.pivot_table(index="task", columns="sd", values="chain_in", aggfunc="sum")
    per_task.columns = [f"chain inside, sd {c:g} (of 5)" for c in per_task.columns]
    ceilings = rows.groupby(["task", "sd"])["ceiling"].first().unstack()
    ceilings.columns = [f"ceiling median, sd {c:g}" for c in ceilings.columns]
    detail = per_task.join(ceilings).reset_index()
    bad = rows.groupby(["sd", "task"], sort=False)["failed"].first()
    bad = bad[bad != ""]
    unconverged = (
        "; ".join(f"sd {sd:g} {task} ({what})" for (sd, task), what in bad.items()) or "none"
    )
    command = "python scripts/link_ceiling_study.py" + (f" --seed {args.seed}" if args.seed else "")
    text = f"""# The sigmoid link's ceiling prior, chosen by held-out 3B runs

Written by `{command}`; do not edit by hand. What it does: the script's docstring.
{len(test)} held-out 3B runs x {len(args.tasks)} tasks = {len(test) * len(args.tasks)} predictions
per prior sd; {time.perf_counter() - t0:.0f} s on this machine.

{markdown(table)}
Per task (the chain's 90% intervals that hold the 3B run's score, and the ceiling's
posterior median):

{markdown(detail)}
Fits flagged unconverged by their diagnostics (R-hat, ESS, divergences): {unconverged}.
"""
    atomic_write_text(Path(args.out), text)
    print(text)


if __name__ == "__main__":
    main()
