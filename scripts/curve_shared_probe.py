"""Probe for issue #17 (point estimates, ~40 s): a deviation shared by the runs of one model size.

Usage: python scripts/curve_shared_probe.py

The OLMo ladder's runs of one size share their data order, so their curves coincide until the
anneal; the schedule term is then identified by differences between runs at equal tokens, where
the law cancels. Model of the rungs' kept checkpoints (190M-1B, `curves.curve_runs`):
``log loss = log(L(N, d) + C g^p (d / 20N)^a (N / 1e9)^b) + delta_size(log d) + b_run + e``,
``delta_size`` piecewise linear on 12 knots per size with a random-walk penalty (sd 0.004 per
knot step) and a shrinkage to zero (sd 0.01), run offsets ``b_run`` (sd 0.005), iid noise ``e``.
Maximum a posteriori, with and without ``delta_size``; prints the schedule's shape and the law's
predictions of the six 3B runs' final losses and the 7B target's.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import warnings  # noqa: E402

import numpy as np  # noqa: E402

warnings.simplefilter("ignore")
from scipy.optimize import minimize  # noqa: E402

import bayescale as bs  # noqa: E402
from bayescale.curves import curve_runs  # noqa: E402
from bayescale.datasets import load_olmo_ladder  # noqa: E402

curves = bs.load_runs(load_olmo_ladder(curves=True))
train = curves[curves["size"] != "3B"]
tab = curve_runs(train)
n, d, y = (tab[k].to_numpy(float) for k in ("N", "D", "loss"))
g = tab["schedule"].to_numpy(float)
sizes = tab["size"].to_numpy()
runs = tab["run"].to_numpy()
us = sorted(set(sizes))
ur = sorted(set(runs))
si = np.array([us.index(s) for s in sizes])
ri = np.array([ur.index(r) for r in runs])
K = 12
knots = {}
W = np.zeros((len(y), len(us) * K))
for j, s in enumerate(us):
    m = si == j
    lo, hi = np.log(d[m]).min(), np.log(d[m]).max()
    grid = np.linspace(lo, hi, K)
    knots[s] = grid
    x = np.log(d[m])
    idx = np.clip(np.searchsorted(grid, x) - 1, 0, K - 2)
    w = (x - grid[idx]) / (grid[idx + 1] - grid[idx])
    rows = np.flatnonzero(m)
    W[rows, j * K + idx] = 1 - w
    W[rows, j * K + idx + 1] = w
finals = load_olmo_ladder()
test = finals[finals["size"] == "3B"]
target = load_olmo_ladder(target=True)


def unpack(t):
    le, la, lb, al, be, lc, p, a, b, ls = t[:10]
    v = t[10 : 10 + len(us) * K]
    off = t[10 + len(us) * K :]
    return le, la, lb, al, be, lc, p, a, b, ls, v, off


def law(t, N, D):
    le, la, lb, al, be = t[:5]
    return np.exp(le) + np.exp(la - al * np.log(N)) + np.exp(lb - be * np.log(D))


TAU, SD_DELTA, SD_RUN = 0.004, 0.01, 0.005


def nll(t, shared=True, free_shape=True):
    le, la, lb, al, be, lc, p, a, b, ls, v, off = unpack(t)
    if not free_shape:
        p, a, b = 0.0, 0.0, 0.0
    S = np.exp(lc) * g ** np.exp(p) * (d / n / 20) ** a * (n / 1e9) ** b
    mu = np.log(law(t, n, d) + S) + off[ri]
    if shared:
        mu = mu + W @ v
    r = y_log - mu
    s = np.exp(ls)
    out = 0.5 * np.sum(r**2) / s**2 + len(y) * ls
    out += 0.5 * np.sum(off**2) / SD_RUN**2
    if shared:
        vv = v.reshape(len(us), K)
        out += 0.5 * np.sum(np.diff(vv, axis=1) ** 2) / TAU**2 + 0.5 * np.sum(vv**2) / SD_DELTA**2
    return out


y_log = np.log(y)
t0 = np.r_[
    np.log(1.35),
    np.log(50.0),
    np.log(80.0),
    0.2,
    0.2,
    np.log(0.05),
    0.0,
    0.0,
    0.0,
    np.log(0.005),
    np.zeros(len(us) * K),
    np.zeros(len(ur)),
]
for shared in (False, True):
    o = minimize(
        nll, t0, args=(shared,), method="L-BFGS-B", options=dict(maxiter=20000, maxfun=200000)
    )
    t = o.x
    le, la, lb, al, be, lc, p, a, b, ls, v, off = unpack(t)
    pred = law(t, test["N"].to_numpy(), test["D"].to_numpy())
    err = np.abs(pred / test["loss"].to_numpy() - 1)
    p7 = law(t, target["N"].to_numpy(), target["D"].to_numpy())[0]
    print(
        f"shared={shared}: nll {o.fun:.1f} E {np.exp(le):.3f} alpha {al:.3f} beta {be:.3f} "
        f"C {np.exp(lc):.4f} g^{np.exp(p):.2f} xC^{a:.2f} N^{b:.2f} sigma {np.exp(ls):.4f}"
    )
    print(
        f"   3B median rel err {np.median(err):.4f} max {err.max():.4f}; "
        f"7B {p7:.3f} vs {target['loss'].iloc[0]:.3f}"
    )
