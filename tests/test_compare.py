"""Model comparison by PSIS-LOO: the right law wins on data simulated from it, a needlessly larger
law is not preferred, and the data-constrained law wins on the datablations runs."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.datasets import data_dir
from bayescale.simulate import isoflop_design, simulate_runs
from conftest import HOFFMANN, run_cli


def fit_quiet(law, runs, **kw):
    """A fit for PSIS-LOO (which the extrapolation drift does not enter: skipped)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        kw.setdefault("draws", 1000)  # exactly: comparisons do not need adaptive draws
        return law.fit(runs, seed=kw.pop("seed", 1), drift=kw.pop("drift", False), **kw)


@pytest.fixture(scope="module")
def chinchilla_world(law, sim_runs):
    return {
        "chinchilla": fit_quiet(law, sim_runs),
        "kaplan-n": fit_quiet(bs.KaplanN(), sim_runs),
        "kaplan-d": fit_quiet(bs.KaplanD(), sim_runs),
        "kaplan-joint": fit_quiet(bs.KaplanJoint(), sim_runs),
    }


def test_chinchilla_data_prefers_chinchilla(chinchilla_world):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        table = bs.compare(chinchilla_world)
    assert table.index[0] == "chinchilla"
    for other in ("kaplan-n", "kaplan-d", "kaplan-joint"):
        assert table.loc[other, "elpd_diff"] > 4 * table.loc[other, "dse"], other
    assert {"elpd_loo", "se", "elpd_diff", "dse", "weight", "law", "pareto_k_bad"} <= set(table)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bs.compare(chinchilla_world)
    assert not [w for w in caught if "arviz" in w.filename]  # ArviZ's notices: none reach users


def test_single_factor_data_does_not_prefer_bigger_law():
    design = isoflop_design([1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21, 3e21], 10)
    runs = simulate_runs(bs.KaplanN(), dict(E=1.9, A=300.0, alpha=0.3, sigma=0.01), design, seed=4)
    fits = {
        "kaplan-n": fit_quiet(bs.KaplanN(), runs),
        "chinchilla": fit_quiet(bs.ChinchillaLaw(), runs),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        table = bs.compare(fits)
    # Either the true, smaller law wins, or the larger one wins by no more than 2 se.
    if table.index[0] == "chinchilla":
        diff = table.loc["kaplan-n"]
        assert diff["elpd_diff"] <= 2 * diff["dse"]


def test_compare_refuses_different_runs(small_fit, chinchilla_fit):
    import copy

    from bayescale.fit import observed_name

    with pytest.raises(
        bs.ConfigError, match=r"different runs.*a has 80 runs, b \d+ \(data: a from"
    ):
        bs.compare({"a": small_fit, "b": chinchilla_fit})
    other = copy.copy(small_fit)
    other.idata = copy.deepcopy(small_fit.idata)
    other.idata.observed_data[observed_name(small_fit.law)].values[3] += 0.01
    with pytest.raises(bs.ConfigError, match=r"both have 80 runs, but 1 of .* differ.*run 3"):
        bs.compare({"a": small_fit, "b": other})
    with pytest.raises(bs.ConfigError, match="at least two"):
        bs.compare({"a": small_fit})


@pytest.fixture(scope="module")
def datablations():
    runs = pd.read_csv(data_dir() / "datablations.csv")
    sub = runs[runs["in_paper_fit_subset"]].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.DataWarning)  # seed repeats are real repeats
        dc = bs.DataConstrainedLaw().fit(
            sub, seed=1, draws=2000, tune=2000, target_accept=0.99, drift=False
        )
        ch = bs.ChinchillaLaw().fit(sub, seed=1, drift=False, draws=1000)
    return sub, dc, ch


@pytest.mark.slow
def test_datablations_prefers_data_constrained(datablations):
    sub, dc, ch = datablations
    assert len(sub) == 182
    assert dc.diagnostics["ok"], dc.diagnostics["problems"]
    table = bs.compare({"data-constrained": dc, "chinchilla": ch})
    assert table.index[0] == "data-constrained"
    row = table.loc["chinchilla"]
    assert row["elpd_diff"] > 4 * row["dse"]
    # R_D* is identified and finite, on the paper's order of magnitude (15.4, see README).
    r = dc.summary().loc["R_D_star"]
    assert 5 < r["median"] < 100 and r["upper"] / r["lower"] < 3


