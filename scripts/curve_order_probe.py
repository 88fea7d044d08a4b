"""Probe for issue #17 (Bayesian, outside the package; ~80 s a variant on 2 cores): what moves the
curve model's predictions of the OLMo ladder's 3B runs and 7B target.

Usage: python scripts/curve_order_probe.py [--shared] [--shape none|gt|gtn] [--knots 12]

Model of the kept checkpoints of the rungs 190M-1B (``curves.keep_checkpoints``), in the
textbook parametrisation sampled by nutpie with a low-rank mass matrix (read R-hat and the
divergences before the numbers): ``log loss = log(L(N, d) + gap) + delta + b_run + e`` with
Chinchilla's ``L``, run offsets and OU noise along each run integrated out
(``bayescale.curve_noise``), and

- ``--shape``: the schedule gap ``C g`` (``none``), ``C g^p (T / 20 N)^a`` (``gt``, what
  bayescale ships as ``curve_noise.schedule_gap``), or that times ``(N / 1e9)^b`` (``gtn``);
- ``--shared``: a deviation ``delta`` shared by the runs of one model size (they share their data
  order), a stationary OU process in log tokens on ``--knots`` knots per size with a learned
  scale ``sigma_size`` and length ``ell_size`` (non-centred), linear between knots.

Prints the posterior summary and, for 90% intervals of a new run (a new size's ``delta`` drawn
from its stationary law), coverage, mean half-width and median relative error of (a) the 3B
runs' checkpoints past 10% of their run and (b) the six 3B final losses and the 7B target's.
Measured (2026-11-27, seed 1), median relative error of (b): none 1.07%; ``--shared`` 0.57-0.83%
in two runs of the same model (``sigma_size`` 0.004; not converged: R-hat of E and alpha up to
1.3, over 100 divergences); ``--shape gt`` 0.30% (R-hat 1.06 on the E-alpha ridge, 47
divergences); ``gt --shared`` 0.70%; ``gtn`` 0.34% (``b`` 0.05 +- 0.09).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from curve_bayes_probe import score  # noqa: E402  (the same held-out summary)

from bayescale.curve_noise import curve_layout, curve_logp  # noqa: E402
from bayescale.curves import keep_checkpoints, schedule_remaining  # noqa: E402
from bayescale.datasets import load_olmo_ladder  # noqa: E402


def _knots(logd: np.ndarray, size: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the index of the knot below (flattened over sizes) and the weight of the one
    above; per size: the knot spacing."""
    below, weight, step = np.zeros(len(logd), int), np.zeros(len(logd)), np.zeros(size.max() + 1)
    for s in range(size.max() + 1):
        rows = size == s
        grid = np.linspace(logd[rows].min(), logd[rows].max(), k)
        step[s] = grid[1] - grid[0]
        i = np.clip(np.searchsorted(grid, logd[rows]) - 1, 0, k - 2)
        below[rows], weight[rows] = s * k + i, (logd[rows] - grid[i]) / step[s]
    return below, weight, step


