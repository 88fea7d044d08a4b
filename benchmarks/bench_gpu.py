"""nutpie on the CPUs against numpyro (on one GPU where JAX sees one), side by side in one process.

Usage: python benchmarks/bench_gpu.py [--draws 1000] [--skip-chinchilla] [--skip-curves]
       [--skip-pooled] [--skip-pymc-path]

Needs ``bayescale[jax]`` (a CUDA build of jaxlib for the GPU; on a machine without one it
measures JAX on the CPUs, and says which devices JAX sees). Each workload is fitted with the
default sampler (nutpie, chains in threads on the CPUs) and with ``sampler="numpyro"`` (the
pilot that finds the whitening still runs in nutpie; the main run is bayescale's JAX program,
compiled once per law configuration and data shape, ``bayescale.jax_nuts``), 4 chains, fixed
draws:

1. Chinchilla's law on the 240 shipped runs: numpyro on them, then on a bootstrap resample of
   them in the same process (other data of the same shape: the compiled program is reused),
   then on them in a new process (the program read from JAX's disk cache, which the first fit
   wrote); then the same two fits through PyMC's own JAX path
   (``pm.sample(nuts_sampler="numpyro")``, which bayescale used before: it freezes the data into
   the program and compiles it at every call) for comparison;
2. a curve fit of ~5000 simulated checkpoints (``benchmarks/bench_curves.py``'s world);
3. the IsoFLOP law pooled across Porian's ten configurations with ``centred="all"``.

Reported: wall time and its parts, the slowest parameter's bulk ESS, ESS per second of wall
time, and the posterior medians of two parameters so the samplers can be compared.
"""

from __future__ import annotations

import argparse
import subprocess
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


def pymc_path(key, model, settings, *, draws, tune, chains, seed, target_accept):
    """The main run as bayescale ran it before ``bayescale.jax_nuts``: PyMC's JAX path, which
    freezes the data into the program and compiles it at every ``pm.sample``."""
    from bayescale.sampling import sample_with_pymc

    return sample_with_pymc(
        model,
        settings,
        "numpyro",
        draws=draws,
        tune=tune,
        chains=chains,
        cores=chains,
        seed=seed,
        target_accept=target_accept,
    )


NEW_PROCESS = """
import sys, time, warnings
warnings.simplefilter("ignore")
import bayescale as bs
runs = bs.load_runs(sys.argv[1])
t0 = time.perf_counter()
fit = bs.ChinchillaLaw().fit(runs, seed=1, draws=int(sys.argv[2]), sampler="numpyro")
t = fit.settings["timing"]
print("fit", time.perf_counter() - t0, t["pilot_s"], t["sampling_s"])
"""


def new_process_fit(path: Path, draws: int) -> dict:
    """A numpyro fit of the 240 runs in a fresh process (its program from JAX's disk cache)."""
    out = subprocess.run(
        [sys.executable, "-c", NEW_PROCESS, str(path), str(draws)],
        capture_output=True,
        text=True,
        check=True,
    )
    wall, pilot, main_run = map(float, out.stdout.split("fit", 1)[1].split())
    return {
        "workload": "240 Chinchilla runs",
        "sampler": "numpyro, a new process",
        "wall s": round(wall, 1),
        "pilot s": round(pilot, 1),
        "main run s": round(main_run, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--skip-chinchilla", action="store_true")
    parser.add_argument("--skip-curves", action="store_true")
    parser.add_argument("--skip-pooled", action="store_true")
    parser.add_argument("--skip-pymc-path", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import jax
    import pymc.sampling.jax  # noqa: F401  (declares XLA's host devices before JAX starts)

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
    import bayescale.sampling as sampling

    ours = sampling.sample_nuts
    for label, make, runs, extra in workloads:
        arms = [("nutpie", "nutpie", ours), ("numpyro", "numpyro", ours)]
        if label.startswith("240"):
            arms.append(("numpyro, again", "numpyro", ours))
            if not args.skip_pymc_path:
                arms.append(("numpyro, a new process", None, None))
                arms += [("PyMC's path", "numpyro", pymc_path)]
                arms += [("PyMC's path, again", "numpyro", pymc_path)]
        for name, sampler, main_run in arms:
            if sampler is None:
                rows.append(new_process_fit(ROOT / "data" / "chinchilla.csv", args.draws))
            else:
                sampling.sample_nuts = main_run
                # again: other data of the same shape (a bootstrap resample of the runs), as
                # in a batch, a backtest or a simulation study
                data = (
                    runs.sample(frac=1, replace=True, random_state=1) if "again" in name else runs
                )
                t0 = time.perf_counter()
                fit = make().fit(data, seed=1, draws=args.draws, sampler=sampler, **extra)
                rows.append(row(label, name, fit, time.perf_counter() - t0))
                sampling.sample_nuts = ours
            print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    print(f"\n4 chains x {args.draws} draws")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
