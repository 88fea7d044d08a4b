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
from .curve_noise import curve_layout, log_run_length
from .exceptions import ConfigError, DataError

__all__ = [
    "at_end",
    "check_curves",
    "curve_data",
    "curve_runs",
    "cosine_remaining",
    "planned_remaining",
    "planned_totals",
    "SCHEDULES",
    "final_checkpoints",
    "has_curves",
    "keep_checkpoints",
    "schedule_remaining",
    "MIN_FRACTION",
]

#: Relative tolerance for "the checkpoint is at the run's planned total".
AT_END_RTOL = 1e-9
#: Checkpoints before this fraction of their run are dropped (warm-up and the steepest early
#: descent; the Hitchhiker's guide to scaling-law estimation, Choshen et al. 2024, drops ~10%).
MIN_FRACTION = 0.1


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


def at_end(runs: pd.DataFrame) -> np.ndarray:
    """A boolean per row: the checkpoint is its run's last (``D`` at ``run_tokens``)."""
    d, total = runs[K.D].to_numpy(float), runs[K.RUN_TOKENS].to_numpy(float)
    return np.isclose(d, total, rtol=AT_END_RTOL, atol=0.0)


def has_curves(runs: pd.DataFrame) -> bool:
    """Whether ``runs`` holds training curves: a run column with a run of several checkpoints."""
    return K.RUN_ID in runs.columns and bool(runs[K.RUN_ID].duplicated().any())


