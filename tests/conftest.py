"""Shared fixtures: seeded data, and fits made once per session (the compiled model is cached
in-process by bayescale.sampling, so every default-law fit after the first skips compilation)."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

# Before NumPy is imported: idle OpenBLAS threads spin beside the other test worker (see
# bayescale.threads).
for _k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_k, "1")

import matplotlib  # noqa: E402
import pytest  # noqa: E402

matplotlib.use("Agg")
os.environ.setdefault("PYTHONHASHSEED", "0")

import bayescale as bs  # noqa: E402
from bayescale.simulate import isoflop_design, simulate_runs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------------------- seed sweep
#: Seed offset of a seed sweep (``scripts/seed_sweep.py`` sets it; 0 in CI, where every sampled
#: test runs the seeds written in it).
SWEEP = int(os.environ.get("BAYESCALE_SWEEP", "0"))
#: Where a seed sweep collects the asserted quantities (JSON lines), unset in CI.
MARGINS = os.environ.get("BAYESCALE_MARGINS")
if os.environ.get("BAYESCALE_COMPILE_LOG"):  # which law configurations each process compiles

    def _log_compiles(path: str) -> None:
        import json
        import time

        from bayescale import sampling

        original = sampling._compiled

        def logged(law, n_groups=1):
            known = sampling._key(law, n_groups) in sampling._COMPILED
            t0 = time.perf_counter()
            out = original(law, n_groups)
            if not known:
                record = {
                    "pid": os.getpid(),
                    "key": sampling._key(law, n_groups)[:200],
                    "s": round(time.perf_counter() - t0, 2),
                    "test": os.environ.get("PYTEST_CURRENT_TEST", ""),
                }
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")
            return out

        sampling._compiled = logged

    _log_compiles(os.environ["BAYESCALE_COMPILE_LOG"])
if os.environ.get("BAYESCALE_BROKEN"):  # a deliberately broken variant (tests/broken.py)
    from broken import apply as _apply_broken  # noqa: E402

    _apply_broken(os.environ["BAYESCALE_BROKEN"])


def seed(base: int) -> int:
    """The seed a sampled test uses: ``base`` in CI, shifted by the sweep's offset otherwise.

    Data simulations and fits take their seeds through it, so a sweep changes both.
    """
    return int(base) + 7919 * SWEEP


def check(quantity: str, value: float, op: str, threshold: float, detail: object = "") -> None:
    """Assert ``value op threshold`` (op: ``<``, ``<=``, ``>``, ``>=``); in a seed sweep, also
    record the asserted quantity for the sweep's table of margins."""
    import json
    import operator

    ops = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
    value = float(value)
    if MARGINS:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]
        record = dict(test=test, quantity=quantity, value=value, op=op, threshold=threshold)
        with open(MARGINS, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({**record, "sweep": SWEEP}) + "\n")
    assert ops[op](value, threshold), (
        f"{quantity} = {value:.6g}, must be {op} {threshold}; {detail}"
    )


def check_recovered(param: str, truth: float, draws, log: bool = False, detail="") -> None:
    """Check that ``truth`` is within 4 posterior sds of the posterior median (on the log scale
    when ``log``). A truth-inside-the-95%-interval check fails 5% of the time per parameter by
    design (30 parameters: most seeds); this one, for a calibrated posterior, about never, and
    still fails a posterior cut off from the data. Contraction is checked separately."""
    import numpy as np

    x = np.asarray(draws, dtype=float).ravel()
    if log:
        x, truth = np.log(x), float(np.log(truth))
    z = abs(truth - np.median(x)) / x.std()
    check(f"{param}: |truth - median| / sd", z, "<", 4, detail)


#: The files that take longest (model compilation and sampling; measured with
#: ``BAYESCALE_TIMELINE``), run first: the scheduler below hands out files in collection order,
#: so the two workers start with the long ones and the short ones fill the gaps at the end
#: (``make test``'s wall time is the later worker's).
LONGEST_FIRST = (
    "test_laws.py",  # with test_compare.py and test_notebooks.py (SHARED_WORKER): ~360 s
    "test_pooling.py",
    "test_batch.py",
    "test_calibration.py",
    "test_sampler.py",
    "test_cli.py",
    "test_curve_fit.py",
    "test_compile_cache.py",  # three fresh processes, ~60 s
    "test_jax_nuts.py",  # four fresh processes, ~75 s
    "test_chain.py",
    "test_backtest.py",
    "test_cli_options.py",
    "test_fit.py",
    "test_report.py",
    "test_pointfit.py",
    "test_demo.py",
    "test_plots.py",
    "test_learned_priors.py",
    "test_recovery.py",
    "test_curves.py",
)


