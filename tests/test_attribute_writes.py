"""Writing an attribute inside a differentiated function (a layer caching its input, a call
counter) is refused at the user's line, with a way out that fits: sourcegrad follows values,
not the state objects keep between calls."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from tests.ported.harness import check_refusal, marked_line


class Dense:
    def __init__(self, W):
        self.W = W

    def __call__(self, x):
        self.last_input = x  # REFUSED
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
    box.seen = w  # REFUSED
    return np.sum(w**2)


@pytest.mark.parametrize(
    "f, method", [(Dense.__call__, caches_input), (Counter.__call__, counts_calls)]
)
def test_a_method_writing_an_attribute_is_refused(f, method):
    with pytest.raises(sg.SourcegradError) as info:
        sg.grad(method)(np.ones((2, 3)))
    message = str(info.value)
    assert "changes an attribute of an object" in message
    assert "has_aux=True" in message
    assert message.startswith(f"{f.__code__.co_filename}:{marked_line(f)}: ")


def test_an_attribute_set_on_an_argument_is_refused():
    check_refusal(sets_on_argument, (np.ones(3), Counter()), sg.SourcegradError, "has_aux=True")
