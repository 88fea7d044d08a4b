"""The law family: each law recovers known parameters from data simulated from it (truth within
4 posterior sds of the median, 95% width well inside the prior's; seeded), and round-trips
through save/load."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.laws import (
    BrokenPowerLaw,
    DataConstrainedLaw,
    IsoFLOPLaw,
    KaplanC,
    KaplanD,
    KaplanJoint,
    KaplanN,
    ScoreLogLinear,
    ScoreSaturating,
    law_from_dict,
)
from bayescale.simulate import isoflop_design, simulate_runs
from conftest import check, check_recovered, seed
from conftest import run_cli as conftest_run_cli

ISOFLOP = isoflop_design([1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21, 3e21], 10)
#: Far from the optimum on both sides: the IsoFLOP curve's shape (alpha, beta) needs both arms.
WIDE_ISOFLOP = isoflop_design(
    [1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21, 3e21], 10, tokens_per_param=(0.25, 4000.0)
)


def wide_n_design():
    # Eight decades, the last two on the plateau: with the data ending at 1e12 (reducible loss
    # 0.03 = 3 sigma) a lower E with a break of the opposite sign (delta < 0) fitted as well,
    # and chains split between the two modes at two of five seeds (docs/seed_sweep.md).
    n = np.geomspace(1e6, 1e14, 60)
    return pd.DataFrame({"N": n, "D": 20 * n, "C": 120 * n * n})


def repeated_data_design():
    rng = np.random.default_rng(0)
    design = pd.DataFrame(
        {
            "N": 10 ** rng.uniform(8, 10, 80),
            "unique_tokens": 10 ** rng.uniform(8.5, 10.5, 80),
            "epochs": 10 ** rng.uniform(0, 1.8, 80),
        }
    )
    design["D"] = design["unique_tokens"] * design["epochs"]
    design["C"] = 6 * design["N"] * design["D"]
    return design


# Truths sit away from the prior centres (so a likelihood cut off from the data cannot pass by
# returning the prior), and each is checked for posterior contraction as well as coverage.
CASES = {
    "kaplan-n": (KaplanN(), dict(E=1.9, A=2000.0, alpha=0.4), ISOFLOP, 7),
    "kaplan-n-pure": (KaplanN(irreducible=False), dict(A=40.0, alpha=0.15), ISOFLOP, 7),
    "kaplan-d": (KaplanD(), dict(E=1.8, B=900.0, beta=0.2), ISOFLOP, 7),
    "kaplan-c": (KaplanC(), dict(E=1.7, C0=1000.0, gamma=0.15), ISOFLOP, 7),
    "kaplan-joint": (
        KaplanJoint(),
        dict(N_c=3e13, D_c=2e14, alpha_N=0.1, alpha_D=0.12),
        ISOFLOP,
        7,
    ),
    # a frontier steeper than Chinchilla's shape implies (beta / (alpha + beta) = 0.36)
    "isoflop": (
        IsoFLOPLaw(),
        dict(E=2.2, R=3000.0, gamma=0.2, a=0.6, N0=3e9, alpha=0.45, beta=0.25),
        WIDE_ISOFLOP,
        7,
    ),
    "score-loglinear": (ScoreLogLinear(), dict(a=-1.2, b=0.08), ISOFLOP, 7),
    "score-saturating": (ScoreSaturating(), dict(ceiling=0.7, A=30.0, alpha=0.15), ISOFLOP, 7),
    "broken-power": (
        BrokenPowerLaw(),
        dict(E=1.8, A=40.0, alpha=0.2, delta=0.3, x_b=3e9),
        wide_n_design(),
        7,
    ),
    "data-constrained": (
        DataConstrainedLaw(),
        dict(E=1.87, A=520.8, B=20000.0, alpha=0.28, beta=0.42, R_D_star=5.0),
        repeated_data_design(),
        8,
    ),
}
SIGMA = 0.01  #: noise of every simulated case (checked too: a wrong noise scale must show)
CONTRACTION = 0.3  #: posterior 95% width at most this share of the prior's
#: Documented exceptions: the arms of an IsoFLOP curve set the IsoFLOP law's shape (alpha,
#: beta) only weakly even in a wide sweep (95% widths 0.5 and 0.27 of the prior's; the seed
#: sweep left beta 8% of margin under 0.3). Likewise the broken power law's change of slope,
#: (95% width up to 0.31 of the prior's over five seeds: the slope after the break blurs into
#: the approach to E).
WEAKLY_IDENTIFIED = {
    ("isoflop", "alpha"): 0.75,
    ("isoflop", "beta"): 0.5,
    ("broken-power", "delta"): 0.6,
}


def prior_width(law, param: str, log: bool) -> float:
    from bayescale.priors import draw_prior

    x = draw_prior(law.priors[param], 20000, seed=0)
    x = np.log(x[x > 0]) if log else x
    lo, hi = np.quantile(x, [0.025, 0.975])
    return float(hi - lo)


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    law, truth, design, data_seed = CASES[request.param]
    noise = {"sigma": SIGMA, **({"nu": 4.0} if law.likelihood.free_nu else {})}
    runs = simulate_runs(law, {**truth, **noise}, design, seed=seed(data_seed))
    # the IsoFLOP law's E-gamma ridge wants smaller steps (see IsoFLOPLaw's docstring)
    target_accept = 0.95 if isinstance(law, IsoFLOPLaw) else 0.9
    # recovery is about the posterior: no drift refit (the drift has tests of its own)
    fit = law.fit(runs, seed=seed(3), target_accept=target_accept, drift=False)
    return law, truth, runs, fit


def test_recovers_truth(case):
    law, truth, _, fit = case
    assert fit.diagnostics["ok"], fit.diagnostics["problems"]
    s = fit.summary(interval=0.95)
    for param, value in {**truth, "sigma": SIGMA}.items():
        lo, hi = s.loc[param, "lower"], s.loc[param, "upper"]
        log = law.priors[param].distribution == "LogNormal"
        check_recovered(param, value, fit.posterior[param], log, s.loc[param])
        lo, hi = (np.log(lo), np.log(hi)) if log else (lo, hi)
        ratio = (hi - lo) / prior_width(law, param, log)
        most = WEAKLY_IDENTIFIED.get((law.name, param), CONTRACTION)
        check(f"{param}: 95% width / prior's", ratio, "<", most, s.loc[param])


def test_save_load_and_predict(case, tmp_path, capsys, monkeypatch):
    law, _, runs, fit = case

    def run_cli(argv):
        return conftest_run_cli(argv, capsys, monkeypatch)

    loaded = bs.load_fit(fit.save(tmp_path / "f"))
    assert loaded.law == law and loaded.law.options() == law.options()
    assert law_from_dict(law.to_dict()) == law
    if set(law.inputs) <= {"N", "D", "C"}:  # the prediction layer takes N and D
        t = bs.predict_loss(loaded, runs["N"].iloc[:3], runs["D"].iloc[:3])
        assert np.all(np.isfinite(t["loss_median"]))
        if law.observation == "log":
            assert np.all(t["loss_lower"] > 0)
    elif isinstance(law, DataConstrainedLaw):  # plans with their unique tokens
        first = runs.iloc[:3]
        t = bs.predict_loss(loaded, first["N"], first["D"], unique_tokens=first["unique_tokens"])
        p = loaded.draws()
        expected = np.median(law.predict(p, **{x: first[x].to_numpy() for x in law.inputs}), 0)
        np.testing.assert_allclose(t["loss_median"], expected, rtol=1e-12)
        np.testing.assert_allclose(t["unique_tokens"], first["unique_tokens"])
        with pytest.raises(bs.ConfigError, match=r"needs \['unique_tokens'\].*--unique-tokens"):
            bs.predict_loss(loaded, first["N"], first["D"])
        plan = ["predict", tmp_path / "f", "--n", first["N"].iloc[0], "--d", first["D"].iloc[0]]
        code, out, _ = run_cli([*plan, "--unique-tokens", first["unique_tokens"].iloc[0], "--json"])
        (row,) = json.loads(out)["rows"]
        assert code == 0 and row["loss"]["median"] == pytest.approx(t["loss_median"][0])
        code, _, err = run_cli(plan)
        assert code == 2 and "--unique-tokens" in err


def test_allocation_only_where_inputs_allow(case):
    law, truth, _, fit = case
    if isinstance(law, IsoFLOPLaw):  # the frontier is a parameter: N*(1e21) = N0
        t = bs.optimal_allocation(fit, 1e21, interval=0.95)
        assert t["N_opt_lower"][0] < truth["N0"] < t["N_opt_upper"][0]
        return
    why = "depends on how many unique tokens" if law.name == "data-constrained" else "no compute"
    with pytest.raises(bs.ConfigError, match=why):
        bs.optimal_allocation(fit, 1e21)
    assert not law.has_allocation


def test_score_laws_accept_zero_scores():
    runs = pd.DataFrame(
        {"N": [1e8, 2e8, 4e8, 8e8], "D": [1e9, 2e9, 4e9, 8e9], "score": [0.0, 0.1, 0.2, 0.3]}
    )
    loaded = bs.load_runs(runs, target="score", positive_target=False)
    assert loaded["score"].tolist() == [0.0, 0.1, 0.2, 0.3]
    with pytest.raises(bs.DataError, match="column 'score' must be positive"):
        bs.load_runs(runs, target="score")


def test_data_constrained_needs_unique_tokens(sim_runs):
    with pytest.raises(bs.DataError, match="missing column 'unique_tokens'"):
        DataConstrainedLaw().fit(sim_runs)


def test_unknown_options():
    with pytest.raises(bs.ConfigError, match="variable"):
        BrokenPowerLaw(variable="E")


def test_isoflop_law_is_chinchillas_law_with_its_frontier_tied():
    """With a = beta / (alpha + beta), gamma = alpha beta / (alpha + beta) and the matching
    frontier, the IsoFLOP law is Chinchilla's law: same losses everywhere, same allocation."""
    from bayescale import allocation

    h = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
    scale, gamma = allocation._frontier_scale(h["A"], h["B"], h["alpha"], h["beta"])
    a, _ = allocation.allocation_exponents(h["alpha"], h["beta"])
    g = allocation._g(h["A"], h["B"], h["alpha"], h["beta"])
    iso = dict(
        E=h["E"], R=scale * 6**gamma, gamma=gamma, a=a, N0=g * (1e21 / 6) ** a,
        alpha=h["alpha"], beta=h["beta"],
    )  # fmt: skip
    n = np.geomspace(1e7, 1e11, 9)[:, None]
    c = np.array([1e18, 1e21, 1e24])
    chin = bs.ChinchillaLaw().predict(h, N=n, D=c / (6 * n))
    np.testing.assert_allclose(IsoFLOPLaw().predict(iso, N=n, C=c), chin, rtol=1e-10)
    want = bs.ChinchillaLaw().optimal_allocation(h, c)
    got = IsoFLOPLaw().optimal_allocation(iso, c)
    for key in ("N_opt", "D_opt", "loss_opt", "tokens_per_param"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-10)
    reach = IsoFLOPLaw().compute_for_loss(iso, [2.0, 1.5])
    np.testing.assert_allclose(
        reach["compute"][0], bs.ChinchillaLaw().compute_for_loss(h, 2.0)["compute"], rtol=1e-8
    )
    assert not reach["reachable"][1] and np.isinf(reach["compute"][1])
