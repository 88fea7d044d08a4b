"""Sampling a law's posterior: compile cache, pilot, whitening and (adaptive) main runs.

The model (:mod:`bayescale.model`) is compiled once per law configuration (priors, likelihood)
and reused for any data through ``nutpie``'s ``with_data``; later processes read it from the
disk cache (:mod:`bayescale.compiled_logp`). A short pilot run estimates the
posterior mean and covariance of the unconstrained coordinates; the main run samples the
whitened coordinates ``w`` (a dense mass matrix, found before tuning), with more draws while the
diagnostics fail (:func:`_sample_adaptive`). :func:`sample_posterior` returns draws and knows
nothing of :class:`~bayescale.fit.Fit` or of the drift (:mod:`bayescale.fitting` builds those).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import constants as K
from .centring import choose_form
from .compile_cache import compile_tolerating_cache
from .compiled_logp import compile_model
from .diagnostics import diagnose
from .jax_nuts import clear_programs, jax_options, sample_nuts
from .laws.base import Law
from .model import (
    build_model,
    build_naive_model,
    clear_prior_medians,
    group_names,
    initial_loc,
    model_data,
    quiet,
)

__all__ = [
    "sample_posterior",
    "Samples",
    "build_model",
    "build_naive_model",
    "SAMPLERS",
    "clear_compiled_cache",
    "compile_for",
    "model_key",
    "pilot_sampler",
    "sample_with_pymc",
]

SAMPLERS = K.SAMPLERS
PILOT_TUNE = 250
PILOT_DRAWS = 150

_MODELS: dict[str, Any] = {}
_COMPILED: dict[str, Any] = {}
_EXPANDERS: dict[str, Any] = {}


def clear_compiled_cache() -> None:
    """Forget compiled models (they are otherwise kept for the life of the process)."""
    _MODELS.clear()
    _COMPILED.clear()
    _EXPANDERS.clear()
    clear_prior_medians()
    clear_programs()


def _key(law: Law, n_groups: int) -> str:
    return law.cache_key() + (f"|groups={n_groups}" if law.grouped else "")


def _model(law: Law, n_groups: int = 1):
    key = _key(law, n_groups)
    if key not in _MODELS:
        with quiet():
            _MODELS[key] = build_model(law, n_groups)
    return _MODELS[key]


def _compiled(law: Law, n_groups: int = 1) -> tuple[Any, float]:
    key = _key(law, n_groups)
    if key in _COMPILED:
        return _COMPILED[key], 0.0
    t0 = time.perf_counter()

    def build():
        with quiet():
            # nutpie keeps only ``w``: the named parameters are computed afterwards, for all
            # draws at once (:func:`_named_draws`), which spares a third of the compile time
            return compile_model(_model(law, n_groups), ["w"])

    compiled = compile_tolerating_cache(build)  # its warning outside quiet(): it is actionable
    _COMPILED[key] = compiled
    return compiled, time.perf_counter() - t0


def model_key(law: Law, runs: pd.DataFrame) -> str:
    """The compiled model that fits ``law`` to ``runs`` uses (the law's configuration and, for
    grouped laws, the number of groups): fits with equal keys share one compiled model."""
    return _key(law, len(group_names(law, runs)))


def compile_for(law: Law, runs: pd.DataFrame) -> float:
    """Compile the model that fits ``law`` to ``runs`` (nutpie), keep it for this process and
    write it to the disk caches; the seconds it took (0 when this process had it already).

    A batch calls it once per law configuration before its workers fit (so that they read the
    compiled model from the disk cache instead of each compiling it again).
    """
    return _compiled(law, len(group_names(law, runs)))[1]


def _expander(law: Law, n_groups: int) -> tuple[list[str], Any]:
    """The model's named parameters as a function of a matrix of ``w`` draws (the model's
    deterministics, vectorised over draws; NumPy evaluation, no compilation to speak of)."""
    key = _key(law, n_groups)
    if key not in _EXPANDERS:
        import pytensor
        import pytensor.tensor as pt
        from pytensor.graph.replace import vectorize_graph

        model = _model(law, n_groups)
        names = [*law.sampled_params, *law.hyper_params]
        w_batch = pt.matrix("w_batch")
        outputs = vectorize_graph([model[n] for n in names], replace={model["w"]: w_batch})
        with quiet():
            fn = pytensor.function(
                [w_batch], outputs, mode="FAST_COMPILE", on_unused_input="ignore"
            )
        _EXPANDERS[key] = (names, fn)
    return _EXPANDERS[key]


def _named_draws(law: Law, n_groups: int, posterior, settings: dict[str, Any]):
    """``posterior`` (draws of ``w``) with the named parameters added, computed from ``w``
    with the model's data set to ``settings`` (the run's data, ``loc`` and ``chol``)."""
    import pymc as pm
    import xarray as xr

    names, fn = _expander(law, n_groups)
    w = posterior["w"].to_numpy()
    chains, draws = w.shape[:2]
    with quiet():
        pm.set_data(settings, model=_model(law, n_groups))
    values = fn(w.reshape(chains * draws, -1))
    out = posterior.copy()
    for name, value in zip(names, values, strict=True):
        value = np.asarray(value).reshape(chains, draws, *np.shape(value)[1:])
        dims = (K.CHAIN, K.DRAW, *[f"{name}_dim_{i}" for i in range(value.ndim - 2)])
        out[name] = xr.DataArray(value, dims=dims)
    return out


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
    with quiet():
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
            return _named_draws(law, n_groups, idata.posterior, settings), idata.sample_stats
        elif sampler == "numpyro":  # compiled once per law configuration and data shape
            posterior, stats = sample_nuts(
                _key(law, n_groups),
                _model(law, n_groups),
                settings,
                draws=draws,
                tune=tune,
                chains=chains,
                seed=seed,
                target_accept=target_accept,
            )
            return _named_draws(law, n_groups, posterior, settings), stats
        return sample_with_pymc(
            _model(law, n_groups),
            settings,
            sampler,
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            seed=seed,
            target_accept=target_accept,
            progress=progress,
        )


def sample_with_pymc(
    model,
    settings: dict[str, Any],
    sampler: str,
    *,
    draws: int,
    tune: int,
    chains: int,
    cores: int,
    seed: int,
    target_accept: float,
    progress: bool = False,
):
    """``pm.sample`` of ``model`` given its data ``settings``, with PyMC's NUTS (``"pymc"``) or
    through PyMC's JAX path (``"numpyro"``, ``"blackjax"``: the data frozen into the program,
    compiled at every call); returns ``(posterior, sample_stats)``. bayescale's own numpyro
    runs use :func:`bayescale.jax_nuts.sample_nuts`; ``benchmarks/bench_gpu.py`` compares."""
    import pymc as pm

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
            **jax_options(sampler, chains),
        )
    return idata.posterior, idata.sample_stats


def pilot_sampler(sampler: str) -> str:
    """The sampler of the pilot run when the main run uses ``sampler``: the pilot only finds
    the whitening, so JAX samplers get it from nutpie (compiled once per machine) and compile
    for JAX only the main run's program (numpyro: once per law configuration and data shape,
    :mod:`bayescale.jax_nuts`; blackjax: PyMC compiles it at every ``pm.sample``).

    Examples
    --------
    >>> pilot_sampler("numpyro"), pilot_sampler("nutpie"), pilot_sampler("pymc")
    ('nutpie', 'nutpie', 'pymc')
    """
    return "nutpie" if sampler in K.JAX_SAMPLERS else sampler


def _whitening(
    w_draws: np.ndarray, loc: np.ndarray, chol: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and Cholesky factor of the unconstrained draws ``u = loc + chol @ w`` of a run
    (regularised); ``chol`` defaults to the identity (the pilot)."""
    w = w_draws.reshape(-1, w_draws.shape[-1])
    u = loc + (w if chol is None else w @ chol.T)
    u = u[np.all(np.isfinite(u), axis=1)]
    if len(u) < 2 * u.shape[1]:
        return loc, (np.eye(len(loc)) if chol is None else chol)
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


