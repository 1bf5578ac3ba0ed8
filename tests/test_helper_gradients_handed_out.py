"""A helper's running vjp hands its gradients to the caller as they are where it made them
itself: a bias gradient (``sum_to(g_out, b)`` in the pure code, copied there since it could
be the caller's seed) is a new array in the running code (``sum_leading``), so no copy of it
is made, neither in the helper nor in the caller's gradient. What each gradient call runs is
counted (``sys.setprofile``); the gradients are central differences' (calls 1-3, the running
code from the second), own their memory, share none with each other or with the arguments,
and the arguments are left as they were.
"""

from __future__ import annotations

import collections
import itertools
import sys

import numpy as np

import sourcegrad as sg
from sourcegrad.runtime import containers, trees

from .ported.harness import Case, check


def dense(x, W, b):
    return x @ W + b


def relu(x):
    return np.maximum(x, 0.0)


def log_softmax(z):
    z = z - np.max(z, axis=1, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))


def mlp(params, x, y):
    """A two-layer MLP written with helpers, each called twice or more."""
    h = relu(dense(x, params["W0"], params["b0"]))
    h = relu(dense(h, params["W1"], params["b1"]))
    return -np.sum(y * log_softmax(dense(h, params["W2"], params["b2"]))) / x.shape[0]


def make_args(seed=0):
    rng = np.random.default_rng(seed)
    sizes = [6, 5, 5, 3]
    params = {}
    for k, (m, n) in enumerate(zip(sizes, sizes[1:])):
        params[f"W{k}"] = rng.normal(size=(m, n)) * 0.5
        params[f"b{k}"] = rng.normal(size=n) * 0.1
    x = rng.normal(size=(4, 6))
    y = np.eye(3)[[0, 2, 1, 2]]
    return params, x, y


def calls_of(fn, codes) -> collections.Counter:
    """How many times one call ``fn()`` calls each code object of ``codes``."""
    counts: collections.Counter = collections.Counter()

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            counts[frame.f_code.co_name] += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return counts


def test_the_helper_mlp_agrees_with_differences():
    check(Case("helper mlp", mlp, make_args()))


def test_no_gradient_is_copied_on_its_way_out():
    params, x, y = make_args()
    kept = {k: v.copy() for k, v in params.items()}
    df = sg.value_and_grad(mlp)
    for _ in range(3):
        value, g = df(params, x, y)
    assert value == mlp(params, x, y)
    codes = {trees.copied.__code__, containers._fresh.__code__, containers._leaf.__code__}
    counts = calls_of(lambda: df(params, x, y), codes)
    # the caller's builder checks each of its six leaves once (the helpers' gradients come
    # through kept calls, not known to it); nothing is copied anywhere
    assert counts["copied"] == 0 and counts["_fresh"] == 0, counts
    assert counts["_leaf"] <= len(params), counts
    for k, v in params.items():
        np.testing.assert_array_equal(v, kept[k])
    arrays = list(g.values())
    assert all(a.base is None and a.flags.writeable for a in arrays)
    for a, b in itertools.combinations(arrays + list(params.values()) + [x, y], 2):
        assert not np.shares_memory(a, b)
