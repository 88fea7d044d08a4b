"""The downstream chain: scale -> task loss -> score, with both steps' uncertainty.

Step 1 is a scaling law from (N, D) to a task loss (bits per byte of the correct answer, or a
cross-entropy), fitted like any law (each run's final checkpoint, or the curve model); step 2 a
link from the task loss to the score (:mod:`bayescale.laws.link`), fitted on every checkpoint
past the warm-up (they span the S-curve). The two steps share no parameter and no data point
of the same kind, so the joint posterior is the product of the two and they are fitted in
sequence. A prediction pairs the draws: each posterior draw of step 1 gives a new run's task
loss (law, extrapolation drift, run noise), and a posterior draw of step 2 turns it into a new
run's score (link and its noise), so that the interval carries the law's uncertainty, the
link's, and both noises.

The chain is a :class:`~bayescale.Fit` of step 1 with step 2 in ``fit.link``; it saves to one
directory (step 2 in its ``link/`` folder) and every loss prediction works on it as on any fit.

Examples
--------
>>> import bayescale as bs
>>> chain = bs.fit_chain(bs.ChinchillaLaw(), ladder, chance=0.25, seed=1,
...                      draws=300, chains=2, drift=False)  # doctest: +SKIP
>>> bs.predict_loss(chain, 7e9, 4e12)[["score_median", "score_lower"]]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from . import constants as K
from .curves import MIN_FRACTION
from .exceptions import ConfigError
from .fit import Fit
from .laws.base import Law
from .laws.link import LINKS, SCORE, ceiling_prior

__all__ = ["fit_chain", "link_scores", "make_link", "NO_LINK"]

NO_LINK = (
    "this fit predicts losses only: a score needs a downstream chain (fit_chain; CLI: bayescale "
    "fit ... --score-column COL)"
)


def make_link(
    link: str | Law = "sigmoid", chance: float | None = None, ceiling_sd: float | None = None
) -> Law:
    """The step-2 law: a link's short name (``"sigmoid"``, ``"exp"``, see
    :data:`~bayescale.laws.link.LINKS`) with the task's chance level (the floor's prior) and,
    for the sigmoid, the sd of its ceiling's prior below 1 (default
    :data:`~bayescale.laws.link.CEILING_SD`; wider for a score that cannot reach 1 at zero
    loss); or a link law as it is.

    Examples
    --------
    >>> make_link("exp", chance=0.5).name
    'link-exp'
    >>> make_link("sigmoid", ceiling_sd=0.15).priors["ceiling"].parameters["sigma"]
    0.15
    """
    if isinstance(link, Law):
        if link.target != SCORE or K.LOSS not in link.inputs:
            raise ConfigError(f"the {link.name} law is no link from loss to score")
        if ceiling_sd is not None:
            raise ConfigError("ceiling_sd sets a named sigmoid link's prior: give it in priors")
        return link
    if link not in LINKS:
        raise ConfigError(f"unknown link {link!r}; known: {', '.join(LINKS)}")
    if ceiling_sd is None:
        return LINKS[link](chance=chance)
    if link != "sigmoid":
        raise ConfigError(f"ceiling_sd is the sigmoid link's; the {link} link has no ceiling")
    if not (np.isfinite(ceiling_sd) and ceiling_sd > 0):
        raise ConfigError(f"ceiling_sd must be a positive number, got {ceiling_sd}")
    return LINKS[link](chance=chance, priors={"ceiling": ceiling_prior(ceiling_sd)})


def fit_chain(
    law: Law,
    runs: Any,
    *,
    link: str | Law = "sigmoid",
    chance: float | None = None,
    ceiling_sd: float | None = None,
    columns: Mapping[str, str] | None = None,
    loss_unit: str | None = None,
    flops_per_param_token: float | None = None,
    min_fraction: float = MIN_FRACTION,
    link_options: Mapping[str, Any] | None = None,
    **options: Any,
) -> Fit:
    """Fit the two-step chain on a table with a task loss and a score per row.

    Parameters
    ----------
    law
        Step 1: the scaling law of the task loss (column ``loss``).
    runs
        A CSV path or DataFrame with ``N``, ``D`` (or ``C``), ``loss`` (the task loss) and
        ``score`` (e.g. an accuracy), one row per checkpoint (with a ``run`` column) or per run.
    link, chance, ceiling_sd
        Step 2 (:func:`make_link`): ``"sigmoid"`` (default), ``"exp"`` or a link law; ``chance``
        the task's chance score (the link's floor prior); ``ceiling_sd`` the sigmoid's ceiling
        prior's sd below 1 (default 0.02: a task loss of zero scores 1). A named link has
        Student-t noise (4 degrees of freedom) and treats checkpoints as independent given the
        link (see ``docs/guide.md`` for what that costs).
    columns, loss_unit, flops_per_param_token
        As for :func:`bayescale.load_runs` (e.g. ``{"loss": "bpb_mmlu", "score": "acc_mmlu"}``).
    min_fraction
        Checkpoints before this fraction of their run are left out of step 2 (and of a curve
        fit's step 1); see :func:`bayescale.curves.keep_checkpoints`.
    link_options
        Options of step 2's fit (default: those of step 1, without the drift).
    **options
        Options of step 1's fit (:func:`bayescale.fitting.fit_law`: ``seed``, ``draws``, ...).

    Returns
    -------
    Fit
        Step 1's fit, with step 2 in ``.link``.

    Raises
    ------
    DataError
        Naming the column and rows of a missing, non-numeric or NaN loss or score.
    """
    link_law = make_link(link, chance, ceiling_sd)
    table = law.load_runs(
        runs,
        columns,
        loss_unit=loss_unit,
        flops_per_param_token=flops_per_param_token,
        numeric=(SCORE,),
    )
    step1 = law.fit(table.drop(columns=[SCORE]), min_fraction=min_fraction, **options)
    inherited = {k: v for k, v in options.items() if k not in ("drift", "exclude_top_loss")}
    two = {**inherited, "drift": False, **(link_options or {})}
    step2 = link_law.fit(table, min_fraction=min_fraction, **two)
    step1.link = step2
    step1.data_info["chain"] = {
        "link": link_law.name,
        "score_rows": len(step2.runs),
        "note": f"step 2 fitted on {len(step2.runs)} rows (min_fraction {min_fraction:g})",
    }
    return step1


def link_scores(
    link: Fit, loss: np.ndarray, rng: np.random.Generator, noise: bool = True
) -> np.ndarray:
    """Scores from task-loss draws (``loss``: shape (draws, points)), one posterior draw of the
    link per draw, paired in order (resampled when the counts differ); a new run's score with
    the link's noise, or the link's mean score with ``noise=False``.

    Examples
    --------
    ``chain`` is a chain fit (:func:`fit_chain`)::

        scores = link_scores(chain.link, loss_draws, np.random.default_rng(0))
    """
    loss = np.asarray(loss, dtype=float)
    p = link.draws()
    n_link, n = len(next(iter(p.values()))), loss.shape[0]
    if n_link != n:
        idx = rng.choice(n_link, size=n, replace=n_link < n)
        p = {k: v[idx] for k, v in p.items()}
    # the loss of a far extrapolation can leave the range the link was fitted on; the link
    # is defined for any positive loss, so only non-positive draws are clipped (to tiny)
    x = np.maximum(loss, 1e-12)
    mu, lik = link.law.predictive(p, **{K.LOSS: x})
    if not noise:
        return np.asarray(mu, dtype=float)
    return np.asarray(link.law.likelihood.sample(rng, mu, lik), dtype=float)
