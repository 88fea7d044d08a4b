"""Sampling a law's posterior efficiently.

The naive parametrisation of a power-law term, ``(log A, alpha)``, has a posterior correlation
of about 0.999 and NUTS needs hundreds of leapfrog steps per draw. Two linear changes of
variables (both with constant Jacobian, so the priors stay on the named parameters) fix this:

1. **Centring.** A term ``A / N**alpha`` is sampled through its log value at the data's geometric
   mean of ``N``, ``log A - alpha * mean(log N)``: the data pin that value down directly.
2. **Whitening.** A short pilot run estimates the posterior mean and covariance of the
   unconstrained coordinates ``u``; the main run samples ``w`` with ``u = loc + chol @ w``, so the
   sampler sees a near-isotropic posterior (a dense mass matrix, found before tuning).

The model is compiled once per law configuration (priors, likelihood) and reused for any data
through ``nutpie``'s ``with_data``; the data, centres, ``loc`` and ``chol`` are all model data.
"""

from __future__ import annotations

import os
import time
import warnings
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from . import constants as K
from .data import split_top_loss
from .exceptions import ConfigError, DataError
from .laws.base import Law
from .priors import draw_prior, prior_logp, unconstrained_prior

__all__ = ["fit_law", "build_model", "build_naive_model", "SAMPLERS", "clear_compiled_cache"]

SAMPLERS = ("nutpie", "pymc", "numpyro", "blackjax")
#: Samplers that run through PyMC's JAX path (optional extra ``bayescale[jax]``; GPU capable).
JAX_SAMPLERS = {"numpyro": "numpyro", "blackjax": "blackjax"}
PILOT_TUNE = 250
PILOT_DRAWS = 150

_MODELS: dict[str, Any] = {}
_COMPILED: dict[str, Any] = {}


def clear_compiled_cache() -> None:
    """Forget compiled models (they are otherwise kept for the life of the process)."""
    _MODELS.clear()
    _COMPILED.clear()


