"""Derive data/olmo_ladder.csv and data/olmo_ladder_target.csv from the OLMo model ladder's raw
training curves (Bhagia et al. 2024; allenai/OLMo-ladder, Apache-2.0).

Usage: python scripts/make_olmo_ladder_data.py [RAW_DIR] [OUT_DIR]

RAW_DIR (default ``../shared/data/olmo_ladder/raw``) holds the unmodified ladder-run CSVs of the
repository allenai/OLMo-ladder (commit 67a3f440f787d020da35e3ca8eeae475fae754f5,
``src/scripts/paper/data/ladder-runs/``). One row per run, from its final checkpoint:

- ``N``: the parameter count of the run's size as the repository gives it (``src/scaling/utils.py``;
  the paper's fits use these), ``D`` = ``throughput/total_tokens`` at the final checkpoint,
  ``C`` = 6 N D;
- ``loss``: ``eval/c4_en-validation/CrossEntropyLoss`` (nats/token) at the final checkpoint;
- ``group``: the run's name (``190M-1xC``, ``190M-1xC-rerun``, ...), ``size``, ``xC`` (the
  length in multiples of 20 tokens per parameter), ``rerun``, ``paper_subset`` (the 16 rungs the
  paper fits: 190M-1B at 1, 2, 5, 10 xC, no reruns);
- ``val_<set>``: the other ten validation losses at the same checkpoint.

The 7B target (``peteish7_eval_anneal.csv``, the final checkpoint after the anneal) goes to
``olmo_ladder_target.csv`` with the same columns: a target to predict, never a training run.

``olmo_ladder_curves.csv``: every checkpoint of the 30 ladder runs with a C4 loss (training
curves), one row each: ``N``, ``D`` (tokens seen at the checkpoint), ``C`` = 6 N D, ``loss``
(C4), ``run`` (the run's name), ``step``, ``lr`` (``optim/learning_rate_group0``, the learning
rate at that step), ``run_tokens`` (the run's total tokens: its final checkpoint's D), ``size``,
``xC``, ``rerun``, ``paper_subset``; and for the eight tasks of the paper the bits per byte of
the correct answer (``bpb_<task>``, ``eval/downstream_bpb/<task>_rc_5shot_bpb``) and the
length-normalised accuracy (``acc_<task>``, ``eval/downstream/<task>_rc_5shot_len_norm``), with
MMLU as the mean of its four test parts (which are kept too, as ``bpb_mmlu_stem`` ...).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

PARAMS = {
    "190M": 190354176,
    "370M": 371262464,
    "760M": 758220288,
    "1B": 1279395840,
    "3B": 3169537280,
    "7B": 6887575552,
}
C4 = "eval/c4_en-validation/CrossEntropyLoss"
TOKENS = "throughput/total_tokens"
RUN = re.compile(r"^(?P<size>\d+[MB])-(?P<xc>[\d.]+)xC(?P<rerun>-rerun)?\.csv$")


def _val_columns(frame: pd.DataFrame) -> dict[str, str]:
    out = {}
    for col in frame.columns:
        m = re.fullmatch(r"eval/(.+)-validation/CrossEntropyLoss", col)
        if m and col != C4:
            out[col] = "val_" + m.group(1)
    return out


def _final_row(frame: pd.DataFrame, name: str) -> pd.Series:
    done = frame.dropna(subset=[C4, TOKENS])
    if done.empty:
        raise SystemExit(f"{name}: no checkpoint with both {TOKENS} and {C4}")
    return done.loc[done[TOKENS].idxmax()]


def _record(row: pd.Series, frame: pd.DataFrame, n: int, **extra) -> dict:
    d = float(row[TOKENS])
    rec = {"N": n, "D": d, "C": 6.0 * n * d, "loss": float(row[C4]), **extra}
    for col, short in sorted(_val_columns(frame).items(), key=lambda kv: kv[1]):
        rec[short] = float(row[col])
    return {**rec, **_task_columns(row)}


def _task_columns(row: pd.Series) -> dict:
    """The eight tasks' bits per byte and accuracy at one checkpoint (MMLU: the mean of its
    four test parts, which are kept too)."""
    out = {}
    for short, task in {**TASKS, **MMLU}.items():
        out[f"bpb_{short}"] = float(row[f"eval/downstream_bpb/{task}_rc_5shot_bpb"])
        out[f"acc_{short}"] = float(row[f"eval/downstream/{task}_rc_5shot_len_norm"])
    for stat in ("bpb", "acc"):
        out[f"{stat}_mmlu"] = float(np.mean([out[f"{stat}_{m}"] for m in MMLU]))
    return out


#: The paper's tasks (Bhagia et al. 2024): short name -> the raw columns' task name.
TASKS = {
    "hellaswag": "hellaswag_val",
    "arc_challenge": "arc_challenge_test",
    "arc_easy": "arc_easy_test",
    "piqa": "piqa_val",
    "csqa": "csqa_val",
    "socialiqa": "socialiqa_val",
    "openbookqa": "openbookqa_test",
}
MMLU = {
    "mmlu_stem": "mmlu_stem_test",
    "mmlu_humanities": "mmlu_humanities_test",
    "mmlu_social_sciences": "mmlu_social_sciences_test",
    "mmlu_other": "mmlu_other_test",
}


def _curve(frame: pd.DataFrame, n: int, **extra) -> pd.DataFrame:
    """Every checkpoint with a C4 loss and a token count, in training order."""
    done = frame.dropna(subset=[C4, TOKENS]).sort_values("_step")
    out = pd.DataFrame(
        {
            "N": n,
            "D": done[TOKENS].to_numpy(float),
            "C": 6.0 * n * done[TOKENS].to_numpy(float),
            "loss": done[C4].to_numpy(float),
            "step": done["_step"].to_numpy(int),
            "lr": done["optim/learning_rate_group0"].to_numpy(float),
        }
    )
    out["run_tokens"] = out["D"].max()
    for key, value in extra.items():
        out[key] = value
    for short, task in {**TASKS, **MMLU}.items():
        out[f"bpb_{short}"] = done[f"eval/downstream_bpb/{task}_rc_5shot_bpb"].to_numpy(float)
        out[f"acc_{short}"] = done[f"eval/downstream/{task}_rc_5shot_len_norm"].to_numpy(float)
    for stat in ("bpb", "acc"):
        out[f"{stat}_mmlu"] = out[[f"{stat}_{m}" for m in MMLU]].mean(axis=1, skipna=False)
    return out


def main(raw: str = "../shared/data/olmo_ladder/raw", out: str = "data") -> None:
    raw_dir, out_dir = Path(raw), Path(out)
    rows, curves = [], []
    for path in sorted(raw_dir.glob("*xC*.csv")):
        m = RUN.match(path.name)
        if m is None:
            continue
        frame = pd.read_csv(path)
        size, xc, rerun = m["size"], float(m["xc"]), m["rerun"] is not None
        paper = size in ("190M", "370M", "760M", "1B") and xc in (1, 2, 5, 10) and not rerun
        meta = dict(size=size, xC=xc, rerun=rerun, paper_subset=paper)
        curves.append(_curve(frame, PARAMS[size], run=path.stem, **meta))
        rows.append(
            _record(
                _final_row(frame, path.name),
                frame,
                PARAMS[size],
                group=path.stem,
                **meta,
            )
        )
    runs = pd.DataFrame(rows).sort_values(["N", "D", "group"]).reset_index(drop=True)
    runs.to_csv(out_dir / "olmo_ladder.csv", index=False, float_format="%.10g")
    curve = pd.concat(curves, ignore_index=True).sort_values(["N", "run_tokens", "run", "D"])
    curve.to_csv(out_dir / "olmo_ladder_curves.csv", index=False, float_format="%.10g")
    anneal = pd.read_csv(raw_dir / "peteish7_eval_anneal.csv")
    target = pd.DataFrame(
        [
            _record(
                _final_row(anneal, "peteish7"),
                anneal,
                PARAMS["7B"],
                group="peteish7-anneal",
                size="7B",
                xC=float(_final_row(anneal, "peteish7")[TOKENS]) / (20 * PARAMS["7B"]),
                rerun=False,
                paper_subset=False,
            )
        ]
    )
    target.to_csv(out_dir / "olmo_ladder_target.csv", index=False, float_format="%.10g")
    print(
        f"wrote {out_dir / 'olmo_ladder.csv'}: {len(runs)} runs "
        f"({int(runs['paper_subset'].sum())} in the paper subset); "
        f"{out_dir / 'olmo_ladder_target.csv'}: the 7B target; "
        f"{out_dir / 'olmo_ladder_curves.csv'}: {len(curve)} checkpoints"
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
