"""How far could any choice of 12 runs narrow the interval? The design study's ceiling (#20).

Usage: python scripts/design_ceiling.py [--reps 20] [--jobs 2] [--random 300] [--out F]

For each repetition of ``scripts/design_study.py`` (the same starts, pools and seeds), rate sets
of 12 added runs by the linear (Bayes linear) approximation at the start's posterior
(:mod:`bayescale.design_linear`): the expected posterior standard deviation of log tokens per
parameter at 5.88e23 once the set is trained. Sets:

- design: the 12 runs the design arm chose (three greedy batches of 4, refitted between);
- best linear set: the set of 12 pool runs the approximation rates best, within 25% of the
  design's compute (greedy, then exchanges: ``best_linear_set``);
- random: ``--random`` sets drawn as the study's random arm draws its one (12 pool runs within 25%
  of the design's compute); their median is the reference, and the best of them is reported.

The ratio "linear sd / random's" is each set's rated sd over the median random set's. Then the
best linear set is trained (simulated losses, or the pool's real losses) and refitted, and its
realised 90% width is compared with the design arm's and the study's random arm's, as in the
study. If the best linear set cannot beat random by much more than the design does, no choice
of runs from this pool can reach a far smaller ratio, whatever the rule.
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

import design_study as study  # noqa: E402
from study_data import markdown  # noqa: E402

from bayescale.design_linear import best_linear_set, linear_variance  # noqa: E402
from bayescale.design_targets import law_inputs, target_values  # noqa: E402
from bayescale.io import atomic_write_text  # noqa: E402

RANDOM = 300  #: random sets rated per repetition (``--random``)
WINDOW = 1.25  #: the compute window of the study's random arm


def _rater(fit, pool: pd.DataFrame):
    """The linear rating of sets of ``pool``'s runs at ``fit``'s posterior: var(S) of log
    tokens per parameter at the study's budget."""
    draws = fit.draws()
    values = np.log(target_values(fit, draws, study.TARGET, study.COMPUTE, None, 6.0))
    inputs = law_inputs(fit, pool["N"].to_numpy(), pool["D"].to_numpy(), 6.0)
    mu, _ = fit.law.predictive(draws, **inputs)
    predictions = np.broadcast_to(mu, (len(values), len(pool)))
    noise = np.asarray(fit.law.noise_variance(draws, **inputs)).mean(axis=0)
    return linear_variance(values, predictions, np.broadcast_to(noise, (len(pool),)))


def _index(pool: pd.DataFrame, runs: pd.DataFrame) -> list[int]:
    """Positions in ``pool`` of ``runs`` (matched on N and D)."""
    where = {(n, d): i for i, (n, d) in enumerate(zip(pool["N"], pool["D"], strict=True))}
    return [where[(n, d)] for n, d in zip(runs["N"], runs["D"], strict=True)]


def _rep(start, fit0, pool, observe, truth, seed, rng) -> dict:
    """One repetition: the design arm, the rated sets, and the best linear set refitted."""
    fit, spent, _, added = study._design_arm(start, pool, observe, seed)
    out = {"design": study._summary(fit, truth)}
    pick = study._random_pick(pool, spent, rng)
    fit = study._fit(pd.concat([start, observe(pick.reset_index(drop=True), seed + 200)]), seed + 7)
    out["random"] = study._summary(fit, truth)
    var = _rater(fit0, pool)
    cost = pool["C"].to_numpy(float)
    best, best_var = best_linear_set(
        var, study.ADDED, len(pool), cost=cost, window=(spent / WINDOW, spent * WINDOW)
    )
    draw = np.random.default_rng(seed + 500)
    randoms = np.array(
        [var(list(study._random_pick(pool, spent, draw).index)) for _ in range(RANDOM)]
    )
    reference = float(np.median(randoms))
    chosen = pool.iloc[best].reset_index(drop=True)
    fit = study._fit(pd.concat([start, observe(chosen, seed + 400)]), seed + 9)
    out["best linear set"] = {**study._summary(fit, truth), "compute": float(cost[best].sum())}
    out["linear"] = {
        "design": float(np.sqrt(var(_index(pool, added)) / reference)),
        "best linear set": float(np.sqrt(best_var / reference)),
        "best random set": float(np.sqrt(randoms.min() / reference)),
        "random": 1.0,
    }
    out["design"]["compute"] = spent
    out["random"]["compute"] = float(pick["C"].sum())
    return out


