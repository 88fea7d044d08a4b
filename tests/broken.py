"""Deliberately broken variants of bayescale, for showing that the suite's checks can fail.

``BAYESCALE_BROKEN=<variant>`` (set by ``scripts/seed_sweep.py --broken``) makes
``tests/conftest.py`` call :func:`apply` before any test runs; each variant patches one piece of
the library the way a plausible bug would. A suite that still passes under a variant has no
test that notices that bug.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _detached() -> None:
    """The likelihood no longer sees the data: observed targets are shuffled across runs."""
    from bayescale import sampling

    original = sampling.model_data

    def shuffled(law, runs, groups):
        data = original(law, runs, groups)
        data["y"] = np.random.default_rng(0).permutation(data["y"])
        return data

    sampling.model_data = shuffled


def _prior() -> None:
    """The posterior is the prior: the sampler's likelihood term is multiplied by zero."""
    from bayescale.likelihood import Likelihood

    original = Likelihood.logp
    Likelihood.logp = lambda self, y, mu, params: 0.0 * original(self, y, mu, params)


def _half_noise() -> None:
    """The sampler's noise scale is half the model's: ``sigma`` comes out twice too large."""
    from bayescale.likelihood import Likelihood

    original = Likelihood.logp

    def halved(self, y, mu, params):
        return original(self, y, mu, {**params, "sigma": 0.5 * params["sigma"]})

    Likelihood.logp = halved


def _jacobian() -> None:
    """The whitened model forgets the Jacobian of the amplitudes' log transform."""
    import pytensor.tensor as pt

    from bayescale import model

    original = model.prior_logp
    model.prior_logp = lambda prior, value: original(prior, value) - pt.log(value)


VARIANTS: dict[str, Callable[[], None]] = {
    "detached": _detached,
    "prior": _prior,
    "half_noise": _half_noise,
    "jacobian": _jacobian,
}


def apply(name: str) -> None:
    """Patch bayescale with the named variant (see :data:`VARIANTS`)."""
    if name not in VARIANTS:
        raise SystemExit(f"unknown broken variant {name!r}; known: {sorted(VARIANTS)}")
    VARIANTS[name]()
