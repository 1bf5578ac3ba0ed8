"""Networks written as PyTorch-style modules in plain NumPy, as from-scratch tutorials write
them: a ``Module`` base class whose ``parameters()`` is a generator (``yield``, ``yield from``
the children), ``named_parameters()`` yielding pairs, ``__call__`` forwarding to
``forward``, a ``Sequential`` holding layers, weight decay summed over ``parameters()`` of a
model built inside the loss or passed in. Each against Python's value and central
differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(6308)


def r(*s):
    return R.standard_normal(s)


class Module:
    def __call__(self, *args):
        return self.forward(*args)

    def children(self):
        return []

    def own(self):
        return []

    def parameters(self):
        yield from self.own()
        for child in self.children():
            yield from child.parameters()


class Linear(Module):
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def own(self):
        return [self.W, self.b]

    def forward(self, x):
        return x @ self.W + self.b


class Tanh(Module):
    def __init__(self):
        self.name = "tanh"

    def forward(self, x):
        return np.tanh(x)


class Sequential(Module):
    def __init__(self, layers):
        self.layers = layers

    def children(self):
        return self.layers

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class StarSequential(Sequential):
    def __init__(self, *layers):
        self.layers = list(layers)


class Pair:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def parameters(self):
        yield self.W
        yield self.b

    def named_parameters(self):
        yield "W", self.W
        yield "b", self.b


def decay_of_built_pair(W, x):
    layer = Pair(W, np.ones(2))
    out = np.tanh(x @ layer.W + layer.b)
    return np.sum(out**2) + 0.1 * sum(np.sum(p**2) for p in layer.parameters())


def decay_loop_over_generator(W, x):
    layer = Pair(W, np.ones(2))
    total = np.sum(np.tanh(x @ layer.W + layer.b) ** 2)
    for p in layer.parameters():
        total = total + 0.05 * np.sum(p**2)
    return total


def named_decay(W, x):
    layer = Pair(W, np.full(2, 0.5))
    total = np.sum((x @ layer.W) ** 2)
    for name, p in layer.named_parameters():
        if name.startswith("W"):
            total = total + 0.1 * np.sum(p**2)
    return total


def decay_of_given_pair(layer, x):
    return np.sum(np.tanh(x @ layer.W + layer.b)) + sum(np.sum(p**2) for p in layer.parameters())


def sequential_mse(W1, b1, W2, b2, x, y):
    model = Sequential([Linear(W1, b1), Tanh(), Linear(W2, b2)])
    pred = model(x)
    return np.mean((pred - y) ** 2)


def star_sequential(W1, b1, W2, b2, x, y):
    model = StarSequential(Linear(W1, b1), Tanh(), Linear(W2, b2))
    return np.mean((model(x) - y) ** 2)


def sequential_with_decay(W1, b1, W2, b2, x, y, wd=1e-2):
    model = Sequential([Linear(W1, b1), Tanh(), Linear(W2, b2)])
    pred = model(x)
    l2 = sum(np.sum(p**2) for p in model.parameters())
    return np.mean((pred - y) ** 2) + wd * l2


def given_sequential(model, x, y):
    return np.mean((model(x) - y) ** 2)


X = r(5, 3)
Y = r(5, 2)
W1, B1, W2, B2 = 0.5 * r(3, 4), 0.1 * r(4), 0.5 * r(4, 2), 0.1 * r(2)

CASES = [
    Case("generator_method_of_built_object", decay_of_built_pair, (r(3, 2), X), order=2),
    Case("loop_over_generator_method", decay_loop_over_generator, (r(3, 2), X), order=2),
    Case("named_parameters_pairs", named_decay, (r(3, 2), X), order=2),
    Case("generator_method_of_argument", decay_of_given_pair, (Pair(r(3, 2), r(2)), X), order=2),
    Case(
        "sequential_call_forward",
        sequential_mse,
        (W1, B1, W2, B2, X, Y),
        wrt=(0, 1, 2, 3),
        order=2,
    ),
    Case(
        "sequential_parameters_yield_from",
        sequential_with_decay,
        (W1, B1, W2, B2, X, Y),
        wrt=(0, 1, 2, 3),
        order=2,
    ),
    Case(
        "sequential_passed_in",
        given_sequential,
        (Sequential([Linear(W1, B1), Tanh(), Linear(W2, B2)]), X, Y),
    ),
    Case(
        "star_args_init",
        star_sequential,
        (W1, B1, W2, B2, X, Y),
        wrt=(0, 1, 2, 3),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_modules(case):
    check(case)
