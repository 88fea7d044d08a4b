"""The downstream chain (issue #18): links from task loss to score, and the two steps paired.

Worlds are simulated: runs of a Chinchilla law of a task loss, checkpoints along each run
(above the law until the anneal ends), and scores on a sigmoid of the checkpoint's task loss.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.chain import link_scores, make_link
from bayescale.curves import cosine_remaining
from bayescale.exceptions import ConfigError
from conftest import check, check_recovered, run_cli, seed

TASK_LAW = dict(E=0.5, A=50.0, B=100.0, alpha=0.3, beta=0.3)
# the ceiling near 1, as the default prior has it (the ideal point: zero task loss scores 1)
LINK = dict(floor=0.25, ceiling=0.97, k=6.0, L0=0.7)
SCORE_SD = 0.005
FIT = dict(drift=False, target_accept=0.95)


def simulate_chain(data_seed: int, truth: dict | None = None) -> pd.DataFrame:
    """20 runs (5 sizes x 4 lengths), 6 checkpoints each, task loss and score per checkpoint
    (the score on the sigmoid ``truth``, default :data:`LINK`)."""
    truth = LINK if truth is None else truth
    rng = np.random.default_rng(data_seed)
    law, link = bs.ChinchillaLaw(), bs.SigmoidLink()
    rows = []
    for n in np.geomspace(5e7, 1e9, 5):
        for tokens_per_param in (10, 20, 50, 100):
            total = tokens_per_param * n
            d = total * np.array([0.05, 0.2, 0.4, 0.6, 0.8, 1.0])
            g = cosine_remaining(d, total)
            loss = law.predict(TASK_LAW, N=n, D=d) * np.exp(0.03 * g + 0.01 * rng.normal())
            score = link.predict(truth, loss=loss) + SCORE_SD * rng.standard_normal(d.size)
            for j in range(d.size):
                rows.append(
                    {
                        "N": n,
                        "D": d[j],
                        "run": f"{n:.3g}-{tokens_per_param}",
                        "task_loss": loss[j],
                        "accuracy": score[j],
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def world():
    return simulate_chain(seed(11))


@pytest.fixture(scope="module")
def chain(world):
    return bs.fit_chain(
        bs.ChinchillaLaw(),
        world,
        chance=0.25,
        columns={"loss": "task_loss", "score": "accuracy"},
        seed=seed(12),
        **FIT,
    )


def test_link_recovers_the_sigmoid_from_simulated_pairs(chain):
    """Step 2 on every checkpoint past 10% of its run (the first of six is left out) returns
    the sigmoid's parameters and the score noise."""
    assert len(chain.link.runs) == 20 * 5
    draws = chain.link.draws()
    for name, truth in LINK.items():
        check_recovered(name, truth, draws[name])
    check_recovered("sigma", SCORE_SD, draws["sigma"], log=True)
    assert chain.link.diagnostics["ok"], chain.link.diagnostics["problems"]


def test_a_widened_ceiling_prior_recovers_a_score_that_stops_below_one():
    """The default ceiling prior sits at 1 (the ideal point); a score that levels off lower
    (here 0.85) is recovered once the prior is widened, as the link's docstring says."""
    truth = {**LINK, "ceiling": 0.85}
    wide = bs.Prior("TruncatedNormal", mu=1.0, sigma=0.15, lower=0.0, upper=1.0)
    fit = bs.fit_chain(
        bs.ChinchillaLaw(),
        simulate_chain(seed(15), truth),
        link=bs.SigmoidLink(chance=0.25, priors={"ceiling": wide}),
        columns={"loss": "task_loss", "score": "accuracy"},
        seed=seed(16),
        **FIT,
    )
    draws = fit.link.draws()
    for name in ("ceiling", "k", "L0"):
        check_recovered(name, truth[name], draws[name])


def test_chain_interval_carries_both_steps(chain):
    """A prediction pairs draws of both steps: its score interval is wider than the link's at
    step 1's median loss alone, and its median follows the link at the law's loss."""
    n, d = 2e10, 4e11  # 20x the largest size: step 1 uncertain
    table = bs.predict_loss(chain, n, d, target_score=0.7).iloc[0]
    assert table["score_lower"] < table["score_median"] < table["score_upper"]
    only = link_scores(
        chain.link, np.full((4000, 1), table["loss_new_run_median"]), np.random.default_rng(0)
    )
    lo, hi = np.quantile(only, [0.05, 0.95])
    check(
        "chain width / link-only width",
        (table.score_upper - table.score_lower) / (hi - lo),
        ">",
        1.3,
    )
    truth = bs.SigmoidLink().predict(LINK, loss=bs.ChinchillaLaw().predict(TASK_LAW, N=n, D=d))
    # the median follows the truth (a 90% interval misses it at one seed in ten by design)
    half = (table.score_upper - table.score_lower) / 2
    check("|median - true score| / half-width", abs(table.score_median - truth) / half, "<", 2)
    p = bs.prob_score_above(chain, [1e8, n], [2e9, d], target=0.7)
    assert p["prob_new_run_above"].is_monotonic_increasing  # bigger runs score higher
    assert table["prob_score_above_target"] == pytest.approx(
        p["prob_new_run_above"].iloc[1], abs=0.05
    )


