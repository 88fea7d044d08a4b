"""Chinchilla's Approaches 1 and 2 (bootstrap intervals) beside Approach 3 (the posterior)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.approaches import approach1, approach2, approaches, isoflop_budgets
from bayescale.datasets import data_dir
from bayescale.simulate import isoflop_design, simulate_runs
from conftest import HOFFMANN

A_TRUE = HOFFMANN["beta"] / (HOFFMANN["alpha"] + HOFFMANN["beta"])


@pytest.fixture(scope="module")
def isoflop_runs():
    design = isoflop_design(
        np.geomspace(1e18, 1e22, 9), runs_per_budget=15, tokens_per_param=(2.0, 300.0)
    )
    return simulate_runs(
        bs.ChinchillaLaw(noise="constant"), {**HOFFMANN, "sigma": 0.003}, design, seed=1
    )


def test_budgets_are_found(isoflop_runs):
    labels = isoflop_budgets(isoflop_runs)
    assert len(np.unique(labels)) == 9 and np.bincount(labels).min() == 15


def test_approach2_recovers_allocation_exponent(isoflop_runs):
    for degree in (2, 3):
        out = approach2(isoflop_runs, degree=degree, n_boot=100)
        assert out["a"] == pytest.approx(A_TRUE, abs=0.03), degree
        assert out["a_lower"] <= out["a"] <= out["a_upper"]
        assert out["b"] == pytest.approx(1 - out["a"])


def test_approach1_is_coarse_but_close(isoflop_runs):
    out = approach1(isoflop_runs, n_boot=100)
    assert out["a"] == pytest.approx(A_TRUE, abs=0.08)


def test_table_with_parametric_row(small_fit, sim_runs):
    table = approaches(sim_runs, small_fit, n_boot=50)
    assert list(table.index) == [
        "1: envelope",
        "2: IsoFLOP parabola",
        "2: IsoFLOP cubic",
        "3: parametric (posterior)",
    ]
    assert (table["a_lower"] <= table["a"]).all() and (table["a"] <= table["a_upper"]).all()
    assert table.attrs["interval"] == 0.9


def test_too_few_budgets():
    runs = pd.DataFrame(
        {
            "N": [1e8, 2e8, 3e8],
            "D": [1e9, 1e9, 1e9],
            "C": [6e17, 1.2e18, 1.8e18],
            "loss": [3.0, 2.9, 2.95],
        }
    )
    with pytest.raises(bs.DataError, match="Approach 2 needs"):
        approach2(runs, n_boot=10)


def test_porian_approach2_orders_configurations_as_published():
    runs = pd.read_csv(data_dir() / "porian_isoflop.csv")
    published = pd.read_csv(data_dir() / "porian_published_fits.csv").set_index("group")
    ours = {
        g: approach2(part.reset_index(drop=True), n_boot=0)["a"]
        for g, part in runs.groupby("group")
    }
    for dataset in ("rw", "owt2"):
        groups = [g for g in ours if g.startswith(dataset + "|")]
        pub = published.loc[groups, "n_exponent"]
        mine = pd.Series({g: ours[g] for g in groups})
        assert mine.idxmax() == pub.idxmax() and mine.idxmin() == pub.idxmin(), dataset
        assert np.corrcoef(mine[pub.index], pub)[0, 1] > 0.9


def test_profile_minima_find_each_budgets_optimal_size(isoflop_runs):
    """Each budget's parabola minimum lies within three of its bootstrap sds of the law's own
    N*(C) (worst here 1.7; the sd grows with the budget, whose runs span a wider, more skewed
    profile); a budget whose runs all lie on one side of its optimum is left out (no interior
    minimum)."""
    from bayescale.allocation import optimal_allocation
    from bayescale.approaches import profile_minima

    table = profile_minima(isoflop_runs, n_boot=100, seed=2)
    assert len(table) == 9 and (table["log_N_min_sd"] > 0).all()
    truth = optimal_allocation(
        *(HOFFMANN[p] for p in ("E", "A", "B", "alpha", "beta")), table["compute"].to_numpy()
    )["N_opt"]
    z = (table["log_N_min"] - np.log(truth)) / table["log_N_min_sd"]
    assert np.abs(z).max() < 3, z.round(2).tolist()
    one_sided = isoflop_runs[isoflop_runs["N"] < 0.5 * np.exp(table["log_N_min"]).min()]
    assert profile_minima(one_sided.assign(C=1e18), n_boot=0).empty
