"""Decisions with intervals: every answer is computed per posterior draw, then summarised.

Each function takes a :class:`~bayescale.fit.Fit` and returns a tidy DataFrame whose quantities
come as ``<name>_median``, ``<name>_lower`` and ``<name>_upper`` (the central ``interval``,
default 90%; ``df.attrs["interval"]`` records it). Nothing is computed from the posterior mean:
a skewed quantity such as tokens-per-parameter has a median that differs from its value at the
mean parameters. :func:`loss_draws` gives the raw draws as xarray.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from . import constants as K
from .alloc_drift import allocation_draws, allocation_note
from .chain import NO_LINK, link_scores
from .checks import check_finite, check_interval
from .curve_noise import log_run_length, schedule_gap
from .curves import planned_remaining, planned_totals
from .drift import with_drift, with_tpp_drift
from .exceptions import ConfigError
from .extrapolation import MAX_EXTRAPOLATION, extrapolation
from .fit import Fit
from .summaries import add_interval, paired, positive_values, quantiles, result_frame

__all__ = [
    "loss_draws",
    "predict_loss",
    "prob_loss_below",
    "prob_score_above",
    "optimal_allocation",
    "allocation_exponents",
    "compute_for_loss",
    "expected_gain",
    "suboptimality",
]


def _rng(fit: Fit, seed: int | None) -> np.random.Generator:
    return np.random.default_rng(fit.settings.get("seed", 0) if seed is None else seed)


def fit_k(fit: Fit, k: float | None = None) -> float:
    """``k`` in ``C = k N D``: ``k`` when given, else the value the fit's runs were read with
    (``fit.data_info["flops_per_param_token"]``; 6 for fits saved before it was recorded)."""
    if k is None:
        k = fit.data_info.get("flops_per_param_token", K.FLOPS_PER_PARAM_TOKEN)
    k = float(k)
    if not (np.isfinite(k) and k > 0):
        raise ConfigError(f"k (FLOPs per parameter per token) must be positive, got {k}")
    return k


def _inputs(
    fit: Fit,
    n: Any,
    d: Any,
    k: float = K.FLOPS_PER_PARAM_TOKEN,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The law's inputs from a planned (N, D): C = k N D for compute laws, and any further
    input (e.g. ``unique_tokens``) from ``extra``."""
    values = {K.N: n, K.D: d, K.C: k * n * d}
    for name, value in (extra or {}).items():
        if value is not None:
            values[name] = np.broadcast_to(positive_values(name, value), np.shape(n)).astype(float)
    missing = [x for x in fit.law.inputs if x not in values]
    if missing:
        flags = ", ".join(f"{x}= (CLI: --{x.replace('_', '-')})" for x in missing)
        raise ConfigError(f"the {fit.law.name} law also needs {missing} at each plan: pass {flags}")
    return {x: values[x] for x in fit.law.inputs}


def _law_loss(
    fit: Fit,
    p: dict[str, np.ndarray],
    n: np.ndarray,
    d: np.ndarray,
    k: float = K.FLOPS_PER_PARAM_TOKEN,
) -> np.ndarray:
    return fit.law.predict(p, **_inputs(fit, n, d, k))


# ---------------------------------------------------------------------------- loss
def loss_draws(fit: Fit, N: Any, D: Any, group: str | None = None) -> xr.DataArray:
    """The law's loss at each (N, D) for every posterior draw, dims (chain, draw, point).

    Examples
    --------
    >>> bs.loss_draws(fit, [1e9, 2e9], [2e10, 4e10]).dims
    ('chain', 'draw', 'point')
    """
    n, d = paired(N, D)
    post = fit.select(group)
    params = {name: post[name] for name in fit.law.sampled_params}
    loss = fit.law.predict(
        params, **_inputs(fit, xr.DataArray(n, dims="point"), xr.DataArray(d, dims="point"))
    )
    return loss.transpose(K.CHAIN, K.DRAW, "point").assign_coords(
        {K.N: ("point", n), K.D: ("point", d)}
    )