def test_chain_with_the_curve_model_as_step_one(world):
    """Step 1 may be the curve model (every checkpoint, the schedule term): the chain fits,
    predicts a fully trained run's score near the truth, and a checkpoint part-way through a
    planned run (run_tokens) sits above the trained run's loss."""
    fit = bs.fit_chain(
        bs.ChinchillaLaw(likelihood="curve"),
        world,
        chance=0.25,
        columns={"loss": "task_loss", "score": "accuracy"},
        seed=seed(14),
        **FIT,
    )
    assert fit.law.likelihood.curve and fit.link is not None
    n, d = 2e9, 2e11  # twice the largest size, 100 tokens per parameter
    table = bs.predict_loss(fit, n, d).iloc[0]
    truth = bs.SigmoidLink().predict(LINK, loss=bs.ChinchillaLaw().predict(TASK_LAW, N=n, D=d))
    half = (table.score_upper - table.score_lower) / 2
    check("|median - true score| / half-width", abs(table.score_median - truth) / half, "<", 2)
    part = bs.predict_loss(fit, n, d / 2, run_tokens=d).iloc[0]
    whole = bs.predict_loss(fit, n, d / 2).iloc[0]
    assert part["loss_median"] > whole["loss_median"]  # the anneal still to come


def test_chain_saves_and_loads_with_its_link(chain, tmp_path):
    path = chain.save(tmp_path / "chain")
    assert (path / "link" / "posterior.nc").is_file()
    again = bs.load_fit(path)
    assert again.link is not None and again.link.law == chain.link.law
    a, b = bs.predict_loss(chain, 1e9, 2e10), bs.predict_loss(again, 1e9, 2e10)
    assert a["score_median"].iloc[0] == pytest.approx(b["score_median"].iloc[0], rel=1e-9)
    plain = bs.ChinchillaLaw().fit(chain.runs, seed=1, **FIT)  # a refit into it drops link/
    plain.save(path)
    assert not (path / "link").exists() and bs.load_fit(path).link is None


def test_a_score_needs_a_chain(small_fit):
    with pytest.raises(ConfigError, match="score needs a downstream chain"):
        bs.predict_loss(small_fit, 1e9, 2e10, target_score=0.5)
    with pytest.raises(ConfigError, match="score needs a downstream chain"):
        bs.prob_score_above(small_fit, 1e9, 2e10, target=0.5)


def test_mapped_coordinate_is_a_change_of_variables_with_its_jacobian(world):
    """L0 sampled through the tail amplitude ``u = log(ceiling - floor) + k L0`` is the same
    model as L0 sampled directly: the log densities differ by exactly ``log |dL0/du| = -log k``."""
    import pymc as pm

    from bayescale.model import build_model, group_names, model_data

    class Direct(bs.SigmoidLink):
        mapped_params = ()

    link = bs.SigmoidLink(chance=0.25)
    runs = link.load_runs(world, columns={"loss": "task_loss", "score": "accuracy"})
    data = model_data(link, runs, group_names(link, runs))
    logps = {}
    for law in (link, Direct(chance=0.25)):
        model = build_model(law)
        with model:
            pm.set_data({**data, "loc": np.zeros(5), "chol": np.eye(5)})
        logps[type(law).__name__] = model.compile_logp()
    logit = lambda x: np.log(x / (1 - x))  # noqa: E731
    for floor, ceiling, k, l0 in [
        (0.25, 0.9, 6.0, 1.0),
        (0.3, 0.6, 2.0, 0.4),
        (0.2, 0.99, 15.0, 1.5),
    ]:
        u = np.log(ceiling - floor) + k * l0
        rest = [logit(floor), logit(ceiling), np.log(k)]
        mapped = logps["SigmoidLink"]({"w": np.r_[rest, u, np.log(0.01)]})
        direct = logps["Direct"]({"w": np.r_[rest, l0, np.log(0.01)]})
        assert mapped == pytest.approx(direct - np.log(k), abs=1e-8)


def test_links_and_their_options():
    assert bs.SigmoidLink(chance=0.5).priors["floor"].parameters["mu"] == 0.5
    assert bs.ExpLink().sampled_params == ("floor", "k", "gamma", "sigma")
    with pytest.raises(ConfigError, match="chance"):
        bs.SigmoidLink(chance=1.5)
    with pytest.raises(ConfigError, match="unknown link"):
        bs.fit_chain(bs.ChinchillaLaw(), simulate_chain(0), link="probit")
    # the sigmoid's ceiling prior, widened for a score that cannot reach 1
    wide = make_link("sigmoid", chance=0.25, ceiling_sd=0.15).priors["ceiling"]
    assert wide.parameters["sigma"] == 0.15 and wide.parameters["upper"] == 1.0
    with pytest.raises(ConfigError, match="no ceiling"):
        make_link("exp", ceiling_sd=0.1)
    with pytest.raises(ConfigError, match="positive"):
        make_link("sigmoid", ceiling_sd=0.0)


