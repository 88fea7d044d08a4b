"""The data sets shipped in the repository's ``data/`` folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from .data import load_runs
from .exceptions import DataError

__all__ = ["data_dir", "load_chinchilla", "chinchilla_reference", "load_olmo_ladder"]


def data_dir() -> Path:
    """The repository's ``data/`` folder (bayescale is installed from a checkout)."""
    here = Path(__file__).resolve().parent.parent / "data"
    if not here.is_dir():
        raise DataError(
            f"shipped data not found at {here}: install bayescale from a checkout of its "
            "repository (pip install -e .) to use the bundled data sets"
        )
    return here


def load_chinchilla(replication_subset: bool = False) -> pd.DataFrame:
    """The 245 digitized Chinchilla runs (or the replication's 240 with ``replication_subset``).

    Examples
    --------
    >>> len(load_chinchilla()), len(load_chinchilla(replication_subset=True))
    (245, 240)
    """
    runs = load_runs(data_dir() / "chinchilla.csv")
    if replication_subset:
        attrs = dict(runs.attrs)
        runs = runs[runs["replication_subset"].astype(bool)].reset_index(drop=True)
        runs.attrs.update(attrs)
    return runs


def load_olmo_ladder(
    paper_subset: bool = False, target: bool = False, curves: bool = False
) -> pd.DataFrame:
    """Final checkpoints of the OLMo model ladder's 30 runs (C4 loss; see ``data/README.md``).

    ``paper_subset`` keeps the 16 rungs the paper fits (190M-1B at 1, 2, 5, 10 xC);
    ``target=True`` returns the 7B target instead (one row: a run to predict, not to fit);
    ``curves=True`` every checkpoint of the 30 runs (training curves: ``run``, ``lr``,
    ``run_tokens``, and the eight tasks' ``bpb_<task>`` and ``acc_<task>``).

    Examples
    --------
    >>> len(load_olmo_ladder()), len(load_olmo_ladder(paper_subset=True))
    (30, 16)
    >>> round(float(load_olmo_ladder(target=True)["loss"].iloc[0]), 3)
    2.483
    >>> curves = load_olmo_ladder(curves=True)
    >>> len(curves), curves["run"].nunique()
    (3569, 30)
    """
    if curves and target:
        raise DataError("the 7B target has no curve here: pass curves=True or target=True")
    name = "olmo_ladder_target.csv" if target else "olmo_ladder.csv"
    if curves:
        name = "olmo_ladder_curves.csv"
    runs = load_runs(data_dir() / name)
    if paper_subset and not target:
        attrs = dict(runs.attrs)
        runs = runs[runs["paper_subset"].astype(bool)].reset_index(drop=True)
        runs.attrs.update(attrs)
    return runs


def chinchilla_reference() -> dict[str, Any]:
    """Published estimates on the Chinchilla runs (see ``data/README.md``)."""
    return json.loads((data_dir() / "chinchilla_reference.json").read_text())