def _noisy(
    fit: Fit,
    p: dict[str, np.ndarray],
    loss: np.ndarray,
    rng,
    inputs,
    c: np.ndarray,
    group: str | None = None,
) -> np.ndarray:
    """A new run's outcome: the law, the extrapolation drift beyond the fitted compute (see
    :mod:`bayescale.drift`; a curve fit's also below its fitted tokens per parameter) and
    run-to-run noise."""
    law = fit.law
    noisy = law.likelihood_params(
        law.numpy_params(p), {x: np.log(v) for x, v in inputs.items()}, np
    )
    centre = with_drift(fit, law.to_observed(loss), c, rng, group)
    centre = with_tpp_drift(fit, centre, inputs.get(K.N), inputs.get(K.D), rng)
    return law.from_observed(law.likelihood.sample(rng, centre, noisy))


def predict_loss(
    fit: Fit,
    N: Any,
    D: Any,
    *,
    group: str | None = None,
    interval: float = K.DEFAULT_INTERVAL,
    target: float | None = None,
    max_extrapolation: float = MAX_EXTRAPOLATION,
    k: float | None = None,
    seed: int | None = None,
    unique_tokens: Any = None,
    run_tokens: Any = None,
    schedule: str = "cosine",
    decay_fraction: float = 0.2,
    target_score: float | None = None,
) -> pd.DataFrame:
    """Extrapolated loss at planned runs (N, D): the law's loss and a new run's loss (and for a
    downstream chain, :func:`~bayescale.fit_chain`, a new run's score).

    Parameters
    ----------
    fit
        A fitted law with inputs N and D.
    N, D
        Model size and training tokens (scalars or equal-length arrays).
    interval
        Central interval mass, in (0, 1).
    target
        If given, add ``prob_below_target``: the probability that a new run at (N, D) ends
        below this loss (observation noise included).
    max_extrapolation
        Warn (:class:`~bayescale.exceptions.ExtrapolationWarning`) beyond this factor in compute
        over the largest fitted run.
    k
        FLOPs per parameter per token: ``C = k N D`` (default: the fit's, see :func:`fit_k`).
    seed
        Seed of the noise draws for the new-run loss (default: the fit's seed).
    unique_tokens
        Unique tokens of each planned run, for laws that take them (the data-constrained law):
        a scalar or one per plan; ``D / unique_tokens`` is the number of epochs.
    run_tokens
        Curve fits only: each run's planned total, ``D`` a checkpoint within it; the loss
        there adds the anneal still to come (:func:`~bayescale.curve_noise.schedule_gap`).
        Without it a curve fit predicts the final loss of a fully trained run, as every fit does.
    schedule, decay_fraction
        The planned runs' learning-rate schedule, with ``run_tokens``: ``"cosine"`` (default),
        ``"linear"`` or ``"wsd"`` (flat until the last ``decay_fraction``);
        :func:`~bayescale.curves.planned_remaining`.
    target_score
        Chain fits only: add ``prob_score_above_target``, P(a new run's score >= it).

    Returns
    -------
    pandas.DataFrame
        Per (N, D): ``N``, ``D``, ``C``, ``loss_*`` (the law), ``loss_new_run_*`` (the law plus
        run-to-run noise), ``compute_factor``, ``N_factor``, ``D_factor`` (how far beyond the
        largest fitted run), ``prob_below_target`` with ``target``, ``run_tokens`` with it.
        Chain fits: ``score_*``, a new run's score (its task loss through the link, paired
        posterior draws of both steps, both noises), and ``prob_score_above_target``.

    Examples
    --------
    ``fit`` is a fitted Chinchilla law (:meth:`bayescale.Law.fit`).

    >>> t = bs.predict_loss(fit, 1e9, 2e10, target=2.6)
    >>> bool(t.loss_lower[0] < t.loss_median[0] < t.loss_upper[0])
    True
    >>> bool(0 <= t.prob_below_target[0] <= 1), float(t.compute_factor[0]) < 1
    (True, True)
    """
    k = fit_k(fit, k)
    interval = check_interval(interval)
    n, d = paired(N, D)
    c = k * n * d
    if unique_tokens is not None and "unique_tokens" not in fit.law.inputs:
        raise ConfigError(f"the {fit.law.name} law does not take unique_tokens")
    p = fit.draws(group)
    extra = {"unique_tokens": unique_tokens}
    inputs = _inputs(fit, n, d, k, extra)
    loss = fit.law.predict(p, **inputs)
    if run_tokens is not None:  # a checkpoint within a planned run: the anneal still to come
        total = planned_totals(
            positive_values("run_tokens", run_tokens), d, fit.law.likelihood.curve
        )
        g = planned_remaining(d, total, schedule, decay_fraction)
        loss = loss + schedule_gap(p, g, log_run_length(n, total))
    elif schedule != "cosine":
        raise ConfigError("schedule is the schedule of a planned run: give its run_tokens too")
    if target_score is not None and fit.link is None:
        raise ConfigError(NO_LINK)
    rng = _rng(fit, seed)
    new = _noisy(fit, p, loss, rng, inputs, c, group)
    table: dict[str, Any] = {K.N: n, K.D: d, K.C: c}
    if unique_tokens is not None:
        table["unique_tokens"] = inputs["unique_tokens"]
    if run_tokens is not None:
        table[K.RUN_TOKENS] = total
    add_interval(table, "loss", loss, interval)
    add_interval(table, "loss_new_run", new, interval)
    if target is not None:
        t = positive_values("target", target)
        table["prob_below_target"] = (new < t).mean(axis=0)
    if fit.link is not None:  # a new run's score: its task loss through the link, paired draws
        score = link_scores(fit.link, new, rng)
        add_interval(table, "score", score, interval)
        if target_score is not None:
            t_score = check_finite("target_score", target_score)
            table["prob_score_above_target"] = (score >= t_score).mean(axis=0)
    table.update(extrapolation(fit, n, d, c, max_extrapolation))
    return result_frame(table, interval)


