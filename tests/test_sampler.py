"""The reparametrised sampler against references: PyMC's own NUTS on the same model, and the
naive model's posterior (same priors, raw parametrisation)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bayescale as bs
from bayescale.sampling import _whitening, build_naive_model
from bayescale.simulate import isoflop_design, simulate_runs
from conftest import HOFFMANN, check, seed


@pytest.mark.slow
def test_whitened_model_matches_the_naive_model():
    """The centred, whitened model and the textbook model (every parameter a PyMC random
    variable with its prior, raw inputs) sampled by PyMC's own NUTS give the same posterior:
    medians and sds agree within Monte Carlo error. A wrong Jacobian in the change of
    variables, or a mistake in the centring, shifts one against the other (by ~8 MC errors
    for a dropped amplitude Jacobian, see tests/broken.py)."""
    import arviz as az
    import pymc as pm

    law = bs.ChinchillaLaw(noise="constant", likelihood="normal")
    design = isoflop_design([1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21, 3e21], runs_per_budget=6)
    runs = simulate_runs(law, {**HOFFMANN, "sigma": 0.01}, design, seed=seed(4))
    fit = law.fit(runs, seed=seed(1), draws=4000, drift=False)
    with build_naive_model(law, runs):  # a dense mass matrix: the naive geometry needs it
        ref = pm.sample(
            draws=1000,
            tune=1500,
            chains=2,
            cores=1,
            init="jitter+adapt_full",
            random_seed=seed(2),
            target_accept=0.95,
            progressbar=False,
            compute_convergence_checks=False,
        )
    ours = fit.summary()
    names = ["E", "A", "B", "alpha", "beta", "sigma"]
    ess = az.ess(ref, var_names=names)
    for p in names:
        a, b = fit.posterior[p].to_numpy().ravel(), ref.posterior[p].to_numpy().ravel()
        n_a, n_b = float(ours.loc[p, "ess_bulk"]), float(ess[p])
        # Monte Carlo error of a median (about 1.25 sd / sqrt(ESS)), of both, combined
        mcse = np.hypot(1.25 * a.std() / np.sqrt(n_a), 1.25 * b.std() / np.sqrt(n_b))
        z = abs(np.median(a) - np.median(b)) / mcse
        check(f"{p}: |median difference| / MC error", z, "<", 4)
        # an sd's relative Monte Carlo error is about 1 / sqrt(2 ESS)
        rel = abs(a.std() / b.std() - 1) / np.hypot(1 / np.sqrt(2 * n_a), 1 / np.sqrt(2 * n_b))
        check(f"{p}: |sd ratio - 1| / MC error", rel, "<", 4)


@pytest.mark.slow
def test_pymc_fallback_agrees_with_nutpie(law, sim_runs, small_fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        fit = law.fit(
            sim_runs, seed=3, sampler="pymc", draws=400, tune=400, chains=2, cores=1, drift=False
        )
    assert fit.settings["sampler"] == "pymc"
    assert fit.diagnostics["divergences"] == 0
    a, b = fit.summary(), small_fit.summary()
    for p in ("E", "alpha", "beta", "sigma"):
        assert abs(a.loc[p, "median"] - b.loc[p, "median"]) < 0.5 * b.loc[p, "sd"], p


def test_whitening_recovers_covariance():
    rng = np.random.default_rng(0)
    factor = np.array([[1.0, 0.0, 0.0], [0.99, 0.14, 0.0], [0.0, 0.3, 1.4]])
    cov = factor @ factor.T  # correlation 0.99 between the first two coordinates
    draws = rng.multivariate_normal([1.0, -2.0, 0.5], cov, size=4000)
    loc, chol = _whitening(draws[None], np.zeros(3))
    np.testing.assert_allclose(loc, [1.0, -2.0, 0.5], atol=0.1)
    np.testing.assert_allclose(chol @ chol.T, cov, atol=0.1)


def test_whitening_falls_back_when_pilot_failed():
    loc, chol = _whitening(np.full((2, 3, 4), np.nan), np.ones(4))
    np.testing.assert_array_equal(loc, np.ones(4))
    np.testing.assert_array_equal(chol, np.eye(4))


def _call_logp(compiled, x: np.ndarray) -> tuple[int, float, np.ndarray]:
    """The compiled C callback of the log density, called as nutpie calls it."""
    import ctypes

    dbl = ctypes.POINTER(ctypes.c_double)
    x = np.ascontiguousarray(x, dtype=float)
    grad, logp = np.zeros_like(x), np.zeros(1)
    code = compiled.compiled_logp_func.ctypes(
        len(x),
        x.ctypes.data_as(dbl),
        grad.ctypes.data_as(dbl),
        logp.ctypes.data_as(dbl),
        ctypes.c_void_p(compiled.user_data.ctypes.data),
    )
    return code, float(logp[0]), grad


def test_lean_callback_computes_pytensors_log_density_for_any_data(law, sim_runs):
    """The lean C callback (bayescale.compiled_logp) returns what PyTensor's compiled function
    returns, for the data it was compiled with and for other data set with ``with_data``
    (arrays of rank 0, 1 and 2: centres, data, the whitening's Cholesky factor); a wrong
    order or shape of the data arrays changes the value."""
    from bayescale.model import initial_loc, model_data
    from bayescale.sampling import _compiled

    compiled, _ = _compiled(law)
    fn = compiled.logp_func
    rng = np.random.default_rng(seed(7))
    n = compiled.n_dim
    for runs in (None, sim_runs.iloc[::3], sim_runs):
        if runs is None:
            current = compiled
        else:
            settings = dict(model_data(law, runs, []), loc=initial_loc(law, runs, 1))
            factor = np.tril(rng.normal(size=(n, n)) * 0.05) + np.eye(n)
            settings["chol"] = factor
            current = compiled.with_data(**settings)
        for var in fn.get_shared():  # the reference: the same data given to PyTensor
            var.set_value(current.shared_data[var.name])
        for _ in range(3):
            x = rng.normal(size=n) * 0.3
            code, logp, grad = _call_logp(current, x)
            ref_logp, ref_grad = fn(x)
            assert code == 0
            np.testing.assert_allclose(logp, ref_logp, rtol=1e-12)
            np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-12)
    assert _call_logp(compiled, np.zeros(n + 1))[0] == -1  # a wrong dimension: refused
    code, _, _ = _call_logp(compiled, np.full(n, 1e300))  # overflow: reported, not returned
    assert code in (1, 3, 4)


def test_a_callback_numba_cannot_cache_is_compiled_in_the_process(law, monkeypatch):
    """The disk cache of the callbacks is a speed-up only: where numba cannot cache one (here
    every cached compile refused), it is compiled in the process and computes the same."""
    import numba

    from bayescale.compiled_logp import compile_model
    from bayescale.sampling import _compiled, _model

    reference, _ = _compiled(law)
    real = numba.cfunc

    def cfunc(signature, cache=False, **kwargs):
        if cache:
            raise RuntimeError("cannot cache function 'callback': no locator available")
        return real(signature, **kwargs)

    monkeypatch.setattr(numba, "cfunc", cfunc)
    compiled = compile_model(_model(law), ["w"])
    x = np.linspace(-0.3, 0.3, compiled.n_dim)
    code, logp, grad = _call_logp(compiled, x)
    # the same data in both (other tests set the model's data)
    reference = reference.with_data(**compiled.shared_data)
    ref_code, ref_logp, ref_grad = _call_logp(reference, x)
    assert code == ref_code == 0
    assert logp == ref_logp and np.array_equal(grad, ref_grad)


def test_lean_compile_falls_back_to_nutpies_own(monkeypatch, caplog):
    """Where nutpie's helpers are not what the lean compile expects (another nutpie version),
    nutpie's own compile is used, with one warning."""
    import nutpie
    from nutpie import compile_pymc

    import bayescale.compiled_logp as cl

    monkeypatch.delattr(compile_pymc, "_make_functions")
    monkeypatch.setattr(cl, "_FELL_BACK", [])
    calls = []
    monkeypatch.setattr(nutpie, "compile_pymc_model", lambda m, var_names: calls.append(m) or m)
    with caplog.at_level("WARNING", logger="bayescale.compiled_logp"):
        assert cl.compile_model("model", ["w"]) == "model"
        assert cl.compile_model("model", ["w"]) == "model"
    assert calls == ["model", "model"]
    assert sum("nutpie.compile_pymc_model" in r.message for r in caplog.records) == 1


def test_level_coordinate_is_a_change_of_variables_with_its_jacobian(sim_runs):
    """E sampled through the level (``E = s softplus((m - a - b) / s)``) is the same model as E
    sampled on the log scale: at the same named parameters the two log densities differ by
    exactly ``log |d log E / d m|``, at points where E is far above the softness and near 0."""
    from bayescale.laws.chinchilla import ChinchillaLaw
    from bayescale.model import build_model, group_names, model_data

    class LogE(ChinchillaLaw):
        level_param = None

    runs = sim_runs.iloc[:40]
    data = model_data(ChinchillaLaw(), runs, group_names(ChinchillaLaw(), runs))
    s = float(data["level_scale"])
    k = 7
    logps = {}
    for law in (ChinchillaLaw(), LogE()):
        model = build_model(law)
        keep = {n: v for n, v in data.items() if n in model.named_vars}
        with model:
            import pymc as pm

            pm.set_data({**keep, "loc": np.zeros(k), "chol": np.eye(k)})
        logps[type(law).__name__] = model.compile_logp()
    rest = np.array([0.3, -0.9, -1.2, -1.4, -6.0, 0.2])  # log a, log b, log alpha, log beta, ...
    a, b = np.exp(rest[:2])
    for e in (1.7, 0.5, 0.05, 0.004):
        m = a + b + s * np.log(np.expm1(e / s))  # the level that gives E = e
        level = logps["ChinchillaLaw"]({"w": np.r_[m, rest]})
        log_e = logps["LogE"]({"w": np.r_[np.log(e), rest]})
        gap = (m - a - b) / s
        jacobian = -np.logaddexp(0.0, -gap) - np.log(e)  # log sigmoid(gap) - log E
        assert level == pytest.approx(log_e + jacobian, abs=1e-8), e


def test_a_changed_model_never_reuses_a_compiled_one():
    """The in-process compile cache is keyed on the model's structure as well as the law's
    saved description: a law sampled differently (here E through log E instead of the level),
    with the same saved description, gets a model of its own (without the level's data)."""
    from bayescale.laws.chinchilla import ChinchillaLaw
    from bayescale.sampling import _model

    class LogE(ChinchillaLaw):
        level_param = None

    law, other = ChinchillaLaw(), LogE()
    assert law.to_dict() == other.to_dict() and law != other
    assert _model(law) is _model(ChinchillaLaw()) and _model(law) is not _model(other)
    assert "level_scale" in _model(law).named_vars
    assert "level_scale" not in _model(other).named_vars


def test_jax_chains_are_vectorised_where_there_are_fewer_devices_than_chains(monkeypatch):
    """One GPU: PyMC's JAX samplers would draw the chains one after another, so they are
    vectorised; with a device per chain (CPUs, where PyMC declares 100 host devices) PyMC's
    default stays; other samplers get no JAX options. (A stand-in for JAX with one device, then
    a hundred; bayescale's own numpyro program makes the same choice, tests/test_jax_nuts.py.)"""
    import sys
    import types

    from bayescale.jax_nuts import jax_options as _jax_options

    jax = types.ModuleType("jax")
    jax.local_device_count = lambda: 1
    monkeypatch.setitem(sys.modules, "jax", jax)
    monkeypatch.setitem(sys.modules, "pymc.sampling.jax", types.ModuleType("pymc.sampling.jax"))
    vectorised = {"nuts_sampler_kwargs": {"chain_method": "vectorized"}}
    assert _jax_options("numpyro", 4) == vectorised
    assert _jax_options("blackjax", 2) == vectorised
    jax.local_device_count = lambda: 100
    assert _jax_options("numpyro", 4) == {}
    assert _jax_options("nutpie", 4) == {} and _jax_options("pymc", 4) == {}


def test_a_jax_fit_takes_its_pilot_from_nutpie(monkeypatch):
    """The pilot only finds the whitening: with a JAX sampler it runs on nutpie (compiled once
    per machine) and only the main run on the JAX sampler, whose program JAX compiles for
    each new data shape. (The main run is stopped before it starts.)"""
    import bayescale.sampling as sampling
    from bayescale.laws import make_law

    calls = []
    real_run = sampling._run

    class MainRun(Exception):
        pass

    def run(law, sampler, *args, **kwargs):
        calls.append((sampler, kwargs["draws"]))
        if sampler != "nutpie":
            raise MainRun
        return real_run(law, sampler, *args, **kwargs)

    monkeypatch.setattr(sampling, "_run", run)
    from bayescale.datasets import load_chinchilla

    runs = load_chinchilla(replication_subset=True).iloc[::4]
    with pytest.raises(MainRun):
        sampling.sample_posterior(
            make_law("kaplan-c"),
            runs,
            draws=100,
            tune=100,
            chains=2,
            cores=2,
            pilot_seed=1,
            main_seed=2,
            sampler="numpyro",
        )
    assert calls == [("nutpie", sampling.PILOT_DRAWS), ("numpyro", 100)]