def main() -> None:
    import arviz as az
    import nutpie
    import pymc as pm
    import pytensor.tensor as pt

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", action="store_true")
    parser.add_argument("--shape", choices=["none", "gt", "gtn"], default="none")
    parser.add_argument("--knots", type=int, default=12)
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    curves = load_olmo_ladder(curves=True)
    curves["g"] = schedule_remaining(curves)
    kept = curves[keep_checkpoints(curves)]
    train = kept[kept["size"] != "3B"].sort_values(["run", "D"])
    lay = curve_layout(train["run"].to_numpy(), train["D"].to_numpy())
    n, d = train["N"].to_numpy(), train["D"].to_numpy()
    logn, logd = np.log(n), np.log(d)
    mn, md = logn.mean(), logd.mean()
    y, g = np.log(train["loss"].to_numpy()), train["g"].to_numpy()
    length = (train["run_tokens"] / (20 * train["N"])).to_numpy()
    sizes = sorted(train["size"].unique())
    size = train["size"].map({s: i for i, s in enumerate(sizes)}).to_numpy()
    below, weight, step = _knots(logd, size, args.knots)
    k = args.knots
    with pm.Model():
        e = pm.HalfNormal("E", 2.5)
        alpha = pm.TruncatedNormal("alpha", 0.35, 0.25, lower=0)
        beta = pm.TruncatedNormal("beta", 0.35, 0.25, lower=0)
        ta, tb = pm.Flat("log_term_a"), pm.Flat("log_term_b")
        log_a = pm.Deterministic("log_A", ta + alpha * mn)
        log_b = pm.Deterministic("log_B", tb + beta * md)
        amplitudes = pm.Normal.dist(6, 3)
        pm.Potential("prior_amplitudes", pm.logp(amplitudes, log_a) + pm.logp(amplitudes, log_b))
        c = pm.HalfNormal("C", 0.1)
        sigma = pm.HalfNormal("sigma", 0.1)
        sigma_run = pm.HalfNormal("sigma_run", 0.05)
        ell = pm.LogNormal("ell", 0.0, 1.0)
        gap = c * g
        if args.shape != "none":
            p, a = pm.LogNormal("p", 0.0, 0.5), pm.Normal("a", 0.0, 0.5)
            gap = c * g**p * length**a
        if args.shape == "gtn":
            gap = gap * (n / 1e9) ** pm.Normal("b", 0.0, 0.5)
        level = e + pt.exp(ta - alpha * (logn - mn)) + pt.exp(tb - beta * (logd - md))
        mu = pt.log(level + gap)
        if args.shared:
            scale = pm.HalfNormal("sigma_size", 0.02)
            corr = pm.LogNormal("ell_size", 0.0, 1.0)
            z = pm.Normal("z", 0, 1, shape=(len(sizes), k))
            phi = pt.exp(-pt.as_tensor(step)[:, None] / corr)
            lag = np.subtract.outer(np.arange(k), np.arange(k))
            lower = (lag >= 0).astype(float)
            # stationary AR(1) on the knots: delta_i = sum_j phi^(i-j) s_j z_j
            s = pt.concatenate(
                [pt.ones((len(sizes), 1)), pt.repeat(pt.sqrt(1 - phi**2), k - 1, axis=1)], axis=1
            )
            walk = phi[:, :, None] ** np.maximum(lag, 0)[None] * lower[None]
            delta = (scale * pt.sum(walk * (s * z)[:, None, :], axis=2)).reshape((-1,))
            above = np.minimum(below + 1, len(sizes) * k - 1)
            mu = mu + delta[below] * (1 - weight) + delta[above] * weight
        pm.Potential(
            "curves", curve_logp(y - mu, **lay, sigma=sigma, sigma_run=sigma_run, ell=ell, xp=pt)
        )
        t0 = time.perf_counter()
        idata = nutpie.sample(
            nutpie.compile_pymc_model(pm.modelcontext(None)),
            draws=1000,
            tune=1500,
            chains=4,
            seed=1,
            progress_bar=False,
            low_rank_modified_mass_matrix=True,
            target_accept=0.95,
        )
    names = ["E", "alpha", "beta", "C", "sigma", "sigma_run", "ell"]
    names += {"none": [], "gt": ["p", "a"], "gtn": ["p", "a", "b"]}[args.shape]
    names += ["sigma_size", "ell_size"] if args.shared else []
    print(f"sampled in {time.perf_counter() - t0:.0f} s")
    print(az.summary(idata, var_names=names)[["mean", "sd", "r_hat", "ess_bulk"]])
    print("divergences", int(idata.sample_stats["diverging"].sum()))
    post = idata.posterior
    draws = {v: post[v].to_numpy().reshape(-1, 1) for v in [*names, "log_A", "log_B"]}
    rng = np.random.default_rng(0)

    def new_run(table: pd.DataFrame, g_new) -> tuple[np.ndarray, ...]:
        nn, dd = table["N"].to_numpy(), table["D"].to_numpy()
        gap_new = draws["C"] * g_new
        if args.shape != "none":
            tl = (table["run_tokens"] / (20 * table["N"])).to_numpy()
            gap_new = draws["C"] * g_new ** draws["p"] * tl ** draws["a"]
        if args.shape == "gtn":
            gap_new = gap_new * (nn / 1e9) ** draws["b"]
        law = (
            draws["E"]
            + np.exp(draws["log_A"] - draws["alpha"] * np.log(nn))
            + np.exp(draws["log_B"] - draws["beta"] * np.log(dd))
        )
        var = draws["sigma"] ** 2 + draws["sigma_run"] ** 2
        if args.shared:  # a new size: its own data order, delta from its stationary law
            var = var + draws["sigma_size"] ** 2
        z = np.log(law + gap_new) + np.sqrt(var) * rng.standard_normal(law.shape)
        return tuple(np.exp(np.quantile(z, [0.05, 0.5, 0.95], axis=0)))

    held = curves[(curves["size"] == "3B") & (curves["D"] >= 0.1 * curves["run_tokens"])]
    score("(a) 3B checkpoints", *new_run(held, held["g"].to_numpy()), held["loss"].to_numpy())
    finals = pd.concat(
        [
            curves[(curves["size"] == "3B") & np.isclose(curves["D"], curves["run_tokens"])],
            load_olmo_ladder(target=True),
        ],
        ignore_index=True,
    )
    finals["run_tokens"] = finals["D"]
    score("(b) 3B and 7B final losses", *new_run(finals, 0.0), finals["loss"].to_numpy())


if __name__ == "__main__":
    main()