def prob_score_above(
    fit: Fit, N: Any, D: Any, target: float, *, seed: int | None = None
) -> pd.DataFrame:
    """Probability that a run at (N, D) scores at least ``target`` (a chain fit's score).

    ``prob_law_above``: the link's score at the law's task loss (the expected outcome) reaches
    the target; ``prob_new_run_above``: an actual run does, with both steps' noise.

    Examples
    --------
    ``chain`` is a chain fit (:func:`bayescale.fit_chain`)::

        bs.prob_score_above(chain, 7e9, 4e12, target=0.6)
    """
    if fit.link is None:
        raise ConfigError(NO_LINK)
    n, d = paired(N, D)
    t = check_finite("target", target)
    p, k = fit.draws(), fit_k(fit)
    rng = _rng(fit, seed)
    loss = _law_loss(fit, p, n, d, k)
    new = _noisy(fit, p, loss, rng, _inputs(fit, n, d, k), k * n * d)
    expected = link_scores(fit.link, loss, rng, noise=False)
    return pd.DataFrame(
        {
            K.N: n,
            K.D: d,
            "target": t,
            "prob_law_above": (expected >= t).mean(axis=0),
            "prob_new_run_above": (link_scores(fit.link, new, rng) >= t).mean(axis=0),
        }
    )


def prob_loss_below(
    fit: Fit, N: Any, D: Any, target: float, *, group: str | None = None, seed: int | None = None
) -> pd.DataFrame:
    """Probability that a run at (N, D) ends below ``target``.

    ``prob_law_below``: the law's loss (the expected outcome) is below the target;
    ``prob_new_run_below``: an actual run, with run-to-run noise, is.

    Examples
    --------
    >>> p = bs.prob_loss_below(fit, [1e9, 4e9], [2e10, 8e10], target=2.5)
    >>> bool(p.prob_new_run_below.is_monotonic_increasing)  # bigger run, likelier to beat it
    True
    """
    n, d = paired(N, D)
    t = positive_values("target", target)
    if t.size != 1:
        raise ConfigError("target must be a single loss value")
    p, k = fit.draws(group), fit_k(fit)
    loss = _law_loss(fit, p, n, d, k)
    new = _noisy(fit, p, loss, _rng(fit, seed), _inputs(fit, n, d, k), k * n * d, group)
    return pd.DataFrame(
        {
            K.N: n,
            K.D: d,
            "target": float(t[0]),
            "prob_law_below": (loss < t).mean(axis=0),
            "prob_new_run_below": (new < t).mean(axis=0),
        }
    )


