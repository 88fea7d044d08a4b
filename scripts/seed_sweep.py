"""Seed sweep: rerun the suite's sampled tests at several seeds and show each asserted quantity's
worst value beside its threshold; optionally run deliberately broken variants of bayescale and
show which tests catch each.

Usage::

    python scripts/seed_sweep.py [--seeds 5] [--jobs 2] [--tests ...] [--out docs/seed_sweep.md]
    python scripts/seed_sweep.py --broken [--variants detached,prior,half_noise,jacobian]

Sampled tests take their seeds through ``conftest.seed(base)``, which adds ``7919 * k`` in sweep
``k`` (``BAYESCALE_SWEEP``; sweep 0 is exactly what CI runs), and assert through
``conftest.check(quantity, value, op, threshold)``, which records every asserted quantity
(``BAYESCALE_MARGINS``). The table lists, per test and quantity, the worst value over the seeds
and its margin (how far it stays on the right side of the threshold, as a share of the
threshold). A row whose worst value fails is marked FAIL.

``--broken`` runs the same tests once per variant of ``tests/broken.py`` (``BAYESCALE_BROKEN``)
and lists the tests that fail under each: every variant must be caught by at least one test.
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

ROOT = Path(__file__).resolve().parents[1]
#: The tests whose assertions depend on sampled posteriors (``-k``/node ids for pytest).
SAMPLED = [
    "tests/test_laws.py::test_recovers_truth",
    "tests/test_recovery.py",
    "tests/test_sampler.py::test_whitened_model_matches_the_naive_model",
    "tests/test_pooling.py::test_partial_pooling_recovers_groups",
    "tests/test_pooling.py::test_partially_pooled_isoflop_law_orders_group_frontiers",
    "tests/test_calibration.py",
    "tests/test_backtest.py::test_backtest_on_the_laws_own_data_is_calibrated_and_deterministic",
]


def _pytest(tests: list[str], env: dict[str, str], junit: Path) -> int:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--no-header",
        "-o",
        "addopts=",
        f"--junitxml={junit}",
        *tests,
    ]
    return subprocess.run(cmd, cwd=ROOT, env={**os.environ, **env}).returncode


def _failed(junit: Path) -> list[str]:
    import xml.etree.ElementTree as ET

    out = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            out.append(f"{case.get('classname')}::{case.get('name')}")
    return out


def _margin(value: float, op: str, threshold: float) -> float:
    gap = value - threshold if op in (">", ">=") else threshold - value
    return gap / abs(threshold) if threshold else gap


def _parallel(jobs: int, fn, items):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=jobs) as pool:  # each item runs its own pytest process
        return list(pool.map(fn, items))


def sweep(seeds: int, tests: list[str], jobs: int = 1) -> tuple[list[dict], dict[int, list]]:
    work = Path(tempfile.mkdtemp(prefix="bayescale-sweep-"))

    def one(k: int) -> list[str]:
        t0 = time.perf_counter()
        env = {"BAYESCALE_SWEEP": str(k), "BAYESCALE_MARGINS": str(work / f"margins-{k}.jsonl")}
        _pytest(tests, env, work / f"junit-{k}.xml")
        failed = _failed(work / f"junit-{k}.xml")
        print(f"sweep {k}: {time.perf_counter() - t0:.0f} s, {len(failed)} failed", flush=True)
        return failed

    failures = dict(enumerate(_parallel(jobs, one, range(seeds))))
    records = []
    for k in range(seeds):
        margins = work / f"margins-{k}.jsonl"
        if margins.exists():
            records += [json.loads(line) for line in margins.read_text().splitlines()]
    return records, failures


def table(records: list[dict], seeds: int) -> str:
    rows: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        rows.setdefault((r["test"], r["quantity"]), []).append(r)
    lines = [
        f"| test | asserted quantity | threshold | worst over {seeds} seeds | margin "
        "| seeds seen |",
        "|---|---|---|---|---|---|",
    ]
    for (test, quantity), rs in sorted(rows.items()):
        worst = min(rs, key=lambda r: _margin(r["value"], r["op"], r["threshold"]))
        m = _margin(worst["value"], worst["op"], worst["threshold"])
        ok = "" if m > 0 or (m == 0 and worst["op"] in ("<=", ">=")) else " FAIL"
        lines.append(
            f"| {test.replace('tests/', '')} | {quantity} | {worst['op']} {worst['threshold']:g} "
            f"| {worst['value']:.4g}{ok} | {m:+.0%} | {len({r['sweep'] for r in rs})} |"
        )
    return "\n".join(lines) + "\n"


def broken(variants: list[str], tests: list[str], jobs: int = 1) -> str:
    work = Path(tempfile.mkdtemp(prefix="bayescale-broken-"))

    def one(v: str) -> list[str]:
        t0 = time.perf_counter()
        _pytest(tests, {"BAYESCALE_BROKEN": v}, work / f"{v}.xml")
        failed = _failed(work / f"{v}.xml")
        print(f"{v}: {time.perf_counter() - t0:.0f} s, {len(failed)} failed", flush=True)
        return failed

    lines = ["| broken variant | caught by (failing tests) |", "|---|---|"]
    for v, failed in zip(variants, _parallel(jobs, one, variants), strict=True):
        shown = "; ".join(f.replace("tests.", "") for f in failed) or "**NOT CAUGHT**"
        lines.append(f"| {v} | {shown} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--tests", nargs="*", default=SAMPLED)
    ap.add_argument("--broken", action="store_true", help="run the broken variants instead")
    ap.add_argument("--variants", default="detached,prior,half_noise,jacobian")
    ap.add_argument("--out", type=Path, help="also write the table (Markdown) here")
    ap.add_argument("--jobs", type=int, default=1, help="pytest processes at once")
    args = ap.parse_args()
    if args.broken:
        text = broken(args.variants.split(","), args.tests, args.jobs)
    else:
        records, failures = sweep(args.seeds, args.tests, args.jobs)
        text = table(records, args.seeds)
        failed = sorted({f for fs in failures.values() for f in fs})
        if failed:
            text += "\nTests that failed in some sweep: " + ", ".join(failed) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
