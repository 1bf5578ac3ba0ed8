"""Writing an attribute inside a differentiated function: a layer caching its input, or a
value set on an argument object, runs as written (the object holds what Python leaves there);
a call counter that reads back what it keeps (`self.n += 1`) is refused at the user's line,
with a way out that fits: sourcegrad follows values, not the state objects keep."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from tests.ported.harness import marked_line


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
        self.n += 1  # REFUSED
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


def test_a_method_reading_back_what_it_keeps_is_refused():
    """Called inside an expression (a callee, whose derivative may run it again); as a
    statement of its own its state is followed (tests/test_object_state_between_calls.py)."""
    with pytest.raises(sg.SourcegradError) as info:
        sg.grad(counts_calls)(np.ones((2, 3)))
    message = str(info.value)
    assert "keeps state in `self.n` from call to call" in message
    assert "call it as a statement of its own (`y = obj(...)`)" in message
    f = Counter.__call__
    assert message.startswith(f"{f.__code__.co_filename}:{marked_line(f)}: ")


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
