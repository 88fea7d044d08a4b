"""Which run to train next: candidate runs ranked by how much they are expected to narrow the
interval that matters.

A *target* is one quantity computed per posterior draw: the compute-optimal model size
(``"n_opt"``), tokens (``"d_opt"``) or tokens per parameter (``"tokens_per_param"``) at a
budget, or the loss (``"loss"``) of the compute-optimal run at a budget or of a planned
``(N, D)``. For a candidate run, :func:`design_runs` estimates the width its 90% interval would
have once that run is trained, by *preposterior simulation*: draw parameters from the posterior,
simulate the candidate's loss with the fit's run-to-run noise, condition on it, and average the
resulting widths over the simulations. Conditioning reweights the existing draws by the new
run's likelihood (importance sampling: exact in the limit of many draws, no refit); where the
weights degenerate (effective sample size below ``min_ess``) the estimate is unreliable, which is
counted (``degenerate``), and the chosen runs' degenerate simulations are refitted by MCMC
instead (``refit=True``, the default, up to ``max_refits``; ``refits`` counts them; a warning
says how many are left). Candidates are ranked by expected shrinkage per FLOP; ``batch=k``
chooses ``k`` runs greedily, each given the ones before it (their simulated losses are kept, so
a batch's simulations are joint).

The simulated runs are new runs at the fitted law, with its noise, but without the
extrapolation drift of :mod:`bayescale.drift`: the drift is what a prediction far beyond the
fitted runs adds, not what training one more run measures.

Examples
--------
``fit`` is a fitted Chinchilla law::

    plan = bs.design_runs(fit, "tokens_per_param", compute=5.88e23, max_run_compute=1e21)
    plan.candidates.head()          # N, D, C, expected_width, shrinkage, shrinkage_per_flop
    plan.to_dict()                  # the CLI's JSON (``bayescale design DIR ... --json``)
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import constants as K
from .candidates import candidate_grid, read_candidates
from .checks import check_interval
from .design_batch import RULES, Problem, choose_batch
from .design_linear import linear_check, linear_variance
from .design_targets import (
    TARGETS,
    check_target,
    law_inputs,
    target_draws,
    target_values,
    weighted_widths,
)
from .exceptions import ConfigError, ConvergenceWarning
from .fit import Fit
from .predict import fit_k
from .summaries import positive_values

__all__ = [
    "TARGETS",
    "Design",
    "design_runs",
    "refit_target",
    "target_draws",
    "weighted_widths",
]

#: Below this effective sample size, a simulation's reweighted draws are too few to trust.
MIN_ESS = 50.0


# ---------------------------------------------------------------------- preposterior
def _at(value: Any, j: int) -> Any:
    """Candidate ``j``'s value per draw (a flat array) from the likelihood's parameters (per
    draw and candidate, per draw, or one scalar for all)."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim < 2:
        return arr if arr.ndim else float(arr)
    return arr[:, j if arr.shape[1] > 1 else 0]


class _Simulations:
    """Simulated losses of every candidate (sims x candidates), each simulation from one
    posterior draw, and their log-likelihood under every draw: one (sims x draws) matrix per
    candidate, computed once."""

    def __init__(
        self,
        fit: Fit,
        draws: dict[str, np.ndarray],
        candidates: pd.DataFrame,
        sims: int,
        seed: int,
        k: float,
    ) -> None:
        law = fit.law
        inputs = law_inputs(fit, candidates[K.N].to_numpy(), candidates[K.D].to_numpy(), k)
        mu, lik = law.predictive(draws, **inputs)
        n_draws = next(iter(draws.values())).shape[0]
        mu = np.broadcast_to(mu, (n_draws, len(candidates)))
        self.mu = mu
        # each candidate's noise variance, averaged over draws (for the linear check)
        noise = np.asarray(law.noise_variance(draws, **inputs), dtype=float)
        self.noise_var = np.broadcast_to(noise, mu.shape).mean(axis=0)
        gen = np.random.default_rng(seed).integers(n_draws, size=sims)
        ys, self.loglik = [], []
        for j in range(len(candidates)):
            at_j = {name: _at(v, j) for name, v in lik.items()}
            # common random numbers: every candidate's simulations come from the same draws
            # and the same noise, so differences between candidates are not Monte Carlo noise
            y = law.likelihood.sample(
                np.random.default_rng(seed + 1),
                mu[gen, j],
                {n: v[gen] if np.ndim(v) else v for n, v in at_j.items()},
            )
            ys.append(y)
            row = {n: v[None, :] if np.ndim(v) else v for n, v in at_j.items()}
            self.loglik.append(
                np.asarray(law.likelihood.logpdf(y[:, None], mu[None, :, j], row), dtype=float)
            )
        self.y = np.column_stack(ys)


