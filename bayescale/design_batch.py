"""Choosing a design's batch: greedy, each run given the ones before, optionally within a total
compute budget.

Every candidate's expected width is an average over simulations of the importance-weighted
width (:func:`bayescale.design_targets.weighted_widths`); after a pick, that pick's simulated
likelihood is added to every simulation's weights, so the next pick is valued given it.

Without a budget the rule is the caller's ranking: expected shrinkage per FLOP, or shrinkage
alone. With a total ``budget`` (FLOPs for the whole batch) a run is eligible only while it fits
in what is left, and the batch is the better (narrower expected interval) of the two greedy
rules: the cost-effective forward selection of Leskovec et al. (2007, "Cost-effective outbreak
detection in networks"), whose better-of-two is within a constant factor of the best batch for
a diminishing-returns objective where either rule alone can be far off (per FLOP fills the
budget with cheap runs that teach little; per run spends it on one expensive run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .design_targets import weighted_widths

__all__ = [
    "Batch",
    "Problem",
    "choose_batch",
    "evaluate",
    "greedy_batch",
    "toy_problem",
    "RULES",
]

#: The greedy rules: marginal shrinkage per FLOP, or marginal shrinkage alone.
RULES = ("per_flop", "shrinkage")


def evaluate(
    values: np.ndarray,
    logw: np.ndarray,
    loglik: list[np.ndarray],
    chosen: list[int],
    interval: float,
    min_ess: float,
) -> tuple[pd.DataFrame, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Expected width, median ESS and degenerate share of each candidate not yet chosen, and
    its per-simulation widths and ESS.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> values = rng.normal(size=400)
    >>> loglik = [np.zeros((8, 400)), -0.5 * (values[None, :] - rng.normal(size=(8, 1))) ** 2]
    >>> table, _ = evaluate(values, np.zeros((8, 400)), loglik, [], 0.9, 50.0)
    >>> bool(table["expected_width"][1] < table["expected_width"][0])  # informative run 1
    True
    """
    n = len(loglik)
    out = {name: np.full(n, np.nan) for name in ("expected_width", "ess", "degenerate")}
    each = {}
    for j in range(n):
        if j in chosen:
            continue
        widths, ess = each[j] = weighted_widths(values, logw + loglik[j], interval)
        out["expected_width"][j] = widths.mean()
        out["ess"][j] = np.median(ess)
        out["degenerate"][j] = np.mean(ess < min_ess)
    return pd.DataFrame(out), each


@dataclass
class Batch:
    """A greedy batch: ``chosen`` (candidate indices in the order picked), ``rows`` (per pick:
    expected width of the batch so far, shrinkage, the pick's own shrinkage per FLOP, ESS,
    degenerate share), ``per_sim`` (per pick, its per-simulation widths and ESS), ``first``
    (the table of every candidate before any pick), ``width`` (the final expected width) and
    ``rule``."""

    rule: str
    chosen: list[int] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    per_sim: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    first: pd.DataFrame | None = None
    width: float = np.inf


@dataclass(frozen=True)
class Problem:
    """What a batch is chosen from: the target's draws (``values``), each candidate's
    simulated log-likelihood under every draw (``loglik``, one sims x draws matrix per
    candidate), the candidates' ``cost``, the current ``width``, the ``interval`` and
    ``min_ess``."""

    values: np.ndarray
    loglik: list[np.ndarray]
    cost: np.ndarray
    width: float
    interval: float
    min_ess: float


def toy_problem(seed: int = 1) -> Problem:
    """A small :class:`Problem` for examples: a target of 400 standard-normal draws and three
    candidates whose simulated outcomes pin it to 0.3, 1 and 3 (8 simulations), costing 10, 1
    and 1.

    Examples
    --------
    >>> toy_problem().cost.tolist()
    [10.0, 1.0, 1.0]
    """
    rng = np.random.default_rng(seed)
    values = rng.normal(size=400)
    y = rng.normal(size=(8, 1))
    loglik = [-0.5 * (values[None, :] - y) ** 2 / s**2 for s in (0.3, 1.0, 3.0)]
    return Problem(values, loglik, np.array([10.0, 1.0, 1.0]), 3.3, 0.9, 50.0)


def greedy_batch(
    problem: Problem, batch: int, rule: str = "per_flop", budget: float | None = None
) -> Batch:
    """Up to ``batch`` runs, greedily by ``rule`` (``"per_flop"`` or ``"shrinkage"``), each
    eligible while its cost fits in what is left of ``budget`` (none: no limit). Fewer are
    chosen when nothing left fits.

    Examples
    --------
    >>> problem = toy_problem()  # candidates 0-2: precise and dear, then cheap and vaguer
    >>> greedy_batch(problem, 2, "shrinkage").chosen
    [0, 1]
    >>> greedy_batch(problem, 2, "shrinkage", budget=5.0).chosen
    [1, 2]
    """
    values, loglik, cost, width = problem.values, problem.loglik, problem.cost, problem.width
    out = Batch(rule=rule)
    logw = np.zeros((loglik[0].shape[0], len(values)))
    before, left = width, np.inf if budget is None else float(budget)
    for _ in range(batch):
        table, each = evaluate(values, logw, loglik, out.chosen, problem.interval, problem.min_ess)
        gain = ((before - table["expected_width"]) / width).to_numpy()
        table["shrinkage"] = 1.0 - table["expected_width"] / width
        table["shrinkage_per_flop"] = gain / cost
        if out.first is None:
            out.first = table
        score = gain / cost if rule == "per_flop" else gain.copy()
        score[cost > left * (1 + 1e-9)] = np.nan
        if np.all(np.isnan(score)):
            break
        j = int(np.nanargmax(score))
        out.per_sim.append(each[j])
        out.rows.append(table.iloc[j].to_dict())
        logw = logw + loglik[j]
        before = float(table["expected_width"].iloc[j])
        out.chosen.append(j)
        left -= cost[j]
    out.width = before
    return out


def choose_batch(
    problem: Problem, batch: int, rank: str = "per_flop", budget: float | None = None
) -> Batch:
    """The batch: by ``rank`` without a budget; within ``budget``, the better of the two
    greedy rules (the narrower expected interval; on a tie, the cheaper batch).

    Examples
    --------
    >>> problem = toy_problem()  # candidates 0-2: precise and dear, then cheap and vaguer
    >>> b = choose_batch(problem, 2, budget=10.0)
    >>> b.chosen, b.rule
    ([0], 'shrinkage')
    """
    if budget is None:
        return greedy_batch(problem, batch, rank)
    found = [greedy_batch(problem, batch, rule, budget) for rule in RULES]
    return min(found, key=lambda b: (b.width, float(np.sum(problem.cost[b.chosen]))))
