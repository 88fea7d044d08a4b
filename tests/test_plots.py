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
    assert ax.get_xlabel() == "training compute $C$ [FLOPs]"
    assert ax.get_ylabel() == "loss $L$ [nats/token]"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    line = "compute-optimal loss $L^*$$(C)$"
    assert f"{line}: median" in labels and f"{line}: 90% interval" in labels
    assert "largest fitted run" in labels
    curve, data_edge = ax.get_lines()  # the median curve, and a marker at the largest run
    assert curve.get_xdata().max() == pytest.approx(1e24)
    assert data_edge.get_xdata()[0] == pytest.approx(small_fit.runs["C"].max())
    assert len(ax.collections) == 3  # two bands and the runs
    # SI tick labels
    ax.figure.canvas.draw()
    assert any(t.get_text().startswith("1e") for t in ax.get_xticklabels())


def test_plot_isoflop(small_fit):
    ax = plots.plot_isoflop(small_fit, budgets=[1e19, 1e20, 1e21])
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "parameters $N$"
    assert len(ax.get_lines()) >= 3
    assert len(ax.get_legend().get_texts()) == 3
    ax.figure.canvas.draw()
    assert any(t.get_text().endswith(("M", "B")) for t in ax.get_xticklabels())


def test_plot_isoloss(small_fit):
    ax = plots.plot_isoloss(small_fit)
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("parameters $N$", "training tokens $D$")
    assert "efficient frontier" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_plot_allocation(small_fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)
        left, right = plots.plot_allocation(small_fit)
    assert left.get_yscale() == "log" and right.get_ylabel() == "tokens per parameter $D^*/N^*$"
    labels = [t.get_text() for t in right.get_legend().get_texts()]
    assert "Chinchilla: 20 tokens/param" in labels
    left_labels = [t.get_text() for t in left.get_legend().get_texts()]
    assert r"Kaplan: $N^* \propto C^{0.73}$" in left_labels
    # both fans have their bands in the legend (not N*'s swatches for D*'s bands too)
    assert {"$N^*$: 90% interval", "$D^*$: 90% interval", "$D^*$: 50% interval"} <= set(left_labels)
    assert "largest fitted run" in labels


def test_plot_residuals_and_pairs(small_fit):
    ax = plots.plot_residuals(small_fit)
    assert ax.get_ylabel() == r"residual, $\log L$ (observed $-$ median law)"
    (pts,) = [c for c in ax.collections if c.get_offsets().shape[0] == len(small_fit.runs)]
    assert np.isfinite(pts.get_offsets()).all()
    axes = plots.plot_posterior_pairs(small_fit)
    assert np.asarray(axes).shape == (3, 3)


def test_plot_compare(small_fit, law, sim_runs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # a second fit of the same (already compiled) law: a comparison table to draw
        other = law.fit(sim_runs, seed=1, draws=300, tune=300, drift=False)
        table = bs.compare({"chinchilla": small_fit, "again": other})
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


@pytest.mark.parametrize("x, label", [("N", "parameters $N$"), ("D", "training tokens $D$")])
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


def _drawn_and_listed(ax):
    """(artists drawn with a label meant for the legend, the legend's handles)."""
    drawn = [
        a
        for a in [*ax.lines, *ax.collections, *ax.patches]
        if a.get_label() and not a.get_label().startswith("_")
    ]
    handles = ax.get_legend().legend_handles
    return drawn, handles


@pytest.mark.parametrize("which", ["fit", "allocation", "isoloss", "residuals"])
def test_figures_use_math_text_and_legends_match_what_is_drawn(small_fit, which):
    """Axis labels and the fit's title are math text; every line drawn is labelled; every
    legend entry is a drawn artist with the same colour (no orphan or mismatched swatch)."""
    import matplotlib.colors as mcolors
    from matplotlib.mathtext import MathTextParser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)
        made = {
            "fit": lambda: [plots.plot_fit(small_fit, extrapolate_to=1e24)],
            "allocation": lambda: list(plots.plot_allocation(small_fit)),
            "isoloss": lambda: [plots.plot_isoloss(small_fit)],
            "residuals": lambda: [plots.plot_residuals(small_fit)],
        }[which]()
    parser = MathTextParser("agg")
    for ax in made:
        ax.figure.canvas.draw()  # math text that does not parse fails here
        for text in (ax.get_xlabel(), ax.get_ylabel()):
            assert text.count("$") >= 2, text
        for line in ax.lines:  # every line is in the legend or a repeat of one that is
            assert not line.get_label().startswith("_child"), line
        drawn, handles = _drawn_and_listed(ax)
        by_label = {a.get_label(): a for a in drawn}
        texts = [t.get_text() for t in ax.get_legend().get_texts()]
        assert sorted(texts) == sorted(by_label) and len(handles) == len(texts)
        for handle, text in zip(handles, texts, strict=True):
            artist = by_label[text]
            colour = artist.get_color() if hasattr(artist, "get_color") else artist.get_facecolor()
            swatch = handle.get_color() if hasattr(handle, "get_color") else handle.get_facecolor()
            assert np.allclose(
                mcolors.to_rgba_array(colour)[:1], mcolors.to_rgba_array(swatch)[:1]
            ), text
    if which == "fit":
        ax = made[0]
        title = ax.get_title()
        assert title.startswith("$") and r"\alpha" in title
        parser.parse(title, dpi=72)
        assert ax.figure.axes[-1].get_ylabel() == r"$\log_{10} N$"  # the colour bar


def test_every_laws_formula_is_valid_math_text():
    from matplotlib.mathtext import MathTextParser

    from bayescale.formatting import formula_tex
    from bayescale.laws import LAWS

    parser = MathTextParser("agg")
    for cls in LAWS.values():
        parser.parse(f"${formula_tex(cls().formula)}$", dpi=72)
