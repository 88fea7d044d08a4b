"""The linear (Bayes linear) value of a set of runs: exact for a linear law with normal noise,
and the set search finds the best set of a small problem."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from bayescale.design_linear import best_linear_set, linear_variance


def test_linear_variance_is_the_exact_posterior_variance_of_a_linear_gaussian_model():
    """theta ~ N(m, P), a run's outcome x . theta + noise: the expected posterior variance of
    g . theta after any set of runs is g' (P^-1 + X' X / s2)^-1 g, whatever the outcomes."""
    rng = np.random.default_rng(0)
    m = np.array([1.0, -0.5, 0.3])
    root = rng.normal(size=(3, 3))
    prior = root @ root.T + 0.2 * np.eye(3)
    theta = rng.multivariate_normal(m, prior, size=20_000)
    X = rng.normal(size=(8, 3))
    noise = np.linspace(0.2, 2.0, 8)
    g = np.array([0.5, 1.0, -2.0])
    var = linear_variance(theta @ g, theta @ X.T, noise)
    for chosen in ([], [0], [3, 5], [1, 2, 7], [0, 0, 4], list(range(8))):
        info = np.linalg.inv(prior) + sum(np.outer(X[j], X[j]) / noise[j] for j in chosen)
        exact = g @ np.linalg.solve(info, g)
        # the draws' moments carry sampling error of about 1% at 20 000 draws
        assert var(chosen) == pytest.approx(exact, rel=0.05), chosen


@pytest.mark.parametrize("problem", range(4))
def test_best_linear_set_is_the_best_set_of_a_small_problem(problem):
    rng = np.random.default_rng(problem)
    theta = rng.normal(size=(3000, 4))
    F = np.tanh(theta @ rng.normal(size=(4, 10)))  # curved: not a linear law
    var = linear_variance(theta[:, 0] + 0.5 * theta[:, 1], F, rng.uniform(0.05, 0.5, 10))
    cost = rng.uniform(1.0, 10.0, 10)
    window = (12.0, 18.0)
    chosen, value = best_linear_set(var, 3, 10, cost=cost, window=window)
    assert len(set(chosen)) == 3
    assert window[0] <= cost[chosen].sum() <= window[1]
    best = min(
        var(s) for s in combinations(range(10), 3) if window[0] <= cost[list(s)].sum() <= window[1]
    )
    assert value == pytest.approx(best, rel=1e-9) and value == pytest.approx(var(chosen))


def test_linear_variance_rejects_predictions_of_another_shape():
    with pytest.raises(ValueError, match="draws x candidates"):
        linear_variance(np.zeros(10), np.zeros((9, 2)), np.ones(2))
