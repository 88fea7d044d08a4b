"""Priors: the user's choices merged over a law's documented defaults.

Priors are written the way the PyMC ecosystem writes them, with
:class:`pymc_extras.prior.Prior` (re-exported here)::

    from bayescale import ChinchillaLaw, Prior
    law = ChinchillaLaw(priors={"alpha": Prior("TruncatedNormal", mu=0.34, sigma=0.05, lower=0)})

Only the priors you pass change; the rest keep the law's defaults (``defaults | user``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.transforms import _default_transform
from pymc_extras.prior import Prior

from .exceptions import ConfigError

__all__ = [
    "Prior",
    "draw_prior",
    "merge_priors",
    "priors_to_dict",
    "priors_from_dict",
    "unconstrained_prior",
]


def _as_prior(name: str, value: Any) -> Prior:
    if isinstance(value, Prior):
        prior = value
    elif isinstance(value, Mapping):
        try:
            prior = Prior.from_dict(dict(value))
        except Exception as exc:  # pydantic / KeyError from a malformed dict
            raise ConfigError(f"prior for '{name}' is not a valid prior dict: {exc}") from None
    else:
        raise ConfigError(
            f"prior for '{name}' must be a pymc_extras Prior (or its dict form), "
            f"got {type(value).__name__}"
        )
    if any(isinstance(p, Prior) for p in prior.parameters.values()) or prior.dims:
        raise ConfigError(
            f"prior for '{name}' is hierarchical (has Prior parameters or dims); "
            "use the law's pooling option for group-level parameters"
        )
    return prior


def merge_priors(defaults: Mapping[str, Prior], user: Mapping[str, Any] | None) -> dict[str, Prior]:
    """Return ``defaults`` with the user's priors merged over them.

    Raises
    ------
    ConfigError
        For a name the law does not have, or a value that is not a prior.

    Examples
    --------
    >>> merged = merge_priors({"a": Prior("Normal"), "b": Prior("HalfNormal")},
    ...                       {"b": Prior("HalfNormal", sigma=2)})
    >>> merged["b"]
    Prior("HalfNormal", sigma=2)
    """
    merged = dict(defaults)
    for name, value in (user or {}).items():
        if name not in defaults:
            raise ConfigError(
                f"unknown prior '{name}'; this law's parameters are: {', '.join(defaults)}"
            )
        merged[name] = _as_prior(name, value)
    return merged


def priors_to_dict(priors: Mapping[str, Prior]) -> dict[str, dict]:
    """JSON-ready form of a priors mapping."""
    return {name: prior.to_dict() for name, prior in priors.items()}


def priors_from_dict(data: Mapping[str, Mapping]) -> dict[str, Prior]:
    """Inverse of :func:`priors_to_dict`."""
    return {name: _as_prior(name, value) for name, value in data.items()}


def _dist(prior: Prior):
    return prior.pymc_distribution.dist(**prior.parameters)


def unconstrained_prior(prior: Prior, u: pt.TensorVariable) -> tuple[pt.TensorVariable, Any]:
    """Map an unconstrained coordinate to the prior's support.

    Uses PyMC's default transform for the distribution (log for positive ones, logit-like for
    intervals), so ``u`` may take any real value.

    Returns
    -------
    value, logp
        The parameter value and the prior log density of ``u`` (log-Jacobian included).
    """
    dist = _dist(prior)
    transform = _default_transform(dist.owner.op, dist)
    if transform is None:
        return u, pm.logp(dist, u)
    inputs = dist.owner.inputs
    value = transform.backward(u, *inputs)
    return value, pm.logp(dist, value) + transform.log_jac_det(u, *inputs)


def draw_prior(prior: Prior, draws: int, seed: int = 0) -> np.ndarray:
    """``draws`` samples from ``prior`` (pure-Python evaluation: no C compilation).

    Examples
    --------
    >>> draw_prior(Prior("HalfNormal", sigma=1.0), 3).shape
    (3,)
    """
    # one call with size=draws: the same values as ``draws`` calls (one random stream), without
    # a Python-level loop over draws (pm.draw(..., draws=n) calls the function n times)
    dist = prior.pymc_distribution.dist(**prior.parameters, size=draws)
    return np.asarray(pm.draw(dist, random_seed=seed, mode="FAST_COMPILE")).reshape(draws)


def prior_logp(prior: Prior, value: pt.TensorVariable):
    """Log density of ``prior`` at ``value`` (no Jacobian)."""
    return pm.logp(_dist(prior), value)
