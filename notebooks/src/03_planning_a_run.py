# %% [markdown]
# # Planning a run: a risk estimate
#
# A team has a loss target and a budget, and small runs. Before committing the budget they want
# to know: how likely is the planned run to reach the target? How much compute would make it
# likely? Is the planned split between parameters and tokens costing anything? And how far can
# these extrapolations be trusted?
#
# We use the Chinchilla runs as "our small runs" and plan a 70B-parameter model on 1.4T tokens
# with a target loss of 1.95 nats/token.
#
# Stored outputs: full run (4 chains × 1000 draws). `make test` executes this notebook with
# small draws (`BAYESCALE_NOTEBOOK_QUICK=1`) as a check only.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from scipy.stats import binom

import bayescale as bs
from bayescale import plots
from bayescale.backtest import backtest
from bayescale.datasets import load_chinchilla
from bayescale.formatting import fmt_interval, si

QUICK = os.environ.get("BAYESCALE_NOTEBOOK_QUICK") == "1"
SAMPLING = dict(draws=200, tune=200, chains=2) if QUICK else dict(draws=1000, tune=1000, chains=4)
N_BOOT = 20 if QUICK else 200
print(("small-draws check run" if QUICK else "full run") + f": {SAMPLING}")

PLAN_N, PLAN_D, TARGET = 70e9, 1.4e12, 1.95

# %%
runs = load_chinchilla()
fit = bs.ChinchillaLaw().fit(runs, exclude_top_loss=5, seed=2024, **SAMPLING)
fit

# %% [markdown]
# ## 1. Will the planned run reach the target?
#
# `predict_loss` gives two intervals: the law's loss (what the *expected* run reaches: only
# parameter uncertainty) and a new run's loss, which is what a single real run faces: the law,
# plus run-to-run noise, plus the *extrapolation drift* — the law's own error, which grows with
# the distance beyond the largest fitted run and which bayescale learns from the runs with a
# leave-future-out refit (`fit.settings["drift"]`; section 4 shows why it is needed). The
# probability of beating the target is computed from the new-run distribution. The
# `compute_factor` column says how far beyond the largest fitted run the plan lies.

# %%
pred = bs.predict_loss(fit, PLAN_N, PLAN_D, target=TARGET)
pred

# %%
p = pred.iloc[0]
display(Markdown(
    f"The planned run ({si(PLAN_N)} parameters, {si(PLAN_D)} tokens, {p.C:.2g} FLOPs, "
    f"{p.compute_factor:.0f}× the largest fitted run) is predicted to reach a loss of "
    f"**{fmt_interval(p.loss_new_run_median, p.loss_new_run_lower, p.loss_new_run_upper)}** "
    f"(90%), and to end below {TARGET} with probability **{p.prob_below_target:.2f}**."
))

# %% [markdown]
# The probability depends steeply on the target. A curve over targets is more useful to a
# planner than one number:

# %%
targets = np.linspace(1.90, 2.02, 25)
probs = [bs.prob_loss_below(fit, PLAN_N, PLAN_D, t).prob_new_run_below.iloc[0] for t in targets]
fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.plot(targets, probs, marker="o", ms=3)
ax.axvline(TARGET, color="grey", ls=":", lw=1)
ax.set(xlabel="target loss", ylabel="P(new run ends below target)",
       title=f"N = {si(PLAN_N)}, D = {si(PLAN_D)}");

# %% [markdown]
# ## 2. How much compute for the target?
#
# `compute_for_loss` inverts the compute-optimal frontier L\*(C) per posterior draw: the compute
# at which an optimally split run reaches the target, with the optimal N and D there. Draws
# whose irreducible loss E lies above the target can never reach it; `prob_unreachable` is
# their share.

# %%
need = bs.compute_for_loss(fit, [2.0, TARGET, 1.9])
need

# %%
row = need.set_index("target").loc[TARGET]
display(Markdown(
    f"Reaching {TARGET} with the optimal split needs "
    f"**{row.compute_median:.2g} FLOPs** (90%: {row.compute_lower:.2g} to "
    f"{row.compute_upper:.2g}); the plan's {p.C:.2g} FLOPs lies "
    f"{'inside' if row.compute_lower <= p.C <= row.compute_upper else 'outside'} that range. "
    f"Probability the target is unreachable at any compute: {row.prob_unreachable:.3f}."
))

