"""The self-contained report: parses, every embedded image decodes, user strings are escaped."""

from __future__ import annotations

import base64
import io
import sys
from html.parser import HTMLParser

import matplotlib.image as mpimg
import pytest

import bayescale as bs
from bayescale.cli import main
from bayescale.report import write_report

EVIL = "<script>alert(1)</script>"


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.scripts, self.headings = [], 0, []
        self._tag = None

    def handle_starttag(self, tag, attrs):
        self._tag = tag
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        if tag == "script":
            self.scripts += 1

    def handle_data(self, data):
        if self._tag in ("h2", "h3"):
            self.headings.append(data)


@pytest.fixture(scope="module")
def evil_fit(small_fit):
    """The shared small fit, its runs carrying a group name that is HTML (no second fit)."""
    f = small_fit
    return bs.Fit(f.law, f.runs.assign(group=EVIL), f.idata, f.settings, f.diagnostics, f.data_info)


def test_html_report_is_self_contained(evil_fit, tmp_path):
    path = write_report(evil_fit, tmp_path / "report.html", compute=[1e22, 1e24])
    html = path.read_text()
    parser = _Collect()
    parser.feed(html)
    assert len(parser.images) == 6
    for src in parser.images:
        assert src.startswith("data:image/png;base64,")  # nothing to fetch
        img = mpimg.imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1])), format="png")
        assert img.shape[0] > 100 and img.shape[1] > 100
    assert {
        "Data",
        "Priors",
        "Posterior and diagnostics",
        "Compute-optimal allocation",
        "Reproducibility",
    } <= set(parser.headings)
    assert "http://" not in html and "https://" not in html
    # user-supplied strings are escaped: no script element, the text shows escaped
    assert parser.scripts == 0 and EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert evil_fit.data_info["runs_sha256"] in html and "Extrapolation" in html
    assert "Likelihood: Student-t noise (4 degrees of freedom) on log loss." in html
    assert evil_fit.drift is not None and evil_fit.drift_note in html  # what extrapolations carry


def test_markdown_report(evil_fit, tmp_path):
    out = write_report(evil_fit, tmp_path / "md", fmt="md")
    names = sorted(p.name for p in out.iterdir())
    assert names[-1] == "report.md" and len(names) == 7
    text = (out / "report.md").read_text()
    assert "![Data and fitted law](figure1.png)" in text and "| alpha |" in text
    assert f"Extrapolation: {evil_fit.drift_note}." in text
    with pytest.raises(bs.ConfigError, match="format"):
        write_report(evil_fit, tmp_path / "x", fmt="pdf")


def test_cli_report(small_fit, tmp_path, capsys, monkeypatch):
    fit_dir = small_fit.save(tmp_path / "fit")
    monkeypatch.setattr(sys, "argv", ["bayescale", "report", str(fit_dir)])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 0
    assert (fit_dir / "report.html").stat().st_size > 10_000
    assert "wrote" in capsys.readouterr().out
    # a refit into the folder removes the report of the previous fit, and nothing else
    (fit_dir / "notes.txt").write_text("mine")
    (fit_dir / "report").mkdir()
    small_fit.save(fit_dir)
    assert not (fit_dir / "report.html").exists() and not (fit_dir / "report").exists()
    assert (fit_dir / "notes.txt").read_text() == "mine" and bs.load_fit(fit_dir)
