"""``np.cumprod`` differentiated where entries are zero (the derivative was ``z / a``: NaN at
a zero): reverse and forward mode, along an axis and flattened, with one zero, two zeros and
none, against central differences; second order exact where no entry is zero and refused,
naming the user's line, where one is."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .fd import numerical_grad

WEIGHTS = np.arange(1.0, 7.0)


def flat_loss(x):
    return np.sum(np.cumprod(x) * WEIGHTS[: x.size])


def axis0_loss(x):
    return np.sum(np.cumprod(x, axis=0) ** 2)


def axis1_loss(x):
    return np.sum(np.sin(np.cumprod(x, axis=-1)))


POINTS = {
    "no_zero": np.array([[1.5, -0.5, 2.0], [0.7, 1.2, -1.1]]),
    "one_zero": np.array([[1.5, 0.0, 2.0], [0.7, 1.2, 0.0]]),
    "two_zeros": np.array([[0.0, 0.0, 2.0], [0.0, 1.2, 0.0]]),
    "first_zero": np.array([[0.0, 0.5, 2.0], [1.3, 0.0, -0.4]]),
}


@pytest.mark.parametrize("f", [flat_loss, axis0_loss, axis1_loss])
@pytest.mark.parametrize("point", list(POINTS))
def test_cumprod_gradient_hvp_and_jvp(f, point):
    x = POINTS[point]
    want = numerical_grad(f, (x,), 0)
    df = sg.value_and_grad(f)
    for _ in range(3):
        value, g = df(x)
        assert value == f(x)
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-7)
    v = np.linspace(-1.0, 1.0, x.size).reshape(x.shape)
    _, tangent = sg.jvp(f)(x, v)
    np.testing.assert_allclose(tangent, np.sum(want * v), rtol=1e-6, atol=1e-7)
    if point != "no_zero":
        with pytest.raises(sg.SourcegradError, match="np.cumprod are computed only where") as e:
            sg.hvp(f)(x, v)
        assert e.value.filename == __file__
        return
    eps = 1e-5
    hv_fd = (sg.grad(f)(x + eps * v) - sg.grad(f)(x - eps * v)) / (2 * eps)
    for _ in range(3):
        np.testing.assert_allclose(sg.hvp(f)(x, v), hv_fd, rtol=1e-5, atol=1e-6)