@contextmanager
def _quiet():
    """Silence third-party chatter that is not actionable for bayescale's users."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*Cannot cache compiled function.*")
        warnings.filterwarnings("ignore", message=".*[Nn]umba.*")
        # nutpie runs on numba; PyTensor's C-BLAS probe is irrelevant to it.
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
        yield


def _centred_inputs(law: Law) -> tuple[str, ...]:
    return tuple(dict.fromkeys(x for _, x in law.amplitudes.values()))


def _slots(law: Law, n_groups: int) -> list[tuple[str, str, int]]:
    """Layout of the unconstrained vector: (kind, name, size) in sampling order.

    kinds: ``scalar`` (one value), ``group`` (one per group), ``hyper`` (a population
    parameter), ``z`` (standardised group offsets of a partially pooled exponent,
    non-centred: ``log alpha_g = alpha_mu + alpha_tau * z_g``).
    """
    slots: list[tuple[str, str, int]] = []
    for name in law.sampled_params:
        if name in law.pooled_exponents:
            slots += [
                ("hyper", f"{name}_mu", 1),
                ("hyper", f"{name}_tau", 1),
                ("z", name, n_groups),
            ]
        elif law.grouped and name in law.params:
            slots.append(("group", name, n_groups))
        else:
            slots.append(("scalar", name, 1))
    return slots


def build_model(law: Law, n_groups: int = 1):
    """Build the (centred, whitened) PyMC model of ``law`` with placeholder data.

    Free variable: ``w``, the whitened unconstrained coordinates (see :func:`_slots`).
    Deterministics: each named parameter (a vector over groups when the law is grouped) and the
    population parameters. Data: ``logx_<input>``, ``centre_<input>``, ``y`` (target on the
    observation scale), ``group_idx``, ``loc``, ``chol``.
    """
    import pymc as pm
    import pytensor.tensor as pt

    slots = _slots(law, n_groups)
    k = sum(size for _, _, size in slots)
    centred = _centred_inputs(law)
    with pm.Model() as model:
        logx = {x: pm.Data(f"logx_{x}", np.zeros(2)) for x in law.inputs}
        centre = {x: pm.Data(f"centre_{x}", 0.0) for x in centred}
        y = pm.Data("y", np.zeros(2))
        gidx = pm.Data("group_idx", np.zeros(2, dtype="int64")) if law.grouped else None
        loc = pm.Data("loc", np.zeros(k))
        chol = pm.Data("chol", np.eye(k))
        w = pm.Flat("w", shape=k)
        u = loc + pt.dot(chol, w)

        seg: dict[str, Any] = {}
        offset = 0
        for kind, name, size in slots:
            seg[name] = u[offset] if kind in ("scalar", "hyper") else u[offset : offset + size]
            offset += size

        values: dict[str, Any] = {}
        logps = []
        for kind, name, _ in slots:  # everything but amplitudes and pooled exponents
            if kind in ("scalar", "group", "hyper") and name not in law.amplitudes:
                values[name], lp = unconstrained_prior(law.priors[name], seg[name])
                logps.append(pt.sum(lp))
        for kind, name, _ in slots:  # non-centred population of log exponents
            if kind == "z":
                logps.append(pt.sum(-0.5 * seg[name] ** 2))
                values[name] = pt.exp(values[f"{name}_mu"] + values[f"{name}_tau"] * seg[name])
        for _, name, _ in slots:
            if name in law.amplitudes:
                exponent, x = law.amplitudes[name]
                values["log_" + name] = seg[name]  # log of the term at the centre of the data
                log_amp = seg[name] + values[exponent] * centre[x]
                values[name] = pt.exp(log_amp)
                logps.append(pt.sum(prior_logp(law.priors[name], values[name]) + log_amp))
        pm.Potential("log_prior", pt.sum(pt.stack(logps)))
        for name in (*law.sampled_params, *law.hyper_params):
            pm.Deterministic(name, values[name])

        if law.grouped:  # each run sees its group's parameters
            for name in law.params:
                values[name] = values[name][gidx]
                if name in law.amplitudes:
                    values["log_" + name] = values["log_" + name][gidx]
        lx = {**logx, **{f"centre_{x}": c for x, c in centre.items()}}
        mu = law.location(values, lx, pt)
        noisy = law.with_noise(values, lx, pt)
        pm.Potential("log_likelihood", pt.sum(law.likelihood.logp(y, mu, noisy)))
    return model


def build_naive_model(law: Law, runs: pd.DataFrame):
    """The textbook PyMC model of ``law``: every named parameter a random variable with its
    prior, raw (uncentred) inputs. Same posterior as :func:`build_model`, much harder geometry;
    kept as the reference that benchmarks and correctness tests compare against."""
    import pymc as pm
    import pytensor.tensor as pt

    with pm.Model() as model:
        values: dict[str, Any] = {}
        for name in law.sampled_params:
            values[name] = law.priors[name].create_variable(name)
            if name in law.amplitudes:
                values["log_" + name] = pt.log(values[name])
        logx = {x: np.log(runs[x].to_numpy(float)) for x in law.inputs}
        y = law.to_observed(runs[law.target].to_numpy(float))
        mu = law.location(values, logx, pt)
        noisy = law.with_noise(values, logx, pt)
        pm.Potential("log_likelihood", pt.sum(law.likelihood.logp(y, mu, noisy)))
    return model


def _key(law: Law, n_groups: int) -> str:
    return law.cache_key() + (f"|groups={n_groups}" if law.grouped else "")


def _model(law: Law, n_groups: int = 1):
    key = _key(law, n_groups)
    if key not in _MODELS:
        with _quiet():
            _MODELS[key] = build_model(law, n_groups)
    return _MODELS[key]


def _compiled(law: Law, n_groups: int = 1) -> tuple[Any, float]:
    key = _key(law, n_groups)
    if key in _COMPILED:
        return _COMPILED[key], 0.0
    import nutpie

    t0 = time.perf_counter()
    with _quiet():
        compiled = nutpie.compile_pymc_model(_model(law, n_groups))
    _COMPILED[key] = compiled
    return compiled, time.perf_counter() - t0


def group_names(law: Law, runs: pd.DataFrame) -> list[str]:
    """Sorted group labels of a grouped law's runs (one entry, "all", otherwise)."""
    if not law.grouped:
        return ["all"]
    if K.GROUP not in runs.columns:
        raise DataError(
            f"pooling={law.pooling!r} needs a 'group' column (or --group-column) in the runs"
        )
    return sorted(runs[K.GROUP].astype(str).unique())


