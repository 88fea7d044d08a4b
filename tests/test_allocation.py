"""Pure maths of compute-optimal allocation: closed forms against numerical optimisation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from bayescale import allocation as al


def random_params(rng, n):
    return dict(
        E=rng.uniform(0.5, 3.0, n),
        A=np.exp(rng.uniform(2, 10, n)),
        B=np.exp(rng.uniform(2, 10, n)),
        alpha=rng.uniform(0.1, 0.8, n),
        beta=rng.uniform(0.1, 0.8, n),
    )


@pytest.mark.parametrize("k", [6.0, 8.0])
def test_closed_form_matches_numeric_minimisation(k):
    rng = np.random.default_rng(0)
    p = random_params(rng, 40)
    budgets = 10 ** rng.uniform(18, 26, 40)
    out = al.optimal_allocation(**p, C=budgets, k=k)
    for i in range(40):
        pi = {key: v[i] for key, v in p.items()}
        c = budgets[i]

        def loss(log_n, pi=pi, c=c):
            n = np.exp(log_n)
            return al.chinchilla_loss(**pi, N=n, D=c / (k * n))

        res = optimize.minimize_scalar(
            loss,
            bounds=(np.log(1e-3), np.log(c / k / 1e-3)),
            method="bounded",
            options={"xatol": 1e-12, "maxiter": 2000},
        )
        # The minimum is flat in N: the bounded minimiser pins the loss, a root of the
        # derivative d L / d log N = -alpha A N^-alpha + beta B D^-beta pins N itself.
        assert out["loss_opt"][i] == pytest.approx(res.fun, rel=1e-6)
        assert out["loss_opt"][i] <= res.fun * (1 + 1e-12)

        def slope(log_n, pi=pi, c=c):
            n = np.exp(log_n)
            d = c / (k * n)
            return (
                -pi["alpha"] * pi["A"] * n ** -pi["alpha"] + pi["beta"] * pi["B"] * d ** -pi["beta"]
            )

        root = optimize.brentq(slope, np.log(1e-3), np.log(c / k / 1e-3), xtol=1e-14, rtol=1e-15)
        assert out["N_opt"][i] == pytest.approx(np.exp(root), rel=1e-6)
        assert out["N_opt"][i] == pytest.approx(np.exp(res.x), rel=1e-3)
        np.testing.assert_allclose(k * out["N_opt"][i] * out["D_opt"][i], c, rtol=1e-12)


def test_optimal_loss_closed_form_equals_law_at_optimum():
    rng = np.random.default_rng(1)
    p = random_params(rng, 100)
    c = 10 ** rng.uniform(18, 26, 100)
    np.testing.assert_allclose(
        al.optimal_loss(**p, C=c), al.optimal_allocation(**p, C=c)["loss_opt"], rtol=1e-12
    )


def test_compute_for_loss_inverts_optimal_loss():
    rng = np.random.default_rng(2)
    p = random_params(rng, 200)
    target = p["E"] + rng.uniform(0.01, 2.0, 200)
    out = al.compute_for_loss(**p, target=target)
    assert out["reachable"].all()
    np.testing.assert_allclose(al.optimal_loss(**p, C=out["compute"]), target, rtol=1e-9)
    alloc = al.optimal_allocation(**p, C=out["compute"])
    np.testing.assert_allclose(alloc["N_opt"], out["N_opt"], rtol=1e-9)


def test_unreachable_target_is_inf_not_nan():
    out = al.compute_for_loss(
        E=np.array([1.8, 2.1]), A=400.0, B=400.0, alpha=0.3, beta=0.3, target=2.0
    )
    assert out["reachable"].tolist() == [True, False]
    assert np.isfinite(out["compute"][0]) and np.isposinf(out["compute"][1])
    assert not np.isnan(out["N_opt"]).any()


def test_exponents_and_replication_point_value():
    a, b = al.allocation_exponents(0.348, 0.366)
    assert a == pytest.approx(0.5126, abs=1e-4) and a + b == pytest.approx(1.0)
    rep = al.optimal_allocation(1.817, 482.01, 2085.43, 0.348, 0.366, 5.88e23)
    assert float(rep["tokens_per_param"]) == pytest.approx(18.4, abs=0.1)
    hoff = al.optimal_allocation(1.69, 406.4, 410.7, 0.34, 0.28, 5.88e23)
    assert float(hoff["tokens_per_param"]) == pytest.approx(92.8, abs=0.5)