def test_chain_from_the_cli(world, tmp_path, capsys, monkeypatch):
    csv = tmp_path / "curves.csv"
    world.to_csv(csv, index=False)
    out = tmp_path / "fit"
    common = ["--draws", "600", "--tune", "600", "--chains", "2", "--no-drift", "--seed", "3"]
    code, stdout, err = run_cli(
        [
            "fit",
            csv,
            "--out",
            out,
            "--loss-column",
            "task_loss",
            "--score-column",
            "accuracy",
            "--chance",
            "0.25",
            "--ceiling-sd",
            "0.1",
            *common,
        ],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    assert "link-sigmoid" in stdout and (out / "link" / "fit.json").is_file()
    assert bs.load_fit(out).link.law.priors["ceiling"].parameters["sigma"] == 0.1
    code, stdout, err = run_cli(
        ["predict", out, "--n", "2e10", "--d", "4e11", "--target-score", "0.7", "--json"],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    row = json.loads(stdout)["rows"][0]
    assert set(row["score"]) == {"median", "lower", "upper"}
    assert set(row["loss"]) == {"median", "lower", "upper"}
    assert 0 <= row["prob_score_above_target"] <= 1
    # bad input: one line naming the column, exit 2, nothing written
    bad = tmp_path / "bad"
    code, _, err = run_cli(
        [
            "fit",
            csv,
            "--out",
            bad,
            "--loss-column",
            "task_loss",
            "--score-column",
            "acc_nope",
            *common,
        ],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "acc_nope" in err and len(err.strip().splitlines()) == 1
    assert not bad.exists()
    code, _, err = run_cli(
        ["fit", csv, "--out", bad, "--column", "loss=task_loss", "--link", "exp", *common],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "--score-column" in err and not bad.exists()
    code, _, err = run_cli(
        ["fit", csv, "--out", bad, "--column", "loss=task_loss", "--ceiling-sd", "0.1", *common],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "--score-column" in err and not bad.exists()


def test_chain_figures_and_report(chain, tmp_path):
    """The report of a chain shows the score against compute and the link; both figures draw
    the fitted rows."""
    import matplotlib.pyplot as plt

    from bayescale.chain_plots import plot_link, plot_score
    from bayescale.report import write_report

    ax = plot_score(chain)
    assert len(ax.collections[-1].get_offsets()) == 20  # the runs' final checkpoints
    ax2 = plot_link(chain)
    assert len(ax2.collections[0].get_offsets()) == len(chain.link.runs)
    plt.close("all")
    html = write_report(chain, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Downstream score against compute" in html and "Link from task loss to score" in html


def test_a_batch_job_fits_a_chain_and_answers_with_the_score(world, tmp_path):
    """A manifest job with `link` (and a mapped `score` column) fits the two-step chain on a
    worker; its fit directory keeps step 2 (`link/`), and a plan's row carries the new run's
    score beside its task loss, the same as `predict_loss` on the saved fit."""
    from bayescale.batch import run_batch
    from bayescale.manifest import parse_manifest

    world.to_csv(tmp_path / "world.csv", index=False)
    common = {"runs": "world.csv", "seed": seed(12), "drift": False, "target_accept": 0.95}
    jobs = [
        {
            "name": "task",
            **common,
            "columns": {"loss": "task_loss", "score": "accuracy"},
            "link": "sigmoid",
            "chance": 0.25,
            "ceiling_sd": 0.05,
            "plans": [{"N": 2e9, "D": 4e10}],
        },
        # a link without a score column: that job fails, saying so
        {"name": "no-score", **common, "columns": {"loss": "task_loss"}, "link": "exp"},
    ]
    result = run_batch(parse_manifest({"job": jobs}, base=tmp_path), tmp_path / "out", workers=1)
    risks = pd.read_csv(result.out / "risks.csv")
    row = risks[risks.job == "task"].iloc[0]
    assert row.status == "ok" and row.question == "predict"
    assert row.score_lower < row.score_median < row.score_upper
    assert LINK["floor"] < row.score_median < LINK["ceiling"]
    fit = bs.load_fit(result.out / "jobs" / "task" / "fit")
    assert fit.link is not None and fit.link.law.name == "link-sigmoid"
    assert fit.link.law.priors["ceiling"].parameters["sigma"] == 0.05
    again = bs.predict_loss(fit, 2e9, 4e10).iloc[0]  # risks.csv keeps 6 digits
    assert again["score_median"] == pytest.approx(row.score_median, rel=1e-5)
    assert again["loss_new_run_median"] == pytest.approx(row.loss_median, rel=1e-5)
    failed = risks[risks.job == "no-score"].iloc[0]
    assert failed.status == "failed" and "missing column 'score'" in failed.error
    with pytest.raises(bs.ConfigError, match="link.*must be one of"):
        parse_manifest({"job": [{**jobs[0], "link": "probit"}]}, base=tmp_path)
    with pytest.raises(bs.ConfigError, match="ceiling_sd.*positive"):
        parse_manifest({"job": [{**jobs[0], "ceiling_sd": -1}]}, base=tmp_path)
