"""Compile time per process: nutpie's own compile against bayescale's lean callback.

Usage: python benchmarks/bench_compile.py [--repeats 2]

A ``bayescale fit`` compiles its law's model once per process (numba). PyTensor's numba cache
on disk keeps the pieces of the graph; nutpie's C callback is typed and lowered again in every
process, bayescale's lean callback is read from the same disk cache (where PyTensor caches the
graph it calls). Each measurement here is one fresh Python process that builds a law's model
and compiles it, either with ``nutpie.compile_pymc_model`` or with
:func:`bayescale.compiled_logp.compile_model` (the lean callback, the default); the two
alternate, after one untimed process per law that fills the cache (as any earlier fit on the
machine would). Reported: the median seconds of each and their ratio, per law.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import pandas as pd  # noqa: E402
from study_data import markdown  # noqa: E402

# (label, law name, options, groups): the built-in laws' model shapes, pooled and curve ones
LAWS = [
    ("chinchilla (default)", "chinchilla", {}, 1),
    ("kaplan-c", "kaplan-c", {}, 1),
    ("isoflop", "isoflop", {}, 1),
    ("data-constrained", "data-constrained", {}, 1),
    ("chinchilla, partial pooling", "chinchilla", {"pooling": "partial"}, 10),
    ("chinchilla, curve likelihood", "chinchilla", {"likelihood": "curve"}, 1),
]

CHILD = """
import json, sys, time
from bayescale.laws import make_law
from bayescale.sampling import _model
from bayescale.compiled_logp import compile_model
from bayescale.model import quiet
name, options, groups, lean = json.loads(sys.argv[1])
model = _model(make_law(name, **options), groups)
t0 = time.perf_counter()
with quiet():
    compile_model(model, ["w"], lean=lean)
print(json.dumps(time.perf_counter() - t0))
"""


def measure(name: str, options: dict, groups: int, lean: bool) -> float:
    arg = json.dumps([name, options, groups, lean])
    out = subprocess.run(
        [sys.executable, "-c", CHILD, arg], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    rows = []
    for label, name, options, groups in LAWS:
        measure(name, options, groups, True)  # fills PyTensor's numba cache for this graph
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.repeats):
            for lean in (False, True):
                times[lean].append(measure(name, options, groups, lean))
        nutpie_s, lean_s = statistics.median(times[False]), statistics.median(times[True])
        rows.append(
            {
                "model": label,
                "nutpie compile s": round(nutpie_s, 1),
                "lean compile s": round(lean_s, 1),
                "ratio": round(nutpie_s / lean_s, 2),
            }
        )
        print(rows[-1], flush=True)
    print(markdown(pd.DataFrame(rows)))


if __name__ == "__main__":
    main()
