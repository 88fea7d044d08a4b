"""Which run next (bayescale.design): the reweighting against refits, the ranking and the
greedy batch, the degenerate case, bad arguments, and the CLI's contract."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.candidates import candidate_grid
from bayescale.design import refit_target, target_draws, weighted_widths
from conftest import check, run_cli, seed

TPP = dict(target="tokens_per_param", compute=5.88e23)


def _reweighted(fit, n: float, d: float, y: float, target: dict) -> tuple[float, float]:
    """Width and median of a target once a run (n, d) with loss y is added, by reweighting the
    fit's draws (what design_runs does for each simulation)."""
    law, p = fit.law, fit.draws()
    mu, lik = law.predictive(p, N=np.array([n]), D=np.array([d]), C=np.array([6 * n * d]))
    row = {k: (np.asarray(v)[:, 0][None, :] if np.ndim(v) == 2 else v) for k, v in lik.items()}
    logw = np.asarray(law.likelihood.logpdf(np.log(y), mu[:, 0][None, :], row))
    values = target_draws(fit, **target)
    width, _ = weighted_widths(values, logw)
    w = np.exp(logw[0] - logw.max())
    order = np.argsort(values)
    cum = np.cumsum(w[order]) / w.sum()
    return float(width[0]), float(values[order][np.searchsorted(cum, 0.5)])


@pytest.mark.parametrize("factor, surprise", [(10.0, 1.01), (30.0, 0.99)])
def test_reweighting_agrees_with_a_refit(small_fit, factor, surprise):
    """One more run beyond the largest, its loss 1% off the posterior's median: the reweighted
    interval of the compute-optimal loss at 5.88e23 FLOPs has the width and median of a full
    refit with that run (the shortcut design_runs takes), both moved the same way."""
    target = dict(target="loss", compute=5.88e23)
    c = small_fit.runs["C"].max() * factor
    n = np.sqrt(c / (6 * 20.0))
    d = 20.0 * n
    y = surprise * float(np.median(small_fit.law.predict(small_fit.draws(), N=n, D=d, C=c)))
    width, median = _reweighted(small_fit, n, d, y, target)
    added = pd.DataFrame({"N": [n], "D": [d], "loss": [y]})
    refit = refit_target(small_fit, added, seed=seed(3), draws=1000, **target)
    lo, mid, hi = np.quantile(refit, [0.05, 0.5, 0.95])
    before = np.median(target_draws(small_fit, **target))
    detail = (
        f"width {width:.4g} vs {hi - lo:.4g}, median {median:.4g} vs {mid:.4g} (was {before:.4g})"
    )
    check("reweighted / refit width", width / (hi - lo), "<", 1.3, detail)
    check("reweighted / refit width", width / (hi - lo), ">", 0.77, detail)
    check(
        "refit's median shift / reweighted's", (mid - before) / (median - before), ">", 0.6, detail
    )
    check(
        "refit's median shift / reweighted's", (mid - before) / (median - before), "<", 1.6, detail
    )


def test_design_ranks_candidates_and_chooses_a_greedy_batch(small_fit):
    plan = bs.design_runs(small_fit, max_run_compute=3e22, batch=3, sims=64, seed=seed(11), **TPP)
    cand, picks = plan.candidates, plan.picks
    assert cand["shrinkage_per_flop"].is_monotonic_decreasing
    assert len(cand) == 45 and picks["pick"].tolist() == [1, 2, 3]
    assert not picks.duplicated(["N", "D"]).any()
    # shrinkage: 1 - expected width over the current width by the same (weighted) estimator;
    # per FLOP the picks are cheap runs that each add a little
    shrinkage = [0.0, *picks["shrinkage"]]
    check("the batch's shrinkage", shrinkage[-1], ">", 0.01)
    check("each pick's added shrinkage (least)", min(np.diff(shrinkage)), ">", -0.005)
    # the first pick is the best candidate per FLOP
    assert picks.iloc[0][["N", "D"]].tolist() == cand.iloc[0][["N", "D"]].tolist()
    by_shrinkage = bs.design_runs(
        small_fit, max_run_compute=3e22, sims=64, seed=seed(11), rank="shrinkage", **TPP
    )
    assert by_shrinkage.candidates["shrinkage"].is_monotonic_decreasing
    assert np.allclose(
        by_shrinkage.candidates.sort_values(["N", "D"])["shrinkage"],
        cand.sort_values(["N", "D"])["shrinkage"],
    )
    doc = plan.to_dict()
    assert set(doc) >= {"target", "compute", "current", "candidates"}
    assert set(doc["current"]) == {"median", "lower", "upper", "width"}
    row = {"N", "D", "C", "expected_width", "shrinkage", "shrinkage_per_flop"}
    assert len(doc["candidates"]) == 3 and row <= set(doc["candidates"][0])
    # the linear check: the batch against the best 3 runs at no more compute
    linear = doc["linear"]
    check("the batch's linear sd ratio", linear["chosen_sd_ratio"], "<", 1.0)
    check("best set's / batch's sd ratio", linear["best_sd_ratio"], "<=", linear["chosen_sd_ratio"])
    best = pd.DataFrame(linear["best"])
    assert len(best) == 3 and not best.duplicated(["N", "D"]).any()
    check("best set's compute / batch's", best["C"].sum() / picks["C"].sum(), "<=", 1 + 1e-9)
    assert any(note.startswith("linear check:") for note in plan.notes)
    assert by_shrinkage.linear is None  # one run: no batch to check


