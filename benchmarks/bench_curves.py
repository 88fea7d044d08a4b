"""Curve fits at the size users have: ~5000 checkpoints, against the same runs' final losses.

Usage: python benchmarks/bench_curves.py [--runs 50] [--checkpoints 100]

Simulated from the curve model (Chinchilla's law at Hoffmann's values, a schedule term, run
offsets, OU noise along each run): ``--runs`` runs of ten sizes from 20M to 2B parameters at
5 to 80 tokens per parameter, ``--checkpoints`` checkpoints each, all of them fitted
(``min_fraction=0``, no tokens-per-parameter rule). Reported side by side, in one process: the
curve fit's compile, pilot and sampling times, its slowest parameter's bulk ESS per second of
sampling, and the default fit of the final losses alone. No thinning or binning: the curve
likelihood is O(n) (``bayescale.curve_noise``).
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

import bayescale as bs  # noqa: E402
from bayescale.curves import final_checkpoints  # noqa: E402
from bayescale.simulate import simulate_curves  # noqa: E402

TRUTH = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)


def row(label: str, fit, wall: float) -> dict:
    import arviz as az

    names = [n for n in fit.law.sampled_params if n in fit.posterior]
    ess = az.ess(fit.posterior[names], method="bulk")
    timing = fit.settings["timing"]
    worst = min(float(ess[n]) for n in names)
    return {
        "fit": label,
        "rows fitted": len(fit.runs),
        "wall s": round(wall, 1),
        "compile s": round(timing.get("compile_s", 0.0), 1),
        "pilot s": round(timing.get("pilot_s", 0.0), 1),
        "sampling s": round(timing.get("sampling_s", 0.0), 1),
        "draws/chain": fit.settings["draws"],
        "min bulk ESS": round(worst),
        "ESS/s (sampling)": round(worst / max(timing.get("sampling_s", 1e-9), 1e-9), 1),
        "ok": fit.diagnostics["ok"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--checkpoints", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(args.seed)
    n = np.geomspace(2e7, 2e9, 10)[np.arange(args.runs) % 10]
    plan = pd.DataFrame({"N": n, "D": n * rng.choice([5.0, 10, 20, 40, 80], size=args.runs)})
    law = bs.ChinchillaLaw(likelihood="curve")
    curves = simulate_curves(
        law,
        TRUTH,
        plan,
        checkpoints=args.checkpoints,
        schedule=0.1,
        sigma=0.004,
        sigma_run=0.006,
        ell=0.4,
        seed=args.seed,
    )
    rows = []
    t0 = time.perf_counter()
    fit = law.fit(curves, seed=args.seed, min_fraction=0.0, min_tokens_per_param=None)
    rows.append(row("curve fit, every checkpoint", fit, time.perf_counter() - t0))
    t0 = time.perf_counter()
    fit = bs.ChinchillaLaw().fit(final_checkpoints(bs.load_runs(curves)), seed=args.seed)
    rows.append(row("final losses (default fit)", fit, time.perf_counter() - t0))
    print(f"{len(curves)} checkpoints of {args.runs} runs")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
