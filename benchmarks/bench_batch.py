"""Wall time of `bayescale batch` for 12 jobs with 1 worker and with 2 workers, side by side.

Usage: python benchmarks/bench_batch.py [--draws 1000] [--tune 1000] [--cold]
       [--workers 1,2] [--seeds 1]

The 12 jobs: Chinchilla's law on each of the ten Porian et al. configurations, and Chinchilla's
law and Kaplan's L(C) on the shipped Chinchilla runs (two law configurations, so a worker
compiles at most twice). Each setting runs as its own `bayescale batch ... --force` process
(cold in-process caches, as a nightly job would be). Reported: whole-command wall time, and
from batch.json the time workers spent compiling, sampling (pilot + main run) and learning the
extrapolation drift (a small leave-future-out refit), summed over jobs; with 2 workers the batch
first compiles the model that several jobs share on one worker (``warm-up s``, the wall time of
that phase), and the other worker reads it from the disk cache. ``--cold``: each setting with
empty PyTensor / numba disk caches (as on a fresh machine), instead of the machine's own.
``--workers 1,4,16 --seeds 2``: issue #19's 16-core setting, the 12 jobs at two seeds (24 jobs)
at 1, 4 and 16 workers, speed-ups against the first count.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def manifest(folder: Path, draws: int, tune: int, seeds: int = 1) -> Path:
    groups = sorted(pd.read_csv(ROOT / "data" / "porian_isoflop.csv")["group"].unique())
    lines = [f"[defaults]\ndraws = {draws}\ntune = {tune}\nchains = 4\nseed = 1\n"]
    for seed in range(1, seeds + 1):
        tag = "" if seeds == 1 else f"-s{seed}"
        for i, g in enumerate(groups):
            lines.append(
                f'[[job]]\nname = "porian-{i}{tag}"\n'
                f'runs = "{ROOT / "data" / "porian_isoflop.csv"}"\nseed = {seed}\n'
                f'filter = {{ group = "{g}" }}\nbudgets = [1e21]\n'
            )
        for law in ("chinchilla", "kaplan-c"):
            lines.append(
                f'[[job]]\nname = "chinchilla-{law}{tag}"\n'
                f'runs = "{ROOT / "data" / "chinchilla.csv"}"\nseed = {seed}\n'
                f'law = "{law}"\nplans = [{{ N = 7e10, D = 1.4e12, target = 1.95 }}]\n'
            )
    path = folder / "bench.toml"
    path.write_text("\n".join(lines))
    return path


def run(path: Path, out: Path, workers: int, caches: Path | None = None) -> dict:
    exe = Path(sys.executable).with_name("bayescale")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "bayescale"]
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            *command,
            "batch",
            str(path),
            "--out",
            str(out),
            "--workers",
            str(workers),
            "--force",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PYTHONWARNINGS": "ignore",
            **(
                {
                    "PYTENSOR_FLAGS": f"base_compiledir={caches / 'pytensor'}",
                    "NUMBA_CACHE_DIR": str(caches / "numba"),
                }
                if caches is not None
                else {}
            ),
        },
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"batch with {workers} worker(s) failed:\n{proc.stdout}\n{proc.stderr}")
    doc = json.loads((out / "batch.json").read_text())
    timings = [j["timing"] for j in doc["jobs"] if j["status"] == "fitted"]
    return {
        "workers": workers,
        "jobs": len(timings),
        "wall_s": wall,
        "compile_s": sum(t["compile_s"] for t in timings),
        "sampling_s": sum(t["pilot_s"] + t["sampling_s"] for t in timings),
        "drift_s": sum(t.get("drift_s", 0.0) for t in timings),
        "compiles": sum(t["compile_s"] > 0 for t in timings),
        "warm-up s": doc["warmup"].get("wall_s", 0.0),
        "models warmed": doc["warmup"]["models"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--cold", action="store_true", help="empty disk caches per setting")
    parser.add_argument(
        "--workers", default="1,2", help="worker counts to run, comma-separated (first: baseline)"
    )
    parser.add_argument("--seeds", type=int, default=1, help="copies of the 12 jobs, one per seed")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = manifest(folder, args.draws, args.tune, args.seeds)
        rows = []
        for w in counts:
            rows.append(
                run(path, folder / f"out{w}", w, folder / f"caches{w}" if args.cold else None)
            )
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows).set_index("workers")
    caches = "empty disk caches" if args.cold else "the machine's disk caches"
    print(
        f"{12 * args.seeds} jobs, {args.draws} draws + {args.tune} tune x 4 chains, "
        f"{os.cpu_count()} cores, {caches}"
    )
    print(table.to_string(float_format=lambda v: f"{v:.1f}"))
    for w in counts[1:]:
        speedup = table.wall_s[counts[0]] / table.wall_s[w]
        print(f"speed-up with {w} workers over {counts[0]}: {speedup:.2f}x")


if __name__ == "__main__":
    main()
