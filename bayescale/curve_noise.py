"""Noise of training curves: a run-level offset plus noise correlated along the run.

The checkpoints of one run share its seed and data order, so their departures from the law are
not independent. On the log scale a checkpoint's residual ``r_j = log y_j - mu_j`` is modelled as

    r_j = b + e_j,    b ~ Normal(0, sigma_run**2)   (the run's offset, shared by its checkpoints)
    e_j = phi_j e_{j-1} + innovation,  phi_j = exp(-(log d_j - log d_{j-1}) / ell)

``e`` is a stationary Ornstein-Uhlenbeck process in log tokens with standard deviation ``sigma``
and correlation length ``ell`` (in e-folds of d): checkpoints close in log d move together,
distant ones are nearly independent, and uneven spacing is handled exactly. A new run's
checkpoint is off the law by ``Normal(0, sigma**2 + sigma_run**2)``.

:func:`curve_logp` is the log density of all residuals with the run offsets integrated out, in
O(n): the OU process is Markov, so its whitening is bidiagonal (``z = W r``), and the offset adds
a rank-one term per run (``z ~ Normal(b c, I)`` with ``c = W 1``), whose marginal follows from
the matrix determinant lemma and the Sherman-Morrison formula. Rows must be grouped by run and
ordered by ``d`` within a run (:func:`curve_layout` gives the index arrays). Works on NumPy
arrays and on PyTensor tensors (``xp=pytensor.tensor``). :func:`curve_logp_runs` gives one
value per run (leave-one-run-out PSIS-LOO) and takes a noise scale per row as well
(``r_j = b + sigma_j u_j``, ``u`` a unit OU process). :func:`schedule_gap` is a checkpoint's
schedule term, :func:`with_schedule` adds it to the law's log loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "REFERENCE_TOKENS_PER_PARAM",
    "curve_layout",
    "curve_logp",
    "curve_logp_runs",
    "log_run_length",
    "schedule_gap",
    "with_schedule",
]

_LOG_2PI = float(np.log(2 * np.pi))


def curve_layout(run: Any, d: Any) -> dict[str, np.ndarray]:
    """Index arrays of :func:`curve_logp` for rows grouped by run, ``d`` increasing in a run.

    Returns ``run_idx`` (0..n_runs-1 in order of appearance), ``first`` (1.0 on a run's first
    row), ``dlogd`` (``log d_j - log d_{j-1}`` within a run, 0 on first rows) and ``n_runs``.

    Examples
    --------
    >>> lay = curve_layout(["a", "a", "b"], [1.0, np.e, 5.0])
    >>> lay["run_idx"].tolist(), lay["first"].tolist(), lay["dlogd"].round(3).tolist()
    ([0, 0, 1], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    """
    run = np.asarray(run)
    logd = np.log(np.asarray(d, dtype=float))
    first = np.ones(len(run), dtype=bool)
    first[1:] = run[1:] != run[:-1]
    _, starts = np.unique(run[first], return_index=True)
    if len(starts) != int(first.sum()):
        raise ValueError("rows of one run must be contiguous")
    run_idx = np.cumsum(first) - 1
    dlogd = np.zeros(len(run))
    dlogd[1:] = logd[1:] - logd[:-1]
    dlogd[first] = 0.0
    if np.any(dlogd[~first] <= 0):
        raise ValueError("d must increase within each run")
    return {
        "run_idx": run_idx.astype("int64"),
        "first": first.astype(float),
        "dlogd": dlogd,
        "n_runs": int(first.sum()),
    }


def _segment_sum(values: Any, run_idx: Any, n_runs: Any, xp: Any) -> Any:
    """Sums over each run's rows along the last axis (rows grouped by run)."""
    if xp is np:
        starts = np.flatnonzero(np.diff(run_idx, prepend=-1))
        return np.add.reduceat(values, starts, axis=-1)
    return xp.inc_subtensor(xp.zeros(n_runs)[run_idx], values)


def _shift(x: Any, xp: Any) -> Any:
    """``x`` moved one row down along the last axis (the first row repeats)."""
    if xp is np:
        return np.concatenate([x[..., :1], x[..., :-1]], axis=-1)
    return xp.concatenate([x[:1], x[:-1]])


def curve_logp_runs(
    r: Any,
    run_idx: Any,
    first: Any,
    dlogd: Any,
    n_runs: Any,
    sigma: Any,
    sigma_run: Any,
    ell: Any,
    xp: Any = np,
) -> Any:
    """Log density of each run's residuals, its offset integrated out: one value per run.

    Parameters
    ----------
    r
        Residuals on the log scale, rows grouped by run and ordered by ``d`` in a run (last
        axis; NumPy arrays may carry leading axes of posterior draws).
    run_idx, first, dlogd, n_runs
        From :func:`curve_layout`.
    sigma
        The OU noise's standard deviation: a scalar, or one per row (a noise scale that changes
        along the run: ``r_j = b + sigma_j u_j`` with ``u`` a unit OU process).
    sigma_run, ell
        The run offsets' standard deviation, the OU correlation length in log tokens.
    xp
        ``numpy`` or ``pytensor.tensor``.

    Examples
    --------
    >>> lay = curve_layout(["a", "a", "b"], [1.0, 2.0, 1.0])
    >>> curve_logp_runs(np.zeros(3), **lay, sigma=0.1, sigma_run=0.0, ell=1.0).shape
    (2,)
    """
    phi = (1.0 - first) * xp.exp(-dlogd / ell)
    # 1 - phi**2 without cancellation where checkpoints are close (phi near 1)
    q = xp.sqrt(first - (1.0 - first) * xp.expm1(-2.0 * dlogd / ell))
    s = sigma + xp.zeros_like(r)  # one scale per row
    s_prev = _shift(s, xp)
    z = (r / s - phi * _shift(r, xp) / s_prev) / q
    c = (1.0 / s - phi / s_prev) / q
    zz = _segment_sum(z * z, run_idx, n_runs, xp)
    cz = _segment_sum(c * z, run_idx, n_runs, xp)
    cc = _segment_sum(c * c, run_idx, n_runs, xp)
    log_scale = _segment_sum(xp.log(s * q), run_idx, n_runs, xp)
    rows = _segment_sum(xp.ones_like(r), run_idx, n_runs, xp)
    v = sigma_run**2
    return (
        -0.5 * (zz - v * cz**2 / (1.0 + v * cc))
        - 0.5 * xp.log1p(v * cc)
        - log_scale
        - 0.5 * _LOG_2PI * rows
    )


def curve_logp(r: Any, xp: Any = np, **params: Any) -> Any:
    """Log density of the residuals ``r`` of all runs' checkpoints, run offsets integrated out
    (the sum of :func:`curve_logp_runs`, whose parameters it takes by name).

    Examples
    --------
    One checkpoint per run, no offsets: independent Normals.

    >>> from scipy.stats import norm
    >>> lay = curve_layout(["a", "b"], [1.0, 1.0])
    >>> lp = curve_logp(np.array([0.1, -0.2]), **lay, sigma=0.3, sigma_run=0.0, ell=1.0)
    >>> bool(np.isclose(lp, norm.logpdf([0.1, -0.2], scale=0.3).sum()))
    True
    """
    return xp.sum(curve_logp_runs(r, xp=xp, **params), axis=-1)


#: The run length at which ``anneal`` is a checkpoint's schedule gap at the peak learning rate:
#: a run of 20 tokens per parameter (Chinchilla's compute-optimal ratio).
REFERENCE_TOKENS_PER_PARAM = 20.0


def log_run_length(n: Any, run_tokens: Any) -> np.ndarray:
    """``log(run_tokens / (20 N))``: a run's length against the reference of
    :func:`schedule_gap` (0 for a run of 20 tokens per parameter).

    Examples
    --------
    >>> log_run_length(1e8, 2e9).round(12).tolist(), log_run_length(1e8, 4e9).round(3).tolist()
    (0.0, 0.693)
    """
    n, total = np.asarray(n, dtype=float), np.asarray(run_tokens, dtype=float)
    return np.log(total / (REFERENCE_TOKENS_PER_PARAM * n))


def schedule_gap(params: Any, g: Any, log_length: Any, xp: Any = np) -> Any:
    """A checkpoint's loss above the law's final loss at its ``d``: the anneal still to come.

    ``anneal * g ** anneal_power * exp(anneal_length * log_length)``: ``g`` is the part of the
    learning-rate anneal still to come (1 at the peak, 0 at the run's end, where the gap
    vanishes), ``log_length`` the run's :func:`log_run_length`. ``anneal`` is the gap at the peak
    of a run of 20 tokens per parameter; ``anneal_power`` bends it along the anneal (1: in
    proportion to ``g``), and ``anneal_length`` scales it with the run's length (0: the same gap
    for every run). ``params`` maps the three names to values.

    Examples
    --------
    >>> p = {"anneal": 0.1, "anneal_power": 2.0, "anneal_length": 0.5}
    >>> schedule_gap(p, np.array([1.0, 0.5, 0.0]), 0.0).round(4).tolist()
    [0.1, 0.025, 0.0]
    >>> float(schedule_gap(p, 1.0, np.log(4.0)).round(4))  # a run 4x as long: twice the gap
    0.2
    """
    power, length = params["anneal_power"], params["anneal_length"]
    # g ** power as exp(power log g), with g = 0 mapped to 0 (and a finite gradient in power)
    tiny = 1e-300
    bent = xp.where(g > 0, xp.exp(power * xp.log(xp.maximum(g, tiny))), 0.0)
    return params["anneal"] * bent * xp.exp(length * log_length)


def with_schedule(mu: Any, gap: Any, xp: Any = np) -> Any:
    """The log loss of a checkpoint: ``log(L + gap)`` from the law's ``mu = log L`` and the
    checkpoint's :func:`schedule_gap` (0 at a run's end, where the loss is the law's).

    Examples
    --------
    >>> float(with_schedule(np.log(2.0), 0.0)) == float(np.log(2.0))
    True
    >>> round(float(np.exp(with_schedule(np.log(2.0), 0.3))), 6)
    2.3
    """
    return mu + xp.log1p(gap * xp.exp(-mu))
