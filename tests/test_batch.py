"""Batch path: manifest validation, in-process and process workers and a Dask LocalCluster,
skipping unchanged jobs, a failed job recorded while the others complete."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale import ConfigError
from bayescale.batch import run_batch
from bayescale.manifest import load_manifest, parse_manifest
from conftest import run_cli

DATA = Path(__file__).resolve().parents[1] / "data"
PORIAN_GROUP = "rw|base|long|kaplan|kaplan|train"

MANIFEST = """
[defaults]
draws = 150
tune = 150
chains = 2
seed = 7
drift = false
plans = [{{ N = 7e10, D = 1.4e12, target = 2.0 }}]

{jobs}

[[job]]
name = "broken"
runs = "missing.csv"
"""

JOB = """
[[job]]
name = "{data}-{law}"
runs = "{file}"
law = "{law}"
{extra}
"""


def _manifest(folder: Path) -> Path:
    """Three shipped data sets x two laws (+ a job whose runs file is missing)."""
    jobs = []
    for data, file, filt in (
        ("chinchilla", "chinchilla.csv", ""),
        ("porian", "porian.csv", f'filter = {{ group = "{PORIAN_GROUP}" }}'),
        ("datablations", "datablations.csv", "filter = { in_paper_fit_subset = true }"),
    ):
        shutil.copy(DATA / ("porian_isoflop.csv" if data == "porian" else file), folder / file)
        for law in ("chinchilla", "kaplan-c"):
            extra = filt + (
                "\nbudgets = [1e21, 5.88e23]\ntargets = [2.0]" if law == "chinchilla" else ""
            )
            jobs.append(JOB.format(data=data, file=file, law=law, extra=extra))
    path = folder / "manifest.toml"
    path.write_text(MANIFEST.format(jobs="\n".join(jobs)))
    return path


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    return folder, _manifest(folder)


@pytest.fixture(scope="module")
def local_run(batch_dir):
    """The manifest run in this process (``workers=1``: the models this test process compiled
    are reused); process workers are tested on their own below."""
    folder, manifest = batch_dir
    return run_batch(manifest, folder / "local", workers=1)


def test_process_workers_run_jobs_and_send_back_their_results(tmp_path):
    """Two jobs on two worker processes: each job runs in a process of its own and what it
    returns (here an error raised inside the fit, before any compilation) comes back to the
    parent's records, files and exit code."""
    import os

    shutil.copy(DATA / "chinchilla.csv", tmp_path / "runs.csv")
    jobs = [{"name": n, "runs": "runs.csv", "exclude_top_loss": 10_000} for n in ("a", "b")]
    result = run_batch(parse_manifest({"job": jobs}, base=tmp_path), tmp_path / "out", workers=2)
    doc = json.loads((result.out / "batch.json").read_text())
    assert doc["executor"] == "processes" and result.n_failed == 2
    # the law both jobs fit was compiled once on a worker before they started
    assert doc["warmup"]["models"] == 1 and doc["warmup"]["errors"] == []
    for job in result.jobs:
        assert "cannot exclude 10000 highest-loss runs" in job["error"]
        assert not job["worker"].endswith(f":{os.getpid()}")  # it ran in another process


