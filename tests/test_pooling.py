"""Pooled fits across groups: per-group parameters with named coords, partial pooling of the
exponents, recovery of group-level truths, and the prediction layer per group."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.simulate import isoflop_design, simulate_runs
from conftest import check, check_recovered, run_cli, seed

GROUPS = {
    "small-vocab": dict(E=1.8, A=400.0, B=1500.0, alpha=0.30, beta=0.34),
    "big-vocab": dict(E=1.7, A=500.0, B=900.0, alpha=0.36, beta=0.30),
    "code": dict(E=1.2, A=300.0, B=2500.0, alpha=0.33, beta=0.40),
}


@pytest.fixture(scope="module")
def grouped_runs():
    design = isoflop_design([1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21], 8)
    law = bs.ChinchillaLaw(noise="constant")  # the pooled fits' noise model
    parts = [
        simulate_runs(law, {**p, "sigma": 0.01}, design, seed=seed(i)).assign(group=g)
        for i, (g, p) in enumerate(GROUPS.items())
    ]
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def partial_fit(grouped_runs):
    # 2000 draws at target_accept 0.99 at once: the adaptive default's first run (1000 draws
    # at 0.95) misses on alpha_mu / alpha_tau at most seeds and its second run is this one
    return bs.ChinchillaLaw(pooling="partial").fit(
        grouped_runs, seed=seed(2), draws=2000, target_accept=0.99
    )


def test_partial_pooling_recovers_groups(partial_fit):
    fit = partial_fit
    d = fit.diagnostics
    check("max R-hat", d["max_rhat"], "<=", 1.01, d["problems"])
    check("min bulk ESS", d["min_ess_bulk"], ">=", 400, d["problems"])
    check("min tail ESS", d["min_ess_tail"], ">=", 400, d["problems"])
    check("divergences", d["divergences"], "<=", 0, d["problems"])
    post = fit.posterior
    assert post["alpha"].dims == ("chain", "draw", "group")
    assert sorted(post["group"].values) == sorted(GROUPS)
    assert {"alpha_mu", "alpha_tau", "beta_mu", "beta_tau"} <= set(post.data_vars)
    s = fit.summary(interval=0.95)
    for g, truth in GROUPS.items():
        for param, value in truth.items():
            row = s.loc[f"{param}[{g}]"]
            draws = post[param].sel(group=g)
            check_recovered(f"{param}[group]", value, draws, param in ("A", "B"), row)
    # allocation exponent a per group, ordered as the truths are
    a_true = {g: p["beta"] / (p["alpha"] + p["beta"]) for g, p in GROUPS.items()}
    a_post = post["a"].median(("chain", "draw")).to_series()
    assert list(a_post.sort_values().index) == sorted(a_true, key=a_true.get)


def test_auto_centring_keeps_the_form_that_sampled_better(partial_fit):
    """``centred="auto"`` (the default): the pilot finds beta pinned by each group's data
    (mean lambda near 0.95), so a second pilot probes the all-centred form. On these three
    groups, which lie near one population in alpha, that form has a funnel. Either its pilot
    diverges, or (at this fit's target_accept of 0.99, where the short pilot can look clean)
    its first main run does and the fit samples again in the default form. The fit ends in the
    default form, and the record says which way."""
    record = partial_fit.settings["sampling"]["centring"]
    check("beta's mean lambda", record["lambda"]["beta"], ">=", 0.5)  # what starts a probe
    assert record["probed"]
    costs = record["pilot_cost"]
    assert set(costs) == {"default", "all"}
    if tuple(costs["all"]) < tuple(costs["default"]):  # the probe won: its main run diverged
        assert record.get("fell_back")
        first = partial_fit.settings["sampling"]["runs"][0]
        assert "then" in first and any("divergent" in p for p in first["problems"])
    assert record["centred"] == []


def test_predictions_per_group(partial_fit):
    with pytest.raises(bs.ConfigError, match="pass group="):
        bs.predict_loss(partial_fit, 1e9, 2e10)
    t = bs.optimal_allocation(partial_fit, 1e20, group="code")
    assert np.isfinite(t["N_opt_median"][0])
    a = bs.predict_loss(partial_fit, 1e9, 2e10, group="code")["loss_median"][0]
    b = bs.predict_loss(partial_fit, 1e9, 2e10, group="small-vocab")["loss_median"][0]
    assert a < b  # the code group has the lower irreducible loss


def test_pooled_fit_round_trip_and_loo(partial_fit, tmp_path):
    import arviz as az

    loaded = bs.load_fit(partial_fit.save(tmp_path / "pooled"))
    assert loaded.law.pooling == "partial"
    assert list(loaded.posterior["group"].values) == list(partial_fit.posterior["group"].values)
    assert np.isfinite(az.loo(loaded.idata).elpd_loo)


def test_complete_pooling_ignores_groups_and_none_needs_column(grouped_runs, sim_runs):
    with pytest.raises(bs.DataError, match="needs a 'group' column"):
        bs.ChinchillaLaw(pooling="none").fit(sim_runs.drop(columns=[], errors="ignore"))
    with pytest.raises(bs.ConfigError, match="pooling must be"):
        bs.ChinchillaLaw(pooling="some")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        fit = bs.ChinchillaLaw().fit(grouped_runs, seed=1, draws=200, tune=300, drift=False)
    assert "group" not in fit.posterior.dims


def test_partially_pooled_isoflop_law_orders_group_frontiers():
    """Issue 4: the IsoFLOP law (free frontier) pooled across groups whose allocation exponents
    differ: each group's a lies in its 95% interval and the posterior medians keep the order."""
    truths = {"const": 0.48, "cosine": 0.56, "kaplan": 0.72}
    law = bs.IsoFLOPLaw(pooling="partial")
    design = isoflop_design([1e17, 1e18, 1e19, 1e20, 1e21], 8)
    base = dict(E=1.8, R=600.0, gamma=0.15, N0=2e9, alpha=0.4, beta=0.4, sigma=0.01)
    runs = pd.concat(
        [
            simulate_runs(bs.IsoFLOPLaw(), {**base, "a": a}, design, seed=seed(i)).assign(group=g)
            for i, (g, a) in enumerate(truths.items())
        ],
        ignore_index=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)  # gamma_tau: see below
        fit = law.fit(runs, seed=seed(1), draws=1000, target_accept=0.95)
    # The test is about the frontier exponents a (sampled centred): their diagnostics must
    # pass. gamma's population (a scale near 0 from three groups with one gamma) is the
    # known weak spot of this model: its R-hat reaches 1.017 at 4 x 1000 draws (the
    # performance issue's parametrisation work); it is reported, not asserted here.
    import arviz as az

    post = fit.posterior[["a", "a_mu", "a_tau"]]
    check("max R-hat of a, a_mu, a_tau", az.rhat(post).to_array().max(), "<=", 1.01)
    check("min bulk ESS of a, a_mu, a_tau", az.ess(post).to_array().min(), ">=", 400)
    tail = az.ess(post, method="tail").to_array().min()
    check("min tail ESS of a, a_mu, a_tau", tail, ">=", 400)
    check("divergences", fit.diagnostics["divergences"], "<=", 0)
    assert {"a_mu", "a_tau", "gamma_mu", "gamma_tau"} <= set(fit.posterior.data_vars)
    s = fit.summary(interval=0.95)
    for g, a in truths.items():
        row = s.loc[f"a[{g}]"]
        check_recovered("a[group]", a, fit.posterior["a"].sel(group=g), detail=row)
    a_post = fit.posterior["a"].median(("chain", "draw")).to_series()
    assert list(a_post.sort_values().index) == sorted(truths, key=truths.get)
    alloc = bs.optimal_allocation(fit, 1e21, group="kaplan")
    assert alloc["N_opt_median"][0] == pytest.approx(2e9, rel=0.2)


def test_pooled_backtest_holds_out_each_groups_largest_runs(partial_fit, grouped_runs):
    from bayescale.backtest import backtest

    law = bs.ChinchillaLaw(pooling="partial")
    seen = {}

    def fitted(train, **kwargs):  # the split and scoring, without a second pooled fit
        seen["train"] = train
        return partial_fit

    law.fit = fitted
    res = backtest(law, grouped_runs, holdout_top_fraction=0.15, seed=1)
    runs = pd.DataFrame(res["runs"])
    train = seen["train"]
    for g in GROUPS:  # each group's own top 15% by compute, not the top 15% of all runs
        held = runs[runs["group"] == g]
        assert len(held) == round(0.15 * 56) and held["C"].min() >= train[train.group == g].C.max()
        assert (held["compute_factor"] >= 1).all()
    # each group's runs are predicted from its own parameters: the code group (E = 1.2) lowest
    by_group = runs.groupby("group")["median"].mean()
    assert by_group.idxmin() == "code"
    assert res["coverage"]["0.9"] >= 0.8  # in-sample runs here: a smoke check of the scales
    # a pooled fit's drift comes from the prior, measured from each group's largest run
    assert partial_fit.settings["drift"]["method"] == "prior"
    with pytest.raises(bs.DataError, match="no training runs"):
        backtest(law, grouped_runs, holdout="group=code")


def test_frontier_coordinates_have_unit_jacobian():
    """The frontier's coordinates (level, E's share, slope) map to (log E, log T, log gamma)
    with determinant -1 (finite differences), so the density carries over unchanged."""
    from bayescale.model import frontier_logs

    point, h = np.array([0.7, -0.4, -2.1]), 1e-6
    jac = np.column_stack(
        [
            (np.array(frontier_logs(*(point + h * e))) - np.array(frontier_logs(*(point - h * e))))
            / (2 * h)
            for e in np.eye(3)
        ]
    )
    assert np.linalg.det(jac) == pytest.approx(-1.0, abs=1e-6)
    log_e, log_t, log_g = frontier_logs(*point)
    level, slope = np.exp(log_e) + np.exp(log_t), np.exp(log_g) * np.exp(log_t)
    assert np.log(level) == pytest.approx(point[0]) and np.log(slope / level) == pytest.approx(
        point[2]
    )


def test_centred_isoflop_fit_has_the_same_posterior():
    """``centred="all"`` (every pooled exponent centred, gamma through each group's frontier)
    samples the same posterior as the default parametrisation, on groups whose exponents
    differ: per-group medians of E, gamma and a agree within a fraction of a posterior sd (a
    wrong density or Jacobian would move them by several). On simulated groups this close
    to one population the centred form diverges (its speed is for data like Porian et al.'s,
    docs/performance.md), so it runs at target_accept 0.99 here and is checked for agreement
    only."""
    design = isoflop_design([1e17, 1e18, 1e19, 1e20, 1e21], 7)
    base = dict(E=1.8, R=600.0, N0=2e9, sigma=0.01)
    rng = np.random.default_rng(seed(29))
    groups = {  # six configurations whose exponents differ, as Porian et al.'s do
        f"g{i}": dict(
            gamma=g,
            a=rng.uniform(0.42, 0.62),
            alpha=rng.uniform(0.3, 0.5),
            beta=rng.uniform(0.3, 0.5),
        )
        for i, g in enumerate(np.linspace(0.08, 0.25, 6))
    }
    runs = pd.concat(
        [
            simulate_runs(bs.IsoFLOPLaw(), {**base, **p}, design, seed=seed(30 + i)).assign(group=g)
            for i, (g, p) in enumerate(groups.items())
        ],
        ignore_index=True,
    )
    options = dict(seed=seed(31), draws=1000, drift=False, target_accept=0.95)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)  # reported below
        old = bs.IsoFLOPLaw(pooling="partial", centred=["a"]).fit(runs, **options)  # the pilot's
        new = bs.IsoFLOPLaw(pooling="partial", centred="all").fit(
            runs, **{**options, "target_accept": 0.99}
        )
    assert new.law.centred_exponents == {"a", "alpha", "beta", "gamma"}
    assert bs.load_fit(new.save(Path(tempfile.mkdtemp()) / "fit")).law == new.law
    for name in ("E", "gamma", "a"):
        a, b = old.posterior[name], new.posterior[name]
        sd = a.std(("chain", "draw"))
        gap = abs(a.median(("chain", "draw")) - b.median(("chain", "draw"))) / sd
        check(f"{name}: |median gap| / posterior sd, worst group", float(gap.max()), "<", 0.3)
    with pytest.raises(bs.ConfigError, match="partially pooled exponents"):
        bs.IsoFLOPLaw(pooling="partial", centred=["E"])
    with pytest.raises(bs.ConfigError, match="pooling is not partial"):
        bs.IsoFLOPLaw(centred="all")


def test_centred_from_the_cli_names_pooled_exponents(grouped_runs, tmp_path, capsys, monkeypatch):
    """``--centred`` takes pooled exponents (or ``all``); anything else: exit 2, one line,
    nothing written."""
    csv = tmp_path / "runs.csv"
    grouped_runs.to_csv(csv, index=False)
    out = tmp_path / "fit"
    args = ["fit", csv, "--out", out, "--pooling", "partial", "--centred", "alpha,E"]
    code, _, err = run_cli(args, capsys, monkeypatch)
    assert code == 2 and "got E" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    code, _, err = run_cli(["fit", csv, "--out", out, "--centred", "all"], capsys, monkeypatch)
    assert code == 2 and "pooling is not partial" in err and not out.exists()
    code, _, err = run_cli(["fit", csv, "--out", out, "--centred", "auto"], capsys, monkeypatch)
    assert code == 2 and "got 'auto'" in err and not out.exists()
