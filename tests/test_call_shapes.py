"""The running code knows the shape of what a helper returns where the helper's own shape
inference knows it for the arguments' shapes: the seed a kept call gets is written without
``sum_to``/``unreduce``; where the returned shape depends on values (a mask), on a recursive
call or on a tuple, nothing is assumed and the gradients stay right."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check


def dense(x, W, b):
    return x @ W + b


def log_softmax(z):
    z = z - np.max(z, axis=1, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))


def helper_mlp(params, x, y):
    h = np.tanh(dense(x, params["W"][0], params["b"][0]))
    return -np.sum(y * log_softmax(dense(h, params["W"][1], params["b"][1]))) / x.shape[0]


def positives(v):
    return v[v > 0.0]


def masked_loss(v, w):
    return np.sum(positives(v * w) ** 2) + np.sum(np.outer(v, w))


def halve_until_small(v, n):
    if n == 0:
        return v
    return halve_until_small(0.5 * v, n - 1)


def recursive_loss(v, w):
    return np.sum(w * halve_until_small(v * w, 3))


def pair(a, b):
    return a * b, a + b


def tuple_loss(v, w):
    p, s = pair(v, w)
    return np.sum(p * s)


def mean_square(h, y):
    return np.mean((h - y) ** 2)


def reshaped(t, n):
    B, C = t.shape
    return t.reshape(B, n, C // n).transpose(1, 0, 2)


def heads_loss(x, y):
    return mean_square(reshaped(np.tanh(x), 2), y)


def _mlp_args():
    rng = np.random.default_rng(0)
    params = {
        "W": [rng.standard_normal((4, 5)), rng.standard_normal((5, 3))],
        "b": [rng.standard_normal(5), rng.standard_normal(3)],
    }
    y = np.eye(3)[[0, 2, 1, 1]]
    return params, rng.standard_normal((4, 4)), y


def test_kept_call_seed_needs_no_sum_to():
    args = _mlp_args()
    running = sg.show(helper_mlp, args=args, optimized=True, callees=False)
    assert "backward_kept(" in running
    assert "sum_to(" not in running and "unreduce(" not in running, running
    pure = sg.show(helper_mlp, args=args, callees=False)
    assert "sum_to(" in pure  # the build for ranks alone does not know the shapes


def _vectors(seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(6), rng.standard_normal(6)


CASES = [
    Case("helper_mlp", helper_mlp, _mlp_args()),
    Case("masked", masked_loss, _vectors(), wrt=(0, 1)),
    Case("recursive", recursive_loss, _vectors(2), wrt=(0, 1)),
    Case("tuple", tuple_loss, _vectors(3), wrt=(0, 1)),
    Case(
        "heads",
        heads_loss,
        (
            np.random.default_rng(4).standard_normal((3, 4)),
            np.random.default_rng(5).standard_normal((2, 3, 2)),
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_gradients(case):
    check(case)
