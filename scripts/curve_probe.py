"""Probe of curve models on the OLMo ladder's checkpoints (issue #17; point estimates, seconds).

Usage: python scripts/curve_probe.py

Model probed: a checkpoint at d tokens of a run planned for T has loss
``L(N, d) + C * g``, where ``L`` is Chinchilla's law of final losses and ``g`` the schedule's
remaining anneal (1 at the peak learning rate, 0 at the run's end: from the ``lr`` column).

1. With ``L`` fixed at the Huber fit to the final losses of the rungs below 3B: the residual sd of
   the rungs' checkpoints after the best ``C``, under two rules for which checkpoints count:
   past 10% of the run (the Hitchhiker's guide's rule), and also at least as many tokens per
   parameter as the shortest run's final checkpoint (the law's own range).
2. ``L`` and ``C`` fitted jointly to the rung checkpoints (second rule): by least squares, and by
   maximum likelihood with run offsets and OU noise in log tokens (``bayescale.curve_noise``);
   each predicting the six 3B runs' final losses, beside the fit to final losses alone.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
from scipy.optimize import minimize, minimize_scalar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bayescale as bs  # noqa: E402
from bayescale.curve_noise import curve_layout, curve_logp  # noqa: E402
from bayescale.datasets import load_olmo_ladder  # noqa: E402
from bayescale.pointfit import huber_fit  # noqa: E402


def _loss(t, n, d, g):
    log_e, log_a, log_b, alpha, beta, c = t[:6]
    return (
        np.exp(log_e) + np.exp(log_a - alpha * np.log(n)) + np.exp(log_b - beta * np.log(d)) + c * g
    )


def _errors(pred, actual) -> str:
    err = np.abs(np.asarray(pred) / np.asarray(actual) - 1)
    return f"median rel. error {np.median(err):.4f}, max {err.max():.4f}"


def _fit(objective, start):
    o = minimize(objective, start, method="L-BFGS-B")
    return minimize(objective, o.x, method="Nelder-Mead", options=dict(maxiter=40000, maxfev=40000))


#: Other schedule terms, the same ML fit (t[9]: the extra exponent where there is one).
VARIANTS = {
    "C (N / 1e9)^eta g": lambda t, n, d, g, law: law + t[5] * (n / 1e9) ** t[9] * g,
    "C (D / 20 N)^eta g": lambda t, n, d, g, law: law + t[5] * (d / n / 20) ** t[9] * g,
    "data term x (1 + C g)": lambda t, n, d, g, law: (
        law + t[5] * np.exp(t[2] - t[4] * np.log(d)) * g
    ),
    "reducible loss x (1 + C g)": lambda t, n, d, g, law: law + t[5] * (law - np.exp(t[0])) * g,
}


def _variants(train, test, lay, start) -> None:
    n, d, g, y = (train[k].to_numpy() for k in ("N", "D", "g", "loss"))
    for name, form in VARIANTS.items():

        def nll(t, form=form):
            mu = np.log(np.maximum(form(t, n, d, g, _loss(t, n, d, 0.0)), 1e-9))
            s, s_run, ell = np.exp(t[6:9])
            return -curve_logp(np.log(y) - mu, **lay, sigma=s, sigma_run=s_run, ell=ell)

        t = _fit(nll, start).x
        pred = _loss(t, test["N"].to_numpy(), test["D"].to_numpy(), 0.0)
        print(f"  schedule {name}: 3B final losses: {_errors(pred, test['loss'])}")


def main() -> None:
    warnings.simplefilter("ignore")
    curves = load_olmo_ladder(curves=True)
    finals = load_olmo_ladder()
    law = bs.ChinchillaLaw(noise="constant")
    p = huber_fit(law, bs.load_runs(finals[finals["size"] != "3B"]))
    end = curves.groupby("run")["lr"].transform("last")
    peak = curves.groupby("run")["lr"].transform("max")
    curves["g"] = ((curves["lr"] - end) / (peak - end)).clip(0, 1)
    past = curves["D"] >= 0.1 * curves["run_tokens"]
    shortest = (finals["D"] / finals["N"]).min()
    rules = {
        "past 10%": past,
        f"and >= {shortest:.1f} tokens/param": past & (curves["D"] >= shortest * curves["N"]),
    }
    for label, keep in rules.items():
        sub = curves[keep & (curves["size"] != "3B")]
        fixed = p["E"] + p["A"] * sub["N"] ** -p["alpha"] + p["B"] * sub["D"] ** -p["beta"]

        def sse(c, sub=sub, fixed=fixed):
            return float(((np.log(sub["loss"]) - np.log(fixed + c * sub["g"])) ** 2).sum())

        c = minimize_scalar(sse, bounds=(0, 2), method="bounded").x
        res = np.log(sub["loss"]) - np.log(fixed + c * sub["g"])
        print(f"{label}: {len(sub)} rung checkpoints, C {c:.4f}, residual sd {res.std():.4f}")
    train = curves[rules[list(rules)[1]] & (curves["size"] != "3B")].sort_values(["run", "D"])
    test = finals[finals["size"] == "3B"]
    n, d, g, y = (train[k].to_numpy() for k in ("N", "D", "g", "loss"))
    start = [np.log(p["E"]), np.log(p["A"]), np.log(p["B"]), p["alpha"], p["beta"], 0.05]
    ls = _fit(lambda t: np.sum((np.log(y) - np.log(_loss(t, n, d, g))) ** 2), start)
    lay = curve_layout(train["run"].to_numpy(), d)

    def nll(t):
        mu = np.log(np.maximum(_loss(t, n, d, g), 1e-9))
        s, s_run, ell = np.exp(t[6:9])
        return -curve_logp(np.log(y) - mu, **lay, sigma=s, sigma_run=s_run, ell=ell)

    ml = _fit(nll, list(ls.x) + [np.log(0.003), np.log(0.003), np.log(0.3)])
    for label, t in (("least squares", ls.x), ("ML, run offsets + OU noise", ml.x)):
        pred = _loss(t, test["N"].to_numpy(), test["D"].to_numpy(), 0.0)
        print(
            f"joint on checkpoints, {label}: E {np.exp(t[0]):.3f} alpha {t[3]:.3f} "
            f"beta {t[4]:.3f} C {t[5]:.4f}; 3B final losses: {_errors(pred, test['loss'])}"
        )
    s, s_run, ell = np.exp(ml.x[6:9])
    print(f"  noise: sigma {s:.4f}, sigma_run {s_run:.4f}, ell {ell:.2f} (log tokens)")
    _variants(train, test, lay, list(ml.x) + [0.0])
    pred = law.predict(p, N=test["N"].to_numpy(), D=test["D"].to_numpy())
    print(f"final losses only (Huber): 3B final losses: {_errors(pred, test['loss'])}")


if __name__ == "__main__":
    main()
