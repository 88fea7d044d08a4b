"""The PyMC model of a law as bayescale samples it: centred and whitened.

The naive parametrisation of a power-law term, ``(log A, alpha)``, has a posterior correlation
of about 0.999 and NUTS needs hundreds of leapfrog steps per draw. Changes of variables
(with their Jacobians, so the priors stay on the named parameters) fix this:

1. **Centring.** A term ``A / N**alpha`` is sampled through its log value at the data's geometric
   mean of ``N``, ``log A - alpha * mean(log N)``: the data pin that value down directly.
2. **The level instead of the irreducible term** (ungrouped laws with
   :attr:`Law.level_param`). With few model sizes the data fix the loss at their centre,
   ``E + a + b`` (``a``, ``b``: the terms at the centre), and the slope ``a * alpha``, but not
   how the level splits between ``E`` and a slowly decaying term: along that ridge
   ``E = level - slope / alpha`` is a curve in ``(log E, log a, log alpha)`` and a line in
   ``(level, log a, log alpha)``. So the sampler holds the level ``m`` and
   ``E = s * softplus((m - a - b) / s)`` (``s``: the model data ``level_scale``,
   :data:`LEVEL_SOFTNESS` times the median target; a bijection onto ``E > 0`` that is
   ``m - a - b`` wherever ``E`` is well above ``s``), with the Jacobian
   ``sigmoid((m - a - b) / s)`` added, so the prior stays on ``E``.
3. **A law's own coordinates** (:attr:`Law.mapped_params`): a law may name parameters the
   sampler reaches through a coordinate of its choosing (:meth:`Law.from_coordinate`, with
   its Jacobian), e.g. the tail amplitude of a sigmoid link instead of its midpoint.
4. **Each group's frontier** (partially pooled laws with :attr:`Law.frontier_params` whose
   amplitude's exponent is sampled centred: the IsoFLOP law with ``centred="all"``). A
   group's IsoFLOP minima pin its frontier ``L*(C) = E + R C**-gamma`` down at the centre of
   the data (level ``E + T``, ``T`` the term there) and its slope there
   (``gamma T / (E + T)``), not how the level splits between ``E`` and a slowly decaying term:
   a ridge curved at both ends in ``(log E, log T, log gamma)`` (correlations 0.93-0.98 on
   Porian et al.'s runs). Each group samples ``m`` (the log level), ``f`` (the logit of E's
   share) and ``v`` (the log slope) instead, a map with unit Jacobian
   (:func:`frontier_logs`); the ridge is straight in ``f``.
5. **Whitening.** The sampler sees ``w`` with ``u = loc + chol @ w`` (``u``: the unconstrained
   coordinates), ``loc`` and ``chol`` found by a pilot run (:mod:`bayescale.sampling`), so the
   posterior it samples is near-isotropic.

The data, centres, ``loc`` and ``chol`` are model data (``pm.Data``), so one compiled model
serves any runs. :func:`build_naive_model` is the textbook model, kept as the reference.
"""

from __future__ import annotations

import json
import warnings
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from . import constants as K
from .curves import curve_data
from .exceptions import DataError
from .laws.base import Law
from .priors import draw_prior, prior_logp, unconstrained_prior

__all__ = ["build_model", "build_naive_model", "group_names", "model_data", "initial_loc", "quiet"]

_PRIOR_MEDIANS: dict[str, float] = {}
#: Softness of the map from the level to the irreducible term, as a fraction of the data's
#: median target: ``s = LEVEL_SOFTNESS * median``. Below ``E ~ s`` the sampler sees ``log E``
#: (the end of the ridge, where ``E`` meets 0, is a cliff in the level's coordinates), above it
#: ``E`` itself. Chosen on the OLMo ladder's curve and final-loss fits and Chinchilla's runs
#: (divergences against ESS for s = 0.002 ... 0.6 nats; ``docs/performance.md``).
LEVEL_SOFTNESS = 0.15


def clear_prior_medians() -> None:
    """Forget the pilot's cached starting points (see :func:`initial_loc`)."""
    _PRIOR_MEDIANS.clear()


