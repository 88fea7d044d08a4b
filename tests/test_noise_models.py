"""The noise models of the Chinchilla-type laws (bayescale.laws.noise): their scales, options
and errors, without sampling (the sampled behaviour is in test_laws / test_backtest)."""

from __future__ import annotations

import numpy as np
import pytest

import bayescale as bs
from bayescale.laws import law_from_dict
from bayescale.laws.noise import NOISE_MODELS, log_size_ratio

P = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28, sigma=0.01)
N = np.array([1e8, 1e9, 1e10, 1e11])
D = np.array([1e12, 1e11, 2e10, 1e9])  # over-trained ... under-trained


def scale(noise: str, **extra) -> np.ndarray:
    law = bs.ChinchillaLaw(noise=noise)
    return np.broadcast_to(law.predictive({**P, **extra}, N=N, D=D)[1]["sigma"], N.shape)


def test_each_model_has_its_parameters_and_priors():
    for noise, extra in NOISE_MODELS.items():
        law = bs.ChinchillaLaw(noise=noise)
        assert law.sampled_params == (*law.params, "sigma", *extra)
        assert set(extra) <= set(law.priors) and law.options() == {"noise": noise}
        assert law_from_dict(law.to_dict()) == law  # saved and rebuilt


def test_scales_follow_their_formulas():
    x = log_size_ratio(P, np.log(N), np.log(D), np)
    assert (np.diff(x) > 0).all() and x[0] < 0 < x[-1]  # over-trained first, under-trained last
    assert np.allclose(scale("constant"), 0.01)
    offopt = scale("offopt", sigma_slope=0.5)
    assert np.allclose(offopt, 0.01 * np.exp(0.5 * np.abs(x)))
    # equal slopes on both sides are offopt; one side's slope leaves the other side constant
    assert np.allclose(scale("asym", sigma_slope_under=0.5, sigma_slope_over=0.5), offopt)
    only_under = scale("asym", sigma_slope_under=0.5, sigma_slope_over=0.0)
    assert np.allclose(only_under[x < 0], 0.01) and (only_under[x > 0] > 0.01).all()
    size = scale("size", sigma_size=0.2)
    assert size[1] == pytest.approx(0.01)  # sigma is the scale at 1B parameters
    assert np.allclose(size, 0.01 * (N / 1e9) ** -0.2)


def test_the_data_constrained_law_takes_the_noise_option():
    from bayescale.laws import make_law

    assert make_law("data-constrained", noise="asym", nu=4.0).noise == "asym"
    with pytest.raises(bs.ConfigError, match=r"no option\(s\) \['loud'\]"):
        make_law("data-constrained", loud=1)
    default = bs.DataConstrainedLaw()
    assert default.noise == "constant" and default.likelihood.free_nu  # its defaults
    assert bs.DataConstrainedLaw(nu=4.0).likelihood.nu == 4.0
    law = bs.DataConstrainedLaw(noise="asym")
    assert law.sampled_params[-2:] == ("sigma_slope_under", "sigma_slope_over")
    p = {**P, "R_D_star": 15.0, "sigma_slope_under": 1.0, "sigma_slope_over": 0.0}
    _, lik = law.predictive(p, N=N, D=D, unique_tokens=D / 4)
    assert lik["sigma"][0] == pytest.approx(0.01) and lik["sigma"][-1] > 0.01


def test_unknown_noise_model_is_refused_with_the_choices():
    with pytest.raises(bs.ConfigError, match="noise must be one of .*asym"):
        bs.ChinchillaLaw(noise="loud")
    assert bs.ChinchillaLaw(pooling="partial").noise == "constant"
