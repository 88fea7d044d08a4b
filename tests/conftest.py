"""Shared fixtures: seeded data, and fits made once per session (the compiled model is cached
in-process by bayescale.sampling, so every default-law fit after the first skips compilation)."""

from __future__ import annotations

import os
import warnings

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("PYTHONHASHSEED", "0")

import bayescale as bs  # noqa: E402
from bayescale.simulate import isoflop_design, simulate_runs  # noqa: E402


def run_cli(argv, capsys, monkeypatch):
    """Run the console entry point in-process: (exit code, stdout, stderr)."""
    import sys

    from bayescale.cli import main

    monkeypatch.setattr(sys, "argv", ["bayescale", *map(str, argv)])
    with pytest.raises(SystemExit) as exc:
        main()
    out, err = capsys.readouterr()
    return exc.value.code, out, err


SMALL = dict(draws=500, tune=500, chains=4)  # fast but still meets the diagnostics thresholds

HOFFMANN = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
BESIROGLU = dict(E=1.817, A=482.01, B=2085.43, alpha=0.348, beta=0.366)


@pytest.fixture(scope="session")
def law() -> bs.ChinchillaLaw:
    return bs.ChinchillaLaw()


@pytest.fixture(scope="session")
def chinchilla_runs():
    from bayescale.datasets import load_chinchilla

    return load_chinchilla()


@pytest.fixture(scope="session")
def sim_runs(law):
    """80 IsoFLOP runs simulated from Hoffmann's parameters."""
    design = isoflop_design([1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21, 3e21], runs_per_budget=10)
    return simulate_runs(law, {**HOFFMANN, "sigma": 0.01}, design, seed=11)


@pytest.fixture(scope="session")
def small_fit(law, sim_runs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.ConvergenceWarning)
        return law.fit(sim_runs, seed=5, **SMALL)


@pytest.fixture(scope="session")
def chinchilla_fit(law, chinchilla_runs):
    """Default settings on the replication's 240 runs (as `make demo`)."""
    return law.fit(chinchilla_runs, exclude_top_loss=5, seed=2024)