# ------------------------------------------------------------------------ allocation
def allocation_exponents(
    fit: Fit, interval: float = K.DEFAULT_INTERVAL, group: str | None = None
) -> pd.DataFrame:
    """Exponents ``a`` (N* ~ C^a) and ``b`` (D* ~ C^b): rows a, b; columns median, lower, upper.

    Examples
    --------
    >>> e = bs.allocation_exponents(fit)
    >>> round(float(e.loc["a", "median"] + e.loc["b", "median"]), 6)  # a + b = 1 under C = 6ND
    1.0
    """
    interval = check_interval(interval)
    rows = {}
    post = fit.select(group)
    for name in ("a", "b"):
        if name not in post:
            raise ConfigError(f"the {fit.law.name} law has no allocation exponents")
        med, lo, hi = quantiles(post[name].to_numpy().reshape(-1, 1), interval)
        rows[name] = {"median": med[0], "lower": lo[0], "upper": hi[0]}
    out = pd.DataFrame(rows).T
    out.attrs["interval"] = interval
    return out


def optimal_allocation(
    fit: Fit,
    compute: Any,
    *,
    group: str | None = None,
    interval: float = K.DEFAULT_INTERVAL,
    k: float | None = None,
    max_extrapolation: float = MAX_EXTRAPOLATION,
    seed: int | None = None,
) -> pd.DataFrame:
    """Compute-optimal N*, D*, L* and tokens-per-parameter D*/N* for each budget.

    Computed per posterior draw in closed form (see :mod:`bayescale.allocation`) under
    ``C = k N D``. ``df.attrs["a"]`` and ``["b"]`` hold the exponents' median and interval.

    Returns
    -------
    pandas.DataFrame
        Per budget: ``compute``, ``N_opt_*``, ``D_opt_*``, ``loss_opt_*``,
        ``tokens_per_param_*``, ``compute_factor``. Beyond the largest fitted run ``N*`` carries
        the fit's allocation drift (:mod:`bayescale.alloc_drift`; ``D* = C / (k N*)`` and
        tokens per parameter follow, ``seed`` seeds its draws), and ``attrs["note"]``
        (:func:`bayescale.alloc_drift.allocation_note`) says what it is.

    Examples
    --------
    >>> a = bs.optimal_allocation(fit, [1e21, 5.88e23])
    >>> # C = 6 N D in every draw; the medians of N and D (of an even number of draws) match
    >>> bool((a.N_opt_median * a.D_opt_median * 6 / a.compute).round(3).eq(1).all())
    True
    >>> bool(a.N_opt_median.is_monotonic_increasing)
    True
    """
    k = fit_k(fit, k)
    interval = check_interval(interval)
    c = positive_values("compute", compute)
    out = allocation_draws(fit, c, k=k, rng=_rng(fit, seed), group=group)
    table: dict[str, Any] = {K.COMPUTE: c}
    for name in ("N_opt", "D_opt", "loss_opt", "tokens_per_param"):
        add_interval(table, name, out[name], interval)
    table.update(extrapolation(fit, None, None, c, max_extrapolation))
    frame = result_frame(table, interval)
    exps = allocation_exponents(fit, interval, group)
    frame.attrs["a"] = exps.loc["a"].to_dict()
    frame.attrs["b"] = exps.loc["b"].to_dict()
    if (frame["compute_factor"] > 1).any():
        frame.attrs["note"] = allocation_note(fit)
    return frame