#: Draws per chain of the first main run when ``draws`` is not given (adaptive sampling).
DEFAULT_DRAWS = 1000
#: Adaptive sampling never runs more draws per chain than this in one main run.
MAX_ADAPTIVE_DRAWS = 8000
#: Target acceptance rates tried in turn when a run diverged (adaptive sampling).
TARGET_ACCEPT_STEPS = (0.95, 0.99)


def _diagnose_run(law: Law, posterior, stats) -> dict[str, Any]:
    import arviz as az

    names = [*law.sampled_params, *law.hyper_params]
    return diagnose(az.InferenceData(posterior=posterior[names], sample_stats=stats), names)


def _next_target_accept(current: float) -> float:
    return next((t for t in TARGET_ACCEPT_STEPS if t > current), current)


def _next_draws(diag: dict[str, Any], n: int, target_accept: float) -> tuple[int, float]:
    """The next adaptive run's draws per chain and ``target_accept`` after a run of ``n`` whose
    diagnostics ``diag`` failed.

    Examples
    --------
    >>> _next_draws({"divergences": 3, "problems": ["3 divergent"]}, 1000, 0.9)
    (1000, 0.95)
    >>> _next_draws({"divergences": 3, "problems": ["R-hat", "3 divergent"]}, 1000, 0.9)
    (2000, 0.95)
    >>> _next_draws({"divergences": 2, "problems": ["2 divergent"]}, 1000, 0.99)
    (2000, 0.99)
    """
    raised = _next_target_accept(target_accept) if diag["divergences"] else target_accept
    others = len(diag["problems"]) - (1 if diag["divergences"] else 0)
    return (2 * n if others or raised == target_accept else n), raised


