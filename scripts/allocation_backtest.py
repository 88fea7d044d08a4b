"""Allocation backtest: a fit's compute-optimal model size against held-out IsoFLOP budgets.

Usage: python scripts/allocation_backtest.py [--out docs/allocation_backtest.md] [--n-boot 200]
       [--seed 1] [--degree 2] [--quick]

Loss predictions are backtested (``scripts/backtest_table.py``); the allocation answers (N*, D*,
tokens per parameter) were not. A held-out IsoFLOP budget measures its own compute-optimal size:
the minimum of a parabola of loss in ``log N`` through its runs (``approaches.profile_minima``,
Approach 2's estimate, with a bootstrap sd over the budget's runs). The splits are
``backtest_table.py``'s (``study_data.py``): Chinchilla's runs with the top 20% by compute held
out; each of Porian et al.'s ten configurations with its two largest budgets held out. Each
training set is fitted with the default Chinchilla law; for every held-out budget with an
interior minimum:

- ``log N*`` from the posterior (the law's closed form per draw, ``C = k N D``) against the
  budget's ``log N_min``: error of the median, and ``z`` = error / sqrt(posterior sd^2 +
  bootstrap sd^2);
- covered: |z| <= 1.645 (the two agree within a 90% band of both uncertainties); inside: N_min
  inside the posterior's 90% interval (the posterior's own claim);
- with the drift: the same, N* widened by the allocation drift (``bayescale.alloc_drift``) the
  fit learned from its own training runs, under a prior whose scale is learned from the other
  data sets only (leave-one-data-set-out; the shipped scale saw every data set);
- the baseline, Approach 2 on the training budgets: a line through their (log C, log N_min),
  extrapolated with its 90% prediction interval.

Tokens per parameter at a budget is ``C / (k N^2)``: its log error is -2x N*'s, so N*'s coverage
is also tokens per parameter's.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from allocation_drift_prior import residual_sets  # noqa: E402
from study_data import splits  # noqa: E402

import bayescale as bs  # noqa: E402
from bayescale.alloc_drift import allocation_drift_from, with_allocation_drift  # noqa: E402
from bayescale.approaches import profile_minima  # noqa: E402
from bayescale.drift import prior_scale  # noqa: E402
from bayescale.io import atomic_write_text  # noqa: E402
from bayescale.predict import fit_k  # noqa: E402
from bayescale.splits import split_by_compute  # noqa: E402

Z90 = stats.norm.ppf(0.95)


def baseline(train_minima: pd.DataFrame, compute: float) -> tuple[float, float, float]:
    """Approach 2 extrapolated: OLS of log N_min on log C over the training budgets; the
    prediction at ``compute`` and its 90% prediction interval (Student-t)."""
    x = np.log(train_minima["compute"].to_numpy(float))
    y = train_minima["log_N_min"].to_numpy(float)
    n = len(x)
    if n < 3:
        return np.nan, np.nan, np.nan
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (intercept + slope * x)
    s = np.sqrt(resid @ resid / (n - 2))
    x0 = np.log(compute)
    se = s * np.sqrt(1 + 1 / n + (x0 - x.mean()) ** 2 / ((x - x.mean()) ** 2).sum())
    t = stats.t.ppf(0.95, n - 2)
    pred = intercept + slope * x0
    return pred, pred - t * se, pred + t * se


def backtest_case(name: str, runs: pd.DataFrame, split: dict, args) -> list[dict]:
    train, test, _ = split_by_compute(runs, **split)
    held = profile_minima(test, degree=args.degree, n_boot=args.n_boot, seed=args.seed)
    if held.empty:
        return []
    trained = profile_minima(train, degree=args.degree, n_boot=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bs.ChinchillaLaw().fit(train, seed=args.seed, **args.sampling)
    k = fit_k(fit)
    draws = fit.draws()
    c = held["compute"].to_numpy(float)
    n_opt = np.asarray(fit.law.optimal_allocation(draws, c[None, :], k=k)["N_opt"], dtype=float)
    log_n = np.log(n_opt)  # (draws, budgets)
    # the drift as the fit learned it from its own training runs, under a prior whose scale
    # was learned without this data set (leave-one-data-set-out: the shipped scale saw it)
    own = fit.settings["drift"]["allocation"]
    fit.settings["drift"]["allocation"] = allocation_drift_from(own, args.loo_scale[name])
    rng = np.random.default_rng(args.seed)
    log_n_drift = np.log(with_allocation_drift(fit, n_opt, c[None, :], rng))
    tau = fit.settings["drift"]["allocation"]["tau"]
    rows = []
    for j, budget in held.iterrows():
        d = log_n[:, j]
        med, sd = float(np.median(d)), float(d.std(ddof=1))
        lo, hi = np.quantile(d, [0.05, 0.95])
        err = med - budget.log_N_min
        z = err / np.hypot(sd, budget.log_N_min_sd)
        dd = log_n_drift[:, j]
        d_lo, d_hi = np.quantile(dd, [0.05, 0.95])
        d_z = (float(np.median(dd)) - budget.log_N_min) / np.hypot(
            float(dd.std(ddof=1)), budget.log_N_min_sd
        )
        b_pred, b_lo, b_hi = baseline(trained, budget.compute)
        b_z = (b_pred - budget.log_N_min) / np.hypot((b_hi - b_lo) / (2 * Z90), budget.log_N_min_sd)
        rows.append(
            {
                "data": name,
                "compute": budget.compute,
                "x compute": budget.compute / train["C"].max(),
                "N_min": budget.N_min,
                "N* median": float(np.exp(med)),
                "log error": err,
                "posterior sd": sd,
                "bootstrap sd": budget.log_N_min_sd,
                "z": z,
                "covered": bool(abs(z) <= Z90),
                "inside": bool(lo <= budget.log_N_min <= hi),
                "drift tau": tau,
                "drift covered": bool(abs(d_z) <= Z90),
                "drift inside": bool(d_lo <= budget.log_N_min <= d_hi),
                "drift sd": float(dd.std(ddof=1)),
                "baseline log error": b_pred - budget.log_N_min,
                "baseline covered": bool(abs(b_z) <= Z90) if np.isfinite(b_z) else None,
                "rhat ok": bool(fit.diagnostics["ok"]),
            }
        )
    return rows


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    def one(part: pd.DataFrame) -> pd.Series:
        base = part["baseline covered"].dropna()
        return pd.Series(
            {
                "budgets": len(part),
                "covered (90% joint band)": part["covered"].mean(),
                "N_min inside the 90% interval": part["inside"].mean(),
                "with the drift: covered": part["drift covered"].mean(),
                "with the drift: inside": part["drift inside"].mean(),
                "median sd with the drift": part["drift sd"].median(),
                "median log error": part["log error"].median(),
                "median |log error|": part["log error"].abs().median(),
                "median posterior sd": part["posterior sd"].median(),
                "median bootstrap sd": part["bootstrap sd"].median(),
                "baseline covered": base.mean() if len(base) else np.nan,
                "baseline median |log error|": part["baseline log error"].abs().median(),
            }
        )

    table = rows.groupby("set", sort=False).apply(one, include_groups=False)
    table.loc["all"] = one(rows)
    return table


def fmt(table: pd.DataFrame, digits: int = 3) -> str:
    head = "| " + " | ".join([table.index.name or "", *table.columns]) + " |"
    lines = [head, "|" + "---|" * (len(table.columns) + 1)]
    for idx, row in table.iterrows():
        cells = []
        for v in row:
            if isinstance(v, (bool, np.bool_)):
                cells.append("yes" if v else "no")
            elif isinstance(v, (int, np.integer)):
                cells.append(str(v))
            elif isinstance(v, float):
                cells.append("" if np.isnan(v) else f"{v:.{digits}g}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join([str(idx), *cells]) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "allocation_backtest.md")
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--degree", type=int, default=2, help="3: cubic profiles")
    parser.add_argument("--quick", action="store_true", help="500 draws, no adaptive reruns")
    args = parser.parse_args()
    args.sampling = dict(draws=500, tune=500) if args.quick else {}
    t0 = time.perf_counter()
    full = residual_sets()  # each data set's own allocation residuals, for the priors
    args.loo_scale = {
        name.removeprefix("porian "): prior_scale([v for k, v in full.items() if k != name])[
            "scale"
        ]
        for name in full
    }
    all_splits = splits(ROOT)
    rows = []
    for key in ("chinchilla", "porian"):
        for i, (runs, split) in enumerate(all_splits[key]["cases"]):
            name = key if key == "chinchilla" else str(runs["group"].iloc[0])
            for row in backtest_case(name, runs, split, args):
                rows.append({"set": key, **row})
            print(f"{key} {i}: {len(rows)} budgets so far, {time.perf_counter() - t0:.0f} s")
    table = pd.DataFrame(rows)
    overview = summary(table)
    overview.index.name = "split"
    detail = table.drop(columns=["set"]).set_index("data")
    detail.index = detail.index.str.replace("|", "/")  # Porian's names would split the table
    text = "\n\n".join(
        [
            "# Allocation backtest",
            "Generated by `python scripts/allocation_backtest.py"
            + (" --quick" if args.quick else "")
            + f" --n-boot {args.n_boot} --seed {args.seed} --degree {args.degree}`"
            + f" ({time.perf_counter() - t0:.0f} s). "
            + "What it measures: the script's docstring.",
            fmt(overview),
            "Each held-out budget:",
            fmt(detail),
        ]
    )
    atomic_write_text(args.out, text + "\n")
    print(fmt(overview))


if __name__ == "__main__":
    main()
