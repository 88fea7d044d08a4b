"""The JAX path (``sampler="numpyro"``): its log density, its posterior against nutpie's, and its
compiled program reused for new data in the process and read from disk by a later process."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import textwrap
import warnings

import jax
import numpy as np
import pandas as pd
import pytest
from test_curve_fit import NOISE as CURVE_NOISE
from test_curve_fit import TRUTH

import bayescale as bs
from bayescale import jax_nuts, sampling
from bayescale.model import group_names, initial_loc, model_data
from bayescale.simulate import isoflop_design, simulate_curves, simulate_runs
from conftest import HOFFMANN, NOISE, SMALL, check, seed


def _settings(law, runs, rng):
    data = model_data(law, runs, group_names(law, runs))
    k = len(initial_loc(law, runs, 1))
    loc = initial_loc(law, runs, 1) + rng.normal(0, 0.1, k)
    chol = np.tril(rng.normal(0, 0.05, (k, k))) + np.eye(k)
    return dict(loc=loc, chol=chol, **data)


def _curves(n_runs: int, seed: int):
    """Training curves of ``n_runs`` simulated runs, 12 checkpoints each (test_curve_fit's
    world)."""
    rng = np.random.default_rng(seed)
    n = np.geomspace(2e7, 2e9, 5)[np.arange(n_runs) % 5]
    plan = pd.DataFrame({"N": n, "D": n * rng.choice([5.0, 20, 80], size=n_runs)})
    law = bs.ChinchillaLaw(likelihood="curve")
    return law, simulate_curves(law, TRUTH, plan, checkpoints=12, seed=seed, **CURVE_NOISE)


def _check_density(law, datasets):
    """The JAX log density against PyMC's for each data set; the static data's names."""
    import pymc as pm

    model = sampling._model(law)
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    rng = np.random.default_rng(0)
    static_names = set()
    for runs in datasets:
        settings = _settings(law, runs, rng)
        fixed = jax_nuts.signature(model, settings)
        static_names |= {name for name, value in fixed if isinstance(value, int)}
        names, density = jax_nuts.log_density(sampling._key(law, 1), model, fixed)
        assert set(names) >= {"y", "loc", "chol"}
        value_and_grad = jax.jit(jax.value_and_grad(density))
        data = [settings[n] for n in names]
        pm.set_data(settings, model=model)
        for _ in range(3):
            w = rng.normal(0, 1, len(settings["loc"]))
            value, grad = value_and_grad(w, *data)
            np.testing.assert_allclose(float(value), logp({"w": w}), rtol=1e-10)
            np.testing.assert_allclose(np.asarray(grad), dlogp({"w": w}), rtol=1e-8, atol=1e-8)
    return sorted(static_names)


def test_the_log_density_takes_the_data_as_arguments(law, sim_runs, chinchilla_runs):
    """One JAX function of (w, data) gives PyMC's log density and gradient for any data: the
    default law on two data sets; the curve likelihood, whose number of runs sets a shape (a
    static argument), at two numbers of runs."""
    assert _check_density(law, (sim_runs, chinchilla_runs)) == []
    curve_law, few = _curves(6, 0)
    assert _check_density(curve_law, (few, _curves(10, 1)[1])) == ["n_runs"]


def test_a_curve_fit_samples_with_numpyro():
    """A curve fit (its number of runs a static shape) samples with numpyro and agrees with
    nutpie's fit of the same checkpoints."""
    law, curves = _curves(10, 2)
    settings = dict(seed=seed(5), drift=False, draws=500, tune=500, chains=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        fits = {s: law.fit(curves, sampler=s, **settings) for s in ("nutpie", "numpyro")}
    a, b = fits["numpyro"].summary(), fits["nutpie"].summary()
    for p in ("E", "alpha", "beta"):
        gap = abs(a.loc[p, "median"] - b.loc[p, "median"]) / b.loc[p, "sd"]
        check(f"curve {p}: |numpyro median - nutpie median| / sd", gap, "<", 0.2)


def _compiles():
    """A counter of JAX's backend compilations from now on."""
    import jax.monitoring

    count = collections.Counter()

    def listen(name, secs, **kwargs):
        count[name] += 1

    jax.monitoring.register_event_duration_secs_listener(listen)
    return count


@pytest.mark.parametrize("side_by_side", [True, False], ids=["side-by-side", "vectorised"])
def test_numpyro_agrees_with_nutpie_and_compiles_once(
    law, sim_runs, small_fit, side_by_side, monkeypatch
):
    """The chains side by side (a device each, as on CPUs) or vectorised on one device (a GPU):
    the posterior of nutpie's small fit within Monte Carlo error; a second fit on other data
    of the same shape compiles nothing and still follows its own data."""
    monkeypatch.setattr(jax_nuts, "side_by_side", lambda chains: side_by_side)
    settings = dict(seed=seed(3), drift=False, sampler="numpyro", **SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        fit = law.fit(sim_runs, **settings)
    assert fit.settings["sampler"] == "numpyro"
    assert dict(fit.posterior.sizes)["chain"] == SMALL["chains"]
    assert set(fit.idata.sample_stats) >= {"diverging", "energy", "n_steps", "lp"}
    check("divergences", fit.diagnostics["divergences"], "<=", 2)
    a, b = fit.summary(), small_fit.summary()
    for p in ("E", "alpha", "beta", "sigma"):
        gap = abs(a.loc[p, "median"] - b.loc[p, "median"]) / b.loc[p, "sd"]
        check(f"{p}: |numpyro median - nutpie median| / sd", gap, "<", 0.2)

    design = isoflop_design([1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21, 3e21], runs_per_budget=10)
    other = simulate_runs(law, {**HOFFMANN, **NOISE, "E": 2.2}, design, seed=seed(12))
    assert len(other) == len(sim_runs)
    compiles = _compiles()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        refit = law.fit(other, **settings)
    assert sum(compiles.values()) == 0, dict(compiles)
    e = refit.posterior["E"]
    z = abs(float(e.median()) - 2.2) / float(e.std())
    check("E of the other data: |median - 2.2| / sd", z, "<", 4)


SCRIPT = textwrap.dedent(
    """
    import collections, hashlib, warnings
    import jax.monitoring
    hits = collections.Counter()
    jax.monitoring.register_event_listener(lambda name, **kw: hits.update([name]))
    import bayescale as bs
    from bayescale.datasets import load_chinchilla
    from bayescale.laws import make_law
    runs = load_chinchilla(replication_subset=True).iloc[::3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        fit = make_law("kaplan-c").fit(
            runs, sampler="numpyro", seed=4, draws=200, tune=200, chains=2, drift=False
        )
    draws = fit.posterior.to_array().to_numpy()
    digest = hashlib.sha256(draws.tobytes()).hexdigest()
    print("hits", hits["/jax/compilation_cache/cache_hits"], digest)
    """
)


def test_a_later_process_reads_the_compiled_program_from_disk(tmp_path):
    """JAX's persistent cache: the second process reads the program the first compiled and
    draws bitwise the same; after every entry is damaged, a third compiles again, removes the
    damaged entries (one warning) and still draws the same; a fourth finds nothing damaged."""
    env = {
        **os.environ,
        "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "jax"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",  # a fast machine still writes it
    }

    def run():
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
        )
        assert out.returncode == 0, out.stderr[-3000:]
        line = next(x for x in out.stdout.splitlines() if x.startswith("hits"))
        _, hits, digest = line.split()
        return int(hits), digest, out.stderr

    hits, first, _ = run()
    assert hits == 0 and list((tmp_path / "jax").iterdir())
    hits, second, _ = run()
    assert hits >= 1 and second == first
    rng = np.random.default_rng(0)
    for entry in (tmp_path / "jax").rglob("*"):
        if entry.is_file():
            entry.write_bytes(rng.bytes(entry.stat().st_size))
    hits, third, stderr = run()
    assert third == first and "damaged JAX compile cache file(s)" in stderr
    hits, fourth, stderr = run()  # the damaged entries are gone: JAX reads nothing damaged
    assert fourth == first and "damaged" not in stderr and "Error reading" not in stderr
