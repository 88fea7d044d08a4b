"""Render the example figures in docs/ from a saved fit (default: the `make demo` fit), and
the OLMo ladder's training curves with a fit of their final losses.

Usage: python scripts/make_figures.py [FIT_DIR] [OUT_DIR]
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import bayescale as bs  # noqa: E402
from bayescale import plots  # noqa: E402


def main(fit_dir: str = "results/demo/fit_240", out: str = "docs") -> None:
    fit = bs.load_fit(fit_dir)
    out_dir = Path(out)
    out_dir.mkdir(exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ExtrapolationWarning)
        figures = {
            "fit.png": plots.plot_fit(fit, extrapolate_to=5.88e23).figure,
            "fit_vs_n.png": plots.plot_fit(fit, x="N", extrapolate_to=70e9).figure,
            "isoflop.png": plots.plot_isoflop(fit).figure,
            "isoloss.png": plots.plot_isoloss(fit).figure,
            "allocation.png": plots.plot_allocation(fit)[0].figure,
            "residuals.png": plots.plot_residuals(fit).figure,
            "posterior_pairs.png": plots.plot_posterior_pairs(fit).ravel()[0].figure,
        }
        from bayescale.datasets import load_olmo_ladder

        curves = load_olmo_ladder(curves=True)  # the ladder's curves, the law of its final losses
        figures["curves.png"] = plots.plot_curves(
            curves, bs.ChinchillaLaw().fit(curves, seed=1)
        ).figure
        other = bs.KaplanC().fit(fit.runs, seed=1)
        table = bs.compare({"chinchilla": fit, "kaplan-c": other})
        figures["compare.png"] = plots.plot_compare(table).figure
    for name, fig in figures.items():
        fig.savefig(out_dir / name, dpi=110)
        print(f"wrote {out_dir / name}")


if __name__ == "__main__":
    main(*sys.argv[1:])
