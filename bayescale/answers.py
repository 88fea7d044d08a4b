"""A batch job's questions answered with its fit: the rows of ``risks.csv`` (allocation at each
budget, the loss of each planned run, the compute for each target loss) and the fit's
diagnostic columns. Computed on the worker that fitted the job (:func:`answer_job`), or in the
parent for a job skipped as unchanged."""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

from . import constants as K
from .exceptions import BayescaleError, ExtrapolationWarning
from .manifest import Job

__all__ = ["COLUMNS", "answer_job", "answer_questions", "diag_columns"]


def diag_columns(fit) -> dict[str, Any]:
    d = fit.diagnostics
    return {
        "max_rhat": d.get("max_rhat"),
        "min_ess_bulk": d.get("min_ess_bulk"),
        "divergences": d.get("divergences"),
        "converged": bool(d.get("ok", not d.get("problems"))),
    }


def _copy(row: dict, frame_row: pd.Series, src: str, dst: str) -> None:
    for s in ("median", "lower", "upper"):
        row[f"{dst}_{s}"] = float(frame_row[f"{src}_{s}"])


def answer_questions(fit, job: Job) -> list[dict[str, Any]]:
    """One row per question of ``job``, answered with ``fit`` (intervals at ``job.interval``)."""
    from .predict import compute_for_loss, optimal_allocation, predict_loss

    rows: list[dict[str, Any]] = []
    max_c = float(fit.runs[K.C].max())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)  # compute_factor says it
        if job.budgets:
            table = optimal_allocation(fit, job.budgets, interval=job.interval)
            for _, r in table.iterrows():
                row = {"question": "allocate", "compute": float(r[K.COMPUTE])}
                _copy(row, r, "N_opt", "N_opt")
                _copy(row, r, "D_opt", "D_opt")
                _copy(row, r, "loss_opt", "loss")
                _copy(row, r, "tokens_per_param", "tokens_per_param")
                row["compute_factor"] = float(r["compute_factor"])
                rows.append(row)
        for plan in job.plans:
            target = plan.get("target")
            r = predict_loss(fit, plan["N"], plan["D"], interval=job.interval, target=target)
            r = r.iloc[0]
            row = {"question": "predict", "N": plan["N"], "D": plan["D"], "compute": float(r[K.C])}
            _copy(row, r, "loss_new_run", "loss")
            if "score_median" in r:  # a chain job: a new run's score too
                _copy(row, r, "score", "score")
            if target is not None:
                row["target"] = target
                row["prob_below_target"] = float(r["prob_below_target"])
            row["compute_factor"] = float(r["compute_factor"])
            rows.append(row)
        if job.targets:
            table = compute_for_loss(fit, job.targets, interval=job.interval)
            for _, r in table.iterrows():
                row = {"question": "target", "target": float(r["target"])}
                _copy(row, r, "compute", "compute_needed")
                _copy(row, r, "N_opt", "N_opt")
                _copy(row, r, "D_opt", "D_opt")
                row["prob_unreachable"] = float(r["prob_unreachable"])
                row["compute_factor"] = float(r["compute_median"]) / max_c
                rows.append(row)
    if not rows:
        rows.append({"question": "fit"})
    return rows


COLUMNS = [
    "job",
    "question",
    "status",
    "error",
    "law",
    "runs",
    "seed",
    "interval",
    "compute",
    "N",
    "D",
    "target",
    *(
        f"{q}_{s}"
        for q in ("loss", "score", "N_opt", "D_opt", "tokens_per_param", "compute_needed")
        for s in ("median", "lower", "upper")
    ),
    "prob_below_target",
    "prob_unreachable",
    "compute_factor",
    "max_rhat",
    "min_ess_bulk",
    "divergences",
    "converged",
]


def answer_job(fit, job: Job) -> dict[str, Any]:
    """A job's answers and its fit's diagnostics, or the error of answering."""
    try:
        rows = answer_questions(fit, job)
    except BayescaleError as exc:
        return {"error": f"answering: {exc}"}
    keys = ("max_rhat", "min_ess_bulk", "divergences", "ok", "problems")
    return {
        "rows": rows,
        "diagnostics": {k: fit.diagnostics.get(k) for k in keys},
        "columns": diag_columns(fit),
    }