# %% [markdown]
# ## 3. Is the split right?
#
# `suboptimality` compares a planned (N, D) with the optimal split at the same compute: the
# extra loss, and the compute multiplier (how much more compute the plan spends than the optimal
# split needs for the same loss; 1 = optimal).

# %%
alternatives = pd.DataFrame({"N": [PLAN_N, 30e9, 150e9], "D": [PLAN_D, PLAN_D * 70 / 30,
                                                             PLAN_D * 70 / 150]})
sub = bs.suboptimality(fit, alternatives.N, alternatives.D)
sub

# %% [markdown]
# And whether the next increment of budget is worth spending — `expected_gain` gives the loss
# reduction from doubling the compute (spent optimally), and the probability it is positive:

# %%
gain = bs.expected_gain(fit, PLAN_N, PLAN_D, 2.0, along="C")
gain

# %% [markdown]
# ## 4. How much to trust the extrapolation?
#
# Everything above extrapolates the law about 20× beyond the largest run it saw. A backtest
# asks the same question of the past: fit on the smaller runs, predict the top 20% by compute
# that were held out, and check how often the 90% intervals contain what actually happened. The
# usual point-fit practice (Huber loss, bootstrap over runs) is scored on the same split.

# %%
law = bs.ChinchillaLaw()
bt = {
    "bayescale (posterior predictive)": backtest(law, runs, holdout_top_fraction=0.2, seed=0,
                                                 **SAMPLING),
    "bootstrap point fit (Huber)": backtest(law, runs, holdout_top_fraction=0.2, seed=0,
                                            method="bootstrap", n_boot=N_BOOT),
}
table = pd.DataFrame({
    name: {
        "held-out runs": r["n_test"],
        "max compute factor": r["max_compute_factor"],
        "coverage 50%": r["coverage"]["0.5"],
        "coverage 80%": r["coverage"]["0.8"],
        "coverage 90%": r["coverage"]["0.9"],
        "mean 90% width (log loss)": r["mean_width_log"],
        "median |rel. error|": r["median_abs_rel_error"],
        "CRPS": r["crps"],
    }
    for name, r in bt.items()
}).T
table

# %%
b = bt["bayescale (posterior predictive)"]
boot = bt["bootstrap point fit (Huber)"]
# Coverage a calibrated 90% interval reaches 95% of the time with this many held-out runs:
floor = binom.ppf(0.05, b["n_test"], 0.9) / b["n_test"]
verdict = (
    "at least what a calibrated 90% interval would reach 95% of the time"
    if b["coverage"]["0.9"] >= floor
    else f"less than a calibrated 90% interval would reach 95% of the time ({floor:.0%})"
)
display(Markdown(
    f"On {b['n_test']} held-out runs (up to {b['max_compute_factor']:.0f}× the compute of the "
    f"training runs) the median prediction is off by {b['median_abs_rel_error']:.2%} (median "
    f"absolute relative error), and the 90% intervals cover **{b['coverage']['0.9']:.0%}** of "
    f"the runs: {verdict}. The bootstrap baseline covers {boot['coverage']['0.9']:.0%} with "
    f"intervals of mean width {boot['mean_width_log']:.4f} against "
    f"{b['mean_width_log']:.4f} (log loss)."
))

# %%
bayes_runs = pd.DataFrame(b["runs"])
fig, ax = plt.subplots(figsize=(6, 3.5))
med = bayes_runs["median"]
ax.errorbar(bayes_runs["C"], med - bayes_runs["loss"],
            yerr=[med - bayes_runs["lower"], bayes_runs["upper"] - med],
            fmt="o", ms=3, lw=0.8, alpha=0.7)
ax.axhline(0, color="k", lw=0.8)
ax.set(xscale="log", xlabel="compute of the held-out run (FLOPs)",
       ylabel="predicted − actual loss", title="held-out runs: 90% predictive intervals");
