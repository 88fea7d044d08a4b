"""Wall time of `bayescale batch` for 12 jobs with 1 worker and with 2 workers, side by side.

Usage: python benchmarks/bench_batch.py [--draws 1000] [--tune 1000] [--cold]

The 12 jobs: Chinchilla's law on each of the ten Porian et al. configurations, and Chinchilla's
law and Kaplan's L(C) on the shipped Chinchilla runs (two law configurations, so a worker
compiles at most twice). Each setting runs as its own `bayescale batch ... --force` process
(cold in-process caches, as a nightly job would be). Reported: whole-command wall time, and
from batch.json the time workers spent compiling, sampling (pilot + main run) and learning the
extrapolation drift (a small leave-future-out refit), summed over jobs; with 2 workers the batch
first compiles the model that several jobs share on one worker (``warm-up s``, the wall time of
that phase), and the other worker reads it from the disk cache. ``--cold``: each setting with
empty PyTensor / numba disk caches (as on a fresh machine), instead of the machine's own.
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


def manifest(folder: Path, draws: int, tune: int) -> Path:
    groups = sorted(pd.read_csv(ROOT / "data" / "porian_isoflop.csv")["group"].unique())
    lines = [f"[defaults]\ndraws = {draws}\ntune = {tune}\nchains = 4\nseed = 1\n"]
    for i, g in enumerate(groups):
        lines.append(
            f'[[job]]\nname = "porian-{i}"\nruns = "{ROOT / "data" / "porian_isoflop.csv"}"\n'
            f'filter = {{ group = "{g}" }}\nbudgets = [1e21]\n'
        )
    for law in ("chinchilla", "kaplan-c"):
        lines.append(
            f'[[job]]\nname = "chinchilla-{law}"\nruns = "{ROOT / "data" / "chinchilla.csv"}"\n'
            f'law = "{law}"\nplans = [{{ N = 7e10, D = 1.4e12, target = 1.95 }}]\n'
        )
    path = folder / "bench.toml"
    path.write_text("\n".join(lines))
    return path


def run(path: Path, out: Path, workers: int, caches: Path | None = None) -> dict:
    exe = Path(sys.executable).with_name("bayescale")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            str(exe),
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = manifest(folder, args.draws, args.tune)
        rows = [
            run(path, folder / f"out{w}", w, folder / f"caches{w}" if args.cold else None)
            for w in (1, 2)
        ]
    table = pd.DataFrame(rows).set_index("workers")
    caches = "empty disk caches" if args.cold else "the machine's disk caches"
    print(
        f"12 jobs, {args.draws} draws + {args.tune} tune x 4 chains, {os.cpu_count()} cores, "
        f"{caches}"
    )
    print(table.to_string(float_format=lambda v: f"{v:.1f}"))
    print(f"speed-up with 2 workers: {table.wall_s[1] / table.wall_s[2]:.2f}x")


if __name__ == "__main__":
    main()