def _sample_adaptive(
    law: Law,
    sampler: str,
    data: dict[str, np.ndarray],
    loc: np.ndarray,
    chol: np.ndarray,
    *,
    draws: int | None,
    target_accept: float,
    fallback: tuple[Law, np.ndarray, np.ndarray] | None = None,
    **run_kw: Any,
):
    """Main run(s): ``draws`` exactly when given; otherwise adaptive.

    ``fallback``: another form of the law with its whitening, ``(law, loc, chol)``. If the
    first run diverges, the next run samples in that form with the same draws and
    ``target_accept``, whether or not ``draws`` was given (``centred="auto"``'s safeguard:
    a form whose pilot looked better can still hit a funnel that a short pilot missed).

    Adaptive (``draws=None``): sample :data:`DEFAULT_DRAWS` per chain; while the diagnostics
    fail, sample again, whitened by the covariance of the last run's draws (a far better
    estimate than the pilot's): with a higher ``target_accept`` (:data:`TARGET_ACCEPT_STEPS`)
    when the last run diverged, and with twice the draws (up to :data:`MAX_ADAPTIVE_DRAWS`)
    when R-hat, ESS or E-BFMI failed, or when it diverged at the highest ``target_accept``.
    Divergences alone do not double the draws: more draws do not remove them, they only give a
    rare one more chances to show (:func:`_next_draws`). Each run is a complete run on its own
    (the last one is kept, never a mix of runs).

    Returns ``(posterior, stats, loc, chol, record)``; ``record`` lists every attempt.
    """
    n = draws if draws is not None else DEFAULT_DRAWS
    attempts: list[dict[str, Any]] = []
    fell_back = False
    while True:
        posterior, stats = _run(
            law, sampler, data, loc, chol, draws=n, target_accept=target_accept, **run_kw
        )
        diag = _diagnose_run(law, posterior, stats)
        attempts.append(
            {
                "draws": int(n),
                "target_accept": float(target_accept),
                "ok": bool(diag["ok"]),
                "problems": list(diag["problems"]),
            }
        )
        if fallback is not None and diag["divergences"]:
            law, loc, chol = fallback
            attempts[-1]["then"] = "diverged: sampled again in the pilot's form"
            fallback, fell_back = None, True
            run_kw["seed"] = int(np.random.SeedSequence(int(run_kw["seed"])).generate_state(1)[0])
            continue
        fallback = None
        if draws is not None or diag["ok"]:
            break
        next_n, next_accept = _next_draws(diag, n, target_accept)
        if next_n > MAX_ADAPTIVE_DRAWS:
            break
        loc, chol = _whitening(posterior["w"].to_numpy(), loc, chol)
        n, target_accept = next_n, next_accept
        run_kw["seed"] = int(np.random.SeedSequence(int(run_kw["seed"])).generate_state(1)[0])
    if draws is not None:
        why = "draws given explicitly: exactly that many"
    elif len(attempts) == 1:
        why = "converged in the first run"
    elif attempts[-1]["ok"]:
        why = (
            f"diagnostics failed in {len(attempts) - 1} run(s); sampled again (more draws, a "
            "higher target_accept after divergences) until they passed"
        )
    else:
        why = f"diagnostics still failing at the cap of {MAX_ADAPTIVE_DRAWS} draws per chain"
    record = {
        "adaptive": draws is None,
        "draws_used": int(n),
        "target_accept_used": float(target_accept),
        "runs": attempts,
        "why": why,
        **({"fell_back": True} if fell_back else {}),
    }
    return posterior, stats, loc, chol, record


