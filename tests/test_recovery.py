"""Parameter recovery: runs simulated from known parameters are fitted with the default law and
settings; each truth lies within 4 posterior sds of its median (seeded, deterministic).
Calibration proper (SBC) lives in its own test."""

from __future__ import annotations

import pytest

from bayescale.simulate import isoflop_design, simulate_runs
from conftest import BESIROGLU, HOFFMANN, NOISE, check, check_recovered, seed

SETS = {
    "hoffmann2022": HOFFMANN,
    "besiroglu2024": BESIROGLU,
    "steep_model_term": dict(E=2.3, A=1500.0, B=800.0, alpha=0.42, beta=0.30),
}
BUDGETS = [1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21, 3e21]


@pytest.mark.parametrize("name", SETS)
def test_truth_recovered(law, name):
    truth = SETS[name]
    runs = simulate_runs(law, {**truth, **NOISE}, isoflop_design(BUDGETS, 10), seed=seed(7))
    fit = law.fit(runs, seed=seed(3))
    assert fit.diagnostics["ok"], fit.diagnostics["problems"]
    s = fit.summary(interval=0.95)
    a_true = truth["beta"] / (truth["alpha"] + truth["beta"])
    for param, value in {**truth, **NOISE, "a": a_true}.items():
        check_recovered(param, value, fit.posterior[param], detail=s.loc[param])
    # The intervals are informative, not just wide: the exponents are pinned to +-0.1.
    for param in ("alpha", "beta"):
        check(f"{param}: 95% width", s.loc[param, "upper"] - s.loc[param, "lower"], "<", 0.2)
