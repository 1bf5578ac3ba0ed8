"""``functools.cached_property`` reads as Python does them: where the object's cache is filled,
the cached value is read (a field of the object, which may differ from what the getter would
give now: stale after a field changed), and its adjoint reaches that field; where it is not,
the getter is differentiated. Against Python's value and central differences on calls 1-3, to
second order."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check, params

R = np.random.default_rng(4107)


class Gram:
    def __init__(self, W):
        self.W = W

    @functools.cached_property
    def gram(self):
        return self.W.T @ self.W


def filled(W, stale=False):
    g = Gram(W)
    g.gram  # noqa: B018  (fills the cache)
    if stale:
        g.W = 2.0 * W
    return g


def read_on_argument(g, x):
    return np.sum(g.gram**2) + np.sum(np.tanh(g.W @ x))


def read_in_loop(gs, x):
    return sum(np.sum(np.sin(g.gram) * x) for g in gs)


def read_twice(g, x):
    return np.sum(g.gram * x) + np.sum(g.gram**2)


W = R.standard_normal((3, 2))
X = R.standard_normal((2, 2))

CASES = [
    Case("argument_not_filled", read_on_argument, (Gram(W), X[0]), order=2),
    Case("argument_filled", read_on_argument, (filled(W), X[0]), order=2),
    Case("argument_filled_stale", read_on_argument, (filled(W, stale=True), X[0]), order=2),
    Case("loop_items_mixed", read_in_loop, ([filled(W, True), Gram(0.5 * W)], X), order=2),
    Case("read_twice_stale", read_twice, (filled(W, stale=True), X), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_cached_property_reads(case):
    check(case)


def test_a_stale_cache_gives_pythons_value_and_reaches_its_field():
    g = filled(W, stale=True)
    value, grads = None, None
    vg = sg.value_and_grad(read_twice)
    for _ in range(3):
        value, grads = vg(g, X)
        assert value == read_twice(g, X)
    np.testing.assert_allclose(grads.gram, X + 2.0 * g.gram)
    np.testing.assert_array_equal(grads.W, np.zeros_like(W))  # the cache does not read W
