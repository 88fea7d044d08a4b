"""The data sets shipped in the repository's ``data/`` folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from .data import load_runs
from .exceptions import DataError

__all__ = ["data_dir", "load_chinchilla", "chinchilla_reference"]


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


def chinchilla_reference() -> dict[str, Any]:
    """Published estimates on the Chinchilla runs (see ``data/README.md``)."""
    return json.loads((data_dir() / "chinchilla_reference.json").read_text())
