"""The fit pipeline: from a law and its runs to a :class:`~bayescale.fit.Fit`.

One place for each step of :meth:`bayescale.laws.Law.fit`:

1. check the settings and derive the seeds (:func:`check_settings`, :func:`derive_seeds`);
2. validate the runs and drop any excluded ones;
3. sample the posterior (:func:`bayescale.sampling.sample_posterior`: pilot, whitening, main
   run, adaptive draws);
4. learn the extrapolation drift (:func:`estimate_drift`: a small leave-future-out refit that
   calls the sampler directly, and the maths of :mod:`bayescale.drift`);
5. assemble the :class:`~bayescale.fit.Fit` and check its diagnostics.

Importing this module makes it the implementation of ``Law.fit`` (``import bayescale`` does).
"""

from __future__ import annotations

import importlib.util
import os
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

from . import constants as K
from .alloc_drift import allocation_drift_from, allocation_residuals
from .curves import MIN_FRACTION, curve_runs, final_checkpoints, keep_checkpoints
from .drift import (
    HOLDOUT_FRACTION,
    INNER_FIT,
    TAU_PRIOR_SCALE,
    check_drift_method,
    tau_from_residuals,
    tau_prior,
)
from .exceptions import ConfigError, DataError
from .fit import Fit
from .laws.base import Law, make_law, provide_verb
from .sampling import DEFAULT_DRAWS, PILOT_DRAWS, PILOT_TUNE, pilot_sampler, sample_posterior
from .splits import split_by_compute, split_top_loss
from .tpp_drift import estimate_tpp_drift

__all__ = [
    "fit_law",
    "estimate_drift",
    "drift_residuals",
    "check_settings",
    "derive_seeds",
    "final_losses_law",
]