def final_checkpoints(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run: its checkpoint at the planned total (``D == run_tokens``), a fully
    trained model of that N and D. Runs that stop before their planned total (unfinished, or
    cut short by the table) have no final checkpoint and are left out; ``attrs["checkpoints"]``
    says how many checkpoints and runs were given and used. A table with one row per run is
    returned as it is."""
    if not has_curves(runs):  # one row per run: nothing to choose
        return runs
    out = runs[at_end(runs)].drop_duplicates(subset=[K.RUN_ID], keep="last").reset_index(drop=True)
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


def keep_checkpoints(
    runs: pd.DataFrame,
    min_fraction: float = MIN_FRACTION,
    min_tokens_per_param: float | str | None = "shortest",
) -> np.ndarray:
    """Which checkpoints a curve model uses: a boolean per row.

    A checkpoint counts when it is past ``min_fraction`` of its run (``D >= min_fraction *
    run_tokens``: the warm-up and the steepest early descent are left out) and, with
    ``min_tokens_per_param``, when it has at least that many tokens per parameter;
    ``"shortest"`` (default) takes the smallest tokens per parameter of any run's final
    checkpoint, so that checkpoints stay inside the range of D / N where the law of final losses
    is itself measured (below it, on the OLMo ladder, checkpoints sit up to 9% above the law:
    ``scripts/curve_probe.py``). Final checkpoints are always kept.

    Examples
    --------
    >>> import bayescale as bs
    >>> runs = bs.load_runs(pd.DataFrame({
    ...     "N": [1e8] * 4, "D": [5e7, 5e8, 1e9, 2e9], "loss": [5.0, 3.6, 3.3, 3.1],
    ...     "run": ["a"] * 4}))
    >>> keep_checkpoints(runs).tolist()
    [False, False, False, True]
    >>> keep_checkpoints(runs, min_tokens_per_param=None).tolist()
    [False, True, True, True]
    """
    if not 0 <= min_fraction <= 1:
        raise DataError(f"min_fraction must lie in [0, 1], got {min_fraction}")
    if K.RUN_ID not in runs.columns:
        return np.ones(len(runs), dtype=bool)
    d, n, total = (runs[k].to_numpy(float) for k in (K.D, K.N, K.RUN_TOKENS))
    final = at_end(runs)
    keep = d >= min_fraction * total
    if isinstance(min_tokens_per_param, str):
        if min_tokens_per_param != "shortest":
            raise DataError(
                f"min_tokens_per_param must be a number, 'shortest' or None, got "
                f"{min_tokens_per_param!r}"
            )
        min_tokens_per_param = float((d[final] / n[final]).min()) if final.any() else None
    if min_tokens_per_param is not None:
        keep &= d >= float(min_tokens_per_param) * n * (1 - AT_END_RTOL)
    return keep | final


def cosine_remaining(d: np.ndarray, total: np.ndarray) -> np.ndarray:
    """A cosine anneal's part still to come at ``d`` tokens of a run planned for ``total``:
    ``(1 + cos(pi d / total)) / 2``, exactly 0 at (and past) the end.

    Examples
    --------
    >>> cosine_remaining(np.array([0.0, 5.0, 10.0]), 10.0).round(3).tolist()
    [1.0, 0.5, 0.0]
    """
    frac = np.minimum(np.asarray(d, dtype=float) / total, 1.0)
    g = (1.0 + np.cos(np.pi * frac)) / 2.0
    return np.where(np.isclose(frac, 1.0, rtol=AT_END_RTOL, atol=0.0), 0.0, g)


#: Learning-rate schedules of planned runs (:func:`planned_remaining`).
SCHEDULES = ("cosine", "wsd", "linear")


def planned_remaining(
    d: np.ndarray, total: np.ndarray, schedule: str = "cosine", decay_fraction: float = 0.2
) -> np.ndarray:
    """The anneal still to come at ``d`` tokens of a run planned for ``total`` under a named
    schedule: ``"cosine"`` (:func:`cosine_remaining`), ``"linear"`` (``1 - d / total``) or
    ``"wsd"`` (warmup-stable-decay: 1 until the last ``decay_fraction`` of the run, then a
    linear decay); 0 at (and past) the end.

    Examples
    --------
    >>> d = np.array([2.0, 5.0, 9.0, 10.0])
    >>> planned_remaining(d, 10.0, "wsd").round(3).tolist()
    [1.0, 1.0, 0.5, 0.0]
    >>> planned_remaining(d, 10.0, "linear").round(3).tolist()
    [0.8, 0.5, 0.1, 0.0]
    """
    if schedule not in SCHEDULES:
        raise ConfigError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if not 0 < decay_fraction <= 1:
        raise ConfigError(f"decay_fraction must lie in (0, 1], got {decay_fraction!r}")
    if schedule == "cosine":
        return cosine_remaining(d, total)
    frac = np.minimum(np.asarray(d, dtype=float) / total, 1.0)
    g = 1.0 - frac if schedule == "linear" else np.clip((1.0 - frac) / decay_fraction, 0.0, 1.0)
    return np.where(np.isclose(frac, 1.0, rtol=AT_END_RTOL, atol=0.0), 0.0, g)


def planned_totals(run_tokens: np.ndarray, d: np.ndarray, curve_fit: bool = True) -> np.ndarray:
    """Planned totals of runs whose checkpoints at ``d`` a prediction asks for: one value for
    all or one per checkpoint, never below its checkpoint, and only of a fit with a curve
    model (``curve_fit``); :class:`ConfigError` otherwise.

    Examples
    --------
    >>> planned_totals(np.array([4e9]), np.array([1e9, 2e9])).tolist()
    [4000000000.0, 4000000000.0]
    """
    if not curve_fit:
        raise ConfigError(
            "run_tokens needs a curve fit (likelihood='curve', CLI: --likelihood curve, on "
            "training curves); this fit predicts final losses only"
        )
    try:
        total = np.broadcast_to(run_tokens, d.shape).astype(float)
    except ValueError:
        raise ConfigError(
            f"run_tokens must be one value or one per plan ({d.size}), got {np.size(run_tokens)}"
        ) from None
    early = np.flatnonzero(d > total * (1 + AT_END_RTOL))
    if early.size:
        i = int(early[0])
        raise ConfigError(
            f"D={d[i]:g} is past its run_tokens={total[i]:g}: a checkpoint lies within its run"
        )
    return total


def schedule_remaining(runs: pd.DataFrame) -> np.ndarray:
    """The part of each run's learning-rate anneal still to come at each checkpoint: 1 at the
    peak learning rate, 0 at the run's end (and after it).

    With an ``lr`` column: ``(lr - lr_end) / (lr_peak - lr_end)``, clipped to [0, 1] (so the
    warm-up counts as not yet annealed); without one, a cosine schedule over the planned total:
    ``(1 + cos(pi * D / run_tokens)) / 2``. A schedule term ``C * g`` of a curve model then
    vanishes at every run's final checkpoint.

    Examples
    --------
    >>> import bayescale as bs
    >>> runs = bs.load_runs(pd.DataFrame({
    ...     "N": [1e8] * 3, "D": [1e9, 2e9, 4e9], "loss": [3.6, 3.3, 3.1], "run": ["a"] * 3,
    ...     "lr": [1e-3, 5.5e-4, 1e-4]}))
    >>> schedule_remaining(runs).round(3).tolist()
    [1.0, 0.5, 0.0]
    >>> schedule_remaining(runs.drop(columns="lr")).round(3).tolist()
    [0.854, 0.5, 0.0]
    """
    if K.RUN_ID not in runs.columns:
        return np.zeros(len(runs))
    d, total = runs[K.D].to_numpy(float), runs[K.RUN_TOKENS].to_numpy(float)
    if K.LR not in runs.columns:
        return cosine_remaining(d, total)
    lr = runs[K.LR].to_numpy(float)
    by_run = runs.groupby(K.RUN_ID, sort=False)[K.LR]
    end = by_run.transform("last").to_numpy(float)
    peak = by_run.transform("max").to_numpy(float)
    span = np.where(peak > end, peak - end, 1.0)
    g = np.clip((lr - end) / span, 0.0, 1.0)
    return np.where(at_end(runs), 0.0, g)


def curve_data(runs: pd.DataFrame) -> dict[str, np.ndarray]:
    """What the curve likelihood reads from a curve fit's runs: ``schedule`` (the anneal still
    to come, :func:`schedule_remaining`, or the table's ``schedule`` column), each run's
    :func:`~bayescale.curve_noise.log_run_length` and the layout of
    :func:`bayescale.curve_noise.curve_layout`. Rows must be grouped by run, D increasing."""
    g = runs[K.SCHEDULE] if K.SCHEDULE in runs.columns else schedule_remaining(runs)
    layout = curve_layout(runs[K.RUN_ID].astype(str).to_numpy(), runs[K.D].to_numpy(float))
    return {
        "schedule": np.asarray(g, dtype=float),
        "log_run_length": log_run_length(runs[K.N], runs[K.RUN_TOKENS]),
        **{k: v for k, v in layout.items() if k != "n_runs"},
        "n_runs": np.asarray(layout["n_runs"], dtype="int64"),
    }


def curve_runs(
    runs: pd.DataFrame,
    min_fraction: float = MIN_FRACTION,
    min_tokens_per_param: float | str | None = "shortest",
) -> pd.DataFrame:
    """The checkpoints a curve fit is conditioned on: those :func:`keep_checkpoints` keeps,
    with their ``schedule`` (:func:`schedule_remaining`, computed on the whole runs first),
    grouped by run (in order of appearance) and ordered by D within a run.
    ``attrs["checkpoints"]`` says what was kept.

    Raises
    ------
    DataError
        When ``runs`` holds no curves (no run column with several checkpoints in a run).
    """
    if not has_curves(runs):
        raise DataError(
            "the curve likelihood needs training curves: a run column (--run-column) naming "
            "several checkpoints of each run"
        )
    table = runs.copy()
    table[K.SCHEDULE] = schedule_remaining(runs)
    keep = keep_checkpoints(runs, min_fraction, min_tokens_per_param)
    order = pd.Categorical(table[K.RUN_ID], categories=table[K.RUN_ID].unique())
    table = table.assign(_order=order.codes)[keep]
    table = table.sort_values(["_order", K.D], kind="stable").drop(columns="_order")
    table = table.reset_index(drop=True)
    table.attrs.update(runs.attrs)
    rule = f"D >= {min_fraction:g} x run_tokens"
    if min_tokens_per_param is not None:
        rule += f", D/N >= {min_tokens_per_param}"
    table.attrs["checkpoints"] = (
        f"{len(runs)} checkpoints of {runs[K.RUN_ID].nunique()} runs; fitted to the "
        f"{len(table)} checkpoints of {table[K.RUN_ID].nunique()} runs kept ({rule}; final "
        "checkpoints always)"
    )
    return table