def compute_for_loss(
    fit: Fit,
    target: Any,
    *,
    group: str | None = None,
    interval: float = K.DEFAULT_INTERVAL,
    k: float | None = None,
) -> pd.DataFrame:
    """Compute (with N*, D*) at which the compute-optimal loss reaches ``target``.

    Draws with ``E >= target`` cannot reach it at any compute: they count as infinite compute,
    and ``prob_unreachable`` is their share. An interval end that is ``inf`` means "not reached
    with that probability" — never a NaN, never an exception.

    Examples
    --------
    >>> t = bs.compute_for_loss(fit, [2.2, 1.0])
    >>> t.prob_unreachable.tolist()  # 1.0 is below the irreducible loss E
    [0.0, 1.0]
    >>> float(t.compute_median[1])
    inf
    """
    k = fit_k(fit, k)
    interval = check_interval(interval)
    t = positive_values("target", target)
    out = fit.law.compute_for_loss(fit.draws(group), t, k=k)
    table: dict[str, Any] = {"target": t, "prob_unreachable": 1.0 - out["reachable"].mean(axis=0)}
    for name in ("compute", "N_opt", "D_opt"):
        add_interval(table, name, out[name], interval)
    return result_frame(table, interval)


# --------------------------------------------------------------------------- decisions
def expected_gain(
    fit: Fit,
    N: Any,
    D: Any,
    factor: float,
    *,
    group: str | None = None,
    along: str = "N",
    interval: float = K.DEFAULT_INTERVAL,
    k: float | None = None,
) -> pd.DataFrame:
    """Loss reduction from scaling a planned run by ``factor`` — "push further or move on?".

    ``along="N"`` multiplies the model size, ``"D"`` the tokens, ``"C"`` the compute, spent
    compute-optimally: the gain is then ``L(N, D) - L*(factor * k N D)``. Positive gain = lower
    loss. Also ``prob_gain_above_zero``.

    Examples
    --------
    >>> g = bs.expected_gain(fit, 1e9, 2e10, factor=2, along="N")
    >>> float(g.prob_gain_above_zero[0])
    1.0
    """
    k = fit_k(fit, k)
    interval = check_interval(interval)
    n, d = paired(N, D)
    f = positive_values("factor", factor)
    if f.size != 1:
        raise ConfigError("factor must be a single number")
    if along not in ("N", "D", "C"):
        raise ConfigError(f"along must be 'N', 'D' or 'C', got {along!r}")
    p = fit.draws(group)
    before = _law_loss(fit, p, n, d, k)
    if along == "N":
        after = _law_loss(fit, p, n * f, d, k)
    elif along == "D":
        after = _law_loss(fit, p, n, d * f, k)
    else:
        after = fit.law.optimal_allocation(p, f * k * n * d, k=k)["loss_opt"]
    gain = before - after
    table: dict[str, Any] = {K.N: n, K.D: d, "factor": float(f[0]), "along": along}
    add_interval(table, "loss", before, interval)
    add_interval(table, "gain", gain, interval)
    table["prob_gain_above_zero"] = (gain > 0).mean(axis=0)
    return result_frame(table, interval)


def suboptimality(
    fit: Fit,
    N: Any,
    D: Any,
    *,
    group: str | None = None,
    interval: float = K.DEFAULT_INTERVAL,
    k: float | None = None,
) -> pd.DataFrame:
    """What a planned (N, D) split costs against the compute-optimal one at the same compute.

    Returns ``extra_loss_*`` = L(N, D) - L*(C), and the effective-compute penalty
    ``compute_multiplier_*`` = C / C_eff, where C_eff is the compute with which the optimal
    split reaches the plan's loss (1 = the plan is optimal; 2 = it wastes half its compute).

    Examples
    --------
    >>> s = bs.suboptimality(fit, [7e10, 7e11], [1.4e12, 1.4e11])  # ~20 vs 0.2 tokens/param
    >>> bool(s.compute_multiplier_median[1] > s.compute_multiplier_median[0] >= 1)
    True
    """
    k = fit_k(fit, k)
    interval = check_interval(interval)
    n, d = paired(N, D)
    c = k * n * d
    p = fit.draws(group)
    loss = _law_loss(fit, p, n, d, k)
    loss_opt = fit.law.optimal_allocation(p, c, k=k)["loss_opt"]
    c_eff = fit.law.compute_for_loss(p, loss, k=k)["compute"]
    table: dict[str, Any] = {K.N: n, K.D: d, K.C: c}
    add_interval(table, "loss", loss, interval)
    add_interval(table, "loss_opt", loss_opt, interval)
    add_interval(table, "extra_loss", loss - loss_opt, interval)
    add_interval(table, "compute_multiplier", c / c_eff, interval)
    return result_frame(table, interval)
