"""Priors learned from earlier fits: how a law's parameters vary from one data set to the next.

A team that has fitted a law on several data sets (its own earlier studies, or the sets shipped
in ``data/``) knows more about the next one than the default priors say, but less than any one
fit says: exponents differ between data sets, tokenizers and training setups. :func:`learn_priors`
turns fits into a prior for a new data set by a random-effects meta-analysis of each parameter
(:func:`bayescale.meta_analysis.predictive`): the population mean and the spread between data
sets, both uncertain, give the predictive distribution of the parameter in a data set not yet
seen. Amplitudes are learned on the log scale (LogNormal priors), parameters that must be
positive get a Normal truncated at zero.

Each parameter's prior is learned on its own (a product of marginals): across data sets an
amplitude and its exponent move together, and independent priors are the wider, safer summary.
The named prior set ``across_datasets`` of the Chinchilla-type laws was learned this way from the
four shipped data sets (``scripts/learned_prior.py``, ``docs/learned_prior.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .exceptions import ConfigError
from .fit import Fit
from .meta_analysis import predictive
from .priors import Prior

__all__ = ["LearnedPriors", "learn_priors", "fit_estimates"]

#: Prior distributions whose support is the positive reals: a learned prior keeps them positive.
_POSITIVE = ("HalfNormal", "TruncatedNormal", "HalfStudentT", "Gamma", "Exponential")


@dataclass(frozen=True)
class LearnedPriors:
    """The result of :func:`learn_priors`.

    Attributes
    ----------
    priors
        The learned prior of each parameter, ready for ``Law(priors=...)``.
    estimates
        Each data set's estimate (posterior mean and sd, amplitudes on the log scale), one row
        per data set, columns ``(parameter, "mean" | "sd")``.
    spread
        Per parameter: the predictive ``mean`` and ``sd`` (the prior's centre and width on the
        learned scale), ``tau`` (posterior median of the spread between data sets), ``scale``
        (``"log"`` or ``"identity"``) and ``n`` (data sets).
    """

    priors: dict[str, Prior]
    estimates: pd.DataFrame
    spread: pd.DataFrame


def _log_scale(law: Any, name: str, prior: Prior) -> bool:
    return name in law.amplitudes or prior.distribution == "LogNormal"


def fit_estimates(fit: Fit, params: Sequence[str] | None = None) -> dict[str, tuple[float, float]]:
    """Posterior mean and variance of each law parameter (amplitudes and LogNormal-prior
    parameters on the log scale), chains pooled.

    Examples
    --------
    >>> est = fit_estimates(fit)
    >>> sorted(est)
    ['A', 'B', 'E', 'alpha', 'beta']
    >>> mean, var = est["alpha"]
    >>> var > 0
    True
    """
    law = fit.law
    if law.grouped:
        raise ConfigError(
            "learn_priors takes fits without groups: fit each group (data set) on its own"
        )
    defaults = law.default_law_priors()
    out = {}
    post = fit.posterior
    for name in params or law.params:
        values = post[name].to_numpy().ravel()
        if _log_scale(law, name, defaults[name]):
            values = np.log(values)
        out[name] = (float(values.mean()), float(values.var()))
    return out


def _study(fits: Fit | Sequence[Fit], params: Sequence[str]) -> dict[str, tuple[float, float]]:
    """One data set's estimate from one fit, or from several fits of its parts (the mean of
    their means; its variance: their mean variance and their spread, over the count)."""
    fits = [fits] if isinstance(fits, Fit) else list(fits)
    if not fits:
        raise ConfigError("a data set needs at least one fit")
    parts = [fit_estimates(f, params) for f in fits]
    out = {}
    for name in params:
        means = np.array([p[name][0] for p in parts])
        variances = np.array([p[name][1] for p in parts])
        k = len(parts)
        spread = means.var(ddof=1) if k > 1 else 0.0
        out[name] = (float(means.mean()), float((variances.mean() + spread) / k))
    return out


def learn_priors(
    studies: Mapping[str, Fit | Sequence[Fit]], params: Sequence[str] | None = None
) -> LearnedPriors:
    """Priors for a new data set, learned from fits of a law on other data sets.

    Parameters
    ----------
    studies
        Data set name -> its fit, or a list of fits of its parts (configurations of one study:
        they count as one data set, with their mean as its estimate).
    params
        The parameters to learn (default: the law parameters all the fits share, in the first
        fit's order).

    Returns
    -------
    LearnedPriors
        The priors, each data set's estimates and the spread between data sets. The spread's
        prior is ``HalfNormal`` with the scale of the first fit's default prior of the
        parameter (on the learned scale), the population mean's is flat.

    Examples
    --------
    >>> learned = learn_priors({"first": fit, "second": fit})
    >>> learned.priors["alpha"].distribution
    'TruncatedNormal'
    >>> learned.spread.loc["alpha", "n"]
    2
    """
    if not studies:
        raise ConfigError("learn_priors needs the fits of at least one data set")
    first = next(iter(studies.values()))
    law = (first if isinstance(first, Fit) else first[0]).law
    if params is None:
        shared = set(law.params)
        for fits in studies.values():
            for f in [fits] if isinstance(fits, Fit) else fits:
                shared &= set(f.law.params)
        params = [p for p in law.params if p in shared]
    defaults = law.default_law_priors()
    unknown = [p for p in params if p not in defaults]
    if unknown:
        raise ConfigError(f"{law.name} has no parameter(s) {unknown}")
    per_study = {name: _study(fits, params) for name, fits in studies.items()}
    priors, rows = {}, {}
    for name in params:
        default = defaults[name]
        y = [per_study[s][name][0] for s in per_study]
        v = [per_study[s][name][1] for s in per_study]
        log = _log_scale(law, name, default)
        r = predictive(y, v, tau_scale=float(default.parameters.get("sigma", 1.0)))
        if log:
            priors[name] = Prior("LogNormal", mu=r["mean"], sigma=r["sd"])
        elif default.distribution in _POSITIVE:
            priors[name] = Prior("TruncatedNormal", mu=r["mean"], sigma=r["sd"], lower=0.0)
        else:
            priors[name] = Prior("Normal", mu=r["mean"], sigma=r["sd"])
        rows[name] = {**r, "scale": "log" if log else "identity"}
    estimates = pd.DataFrame(
        {
            (p, stat): [
                per_study[s][p][0] if stat == "mean" else per_study[s][p][1] ** 0.5
                for s in per_study
            ]
            for p in params
            for stat in ("mean", "sd")
        },
        index=pd.Index(list(per_study), name="data set"),
    )
    spread = pd.DataFrame(rows).T[["mean", "sd", "tau", "scale", "n"]]
    return LearnedPriors(priors=priors, estimates=estimates, spread=spread)
