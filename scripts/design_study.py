"""Which run next, measured (issue #20): runs chosen by ``bayescale.design_runs`` against runs
chosen at random and an IsoFLOP grid extended to a new budget, at equal compute.

Usage: python scripts/design_study.py [--reps 20] [--jobs 2] [--rank per_flop|shrinkage]
       [--budget FLOPS] [--out F]

Target: the 90% interval of tokens per parameter at C = 5.88e23 (Chinchilla's budget).

1. Simulation. Truth: Chinchilla-like parameters (Epoch's replication: E 1.82, A 482, B 2085,
   alpha 0.348, beta 0.366), Student-t noise of scale 0.005 on log loss (the replication fit's
   is 0.0044). Start: 40 runs on an IsoFLOP grid (budgets 1e18 to 1e20, 8 sizes each, 2 to 300
   tokens per parameter). Each arm adds 12 runs in batches
   of 4; candidates: 5 budgets from 1e19 to 1e21 x 9 sizes (2 to 300 tokens per parameter).
   (a) design: ``design_runs(..., batch=4)``, refitted after each batch on the batch's simulated
   losses; (b) random: 12 candidates drawn at random, redrawn until their compute is within 25%
   of (a)'s; (c) IsoFLOP: 12 runs on one new budget, (a)'s compute / 12, sizes spaced evenly
   over the same tokens per parameter. Every repetition draws new data (seeded).
2. Real runs. Chinchilla's 240 runs (Epoch's digitisation): start from 40 drawn at random among
   the runs below 1e19 FLOPs; the pool is the runs from 1e19 to 1e21; each arm adds 12 from the
   pool (the same rules, the real losses); IsoFLOP takes the 12 pool runs nearest one budget
   (log C within 0.15 dex, widened until there are 12), spread over tokens per parameter.
   Reference: the posterior of all 240 runs (5 highest losses dropped, as the demo).

Fits: 4 chains x 1000 draws (fixed) at the law's defaults. Reported per arm: median final
width, its ratio to random's, coverage of the truth (reference), median absolute error.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from study_data import markdown  # noqa: E402

import bayescale as bs  # noqa: E402
from bayescale.allocation import optimal_allocation  # noqa: E402
from bayescale.datasets import load_chinchilla  # noqa: E402
from bayescale.design import candidate_grid, design_runs, target_draws  # noqa: E402
from bayescale.io import atomic_write_text  # noqa: E402
from bayescale.simulate import isoflop_design, simulate_runs  # noqa: E402

TARGET, COMPUTE = "tokens_per_param", 5.88e23
TRUTH = dict(E=1.82, A=482.0, B=2085.0, alpha=0.348, beta=0.366, sigma=0.005)
TPP = (2.0, 300.0)
ADDED, BATCH = 12, 4
DRAWS = 1000
RANKED = {"per_flop": "expected shrinkage per FLOP", "shrinkage": "expected shrinkage"}
SIMS = 128  #: design_runs' simulations per candidate (``--sims``; its default)
RANK = "per_flop"  #: design_runs' rank (``--rank``; set before the worker processes fork)
BUDGET = None  #: design_runs' budget per batch (``--budget``; FLOPs; None: none)


def _law() -> bs.ChinchillaLaw:
    return bs.ChinchillaLaw(noise="constant")


def _fit(runs: pd.DataFrame, seed: int):
    return _law().fit(runs[["N", "D", "C", "loss"]], draws=DRAWS, seed=seed, drift=False)


def _summary(fit, truth: float) -> dict:
    values = target_draws(fit, TARGET, compute=COMPUTE)
    lo, med, hi = np.quantile(values, [0.05, 0.5, 0.95])
    return {
        "width": hi - lo,
        "covered": bool(lo <= truth <= hi),
        "error": abs(med - truth),
        "ok": bool(fit.diagnostics["ok"]),
        "interval": (float(lo), float(hi)),
    }


def _design_arm(runs, pool, observe, seed):
    """Three greedy batches of four, refitted after each; ``observe`` gives the chosen runs'
    losses. Returns the final fit, the compute spent, each batch's expected over realised
    width, and the runs added (N, D, C)."""
    fit = _fit(runs, seed)
    spent, predicted, added = 0.0, [], []
    for step in range(ADDED // BATCH):
        plan = design_runs(
            fit,
            TARGET,
            compute=COMPUTE,
            candidates=pool,
            batch=BATCH,
            seed=seed + step,
            rank=RANK,
            sims=SIMS,
            budget=BUDGET,
        )
        chosen = plan.picks[["N", "D", "C"]]
        key = pool.set_index(["N", "D"]).index
        pool = pool[~key.isin(chosen.set_index(["N", "D"]).index)].reset_index(drop=True)
        runs = pd.concat([runs, observe(chosen, seed + 100 + step)], ignore_index=True)
        spent += float(chosen["C"].sum())
        added.append(chosen)
        fit = _fit(runs, seed + step + 1)
        # the batch's expected width against the width its refit gives
        realised = np.subtract(
            *np.quantile(target_draws(fit, TARGET, compute=COMPUTE), [0.95, 0.05])
        )
        predicted.append(float(plan.picks["expected_width"].iloc[-1] / realised))
    return fit, spent, predicted, pd.concat(added, ignore_index=True)


def _random_pick(pool: pd.DataFrame, total: float, rng) -> pd.DataFrame:
    """Twelve pool runs at random whose compute is within 25% of ``total`` (the closest of
    20 000 draws when none is)."""
    best, gap = None, np.inf
    for _ in range(20_000):
        pick = pool.iloc[rng.choice(len(pool), ADDED, replace=False)]
        off = abs(np.log(pick["C"].sum() / total))
        if off < gap:
            best, gap = pick, off
        if off < np.log(1.25):
            break
    return best


def simulated_start(rep: int):
    """Repetition ``rep`` of the simulation: its 40 start runs, the fit to them, the candidate
    pool, the true target and ``observe(chosen, seed)`` (the chosen runs' simulated losses)."""
    law, seed = _law(), 1000 + rep
    start = isoflop_design([1e18, 3e18, 1e19, 3e19, 1e20], 8, tokens_per_param=TPP)
    runs = simulate_runs(law, TRUTH, start, seed=seed)
    truth = float(
        optimal_allocation(*(TRUTH[k] for k in ("E", "A", "B", "alpha", "beta")), COMPUTE)[TARGET]
    )
    probe = _fit(runs, seed)
    pool = candidate_grid(probe, 1e21, min_run_compute=1e19, tokens_per_param=TPP)

    def observe(chosen, s):
        return simulate_runs(law, TRUTH, chosen.reset_index(drop=True), seed=s)

    return runs, probe, pool, truth, observe


def simulated(rep: int) -> dict:
    warnings.simplefilter("ignore")
    seed = 1000 + rep
    runs, probe, pool, truth, observe = simulated_start(rep)
    out = {"start": _summary(probe, truth)}
    fit, spent, predicted, _ = _design_arm(runs, pool, observe, seed)
    out["design"] = {**_summary(fit, truth), "compute": spent, "predicted": predicted}
    rng = np.random.default_rng(seed)
    pick = _random_pick(pool, spent, rng)
    fit = _fit(pd.concat([runs, observe(pick.reset_index(drop=True), seed + 200)]), seed + 7)
    out["random"] = {**_summary(fit, truth), "compute": float(pick["C"].sum())}
    iso = isoflop_design([spent / ADDED], ADDED, n_range=(1e5, 1e13), tokens_per_param=TPP)
    fit = _fit(pd.concat([runs, observe(iso, seed + 300)]), seed + 8)
    out["isoflop"] = {**_summary(fit, truth), "compute": float(iso["C"].sum())}
    return out


def _reference(max_compute: float | None = None) -> tuple[pd.DataFrame, float]:
    """Chinchilla's runs (those up to ``max_compute``, if given) and the posterior median of
    the target from them."""
    runs = load_chinchilla(replication_subset=True)
    if max_compute is not None:
        runs = runs[runs["C"] <= max_compute]
    fit = _law().fit(runs, exclude_top_loss=5, seed=2024)
    return runs, float(np.median(target_draws(fit, TARGET, compute=COMPUTE)))


def real_start(rep: int):
    """Repetition ``rep`` on Chinchilla's runs: the 40 start runs, the pool's runs (with their
    losses), the pool (N, D, C) and ``observe(chosen, seed)`` (the chosen runs' real losses)."""
    seed = 2000 + rep
    runs = load_chinchilla(replication_subset=True).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    low = runs[runs["C"] < 1e19]
    start = low.iloc[np.sort(rng.choice(len(low), 40, replace=False))]
    pool_rows = runs[(runs["C"] >= 1e19) & (runs["C"] <= 1e21)]
    pool_rows = pool_rows.drop_duplicates(subset=["N", "D"]).reset_index(drop=True)

    def observe(chosen, s):
        return chosen.merge(pool_rows[["N", "D", "loss"]], on=["N", "D"], how="left")

    return start, pool_rows, pool_rows[["N", "D", "C"]], observe, rng


def real(args: tuple[int, float]) -> dict:
    rep, reference = args
    warnings.simplefilter("ignore")
    seed = 2000 + rep
    start, pool_rows, pool, observe, rng = real_start(rep)
    out = {"start": _summary(_fit(start, seed), reference)}
    fit, spent, predicted, _ = _design_arm(
        start, pool, lambda c, s: observe(c, s).assign(C=c["C"].to_numpy()), seed
    )
    out["design"] = {**_summary(fit, reference), "compute": spent, "predicted": predicted}
    pick = _random_pick(pool_rows, spent, rng)
    fit = _fit(pd.concat([start, pick]), seed + 7)
    out["random"] = {**_summary(fit, reference), "compute": float(pick["C"].sum())}
    c_iso, band = np.log10(spent / ADDED), 0.15
    while ((np.log10(pool_rows["C"]) - c_iso).abs() < band).sum() < ADDED:
        band += 0.05
    near = pool_rows[(np.log10(pool_rows["C"]) - c_iso).abs() < band]
    near = near.assign(tpp=near["D"] / near["N"]).sort_values("tpp")
    iso = near.iloc[np.unique(np.linspace(0, len(near) - 1, ADDED).round().astype(int))]
    fit = _fit(pd.concat([start, iso]), seed + 8)
    out["isoflop"] = {**_summary(fit, reference), "compute": float(iso["C"].sum())}
    return out


def _ratio_interval(w: np.ndarray, random: np.ndarray, boots: int = 2000) -> str:
    """A 90% bootstrap interval of median(w) / median(random), the repetitions resampled
    together (each repetition's arms share its start), seeded."""
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(w), size=(boots, len(w)))
    ratios = np.median(w[idx], axis=1) / np.median(random[idx], axis=1)
    lo, hi = np.quantile(ratios, [0.05, 0.95])
    return f"{lo:.2f}-{hi:.2f}"