@dataclass
class Samples:
    """What one sampling of a law's posterior gives: draws of ``w`` and the named parameters
    (``posterior``), the sampler's statistics, the group labels, the whitening of the last
    run (``loc``, ``chol``), the adaptive record (see :func:`_sample_adaptive`) and timings."""

    posterior: Any
    stats: Any
    groups: list[str]
    loc: np.ndarray
    chol: np.ndarray
    record: dict[str, Any]
    timing: dict[str, float] = field(default_factory=dict)


def sample_posterior(
    law: Law,
    runs: pd.DataFrame,
    *,
    draws: int | None,
    tune: int,
    chains: int,
    cores: int,
    pilot_seed: int,
    main_seed: int,
    sampler: str = "nutpie",
    target_accept: float = 0.9,
    progress: bool = False,
) -> Samples:
    """Pilot, whitening and main run(s) of ``law``'s posterior given validated ``runs``.

    The pilot (:data:`PILOT_TUNE` + :data:`PILOT_DRAWS` per chain, at least two chains; with
    nutpie when ``sampler`` is a JAX sampler) starts at the prior medians; its draws give the
    whitening (:func:`_whitening`) of the main run,
    which is adaptive when ``draws`` is None (:func:`_sample_adaptive`). Knows nothing of
    :class:`~bayescale.fit.Fit` or of the drift: :mod:`bayescale.fitting` builds those.
    """
    groups = group_names(law, runs)
    n_groups = len(groups)
    data = model_data(law, runs, groups)
    timing = {"compile_s": 0.0}
    pilot_with = pilot_sampler(sampler)
    if pilot_with == "nutpie":
        _, timing["compile_s"] = _compiled(law, n_groups)
    run_kw = dict(tune=tune, chains=chains, cores=cores, n_groups=n_groups)

    def run_pilot(form: Law) -> tuple[Any, Any, np.ndarray]:
        if pilot_with == "nutpie":  # a probed form's compile counts as compiling
            timing["compile_s"] += _compiled(form, n_groups)[1]
        loc0 = initial_loc(form, runs, n_groups)
        pilot, pilot_stats = _run(
            form,
            pilot_with,
            data,
            loc0,
            np.eye(len(loc0)),
            draws=PILOT_DRAWS,
            target_accept=target_accept,
            progress=False,
            seed=pilot_seed,
            **{**run_kw, "tune": PILOT_TUNE, "chains": max(chains, 2)},
        )
        return pilot, pilot_stats, loc0

    compiled_before = timing["compile_s"]
    t0 = time.perf_counter()
    pilot, pilot_stats, loc0 = run_pilot(law)
    loc, chol = _whitening(pilot["w"].to_numpy(), loc0)
    centring, fallback = None, None
    if law.auto_centred:
        default = law.with_centred(sorted(law.centred_exponents))
        law, centring, probe = choose_form(law, pilot, pilot_stats, run_pilot)
        if probe is not None:  # the probed form; the pilot's own form if its first run diverges
            fallback = (default, loc, chol)
            loc, chol = _whitening(probe[0]["w"].to_numpy(), probe[1])
    t1 = time.perf_counter()
    posterior, stats, loc, chol, record = _sample_adaptive(
        law,
        sampler,
        data,
        loc,
        chol,
        draws=draws,
        target_accept=target_accept,
        progress=progress,
        seed=main_seed,
        fallback=fallback,
        **run_kw,
    )
    if record.pop("fell_back", False):
        centring["centred"] = sorted(default.centred_exponents)
        centring["fell_back"] = True
    timing["pilot_s"] = t1 - t0 - (timing["compile_s"] - compiled_before)
    timing["sampling_s"] = time.perf_counter() - t1
    if centring is not None:
        record["centring"] = centring
    return Samples(posterior, stats, groups, loc, chol, record, timing)
