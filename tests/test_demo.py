"""The demo job on the shipped Chinchilla runs, with default settings (issue 2's acceptance):
posterior medians of E, alpha, beta inside the replication's 95% intervals; R-hat <= 1.01,
no divergences, bulk ESS >= 400."""

from __future__ import annotations

import pandas as pd
import pytest

from bayescale.datasets import chinchilla_reference
from bayescale.demo import run_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    table, fit_240, fit_245 = run_demo(out)
    return out, table, fit_240, fit_245


@pytest.mark.slow
def test_medians_inside_replication_intervals(demo):
    _, table, fit_240, _ = demo
    ref = chinchilla_reference()["replication"]
    assert len(fit_240.runs) == 240
    for p in ("E", "alpha", "beta"):
        assert ref[p]["lower"] <= table.loc[p, "median_240"] <= ref[p]["upper"], p
        assert table.loc[p, "median_inside_replication_ci"]


@pytest.mark.slow
def test_default_settings_converge(demo):
    _, _, fit_240, fit_245 = demo
    for fit in (fit_240, fit_245):
        d = fit.diagnostics
        assert d["max_rhat"] <= 1.01
        assert d["divergences"] == 0
        assert d["min_ess_bulk"] >= 400
        assert d["ok"], d["problems"]


@pytest.mark.slow
def test_demo_outputs(demo):
    out, table, _, fit_245 = demo
    assert len(fit_245.runs) == 245
    assert (out / "fit_240" / "posterior.nc").is_file() and (out / "fit_245" / "fit.json").is_file()
    written = pd.read_csv(out / "comparison.csv", index_col=0)
    pd.testing.assert_index_equal(written.index, table.index)
    assert "| alpha |" in (out / "comparison.md").read_text()
