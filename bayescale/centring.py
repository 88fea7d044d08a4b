"""Which partially pooled exponents to sample centred: the choice ``centred="auto"`` makes.

A pooled exponent ``e`` can be sampled non-centred (``log e_g = mu + tau z_g``: good where
each group's data say little, so the groups sit near the population) or centred (``log e_g ~
Normal(mu, tau)``: good where each group's data pin ``log e_g`` more tightly than the
population spreads). For a normal model the best partial centring of group ``g`` is
``lambda_g = tau^2 / (tau^2 + s_g^2)``, with ``s_g`` the sd the group's own data give
(Gorinova, Moore & Hoffman 2020, "Automatic reparameterisation of probabilistic programs").
``lambda_g`` near 1 means centred and near 0 means non-centred. The posterior variance of
``log e_g`` is ``v_g = 1 / (1 / tau^2 + 1 / s_g^2)``, so ``lambda_g = 1 - v_g / tau^2``: it
can be read off a pilot run's draws in either form.

An exponent counts as data-dominated when the mean of ``lambda_g`` over its groups is at
least :data:`CENTRED_AT` (one half: the groups' data count for more than the population).

The fit (:mod:`bayescale.sampling`) does not centre those exponents alone. Forms with some
exponents centred sampled worse than either extreme. Where some exponent is data-dominated,
it probes the all-centred form with a second pilot run and keeps whichever form sampled
better. So ``lambda`` decides only whether the probe is worth its cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .laws.base import Law

__all__ = [
    "CENTRED_AT",
    "centring_note",
    "centring_weights",
    "choose_centred",
    "choose_form",
    "pilot_cost",
]

#: Mean ``lambda`` at and above which an exponent is sampled centred.
CENTRED_AT = 0.5


def centring_weights(log_draws: np.ndarray, tau_draws: np.ndarray) -> np.ndarray:
    """Each group's ``lambda_g = 1 - var(log e_g) / tau^2``, clipped to [0, 1]: the share of
    the group's data in its posterior (``tau``: the posterior median of the population's sd).

    Parameters
    ----------
    log_draws
        Draws of the groups' log exponents, shape ``(draws, groups)`` (chains flattened).
    tau_draws
        Draws of the population's sd of the log exponent.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pinned = rng.normal([-1.0, -1.3, -0.8], 0.05, size=(4000, 3))  # sd 0.05, tau 0.3
    >>> centring_weights(pinned, np.full(4000, 0.3)).round(2)
    array([0.97, 0.97, 0.97])
    >>> loose = rng.normal(-1.0, 0.29, size=(4000, 3))  # the data say little: near the prior
    >>> bool(centring_weights(loose, np.full(4000, 0.3)).max() < 0.2)
    True
    """
    log_draws = np.asarray(log_draws, dtype=float)
    tau = float(np.median(np.asarray(tau_draws, dtype=float)))
    if not np.isfinite(tau) or tau <= 0:
        return np.zeros(log_draws.shape[-1])
    var = np.var(log_draws.reshape(-1, log_draws.shape[-1]), axis=0)
    return np.clip(1.0 - var / tau**2, 0.0, 1.0)


def choose_centred(
    draws: Mapping[str, np.ndarray], exponents: tuple[str, ...]
) -> tuple[tuple[str, ...], dict[str, float]]:
    """The data-dominated pooled exponents (mean ``lambda`` at least :data:`CENTRED_AT`), and
    each one's mean ``lambda``, from a run's draws.

    Parameters
    ----------
    draws
        Draws by name (any leading chain / draw axes; the groups last): each exponent ``e``
        in ``exponents`` per group, and its population's ``e_tau``.
    exponents
        The law's partially pooled exponents.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> draws = {
    ...     "alpha": np.exp(rng.normal([-1.0, -1.4], 0.05, size=(2, 500, 2))),
    ...     "alpha_tau": np.full((2, 500), 0.3),
    ...     "beta": np.exp(rng.normal(-1.2, 0.1, size=(2, 500, 2))),
    ...     "beta_tau": np.full((2, 500), 0.1),
    ... }
    >>> chosen, weights = choose_centred(draws, ("alpha", "beta"))
    >>> chosen, {k: round(v, 2) for k, v in weights.items()}
    (('alpha',), {'alpha': 0.97, 'beta': 0.0})
    """
    weights: dict[str, float] = {}
    for e in exponents:
        values = np.asarray(draws[e], dtype=float)
        log_draws = np.log(values.reshape(-1, values.shape[-1]))
        weights[e] = float(np.mean(centring_weights(log_draws, draws[f"{e}_tau"])))
    chosen = tuple(e for e in exponents if weights[e] >= CENTRED_AT)
    return chosen, weights


def centring_note(record: Mapping) -> str:
    r"""One line on the form a fit with ``centred="auto"`` sampled in, from its record
    (``fit.settings["sampling"]["centring"]``).

    Examples
    --------
    >>> note = centring_note(
    ...     {"lambda": {"alpha": 0.1, "beta": 0.46}, "probed": False, "centred": []}
    ... )
    >>> print(note.replace("': no", "':\nno"))
    pooled exponents sampled centred: none (centred='auto':
    no exponent's groups dominate its posterior; mean lambda alpha 0.10, beta 0.46)
    >>> probe = {"default": [0, 440.0], "all": [0, 117.0]}
    >>> note = centring_note(
    ...     {"lambda": {"a": 0.99}, "probed": True, "pilot_cost": probe, "centred": ["a"]}
    ... )
    >>> print(note.replace(", ", ",\n"))
    pooled exponents sampled centred: a (centred='auto': the all-centred pilot sampled better,
    0 divergences and 117 steps per draw against 0 and 440; mean lambda a 0.99)
    """
    lam = ", ".join(f"{e} {v:.2f}" for e, v in record.get("lambda", {}).items())
    kept = ", ".join(record.get("centred", [])) or "none"
    if not record.get("probed"):
        why = "no exponent's groups dominate its posterior"
    else:
        d_div, d_steps = record["pilot_cost"]["default"]
        a_div, a_steps = record["pilot_cost"]["all"]
        costs = (
            f"{a_div} divergences and {a_steps:.0f} steps per draw against {d_div} and "
            f"{d_steps:.0f}"
        )
        if record.get("fell_back"):
            why = f"the all-centred pilot looked better ({costs}) but its run diverged"
        elif (a_div, a_steps) < (d_div, d_steps):
            why = f"the all-centred pilot sampled better, {costs}"
        else:
            why = f"the all-centred pilot sampled worse, {costs}"
    return f"pooled exponents sampled centred: {kept} (centred='auto': {why}; mean lambda {lam})"


def pilot_cost(stats: Any) -> tuple[int, float]:
    """A pilot run's divergences and mean leapfrog steps per draw: what its form costs."""
    return int(stats["diverging"].sum()), float(stats["n_steps"].mean())


def choose_form(
    law: Law, pilot: Any, pilot_stats: Any, run_pilot: Callable[[Law], tuple]
) -> tuple[Law, dict[str, Any], tuple[Any, np.ndarray] | None]:
    """The form ``centred="auto"`` samples in, chosen after the pilot in the law's default
    form.

    Where the pilot says the groups' own data dominate some exponent (its mean ``lambda`` at
    least :data:`CENTRED_AT`, :func:`choose_centred`),
    a second pilot probes the form with every exponent centred (``centred="all"``; gamma
    through each group's frontier). That form is kept if its pilot sampled better, with fewer
    divergences or as many and fewer leapfrog steps per draw. Otherwise, and where no
    exponent is data-dominated, the default form is kept. A short pilot can miss a funnel, so
    if the kept probe's first main run diverges, the fit samples again in the default form
    (:func:`bayescale.sampling._sample_adaptive`'s ``fallback``).

    Forms with only some exponents centred are not tried. On Porian et al.'s
    configurations and on simulated groups they sampled worse than either extreme
    (docs/performance.md).

    Returns the law in the chosen form, a record (each exponent's ``lambda``, whether a probe
    ran, both pilots' costs, the exponents sampled centred), and the probe's ``(pilot draws,
    start)`` when its form is kept.
    """
    names = [n for e in law.pooled_exponents for n in (e, f"{e}_tau")]
    data_dominated, weights = choose_centred(
        {n: pilot[n].to_numpy() for n in names}, law.pooled_exponents
    )
    record: dict[str, Any] = {
        "lambda": {e: round(w, 3) for e, w in weights.items()},
        "probed": False,
    }
    chosen, probe = law.with_centred(sorted(law.centred_exponents)), None
    if data_dominated and set(law.pooled_exponents) != set(law.centred_exponents):
        alternative = law.with_centred(law.pooled_exponents)
        t0 = time.perf_counter()
        alt_pilot, alt_stats, alt_loc0 = run_pilot(alternative)
        costs = {"default": pilot_cost(pilot_stats), "all": pilot_cost(alt_stats)}
        record.update(probed=True, pilot_cost=costs, probe_s=round(time.perf_counter() - t0, 2))
        if costs["all"] < costs["default"]:
            chosen, probe = alternative, (alt_pilot, alt_loc0)
    record["centred"] = sorted(chosen.centred_exponents)
    return chosen, record, probe
