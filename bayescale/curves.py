"""Training curves in a runs table: many checkpoints per run.

A table of curves has a ``run`` column naming each checkpoint's run; ``D`` is the tokens seen at
that checkpoint, ``run_tokens`` the run's planned total (default: its largest ``D``), and ``lr``
(optional) the learning rate at that step. :func:`check_curves` validates them (checkpoints of a
run share N, D increases along a run, the planned total is not below any checkpoint);
:func:`final_checkpoints` keeps the one row per run that is a fully trained model of its N and
D, what a law of final losses is fitted to.

Examples
--------
>>> import pandas as pd
>>> import bayescale as bs
>>> curves = bs.load_runs(pd.DataFrame({
...     "N": [1e8, 1e8, 1e8, 4e8, 4e8], "D": [1e9, 2e9, 4e9, 2e9, 8e9],
...     "loss": [3.6, 3.3, 3.1, 3.2, 2.8], "run": ["a", "a", "a", "b", "b"]}))
>>> curves["run_tokens"].tolist()
[4000000000.0, 4000000000.0, 4000000000.0, 8000000000.0, 8000000000.0]
>>> final_checkpoints(curves)[["run", "D", "loss"]].to_dict("list")
{'run': ['a', 'b'], 'D': [4000000000.0, 8000000000.0], 'loss': [3.1, 2.8]}
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from . import constants as K
from .exceptions import DataError

__all__ = ["check_curves", "final_checkpoints", "has_curves"]

#: Relative tolerance for "the checkpoint is at the run's planned total".
AT_END_RTOL = 1e-9


def check_curves(
    run: np.ndarray,
    n: np.ndarray,
    d: np.ndarray,
    run_tokens: np.ndarray | None,
    name_rows: Callable[[np.ndarray], str],
) -> np.ndarray:
    """Validate the checkpoints of a runs table; return each row's ``run_tokens``.

    Parameters
    ----------
    run
        Each row's run name (strings).
    n, d
        Model size and tokens seen, per row (validated positive numbers).
    run_tokens
        The runs' planned totals per row, or ``None`` (then each run's largest ``d``).
    name_rows
        Names rows for messages (e.g. ``"CSV lines 4, 9"``) from their positions.

    Raises
    ------
    DataError
        Naming the run and its rows: checkpoints of one run with different N, D not increasing
        along a run (in the table's order), a run with different planned totals, or a planned
        total below one of its checkpoints.
    """
    frame = pd.DataFrame({"run": run, "n": n, "d": d, "pos": np.arange(len(run))})
    groups = frame.groupby("run", sort=False)
    sizes = groups["n"].transform("nunique")
    if (sizes > 1).any():
        name = frame.loc[sizes > 1, "run"].iloc[0]
        rows = frame[frame["run"] == name]
        values = ", ".join(f"{v:g}" for v in rows["n"].unique()[:3])
        raise DataError(
            f"run {name!r} has checkpoints of different model sizes N ({values}) at "
            f"{name_rows(rows['pos'].to_numpy())}: a run's checkpoints share N (is the run "
            "column right?)"
        )
    step = groups["d"].diff()
    back = np.flatnonzero((step <= 0).to_numpy())
    if back.size:
        i = int(back[0])
        name = frame["run"].iloc[i]
        prev = frame[(frame["run"] == name) & (frame["pos"] < i)]["pos"].max()
        raise DataError(
            f"run {name!r}: D must increase along a run (checkpoints in training order), but "
            f"{name_rows(np.array([i]))} has D={d[i]:g} after D={d[prev]:g} at "
            f"{name_rows(np.array([prev]))}; sort each run's checkpoints by D, or give reruns "
            "their own run names"
        )
    largest = groups["d"].transform("max").to_numpy()
    if run_tokens is None:
        return largest
    frame["t"] = run_tokens
    differ = np.flatnonzero(frame.groupby("run", sort=False)["t"].transform("nunique") > 1)
    if differ.size:
        name = frame["run"].iloc[differ[0]]
        raise DataError(
            f"run {name!r} has different run_tokens at "
            f"{name_rows(np.flatnonzero(frame['run'] == name))}: one planned total per run"
        )
    short = np.flatnonzero(run_tokens < largest * (1 - AT_END_RTOL))
    if short.size:
        i = int(short[0])
        last = int(groups["d"].idxmax()[frame["run"].iloc[i]])
        raise DataError(
            f"run {frame['run'].iloc[i]!r}: run_tokens {run_tokens[i]:g} is below its "
            f"checkpoint's D={largest[i]:g} at {name_rows(np.array([last]))}: run_tokens is the "
            "run's planned total"
        )
    return np.asarray(run_tokens, dtype=float)


def has_curves(runs: pd.DataFrame) -> bool:
    """Whether ``runs`` holds training curves: a run column with a run of several checkpoints."""
    return K.RUN_ID in runs.columns and bool(runs[K.RUN_ID].duplicated().any())


def final_checkpoints(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run: its checkpoint at the planned total (``D == run_tokens``), a fully
    trained model of that N and D. Runs that stop before their planned total (unfinished, or
    cut short by the table) have no final checkpoint and are left out; ``attrs["checkpoints"]``
    says how many checkpoints and runs were given and used."""
    if K.RUN_ID not in runs.columns:
        return runs
    at_end = np.isclose(runs[K.D], runs[K.RUN_TOKENS], rtol=AT_END_RTOL, atol=0.0)
    out = runs[at_end].drop_duplicates(subset=[K.RUN_ID], keep="last").reset_index(drop=True)
    out.attrs.update(runs.attrs)
    n_runs = runs[K.RUN_ID].nunique()
    note = (
        f"{len(runs)} checkpoints of {n_runs} runs; fitted to the final checkpoint of each of "
        f"{len(out)} runs"
    )
    if len(out) < n_runs:
        note += f" ({n_runs - len(out)} stop before their run_tokens and are left out)"
    out.attrs["checkpoints"] = note
    return out