def _data(law: Law, runs: pd.DataFrame, groups: list[str]) -> dict[str, np.ndarray]:
    data = {"y": law.to_observed(runs[law.target].to_numpy(float))}
    if law.grouped:
        codes = {g: i for i, g in enumerate(groups)}
        data["group_idx"] = runs[K.GROUP].astype(str).map(codes).to_numpy("int64")
    centred = _centred_inputs(law)
    for x in law.inputs:
        logx = np.log(runs[x].to_numpy(float))
        if x in centred:
            centre = float(logx.mean())
            data[f"centre_{x}"] = np.asarray(centre)
            logx = logx - centre
        data[f"logx_{x}"] = logx
    return data


def _initial_loc(law: Law, runs: pd.DataFrame, n_groups: int) -> np.ndarray:
    """A sensible start for the pilot: prior medians, and an even split of the loss."""
    loc: list[float] = []
    typical = float(np.median(runs[law.target]))
    for kind, name, size in _slots(law, n_groups):
        if kind == "z":
            value = 0.0
        elif name in law.amplitudes:
            value = float(np.log(max(abs(typical), 1e-3) / (len(law.amplitudes) + 1)))
        else:
            value = _prior_median_unconstrained(law.priors[name])
        loc += [value] * size
    return np.asarray(loc)


def _prior_median_unconstrained(prior) -> float:
    import pytensor
    import pytensor.tensor as pt
    from pymc.distributions.transforms import _default_transform

    dist = prior.pymc_distribution.dist(**prior.parameters)
    median = np.median(draw_prior(prior, 201))
    transform = _default_transform(dist.owner.op, dist)
    if transform is not None:
        forward = transform.forward(pt.as_tensor(median), *dist.owner.inputs)
        median = pytensor.function([], forward, mode="FAST_COMPILE")()
    return float(median)


