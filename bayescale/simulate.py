"""Simulated runs from known parameters, for recovery and calibration checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from . import constants as K
from .curve_noise import log_run_length, schedule_gap
from .curves import SCHEDULES, planned_remaining
from .exceptions import ConfigError
from .laws.base import Law, provide_verb
from .priors import draw_prior

__all__ = ["isoflop_design", "prior_predictive", "simulate_curves", "simulate_runs"]


def isoflop_design(
    budgets: Sequence[float],
    runs_per_budget: int = 8,
    n_range: tuple[float, float] = (1e7, 2e10),
    tokens_per_param: tuple[float, float] = (1.0, 400.0),
    flops_per_param_token: float = K.FLOPS_PER_PARAM_TOKEN,
) -> pd.DataFrame:
    """IsoFLOP sweep: for each budget C, model sizes spaced evenly in log N, D = C / (k N).

    Model sizes are limited to ``n_range`` and to ``tokens_per_param`` (D/N) so every run is a
    plausible training run.

    Examples
    --------
    >>> design = isoflop_design([1e18, 1e19], runs_per_budget=4)
    >>> sorted(design.columns)
    ['C', 'D', 'N']
    """
    rows = []
    k = flops_per_param_token
    for c in budgets:
        # D/N = c / (k N^2): bounds on D/N become bounds on N.
        lo = max(n_range[0], np.sqrt(c / (k * tokens_per_param[1])))
        hi = min(n_range[1], np.sqrt(c / (k * tokens_per_param[0])))
        if lo >= hi:
            continue
        for n in np.geomspace(lo, hi, runs_per_budget):
            rows.append({K.N: n, K.D: c / (k * n), K.C: c})
    return pd.DataFrame(rows)


def simulate_runs(
    law: Law,
    params: Mapping[str, float],
    design: pd.DataFrame,
    *,
    seed: int,
) -> pd.DataFrame:
    """Draw the measured loss of each design row from ``law`` and its likelihood.

    ``params`` holds the law's parameters and the noise parameters (``sigma``, ``nu`` when the
    likelihood samples it, the noise model's slopes such as ``sigma_slope`` under
    ``noise="offopt"``: 0 is constant noise; see :mod:`bayescale.laws.noise`).

    Examples
    --------
    >>> from bayescale import ChinchillaLaw
    >>> law = ChinchillaLaw()
    >>> p = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28, sigma=0.01, sigma_slope=0.0)
    >>> runs = simulate_runs(law, p, isoflop_design([1e18], 3), seed=0)
    >>> runs[law.target].round(2).tolist()
    [3.71, 3.54, 3.8]
    """
    missing = [n for n in law.sampled_params if n not in params]
    if missing:
        from .exceptions import ConfigError

        raise ConfigError(f"simulate_runs needs a value for {', '.join(missing)} ({law!r})")
    rng = np.random.default_rng(seed)
    inputs = {x: design[x].to_numpy(float) for x in law.inputs}
    mu, lik = law.predictive(params, **inputs)
    y = law.likelihood.sample(rng, mu, lik)
    out = design.copy().reset_index(drop=True)
    out[law.target] = law.from_observed(y)
    return out


def simulate_curves(
    law: Law,
    params: Mapping[str, float],
    runs: pd.DataFrame,
    *,
    checkpoints: int = 40,
    schedule: float = 0.0,
    schedule_power: float = 1.0,
    schedule_length: float = 0.0,
    sigma: float = 0.005,
    sigma_run: float = 0.0,
    ell: float = 0.5,
    lr_schedule: str = "cosine",
    decay_fraction: float = 0.2,
    seed: int,
) -> pd.DataFrame:
    """Training curves of the runs of ``runs`` (one row per run: ``N`` and the planned total
    ``D``) under the curve model: a checkpoint at ``d`` of a run planned for ``T`` tokens has
    log loss ``log(L(N, d) + gap) + b + e``, the gap
    :func:`~bayescale.curve_noise.schedule_gap` with ``anneal=schedule``,
    ``anneal_power=schedule_power`` and ``anneal_length=schedule_length`` of ``g``, the anneal
    still to come (1 at the start, 0 at the end): a cosine in ``d / T``, or ``lr_schedule``
    ``"linear"`` or ``"wsd"`` (warmup-stable-decay: 1 until the last ``decay_fraction`` of the
    run, then a linear decay; :func:`~bayescale.curves.planned_remaining`), which a fit sees
    only through the ``lr`` column;
    ``b ~ Normal(0, sigma_run)`` is the
    run's offset and ``e`` OU noise in log tokens (sd ``sigma``, correlation length ``ell``;
    :mod:`bayescale.curve_noise`).

    Checkpoints are spaced evenly in log d from 5% to 100% of each run; the result has the
    columns of a curves table (``run``, ``run_tokens``, ``lr``: from 1e-3 to 1e-5 along ``g``).

    Examples
    --------
    >>> from bayescale import ChinchillaLaw
    >>> p = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
    >>> plan = pd.DataFrame({"N": [1e8, 4e8], "D": [2e9, 8e9]})
    >>> curves = simulate_curves(ChinchillaLaw(), p, plan, checkpoints=5, seed=0)
    >>> curves.groupby("run").size().tolist(), float(curves["D"].max())
    ([5, 5], 8000000000.0)
    """
    if lr_schedule not in SCHEDULES:
        raise ConfigError(f"lr_schedule must be one of {', '.join(SCHEDULES)}, got {lr_schedule!r}")
    rng = np.random.default_rng(seed)
    frames = []
    sizes, totals = runs[K.N].to_numpy(float), runs[K.D].to_numpy(float)
    for i, (n, total) in enumerate(zip(sizes, totals, strict=True)):
        d = np.geomspace(0.05 * total, total, checkpoints)
        g = planned_remaining(d, np.full_like(d, total), lr_schedule, decay_fraction)
        g[-1] = 0.0
        step = np.diff(np.log(d), prepend=np.log(d[0]))
        e = np.empty(checkpoints)
        e[0] = rng.normal(0.0, sigma)
        for j in range(1, checkpoints):
            phi = np.exp(-step[j] / ell)
            e[j] = phi * e[j - 1] + rng.normal(0.0, sigma * np.sqrt(1.0 - phi**2))
        shape = {"anneal": schedule, "anneal_power": schedule_power}
        gap = schedule_gap({**shape, "anneal_length": schedule_length}, g, log_run_length(n, total))
        level = law.predict(params, N=np.full(checkpoints, n), D=d) + gap
        offset = rng.normal(0.0, sigma_run) if sigma_run else 0.0
        loss = level * np.exp(offset + e)
        frames.append(
            pd.DataFrame(
                {
                    K.N: n,
                    K.D: d,
                    K.C: K.FLOPS_PER_PARAM_TOKEN * n * d,
                    law.target: loss,
                    K.RUN_ID: f"run{i}",
                    K.RUN_TOKENS: total,
                    K.LR: 1e-5 + (1e-3 - 1e-5) * g,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def prior_predictive(law: Law, runs: pd.DataFrame, *, draws: int = 500, seed: int = 0):
    """What the priors imply before seeing data: parameter draws and simulated targets.

    Parameters
    ----------
    law
        The law with its priors.
    runs
        Where to simulate (the law's input columns are read; the target is not).
    draws
        Number of prior draws.
    seed
        Random seed.

    Returns
    -------
    arviz.InferenceData
        Groups ``prior`` (every sampled parameter, dims chain, draw) and ``prior_predictive``
        (the target at each run, dims chain, draw, run).

    Examples
    --------
    >>> from bayescale import ChinchillaLaw
    >>> from bayescale.simulate import isoflop_design
    >>> design = isoflop_design([1e19], 3)
    >>> pp = ChinchillaLaw(priors="hoffmann2022").prior_predictive(design, draws=100)
    >>> pp.prior_predictive["loss"].dims
    ('chain', 'draw', 'run')
    """
    import arviz as az

    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        from .exceptions import ConfigError

        raise ConfigError(f"draws must be a positive integer, got {draws!r}")
    seeds = np.random.SeedSequence(seed).generate_state(len(law.sampled_params) + 1)
    params = {}
    for name, s in zip(law.sampled_params, seeds, strict=False):
        params[name] = draw_prior(law.priors[name], draws, int(s))
    inputs = {x: runs[x].to_numpy(float)[None, :] for x in law.inputs}
    p2 = {k: v[:, None] for k, v in params.items()}
    with np.errstate(over="ignore", invalid="ignore"):
        mu, lik = law.predictive(p2, **inputs)
        y = law.from_observed(law.likelihood.sample(np.random.default_rng(int(seeds[-1])), mu, lik))
    bad = ~np.isfinite(y) | ((y <= 0) if law.observation == "log" else False)
    if bad.any():
        import warnings

        from .exceptions import BayescaleWarning

        warnings.warn(
            f"{bad.mean():.0%} of the prior-predictive {law.target} values overflow (0 or inf): "
            "the priors allow absurd laws at these runs (e.g. a compute-optimal size far from "
            "every run, where an off-optimum noise model grows without bound); consider "
            "narrower or literature priors",
            BayescaleWarning,
            stacklevel=2,
        )
    return az.from_dict(
        prior={k: v[None] for k, v in params.items()},
        prior_predictive={law.target: y[None]},
        dims={law.target: [K.RUN]},
        coords={K.RUN: np.arange(len(runs))},
    )


provide_verb("prior_predictive", prior_predictive)
