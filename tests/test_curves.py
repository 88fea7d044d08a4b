"""Training curves in (issue #17, first part): a run column, its checks, and fits that use each
run's final checkpoint. Point fits only (no sampling)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.curves import final_checkpoints, has_curves
from bayescale.datasets import load_olmo_ladder
from bayescale.pointfit import point_fit
from conftest import run_cli


def _curves(**extra) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "N": [1e8] * 3 + [4e8] * 2,
            "D": [1e9, 2e9, 4e9, 2e9, 8e9],
            "loss": [3.6, 3.3, 3.1, 3.2, 2.8],
            "run": ["a", "a", "a", "b", "b"],
        }
    )
    return frame.assign(**extra)


def test_run_tokens_default_to_a_runs_largest_d_and_lr_is_kept():
    runs = bs.load_runs(_curves(lr=[1e-3, 5e-4, 0.0, 1e-3, 0.0]))
    assert runs["run_tokens"].tolist() == [4e9] * 3 + [8e9] * 2
    assert runs["lr"].tolist()[-1] == 0.0
    assert has_curves(runs)
    one_each = bs.load_runs(_curves().assign(run=list("abcde")))
    assert not has_curves(one_each) and final_checkpoints(one_each) is one_each
    given = bs.load_runs(_curves(T=[5e9] * 3 + [8e9] * 2), columns={"run_tokens": "T"})
    assert given["run_tokens"].tolist() == [5e9] * 3 + [8e9] * 2
    # run "a" stops before its planned 5e9 tokens: it has no final checkpoint
    final = final_checkpoints(given)
    assert final["run"].tolist() == ["b"]
    assert "1 stop before their run_tokens" in final.attrs["checkpoints"]


@pytest.mark.parametrize(
    "change, message",
    [
        (
            dict(N=[1e8, 2e8, 1e8, 4e8, 4e8]),
            r"run 'a' has checkpoints of different model sizes.*rows 0, 1, 2",
        ),
        (
            dict(D=[1e9, 4e9, 2e9, 2e9, 8e9]),
            r"run 'a': D must increase along a run.*row 2 has D=2e\+09 after D=4e\+09 at row 1",
        ),
        (dict(D=[1e9, 1e9, 4e9, 2e9, 8e9]), r"run 'a': D must increase"),
        (
            dict(run_tokens=[4e9, 4e9, 4e9, 6e9, 6e9]),
            r"run 'b': run_tokens 6e\+09 is below its checkpoint's D=8e\+09 at row 4",
        ),
        (dict(run_tokens=[4e9, 5e9, 4e9, 8e9, 8e9]), r"run 'a' has different run_tokens"),
        (dict(run=["a", None, "a", "b", "b"]), r"column 'run' has missing values at row 1"),
        (
            dict(lr=[1e-3, -1e-4, 0, 0, 0]),
            r"column 'lr' must be non-negative, got -0.0001 at row 1",
        ),
        (dict(lr=[1e-3, "fast", 0, 0, 0]), r"column 'lr' has non-numeric value 'fast' at row 1"),
    ],
)
def test_bad_curves_name_the_run_and_rows(change, message):
    with pytest.raises(bs.DataError, match=message):
        bs.load_runs(_curves().assign(**change))


def test_a_fit_on_curves_is_the_fit_on_final_checkpoints():
    """The shipped curves' final checkpoints are the shipped final losses; a fit given the
    curves uses exactly those (the same draws as a fit given the final losses)."""
    curves = load_olmo_ladder(curves=True)
    finals = load_olmo_ladder()
    law = bs.ChinchillaLaw()
    on_curves = point_fit(law, curves, method="bootstrap", n_boot=20, seed=3)
    on_finals = point_fit(law, finals, method="bootstrap", n_boot=20, seed=3)
    used = on_curves.runs.sort_values(["N", "D"]).reset_index(drop=True)
    expect = finals.sort_values(["N", "D"]).reset_index(drop=True)
    np.testing.assert_allclose(used[["N", "D", "loss"]], expect[["N", "D", "loss"]], rtol=1e-9)
    assert sorted(used["run"]) == sorted(expect["group"])
    for p in ("E", "alpha", "beta"):
        a = np.sort(on_curves.posterior[p].to_numpy().ravel())
        b = np.sort(on_finals.posterior[p].to_numpy().ravel())
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert on_curves.data_info["checkpoints"] == (
        "3569 checkpoints of 30 runs; fitted to the final checkpoint of each of 30 runs"
    )


def test_shipped_curves_match_the_ladder_table():
    curves = load_olmo_ladder(curves=True)
    assert set(curves["run"]) == set(load_olmo_ladder()["group"])
    assert (curves.groupby("run")["N"].nunique() == 1).all()
    assert {"bpb_mmlu", "acc_mmlu", "bpb_hellaswag", "acc_arc_challenge"} <= set(curves.columns)
    mmlu = curves[[f"acc_mmlu_{p}" for p in ("stem", "humanities", "social_sciences", "other")]]
    np.testing.assert_allclose(curves["acc_mmlu"], mmlu.mean(axis=1))
    assert curves["lr"].min() > 0 and (curves["D"] <= curves["run_tokens"]).all()


def test_cli_fit_takes_curves(tmp_path, capsys, monkeypatch):
    path = tmp_path / "curves.csv"
    curves = load_olmo_ladder(curves=True)
    curves.rename(columns={"run": "name", "lr": "learning_rate"}).to_csv(path, index=False)
    out = tmp_path / "fit"
    code, _, err = run_cli(
        [
            "fit",
            path,
            "--out",
            out,
            "--run-column",
            "name",
            "--lr-column",
            "learning_rate",
            "--method",
            "bootstrap",
            "--n-boot",
            "10",
        ],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    assert len(pd.read_csv(out / "runs.csv")) == 30
    assert "30 runs" in json.loads((out / "fit.json").read_text())["data"]["checkpoints"]


def test_cli_bad_curves_exit_2_with_nothing_written(tmp_path, capsys, monkeypatch):
    path = tmp_path / "curves.csv"
    _curves(D=[1e9, 4e9, 2e9, 2e9, 8e9]).to_csv(path, index=False)
    out = tmp_path / "fit"
    code, _, err = run_cli(["fit", path, "--out", out], capsys, monkeypatch)
    assert code == 2 and "D must increase along a run" in err and "CSV line 4" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
    code, _, err = run_cli(
        ["fit", path, "--out", out, "--run-column", "x", "--column", "run=y"], capsys, monkeypatch
    )
    assert code == 2 and "--run-column 'x' and --column run=y disagree" in err


def test_checkpoint_rule_and_schedule_on_the_ladder():
    from bayescale.curves import keep_checkpoints, schedule_remaining

    curves = load_olmo_ladder(curves=True)
    keep = keep_checkpoints(curves)
    kept = curves[keep]
    # past 10% of each run and at least the shortest run's 10 tokens per parameter
    assert (kept["D"] >= 0.1 * kept["run_tokens"]).all()
    assert (kept["D"] / kept["N"] >= 10.0 - 1e-6).all()
    assert kept["run"].nunique() == 30  # every final checkpoint stays
    assert keep.sum() < keep_checkpoints(curves, min_tokens_per_param=None).sum()
    assert keep_checkpoints(curves, min_fraction=0.0, min_tokens_per_param=None).all()
    with pytest.raises(bs.DataError, match="min_fraction"):
        keep_checkpoints(curves, min_fraction=1.5)
    with pytest.raises(bs.DataError, match="min_tokens_per_param"):
        keep_checkpoints(curves, min_tokens_per_param="longest")
    g = schedule_remaining(curves)
    assert ((g >= 0) & (g <= 1)).all()
    at_end = curves["D"] == curves["run_tokens"]
    assert (g[at_end] == 0).all() and at_end.sum() == 30
    # the ladder's schedule is a cosine after a warm-up: the learning rate and the d / T
    # fallback agree to a few hundredths (up to 0.1 on the shortest runs, whose warm-up is the
    # largest share of the run)
    cosine = schedule_remaining(curves.drop(columns="lr"))
    gap = np.abs(g - cosine)[curves["D"] >= 0.1 * curves["run_tokens"]]
    assert np.median(gap) < 0.03 and gap.max() < 0.1


def test_plot_curves_draws_every_run_and_the_law_per_size():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bayescale.plots import plot_curves

    curves = load_olmo_ladder(curves=True)
    fit = point_fit(bs.ChinchillaLaw(), curves, method="bootstrap", n_boot=20, seed=0)
    ax = plot_curves(curves, fit)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 5 and all(label.startswith("N = ") for label in labels)
    lines = ax.get_lines()
    assert len(lines) == 30 + 5  # every run's curve, the law's median per size
    ends = sum(len(c.get_offsets()) for c in ax.collections if c.get_offsets().shape[1] == 2)
    assert ends >= 30
    # the law's median at the longest 3B run: the fit's own prediction there
    big = curves[curves["N"] == curves["N"].max()]
    law_line = lines[-1]
    d_max = big["D"].max()
    assert law_line.get_xdata()[-1] == pytest.approx(d_max)
    expect = np.median(fit.law.predict(fit.draws(), N=big["N"].iloc[0], D=d_max))
    assert law_line.get_ydata()[-1] == pytest.approx(expect, rel=1e-6)
    plt.close("all")
    with pytest.raises(ValueError, match="'run' column"):
        plot_curves(load_olmo_ladder())
