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
arrays and on PyTensor tensors (``xp=pytensor.tensor``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["curve_layout", "curve_logp"]

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


def _segment_sum(values: Any, run_idx: Any, n_runs: int, xp: Any) -> Any:
    if xp is np:
        return np.bincount(run_idx, weights=values, minlength=n_runs)
    return xp.inc_subtensor(xp.zeros(n_runs)[run_idx], values)


def curve_logp(
    r: Any,
    run_idx: Any,
    first: Any,
    dlogd: Any,
    n_runs: int,
    sigma: Any,
    sigma_run: Any,
    ell: Any,
    xp: Any = np,
) -> Any:
    """Log density of the residuals ``r`` of all runs' checkpoints, run offsets integrated out.

    Parameters
    ----------
    r
        Residuals on the log scale, rows grouped by run and ordered by ``d`` in a run.
    run_idx, first, dlogd, n_runs
        From :func:`curve_layout`.
    sigma, sigma_run, ell
        The OU noise's standard deviation, the run offsets' standard deviation, the OU
        correlation length in log tokens.
    xp
        ``numpy`` or ``pytensor.tensor``.

    Examples
    --------
    One checkpoint per run, no offsets: independent Normals.

    >>> from scipy.stats import norm
    >>> lay = curve_layout(["a", "b"], [1.0, 1.0])
    >>> lp = curve_logp(np.array([0.1, -0.2]), **lay, sigma=0.3, sigma_run=0.0, ell=1.0)
    >>> bool(np.isclose(lp, norm.logpdf([0.1, -0.2], scale=0.3).sum()))
    True
    """
    phi = (1.0 - first) * xp.exp(-dlogd / ell)
    scale = sigma * xp.sqrt(1.0 - phi**2)
    previous = xp.concatenate([xp.zeros(1), r[:-1]])
    z = (r - phi * previous) / scale
    c = (1.0 - phi) / scale
    zz = _segment_sum(z * z, run_idx, n_runs, xp)
    cz = _segment_sum(c * z, run_idx, n_runs, xp)
    cc = _segment_sum(c * c, run_idx, n_runs, xp)
    v = sigma_run**2
    per_run = -0.5 * (zz - v * cz**2 / (1.0 + v * cc)) - 0.5 * xp.log1p(v * cc)
    return xp.sum(per_run) - xp.sum(xp.log(scale)) - 0.5 * _LOG_2PI * r.shape[0]
