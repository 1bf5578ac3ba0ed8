"""Writing an attribute inside a differentiated function: a layer caching its input, or a
value set on an argument object, runs as written (the object holds what Python leaves there);
a call counter that reads back what it keeps (`self.n += 1`) is refused at the user's line,
with a way out that fits: sourcegrad follows values, not the state objects keep."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg


class Dense:
    def __init__(self, W):
        self.W = W

    def __call__(self, x):
        self.last_input = x
        return np.tanh(x @ self.W)


class Counter:
    def __init__(self):
        self.n = 0

    def __call__(self, x):
        self.n += 1
        return x * self.n


LAYER = Dense(np.eye(3))
COUNTER = Counter()


def caches_input(w):
    return np.sum(LAYER(w) ** 2)


def counts_calls(w):
    return np.sum(COUNTER(w) ** 2)


def sets_on_argument(w, box):
    box.seen = w * 2.0
    return np.sum(w**2)


def test_a_call_counting_in_an_expression_is_followed():
    """``COUNTER(w)`` inside an expression, ``__call__`` doing ``self.n += 1``: given a
    statement of its own and inlined, its state followed (one step per call of each
    derivative, as Python's call makes one; it was refused as a callee keeping state)."""
    df = sg.value_and_grad(counts_calls)
    w = np.full((2, 3), 0.3)
    for _ in range(3):
        n = COUNTER.n + 1
        value, g = df(w)
        assert COUNTER.n == n
        assert value == pytest.approx(np.sum((w * n) ** 2), rel=1e-12)
        np.testing.assert_allclose(g, 2.0 * n * n * w, rtol=1e-12)


def test_a_layer_caching_its_input_runs_as_written():
    df = sg.grad(caches_input)
    for k in range(3):
        w = np.full((2, 3), 0.1 * (k + 1))
        g = df(w)
        h = np.tanh(w)
        np.testing.assert_allclose(g, 2 * h * (1 - h * h), rtol=1e-12)
        np.testing.assert_array_equal(LAYER.last_input, w)


def test_an_attribute_set_on_an_argument_is_left_as_python_leaves_it():
    box = Counter()
    df = sg.grad(sets_on_argument)
    for k in range(3):
        w = np.arange(3.0) + k
        np.testing.assert_array_equal(df(w, box), 2 * w)
        np.testing.assert_array_equal(box.seen, w * 2.0)