def test_degenerate_weights_are_reported_and_refitted(small_fit):
    """A batch of runs 100-1000x beyond the fit: in some simulations the reweighted draws
    degenerate; design_runs refits those of the chosen runs (up to max_refits) and says how
    many are left."""
    far = pd.DataFrame({"N": np.geomspace(1e10, 1e12, 6), "D": np.geomspace(1e13, 1e11, 6)})
    options = dict(candidates=far, sims=64, batch=6, seed=seed(13), **TPP)
    with pytest.warns(bs.ConvergenceWarning, match="refit=True"):
        plan = bs.design_runs(small_fit, refit=False, **options)
    check("share of degenerate simulations", plan.picks["degenerate"].max(), ">", 0.02)
    assert plan.picks["refits"].sum() == 0
    with pytest.warns(bs.ConvergenceWarning, match="max_refits=2"):
        refitted = bs.design_runs(small_fit, max_refits=2, **options)
    assert refitted.picks["refits"].sum() == 2
    left = refitted.picks["degenerate"].sum() * 64
    assert np.isclose(left, plan.picks["degenerate"].sum() * 64 - 2)


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        (dict(target="n_star", compute=1e21, max_run_compute=1e20), bs.ConfigError, "n_star"),
        (dict(target="n_opt", compute=-1.0, max_run_compute=1e20), bs.ConfigError, "-1"),
        (dict(target="n_opt", max_run_compute=1e20), bs.ConfigError, "compute"),
        (dict(target="loss", N=1e9, D=2e10, compute=1e21), bs.ConfigError, "not both"),
        (dict(target="n_opt", compute=1e21), bs.ConfigError, "max_run_compute"),
        (
            dict(target="n_opt", compute=1e21, candidates=pd.DataFrame({"N": [1e9]})),
            bs.DataError,
            "D",
        ),
        (
            dict(target="n_opt", compute=1e21, candidates=pd.DataFrame({"N": [1e9], "D": [0.0]})),
            bs.DataError,
            "'D'",
        ),
        (
            dict(target="n_opt", compute=1e21, max_run_compute=1e20, batch=99),
            bs.ConfigError,
            "batch",
        ),
    ],
)
def test_bad_arguments(small_fit, kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        bs.design_runs(small_fit, **kwargs)


def test_candidate_grid_spans_the_compute_range(small_fit):
    grid = candidate_grid(small_fit, 1e21, min_run_compute=1e19, budgets=3, per_budget=5)
    assert np.allclose(grid["C"].unique(), [1e19, 1e20, 1e21])
    assert np.allclose(6 * grid["N"] * grid["D"], grid["C"])
    assert np.isclose((grid["D"] / grid["N"]).min(), 2.0)


def test_design_cli(small_fit, tmp_path, capsys, monkeypatch):
    fit_dir = small_fit.save(tmp_path / "fit")
    base = ["design", fit_dir, "--target", "tokens_per_param", "--compute", 5.88e23]
    plot = tmp_path / "design.png"
    argv = [*base, "--max-run-compute", 1e21, "--batch", 2, "--sims", 32, "--plot", plot, "--json"]
    code, out, _ = run_cli(argv, capsys, monkeypatch)
    assert code == 0
    doc = json.loads(out)
    assert doc["target"] == "tokens_per_param" and doc["compute"] == 5.88e23
    assert set(doc["current"]) == {"median", "lower", "upper", "width"}
    assert len(doc["candidates"]) == 2
    assert {"N", "D", "C", "expected_width", "shrinkage", "shrinkage_per_flop"} <= set(
        doc["candidates"][0]
    )
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert doc["linear"]["best_sd_ratio"] <= doc["linear"]["chosen_sd_ratio"] < 1.0
    code, out, _ = run_cli(argv[:-3], capsys, monkeypatch)  # text: the linear check's line
    assert code == 0 and "linear check: the batch leaves" in out
    code, out, _ = run_cli([*base, "--max-run-compute", 1e21, "--sims", 32], capsys, monkeypatch)
    assert code == 0 and "best first" in out
    no_n = tmp_path / "no_n.csv"
    no_n.write_text("D\n1e10\n")
    for args, fragment in [
        (["design", fit_dir, "--target", "n_star", "--compute", 1e21], "n_star"),
        ([*base[:4], "--compute=-5", "--max-run-compute", 1e21], "-5"),
        ([*base, "--candidates", no_n], "N"),
    ]:
        code, out, err = run_cli(args, capsys, monkeypatch)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
        assert fragment in err


def test_design_within_a_budget(small_fit, capsys, monkeypatch, tmp_path):
    """Under a total budget the batch fits in it and is the better of the two greedy rules;
    with a budget that every unconstrained batch fits in, it is the better of those."""
    opts = dict(max_run_compute=3e22, batch=3, sims=64, seed=seed(11), **TPP)
    free = {
        rule: bs.design_runs(small_fit, rank=rule, **opts) for rule in ("per_flop", "shrinkage")
    }
    ample = 2 * max(float(plan.picks["C"].sum()) for plan in free.values())
    plan = bs.design_runs(small_fit, budget=ample, **opts)
    best = min(free, key=lambda rule: free[rule].picks["expected_width"].iloc[-1])
    assert plan.rule == best
    assert plan.picks[["N", "D"]].values.tolist() == free[best].picks[["N", "D"]].values.tolist()
    # a budget the per-run batch does not fit in: the picks stay within it
    tight = 0.5 * float(free["shrinkage"].picks["C"].sum())
    plan = bs.design_runs(small_fit, budget=tight, **opts)
    check("batch compute / budget", plan.picks["C"].sum() / tight, "<=", 1.0 + 1e-9)
    assert plan.picks["pick"].tolist() == list(range(1, len(plan.picks) + 1))
    check(
        "the budget batch's expected width / the per-FLOP batch's",
        plan.picks["expected_width"].iloc[-1] / free["per_flop"].picks["expected_width"].iloc[-1],
        "<=",
        1.0 + 1e-9,
    )
    doc = plan.to_dict()
    assert doc["budget"] == tight and doc["rule"] in ("per_flop", "shrinkage")
    if len(plan.picks) > 1:  # the linear check's best set keeps to the budget too
        spent = sum(run["C"] for run in doc["linear"]["best"])
        check("the best linear set's compute / budget", spent / tight, "<=", 1 + 1e-9)
    # only the cheapest run fits: one pick and a note saying so
    cheapest = float(plan.candidates["C"].min())
    one = bs.design_runs(small_fit, budget=cheapest * 1.5, **opts)
    assert len(one.picks) == 1 and "1 of 3 runs fit in the budget" in one.notes[-1]
    assert len(one.to_dict()["candidates"]) == 1
    with pytest.raises(bs.ConfigError, match="budget"):
        bs.design_runs(small_fit, budget=cheapest / 2, **opts)
    with pytest.raises(bs.ConfigError, match="budget"):
        bs.design_runs(small_fit, budget=-1.0, **opts)
    fit_dir = small_fit.save(tmp_path / "fit")
    argv = ["design", fit_dir, "--target", "tokens_per_param", "--compute", 5.88e23]
    argv += ["--max-run-compute", 1e21, "--batch", 2, "--sims", 32, "--budget", 1e21]
    code, out, _ = run_cli(argv, capsys, monkeypatch)
    assert code == 0 and "of a budget of 1e+21" in out
    code, out, err = run_cli([*argv[:-1], "-3"], capsys, monkeypatch)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "budget" in err
