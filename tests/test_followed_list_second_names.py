"""A second name of a list taken before the list grows (``hs = []; seen = hs``, then
``hs.append(h)`` in a loop, or the growth made through the second name): both names hold the
one list, so a read through either sees every item Python appended. Checked through the public
API: the value against Python's, the gradient against central differences in float64 and the
Hessian-vector product against differences of the gradient, each derivative called 3 times."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import numerical

P = np.array([0.3, 0.5, -0.4])
X = np.array([1.0, 2.0, -0.5])


def read_after_growth(p, x):
    hs = []
    alias = hs
    h = x
    for _ in range(3):
        h = np.tanh(h * p)
        hs.append(h)
    return np.sum(alias[-1]) + len(alias)


def length_read_while_growing(p, x):
    hs = []
    seen = hs
    h = x
    for _ in range(3):
        h = np.tanh(h * p + 0.1 * len(seen))
        hs.append(h)
    return sum(np.sum(v**2) for v in seen)


def grown_from_its_last_item(p, x):
    hs = [x]
    out = hs
    for _ in range(2):
        hs.append(np.sin(hs[-1] * p))
    return np.sum(np.stack(out) ** 2)


def grown_through_the_second_name(p, x):
    hs = []
    keep = hs
    h = x
    for _ in range(3):
        h = np.tanh(h * p)
        keep.append(h)
    return np.sum(hs[-1] * hs[0])


CASES = [
    read_after_growth,
    length_read_while_growing,
    grown_from_its_last_item,
    grown_through_the_second_name,
]


@pytest.mark.parametrize("f", CASES, ids=[f.__name__ for f in CASES])
def test_value_gradient_and_hvp_as_python(f):
    vg, grad, hvp = sg.value_and_grad(f), sg.grad(f), sg.hvp(f)
    v = np.array([0.7, -0.2, 0.5])
    eps = 1e-5
    for call in range(3):
        p = P * (1.0 + 0.2 * call)
        value, g = vg(p, X)
        np.testing.assert_allclose(value, f(p, X), rtol=1e-12)
        np.testing.assert_allclose(g, numerical(f, (p, X), 0), rtol=1e-5, atol=1e-7)
        want = (grad(p + eps * v, X) - grad(p - eps * v, X)) / (2 * eps)
        np.testing.assert_allclose(hvp(p, X, v), want, rtol=1e-4, atol=1e-6)
