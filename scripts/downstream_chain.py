"""The OLMo ladder's 7B target's task accuracies from the two-step chain (issue #18).

Usage: python scripts/downstream_chain.py [--out docs/downstream_chain.md] [--seed 0]
       [--tasks hellaswag mmlu ...] [--link sigmoid] [--ceiling-sd SD]

For each of the paper's eight tasks (Bhagia et al. 2024), from the 16 rungs the paper fits
(190M-1B at 1, 2, 5, 10 xC, no reruns; ``data/olmo_ladder_curves.csv``):

- **bayescale's chain** (:func:`bayescale.fit_chain`): step 1 Chinchilla's law on each run's
  final task loss (bits per byte of the correct answer, converted to nats), step 2 the sigmoid
  link on every checkpoint past 10% of its run, its floor's prior at the task's chance level;
  the 7B target's score predicted by pairing posterior draws (a new run's task loss, then a new
  run's score): median and 90% interval.
- **the point baseline** (as the paper does it): step 1 the Huber fit of the same law to the
  same final losses (:func:`bayescale.pointfit.huber_fit`), step 2 a least-squares sigmoid
  ``a / (1 + exp(-k (L - L0))) + b`` (the paper's bounds, start and "ideal point" of score 1
  at loss 0) on the same checkpoints; the 7B's score is the sigmoid at step 1's loss.

Target: ``data/olmo_ladder_target.csv`` (OLMo 2 7B after its anneal, 3.95T tokens), never
fitted. Also shown: the width of the link's interval at step 1's median loss alone (the chain's
must be wider: both steps' uncertainty propagates). One pass of all eight tasks takes ~10 min
on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from study_data import markdown  # noqa: E402

import bayescale as bs  # noqa: E402
from bayescale.chain import link_scores  # noqa: E402
from bayescale.curves import final_checkpoints, keep_checkpoints  # noqa: E402
from bayescale.datasets import load_olmo_ladder  # noqa: E402
from bayescale.io import atomic_write_text  # noqa: E402
from bayescale.laws.link import CEILING_SD  # noqa: E402
from bayescale.pointfit import huber_fit  # noqa: E402

#: The tasks' chance levels (the OLMo ladder's task minimums).
CHANCE = {
    "mmlu": 0.25,
    "hellaswag": 0.25,
    "arc_challenge": 0.25,
    "arc_easy": 0.25,
    "piqa": 0.5,
    "csqa": 0.2,
    "socialiqa": 1 / 3,
    "openbookqa": 0.25,
}
LN2 = float(np.log(2.0))


def _paper_sigmoid(x, a, x0, k, b):
    return a / (1 + np.exp(-k * (x - x0))) + b


def paper_link(rungs: pd.DataFrame, task: str, ideal_point: bool) -> np.ndarray:
    """The paper's sigmoid from task loss (nats) to accuracy by least squares on the
    checkpoints past 10% of their run (with its ideal point, loss 0 -> accuracy 1)."""
    keep = rungs[keep_checkpoints(bs.load_runs(rungs), 0.1, None)]
    x = keep[f"bpb_{task}"].to_numpy(float) * LN2
    y = keep[f"acc_{task}"].to_numpy(float)
    if ideal_point:
        x, y = np.r_[x, 0.0], np.r_[y, 1.0]
    lo = CHANCE[task]
    p, _ = curve_fit(
        _paper_sigmoid,
        x,
        y,
        p0=[lo - 1.0, 0.9, 3.0, 1.0],
        bounds=([-1.0, 0.0, 0.0, 0.0], [0.0, np.inf, np.inf, 1.0]),
        maxfev=500000,
    )
    return p


def baseline(task: str, rungs: pd.DataFrame, n: float, d: float) -> dict:
    """The paper's two point fits, chained."""
    runs = bs.load_runs(
        final_checkpoints(bs.load_runs(rungs, columns={"loss": f"bpb_{task}"}, loss_unit="bits"))
    )
    point = huber_fit(bs.ChinchillaLaw(noise="constant"), runs)
    loss = float(bs.ChinchillaLaw().predict(point, N=n, D=d))
    p = paper_link(rungs, task, ideal_point=True)
    return {"loss": loss, "score": float(_paper_sigmoid(loss, *p))}


def fit_task(
    task: str, rungs: pd.DataFrame, seed: int, link: str = "sigmoid", ceiling_sd=None
) -> bs.Fit:
    """bayescale's chain for one task on the rungs (the sigmoid's ceiling prior sd
    ``ceiling_sd``, default the link's)."""
    return bs.fit_chain(
        bs.ChinchillaLaw(),
        rungs,
        link=link,
        chance=CHANCE[task],
        ceiling_sd=ceiling_sd,
        columns={"loss": f"bpb_{task}", "score": f"acc_{task}"},
        loss_unit="bits",
        seed=seed,
    )


