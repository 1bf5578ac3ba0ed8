"""``exact=False`` reaches the derivatives of the helpers a function calls: a helper's ``u**3``
runs as ``u*u*u`` too (its builds were made with the default options, so a model written with
helpers got nothing from the option). Seen in the value: ``cube(u) - u*u*u`` is then exactly
zero from the second call on (the optimized code), and Python's value by default."""

from __future__ import annotations

import numpy as np

import sourcegrad as sg

from .fd import numerical_grad

U = np.random.default_rng(0).standard_normal(1000)


def cube(u):
    return u**3


def difference(u):
    return np.sum(cube(u) - u * u * u)


def gelu(u):
    return 0.5 * u * (1.0 + np.tanh(0.7978845608028654 * (u + 0.044715 * u**3)))


def gelu_loss(u, w):
    return np.sum(w * gelu(u))


def test_the_option_reaches_a_helpers_derivative():
    assert difference(U) != 0.0  # pow and the products round differently here
    exact = sg.value_and_grad(difference)
    inexact = sg.value_and_grad(difference, exact=False)
    for call in range(3):
        assert exact(U)[0] == difference(U)
        value = inexact(U)[0]
        # the first call runs the pure build (the optimized one where specialising is forced
        # from the first call: SOURCEGRAD_SPECIALISE_AFTER=1)
        assert value == 0.0 or (call == 0 and value == difference(U))


def test_gradients_through_a_helper_stay_right_without_exactness():
    rng = np.random.default_rng(1)
    u, w = rng.standard_normal(7), rng.standard_normal(7)
    want = numerical_grad(gelu_loss, (u, w), 0)
    df = sg.value_and_grad(gelu_loss, exact=False)
    for _ in range(3):
        value, g = df(u, w)
        np.testing.assert_allclose(value, gelu_loss(u, w), rtol=1e-14)
        np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-8)
