"""A helper's kept forward sweep runs in pooled buffers (``sourcegrad/kept.py``): the forward
half takes a buffer set, the adjoint half gives it back. Nothing the caller or the user holds
may live in such a set: values and gradients of one call stay as they were after later calls,
equal to Python's value and to the inline model's gradient, in a loop and through recursion."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg


def layer(W, b, h):
    z = h @ W + b
    return np.tanh(z) * 1.5


def viewed(W, h):
    a = np.exp(h @ W)
    return a[:, 1:]  # a view of an intermediate the callee computed


def deep(W, h, n):
    if n == 0:
        return h
    return deep(W, np.tanh(h @ W), n - 1)


def helpers_loss(params, x):
    h = x
    for W, b in params:
        h = layer(W, b, h)
    return np.sum(viewed(params[0][0], h) ** 2) + np.sum(deep(params[1][0], h, 2))


def inline_loss(params, x):
    h = x
    for W, b in params:
        h = np.tanh(h @ W + b) * 1.5
    a = np.exp(h @ params[0][0])
    r = h
    for _ in range(2):
        r = np.tanh(r @ params[1][0])
    return np.sum(a[:, 1:] ** 2) + np.sum(r)


def _args(seed):
    rng = np.random.default_rng(seed)
    n = 32
    params = [(rng.normal(size=(n, n)) / n, rng.normal(size=n) * 0.1) for _ in range(3)]
    return params, rng.normal(size=(48, n))


def _flat(grads):
    return [a for pair in grads for a in pair]


@pytest.mark.parametrize("seed", [0, 1])
def test_results_outlive_later_calls(seed):
    vg = sg.value_and_grad(helpers_loss)
    inline = sg.value_and_grad(inline_loss)
    kept = []
    for call in range(5):  # the pooled running code from the second call on
        params, x = _args(seed + call % 2)
        value, grads = vg(params, x)
        want_value, want_grads = inline(params, x)
        assert value == helpers_loss(params, x)
        np.testing.assert_allclose(value, want_value, rtol=1e-13)
        for got, want in zip(_flat(grads), _flat(want_grads)):
            np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13, err_msg=f"call {call}")
        kept.append((seed + call % 2, [g.copy() for g in _flat(grads)], _flat(grads)))
    for _, copies, held in kept:  # no later call wrote into an earlier call's results
        for copy, array in zip(copies, held):
            np.testing.assert_array_equal(copy, array)


def test_results_share_no_memory_across_calls():
    vg = sg.value_and_grad(helpers_loss)
    params, x = _args(0)
    results = [_flat(vg(params, x)[1]) for _ in range(4)]
    for a in results[2]:
        for b in results[3]:
            assert not np.shares_memory(a, b)
