"""Objects whose methods keep state in ``self`` between calls, called for their effect.

A method that stores into an attribute is refused where sourcegrad differentiates the call
(`self.h = np.tanh(...)` in an RNN's step whose result is used). Called as a statement whose
result is dropped (``c.add(v)``), the call is not differentiated: its store happens, and a
later read of the attribute (``c.n``) is a constant to the derivative. These programs must
give the right gradient or be refused; today they give zero (a strict xfail until then)."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import numerical


class Counter:
    def __init__(self):
        self.n = 0.0

    def add(self, v):
        self.n += v


class Accumulator:
    total = 0.0

    def add(self, v):
        self.total = self.total + v


def counted(w, x):
    c = Counter()
    for i in range(3):
        c.add(np.sum(x * w) * i)
    return c.n


def accumulated(w, x):
    a = Accumulator()
    a.add(np.sum(np.sin(x * w)))
    return a.total


@pytest.mark.xfail(
    strict=True,
    reason="a user method called as a statement (its result dropped) is not differentiated, "
    "so what it stores into self is a constant when read after the call "
    "(transform/mutations.py checks functions' effects on their arguments, not methods' "
    "stores into self): the gradient is silently zero",
)
@pytest.mark.parametrize("f", [counted, accumulated])
def test_state_kept_by_a_method_is_right_or_refused(f):
    rng = np.random.default_rng(0)
    w, x = rng.standard_normal(3), rng.standard_normal((2, 3))
    try:
        grad = sg.grad(f)
        got = [grad(w, x) for _ in range(3)]
    except sg.SourcegradError as refusal:
        assert refusal.lineno is not None
        return
    want = numerical(f, (w, x), 0)
    for g in got:
        np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-8)
