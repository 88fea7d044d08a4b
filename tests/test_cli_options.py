"""Every `bayescale fit` option reaches the law and the sampler: the options are checked on what
`Law.fit` / `point_fit` receive (no sampling), so a flag that is parsed but dropped fails."""

from __future__ import annotations

import pytest

import bayescale as bs
from conftest import run_cli


@pytest.fixture()
def captured(small_fit, monkeypatch):
    """Replace the sampler and the point fit with recorders that return a ready fit."""
    calls: dict = {}

    def fake_fit(self, runs, **kwargs):
        calls.update(law=self, runs=runs, kwargs=kwargs)
        return small_fit

    def fake_point_fit(law, runs, **kwargs):
        calls.update(law=law, runs=runs, kwargs=kwargs)
        return small_fit

    monkeypatch.setattr(bs.Law, "fit", fake_fit)
    monkeypatch.setattr("bayescale.pointfit.point_fit", fake_point_fit)
    return calls


@pytest.fixture()
def csv(sim_runs, tmp_path):
    path = tmp_path / "runs.csv"
    sim_runs.assign(config=["a", "b"] * (len(sim_runs) // 2)).to_csv(path, index=False)
    return path


CASES = [
    (["--noise", "constant"], lambda c: c["law"].options()["noise"] == "constant"),
    (["--likelihood", "normal"], lambda c: c["law"].likelihood.kind == "normal"),
    (["--nu", "7"], lambda c: c["law"].likelihood.nu == 7.0),
    (
        ["--priors", "hoffmann2022"],
        lambda c: c["law"].priors["alpha"] != bs.ChinchillaLaw().priors["alpha"],
    ),
    (
        ["--group-column", "config", "--pooling", "partial"],
        lambda c: c["law"].pooling == "partial" and set(c["runs"]["group"]) == {"a", "b"},
    ),
    (
        ["--law", "broken-power", "--variable", "D"],
        lambda c: c["law"].options()["variable"] == "D",
    ),
    (["--target-accept", "0.97"], lambda c: c["kwargs"]["target_accept"] == 0.97),
    (["--no-drift"], lambda c: c["kwargs"]["drift"] is False),
    (["--draws", "123"], lambda c: c["kwargs"]["draws"] == 123),
    ([], lambda c: c["kwargs"]["draws"] is None),  # adaptive by default
    (["--method", "map"], lambda c: c["kwargs"]["method"] == "map"),
    (
        ["--method", "bootstrap", "--n-boot", "17"],
        lambda c: c["kwargs"]["method"] == "bootstrap" and c["kwargs"]["n_boot"] == 17,
    ),
]


@pytest.mark.parametrize("flags, received", CASES, ids=[" ".join(f) or "none" for f, _ in CASES])
def test_fit_option_reaches_the_fit(flags, received, captured, csv, tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(["fit", csv, "--out", tmp_path / "out", *flags], capsys, monkeypatch)
    assert code == 0, err
    assert received(captured), (flags, captured.get("kwargs"))


def test_jax_sampler_without_jax_names_the_install(law, sim_runs, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "jax" else real(name, *a)
    )
    with pytest.raises(bs.ConfigError, match=r"needs jax.*pip install 'bayescale\[jax\]'"):
        law.fit(sim_runs, sampler="numpyro")
