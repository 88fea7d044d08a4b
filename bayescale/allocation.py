"""Closed-form compute-optimal allocation for ``L(N, D) = E + A/N**alpha + B/D**beta``.

Pure NumPy functions of parameter arrays (one element per posterior draw, or scalars): no
sampler, no PyMC, so they are tested directly. Under the budget constraint ``C = k N D``
(``k = 6`` by default) minimising ``L`` over ``N`` gives (Hoffmann et al. 2022, Appendix D)::

    G  = (alpha A / (beta B)) ** (1 / (alpha + beta))
    N* = G (C/k)**a,   D* = (C/k)**b / G,   a = beta/(alpha+beta),  b = alpha/(alpha+beta)
    L*(C) = E + (A G**-alpha + B G**beta) (C/k)**-gamma,   gamma = alpha beta / (alpha+beta)

The last line inverts in closed form: the compute that reaches a target loss ``T > E`` is
``C = k ((A G**-alpha + B G**beta) / (T - E)) ** (1/gamma)``, and ``T <= E`` is unreachable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import constants as K

__all__ = [
    "chinchilla_loss",
    "allocation_exponents",
    "optimal_allocation",
    "optimal_loss",
    "compute_for_loss",
]

ArrayLike = Any


def chinchilla_loss(E, A, B, alpha, beta, N, D) -> np.ndarray:
    """``E + A / N**alpha + B / D**beta`` with NumPy broadcasting.

    Examples
    --------
    >>> round(float(chinchilla_loss(1.69, 406.4, 410.7, 0.34, 0.28, 70e9, 1.4e12)), 4)
    1.9366
    """
    return E + A * np.power(N, -alpha) + B * np.power(D, -beta)


def allocation_exponents(alpha, beta) -> tuple[np.ndarray, np.ndarray]:
    """``a = beta/(alpha+beta)`` (N* ~ C**a) and ``b = alpha/(alpha+beta)`` (D* ~ C**b)."""
    total = np.add(alpha, beta)
    return np.divide(beta, total), np.divide(alpha, total)


def _g(A, B, alpha, beta):
    return np.power(np.multiply(alpha, A) / np.multiply(beta, B), 1.0 / np.add(alpha, beta))


def _frontier_scale(A, B, alpha, beta):
    """``(A G**-alpha + B G**beta, gamma)``: L*(C) = E + scale * (C/k)**-gamma."""
    g = _g(A, B, alpha, beta)
    scale = A * np.power(g, -np.asarray(alpha)) + B * np.power(g, beta)
    gamma = np.multiply(alpha, beta) / np.add(alpha, beta)
    return scale, gamma


def optimal_allocation(
    E, A, B, alpha, beta, C, k: float = K.FLOPS_PER_PARAM_TOKEN
) -> dict[str, np.ndarray]:
    """Compute-optimal ``N_opt``, ``D_opt``, ``loss_opt`` and ``tokens_per_param`` at budget ``C``.

    All arguments broadcast together (e.g. parameter draws of shape ``(S, 1)`` against budgets
    of shape ``(M,)``).

    Examples
    --------
    >>> out = optimal_allocation(1.817, 482.01, 2085.43, 0.348, 0.366, 5.88e23)
    >>> round(float(out["tokens_per_param"]), 1)
    18.4
    """
    x = np.asarray(C, dtype=float) / k
    g = _g(A, B, alpha, beta)
    a, b = allocation_exponents(alpha, beta)
    n_opt = g * np.power(x, a)
    d_opt = np.power(x, b) / g
    return {
        "N_opt": n_opt,
        "D_opt": d_opt,
        "loss_opt": chinchilla_loss(E, A, B, alpha, beta, n_opt, d_opt),
        "tokens_per_param": d_opt / n_opt,
    }


def optimal_loss(E, A, B, alpha, beta, C, k: float = K.FLOPS_PER_PARAM_TOKEN) -> np.ndarray:
    """``L*(C)``, the lowest loss reachable with compute ``C`` (closed form)."""
    scale, gamma = _frontier_scale(A, B, alpha, beta)
    return E + scale * np.power(np.asarray(C, dtype=float) / k, -gamma)


def compute_for_loss(
    E, A, B, alpha, beta, target, k: float = K.FLOPS_PER_PARAM_TOKEN
) -> dict[str, np.ndarray]:
    """Compute (and ``N_opt``, ``D_opt``) at which the optimal loss equals ``target``.

    Where ``target <= E`` the target is unreachable at any compute: the result is ``inf`` for
    ``compute``, ``N_opt`` and ``D_opt`` and ``reachable`` is False (never NaN, never an error).

    Examples
    --------
    >>> out = compute_for_loss(1.69, 406.4, 410.7, 0.34, 0.28, [2.0, 1.5])
    >>> out["reachable"].tolist(), bool(np.isinf(out["compute"][1]))
    ([True, False], True)
    """
    scale, gamma = _frontier_scale(A, B, alpha, beta)
    gap = np.asarray(target, dtype=float) - E
    reachable = gap > 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x = np.where(
            reachable, np.power(scale / np.where(reachable, gap, 1.0), 1.0 / gamma), np.inf
        )
        g = _g(A, B, alpha, beta)
        a, b = allocation_exponents(alpha, beta)
        n_opt = np.where(reachable, g * np.power(x, a), np.inf)
        d_opt = np.where(reachable, np.power(x, b) / g, np.inf)
    return {"compute": k * x, "N_opt": n_opt, "D_opt": d_opt, "reachable": reachable}
