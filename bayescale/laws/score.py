"""Laws for metrics that rise with scale (accuracy, win rate, reward): column ``score``.

The noise is on the score itself (``observation = "identity"``): scores can be 0 or negative.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from .. import constants as K
from ..priors import Prior
from .base import Law, register_law

__all__ = ["ScoreLogLinear", "ScoreSaturating", "SCORE"]

SCORE = "score"


@register_law
class ScoreLogLinear(Law):
    """``score(D) = a + b log D``: the log-linear trend of downstream metrics with data.

    Defaults: a ~ Normal(0, 5), b ~ Normal(0, 1), sigma ~ HalfNormal(0.1) (scores in [0, 1]).

    Examples
    --------
    >>> from bayescale import ScoreLogLinear
    >>> ScoreLogLinear().sampled_params
    ('a', 'b', 'sigma')
    """

    name: ClassVar[str] = "score-loglinear"
    formula: ClassVar[str] = "score(D) = a + b log D"
    params: ClassVar[tuple[str, ...]] = ("a", "b")
    inputs: ClassVar[tuple[str, ...]] = (K.D,)
    target: ClassVar[str] = SCORE
    observation: ClassVar[str] = "identity"
    reference: ClassVar[str] = "log-linear trend of benchmark scores with training data"

    def default_law_priors(self) -> dict[str, Prior]:
        return {"a": Prior("Normal", mu=0.0, sigma=5.0), "b": Prior("Normal", mu=0.0, sigma=1.0)}

    def location(self, p: Mapping[str, Any], logx: Mapping[str, Any], xp: Any) -> Any:
        return p["a"] + p["b"] * logx[K.D]


@register_law
class ScoreSaturating(Law):
    """``score(D) = ceiling - A / D**alpha``: a power law in the gap to a ceiling.

    With ``ceiling = 1`` this is a power law in ``1 - score`` (error rate). Defaults:
    ceiling ~ TruncatedNormal(1, 0.5, >0), A ~ LogNormal(0, 3),
    alpha ~ TruncatedNormal(0.3, 0.25, >0).

    Examples
    --------
    >>> from bayescale import ScoreSaturating
    >>> ScoreSaturating().sampled_params
    ('ceiling', 'A', 'alpha', 'sigma')
    """

    name: ClassVar[str] = "score-saturating"
    formula: ClassVar[str] = "score(D) = ceiling - A / D^alpha"
    params: ClassVar[tuple[str, ...]] = ("ceiling", "A", "alpha")
    inputs: ClassVar[tuple[str, ...]] = (K.D,)
    amplitudes: ClassVar[dict[str, tuple[str, str]]] = {"A": ("alpha", K.D)}
    target: ClassVar[str] = SCORE
    observation: ClassVar[str] = "identity"
    reference: ClassVar[str] = "power law in the error rate 1 - score, bounded by a ceiling"

    def default_law_priors(self) -> dict[str, Prior]:
        return {
            "ceiling": Prior("TruncatedNormal", mu=1.0, sigma=0.5, lower=0.0),
            "A": Prior("LogNormal", mu=0.0, sigma=3.0),
            "alpha": Prior("TruncatedNormal", mu=0.3, sigma=0.25, lower=0.0),
        }

    def location(self, p: Mapping[str, Any], logx: Mapping[str, Any], xp: Any) -> Any:
        return p["ceiling"] - xp.exp(p["log_A"] - p["alpha"] * logx[K.D])
