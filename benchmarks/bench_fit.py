"""Sampling efficiency of bayescale's default fit against PyMC's default NUTS on the naive model.

Usage: python benchmarks/bench_fit.py [--draws 1000] [--tune 1000] [--skip-cli]

On the shipped Chinchilla runs (240, the replication's subset), both with 4 chains:

* bayescale default: centred + whitened model, nutpie, compiled once (compile time reported
  apart; the pilot run that finds the whitening is counted as sampling time);
* baseline: ``pm.sample()`` with PyMC's own NUTS on the naive parametrisation (every named
  parameter a random variable with the same priors, raw inputs).

ESS/s is the smallest bulk ESS over E, A, B, alpha, beta, sigma divided by wall time. Then the
whole-process time of ``bayescale fit`` on the shipped data: cold (empty PyTensor / numba caches)
and warm (the same caches again).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def min_ess(idata, names) -> float:
    import arviz as az

    ess = az.ess(idata.posterior[list(names)], method="bulk")
    return float(min(ess[n] for n in names))


def bench_default(runs, draws, tune):
    import bayescale as bs

    law = bs.ChinchillaLaw()
    fit = law.fit(runs, draws=draws, tune=tune, chains=4, seed=0)
    t = fit.settings["timing"]
    sampling = t["pilot_s"] + t["sampling_s"]
    ess = min_ess(fit.idata, law.sampled_params)
    steps = float(fit.idata.sample_stats["n_steps"].mean())
    return {
        "compile_s": t["compile_s"],
        "sampling_s": sampling,
        "min_ess": ess,
        "ess_per_s": ess / sampling,
        "ess_per_s_with_compile": ess / (sampling + t["compile_s"]),
        "steps_per_draw": steps,
        "divergences": fit.diagnostics["divergences"],
        "max_rhat": fit.diagnostics["max_rhat"],
    }


def bench_pymc_naive(runs, draws, tune):
    import pymc as pm

    import bayescale as bs
    from bayescale.sampling import build_naive_model

    law = bs.ChinchillaLaw()
    model = build_naive_model(law, runs)
    t0 = time.perf_counter()
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=4,
            cores=2,
            random_seed=0,
            progressbar=False,
            compute_convergence_checks=False,
        )
    wall = time.perf_counter() - t0
    ess = min_ess(idata, law.sampled_params)
    steps = float(idata.sample_stats["n_steps"].mean())
    return {
        "sampling_s": wall,
        "min_ess": ess,
        "ess_per_s": ess / wall,
        "steps_per_draw": steps,
        "divergences": int(idata.sample_stats["diverging"].sum()),
    }


def bench_cli() -> dict[str, float]:
    exe = Path(sys.executable).parent / "bayescale"
    cmd = [
        str(exe),
        "fit",
        str(ROOT / "data" / "chinchilla.csv"),
        "--exclude-top-loss",
        "5",
        "--seed",
        "0",
        "--no-progress",
    ]
    out = {}
    with tempfile.TemporaryDirectory() as caches:
        env = dict(
            os.environ,
            PYTENSOR_FLAGS=f"base_compiledir={caches}/pytensor",
            NUMBA_CACHE_DIR=f"{caches}/numba",
        )
        # cold: empty PyTensor / numba caches (a fresh machine, Python's bytecode aside);
        # warm: the same command again, reading them
        for label in ("cold", "warm", "warm again"):
            with tempfile.TemporaryDirectory() as res:
                t0 = time.perf_counter()
                subprocess.run(
                    [*cmd, "--out", f"{res}/fit"],
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                out[label] = time.perf_counter() - t0
                timing = json.loads(Path(f"{res}/fit/fit.json").read_text())["settings"]["timing"]
                out[f"{label} compile"] = timing["compile_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--skip-cli", action="store_true")
    args = parser.parse_args()

    import bayescale as bs
    from bayescale.datasets import load_chinchilla

    runs = load_chinchilla(replication_subset=True)
    print(
        f"bayescale {bs.__version__}; {len(runs)} Chinchilla runs; 4 chains x {args.draws} draws "
        f"(+{args.tune} tune); {os.cpu_count()} cores"
    )
    d = bench_default(runs, args.draws, args.tune)
    b = bench_pymc_naive(runs, args.draws, args.tune)
    rows = [
        ("", "bayescale default (nutpie, whitened)", "PyMC NUTS, naive"),
        ("sampling wall time [s]", f"{d['sampling_s']:.2f}", f"{b['sampling_s']:.1f}"),
        ("compile time [s]", f"{d['compile_s']:.1f}", "(in wall time)"),
        ("min bulk ESS", f"{d['min_ess']:.0f}", f"{b['min_ess']:.0f}"),
        ("leapfrog steps / draw", f"{d['steps_per_draw']:.1f}", f"{b['steps_per_draw']:.1f}"),
        ("divergences", f"{d['divergences']}", f"{b['divergences']}"),
        ("ESS/s (sampling)", f"{d['ess_per_s']:.0f}", f"{b['ess_per_s']:.1f}"),
        ("ESS/s (incl. compile)", f"{d['ess_per_s_with_compile']:.0f}", f"{b['ess_per_s']:.1f}"),
    ]
    width = max(len(r[0]) for r in rows)
    for r in rows:
        print(f"{r[0]:<{width}}  {r[1]:>38}  {r[2]:>18}")
    print(
        f"speed-up in ESS/s, sampling: {d['ess_per_s'] / b['ess_per_s']:.0f}x; "
        f"including bayescale's compile: {d['ess_per_s_with_compile'] / b['ess_per_s']:.1f}x"
    )
    if not args.skip_cli:
        c = bench_cli()
        print(
            f"whole-process `bayescale fit data/chinchilla.csv` (4 x 1000): cold caches "
            f"{c['cold']:.1f} s, warm caches {c['warm']:.1f} s and {c['warm again']:.1f} s"
        )
        cold = d["min_ess"] / (d["sampling_s"] + c["cold compile"])
        print(
            f"compile in those runs: cold {c['cold compile']:.1f} s, warm "
            f"{c['warm compile']:.1f} s and {c['warm again compile']:.1f} s; ESS/s with the "
            f"cold compile {cold:.0f}: {cold / b['ess_per_s']:.1f}x PyMC's"
        )


if __name__ == "__main__":
    main()
