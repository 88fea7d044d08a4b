"""bayescale: Bayesian scaling-law modelling.

Put priors on the terms of a scaling law, sample the posterior with MCMC, and carry the
uncertainty into every answer a decision needs.

>>> import bayescale as bs
>>> law = bs.ChinchillaLaw()
>>> law.formula
'L(N, D) = E + A / N^alpha + B / D^beta'
"""

from __future__ import annotations

import warnings as _warnings

with _warnings.catch_warnings():  # ArviZ announces its 1.0 refactor on import; not actionable here
    _warnings.filterwarnings("ignore", category=FutureWarning)
    import arviz as _arviz  # noqa: F401

from .chain import fit_chain
from .compare import compare
from .data import drop_top_loss, load_runs
from .design import Design, design_runs
from .exceptions import (
    BayescaleError,
    BayescaleWarning,
    ConfigError,
    ConvergenceWarning,
    DataError,
    DataWarning,
    ExtrapolationWarning,
    FitFileError,
)
from .fit import Fit, load_fit
from .fitting import fit_law  # noqa: F401  (provides Law.fit)
from .io import package_version as _package_version
from .laws import (
    LAWS,
    BrokenPowerLaw,
    ChinchillaLaw,
    DataConstrainedLaw,
    ExpLink,
    IsoFLOPLaw,
    KaplanC,
    KaplanD,
    KaplanJoint,
    KaplanN,
    Law,
    ScoreLogLinear,
    ScoreSaturating,
    SigmoidLink,
)
from .learned_priors import LearnedPriors, learn_priors
from .likelihood import Likelihood
from .predict import (
    allocation_exponents,
    compute_for_loss,
    expected_gain,
    loss_draws,
    optimal_allocation,
    predict_loss,
    prob_loss_below,
    prob_score_above,
    suboptimality,
)
from .priors import Prior
from .simulate import prior_predictive  # noqa: F401  (provides Law.prior_predictive)

__version__ = _package_version()

__all__ = [
    "LAWS",
    "BayescaleError",
    "BrokenPowerLaw",
    "ChinchillaLaw",
    "DataConstrainedLaw",
    "Design",
    "ExpLink",
    "fit_chain",
    "IsoFLOPLaw",
    "KaplanC",
    "KaplanD",
    "KaplanJoint",
    "KaplanN",
    "ScoreLogLinear",
    "ScoreSaturating",
    "SigmoidLink",
    "ConfigError",
    "BayescaleWarning",
    "ConvergenceWarning",
    "DataError",
    "DataWarning",
    "ExtrapolationWarning",
    "Fit",
    "FitFileError",
    "Law",
    "LearnedPriors",
    "Likelihood",
    "Prior",
    "allocation_exponents",
    "compare",
    "compute_for_loss",
    "design_runs",
    "expected_gain",
    "learn_priors",
    "loss_draws",
    "optimal_allocation",
    "predict_loss",
    "prob_loss_below",
    "prob_score_above",
    "suboptimality",
    "drop_top_loss",
    "load_fit",
    "load_runs",
]
