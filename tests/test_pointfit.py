"""Fast point-estimate modes: `fit --method map|bootstrap` return fits the prediction layer uses."""

from __future__ import annotations

import pytest

import bayescale as bs
from bayescale.pointfit import point_fit
from conftest import BESIROGLU, run_cli


@pytest.fixture(scope="module")
def replication_runs(chinchilla_runs):
    return chinchilla_runs[chinchilla_runs.replication_subset.astype(bool)].reset_index(drop=True)


def test_map_is_a_one_draw_fit_near_the_replication(replication_runs):
    # constant noise: the replication's Huber fit weighs every run alike too
    fit = point_fit(bs.ChinchillaLaw(noise="constant"), replication_runs, method="map")
    s = fit.summary()
    assert fit.posterior.sizes["draw"] == 1 and fit.settings["method"] == "map"
    for p in ("E", "alpha", "beta"):
        assert s.loc[p, "median"] == pytest.approx(BESIROGLU[p], rel=0.03)
    assert s.loc["sigma", "median"] > 0
    assert "not MCMC" in repr(fit) and "map point fit" in fit._repr_html_()
    alloc = bs.optimal_allocation(fit, 5.88e23)  # intervals collapse to the point
    assert alloc.tokens_per_param_lower.iloc[0] == alloc.tokens_per_param_upper.iloc[0]
    with pytest.raises(bs.ConfigError, match="PSIS-LOO needs posterior draws"):
        bs.compare({"a": fit, "b": fit})


def test_bootstrap_fit_cli_round_trip(tmp_path, capsys, monkeypatch):
    out = tmp_path / "boot"
    code, stdout, _ = run_cli(
        [
            "fit",
            "data/chinchilla.csv",
            "--out",
            out,
            "--method",
            "bootstrap",
            "--n-boot",
            "20",
            "--exclude-top-loss",
            "5",
            "--seed",
            "3",
        ],
        capsys,
        monkeypatch,
    )
    assert code == 0 and "bootstrap; not MCMC" in stdout
    fit = bs.load_fit(out)
    assert fit.posterior.sizes["draw"] == 20 and fit.diagnostics["method"] == "bootstrap"
    s = fit.summary()
    assert s.loc["alpha", "lower"] < s.loc["alpha", "median"] < s.loc["alpha", "upper"]
    assert s.loc["E", "median"] == pytest.approx(BESIROGLU["E"], rel=0.03)
    code, stdout, _ = run_cli(
        ["allocate", out, "--compute", "5.88e23", "--json"], capsys, monkeypatch
    )
    assert code == 0 and "tokens_per_param" in stdout


def test_point_fit_refuses_what_it_cannot_do(replication_runs):
    with pytest.raises(bs.ConfigError, match="method must be one of"):
        point_fit(bs.ChinchillaLaw(), replication_runs, method="laplace")
    with pytest.raises(bs.ConfigError, match="ungrouped laws"):
        point_fit(bs.ChinchillaLaw(pooling="partial"), replication_runs, method="map")


def test_map_of_the_default_model_is_near_its_posterior_median(law, chinchilla_fit):
    """The default (noise growing off the optimum) MAP on the replication's 240 runs: near the
    posterior medians of the same model on the same runs (sampled here, not copied). A mode and
    a median differ by a fraction of the posterior sd where the posterior is skewed (E's, beta's
    and the noise slope's by 0.2-0.4 sd; 3% of the noise slope's median is 0.3 sd, which made a
    relative tolerance a coin flip), so the distance is measured in posterior sds: within 0.6
    (seeds 2024, 1, 2, with E sampled through the level and through log E: at most 0.39)."""
    runs = chinchilla_fit.runs
    fit = point_fit(law, runs, method="map")
    s, post = fit.summary(), chinchilla_fit.summary()
    for p in ("E", "alpha", "beta", "sigma_slope"):
        sd = float(chinchilla_fit.posterior[p].std())
        assert abs(s.loc[p, "median"] - post.loc[p, "median"]) < 0.6 * sd, p
    boot = point_fit(law, runs, method="bootstrap", n_boot=5)
    assert (boot.posterior["sigma_slope"] == 0).all()  # the usual practice: constant noise