def _check_settings(draws, tune, chains, sampler, target_accept, cores) -> None:
    for label, value, least in (("draws", draws, 1), ("tune", tune, 0), ("chains", chains, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ConfigError(f"{label} must be an integer >= {least}, got {value!r}")
    if sampler not in SAMPLERS:
        raise ConfigError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    if sampler in JAX_SAMPLERS:
        import importlib.util

        missing = [m for m in ("jax", JAX_SAMPLERS[sampler]) if importlib.util.find_spec(m) is None]
        if missing:
            raise ConfigError(
                f"sampler {sampler!r} needs {' and '.join(missing)}: "
                "pip install 'bayescale[jax]' (add jax[cuda12] for an NVIDIA GPU)"
            )
    if not (0 < target_accept < 1):
        raise ConfigError(f"target_accept must be in (0, 1), got {target_accept}")
    if cores is not None and (not isinstance(cores, (int, np.integer)) or cores < 1):
        raise ConfigError(f"cores must be a positive integer, got {cores!r}")


def _run(
    law,
    sampler,
    data,
    loc,
    chol,
    *,
    draws,
    tune,
    chains,
    cores,
    seed,
    target_accept,
    progress,
    n_groups=1,
):
    """One sampler run; returns (posterior Dataset of w and named params, sample_stats)."""
    settings = dict(loc=loc, chol=chol, **data)
    with _quiet():
        if sampler == "nutpie":
            import nutpie

            compiled, _ = _compiled(law, n_groups)
            idata = nutpie.sample(
                compiled.with_data(**settings),
                draws=draws,
                tune=tune,
                chains=chains,
                cores=cores,
                seed=int(seed),
                target_accept=target_accept,
                progress_bar=progress,
                save_warmup=False,
            )
        else:
            import pymc as pm

            model = _model(law, n_groups)
            with model:
                pm.set_data(settings)
                idata = pm.sample(
                    draws=draws,
                    tune=tune,
                    chains=chains,
                    cores=cores,
                    random_seed=int(seed),
                    target_accept=target_accept,
                    progressbar=progress,
                    compute_convergence_checks=False,
                    nuts_sampler=sampler,
                )
    return idata.posterior, idata.sample_stats


def _whitening(w_draws: np.ndarray, loc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and Cholesky factor of the pilot's unconstrained draws (regularised)."""
    u = loc + w_draws.reshape(-1, w_draws.shape[-1])
    u = u[np.all(np.isfinite(u), axis=1)]
    if len(u) < 2 * u.shape[1]:
        return loc, np.eye(len(loc))
    mean = u.mean(axis=0)
    cov = np.cov(u, rowvar=False)
    # Shrink slightly towards the diagonal (Stan's dense-metric regulariser) and keep it PD.
    n = len(u)
    cov = (n / (n + 5.0)) * cov + 1e-3 * (5.0 / (n + 5.0)) * np.diag(np.diag(cov))
    cov += 1e-10 * np.eye(len(mean))
    try:
        return mean, np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return mean, np.diag(np.sqrt(np.maximum(np.diag(cov), 1e-12)))


def fit_law(
    law: Law,
    runs: pd.DataFrame,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    sampler: str = "nutpie",
    exclude_top_loss: int = 0,
    target_accept: float = 0.9,
    progress: bool = False,
    cores: int | None = None,
    drift: bool | str = True,
):
    """Sample ``law``'s posterior given ``runs``; see :meth:`bayescale.laws.Law.fit`."""
    from .fit import Fit

    _check_settings(draws, tune, chains, sampler, target_accept, cores)
    runs, excluded = split_top_loss(law.load_runs(runs), exclude_top_loss, target=law.target)
    if len(runs) <= law.n_free:
        raise DataError(
            f"{len(runs)} run(s) cannot identify {law.n_free} free parameters of "
            f"{law.name} ({', '.join(law.sampled_params)}); more runs are needed"
        )
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    pilot_seed, main_seed = np.random.SeedSequence(int(seed)).generate_state(2)
    cores = cores or min(chains, os.cpu_count() or 1)

    groups = group_names(law, runs)
    n_groups = len(groups)
    data = _data(law, runs, groups)
    timing = {"compile_s": 0.0}
    if sampler == "nutpie":
        _, timing["compile_s"] = _compiled(law, n_groups)

    loc0 = _initial_loc(law, runs, n_groups)
    k = len(loc0)
    t0 = time.perf_counter()
    pilot, _ = _run(
        law,
        sampler,
        data,
        loc0,
        np.eye(k),
        draws=PILOT_DRAWS,
        tune=PILOT_TUNE,
        chains=max(chains, 2),
        cores=cores,
        seed=pilot_seed,
        target_accept=target_accept,
        progress=False,
        n_groups=n_groups,
    )
    loc, chol = _whitening(pilot["w"].to_numpy(), loc0)
    t1 = time.perf_counter()
    posterior, stats = _run(
        law,
        sampler,
        data,
        loc,
        chol,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=cores,
        seed=main_seed,
        target_accept=target_accept,
        progress=progress,
        n_groups=n_groups,
    )
    timing["pilot_s"] = t1 - t0
    timing["sampling_s"] = time.perf_counter() - t1
    drift_info: dict[str, Any] = {"tau": None, "note": "disabled (drift=False)"}
    if drift:
        from .drift import estimate_drift

        t2 = time.perf_counter()
        drift_info = estimate_drift(
            law,
            runs,
            seed=int(main_seed),
            sampler=sampler,
            target_accept=target_accept,
            method="mle" if drift is True else drift,
        )
        timing["drift_s"] = time.perf_counter() - t2

    settings = {
        "draws": int(draws),
        "tune": int(tune),
        "chains": int(chains),
        "seed": int(seed),
        "sampler": sampler,
        "target_accept": float(target_accept),
        "exclude_top_loss": int(exclude_top_loss),
        "pilot": {"tune": PILOT_TUNE, "draws": PILOT_DRAWS},
        "drift": drift_info,
        "timing": timing,
    }
    return Fit.from_samples(
        law,
        runs,
        posterior[[*law.sampled_params, *law.hyper_params]],
        stats,
        groups=groups,
        settings=settings,
        excluded=excluded,
        whitening={"loc": loc.tolist(), "chol": chol.tolist()},
    )