def test_local_batch_answers_every_question(local_run):
    risks = pd.read_csv(local_run.out / "risks.csv")
    ok = risks[risks.status == "ok"]
    assert set(ok.job) == {
        f"{d}-{law}"
        for d in ("chinchilla", "porian", "datablations")
        for law in ("chinchilla", "kaplan-c")
    }
    # chinchilla jobs: 2 budgets + 1 plan + 1 target; kaplan-c: 1 plan
    assert ok.groupby("job").size().to_dict() == {
        **{f"{d}-chinchilla": 4 for d in ("chinchilla", "porian", "datablations")},
        **{f"{d}-kaplan-c": 1 for d in ("chinchilla", "porian", "datablations")},
    }
    alloc = ok[ok.question == "allocate"]
    assert (alloc.N_opt_lower <= alloc.N_opt_median).all()
    assert (alloc.N_opt_median <= alloc.N_opt_upper).all()
    assert (
        (alloc.compute - 6 * alloc.N_opt_median * alloc.D_opt_median).abs() < 0.2 * alloc.compute
    ).all()
    plans = ok[ok.question == "predict"]
    # the probability agrees with the predictive median: above 1/2 exactly when the median
    # new-run loss is below the target
    assert ((plans.prob_below_target > 0.5) == (plans.loss_median < plans.target)).all()
    assert plans.compute_factor.gt(1).all()
    assert ok[["max_rhat", "min_ess_bulk", "divergences"]].notna().all().all()
    doc = json.loads((local_run.out / "batch.json").read_text())
    assert doc["n_jobs"] == 7 and doc["n_fitted"] == 6 and doc["n_failed"] == 1
    assert doc["reproducibility"]["versions"]["bayescale"]
    fitted = [j for j in doc["jobs"] if j["status"] == "fitted"]
    assert all(j["timing"]["sampling_s"] > 0 for j in fitted)
    assert (local_run.out / "jobs" / "porian-chinchilla" / "fit" / "posterior.nc").is_file()
    # 2 chains x 150 draws cannot reach 400 effective draws: flagged in both outputs
    flagged = sorted(set(ok.job[~ok.converged.astype(bool)]))
    assert flagged == sorted(doc["unconverged"]) == sorted(local_run.unconverged)


def test_bad_runs_file_is_recorded_and_others_complete(local_run):
    risks = pd.read_csv(local_run.out / "risks.csv")
    bad = risks[risks.job == "broken"]
    assert len(bad) == 1 and bad.status.iloc[0] == "failed"
    assert "missing.csv" in bad.error.iloc[0] and "not found" in bad.error.iloc[0]
    assert local_run.n_failed == 1
    assert (risks[risks.job != "broken"].status == "ok").all()


def test_dask_local_cluster_agrees_with_the_local_run(batch_dir, local_run):
    import distributed

    folder, manifest = batch_dir
    with (
        # one in-process worker: the Dask path (submit, gather, records) without starting and
        # compiling in another process; process workers have a test of their own
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        result = run_batch(manifest, folder / "dask", client=client)
    a = pd.read_csv(local_run.out / "risks.csv")
    b = pd.read_csv(result.out / "risks.csv")
    pd.testing.assert_frame_equal(a, b)
    doc = json.loads((result.out / "batch.json").read_text())
    assert doc["executor"] == "dask"
    # two law configurations, each fitted by three jobs: each warmed once
    assert doc["warmup"]["models"] == 2 and doc["warmup"]["errors"] == []


def test_only_models_that_several_jobs_share_are_warmed():
    """A model one job uses is left to that job; pooled fits of different group counts are
    different models; JAX samplers do not compile with nutpie."""
    from bayescale.laws import make_law
    from bayescale.workers import shared_models

    runs = pd.read_csv(DATA / "porian_isoflop.csv")
    few = runs[runs.group.isin(sorted(runs.group.unique())[:3])]
    chin, kap = make_law("chinchilla").to_dict(), make_law("kaplan-c").to_dict()
    pooled = make_law("chinchilla", pooling="partial").to_dict()
    nutpie, jax = {"sampler": "nutpie"}, {"sampler": "numpyro"}
    payloads = {
        "a": (chin, runs, nutpie, None),
        "b": (chin, few, nutpie, None),  # same model: not grouped
        "c": (kap, runs, nutpie, None),  # one job only
        "d": (pooled, runs, nutpie, None),
        "e": (pooled, few, nutpie, None),  # 3 groups, not 10: another model
        "f": (kap, runs, jax, None),
        "g": (kap, few, jax, None),
    }
    shared = shared_models(payloads)
    assert len(shared) == 1
    (((law_dict, _), names),) = shared.values()
    assert law_dict == chin and names == ["a", "b"]


def test_rerun_skips_unchanged_and_refits_changed_data(batch_dir, local_run, monkeypatch, capsys):
    folder, manifest = batch_dir
    out = folder / "rerun"
    shutil.copytree(local_run.out, out)
    before = {p: p.stat().st_mtime_ns for p in out.glob("jobs/*/fit/posterior.nc")}

    import bayescale.batch as batch

    def no_sampling(*args, **kwargs):
        raise AssertionError("an unchanged job was sampled")

    monkeypatch.setattr(batch, "fit_job", no_sampling)
    monkeypatch.setattr(batch.os, "cpu_count", lambda: 6)
    code, stdout, err = run_cli(["batch", manifest, "--out", out], capsys, monkeypatch)
    assert code == 1  # one failed job (the missing runs file), nothing sampled
    # default workers: as many as run their 2 chains side by side on 6 cores (7 jobs)
    assert json.loads((out / "batch.json").read_text())["workers"] == 3
    assert "0 fitted, 6 skipped, 1 failed" in stdout
    assert stdout.count("NOT CONVERGED") == len(local_run.unconverged) > 0
    assert err.startswith("bayescale: warning: job(s) [") and "did not converge" in err
    assert {p: p.stat().st_mtime_ns for p in before} == before
    code, stdout, _ = run_cli(["batch", manifest, "--out", out, "--strict"], capsys, monkeypatch)
    assert code == 1 + len(local_run.unconverged)  # --strict: unconverged jobs count as failed
    assert f"1 failed, {len(local_run.unconverged)} not converged" in stdout
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "risks.csv"), pd.read_csv(local_run.out / "risks.csv")
    )

    monkeypatch.undo()
    runs = pd.read_csv(folder / "porian.csv")
    runs.loc[0, "loss"] *= 1.001  # any change of the data file
    runs.to_csv(folder / "porian.csv", index=False)
    try:
        result = run_batch(manifest, out, workers=1)
    finally:
        shutil.copy(DATA / "porian_isoflop.csv", folder / "porian.csv")
    status = {j["name"]: j["status"] for j in result.jobs}
    assert sorted(n for n, s in status.items() if s == "fitted") == [
        "porian-chinchilla",
        "porian-kaplan-c",
    ]
    assert sum(s == "skipped" for s in status.values()) == 4


