"""Noise models compared by PSIS-LOO and by backtests on the four shipped data sets.

Usage: python scripts/noise_study.py [--models offopt constant ...] [--out docs/noise_models.md]
       [--cache results/noise_study] [--quick]

For each data set and noise model (``bayescale.laws.noise``): the expected log predictive
density by PSIS-LOO of a fit to all runs (no drift: LOO scores the runs, not extrapolation), and
the backtests of ``scripts/backtest_table.py`` (the default fit, drift included). Data sets:
Chinchilla (top 20% by compute held out), Porian's ten IsoFLOP configurations (each fitted on
its own, two largest budgets held out; LOO summed over configurations), datablations with the
data-constrained law (top 20% by compute held out), the OLMo ladder (the rungs fitted, the 3B
runs held out; and the paper's 16 rungs to the 3B runs and the 7B target). Each (data set,
model) result is cached as JSON, so an interrupted study resumes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from study_data import collect, markdown, splits  # noqa: E402

from bayescale.backtest import backtest  # noqa: E402
from bayescale.io import atomic_write_text  # noqa: E402

MODELS = {
    "offopt": dict(noise="offopt"),
    "constant": dict(noise="constant"),
    "asym": dict(noise="asym"),
    "size": dict(noise="size"),
    "constant, nu fitted": dict(noise="constant", nu=None),
}


HEADER = """# Noise models: PSIS-LOO and backtests

Written by `python scripts/noise_study.py` (about 40 minutes on 2 cores). For each data set and
noise model (`bayescale.laws.noise`; "constant, nu fitted" is constant noise with the
Student-t's degrees of freedom sampled): `elpd_loo` (higher is better) and its standard error
`se` by PSIS-LOO of a fit to all runs without drift (Porian: summed over its ten
configurations), `pareto_k_bad` (runs with k > 0.7), whether those fits converged; then the
backtest of the default fit (drift included) as in the [backtest table](backtest_table.md).
LOO is scored on one data set at a time: compare rows within a data set only. The OLMo
16-rung split has no LOO row of its own (the ladder's LOO is the row above it). What the
numbers decided: [backtests](backtests.md#noise-models).

"""


def _loo(fits: list) -> dict:
    import arviz as az

    if not fits:  # a split whose data set is scored by another split
        return {"elpd_loo": None, "se": None, "pareto_k_bad": None, "converged": None}
    elpd, se2, bad = 0.0, 0.0, 0
    for fit in fits:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loo = az.loo(fit.idata, pointwise=True)
        elpd += float(loo.elpd_loo)
        se2 += float(loo.se) ** 2
        bad += int(np.sum(np.asarray(loo.pareto_k) > 0.7))
    ok = all(f.diagnostics["ok"] for f in fits)
    return {"elpd_loo": elpd, "se": se2**0.5, "pareto_k_bad": bad, "converged": ok}


def run_one(name: str, split: dict, options: dict, sampling: dict) -> dict:
    law_cls = split["law"]
    t0 = time.perf_counter()
    fits = [law_cls(**options).fit(r, seed=0, drift=False, **sampling) for r in split["loo_runs"]]
    out = {"loo": _loo(fits)}
    results = [
        backtest(law_cls(**options), r, seed=0, **kw, **sampling) for r, kw in split["cases"]
    ]
    out["backtest"] = collect(results)
    out["backtest"]["all converged"] = all(r["diagnostics_ok"] for r in results)
    out["seconds"] = time.perf_counter() - t0
    return out


def _glance(table: pd.DataFrame) -> str:
    """Data sets as rows, models as columns: elpd_loo (se), and the backtest's half-width /
    median error and median relative error."""
    out = []
    for label, cell in (
        ("PSIS-LOO elpd (se); higher is better", lambda r: _elpd(r)),
        (
            "Backtest: 90% coverage / half-width over median error / median relative error",
            lambda r: (
                f"{r['coverage 90%']:.2f} / {r['half-width / median error']:.2f} / "
                f"{r['median abs. rel. error']:.2%}"
            ),
        ),
    ):
        wide = table.assign(cell=[cell(r) for _, r in table.iterrows()]).pivot(
            index="split", columns="noise model", values="cell"
        )
        wide = wide[[m for m in MODELS if m in wide.columns]]
        out.append(f"{label}:\n\n" + markdown(wide.reset_index()))
    return "\n".join(out)


def _elpd(row) -> str:
    if row["elpd_loo"] is None or pd.isna(row["elpd_loo"]):
        return ""
    flag = "" if row["converged"] else " (not converged)"
    return f"{row['elpd_loo']:.1f} ({row['se']:.1f}){flag}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--splits", nargs="+", default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "noise_models.md")
    parser.add_argument("--cache", type=Path, default=ROOT / "results" / "noise_study")
    parser.add_argument("--quick", action="store_true", help="Small draws (a smoke run).")
    args = parser.parse_args()
    sampling = dict(draws=300, tune=300, chains=2) if args.quick else {}
    warnings.simplefilter("ignore")
    args.cache.mkdir(parents=True, exist_ok=True)
    all_splits = splits(ROOT)
    chosen = args.splits or [k for k, v in all_splits.items() if not v.get("pooled")]
    for model in args.models:
        for key in chosen:
            path = args.cache / f"{key}--{model.replace(', ', '-').replace(' ', '_')}.json"
            if path.exists() and not args.quick:
                continue
            res = run_one(key, all_splits[key], MODELS[model], sampling)
            res.update(split=all_splits[key]["title"], model=model)
            atomic_write_text(path, json.dumps(res, indent=1))
            print(model, key, json.dumps(res), file=sys.stderr, flush=True)
    rows = []
    for path in sorted(args.cache.glob("*.json")):
        res = json.loads(path.read_text())
        rows.append(
            {"split": res["split"], "noise model": res["model"], **res["loo"], **res["backtest"]}
        )
    table = pd.DataFrame(rows).sort_values(["split", "elpd_loo"], ascending=[True, False])
    text = HEADER + _glance(table) + "\nEvery number:\n\n" + markdown(table)
    atomic_write_text(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
