"""LaTeX rendering and vectorised maps agree with the exact objects they come from."""

import numpy as np
import pytest

import nctheory
from nctheory.theory.symbolic.maps import region_map


@pytest.mark.parametrize("name", nctheory.names())
def test_latex_is_balanced_and_shows_the_chain(name):
    text = nctheory.get_spec(name).latex()
    assert text.count("{") == text.count("}")
    assert r"\begin{align*}" in text and r"W_{t+1}" in text
    assert (r"\chi(x)" in text) == nctheory.get_spec(name).is_linear
    assert ("No linear row-sum recurrence" in text) != nctheory.get_spec(name).is_linear


def test_coupled_and_decoupled_decay_render_in_different_order():
    coupled = nctheory.get_spec("signgd").latex()
    decoupled = nctheory.get_spec("signgd_decoupled").latex()
    assert r"d_{1} = W_{t} \lambda + d_{0}" in coupled.replace("&", "")
    assert r"d_{1} = \operatorname{sign}{\left(d_{0} \right)}" in decoupled.replace("&", "")


def test_map_rate_equals_exact_rate_pointwise():
    rng = np.random.default_rng(0)
    mu = rng.uniform(0.01, 0.99, 50)
    lr = rng.uniform(0.01, 1.5, 50)
    result = region_map(nctheory.optimizer("sgd_momentum", weight_decay=0.5, dampening=0.2), momentum=mu, lr=lr)
    exact = [nctheory.optimizer("sgd_momentum", weight_decay=0.5, dampening=0.2, momentum=m, lr=e).rate()
             for m, e in zip(mu, lr)]
    # closed-form quadratic roots in float64: error ~ 1e-16 / sqrt(discriminant) near a double root
    assert np.max(np.abs(result.rate - exact)) < 1e-7


def test_map_regions_agree_with_theory_and_with_rates():
    mu, a = np.meshgrid(np.linspace(0.0, 0.99, 300), np.linspace(0.001, 0.99, 300))
    hb = region_map(nctheory.optimizer("sgd_momentum", weight_decay=1.0), momentum=mu, lr=a)
    assert np.array_equal(hb.accelerates, (mu > 0) & (mu < (1 - a) ** 2))
    nest = region_map(nctheory.optimizer("sgd_nesterov", weight_decay=1.0), momentum=mu, lr=a)
    assert np.array_equal(nest.accelerates, (mu > 0) & (mu < 1 - a))
    sgdw = region_map(nctheory.optimizer("sgdw_momentum", weight_decay=1.0), momentum=mu, lr=a)
    assert not sgdw.accelerates.any()
    away = np.abs(hb.rate - (1 - a)) > 1e-9  # off the boundary the exact region equals rate < 1 - a
    assert np.array_equal(hb.accelerates[away], (hb.rate < 1 - a)[away])


def test_map_refuses_unknown_axes():
    with pytest.raises(nctheory.NCTheoryError, match="cannot map over"):
        region_map(nctheory.optimizer("sgd", weight_decay=1.0), momentum=np.zeros(3))
