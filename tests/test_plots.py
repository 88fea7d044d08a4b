"""Each plot runs on a small fit and draws the expected axes: labels, log scales, curves."""

from __future__ import annotations

import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

import bayescale as bs
from bayescale import plots

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_plot_fit(small_fit):
    ax = plots.plot_fit(small_fit, extrapolate_to=1e24)
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "training compute C [FLOPs]"
    assert ax.get_ylabel() == "loss [nats/token]"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "compute-optimal loss L*(C)" in labels and "90% interval" in labels
    curve, data_edge = ax.get_lines()  # the median curve, and a marker at the largest run
    assert curve.get_xdata().max() == pytest.approx(1e24)
    assert data_edge.get_xdata()[0] == pytest.approx(small_fit.runs["C"].max())
    assert len(ax.collections) == 3  # two bands and the runs
    # SI tick labels
    ax.figure.canvas.draw()
    assert any(t.get_text().startswith("1e") for t in ax.get_xticklabels())


def test_plot_isoflop(small_fit):
    ax = plots.plot_isoflop(small_fit, budgets=[1e19, 1e20, 1e21])
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "parameters N"
    assert len(ax.get_lines()) >= 3
    assert len(ax.get_legend().get_texts()) == 3
    ax.figure.canvas.draw()
    assert any(t.get_text().endswith(("M", "B")) for t in ax.get_xticklabels())


def test_plot_isoloss(small_fit):
    ax = plots.plot_isoloss(small_fit)
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("parameters N", "tokens D")
    assert "efficient frontier" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_plot_allocation(small_fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)
        left, right = plots.plot_allocation(small_fit)
    assert left.get_yscale() == "log" and right.get_ylabel() == "tokens per parameter"
    labels = [t.get_text() for t in right.get_legend().get_texts()]
    assert "Chinchilla: 20 tokens/param" in labels
    assert "Kaplan: N* ~ C^0.73" in [t.get_text() for t in left.get_legend().get_texts()]


def test_plot_residuals_and_pairs(small_fit):
    ax = plots.plot_residuals(small_fit)
    assert ax.get_ylabel() == "residual, log loss"
    (pts,) = [c for c in ax.collections if c.get_offsets().shape[0] == len(small_fit.runs)]
    assert np.isfinite(pts.get_offsets()).all()
    axes = plots.plot_posterior_pairs(small_fit)
    assert np.asarray(axes).shape == (3, 3)


def test_plot_compare(small_fit, law, sim_runs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = bs.KaplanN().fit(sim_runs, seed=1, draws=300, tune=300)
        table = bs.compare({"chinchilla": small_fit, "kaplan-n": other})
    ax = plots.plot_compare(table)
    assert ax.get_title() == "Model comparison (PSIS-LOO)"


def test_savefig_300dpi(small_fit, tmp_path):
    import struct

    ax = plots.plot_fit(small_fit)
    width, height = ax.figure.get_size_inches()
    for ext in ("png", "pdf", "svg"):
        ax.figure.savefig(tmp_path / f"fit.{ext}", dpi=300)
    png = (tmp_path / "fit.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    w_px, h_px = struct.unpack(">II", png[16:24])  # the IHDR chunk: pixels at 300 dpi
    assert (w_px, h_px) == (round(width * 300), round(height * 300))
    assert (tmp_path / "fit.pdf").read_bytes()[:5] == b"%PDF-"
    svg = (tmp_path / "fit.svg").read_text()
    assert "<svg" in svg and "<path" in svg  # vector output, with the drawn curves


@pytest.mark.parametrize("x, label", [("N", "parameters N"), ("D", "tokens D")])
def test_plot_fit_against_n_and_d(small_fit, x, label):
    ax = plots.plot_fit(small_fit, x=x, color_by="N")
    assert ax.get_xlabel() == label and ax.get_xscale() == "log"
    (curve,) = ax.get_lines()
    assert np.all(np.isfinite(curve.get_ydata())) and len(curve.get_xdata()) > 10


def test_plot_fit_coloured_by_group(small_fit):
    small_fit.runs["group"] = np.where(small_fit.runs["N"] > 1e9, "big", "small")
    try:
        ax = plots.plot_fit(small_fit, color_by="group")
        labels = {t.get_text() for t in ax.get_legend().get_texts()}
        assert {"big", "small"} <= labels
    finally:
        del small_fit.runs["group"]
