"""``np.sinc`` against central differences in float64, to second order, at x = 0 too."""

import numpy as np
import pytest

import sourcegrad as sg

from .fd import check, numerical_grad, output_shape, weights


def f_sinc(x, w):
    return np.sum(w * np.sin(np.sinc(x)))


def sinc_sum(x):
    return np.sum(np.sinc(x))


INPUTS = {
    "zero": np.array([0.0]),
    "around_zero": np.array([-1.3, -0.4, 0.0, 1e-3, 0.7, 1.0, 2.5]),
    "matrix": np.array([[0.0, 0.3], [-1e-3, 1.7]]),
    "0d_zero": np.array(0.0),
    "float_zero": 0.0,
    "float": 0.6,
}


@pytest.mark.parametrize("x", INPUTS.values(), ids=INPUTS.keys())
def test_sinc(x):
    check(f_sinc, x)


def test_sinc_derivative_at_zero():
    """sinc'(0) = 0 and sinc''(0) = -pi^2 / 3 exactly, from the branch at 0."""
    x = np.array([0.0, 0.5])
    g = sg.grad(sinc_sum)(x)
    np.testing.assert_allclose(g, [0.0, (np.cos(np.pi / 2) - np.sinc(0.5)) / 0.5], atol=1e-15)
    hv = sg.hvp(sinc_sum)(x, np.array([1.0, 0.0]))
    np.testing.assert_allclose(hv, [-np.pi**2 / 3.0, 0.0], atol=1e-12)


def test_sinc_shape_specialised():
    """The third call runs the code specialised to the shapes (sinc's shape is declared)."""
    x = INPUTS["around_zero"]
    w = weights(output_shape(f_sinc, (x,)), seed=3)
    df = sg.grad(f_sinc)
    expected = numerical_grad(f_sinc, (x, w), 0)
    for _ in range(3):
        np.testing.assert_allclose(df(x, w), expected, rtol=1e-5, atol=1e-7)