#: Test files that fit the same law configurations share a worker, so that each configuration
#: compiles once: the law family's recovery tests, the comparisons and the notebooks fit
#: Chinchilla's and Kaplan's laws and the data-constrained law alike. Every other file is a
#: unit of its own (as ``--dist loadfile``); see :func:`pytest_xdist_make_scheduler`.
SHARED_WORKER = {"test_laws.py": "laws", "test_compare.py": "laws", "test_notebooks.py": "laws"}


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order kept within


def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist hands out work by file, with the files of :data:`SHARED_WORKER` as one unit
    (xdist's own ``loadgroup`` relies on rewriting node ids, which pytest 9.2 ignores)."""
    from xdist.scheduler import LoadScopeScheduling

    # xdist reorders scopes by their number of tests by default; the order that balances the
    # two workers is LONGEST_FIRST's (time, not test count)
    config.option.loadscopereorder = False

    class SharedWorkerScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return SHARED_WORKER.get(path.rsplit("/", 1)[-1], path)

    return SharedWorkerScheduling(config, log)


def run_cli(argv, capsys, monkeypatch):
    """Run the console entry point in-process: (exit code, stdout, stderr)."""

    from bayescale.cli import main

    monkeypatch.setattr(sys, "argv", ["bayescale", *map(str, argv)])
    with pytest.raises(SystemExit) as exc:
        main()
    out, err = capsys.readouterr()
    return exc.value.code, out, err


SMALL = dict(draws=1000, tune=600, chains=4)  # fast but still meets the diagnostics thresholds

#: Noise of the simulated worlds: 1% on log loss at the optimum, growing off it (default law).
NOISE = dict(sigma=0.01, sigma_slope=0.3)
HOFFMANN = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
BESIROGLU = dict(E=1.817, A=482.01, B=2085.43, alpha=0.348, beta=0.366)


@pytest.fixture(scope="session", autouse=True)
def _every_model_compiles_lean():
    """Every model the suite samples (pooled, curve, every law) goes through the lean compile
    of bayescale.compiled_logp: a fallback to nutpie's own compile fails the session."""
    yield
    from bayescale import compiled_logp

    assert not compiled_logp._FELL_BACK, f"lean compile fell back: {compiled_logp._FELL_BACK}"


@pytest.fixture(scope="session")
def law() -> bs.ChinchillaLaw:
    return bs.ChinchillaLaw()


@pytest.fixture(scope="session")
def chinchilla_runs():
    from bayescale.datasets import load_chinchilla

    return load_chinchilla()


@pytest.fixture(scope="session")
def sim_runs(law):
    """80 IsoFLOP runs simulated from Hoffmann's parameters (noise growing off the optimum)."""
    design = isoflop_design([1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21, 3e21], runs_per_budget=10)
    return simulate_runs(law, {**HOFFMANN, **NOISE}, design, seed=11)


@pytest.fixture(scope="session")
def small_fit(law, sim_runs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.ConvergenceWarning)
        return law.fit(sim_runs, seed=5, **SMALL)


@pytest.fixture(scope="session")
def chinchilla_fit(law, chinchilla_runs):
    """Default settings on the replication's 240 runs (as `make demo`)."""
    return law.fit(chinchilla_runs, exclude_top_loss=5, seed=2024)


if os.environ.get("BAYESCALE_TIMELINE") and os.environ.get("PYTEST_XDIST_WORKER"):
    # when each test ran, in which worker (JSON lines)
    import json as _json
    import time as _time

    _STARTED: dict[str, float] = {}

    def pytest_runtest_logstart(nodeid, location):
        _STARTED[nodeid] = _time.time()

    def pytest_runtest_logfinish(nodeid, location):
        worker = os.environ["PYTEST_XDIST_WORKER"]
        record = {"worker": worker, "test": nodeid, "start": _STARTED.pop(nodeid, None)}
        record["end"] = _time.time()
        with open(os.environ["BAYESCALE_TIMELINE"], "a", encoding="utf-8") as fh:
            fh.write(_json.dumps(record) + "\n")