# ----------------------------------------------------------------------------- result
@dataclass
class Design:
    """What :func:`design_runs` found.

    Attributes
    ----------
    target, compute, plan, interval
        The quantity (at ``compute``, or at the planned ``(N, D)`` in ``plan``) and the interval.
    current : dict
        Its ``median``, ``lower``, ``upper`` and ``width`` now.
    candidates : pandas.DataFrame
        Every candidate, best first (by ``shrinkage_per_flop``, or ``shrinkage`` under
        ``rank="shrinkage"``): ``N``, ``D``, ``C``,
        ``expected_width`` (of the interval once the run is trained), ``shrinkage`` (1 -
        expected_width / current width), ``shrinkage_per_flop``, ``ess`` (the median effective
        sample size of the reweighted draws) and ``degenerate`` (the share of simulations whose
        weights fell below ``min_ess``).
    picks : pandas.DataFrame
        The greedy batch in the order chosen, each given the ones before: the same columns, with
        ``expected_width`` and ``shrinkage`` of the batch so far, ``shrinkage_per_flop`` the
        pick's own (its marginal shrinkage over its cost) and ``refits`` (simulations refitted).
    budget, rule
        The batch's total compute limit (None: none) and the greedy rule that chose it
        (``"per_flop"`` or ``"shrinkage"``).
    linear : dict or None
        For a batch of several runs, the linear check
        (:func:`~bayescale.design_linear.linear_check`, on the log of a positive target):
        ``chosen_sd_ratio``, the target's expected sd after the batch over its sd now;
        ``best_sd_ratio``, the same for the best set of as many runs at no more compute (or
        within ``budget``), found by search; ``best``, those runs (``N``, ``D``, ``C`` each).
        How near the greedy batch is to the best by that approximation.
    """

    target: str
    compute: float | None
    plan: tuple[float, float] | None
    interval: float
    current: dict[str, float]
    candidates: pd.DataFrame
    picks: pd.DataFrame
    sims: int
    draws: int
    notes: list[str]
    budget: float | None = None
    rule: str = "per_flop"
    linear: dict[str, Any] | None = None

    @property
    def _is_batch(self) -> bool:
        """Whether a batch was asked for (its picks are the answer, not the ranking)."""
        return len(self.picks) > 1 or self.budget is not None

    def __repr__(self) -> str:
        cur = self.current
        where = f"at C={self.compute:.3g}" if self.compute else "of the planned run"
        best = self.picks if self._is_batch else self.candidates.head(5)
        lines = [
            f"Design: {self.target} {where}, now {cur['median']:.4g} [{cur['lower']:.4g}, "
            f"{cur['upper']:.4g}] (width {cur['width']:.4g}); {len(self.candidates)} "
            f"candidates, {self.sims} simulations each",
            best[[K.N, K.D, K.C, "expected_width", "shrinkage", "shrinkage_per_flop"]].to_string(
                float_format=lambda v: f"{v:.4g}"
            ),
            *self.notes,
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape

        head = repr(self).split("\n", 1)[0]
        best = self.picks if self._is_batch else self.candidates.head(10)
        return f"<p>{escape(head)}</p>" + best.to_html(float_format=lambda v: f"{v:.4g}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``target``, ``compute``, ``current``, ``budget``, ``rule``, and
        ``candidates`` best first (the batch's picks when ``batch > 1`` or under a budget, else
        every candidate)."""
        rows = self.picks if self._is_batch else self.candidates
        keys = [
            K.N,
            K.D,
            K.C,
            "expected_width",
            "shrinkage",
            "shrinkage_per_flop",
            "ess",
            "degenerate",
        ]
        return {
            "target": self.target,
            "compute": self.compute,
            **({"N": self.plan[0], "D": self.plan[1]} if self.plan else {}),
            "interval": self.interval,
            "current": dict(self.current),
            "batch": len(self.picks),
            "budget": self.budget,
            "rule": self.rule,
            "sims": self.sims,
            "draws": self.draws,
            "candidates": [
                {key: float(r[key]) for key in keys + (["refits"] if "refits" in r else [])}
                for _, r in rows.iterrows()
            ],
            "notes": list(self.notes),
            **({"linear": self.linear} if self.linear else {}),
        }


# ----------------------------------------------------------------------------- design
def design_runs(
    fit: Fit,
    target: str = "tokens_per_param",
    *,
    compute: float | None = None,
    N: float | None = None,
    D: float | None = None,
    candidates: str | os.PathLike | pd.DataFrame | None = None,
    max_run_compute: float | None = None,
    min_run_compute: float | None = None,
    batch: int = 1,
    sims: int = 128,
    draws: int = 2000,
    interval: float = K.DEFAULT_INTERVAL,
    seed: int | None = None,
    min_ess: float = MIN_ESS,
    rank: str = "per_flop",
    budget: float | None = None,
    refit: bool = True,
    max_refits: int = 20,
    k: float | None = None,
    group: str | None = None,
) -> Design:
    """Rank candidate runs by the expected shrinkage of ``target``'s interval per FLOP.

    Parameters
    ----------
    fit
        A fit of a law of N and D.
    target
        ``"n_opt"``, ``"d_opt"``, ``"tokens_per_param"`` or ``"loss"`` at ``compute``; or
        ``"loss"`` of the planned run ``N``, ``D``.
    candidates
        A table (or CSV) of candidate runs with ``N``, ``D`` and optionally ``C`` (cost); default
        :func:`candidate_grid` up to ``max_run_compute``. With both, candidates above
        ``max_run_compute`` are left out.
    batch
        Runs to choose, greedily, each given the ones before.
    rank
        ``"per_flop"`` (default): by expected shrinkage per FLOP, when compute is what is
        spent; ``"shrinkage"``: by expected shrinkage alone, when the number of runs is (each
        within ``max_run_compute``).
    budget
        Total compute (FLOPs) of the batch: runs are chosen while they fit in what is left
        (fewer than ``batch`` when nothing more fits, with a note), and the batch is the better
        of the two greedy rules, per FLOP and per run (``Design.rule`` says which;
        :mod:`bayescale.design_batch`). ``rank`` then only orders ``candidates``.
    sims, draws
        Simulations per candidate, and posterior draws used (a random subset when the fit has
        more).
    min_ess, refit, max_refits
        A simulation whose reweighted draws have an effective sample size below ``min_ess`` is
        degenerate. With ``refit`` (default), those of the chosen runs are refitted (at most
        ``max_refits``: :func:`refit_target`; fits of final losses without groups); a warning
        says how many are left.

    Returns
    -------
    Design
    """
    target, compute, plan = check_target(target, compute, N, D)
    interval = check_interval(interval)
    if rank not in RULES:
        raise ConfigError(f"rank must be 'per_flop' or 'shrinkage', got {rank!r}")
    if budget is not None:
        budget = float(positive_values("budget", budget)[0])
    for name, value, least in (("batch", batch, 1), ("sims", sims, 8), ("draws", draws, 100)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ConfigError(f"{name} must be an integer >= {least}, got {value!r}")
    k = fit_k(fit, k)
    if candidates is None:
        if max_run_compute is None:
            raise ConfigError(
                "give candidate runs (candidates=, CLI --candidates) or a "
                "max_run_compute for a grid of them"
            )
        cand = candidate_grid(fit, max_run_compute, min_run_compute=min_run_compute, k=k)
    else:
        cand = read_candidates(candidates, k)
        if max_run_compute is not None:
            top = float(positive_values("max_run_compute", max_run_compute)[0])
            cand = cand[cand[K.C] <= top * (1 + 1e-9)].reset_index(drop=True)
            if cand.empty:
                raise ConfigError(f"no candidate run costs at most max_run_compute={top:g}")
    if budget is not None and not cand[K.C].min() <= budget * (1 + 1e-9):
        raise ConfigError(f"no candidate run costs at most budget={budget:g}")
    if batch > len(cand):
        raise ConfigError(f"batch {batch} is larger than the {len(cand)} candidate runs")
    seed = int(fit.settings.get("seed", 0) if seed is None else seed)
    full = fit.draws(group)
    n_all = next(iter(full.values())).shape[0]
    if n_all > draws:
        keep = np.sort(np.random.default_rng(seed).choice(n_all, draws, replace=False))
        full = {name: v[keep] for name, v in full.items()}
    values = target_values(fit, full, target, compute, plan, k)
    # shrinkage compares widths of one estimator: the weighted one, here with equal weights
    width = float(weighted_widths(values, np.zeros((1, len(values))), interval)[0][0])
    q = (1 - interval) / 2
    lo, med, hi = np.quantile(values, [q, 0.5, 1 - q])
    current = {
        "median": float(med),
        "lower": float(lo),
        "upper": float(hi),
        "width": float(hi - lo),
    }

    sim = _Simulations(fit, full, cand, sims, seed, k)
    cost = cand[K.C].to_numpy(float)
    problem = Problem(values, sim.loglik, cost, width, interval, min_ess)
    chosen_batch = choose_batch(problem, batch, rank, budget)
    chosen, per_sim, ranking = chosen_batch.chosen, chosen_batch.per_sim, chosen_batch.first
    picks = [
        {**cand.iloc[j].to_dict(), **row} for j, row in zip(chosen, chosen_batch.rows, strict=True)
    ]
    picked = pd.DataFrame(picks)
    picked.insert(0, "pick", np.arange(1, len(picked) + 1))
    picked["refits"] = 0
    notes: list[str] = []
    can_refit = not (fit.law.grouped or fit.law.likelihood.curve)
    if refit and can_refit:

        def refit_width(rows: pd.DataFrame, seed_m: int) -> float:
            n, d = plan or (None, None)
            v = refit_target(fit, rows, target, compute=compute, N=n, D=d, k=k, seed=seed_m)
            return float(weighted_widths(v, np.zeros((1, len(v))), interval)[0][0])

        _refit_picks(
            fit,
            cand,
            sim,
            chosen,
            per_sim,
            picked,
            width,
            cost,
            min_ess,
            max_refits,
            refit_width,
            seed,
        )
    stuck = picked[picked["degenerate"] > 0]
    if len(stuck):
        share = float(stuck["degenerate"].max())
        if not refit:
            hint = "refit=True (CLI --refit) refits those simulations"
        elif not can_refit:
            hint = "a fit with groups or curves is not refitted"
        else:
            hint = f"more than max_refits={max_refits} to refit"
        notes.append(
            f"importance weights degenerate (ESS < {min_ess:g}) in up to {share:.0%} of the "
            f"simulations of {len(stuck)} chosen run(s): their expected widths lean on few "
            f"draws ({hint})"
        )
    for note in notes:
        warnings.warn(note, ConvergenceWarning, stacklevel=2)
    linear = None
    if len(chosen) > 1:  # how near the batch is to the best set, by the linear approximation
        scaled = np.log(values) if np.all(values > 0) else values
        linear = linear_check(linear_variance(scaled, sim.mu, sim.noise_var), chosen, cost, budget)
        linear["best"] = cand.iloc[linear["best"]][[K.N, K.D, K.C]].to_dict("records")
        notes.append(
            f"linear check: the batch leaves {linear['chosen_sd_ratio']:.2f} of the target's sd, "
            f"the best {len(chosen)} runs at no more compute {linear['best_sd_ratio']:.2f} "
            "(Design.linear)"
        )
    if len(chosen) < batch:  # a fact about the budget, not a warning
        notes.append(
            f"{len(chosen)} of {batch} runs fit in the budget of {budget:g} FLOPs "
            f"({float(cost[chosen].sum()):.3g} spent)"
        )
    ranked = pd.concat([cand, ranking], axis=1)
    order = "shrinkage_per_flop" if rank == "per_flop" else "shrinkage"
    ranked = ranked.sort_values(order, ascending=False, kind="stable")
    return Design(
        target=target,
        compute=compute,
        plan=plan,
        interval=interval,
        current=current,
        candidates=ranked.reset_index(drop=True),
        picks=picked,
        sims=sims,
        draws=len(values),
        notes=notes,
        budget=budget,
        rule=chosen_batch.rule,
        linear=linear,
    )


def _refit_picks(
    fit: Fit,
    cand: pd.DataFrame,
    sim: _Simulations,
    chosen: list[int],
    per_sim: list[tuple[np.ndarray, np.ndarray]],
    picked: pd.DataFrame,
    width: float,
    cost: np.ndarray,
    min_ess: float,
    max_refits: int,
    refit_width: Any,
    seed: int,
) -> None:
    """Replace the degenerate simulations of the chosen runs by refits (at most
    ``max_refits`` in all), updating ``picked`` in place (``degenerate``: the share left)."""
    budget, before = max_refits, width
    for step, j in enumerate(chosen):
        widths, ess = per_sim[step]
        widths = widths.copy()
        bad = np.flatnonzero(ess < min_ess)[:budget] if budget > 0 else np.array([], int)
        left = int(np.sum(ess < min_ess)) - len(bad)
        so_far = chosen[: step + 1]
        for m in bad:
            rows = cand.iloc[so_far][[K.N, K.D]].assign(
                **{fit.law.target: fit.law.from_observed(sim.y[m, so_far])}
            )
            widths[m] = refit_width(rows, seed + int(m))
        budget -= len(bad)
        expected = float(widths.mean())
        picked.loc[step, "refits"] = len(bad)
        picked.loc[step, "expected_width"] = expected
        picked.loc[step, "shrinkage"] = 1.0 - expected / width
        picked.loc[step, "shrinkage_per_flop"] = (before - expected) / width / cost[j]
        picked.loc[step, "degenerate"] = left / len(widths)
        before = expected


def refit_target(
    fit: Fit,
    added: pd.DataFrame,
    target: str,
    *,
    compute: float | None = None,
    N: float | None = None,
    D: float | None = None,
    k: float | None = None,
    seed: int = 0,
    draws: int = 500,
) -> np.ndarray:
    """The target's draws after refitting ``fit``'s law to its runs plus ``added`` (columns
    ``N``, ``D`` and the law's target): what :func:`design_runs`' reweighting approximates,
    for checks and for degenerate simulations. Fits of final losses without groups only."""
    if fit.law.grouped or fit.law.likelihood.curve:
        raise ConfigError("refits need a fit of final losses without groups")
    target, compute, plan = check_target(target, compute, N, D)
    k = fit_k(fit, k)
    cols = [K.N, K.D, fit.law.target]
    new = added[cols].assign(**{K.C: k * added[K.N] * added[K.D]})
    runs = pd.concat([fit.runs[cols + [K.C]], new], ignore_index=True)
    refitted = fit.law.fit(runs, draws=draws, seed=seed, drift=False)
    return target_values(refitted, refitted.draws(), target, compute, plan, k)
