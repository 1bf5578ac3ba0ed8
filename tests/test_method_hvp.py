"""Second order through methods of differentiated layer objects (``layer.forward(h)`` for
``layer`` a dataclass in a list argument): the HVP once dropped each layer's own tangent (the
method's tangent read as a zero), a silently wrong result. Checked against central
differences of the gradient, on repeated calls."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import sourcegrad as sg


@dataclasses.dataclass
class Scaled:
    W: np.ndarray
    k: float

    def forward(self, x):
        return np.sin(x @ self.W) * self.k

    def twice(self, x):
        return self.forward(self.forward(x))


def forward_loss(layers, x):
    h = x
    for layer in layers:
        h = layer.forward(h)
    return np.sum(h**2)


def nested_loss(layers, x):
    return np.sum(layers[0].twice(x) * layers[1].forward(x))


def _args(seed=0):
    rng = np.random.default_rng(seed)
    layers = [Scaled(rng.standard_normal((3, 3)) / 2, 0.5 + k) for k in range(2)]
    return layers, rng.standard_normal((4, 3))


@pytest.mark.parametrize("f", [forward_loss, nested_loss])
def test_hvp_through_methods_of_layers(f):
    layers, x = _args()
    rng = np.random.default_rng(5)
    vec = [Scaled(rng.standard_normal(a.W.shape), float(rng.standard_normal())) for a in layers]
    g, e = sg.grad(f), 1e-5

    def moved(s):
        return [Scaled(a.W + s * t.W, a.k + s * t.k) for a, t in zip(layers, vec)]

    plus, minus = g(moved(e), x), g(moved(-e), x)
    hv = sg.hvp(f)
    for _ in range(3):
        got = hv(layers, x, vec)
        for k in range(len(layers)):
            fd_W = (plus[k].W - minus[k].W) / (2 * e)
            np.testing.assert_allclose(got[k].W, fd_W, rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(got[k].k, (plus[k].k - minus[k].k) / (2 * e), rtol=1e-6)
