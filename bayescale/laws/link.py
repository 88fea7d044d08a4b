"""Links from a task loss to a task score: step 2 of the downstream chain.

A team's scaling law predicts a *task loss* (bits per byte of the correct answer, or a
cross-entropy); what it must decide on is the *score* (an accuracy). Across model sizes and
checkpoints the score follows the loss along an S-curve, from the task's chance level at high
loss to a ceiling at low loss (Bhagia et al. 2024, the OLMo model ladder; Gadre et al. 2024 use
an exponential). The links here are laws whose input is the table's ``loss`` column and whose
target is its ``score`` column, with noise on the score itself; :mod:`bayescale.chain` pairs
their posterior draws with a scaling law's.

Examples
--------
>>> from bayescale import SigmoidLink
>>> link = SigmoidLink(chance=0.25)
>>> link.sampled_params
('floor', 'ceiling', 'k', 'L0', 'sigma')
>>> p = dict(floor=0.25, ceiling=0.95, k=5.0, L0=1.0)
>>> [round(float(link.predict(p, loss=x)), 3) for x in (2.0, 1.0, 0.5)]
[0.255, 0.6, 0.897]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from .. import constants as K
from ..exceptions import ConfigError
from ..priors import Prior
from .base import Law, register_law
from .score import SCORE

__all__ = ["SigmoidLink", "ExpLink", "LINKS", "SCORE", "CEILING_SD", "ceiling_prior"]

#: The floor's prior sd around the task's chance level, and its prior without one.
CHANCE_SD = 0.05
#: The sigmoid's ceiling prior sd below 1: the ideal point (a task loss of zero, all probability
#: on the correct answer, scores 1), with slack for the sigmoid's form. Chosen by held-out runs
#: (``docs/link_ceiling.md``, ``scripts/link_ceiling_study.py``: on the OLMo ladder's 3B runs
#: 0.02 and 0.005 cover 35 of 40, 0.15 33 of 40 with a larger median error).
CEILING_SD = 0.02
FLOOR_WITHOUT_CHANCE = Prior("TruncatedNormal", mu=0.25, sigma=0.25, lower=0.0, upper=1.0)


def ceiling_prior(sd: float = CEILING_SD) -> Prior:
    """The sigmoid's ceiling prior: ``TruncatedNormal(1, sd)`` on [0, 1].

    Examples
    --------
    >>> ceiling_prior(0.15).parameters["sigma"]
    0.15
    """
    return Prior("TruncatedNormal", mu=1.0, sigma=float(sd), lower=0.0, upper=1.0)


class _Link(Law):
    """A link from the loss column to the score column, floored at the task's chance level.

    Parameters
    ----------
    chance
        The task's chance score (0.25 for four-way multiple choice, 0.5 for two-way): the
        floor's prior is ``TruncatedNormal(chance, 0.05)`` on [0, 1]. ``None``: a weak prior,
        ``TruncatedNormal(0.25, 0.25)`` on [0, 1].
    priors, likelihood, nu
        As for :class:`~bayescale.laws.Law` (Student-t noise with 4 degrees of freedom by
        default: single evaluations of a checkpoint scatter with heavy tails).
    """

    inputs: ClassVar[tuple[str, ...]] = (K.LOSS,)
    target: ClassVar[str] = SCORE
    observation: ClassVar[str] = "identity"
    every_checkpoint: ClassVar[bool] = True

    def __init__(
        self,
        priors: Any = None,
        likelihood: Any = "studentt",
        nu: float | None = 4.0,
        chance: float | None = None,
    ) -> None:
        if chance is not None and not (np.isfinite(chance) and 0 <= chance < 1):
            raise ConfigError(f"chance must be a score in [0, 1), got {chance}")
        self.chance = None if chance is None else float(chance)
        super().__init__(priors=priors, likelihood=likelihood, nu=nu)

    def options(self) -> dict[str, Any]:
        return {**super().options(), "chance": self.chance}

    def _floor(self) -> Prior:
        if self.chance is None:
            return FLOOR_WITHOUT_CHANCE
        return Prior("TruncatedNormal", mu=self.chance, sigma=CHANCE_SD, lower=0.0, upper=1.0)


@register_law
class SigmoidLink(_Link):
    """``score(L) = floor + (ceiling - floor) / (1 + exp(k (L - L0)))``: the OLMo ladder's link.

    At high loss the score sits at the floor (chance), at low loss it rises to the ceiling;
    ``L0`` is the loss halfway between, ``k`` the steepness per unit of loss. Defaults: floor
    at the task's chance level (see :class:`_Link`), ceiling ~ TruncatedNormal(1, 0.02) on
    [0, 1] (:data:`CEILING_SD`: the ideal point of Bhagia et al., a task loss of zero scores 1,
    so the S-curve's top is pinned where no fitted run reaches it; a score that cannot reach
    1 at zero loss needs a wider prior, e.g. ``priors={"ceiling": Prior("TruncatedNormal",
    mu=1, sigma=0.15, lower=0, upper=1)}``), k ~ LogNormal(log 5, 1), L0 ~ Normal(1, 1) (in
    units of the loss; no wall at 0 for the sampler to hit), sigma ~ HalfNormal(0.1).

    Examples
    --------
    >>> SigmoidLink().formula
    'score(L) = floor + (ceiling - floor) / (1 + exp(k (L - L0)))'
    """

    name: ClassVar[str] = "link-sigmoid"
    formula: ClassVar[str] = "score(L) = floor + (ceiling - floor) / (1 + exp(k (L - L0)))"
    params: ClassVar[tuple[str, ...]] = ("floor", "ceiling", "k", "L0")
    reference: ClassVar[str] = (
        "Bhagia et al. (2024), Establishing Task Scaling Laws via Compute-Efficient Model "
        "Ladders, arXiv:2412.04403"
    )

    def default_law_priors(self) -> dict[str, Prior]:
        return {
            "floor": self._floor(),
            "ceiling": ceiling_prior(),
            "k": Prior("LogNormal", mu=float(np.log(5.0)), sigma=1.0),
            "L0": Prior("Normal", mu=1.0, sigma=1.0),
        }

    #: The sampler reaches ``L0`` through the tail's amplitude ``u = log(ceiling - floor) +
    #: k L0`` (the score above the floor is ``exp(u - k L)`` where the loss is well above
    #: ``L0``): when the runs see only the foot of the S-curve they fix ``u`` and ``k``, not
    #: ``L0`` and the ceiling apart, a curved ridge in ``(ceiling, L0)`` that mixed poorly
    #: (ceiling's tail ESS ~200 from 4 x 8000 draws on MMLU) and a flat one in ``u``.
    mapped_params: ClassVar[tuple[str, ...]] = ("L0",)

    def from_coordinate(self, name: str, u: Any, values: Mapping[str, Any], xp: Any) -> Any:
        k = values["k"]
        return (u - xp.log(values["ceiling"] - values["floor"])) / k, -xp.log(k)

    def to_coordinate(self, name: str, values: Mapping[str, Any]) -> Any:
        return np.log(values["ceiling"] - values["floor"]) + values["k"] * values["L0"]

    def location(self, p: Mapping[str, Any], logx: Mapping[str, Any], xp: Any) -> Any:
        loss = xp.exp(logx[K.LOSS])
        rise = 1.0 / (1.0 + xp.exp(p["k"] * (loss - p["L0"])))
        return p["floor"] + (p["ceiling"] - p["floor"]) * rise


@register_law
class ExpLink(_Link):
    """``score(L) = floor + k exp(-gamma L)``: Gadre et al.'s error law, ``err = eps - k
    exp(-gamma L)``, written for the score ``1 - err`` (floor = 1 - eps).

    It has no ceiling: the score keeps rising as the loss falls, so it suits losses that stay
    well above the point where the score would pass 1. Defaults: floor at chance,
    k ~ LogNormal(0, 1.5), gamma ~ LogNormal(0, 1), sigma ~ HalfNormal(0.1).

    Examples
    --------
    >>> p = dict(floor=0.25, k=2.0, gamma=2.0)
    >>> round(float(ExpLink().predict(p, loss=1.0)), 3)
    0.521
    """

    name: ClassVar[str] = "link-exp"
    formula: ClassVar[str] = "score(L) = floor + k exp(-gamma L)"
    params: ClassVar[tuple[str, ...]] = ("floor", "k", "gamma")
    reference: ClassVar[str] = (
        "Gadre et al. (2024), Language models scale reliably with over-training and on "
        "downstream tasks, arXiv:2403.08540"
    )

    def default_law_priors(self) -> dict[str, Prior]:
        return {
            "floor": self._floor(),
            "k": Prior("LogNormal", mu=0.0, sigma=1.5),
            "gamma": Prior("LogNormal", mu=0.0, sigma=1.0),
        }

    def location(self, p: Mapping[str, Any], logx: Mapping[str, Any], xp: Any) -> Any:
        return p["floor"] + p["k"] * xp.exp(-p["gamma"] * xp.exp(logx[K.LOSS]))


#: The links by the short name the CLI takes (``--link``).
LINKS: dict[str, type[_Link]] = {"sigmoid": SigmoidLink, "exp": ExpLink}
