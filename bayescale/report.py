"""A citable, self-contained report of a fit: one HTML file (figures embedded as PNG data) or
Markdown with PNG files beside it.

Contents: data summary, priors, parameter table with diagnostics, figures, allocation table for
chosen budgets, extrapolation warnings, and a reproducibility block (versions, seed, data
SHA-256, command line). Every user-supplied string (file names, group names, commands) is
HTML-escaped; nothing is fetched from the network to view it.
"""

from __future__ import annotations

import base64
import io
import os
import warnings
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from . import constants as K
from .exceptions import ConfigError, ExtrapolationWarning
from .fit import Fit
from .formatting import fmt_interval, fmt_number, si
from .io import atomic_write_text, versions, write_result_dir

__all__ = ["build_report", "write_report"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1000px;margin:2em auto;
color:#222;line-height:1.45;padding:0 1em}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
img{max-width:100%;margin:0.5em 0}
.warn{background:#fff3cd;border:1px solid #e0c36b;padding:0.5em 1em}
code,pre{background:#f4f4f4;padding:2px 4px;font-size:0.85em;overflow-x:auto}
"""


def _figures(fit: Fit) -> dict[str, Any]:
    """Render the figures that apply to this law: name -> Figure."""
    from . import plots

    figs: dict[str, Any] = {}
    law = fit.law
    grouped = K.GROUP in fit.posterior.dims
    if grouped:
        return figs
    figs["Data and fitted law"] = plots.plot_fit(fit).figure
    if law.likelihood.curve:
        figs["Training curves"] = plots.plot_curves(fit.runs, fit, min_fraction=0.0).figure
    if law.name == "chinchilla":
        figs["IsoFLOP profiles"] = plots.plot_isoflop(fit).figure
        figs["IsoLoss contours and efficient frontier"] = plots.plot_isoloss(fit).figure
        figs["Compute-optimal allocation"] = plots.plot_allocation(fit)[0].figure
    if fit.link is not None:  # a downstream chain: the score and the link
        from . import chain_plots

        figs["Downstream score against compute"] = chain_plots.plot_score(fit).figure
        figs["Link from task loss to score"] = chain_plots.plot_link(fit).figure
    figs["Posterior-predictive check"] = plots.plot_residuals(fit).figure
    names = [p for p in ("alpha", "beta", "E", "gamma") if p in fit.posterior][:3]
    if len(names) >= 2:
        figs["Posterior of the exponents"] = (
            plots.plot_posterior_pairs(fit, names).ravel()[0].figure
        )
    return figs


def _png(fig: Any, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _sections(fit: Fit, compute: Sequence[float] | None) -> dict[str, Any]:
    """Everything the report shows, as plain data (strings unescaped)."""
    from .predict import optimal_allocation

    runs = fit.runs
    data = {
        "runs": len(runs),
        "N": f"{si(runs[K.N].min())} – {si(runs[K.N].max())}",
        "D": f"{si(runs[K.D].min())} – {si(runs[K.D].max())}",
        "C [FLOPs]": f"{runs[K.C].min():.3g} – {runs[K.C].max():.3g}",
        fit.law.target: f"{runs[fit.law.target].min():.4g} – {runs[fit.law.target].max():.4g}",
    }
    info = fit.data_info
    data["FLOPs per parameter per token"] = f"k = {info.get('flops_per_param_token', 6.0):g}"
    if info.get("derived"):
        data["derived column"] = info["derived"]
    if info.get("checkpoints"):
        data["training curves"] = info["checkpoints"]
    if info.get("converted_from"):
        data["loss unit"] = (
            f"{info.get('loss_unit', 'nats')} (converted from {info['converted_from']})"
        )
    if K.GROUP in runs.columns:
        groups = sorted(runs[K.GROUP].astype(str).unique())
        data["groups"] = ", ".join(groups[:20]) + (" …" if len(groups) > 20 else "")
    excluded = fit.data_info.get("excluded") or []
    if excluded:
        data["excluded runs"] = str(len(excluded))
    caught: list[str] = []
    allocation = None
    if fit.law.name == "chinchilla" and K.GROUP not in fit.posterior.dims:
        budgets = list(compute) if compute else [runs[K.C].max() * f for f in (1, 10, 100, 1000)]
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always", ExtrapolationWarning)
            allocation = optimal_allocation(fit, budgets)
        caught = [str(x.message) for x in w if issubclass(x.category, ExtrapolationWarning)]
    return {"data": data, "allocation": allocation, "extrapolation": caught}


def _likelihood_words(fit: Fit) -> str:
    observed = "log loss" if fit.law.observation == "log" else fit.law.target
    return fit.law.likelihood.describe(observed)


def _repro(fit: Fit) -> dict[str, str]:
    meta = {
        "bayescale and libraries": ", ".join(f"{k} {v}" for k, v in versions().items()),
        "law": f"{fit.law.name}: {fit.law.formula}",
        "options": str(fit.law.options() or "none"),
        "sampler": ", ".join(
            f"{k}={fit.settings.get(k)}" for k in ("sampler", "chains", "draws", "tune", "seed")
        ),
        "data file": str(fit.data_info.get("source")),
        "data SHA-256": str(fit.data_info.get("sha256") or "n/a (DataFrame)"),
        "runs SHA-256": str(fit.data_info.get("runs_sha256")),
    }
    command = fit.settings.get("command") or fit.data_info.get("command")
    if command:
        meta["command line"] = " ".join(map(str, command))
    return meta


def _table_html(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _param_rows(fit: Fit) -> list[list[str]]:
    s = fit.summary()
    return [
        [
            str(name),
            fmt_interval(r["median"], r["lower"], r["upper"]),
            fmt_number(r["sd"], 2),
            f"{r['r_hat']:.3f}",
            f"{r['ess_bulk']:.0f}",
            f"{r['ess_tail']:.0f}",
        ]
        for name, r in s.iterrows()
    ]


PARAM_HEADER = ["parameter", "median [90% interval]", "sd", "R-hat", "ESS bulk", "ESS tail"]
ALLOC_HEADER = ["compute [FLOPs]", "N*", "D*", "L*", "tokens/param", "x largest run"]


def _alloc_rows(table) -> list[list[str]]:
    return [
        [
            fmt_number(r["compute"], 3, "flops"),
            fmt_interval(r["N_opt_median"], r["N_opt_lower"], r["N_opt_upper"], counts=True),
            fmt_interval(r["D_opt_median"], r["D_opt_lower"], r["D_opt_upper"], counts=True),
            fmt_interval(r["loss_opt_median"], r["loss_opt_lower"], r["loss_opt_upper"]),
            fmt_interval(
                r["tokens_per_param_median"],
                r["tokens_per_param_lower"],
                r["tokens_per_param_upper"],
            ),
            f"{r['compute_factor']:.3g}",
        ]
        for _, r in table.iterrows()
    ]


def build_report(
    fit: Fit, *, compute: Sequence[float] | None = None, title: str | None = None
) -> tuple[str, list[tuple[str, str, bytes]]]:
    """The report as HTML (images embedded) and its figures as (title, file name, PNG)."""
    sec = _sections(fit, compute)
    figs = {name: _png(fig) for name, fig in _figures(fit).items()}
    title = title or f"bayescale report: {fit.law.name} on {fit.data_info.get('source')}"
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p><b>Law.</b> {escape(fit.law.formula)} ({escape(fit.law.reference)}). "
        f"Likelihood: {escape(_likelihood_words(fit))}.</p>",
        "<h2>Data</h2>",
        _table_html([[k, str(v)] for k, v in sec["data"].items()], ["", "value"]),
        "<h2>Priors</h2>",
        _table_html([[k, repr(v)] for k, v in fit.law.priors.items()], ["parameter", "prior"]),
        "<h2>Posterior and diagnostics</h2>",
        _table_html(_param_rows(fit), PARAM_HEADER),
    ]
    d = fit.diagnostics
    parts.append(
        f"<p>max R-hat {d.get('max_rhat', float('nan')):.3f}, min ESS bulk "
        f"{d.get('min_ess_bulk', 0):.0f}, tail {d.get('min_ess_tail', 0):.0f}, divergences "
        f"{d.get('divergences', 0)}.</p>"
    )
    if d.get("problems"):
        items = "".join(f"<li>{escape(p)}</li>" for p in d["problems"])
        parts.append(f"<div class='warn'><b>Do not trust this fit yet:</b><ul>{items}</ul></div>")
    drift_class = "" if fit.drift is not None else " class='warn'"
    parts.append(f"<p{drift_class}><b>Extrapolation.</b> {escape(fit.drift_note)}.</p>")
    if sec["allocation"] is not None:
        parts += [
            "<h2>Compute-optimal allocation</h2>",
            "<p>Median [90% interval], computed per posterior draw.</p>",
            _table_html(_alloc_rows(sec["allocation"]), ALLOC_HEADER),
        ]
    if sec["extrapolation"]:
        items = "".join(f"<li>{escape(m)}</li>" for m in sec["extrapolation"])
        parts.append(f"<div class='warn'><b>Extrapolation:</b><ul>{items}</ul></div>")
    if figs:
        parts.append("<h2>Figures</h2>")
    files = []
    for i, (name, png) in enumerate(figs.items()):
        fname = f"figure{i + 1}.png"
        files.append((name, fname, png))
        data = base64.b64encode(png).decode("ascii")
        parts.append(
            f"<h3>{escape(name)}</h3><img alt='{escape(name)}' src='data:image/png;base64,{data}'>"
        )
    parts += [
        "<h2>Reproducibility</h2>",
        _table_html([[k, v] for k, v in _repro(fit).items()], ["", ""]),
        "</body></html>",
    ]
    return "\n".join(parts), files


def _markdown(
    fit: Fit, compute: Sequence[float] | None, files: list[tuple[str, str, bytes]]
) -> str:
    sec = _sections(fit, compute)

    def table(rows, header):
        esc = [[c.replace("|", "\\|") for c in r] for r in rows]
        return "\n".join(
            ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(r) + " |" for r in esc]
        )

    out = [
        f"# bayescale report: {fit.law.name}",
        "",
        f"Law: `{fit.law.formula}`",
        "",
        "## Data",
        "",
        table([[k, str(v)] for k, v in sec["data"].items()], ["", "value"]),
        "",
        "## Posterior and diagnostics",
        "",
        table(_param_rows(fit), PARAM_HEADER),
        "",
    ]
    out += [f"- {p}" for p in fit.diagnostics.get("problems", [])]
    out += ["", f"Extrapolation: {fit.drift_note}."]
    if sec["allocation"] is not None:
        out += [
            "",
            "## Compute-optimal allocation",
            "",
            table(_alloc_rows(sec["allocation"]), ALLOC_HEADER),
        ]
    out += [f"- warning: {m}" for m in sec["extrapolation"]]
    out += ["", "## Figures", ""] + [f"![{name}]({fname})" for name, fname, _ in files]
    out += ["", "## Reproducibility", "", table([[k, v] for k, v in _repro(fit).items()], ["", ""])]
    return "\n".join(out) + "\n"


def write_report(
    fit: Fit, out: str | os.PathLike, *, fmt: str = "html", compute: Sequence[float] | None = None
) -> Path:
    """Write the report atomically: ``fmt="html"`` one file, ``"md"`` a directory with
    ``report.md`` and the figures as PNG."""
    out = Path(out)
    if fmt == "html":
        html, _ = build_report(fit, compute=compute)
        return atomic_write_text(out, html)
    if fmt != "md":
        raise ConfigError(f"report format must be 'html' or 'md', got {fmt!r}")
    _, files = build_report(fit, compute=compute)
    text = _markdown(fit, compute, files)
    writers = {"report.md": lambda p: p.write_text(text, encoding="utf-8")}
    for _, fname, png in files:
        writers[fname] = lambda p, png=png: p.write_bytes(png)
    return write_result_dir(out, writers)
