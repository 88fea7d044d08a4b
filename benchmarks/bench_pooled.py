"""Partially pooled fits at default settings: 20 simulated groups, and Porian's ten configurations.

Usage: python benchmarks/bench_pooled.py [--groups 20] [--seed 1] [--skip-porian]

Each fit runs as a user's would (`law.fit(runs, seed=...)`: the adaptive default, which reruns
with more draws at a higher target_accept while the diagnostics fail), in one process, and is
reported side by side: wall time and its parts, the draws and target_accept the fit ended with,
max R-hat, min bulk and tail ESS over every sampled parameter, divergences, and whether the
fit's own checks passed.

1. Chinchilla's law pooled across ``--groups`` groups simulated from a population (exponents
   LogNormal around alpha 0.34 and beta 0.28 with sd 0.08 on the log scale, E from 1.4 to 2.0),
   each an IsoFLOP sweep of 5 budgets x 6 sizes (1e18-1e20 FLOPs), noise sd 0.01.
2. The IsoFLOP law pooled across Porian et al.'s ten configurations (``data/porian_isoflop.csv``,
   the CLI's ``bayescale fit data/porian_isoflop.csv --law isoflop --pooling partial``): the
   default (``centred="auto"``: the form chosen from the pilot run, :mod:`bayescale.centring`)
   and the two forms it chooses between, ``centred="all"`` (every exponent's population
   centred, gamma through each group's frontier; see :mod:`bayescale.model`) and the pilot's
   form (only the frontier exponent ``a`` centred, the default before ``auto``).
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

from study_data import markdown  # noqa: E402

import bayescale as bs  # noqa: E402
from bayescale.datasets import data_dir  # noqa: E402
from bayescale.simulate import isoflop_design, simulate_runs  # noqa: E402


def simulated_groups(groups: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    design = isoflop_design([1e18, 3e18, 1e19, 3e19, 1e20], 6)
    law = bs.ChinchillaLaw(noise="constant")
    parts = []
    for g in range(groups):
        truth = dict(
            E=float(rng.uniform(1.4, 2.0)),
            A=float(np.exp(rng.normal(np.log(400.0), 0.3))),
            B=float(np.exp(rng.normal(np.log(1000.0), 0.3))),
            alpha=float(np.exp(rng.normal(np.log(0.34), 0.08))),
            beta=float(np.exp(rng.normal(np.log(0.28), 0.08))),
            sigma=0.01,
        )
        runs = simulate_runs(law, truth, design, seed=seed * 1000 + g)
        parts.append(runs.assign(group=f"g{g:02d}"))
    return pd.concat(parts, ignore_index=True)


def row(label: str, fit, wall: float) -> dict:
    import arviz as az

    names = [*fit.law.sampled_params, *fit.law.hyper_params]
    post = fit.posterior[names]
    sampling = fit.settings["sampling"]
    timing = fit.settings["timing"]
    return {
        "fit": label,
        "runs": len(fit.runs),
        "wall s": round(wall, 1),
        "compile s": round(timing.get("compile_s", 0.0), 1),
        "sampling s": round(timing.get("sampling_s", 0.0), 1),
        "draws/chain": fit.settings["draws"],
        "target_accept": sampling.get("target_accept_used"),
        "max R-hat": round(float(az.rhat(post).to_array().max()), 3),
        "min bulk ESS": round(float(az.ess(post).to_array().min())),
        "min tail ESS": round(float(az.ess(post, method="tail").to_array().min())),
        "divergences": fit.diagnostics["divergences"],
        "ok": fit.diagnostics["ok"],
        "form (auto)": " ".join(sampling.get("centring", {}).get("centred", [])) or "-",
        "runs sampled (draws @ target_accept: outcome)": "; ".join(
            f"{r['draws']} @ {r['target_accept']:g}: "
            + (", ".join(p.split(":")[0] for p in r["problems"]) or "ok")
            for r in sampling.get("runs", [])
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-porian", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    rows = []
    runs = simulated_groups(args.groups, args.seed)
    t0 = time.perf_counter()
    fit = bs.ChinchillaLaw(pooling="partial").fit(runs, seed=args.seed)
    rows.append(row(f"chinchilla, {args.groups} simulated groups", fit, time.perf_counter() - t0))
    print(rows[-1], flush=True)
    if not args.skip_porian:
        porian = pd.read_csv(data_dir() / "porian_isoflop.csv")
        forms = {  # the default (auto), then the two forms it chooses between
            "isoflop, Porian's 10 configurations (default: centred='auto')": "auto",
            "isoflop, Porian's 10 configurations, centred='all'": "all",
            "isoflop, Porian's 10 configurations, centred=['a'] (the pilot's form)": ["a"],
        }
        for label, centred in forms.items():
            t0 = time.perf_counter()
            law = bs.IsoFLOPLaw(pooling="partial", centred=centred)
            fit = law.fit(bs.load_runs(porian), seed=args.seed)
            rows.append(row(label, fit, time.perf_counter() - t0))
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    print(markdown(table))


if __name__ == "__main__":
    main()
