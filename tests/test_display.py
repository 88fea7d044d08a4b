"""Rich display: result tables and fits render as readable HTML with SI suffixes."""

from __future__ import annotations

import pandas as pd
import pytest

import bayescale as bs
from bayescale.display import ResultFrame, interval_digits, pretty_table


def test_pretty_table_merges_intervals_and_uses_si():
    t = ResultFrame(
        {
            "compute": [5.88e23],
            "N_opt_median": [70.1e9],
            "N_opt_lower": [61e9],
            "N_opt_upper": [85.2e9],
            "loss_median": [1.97641],
            "loss_lower": [1.95139],
            "loss_upper": [2.00082],
            "prob_below_target": [0.04751],
            "compute_factor": [45.38],
        }
    )
    row = pretty_table(t).iloc[0].to_dict()
    assert row == {
        "compute": "5.88e23",
        "N_opt": "70.1B [61B, 85.2B]",
        "loss": "1.976 [1.951, 2.001]",
        "prob_below_target": "0.048",
        "compute_factor": "45.4×",
    }
    html = t._repr_html_()
    assert "70.1B [61B, 85.2B]" in html and "<table" in html


def test_interval_digits_resolve_the_width():
    assert interval_digits(1.8123, 1.8101, 1.8145) == 5
    assert interval_digits(0.5, 0.2, 0.9) == 3
    assert interval_digits(float("inf"), 1.0, float("inf")) == 4


def test_result_tables_stay_dataframes_and_display(small_fit):
    alloc = bs.optimal_allocation(small_fit, [1e21, 1e23])
    assert isinstance(alloc, pd.DataFrame) and isinstance(alloc, ResultFrame)
    assert alloc.attrs["interval"] == 0.9
    html = alloc._repr_html_()
    assert "median [90% interval]" in html and "B [" in html  # SI-suffixed N*
    sub = alloc[alloc.compute > 5e21]  # pandas operations keep the display
    assert isinstance(sub, ResultFrame) and "<table" in sub._repr_html_()
    with pytest.warns(bs.ExtrapolationWarning):
        pred = bs.predict_loss(small_fit, 7e10, 1.4e12, target=2.0)
    assert "prob_below_target" in pred._repr_html_()
    # A reshaped table without interval triples still displays (plain pandas rendering)
    assert "<table" in pred.T._repr_html_()


def test_fit_html_flags_an_untrustworthy_fit(small_fit):
    import copy

    bad = copy.copy(small_fit)
    problem = "R-hat 1.050 > 1.01 for 'E': the chains disagree"
    bad.diagnostics = {**small_fit.diagnostics, "ok": False, "problems": [problem]}
    html = bad._repr_html_()
    assert "do not trust this fit yet" in html and "✓ diagnostics ok" not in html
    assert "R-hat 1.050 &gt; 1.01 for &#x27;E&#x27;" in html  # the problem, HTML-escaped


def test_fit_display_says_what_an_extrapolation_carries(small_fit):
    import copy

    assert small_fit.drift is not None and "tail" in repr(small_fit)
    assert "extrapolation drift τ = " in small_fit._repr_html_()
    none = copy.copy(small_fit)
    none.settings = {**small_fit.settings, "drift": {"tau": None, "note": "fewer than 30 runs"}}
    assert none.drift is None
    assert "no extrapolation drift (fewer than 30 runs)" in none._repr_html_()
    assert "no extrapolation drift (fewer than 30 runs)" in repr(none)


def test_predictions_use_the_fits_k(small_fit):
    import copy

    eight = copy.copy(small_fit)
    eight.data_info = {**small_fit.data_info, "flops_per_param_token": 8.0}
    assert small_fit.data_info["flops_per_param_token"] == 6.0
    t = bs.predict_loss(eight, 1e9, 2e10)
    assert t["C"][0] == pytest.approx(8 * 1e9 * 2e10)
    a = bs.optimal_allocation(eight, 1e21)
    assert (8 * a["N_opt_median"] * a["D_opt_median"] / 1e21)[0] == pytest.approx(1, rel=0.05)
    assert bs.predict_loss(eight, 1e9, 2e10, k=6)["C"][0] == pytest.approx(6 * 1e9 * 2e10)


def test_fit_html_flags_diagnostics(small_fit):
    html = small_fit._repr_html_()
    assert "chinchilla" in html and "R-hat" in html and "ESS bulk" in html
    assert "✓ diagnostics ok" in html
    assert html.count("<tr>") == len(small_fit.summary()) + 1


def test_one_number_format_everywhere(small_fit):
    """The fit display, the CLI and the report write a parameter's interval the same way, with
    significant figures set by the interval's width and no exponent for ordinary numbers."""
    from bayescale.cli_fit import summary_text
    from bayescale.formatting import fmt_interval
    from bayescale.report import _param_rows

    s = small_fit.summary()
    for param in ("B", "alpha"):
        r = s.loc[param]
        cell = fmt_interval(r["median"], r["lower"], r["upper"])
        assert "e+" not in cell and cell.count(".") in (0, 3)  # same decimals on all three
        assert cell in small_fit._repr_html_()
        assert cell in summary_text(s)
        assert [param, cell] == _param_rows(small_fit)[list(s.index).index(param)][:2]
    assert fmt_interval(2.506, 2.37, 2.591) == "2.51 [2.37, 2.59]"
    assert fmt_interval(1260.0, 871.0, 1880.0) == "1260 [871, 1880]"
