"""The ``across_datasets`` prior set: learned from the shipped data sets, tested leaving each out.

Usage: python scripts/learned_prior.py [--out docs/learned_prior.md] [--cache results/learned_prior]

1. Each shipped data set is fitted on all its runs with its default law and noise model
   (Chinchilla; Porian's ten IsoFLOP configurations, each on its own and counted together as one
   data set; datablations with the data-constrained law; the OLMo ladder's 30 runs).
2. ``bayescale.learned_priors.learn_priors`` turns the four into a prior for a new data set
   (a random-effects meta-analysis per parameter): the numbers of the ``across_datasets`` set
   of ``bayescale.laws.chinchilla`` (set by hand from this output, rounded).
3. Leave one data set out: the prior is learned from the other three and the held-out set's
   backtests (the splits of ``scripts/backtest_table.py``) are run with it and with the default
   priors, side by side.

Fits and backtests are cached (``--cache``), so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from study_data import collect, markdown, splits  # noqa: E402

import bayescale as bs  # noqa: E402
from bayescale.backtest import backtest  # noqa: E402
from bayescale.io import atomic_write_text  # noqa: E402
from bayescale.learned_priors import learn_priors  # noqa: E402
from bayescale.priors import priors_to_dict  # noqa: E402

#: Data set -> the backtest splits (keys of study_data.splits) that test a prior without it.
HELD_OUT_SPLITS = {
    "chinchilla": ["chinchilla"],
    "porian": ["porian"],
    "datablations": ["datablations"],
    "olmo": ["olmo", "olmo16"],
}


def _fits(all_splits: dict, cache: Path) -> dict[str, list]:
    """Each data set's fits to all its runs (its LOO tables), cached as fit directories."""
    out = {}
    for study in HELD_OUT_SPLITS:
        split = all_splits[study]
        fits = []
        for i, runs in enumerate(split["loo_runs"]):
            path = cache / "fits" / f"{study}-{i}"
            if not (path / "fit.json").exists():
                fit = split["law"]().fit(runs, seed=0, drift=False)
                fit.save(path)
                print("fitted", study, i, fit.diagnostics["ok"], file=sys.stderr, flush=True)
            fits.append(bs.load_fit(path))
        out[study] = fits
    return out


def _backtest(split: dict, priors: dict | None) -> dict:
    results = [backtest(split["law"](priors=priors), r, seed=0, **kw) for r, kw in split["cases"]]
    return {**collect(results), "all converged": all(r["diagnostics_ok"] for r in results)}


def _prior_cell(prior) -> str:
    p = prior.parameters
    if "mu" not in p:
        return f"{prior.distribution}({p['sigma']:.3g})"
    return f"{prior.distribution}({p['mu']:.4g}, {p['sigma']:.3g})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "learned_prior.md")
    parser.add_argument("--cache", type=Path, default=ROOT / "results" / "learned_prior")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    all_splits = splits(ROOT)
    fits = _fits(all_splits, args.cache)
    learned = learn_priors(fits)
    print(learned.spread, file=sys.stderr)
    rows, without_sets = [], {}
    for study, keys in HELD_OUT_SPLITS.items():
        without = learn_priors({k: v for k, v in fits.items() if k != study})
        without_sets[study] = without
        for key in keys:
            for label, priors in (("default priors", None), ("learned without it", without)):
                path = args.cache / f"{key}--{label.replace(' ', '_')}.json"
                if not path.exists():
                    p = None if priors is None else priors.priors
                    res = {**_backtest(all_splits[key], p), "priors": priors_to_dict(p or {})}
                    atomic_write_text(path, json.dumps(res, indent=1))
                    print(key, label, res, file=sys.stderr, flush=True)
                res = json.loads(path.read_text())
                res.pop("priors")
                rows.append({"split": all_splits[key]["title"], "priors": label, **res})
    text = _document(learned, fits, without_sets, pd.DataFrame(rows))
    atomic_write_text(args.out, text)
    print(text)


def _document(learned, fits, without_sets, table) -> str:
    est = learned.estimates
    params = list(learned.spread.index)
    lines = ["| data set | fits | " + " | ".join(params) + " |", "|---|---|" + "---|" * len(params)]
    for study in est.index:
        cells = [
            f"{est.loc[study, (p, 'mean')]:.3g} ± {est.loc[study, (p, 'sd')]:.2g}" for p in params
        ]
        lines.append(f"| {study} | {len(fits[study])} | " + " | ".join(cells) + " |")
    spread = [
        "| parameter | scale | prior mean | prior sd | spread tau (median) | default prior |",
        "|---|---|---|---|---|---|",
    ]
    for p, r in learned.spread.iterrows():
        spread.append(
            f"| {p} | {r['scale']} | {r['mean']:.4g} | {r['sd']:.3g} | {r['tau']:.3g} | "
            f"{_prior_cell(fits['chinchilla'][0].law.default_law_priors()[p])} |"
        )
    lodo = ["| data set left out | " + " | ".join(params) + " |", "|---|" + "---|" * len(params)]
    for study, lp in without_sets.items():
        lodo.append(f"| {study} | " + " | ".join(_prior_cell(lp.priors[p]) for p in params) + " |")
    return (
        "# The `across_datasets` prior set\n\n"
        "Written by `python scripts/learned_prior.py`. Each data set's posterior mean ± sd "
        "(amplitudes A, B on the log scale; fits to all runs, default law and noise, no drift):\n\n"
        + "\n".join(lines)
        + "\n\nThe prior for a new data set (random-effects meta-analysis, "
        "`bayescale.learned_priors`), from all four:\n\n"
        + "\n".join(spread)
        + "\n\nLearned leaving one data set out (what its backtests below use):\n\n"
        + "\n".join(lodo)
        + "\n\nBacktests of each data set with the prior learned without it, beside the default "
        "priors (the splits of the [backtest table](backtest_table.md)):\n\n" + markdown(table)
    )


if __name__ == "__main__":
    main()