def test_literature_priors_and_prior_predictive(chinchilla_runs):
    law = bs.ChinchillaLaw(priors="hoffmann2022")
    assert law.priors["alpha"].parameters["mu"] == 0.34
    from bayescale.laws import law_from_dict

    assert law_from_dict(json.loads(json.dumps(law.to_dict()))) == law
    with pytest.raises(bs.ConfigError, match="unknown prior set"):
        bs.KaplanN(priors="hoffmann2022")
    with pytest.warns(bs.BayescaleWarning, match="overflow"):  # the default priors are wide
        wide = bs.ChinchillaLaw().prior_predictive(chinchilla_runs, draws=400, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.BayescaleWarning)
        tight = law.prior_predictive(chinchilla_runs, draws=400, seed=1)
    y = tight.prior_predictive["loss"].to_numpy()
    assert np.mean(~np.isfinite(y) | (y <= 0)) < 0.01
    assert wide.prior_predictive["loss"].dims == ("chain", "draw", "run")

    def spread(pp):
        q = np.quantile(np.log(pp.prior_predictive["loss"]), [0.95, 0.05], method="nearest")
        return float(np.subtract(*q))

    assert spread(tight) < spread(wide) / 3
    # Hoffmann's own law evaluated on the runs lies inside the tight prior predictive band.
    truth = bs.ChinchillaLaw().predict(HOFFMANN, N=chinchilla_runs["N"], D=chinchilla_runs["D"])
    lo, hi = np.quantile(tight.prior_predictive["loss"].values[0], [0.01, 0.99], axis=0)
    assert np.mean((truth >= lo) & (truth <= hi)) > 0.95


def test_cli_law_option_laws_and_compare(sim_runs, tmp_path, capsys, monkeypatch):
    csv = tmp_path / "runs.csv"
    sim_runs.to_csv(csv, index=False)
    for name in ("chinchilla", "kaplan-n"):
        code, out, err = run_cli(
            ["fit", csv, "--out", tmp_path / name, "--law", name, "--seed", 1, "--no-progress"],
            capsys,
            monkeypatch,
        )
        assert code == 0, err
    meta = json.loads((tmp_path / "kaplan-n" / "fit.json").read_text())
    assert meta["law"]["name"] == "kaplan-n" and meta["law"]["options"] == {"irreducible": True}
    code, out, _ = run_cli(
        ["compare", tmp_path / "chinchilla", tmp_path / "kaplan-n", "--json"], capsys, monkeypatch
    )
    assert code == 0
    doc = json.loads(out)
    assert [r["name"] for r in doc["ranking"]] == ["chinchilla", "kaplan-n"]
    keys = {"name", "law", "elpd_loo", "se", "elpd_diff", "dse", "weight", "pareto_k_bad"}
    keys.add("converged")
    assert all(set(r) == keys for r in doc["ranking"])
    code, out, _ = run_cli(["laws"], capsys, monkeypatch)
    assert code == 0 and "kaplan-joint" in out and "Muennighoff" in out
    code, _, err = run_cli(
        ["fit", csv, "--out", tmp_path / "x", "--law", "nope"], capsys, monkeypatch
    )
    assert code == 2 and "unknown law 'nope'" in err
    code, _, err = run_cli(
        ["fit", csv, "--out", tmp_path / "x", "--law", "chinchilla", "--no-irreducible"],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "no option(s) ['irreducible']" in err
    assert not (tmp_path / "x").exists()


def test_unconverged_fits_are_flagged(law, sim_runs, small_fit, tmp_path, capsys, monkeypatch):
    """Doubt stays visible: a fit whose diagnostics failed is marked in the table, warned
    about in Python, and flagged in the CLI's table, JSON and stderr."""
    rough = fit_quiet(law, sim_runs, draws=20, tune=20, chains=2)
    assert not rough.diagnostics["ok"]
    with pytest.warns(bs.ConvergenceWarning, match=r"\['rough'\] did not converge"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("always", bs.ConvergenceWarning)
            table = bs.compare({"good": small_fit, "rough": rough})
    assert table["converged"].to_dict() == {"good": True, "rough": False}
    dirs = [small_fit.save(tmp_path / "good"), rough.save(tmp_path / "rough")]
    code, out, err = run_cli(["compare", *dirs, "--json"], capsys, monkeypatch)
    assert code == 0
    doc = json.loads(out)
    assert {r["name"]: r["converged"] for r in doc["ranking"]} == {"good": True, "rough": False}
    assert doc["all_converged"] is False
    assert err.startswith("bayescale: warning: fit(s) ['rough'] did not converge")
    code, out, _ = run_cli(["compare", *dirs], capsys, monkeypatch)
    assert "converged" in out.splitlines()[0]
