"""nutpie on the CPUs against numpyro on one GPU, side by side in one process.

Usage: python benchmarks/bench_gpu.py [--draws 1000] [--skip-chinchilla] [--skip-curves]
       [--skip-pooled]

Needs ``bayescale[jax]`` with a CUDA build of jaxlib; run it on the machine that has the GPU
(it says which devices JAX sees). Each workload is fitted with the default sampler (nutpie,
chains in threads on the CPUs) and with ``sampler="numpyro"`` (the chains vectorised on the one
GPU; the pilot that finds the whitening still runs in nutpie), 4 chains, fixed draws:

1. Chinchilla's law on the 240 shipped runs; numpyro twice in the same process (PyMC compiles
   the JAX model at every ``pm.sample``, so the second fit pays it again);
2. a curve fit of ~5000 simulated checkpoints (``benchmarks/bench_curves.py``'s world);
3. the IsoFLOP law pooled across Porian's ten configurations with ``centred="all"``.

Reported: wall time and its parts, the slowest parameter's bulk ESS, ESS per second of wall
time, and the posterior medians of two parameters so the two samplers can be compared.
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
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_curves import TRUTH  # noqa: E402

import bayescale as bs  # noqa: E402
from bayescale.simulate import simulate_curves  # noqa: E402


def row(label: str, sampler: str, fit, wall: float) -> dict:
    import arviz as az

    names = [n for n in fit.law.sampled_params if n in fit.posterior]
    worst = float(az.ess(fit.posterior[names], method="bulk").to_array().min())
    t = fit.settings["timing"]
    shown = names[:2]
    return {
        "workload": label,
        "sampler": sampler,
        "wall s": round(wall, 1),
        "compile s": round(t.get("compile_s", 0.0), 1),
        "pilot s": round(t.get("pilot_s", 0.0), 1),
        "main run s": round(t.get("sampling_s", 0.0), 1),
        "min bulk ESS": round(worst),
        "ESS/s (wall)": round(worst / wall, 1),
        "medians": ", ".join(f"{n} {float(fit.posterior[n].median()):.4g}" for n in shown),
        "divergences": fit.diagnostics["divergences"],
    }


def curves_world(seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    n = np.geomspace(2e7, 2e9, 10)[np.arange(50) % 10]
    plan = pd.DataFrame({"N": n, "D": n * rng.choice([5.0, 10, 20, 40, 80], size=50)})
    law = bs.ChinchillaLaw(likelihood="curve")
    curves = simulate_curves(
        law,
        TRUTH,
        plan,
        checkpoints=100,
        schedule=0.1,
        sigma=0.004,
        sigma_run=0.006,
        ell=0.4,
        seed=seed,
    )
    return law, curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--skip-chinchilla", action="store_true")
    parser.add_argument("--skip-curves", action="store_true")
    parser.add_argument("--skip-pooled", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import jax

    print("JAX devices:", jax.devices(), flush=True)
    chinchilla = bs.load_runs(ROOT / "data" / "chinchilla.csv")
    workloads = []
    if not args.skip_chinchilla:
        workloads.append(("240 Chinchilla runs", bs.ChinchillaLaw, chinchilla, {}))
    if not args.skip_curves:
        law, curves = curves_world()
        every = dict(min_fraction=0.0, min_tokens_per_param=None)
        workloads.append(("5000 checkpoints", lambda: law, curves, every))
    if not args.skip_pooled:
        porian = bs.load_runs(pd.read_csv(ROOT / "data" / "porian_isoflop.csv"))
        workloads.append(
            ("Porian pooled", lambda: bs.IsoFLOPLaw(pooling="partial", centred="all"), porian, {})
        )
    rows = []
    for label, make, runs, extra in workloads:
        samplers = ["nutpie", "numpyro"] + (["numpyro"] if label.startswith("240") else [])
        for sampler in samplers:
            t0 = time.perf_counter()
            fit = make().fit(runs, seed=1, draws=args.draws, sampler=sampler, **extra)
            rows.append(row(label, sampler, fit, time.perf_counter() - t0))
            print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    print(f"\n4 chains x {args.draws} draws")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
