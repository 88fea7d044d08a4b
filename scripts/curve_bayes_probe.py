"""A Bayesian curve model on the OLMo ladder, outside the package (issue #17; ~3 min on 2 cores).

Usage: python scripts/curve_bayes_probe.py

Fitted to the checkpoints of the rungs below 3B kept by ``curves.keep_checkpoints``: a checkpoint
at d of a run planned for T has log loss ``log(L(N, d) + C * g) + b_run + e``, with Chinchilla's
``L`` (the default priors, the amplitudes centred at the data), ``g`` the anneal still to come
(``curves.schedule_remaining``), run offsets and OU noise in log tokens integrated out
(``bayescale.curve_noise``). Reported: 90% intervals of a new run's loss at (a) every kept
checkpoint of the six 3B runs and (b) their final losses: coverage, mean half-width and median
absolute error on log loss, median relative error; beside (b) from the final losses alone
(bayescale's default fit without drift, the same law and priors).

The model is sampled in the textbook parametrisation with nutpie's low-rank mass matrix, not
bayescale's whitened sampler: read its R-hat and divergences before its numbers (E and alpha
mix slowly along their ridge).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bayescale as bs  # noqa: E402
from bayescale.curve_noise import curve_layout, curve_logp  # noqa: E402
from bayescale.curves import keep_checkpoints, schedule_remaining  # noqa: E402
from bayescale.datasets import load_olmo_ladder  # noqa: E402


def score(label: str, lower, median, upper, actual) -> None:
    y = np.log(actual)
    err = np.abs(np.log(median) - y)
    half = (np.log(upper) - np.log(lower)) / 2
    covered = (actual >= lower) & (actual <= upper)
    print(
        f"{label}: {len(y)} held out, coverage {covered.mean():.2f}, mean half-width "
        f"{half.mean():.4f}, median abs. error {np.median(err):.4f} (ratio "
        f"{half.mean() / np.median(err):.2f}), median rel. error "
        f"{np.median(np.abs(median / actual - 1)):.4f}"
    )


def main() -> None:
    import nutpie
    import pymc as pm
    import pytensor.tensor as pt

    warnings.simplefilter("ignore")
    curves = load_olmo_ladder(curves=True)
    curves["g"] = schedule_remaining(curves)
    curves = curves[keep_checkpoints(curves)]
    train = curves[curves["size"] != "3B"].sort_values(["run", "D"])
    test = curves[curves["size"] == "3B"]
    lay = curve_layout(train["run"].to_numpy(), train["D"].to_numpy())
    logn, logd = np.log(train["N"].to_numpy()), np.log(train["D"].to_numpy())
    mn, md = logn.mean(), logd.mean()
    y, g = np.log(train["loss"].to_numpy()), train["g"].to_numpy()
    with pm.Model() as model:
        e = pm.HalfNormal("E", 2.5)
        alpha = pm.TruncatedNormal("alpha", 0.35, 0.25, lower=0)
        beta = pm.TruncatedNormal("beta", 0.35, 0.25, lower=0)
        ta = pm.Flat("log_term_a")  # log of the N term at the data's mean log N
        tb = pm.Flat("log_term_b")
        log_a = pm.Deterministic("log_A", ta + alpha * mn)
        log_b = pm.Deterministic("log_B", tb + beta * md)
        pm.Potential(
            "prior_amplitudes",
            pm.logp(pm.Normal.dist(6, 3), log_a) + pm.logp(pm.Normal.dist(6, 3), log_b),
        )
        c = pm.HalfNormal("C", 0.1)
        sigma = pm.HalfNormal("sigma", 0.1)
        sigma_run = pm.HalfNormal("sigma_run", 0.05)
        ell = pm.LogNormal("ell", 0.0, 1.0)
        level = e + pt.exp(ta - alpha * (logn - mn)) + pt.exp(tb - beta * (logd - md))
        mu = pt.log(level + c * g)
        pm.Potential(
            "curves", curve_logp(y - mu, **lay, sigma=sigma, sigma_run=sigma_run, ell=ell, xp=pt)
        )
    compiled = nutpie.compile_pymc_model(model)
    idata = nutpie.sample(
        compiled,
        draws=1000,
        tune=1500,
        chains=4,
        seed=1,
        progress_bar=False,
        low_rank_modified_mass_matrix=True,  # the E - alpha ridge
        target_accept=0.95,
    )
    post = idata.posterior
    import arviz as az

    names = ["E", "alpha", "beta", "C", "sigma", "sigma_run", "ell"]
    print(az.summary(idata, var_names=names, kind="all")[["mean", "sd", "r_hat", "ess_bulk"]])
    print("divergences", int(idata.sample_stats["diverging"].sum()))
    draws = {k: post[k].to_numpy().reshape(-1, 1) for k in [*names, "log_A", "log_B"]}
    rng = np.random.default_rng(0)

    def new_run(n, d, gg):
        level = (
            draws["E"]
            + np.exp(draws["log_A"] - draws["alpha"] * np.log(n))
            + np.exp(draws["log_B"] - draws["beta"] * np.log(d))
            + draws["C"] * gg
        )
        noise = np.sqrt(draws["sigma"] ** 2 + draws["sigma_run"] ** 2)
        z = np.log(level) + noise * rng.standard_normal(level.shape)
        q = np.exp(np.quantile(z, [0.05, 0.5, 0.95], axis=0))
        return q[0], q[1], q[2]

    n, d, gg = (test[k].to_numpy() for k in ("N", "D", "g"))
    score("(a) 3B checkpoints, curve model", *new_run(n, d, gg), test["loss"].to_numpy())
    final = test[test["D"] == test["run_tokens"]]
    n, d = final["N"].to_numpy(), final["D"].to_numpy()
    score("(b) 3B final losses, curve model", *new_run(n, d, 0.0), final["loss"].to_numpy())
    finals = load_olmo_ladder()
    fit = bs.ChinchillaLaw().fit(finals[finals["size"] != "3B"], seed=0, drift=False)
    p = bs.predict_loss(fit, n, d)
    score(
        "(b) 3B final losses, final losses only (no drift)",
        p["loss_new_run_lower"].to_numpy(),
        p["loss_new_run_median"].to_numpy(),
        p["loss_new_run_upper"].to_numpy(),
        final["loss"].to_numpy(),
    )


if __name__ == "__main__":
    main()
