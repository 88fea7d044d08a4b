"""Sampling along the E-alpha ridge: E reached through the law's level, against E itself.

Usage: python benchmarks/bench_ridge.py [--seeds 3] [--out FILE.md]

With few model sizes the data pin down the loss at their centre and its slope in N, but not how
the level splits between E and a slowly decaying N term: the posterior is a curved ridge in
``(log E, log a, log alpha)`` and a straight one in ``(level, log a, log alpha)``
(:mod:`bayescale.model`). Each row here is one fit in a fresh process, with the level coordinate
(the default, ``level_param = "E"``) or without it (``level_param = None``: the sampler sees
``log E``), same priors, same data, same seeds, fixed draws (4 chains x 1000 after
1000 tuning steps, no adaptive reruns): the 240 Chinchilla runs (default fit), the OLMo
ladder's 24 final losses of the rungs below 3B (default fit), and their 1492 kept checkpoints
(``likelihood="curve"``, target_accept 0.95). Reported per data set and coordinate, over the
seeds: median min bulk ESS, worst max R-hat, total divergences, median wall time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from study_data import markdown  # noqa: E402

CASES = ("chinchilla", "olmo final losses", "olmo curves")

CHILD = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
import bayescale as bs
from bayescale.laws.chinchilla import ChinchillaLaw
from bayescale.datasets import load_olmo_ladder
case, level, seed = json.loads(sys.argv[1])
if not level:
    ChinchillaLaw.level_param = None
kw = dict(draws=1000, tune=1000)
if case == "chinchilla":
    runs, law = bs.load_runs("data/chinchilla.csv"), ChinchillaLaw()
else:
    curves = bs.load_runs(load_olmo_ladder(curves=True))
    runs = curves[curves["size"] != "3B"]
    law = ChinchillaLaw(likelihood="curve") if case == "olmo curves" else ChinchillaLaw()
    if case == "olmo curves":
        kw["target_accept"] = 0.95
t0 = time.perf_counter()
fit = law.fit(runs, seed=seed, **kw)
d = fit.diagnostics
print(json.dumps({"ess": d["min_ess_bulk"], "rhat": d["max_rhat"], "div": d["divergences"],
                  "wall": time.perf_counter() - t0}))
"""


def measure(case: str, level: bool, seed: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps([case, level, seed])],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default=None, help="also write the table to this file")
    args = parser.parse_args()
    rows = []
    for case in CASES:
        for level in (True, False):
            got = [measure(case, level, seed) for seed in range(args.seeds)]
            rows.append(
                {
                    "data": case,
                    "E sampled through": "the level (default)" if level else "log E",
                    "median min bulk ESS": round(float(np.median([g["ess"] for g in got]))),
                    "worst max R-hat": f"{max(g['rhat'] for g in got):.3f}",
                    "divergences (all seeds)": sum(int(g["div"]) for g in got),
                    "median wall (s)": round(float(np.median([g["wall"] for g in got])), 1),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    table = markdown(pd.DataFrame(rows))
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
