"""What ``sg.grad`` is handed, as users hand it: a bound method of a model object, a static
and a class method, a closure a factory made, a lambda; and a ``functools.partial``, refused
at its function's ``def`` with the way out (differentiate the function, pass the values)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.util import tree_leaves, tree_map

R = np.random.default_rng(8)
X, Y = R.standard_normal((8, 3)), R.standard_normal(8)


class Model:
    def __init__(self, sizes):
        self.params = [
            (0.5 * R.standard_normal((a, b)), np.zeros(b)) for a, b in zip(sizes[:-1], sizes[1:])
        ]

    def predict(self, params, x):
        for W, b in params[:-1]:
            x = np.tanh(x @ W + b)
        W, b = params[-1]
        return (x @ W + b)[:, 0]

    def loss(self, params, x, y):
        return np.mean((self.predict(params, x) - y) ** 2)

    @staticmethod
    def penalty(params, x, y):
        return np.sum(params[0][0] ** 2) * np.mean(x)

    @classmethod
    def cubic(cls, params, x, y):
        return np.sum(params[0][0] ** 3) + np.sum(y)


def make_loss(x, y):
    def loss(p):
        return np.mean((x @ p["w"] - y) ** 2)

    return loss


def base(p, x, y, scale=1.0):
    return scale * np.mean((x @ p - y) ** 2)


def _numerical(f, tree, eps=1e-6):
    def along(leaf):
        g = np.zeros_like(leaf)
        for i in np.ndindex(leaf.shape):
            old = leaf[i]
            leaf[i] = old + eps
            up = f(tree)
            leaf[i] = old - eps
            down = f(tree)
            leaf[i] = old
            g[i] = (up - down) / (2 * eps)
        return g

    return tree_map(along, tree)


M = Model([3, 4, 1])
LOSS = make_loss(X, Y)
P = {"w": R.standard_normal(3)}


@pytest.mark.parametrize(
    "fn, args, tree, f1",
    [
        (M.loss, (M.params, X, Y), M.params, lambda t: M.loss(t, X, Y)),
        (Model.penalty, (M.params, X, Y), M.params, lambda t: Model.penalty(t, X, Y)),
        (M.cubic, (M.params, X, Y), M.params, lambda t: Model.cubic(t, X, Y)),
        (LOSS, (P,), P, LOSS),
    ],
    ids=["bound_method", "staticmethod", "classmethod", "factory_closure"],
)
def test_callables(fn, args, tree, f1):
    want = _numerical(f1, tree)
    df = sg.value_and_grad(fn)
    for _ in range(3):
        value, g = df(*args)
        assert value == fn(*args)
        for a, b in zip(tree_leaves(g), tree_leaves(want), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_a_partial_is_differentiated_with_what_it_binds():
    w = R.standard_normal(3)
    got = sg.grad(functools.partial(base, x=X, y=Y))(w)
    np.testing.assert_allclose(got, sg.grad(base)(w, X, Y))
    np.testing.assert_allclose(sg.grad(base)(w, X, Y), sg.grad(base)(w, x=X, y=Y))