def _table(results: list[dict]) -> pd.DataFrame:
    rows = []
    random = np.array([r["random"]["width"] for r in results])
    random_width = np.median(random)
    for arm in ("start", "design", "random", "isoflop"):
        w = np.array([r[arm]["width"] for r in results])
        rows.append(
            {
                "arm": arm,
                "median width": round(float(np.median(w)), 1),
                "width / random's": round(float(np.median(w) / random_width), 2),
                "its 90% bootstrap interval": _ratio_interval(w, random),
                "median of paired ratios": round(
                    float(np.median([r[arm]["width"] / r["random"]["width"] for r in results])), 2
                ),
                "coverage (90%)": round(float(np.mean([r[arm]["covered"] for r in results])), 2),
                "median abs. error": round(float(np.median([r[arm]["error"] for r in results])), 1),
                "median compute added": (
                    f"{np.median([r[arm]['compute'] for r in results]):.3g}"
                    if arm != "start"
                    else ""
                ),
                "fits flagged": int(sum(not r[arm]["ok"] for r in results)),
            }
        )
    return pd.DataFrame(rows)


def _predicted(results: list[dict]) -> str:
    ratios = np.array([r["design"]["predicted"] for r in results]).ravel()
    lo, med, hi = np.quantile(ratios, [0.1, 0.5, 0.9])
    return f"{med:.2f} (10-90%: {lo:.2f}-{hi:.2f}, {ratios.size} batches)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--out", help="default: docs/design_study.md (docs/design_study_shrinkage.md)"
    )
    parser.add_argument("--rank", choices=["per_flop", "shrinkage"], default="per_flop")
    parser.add_argument("--sims", type=int, default=128)
    parser.add_argument(
        "--budget",
        type=float,
        help="compute per batch (FLOPs) for design_runs(budget=): the better of the two rules "
        "within it; output docs/design_study_budget.md",
    )
    args = parser.parse_args()
    global RANK, SIMS, BUDGET
    RANK, SIMS, BUDGET = args.rank, args.sims, args.budget
    suffix = "_budget" if args.budget else "" if args.rank == "per_flop" else f"_{args.rank}"
    sims_flag = "" if args.sims == 128 else f" --sims {args.sims}"
    sims_flag += f" --budget {args.budget:g}" if args.budget else ""
    out = Path(args.out or ROOT / "docs" / f"design_study{suffix}.md")
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        sim = list(pool.map(simulated, range(args.reps)))
        _, reference = _reference()
        chin = list(pool.map(real, [(r, reference) for r in range(args.reps)]))
    truth = float(
        optimal_allocation(*(TRUTH[k] for k in ("E", "A", "B", "alpha", "beta")), COMPUTE)[TARGET]
    )
    rule = (
        f"`budget={args.budget:g}` per batch: the better of the per-FLOP and per-run greedy rules"
        if args.budget
        else f'`rank="{args.rank}"`: {RANKED[args.rank]}'
    )
    text = f"""# Which run next: design against random and IsoFLOP runs at equal compute

Written by `python scripts/design_study.py --reps {args.reps} --rank {args.rank}{sims_flag}`
({time.perf_counter() - t0:.0f} s on {args.jobs} processes); do not edit by hand. What it does:
the script's docstring.

Target: the 90% interval of tokens per parameter at C = 5.88e23. Each arm adds {ADDED} runs in
batches of {BATCH} to a start of 40; the design arm's runs are chosen by `bayescale.design_runs`
({rule}; greedy batches), the random arm's at random among
the same candidates at (within 25%) the same compute, the IsoFLOP arm's on one new budget with
the same compute. {args.reps} repetitions each. "start" is the fit before any run is added.
"width / random's": the arm's median width over the random arm's, with a 90% bootstrap interval
over repetitions; "median of paired ratios": the
median over repetitions of the arm's width over the random arm's in the same repetition (same
start). "fits flagged": fits whose diagnostics failed at the fixed 4 x {DRAWS} draws.

## Simulated runs (truth: {truth:.1f} tokens per parameter)

{markdown(_table(sim))}

The design's expected width of each batch over the width its refit gave: {_predicted(sim)}.

## Chinchilla's runs (reference: {reference:.1f} tokens per parameter, all 240 runs)

{markdown(_table(chin))}

The design's expected width of each batch over the width its refit gave: {_predicted(chin)}.
"""
    atomic_write_text(out, text)
    print(text)


if __name__ == "__main__":
    main()