@contextmanager
def quiet():
    """Silence third-party chatter that is not actionable for bayescale's users."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*Cannot cache compiled function.*")
        warnings.filterwarnings("ignore", message=".*[Nn]umba.*")
        # nutpie runs on numba; PyTensor's C-BLAS probe is irrelevant to it.
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
        yield


def centred_inputs(law: Law) -> tuple[str, ...]:
    return tuple(dict.fromkeys(x for _, x in law.amplitudes.values()))


def layout(law: Law, n_groups: int) -> list[tuple[str, str, int]]:
    """Layout of the unconstrained vector: (kind, name, size) in sampling order.

    kinds: ``scalar`` (one value), ``group`` (one per group), ``f``, ``m``, ``v`` (a group's
    frontier coordinates in the slots of its irreducible term, amplitude and exponent, see
    :func:`frontier_logs`), ``hyper`` (a population
    parameter), ``z`` (standardised group offsets of a partially pooled exponent,
    non-centred: ``log alpha_g = alpha_mu + alpha_tau * z_g``; for exponents that each group's
    data pin down), ``pooled`` (the same exponent centred: the log values themselves,
    ``log a_g ~ Normal(a_mu, a_tau)``; for exponents the data pin down per group, see
    :attr:`Law.centred_exponents`). Both give the same posterior; they differ in geometry.
    """
    slots: list[tuple[str, str, int]] = []
    frontier = dict(zip(frontier_slots(law) or (), ("f", "m", "v"), strict=False))
    for name in law.sampled_params:
        if name in law.pooled_exponents:
            slots += [
                ("hyper", f"{name}_mu", 1),
                ("hyper", f"{name}_tau", 1),
                (
                    frontier.get(name) or ("pooled" if name in law.centred_exponents else "z"),
                    name,
                    n_groups,
                ),
            ]
        elif name in frontier:
            slots.append((frontier[name], name, n_groups))
        elif law.grouped and name in law.params:
            slots.append(("group", name, n_groups))
        else:
            slots.append(("scalar", name, 1))
    return slots


def frontier_slots(law: Law) -> tuple[str, str, str] | None:
    """``(irreducible, amplitude, exponent)`` sampled through each group's frontier
    coordinates (see the module's docstring), or None: partially pooled laws naming
    :attr:`Law.frontier_params` whose amplitude's exponent is sampled centred."""
    if law.frontier_params is None:
        return None
    irreducible, amplitude = law.frontier_params
    exponent = law.amplitudes[amplitude][0]
    if exponent not in law.pooled_exponents or exponent not in law.centred_exponents:
        return None
    return irreducible, amplitude, exponent


def frontier_logs(m: Any, f: Any, v: Any, xp: Any = np) -> tuple[Any, Any, Any]:
    """``(log E, log T, log exponent)`` from a frontier's coordinates: ``m`` the log of its
    level ``E + T``, ``f`` the logit of E's share of it, ``v`` the log of its slope
    ``exponent * T / (E + T)``. The map has unit Jacobian (its determinant is -1), so a
    density over the logs is the same density over ``(m, f, v)``.

    Examples
    --------
    >>> log_e, log_t, log_g = frontier_logs(1.0, 0.0, -2.0)
    >>> round(float(np.exp(log_e) + np.exp(log_t)), 4), round(float(np.exp(log_g) / 2), 4)
    (2.7183, 0.1353)
    """
    return m - xp.logaddexp(0.0, -f), m - xp.logaddexp(0.0, f), v + xp.logaddexp(0.0, f)


def level_slot(law: Law) -> str | None:
    """The parameter sampled through the law's level (see the module's docstring), or None:
    the law names one, its prior lives on ``(0, inf)``, and the law is not grouped (so it and
    the amplitudes are single values; in partially pooled fits the population scales, not the
    ridge, limit the sampler, and the level made the pooled test fit's ``alpha_tau`` mix
    worse: R-hat 1.015 at one seed of five)."""
    name = law.level_param
    if name is None or not law.amplitudes or law.grouped:
        return None
    from pymc.distributions.transforms import LogTransform, _default_transform

    dist = law.priors[name].pymc_distribution.dist(**law.priors[name].parameters)
    return name if isinstance(_default_transform(dist.owner.op, dist), LogTransform) else None


def mapped_slots(law: Law) -> tuple[str, ...]:
    """The parameters sampled through the law's own coordinates (:attr:`Law.mapped_params`),
    of ungrouped laws only."""
    return () if law.grouped else tuple(law.mapped_params)


def build_model(law: Law, n_groups: int = 1):
    """Build the (centred, whitened) PyMC model of ``law`` with placeholder data.

    Free variable: ``w``, the whitened unconstrained coordinates (see :func:`layout`).
    Deterministics: each named parameter (a vector over groups when the law is grouped) and the
    population parameters. Data: ``logx_<input>``, ``centre_<input>``, ``y`` (target on the
    observation scale), ``group_idx``, ``loc``, ``chol``; for the curve likelihood also
    :func:`bayescale.curves.curve_data`'s arrays.
    """
    import pymc as pm
    import pytensor.tensor as pt

    slots = layout(law, n_groups)
    level = level_slot(law)
    k = sum(size for _, _, size in slots)
    centred = centred_inputs(law)
    with pm.Model() as model:
        y = pm.Data("y", np.zeros(2))

        def per_row(name: str, value: np.ndarray):
            # one length for every per-row array: PyTensor then needs no broadcast checks
            # between them, whose order in the rewritten graph changed from process to
            # process and so defeated its disk cache of the compiled log density
            return pt.specify_shape(pm.Data(name, value), y.shape)

        logx = {x: per_row(f"logx_{x}", np.zeros(2)) for x in law.inputs}
        centre = {x: pm.Data(f"centre_{x}", 0.0) for x in centred}
        gidx = per_row("group_idx", np.zeros(2, dtype="int64")) if law.grouped else None
        curve = {}
        if law.likelihood.curve:  # the schedule and the runs' layout (curve_data)
            curve = {
                "schedule": per_row("schedule", np.zeros(2)),
                "log_run_length": per_row("log_run_length", np.zeros(2)),
                "run_idx": per_row("run_idx", np.zeros(2, dtype="int64")),
                "first": per_row("first", np.ones(2)),
                "dlogd": per_row("dlogd", np.zeros(2)),
                "n_runs": pm.Data("n_runs", np.asarray(2, dtype="int64")),
            }
        # static shapes: without them the broadcast check between the two comes out of the
        # rewrites in either order, so the same model has two keys in PyTensor's disk cache
        loc = pt.specify_shape(pm.Data("loc", np.zeros(k)), (k,))
        chol = pt.specify_shape(pm.Data("chol", np.eye(k)), (k, k))
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
            skip = (*law.amplitudes, level, *mapped_slots(law))
            if kind in ("scalar", "group", "hyper") and name not in skip:
                values[name], lp = unconstrained_prior(law.priors[name], seg[name])
                logps.append(pt.sum(lp))
        for kind, name, _ in slots:  # population of log exponents
            mu, tau = values.get(f"{name}_mu"), values.get(f"{name}_tau")
            if kind == "z":  # non-centred
                logps.append(pt.sum(-0.5 * seg[name] ** 2))
                values[name] = pt.exp(mu + tau * seg[name])
            elif kind == "pooled":  # centred: Normal(mu, tau) density of the log values
                logps.append(pt.sum(-0.5 * ((seg[name] - mu) / tau) ** 2 - pt.log(tau)))
                values[name] = pt.exp(seg[name])
        frontier = frontier_slots(law)
        if frontier is not None:  # each group's frontier: level, E's share, slope
            irreducible, amplitude, exponent = frontier
            f, m, v = seg[irreducible], seg[amplitude], seg[exponent]
            log_e, log_t, log_x = frontier_logs(m, f, v, pt)
            values[irreducible] = pt.exp(log_e)
            logps.append(pt.sum(prior_logp(law.priors[irreducible], values[irreducible]) + log_e))
            values[exponent] = pt.exp(log_x)  # centred: the population of log exponents
            mu, tau = values[f"{exponent}_mu"], values[f"{exponent}_tau"]
            logps.append(pt.sum(-0.5 * ((log_x - mu) / tau) ** 2 - pt.log(tau)))
            seg[amplitude] = log_t  # the amplitude's term at the centre, as below
        for _, name, _ in slots:
            if name in law.amplitudes:
                exponent, x = law.amplitudes[name]
                values["log_" + name] = seg[name]  # log of the term at the centre of the data
                log_amp = seg[name] + values[exponent] * centre[x]
                values[name] = pt.exp(log_amp)
                logps.append(pt.sum(prior_logp(law.priors[name], values[name]) + log_amp))
        if level is not None:  # E from the level m: E = s softplus((m - terms) / s)
            scale = pm.Data("level_scale", 1.0)
            gap = (seg[level] - sum(pt.exp(seg[a]) for a in law.amplitudes)) / scale
            values[level] = scale * pt.softplus(gap)
            jacobian = -pt.softplus(-gap)  # log dE/dm = log sigmoid(gap)
            logps.append(pt.sum(prior_logp(law.priors[level], values[level]) + jacobian))
        for name in mapped_slots(law):  # the law's own coordinate, the prior on the parameter
            values[name], jacobian = law.from_coordinate(name, seg[name], values, pt)
            logps.append(pt.sum(prior_logp(law.priors[name], values[name]) + jacobian))
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
        noisy = {**law.likelihood_params(values, lx, pt), **curve}
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
        noisy = law.likelihood_params(values, logx, pt)
        pm.Potential("log_likelihood", pt.sum(law.likelihood.logp(y, mu, noisy)))
    return model


def group_names(law: Law, runs: pd.DataFrame) -> list[str]:
    """Sorted group labels of a grouped law's runs (one entry, "all", otherwise)."""
    if not law.grouped:
        return ["all"]
    if K.GROUP not in runs.columns:
        raise DataError(
            f"pooling={law.pooling!r} needs a 'group' column (or --group-column) in the runs"
        )
    return sorted(runs[K.GROUP].astype(str).unique())


def model_data(law: Law, runs: pd.DataFrame, groups: list[str]) -> dict[str, np.ndarray]:
    data = {"y": law.to_observed(runs[law.target].to_numpy(float))}
    if law.likelihood.curve:
        data.update(curve_data(runs))
    if law.grouped:
        codes = {g: i for i, g in enumerate(groups)}
        data["group_idx"] = runs[K.GROUP].astype(str).map(codes).to_numpy("int64")
    if level_slot(law) is not None:
        data["level_scale"] = np.asarray(LEVEL_SOFTNESS * _typical(law, runs))
    centred = centred_inputs(law)
    for x in law.inputs:
        logx = np.log(runs[x].to_numpy(float))
        if x in centred:
            centre = float(logx.mean())
            data[f"centre_{x}"] = np.asarray(centre)
            logx = logx - centre
        data[f"logx_{x}"] = logx
    return data


def initial_loc(law: Law, runs: pd.DataFrame, n_groups: int) -> np.ndarray:
    """A sensible start for the pilot: prior medians, and an even split of the loss."""
    loc: list[float] = []
    typical = _typical(law, runs)
    level = level_slot(law)
    for kind, name, size in layout(law, n_groups):
        if name == level:  # the level: E and each amplitude's term an even split of it
            value = typical
        elif kind == "z" or kind == "f":  # a group at its population; E half the level
            value = 0.0
        elif kind == "m":  # the frontier's level
            value = float(np.log(typical))
        elif kind == "v":  # its slope: half the population's median exponent
            population = _prior_median_unconstrained(law.priors[f"{name}_mu"])
            value = float(population + np.log(0.5))
        elif kind == "pooled":
            value = _prior_median_unconstrained(law.priors[f"{name}_mu"])
        elif name in law.amplitudes:
            value = float(np.log(typical / (len(law.amplitudes) + 1)))
        else:
            value = _prior_median_unconstrained(law.priors[name])
        loc += [value] * size
    start = np.asarray(loc)
    mapped = mapped_slots(law)
    if mapped:  # the coordinates of the named parameters' prior medians
        medians = {n: float(np.median(draw_prior(p, 201))) for n, p in law.priors.items()}
        names = [name for _, name, _ in layout(law, n_groups)]
        for name in mapped:
            start[names.index(name)] = float(law.to_coordinate(name, medians))
    return start


def _typical(law: Law, runs: pd.DataFrame) -> float:
    """The runs' median target, kept away from 0 (a scale for starts and the level map)."""
    return max(abs(float(np.median(runs[law.target]))), 1e-3)


def _prior_median_unconstrained(prior) -> float:
    """The prior's median on the sampler's unconstrained scale (a start for the pilot);
    computed once per prior in a process (it needs prior draws and a small compiled graph)."""
    key = json.dumps(prior.to_dict(), sort_keys=True, default=str)
    if key not in _PRIOR_MEDIANS:
        _PRIOR_MEDIANS[key] = _compute_prior_median_unconstrained(prior)
    return _PRIOR_MEDIANS[key]


def _compute_prior_median_unconstrained(prior) -> float:
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
