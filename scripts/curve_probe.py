"""Probe of curve models on the OLMo ladder's checkpoints (issue #17; no sampling, seconds).

Usage: python scripts/curve_probe.py

1. The law fitted (Huber) to the final losses of the rungs below 3B; each checkpoint past 10% of
   its run compared with the law at its tokens: how much of the gap a schedule term explains
   (kappa * g with g from the learning rate, a cosine in d / T, or linear in 1 - d / T), kappa per
   model size, and the remaining noise's structure (run offsets + OU noise in log tokens, by
   maximum likelihood with ``bayescale.curve_noise``).
2. The law and kappa fitted jointly to all rung checkpoints by least squares, predicting the 3B
   runs' final losses, beside the final-losses-only fit.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bayescale as bs  # noqa: E402
from bayescale.curve_noise import curve_layout, curve_logp  # noqa: E402
from bayescale.datasets import load_olmo_ladder  # noqa: E402
from bayescale.pointfit import huber_fit  # noqa: E402


def _log_law(t, n, d):
    e, log_a, log_b, alpha, beta = t[:5]
    return np.log(np.exp(e) + np.exp(log_a - alpha * np.log(n)) + np.exp(log_b - beta * np.log(d)))


def main() -> None:
    warnings.simplefilter("ignore")
    curves = load_olmo_ladder(curves=True)
    finals = load_olmo_ladder()
    law = bs.ChinchillaLaw(noise="constant")
    p = huber_fit(law, bs.load_runs(finals[finals["size"] != "3B"]))
    print("final-loss law (rungs):", {k: round(float(v), 4) for k, v in p.items()})
    c = curves[curves["D"] >= 0.1 * curves["run_tokens"]].copy()
    c["r"] = np.log(c["loss"]) - np.log(law.predict(p, N=c["N"].to_numpy(), D=c["D"].to_numpy()))
    x = c["D"] / c["run_tokens"]
    end = c.groupby("run")["lr"].transform("last")
    peak = c.groupby("run")["lr"].transform("max")
    c["g_lr"] = (c["lr"] - end) / (peak - end)
    c["g_cos"] = (1 + np.cos(np.pi * x)) / 2
    c["g_lin"] = 1 - x
    for label, sub in (("rungs", c[c["size"] != "3B"]), ("3B", c[c["size"] == "3B"])):
        print(f"{label}: {len(sub)} checkpoints, residual sd {sub['r'].std():.4f}")
        for g in ("g_lr", "g_cos", "g_lin"):
            k = (sub[g] * sub["r"]).sum() / (sub[g] ** 2).sum()
            print(f"  {g}: kappa {k:.4f}, residual sd after it {(sub['r'] - k * sub[g]).std():.4f}")
    kappa = c.groupby("size").apply(lambda s: (s["g_lr"] * s["r"]).sum() / (s["g_lr"] ** 2).sum())
    print("kappa (g_lr) per size:", kappa.round(4).to_dict())
    sub = c[c["size"] != "3B"].sort_values(["run", "D"])
    k = (sub["g_lr"] * sub["r"]).sum() / (sub["g_lr"] ** 2).sum()
    res = (sub["r"] - k * sub["g_lr"]).to_numpy()
    lay = curve_layout(sub["run"].to_numpy(), sub["D"].to_numpy())

    def nll(t):
        return -curve_logp(res, **lay, sigma=np.exp(t[0]), sigma_run=np.exp(t[1]), ell=np.exp(t[2]))

    o = minimize(nll, [np.log(0.01), np.log(0.01), 0.0], method="Nelder-Mead")
    print("noise after g_lr: sigma, sigma_run, ell =", np.exp(o.x).round(4).tolist())
    train, test = c[c["size"] != "3B"], finals[finals["size"] == "3B"]
    for kind in ("g_lr", "g_cos", "none"):
        g = 0.0 if kind == "none" else train[kind].to_numpy()

        def sse(t, g=g):
            mu = _log_law(t, train["N"].to_numpy(), train["D"].to_numpy())
            return np.sum((np.log(train["loss"].to_numpy()) - mu - t[5] * g) ** 2)

        t0 = [np.log(p["E"]), np.log(p["A"]), np.log(p["B"]), p["alpha"], p["beta"], 0.03]
        o = minimize(sse, t0, method="L-BFGS-B")
        o = minimize(sse, o.x, method="Nelder-Mead", options=dict(maxiter=20000))
        pred = np.exp(_log_law(o.x, test["N"].to_numpy(), test["D"].to_numpy()))
        err = np.abs(pred / test["loss"].to_numpy() - 1)
        print(
            f"joint on checkpoints, schedule {kind}: alpha {o.x[3]:.3f} beta {o.x[4]:.3f} "
            f"kappa {o.x[5] if kind != 'none' else float('nan'):.4f}; 3B final losses: median "
            f"rel. error {np.median(err):.4f}, "
            f"max {err.max():.4f}"
        )
    pred = law.predict(p, N=test["N"].to_numpy(), D=test["D"].to_numpy())
    err = np.abs(pred / test["loss"].to_numpy() - 1)
    print(f"final losses only: median rel. error {np.median(err):.4f}, max {err.max():.4f}")


if __name__ == "__main__":
    main()