# ---------------------------------------------------------------- validation (no sampling)
def test_manifest_errors_name_job_and_key_all_at_once():
    doc = {
        "defaults": {"draws": 100, "colour": "red"},
        "job": [
            {"name": "a", "runs": "x.csv", "chains": 0, "law": "kaplan-n", "budgets": [1e21]},
            {"name": "b", "runs": "x.csv", "plans": [{"N": 1e9}], "sampler": "gibbs"},
            {"name": "a", "runs": "y.csv", "lawz": "chinchilla"},
            {"name": "c", "runs": "x.csv", "law": "kaplan-n", "budgets": [1e21]},
            {"name": "d", "runs": "x.csv", "priors": "nobody2020"},
        ],
    }
    with pytest.raises(ConfigError) as exc:
        parse_manifest(doc)
    msg = str(exc.value)
    for part in (
        "[defaults]: key 'colour'",
        "job 'a': key 'chains' must be an integer >= 1, got 0",
        "job 'b': key 'plans' entry 0 needs D",
        "job 'b': key 'sampler' must be one of",
        "job 'a': key 'name' is used by another job",
        "job 'a': key 'lawz' is not a job key",
        "job 'c': key 'budgets' cannot be answered by the kaplan-n law",
        "job 'd': key 'priors'",
    ):
        assert part in msg, part


def test_manifest_paths_are_relative_to_the_manifest(tmp_path):
    (tmp_path / "m.toml").write_text('[[job]]\nname = "j"\nruns = "sub/runs.csv"\n')
    (job,) = load_manifest(tmp_path / "m.toml")
    assert job.runs == (tmp_path / "sub" / "runs.csv").resolve()
    assert job.fit_settings["draws"] is None and job.law == "chinchilla"  # adaptive draws


def test_invalid_manifest_exits_2_and_writes_nothing(tmp_path, capsys, monkeypatch):
    (tmp_path / "m.toml").write_text('[[job]]\nname = "j"\nruns = "r.csv"\ndraws = "many"\n')
    code, _, err = run_cli(
        ["batch", tmp_path / "m.toml", "--out", tmp_path / "out"], capsys, monkeypatch
    )
    assert code == 2
    assert "job 'j': key 'draws' must be an integer >= 1, got 'many'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()
    (tmp_path / "bad.toml").write_text("[[job]\n")
    code, _, err = run_cli(
        ["batch", tmp_path / "bad.toml", "--out", tmp_path / "out"], capsys, monkeypatch
    )
    assert code == 2 and "not valid TOML" in err