def simulated(rep: int) -> dict:
    warnings.simplefilter("ignore")
    seed = 1000 + rep
    runs, probe, pool, truth, observe = study.simulated_start(rep)
    return _rep(runs, probe, pool, observe, truth, seed, np.random.default_rng(seed))


def real(args: tuple[int, float]) -> dict:
    rep, reference = args
    warnings.simplefilter("ignore")
    seed = 2000 + rep
    start, pool_rows, pool, observe, rng = study.real_start(rep)

    def losses(chosen, s):
        return observe(chosen, s).assign(C=chosen["C"].to_numpy())

    fit0 = study._fit(start, seed)
    return _rep(start, fit0, pool_rows[["N", "D", "C"]], losses, reference, seed, rng)


def _coverage(results: list[dict], arm: str, value: float) -> float:
    """The share of repetitions whose 90% interval of ``arm`` holds ``value``."""
    held = [r[arm]["interval"][0] <= value <= r[arm]["interval"][1] for r in results]
    return round(float(np.mean(held)), 2)


def _table(results: list[dict], pool_reference: float | None = None) -> pd.DataFrame:
    """The table of one data set; ``pool_reference``: a second reference whose coverage is
    reported too (real runs: the posterior of every run the arms could have chosen)."""
    random = np.array([r["random"]["width"] for r in results])
    rows = []
    for arm in ("design", "best linear set", "best random set", "random"):
        linear = np.array([r["linear"][arm] for r in results])
        row = {
            "set": arm,
            "linear sd / random's (median)": round(float(np.median(linear)), 2),
            "(10-90% over repetitions)": (
                f"{np.quantile(linear, 0.1):.2f}-{np.quantile(linear, 0.9):.2f}"
            ),
        }
        if arm in results[0] and arm != "best random set":
            w = np.array([r[arm]["width"] for r in results])
            row |= {
                "realised median width": round(float(np.median(w)), 1),
                "width / random's": round(float(np.median(w) / np.median(random)), 2),
                "its 90% bootstrap interval": study._ratio_interval(w, random),
                "coverage (90%)": round(float(np.mean([r[arm]["covered"] for r in results])), 2),
                "median compute": f"{np.median([r[arm]['compute'] for r in results]):.3g}",
            }
            if pool_reference is not None:
                row["coverage of the pool's reference"] = _coverage(results, arm, pool_reference)
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def main() -> None:
    global RANDOM
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--random", type=int, default=RANDOM)
    parser.add_argument("--out", default=str(ROOT / "docs" / "design_ceiling.md"))
    args = parser.parse_args()
    RANDOM = args.random
    study.RANK = "shrinkage"  # the study's better rule (docs/design_study_shrinkage_40.md)
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        sim = list(pool.map(simulated, range(args.reps)))
        _, reference = study._reference()
        _, pool_reference = study._reference(max_compute=1e21)
        chin = list(pool.map(real, [(r, reference) for r in range(args.reps)]))
    text = f"""# The design study's ceiling: how far could any 12 runs narrow the interval?

Written by `python scripts/design_ceiling.py --reps {args.reps} --random {args.random}`
({time.perf_counter() - t0:.0f} s on {args.jobs} processes); do not edit by hand. What it does:
the script's docstring.

The design arm is the study's (`rank="shrinkage"`, three batches of 4). "linear sd / random's":
the expected posterior sd of log tokens per parameter at 5.88e23 once the set is trained, by the
linear approximation at the start's posterior, over the median of {args.random} random sets' (each
12 pool runs within 25% of the design's compute). "realised": the set trained and refitted (4 x
1000 draws); "width / random's": median 90% width over the random arm's, with a 90% bootstrap
interval over the {args.reps} repetitions.

## Simulated runs

{markdown(_table(sim))}

## Chinchilla's runs (reference: the posterior median of all 240 runs)

The reference is {reference:.1f} tokens per parameter, from all 240 runs (5 highest losses
dropped). "coverage of the pool's reference": of the posterior median from every run up to 1e21
FLOPs, the most any arm could ever see (the start's range and the whole pool):
{pool_reference:.1f}.

{markdown(_table(chin, pool_reference))}
"""
    atomic_write_text(Path(args.out), text)
    print(text)


if __name__ == "__main__":
    main()
