"""A method storing into its own object (``Cache.forward`` keeping ``self.out``) beside a read
of an attribute of the same name on an object of another class (a ``Net``'s own ``out``
field, read directly or by its method ``head``): the read is of the other object, so it is
differentiated as a value, where before it was refused by the attribute's name; and a name
given the cache after it held something else (``a, c = ...`` then ``c = Cache(w)``), whose
method's stores are read as values from that binding on. Checked through
the public API over several calls: the value against Python's, the gradient against central
differences in float64 and the Hessian-vector product against differences of the gradient."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import sourcegrad as sg

R = np.random.default_rng(2314)
D = 3


@dataclass
class Lin:
    W: np.ndarray
    b: np.ndarray

    @staticmethod
    def act(z):
        return np.sin(z)

    def forward(self, h):
        return self.act(h @ self.W + self.b)


@dataclass
class Net:
    layers: list
    out: np.ndarray

    def head(self, h):
        return h + 0.5 * self.out


class Cache:
    def __init__(self, w):
        self.w = w

    def forward(self, z):
        self.z = z
        self.out = np.tanh(z * self.w)
        return self.out + 0.1 * self.z

    def run(self, z):
        self.forward(z)
        return self.out * 2.0


def head_beside_a_cache(net, x):
    h = x
    for layer in net.layers:
        h = layer.forward(h)
    h = net.head(h)
    c = Cache(np.cos(net.layers[-1].b))
    h = c.run(h)
    return np.sum(h**2)


def field_read_beside_a_cache(net, x):
    h = net.layers[0].forward(x)
    c = Cache(np.cos(net.layers[-1].b))
    h = c.forward(h)
    return np.sum(h**2) + np.sum(net.out * h)


def name_reused_for_a_cache(net, x):
    h = net.layers[0].forward(x)
    a, c = np.tanh(h), np.sin(h)
    for _ in range(2):
        a, c = c, 0.5 * (a + c)
    c = Cache(np.cos(net.layers[-1].b))  # (`c` from here on: the object alone)
    h = c.forward(a)
    return np.sum(h**2) + np.sum(c.out * net.out)


def _net(scale=1.0):
    layers = [Lin(R.standard_normal((D, D)) * 0.5, R.standard_normal(D)) for _ in range(2)]
    return Net(layers, scale * R.standard_normal(D))


X = R.standard_normal(D)
NET = _net()


def _numerical(f, net, x):
    """Central differences of ``f`` in every array field of ``net``."""
    eps = 1e-6
    grads = []
    for holder, name in [*((ly, "W") for ly in net.layers), *((ly, "b") for ly in net.layers)]:
        value = getattr(holder, name)
        g = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            old = value[i]
            value[i] = old + eps
            hi = f(net, x)
            value[i] = old - eps
            lo = f(net, x)
            value[i] = old
            g[i] = (hi - lo) / (2 * eps)
        grads.append(g)
    g = np.zeros_like(net.out)
    for i in np.ndindex(net.out.shape):
        old = net.out[i]
        net.out[i] = old + eps
        hi = f(net, x)
        net.out[i] = old - eps
        lo = f(net, x)
        net.out[i] = old
        g[i] = (hi - lo) / (2 * eps)
    return grads, g


@pytest.mark.parametrize(
    "f", [head_beside_a_cache, field_read_beside_a_cache, name_reused_for_a_cache]
)
def test_value_gradient_and_hvp_as_python(f):
    df = sg.value_and_grad(f)
    for call in range(3):
        x = X * (1.0 + 0.3 * call)
        value, grad = df(NET, x)
        np.testing.assert_allclose(value, f(NET, x), rtol=1e-12)
        layers, out = _numerical(f, NET, x)
        got = [ly.W for ly in grad.layers] + [ly.b for ly in grad.layers]
        for g, want in zip(got, layers):
            np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(grad.out, out, rtol=1e-5, atol=1e-7)
    v = R.standard_normal(D)
    hvp, grad_x = sg.hvp(f, 1), sg.grad(f, 1)
    eps = 1e-5
    for _ in range(3):
        want = (grad_x(NET, X + eps * v) - grad_x(NET, X - eps * v)) / (2 * eps)
        np.testing.assert_allclose(hvp(NET, X, v), want, rtol=1e-4, atol=1e-6)