def test_filter_on_unknown_column_fails_that_job_only(tmp_path):
    shutil.copy(DATA / "chinchilla.csv", tmp_path / "runs.csv")
    jobs = parse_manifest(
        {"job": [{"name": "j", "runs": "runs.csv", "filter": {"colour": "red"}}]}, base=tmp_path
    )
    result = run_batch(jobs, tmp_path / "out", workers=1)
    assert result.n_failed == 1
    assert "filter column 'colour'" in result.jobs[0]["error"]


def test_force_refits_every_job_and_exit_code_counts_failures(
    batch_dir, local_run, monkeypatch, capsys
):
    """--force sends every unchanged job to the workers again; the exit code is the number of
    failed jobs (here every job fails in the recording stand-in for the sampler)."""
    folder, manifest = batch_dir
    out = folder / "forced"
    shutil.copytree(local_run.out, out)
    import bayescale.batch as batch

    sent = []

    def record(law_dict, runs, settings, questions=None):
        sent.append(law_dict["name"])
        return {"error": "stand-in for the sampler", "worker": "test"}

    monkeypatch.setattr(batch, "fit_job", record)
    argv = ["batch", manifest, "--out", out, "--workers", "1"]
    code, stdout, _ = run_cli(argv, capsys, monkeypatch)
    assert code == 1 and sent == []  # unchanged jobs skipped, only the missing file fails
    code, stdout, _ = run_cli([*argv, "--force"], capsys, monkeypatch)
    assert sorted(sent) == ["chinchilla"] * 3 + ["kaplan-c"] * 3
    assert code == 7 and "0 fitted, 0 skipped, 7 failed" in stdout


def test_risks_csv_writes_plain_floats(local_run):
    text = (local_run.out / "risks.csv").read_text()
    assert ",5.88e+23," in text and ",7e+10,1.4e+12," in text  # as written in the manifest
    assert "588000000000000008388608" not in text


def test_parquet_matches_csv(local_run):
    a = pd.read_csv(local_run.out / "risks.csv")
    b = pd.read_parquet(local_run.out / "risks.parquet")
    assert list(a.columns) == list(b.columns) and len(a) == len(b) == 16
    pd.testing.assert_series_equal(a["job"], b["job"])
    np.testing.assert_allclose(a["loss_median"], b["loss_median"], rtol=1e-5)  # NaN == NaN


def test_columns_key_maps_the_runs_file(tmp_path):
    from bayescale.batch import _load_job_runs

    names = {"N": "params", "D": "tokens", "loss": "val_loss"}
    pd.read_csv(DATA / "chinchilla.csv").rename(columns=names).to_csv(
        tmp_path / "r.csv", index=False
    )
    job = {"name": "j", "runs": "r.csv"}
    with pytest.raises(ConfigError, match="key 'columns' must be a table"):
        parse_manifest({"job": [{**job, "columns": ["N"]}]}, base=tmp_path)
    (mapped,) = parse_manifest({"job": [{**job, "columns": names}]}, base=tmp_path)
    runs = _load_job_runs(mapped)
    expected = bs.load_runs(DATA / "chinchilla.csv")
    assert mapped.fit_spec()["columns"] == names
    assert np.allclose(runs[["N", "D", "loss"]], expected[["N", "D", "loss"]])


def test_answers_from_the_workers_match_the_saved_fits(batch_dir, local_run):
    """Each fitted job's questions are answered on its worker, from the fit in memory; the
    same questions answered from the saved fit (as for a job skipped as unchanged) agree."""
    from bayescale.answers import answer_job

    jobs = {job.name: job for job in load_manifest(batch_dir[1])}
    risks = pd.read_csv(local_run.out / "risks.csv")
    job = jobs["chinchilla-chinchilla"]
    again = answer_job(bs.load_fit(local_run.out / "jobs" / job.name / "fit"), job)
    mine = risks[risks["job"] == job.name]
    assert len(again["rows"]) == len(mine) == 4  # 2 budgets, 1 plan, 1 target
    for row, (_, r) in zip(again["rows"], mine.iterrows(), strict=True):
        for key, value in row.items():
            if isinstance(value, float):
                assert np.isclose(r[key], value, rtol=1e-5), key
            else:
                assert r[key] == value, key