def chain(
    task: str,
    rungs: pd.DataFrame,
    n: float,
    d: float,
    seed: int,
    link: str,
    ceiling_sd: float | None = None,
) -> dict:
    t0 = time.perf_counter()
    fit = fit_task(task, rungs, seed, link, ceiling_sd)
    seconds = time.perf_counter() - t0
    table = bs.predict_loss(fit, n, d).iloc[0]
    # the link alone at step 1's median loss: what the interval would be without step 1's
    # uncertainty (the chain's must be wider)
    rng = np.random.default_rng(seed)
    only = link_scores(fit.link, np.full((4000, 1), table["loss_new_run_median"]), rng)
    lo, hi = np.quantile(only, [0.05, 0.95])
    return {
        "table": table,
        "link_only_width": float(hi - lo),
        "ok": bool(fit.diagnostics.get("ok")) and bool(fit.link.diagnostics.get("ok")),
        "seconds": seconds,
        "link": fit.link.summary(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "downstream_chain.md"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", nargs="*", default=list(CHANCE))
    parser.add_argument("--link", default="sigmoid", choices=["sigmoid", "exp"])
    parser.add_argument(
        "--ceiling-sd",
        type=float,
        default=None,
        help="the sigmoid's ceiling prior sd below 1 (default: the link's, CEILING_SD)",
    )
    args = parser.parse_args()
    if args.ceiling_sd is not None and args.link != "sigmoid":
        parser.error("--ceiling-sd is the sigmoid link's")
    warnings.simplefilter("ignore")
    curves = load_olmo_ladder(curves=True)
    rungs = curves[curves["paper_subset"]].reset_index(drop=True)
    target = load_olmo_ladder(target=True).iloc[0]
    n, d = float(target["N"]), float(target["D"])
    rows, links = [], []
    for task in args.tasks:
        base = baseline(task, rungs, n, d)
        res = chain(task, rungs, n, d, args.seed, args.link, args.ceiling_sd)
        t = res["table"]
        actual, loss = float(target[f"acc_{task}"]), float(target[f"bpb_{task}"]) * LN2
        lo, med, hi = t["score_lower"], t["score_median"], t["score_upper"]
        rows.append(
            {
                "task": task,
                "actual": round(actual, 3),
                "median [90% interval]": f"{med:.3f} [{lo:.3f}, {hi:.3f}]",
                "inside": "yes" if lo <= actual <= hi else "**no**",
                "rel. error": f"{100 * abs(med / actual - 1):.1f}%",
                "baseline": round(base["score"], 3),
                "baseline rel. error": f"{100 * abs(base['score'] / actual - 1):.1f}%",
                "task loss: actual / median [90%]": (
                    f"{loss:.3f} / {t['loss_new_run_median']:.3f} "
                    f"[{t['loss_new_run_lower']:.3f}, {t['loss_new_run_upper']:.3f}]"
                ),
                "width: chain / link alone": f"{hi - lo:.3f} / {res['link_only_width']:.3f}",
                "converged": "yes" if res["ok"] else "**no**",
                "_err": abs(med / actual - 1),
                "_base": abs(base["score"] / actual - 1),
                "_in": lo <= actual <= hi,
                "_s": res["seconds"],
            }
        )
        link = res["link"].loc[:, ["median", "lower", "upper"]].round(4)
        links.append(
            f"**{task}**: "
            + ", ".join(
                f"{p} {r['median']:g} [{r['lower']:g}, {r['upper']:g}]" for p, r in link.iterrows()
            )
        )
        print(f"{task}: {rows[-1]['median [90% interval]']} actual {actual:.3f}", flush=True)
    frame = pd.DataFrame(rows)
    shown = frame[[c for c in frame.columns if not c.startswith("_")]]
    inside = int(frame["_in"].sum())
    command = f"python scripts/downstream_chain.py --seed {args.seed} --link {args.link}"
    if args.ceiling_sd is not None:
        command += f" --ceiling-sd {args.ceiling_sd:g}"
    priors = "floor prior at the task's chance level"
    if args.link == "sigmoid":
        sd = CEILING_SD if args.ceiling_sd is None else args.ceiling_sd
        priors += (
            f", ceiling prior TruncatedNormal(1, {sd:g}) on [0, 1]: the ideal point, chosen by"
            " held-out 3B runs in [link_ceiling.md](link_ceiling.md)"
        )
    text = f"""# Downstream accuracy of the OLMo ladder's 7B target from the two-step chain

Written by `{command}`; do not edit by hand.

Fitted on the paper's 16 rungs (190M-1B at 1, 2, 5, 10 xC): step 1 Chinchilla's law on each
run's final task loss (bits per byte of the correct answer, in nats), step 2 the {args.link}
link on the {len(rungs[keep_checkpoints(bs.load_runs(rungs), 0.1, None)])} checkpoints past 10%
of their run ({priors}). Predicted: OLMo 2 7B after its anneal
(N = {n:.4g}, D = {d:.4g}), a new run's score, median and 90% interval. Baseline: the paper's
point fits (Huber step 1, least-squares sigmoid step 2 with its ideal point), chained.

| {" | ".join(shown.columns)} |
|{"---|" * len(shown.columns)}
""" + "\n".join("| " + " | ".join(str(v) for v in r) + " |" for r in shown.itertuples(index=False))
    text += (
        f"""

**Inside the 90% interval: {inside} of {len(frame)} tasks** (target: at least 7 of 8).
**Median relative error: chain {100 * frame["_err"].median():.1f}%, baseline
{100 * frame["_base"].median():.1f}%.** Fit time per task (both steps, 2 cores):
{frame["_s"].median():.0f} s median.

The links' parameters, median [90% interval]:

"""
        + "\n".join(f"- {line}" for line in links)
        + "\n"
    )
    atomic_write_text(Path(args.out), text)
    print(markdown(shown) if len(frame) < 3 else "", f"wrote {args.out}", sep="\n")


if __name__ == "__main__":
    main()