def check_settings(
    draws: int | None,
    tune: int,
    chains: int,
    sampler: str,
    target_accept: float,
    cores: int | None,
) -> None:
    """Refuse impossible sampler settings with a :class:`ConfigError` naming the value."""
    draws = DEFAULT_DRAWS if draws is None else draws
    for label, value, least in (("draws", draws, 1), ("tune", tune, 0), ("chains", chains, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ConfigError(f"{label} must be an integer >= {least}, got {value!r}")
    if sampler not in K.SAMPLERS:
        raise ConfigError(f"sampler must be one of {K.SAMPLERS}, got {sampler!r}")
    if sampler in K.JAX_SAMPLERS:
        needed = ("jax", K.JAX_SAMPLERS[sampler])
        missing = [m for m in needed if importlib.util.find_spec(m) is None]
        if missing:
            raise ConfigError(
                f"sampler {sampler!r} needs {' and '.join(missing)}: "
                "pip install 'bayescale[jax]' (add jax[cuda12] for an NVIDIA GPU)"
            )
    if not (0 < target_accept < 1):
        raise ConfigError(f"target_accept must be in (0, 1), got {target_accept}")
    if cores is not None and (not isinstance(cores, (int, np.integer)) or cores < 1):
        raise ConfigError(f"cores must be a positive integer, got {cores!r}")


def derive_seeds(seed: int | None) -> tuple[int, int, int]:
    """The seed actually used, and the pilot's and main run's seeds derived from it.

    Examples
    --------
    >>> seed, pilot, main = derive_seeds(1)
    >>> seed, pilot != main
    (1, True)
    """
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    pilot_seed, main_seed = np.random.SeedSequence(int(seed)).generate_state(2)
    return int(seed), int(pilot_seed), int(main_seed)


def _validated_runs(
    law: Law,
    runs: Any,
    exclude_top_loss: int,
    min_fraction: float = MIN_FRACTION,
    min_tokens_per_param: float | str | None = "shortest",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    runs = loaded = law.load_runs(runs)
    if law.likelihood.curve:
        if exclude_top_loss:  # the highest losses of curves are early checkpoints, not runs
            raise ConfigError(
                "exclude_top_loss drops runs of a fit of final losses; for a curve fit, leave "
                "the runs out of the table (or raise min_fraction)"
            )
        runs = curve_runs(runs, min_fraction, min_tokens_per_param)
    elif law.every_checkpoint:  # past the warm-up; no floor on tokens per parameter
        kept = runs[keep_checkpoints(runs, min_fraction, None)].reset_index(drop=True)
        kept.attrs.update(runs.attrs)
        runs = kept
    else:
        runs = final_checkpoints(runs)
    runs, excluded = split_top_loss(runs, exclude_top_loss, target=law.target)
    if len(runs) <= law.n_free:
        raise DataError(
            f"{len(runs)} run(s) cannot identify {law.n_free} free parameters of "
            f"{law.name} ({', '.join(law.sampled_params)}); more runs are needed"
        )
    return runs, excluded, loaded


def fit_law(
    law: Law,
    runs: pd.DataFrame,
    *,
    draws: int | None = None,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    sampler: str = "nutpie",
    exclude_top_loss: int = 0,
    target_accept: float = 0.9,
    progress: bool = False,
    cores: int | None = None,
    drift: bool | str = True,
    min_fraction: float = MIN_FRACTION,
    min_tokens_per_param: float | str | None = "shortest",
) -> Fit:
    """Sample the posterior of ``law`` given ``runs``; returns a :class:`~bayescale.Fit`.

    Parameters
    ----------
    law
        The law (with its priors, likelihood and pooling).
    runs
        A runs table (see :func:`bayescale.load_runs`); a DataFrame is validated first.
    draws
        Posterior draws per chain. ``None`` (default) samples adaptively: 1000 draws, and
        while the diagnostics fail, again with twice as many (whitened by the last run's
        draws; a higher ``target_accept`` after divergences) up to 8000 per chain. What
        happened is recorded in ``fit.settings["sampling"]`` (and ``fit.json``). A number
        means exactly that many draws, in one run.
    tune, chains
        Tuning steps per chain, number of chains.
    seed
        Seed of every random choice; ``None`` draws one (recorded in the fit).
    sampler
        ``"nutpie"`` (default, compiled once per law and reused), ``"pymc"``, or a JAX
        sampler (extra ``bayescale[jax]``; runs on a GPU when JAX sees one): ``"numpyro"``
        (numpyro's NUTS kernel in a program compiled once per law and data shape,
        :mod:`bayescale.jax_nuts`) or ``"blackjax"`` (through PyMC's JAX path).
    exclude_top_loss
        Drop this many highest-loss runs first (the replication dropped 5).
    target_accept
        NUTS target acceptance rate.
    progress
        Show a progress bar while sampling.
    cores
        Chains run in parallel on this many cores (default: all).
    drift
        Learn the extrapolation drift (see :mod:`bayescale.drift`) with a small
        leave-future-out refit, so predictions beyond the fitted compute widen with the
        distance. ``False`` skips it (predictions then carry parameter and noise
        uncertainty only); ``True`` / ``"mle"`` estimates it by maximum likelihood,
        ``"moments"`` by the method of moments (see :func:`estimate_drift`). A curve fit
        learns it from its runs' final checkpoints (:func:`final_losses_law`), and a second
        one below the fitted tokens per parameter from the checkpoints its rule left out
        there (:mod:`bayescale.tpp_drift`; ``fit.settings["drift"]["tpp"]``).
    min_fraction, min_tokens_per_param
        Curve fits (``likelihood="curve"``): which checkpoints count (the warm-up and the
        earliest descent do not); see :func:`bayescale.curves.keep_checkpoints`. Links of a
        downstream chain (:attr:`Law.every_checkpoint`) take every checkpoint past
        ``min_fraction``; other fits take each run's final checkpoint.

    Returns
    -------
    Fit
        Posterior, diagnostics and the runs; diagnostics are checked and a
        :class:`~bayescale.exceptions.ConvergenceWarning` names any problem.
    """
    check_settings(draws, tune, chains, sampler, target_accept, cores)
    if drift not in (True, False):
        check_drift_method(drift)
    runs, excluded, loaded = _validated_runs(
        law, runs, exclude_top_loss, min_fraction, min_tokens_per_param
    )
    seed, pilot_seed, main_seed = derive_seeds(seed)
    samples = sample_posterior(
        law,
        runs,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=cores or min(chains, os.cpu_count() or 1),
        pilot_seed=pilot_seed,
        main_seed=main_seed,
        sampler=sampler,
        target_accept=target_accept,
        progress=progress,
    )
    timing = dict(samples.timing)
    drift_info: dict[str, Any] = {"tau": None, "note": "disabled (drift=False)"}
    if drift:
        t0 = time.perf_counter()
        drift_info = estimate_drift(
            law,
            runs,
            seed=main_seed,
            sampler=sampler,
            target_accept=target_accept,
            method="mle" if drift is True else drift,
        )
        if law.likelihood.curve:  # and below the fitted tokens per parameter
            drift_info["tpp"] = estimate_tpp_drift(
                law,
                samples.posterior,
                loaded,
                runs,
                min_fraction,
                method="mle" if drift is True else drift,
            )
        timing["drift_s"] = time.perf_counter() - t0
    record = samples.record
    settings = {
        "draws": record["draws_used"],
        "tune": int(tune),
        "chains": int(chains),
        "seed": seed,
        "sampler": sampler,
        "target_accept": record["target_accept_used"],
        "exclude_top_loss": int(exclude_top_loss),
        "pilot": {"tune": PILOT_TUNE, "draws": PILOT_DRAWS, "sampler": pilot_sampler(sampler)},
        "sampling": record,
        "drift": drift_info,
        "timing": timing,
    }
    return Fit.from_samples(
        law,
        runs,
        samples.posterior[[*law.sampled_params, *law.hyper_params]],
        samples.stats,
        groups=samples.groups,
        settings=settings,
        excluded=excluded,
        whitening={"loc": samples.loc.tolist(), "chol": samples.chol.tolist()},
    )


def drift_residuals(
    law: Law,
    runs: pd.DataFrame,
    *,
    seed: int = 0,
    sampler: str = "nutpie",
    target_accept: float = 0.9,
    holdout_fraction: float = HOLDOUT_FRACTION,
) -> dict[str, Any]:
    """The leave-future-out refit behind the drift: hold out the top ``holdout_fraction`` of
    ``runs`` by compute, sample the law on the rest (:data:`bayescale.drift.INNER_FIT`), and
    return the held-out runs' residuals ``r`` (of the posterior-mean prediction), predictive
    variances ``v`` (parameters and noise) and distances ``d`` (decades of compute beyond the
    inner fit's largest run), with ``n_inner_train``, ``n_inner_test``, ``inner_cutoff`` and
    ``inner``: the inner fit's flat draws, its training runs and the held-out runs (from which
    :mod:`bayescale.alloc_drift` learns the allocation drift).

    Returns ``{"note": why}`` alone when the split leaves too few runs on one side.
    """
    try:
        train, test, cutoff = split_by_compute(runs, holdout_top_fraction=holdout_fraction)
    except DataError:  # the largest runs share one compute: nothing lies beyond the rest
        return {"note": "the largest runs share one compute, so none can be held out"}
    if len(train) <= 2 * law.n_free or len(test) < 3 or train[K.C].max() <= 0:
        return {"note": f"{len(runs)} runs are too few to hold any out"}
    _, pilot_seed, main_seed = derive_seeds(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inner = sample_posterior(
            law,
            law.load_runs(train),
            **INNER_FIT,
            cores=min(INNER_FIT["chains"], os.cpu_count() or 1),
            pilot_seed=pilot_seed,
            main_seed=main_seed,
            sampler=sampler,
            target_accept=target_accept,
        )
    p = law.flat_draws(inner.posterior)
    inputs = {x: test[x].to_numpy(float) for x in law.inputs}
    with np.errstate(all="ignore"):
        mu, _ = law.predictive(p, **inputs)
        noise = law.noise_variance(p, **inputs)
    y = law.to_observed(test[law.target].to_numpy(float))
    r = y - mu.mean(axis=0)
    v = mu.var(axis=0) + np.broadcast_to(noise, mu.shape).mean(axis=0)
    d = np.log10(test[K.C].to_numpy(float) / train[K.C].max())
    ok = np.isfinite(r) & np.isfinite(v) & (d > 0)
    if ok.sum() < 3:
        return {"note": "the held-out runs share the largest compute"}
    return {
        "r": r[ok],
        "v": v[ok],
        "d": d[ok],
        "n_inner_train": int(len(train)),
        "n_inner_test": int(ok.sum()),
        "inner_cutoff": float(cutoff),
        "inner": (p, train, test),
    }


def estimate_drift(
    law: Law, runs: pd.DataFrame, *, method: str = "mle", **inner: Any
) -> dict[str, Any]:
    """Learn the drift scale ``tau`` (per square-root decade of compute) from ``runs``.

    Holds out the top ``holdout_fraction`` of the runs by compute, samples the law's posterior
    on the rest (:func:`drift_residuals`, which takes ``inner``: ``seed``, ``sampler``,
    ``target_accept``, ``holdout_fraction``), and estimates ``tau`` from the held-out runs'
    residuals (:func:`bayescale.drift.tau_from_residuals`; ``method`` ``"mle"`` or
    ``"moments"``). With ``"mle"`` the fit also carries ``tau_draws``, the posterior of ``tau``
    under the prior learned from the shipped data sets (:data:`bayescale.drift.TAU_PRIOR_SCALE`):
    on a few held-out runs the prior holds it, on many the runs decide. Too few runs to hold
    any out: ``tau_draws`` come from that prior alone (``method: "prior"``), so a small ladder's
    extrapolations still widen with distance.

    Pooled (grouped) laws take the prior too, with each group's distance measured from its own
    largest run. A curve fit's drift is learned from its runs' final checkpoints by the same law
    with the likelihood of final losses (:func:`final_losses_law`).

    Returns ``{"tau", "method", "note", ...}`` (``tau_draws``, ``n_inner_train``,
    ``n_inner_test``, ``inner_cutoff`` where learned); ``tau`` is None (no drift) with
    ``method="moments"`` when no run can be held out or the law is pooled.
    """
    check_drift_method(method)
    if law.grouped:  # a second pooled fit only for the drift would double the slowest fits
        why = "a pooled fit is not refitted to learn it"
        return _prior_drift(why, law) if method == "mle" else {"tau": None, "note": why}
    source = "leave-future-out estimate (see bayescale.drift)"
    if law.likelihood.curve:
        # the drift is the law's: learned from the runs' final checkpoints by the same law of
        # final losses, at a tenth of the cost of a second curve fit (checkpoints are no
        # held-out runs)
        law, runs = final_losses_law(law), final_checkpoints(runs)
        source += ", on the final checkpoints of the runs with the law of final losses"
    res = drift_residuals(law, runs, **inner)
    if "r" not in res:
        if method != "mle":
            return {"tau": None, "note": f"not estimated: {res['note']}"}
        return _prior_drift(res["note"], law)
    r, v, d = res.pop("r"), res.pop("v"), res.pop("d")
    p, train, test = res.pop("inner")
    out = {**tau_from_residuals(r, v, d, method), **res, "note": source}
    if law.has_allocation:  # the same refit's N* against the held-out IsoFLOP budgets
        k = float(runs.attrs.get("flops_per_param_token", K.FLOPS_PER_PARAM_TOKEN))
        seed = int(inner.get("seed", 0))
        res = allocation_residuals(law, p, train, test, k=k, seed=seed)
        out["allocation"] = allocation_drift_from(res)
    return out


def final_losses_law(law: Law) -> Law:
    """``law`` with the default likelihood of final losses (Student-t) in place of its own, its
    own priors on the law's parameters kept.

    Examples
    --------
    >>> import bayescale as bs
    >>> final_losses_law(bs.ChinchillaLaw(likelihood="curve")).likelihood.kind
    'studentt'
    """
    own = {name: prior for name, prior in law.priors.items() if name in law.params}
    return make_law(law.name, **law.options(), priors=own)


def _prior_drift(why: str, law: Law) -> dict[str, Any]:
    """The drift of a fit that cannot learn its own: the prior learned on the shipped data sets
    (:data:`bayescale.drift.TAU_PRIOR_SCALE`), and for a law with an allocation the
    allocation drift's prior (:data:`bayescale.alloc_drift.TAU_PRIOR_SCALE`)."""
    draws = tau_prior()
    out = {
        "tau": float(np.median(draws)),
        "tau_draws": draws.round(6).tolist(),
        "method": "prior",
        "note": f"from the prior learned on the shipped data sets (scale {TAU_PRIOR_SCALE:g}): "
        + why,
    }
    if law.has_allocation:
        out["allocation"] = allocation_drift_from({"note": why})
    return out


provide_verb("fit", fit_law)
