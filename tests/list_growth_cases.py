"""Functions that grow lists in loops, for ``test_lists_grown_in_place.py``."""

from __future__ import annotations

import numpy as np


def stacked(W, xs):
    h = np.zeros(W.shape[0])
    hs = []
    for x in xs:
        h = np.tanh(W @ h + x)
        hs.append(h)
    H = np.stack(hs)
    return np.sum(H * H)


def summed_items(W, xs):
    h = np.zeros(W.shape[0])
    hs = []
    for x in xs:
        h = np.sin(W @ h + x)
        hs.append(h)
    return sum(np.sum(v * v) for v in hs) + len(hs)


def read_inside(W, xs):
    """The list is read while it grows: each step's value depends on the list so far."""
    h = np.zeros(W.shape[0])
    hs = [h]
    total = 0.0
    for x in xs:
        h = np.tanh(W @ hs[-1] + x)
        hs.append(h)
        total = total + np.sum(np.stack(hs) ** 2)
    return total


def aliased(W, xs):
    """A second name keeps the list as it was: it must not grow with the first."""
    h = np.zeros(W.shape[0])
    hs = []
    first = hs
    for x in xs:
        h = np.tanh(W @ h + x)
        hs.append(h)
        if len(hs) == 1:
            first = hs
    return np.sum(np.stack(hs)) + np.sum(np.stack(first) ** 2)


def copied(W, xs):
    """A copy taken while the list grows: each keeps its own items."""
    h = np.zeros(W.shape[0])
    hs = []
    first = []
    for x in xs:
        h = np.tanh(W @ h + x)
        hs.append(h)
        if len(hs) == 2:
            first = list(hs)
    return np.sum(np.stack(hs)) + np.sum(np.stack(first) ** 2)


def in_a_pair(W, xs):
    """A tuple holding the list while it grows: Python's tuple sees every item."""
    h = np.zeros(W.shape[0])
    hs = []
    pair = (hs, h)
    for x in xs:
        h = np.tanh(W @ h + x)
        hs.append(h)
    return np.sum(np.stack(pair[0]))


class Dense:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def __call__(self, h):
        return np.tanh(h @ self.W + self.b)


def layered(params, x):
    """A list of objects built by a comprehension, then called one by one."""
    layers = [Dense(W, b) for W, b in params]
    h = x
    for layer in layers:
        h = layer(h)
    return np.sum(h * h)


def shared_layers(W, biases, x):
    """Layers of one weight matrix, scaled per layer: a list of objects, a function of one
    array."""
    layers = [Dense(W * (0.5 + 0.25 * k), b) for k, b in enumerate(biases)]
    h = x
    for layer in layers:
        h = layer(h)
    return np.sum(h * h)


def cached_pairs(W, xs):
    """A cache of tuples, read back in a loop."""
    h = np.zeros(W.shape[0])
    cache = []
    for x in xs:
        h = np.tanh(W @ h + x)
        cache.append((x, h))
    total = 0.0
    for x, hh in cache:
        total = total + np.sum(hh * x)
    return total


def cached_dicts(W, xs):
    """A cache of dicts, read back in a loop."""
    h = np.zeros(W.shape[0])
    cache = []
    for x in xs:
        h = np.sin(W @ h + x)
        cache.append({"x": x, "h": h})
    total = 0.0
    for c in cache:
        total = total + np.sum(c["h"] * c["x"] ** 2)
    return total


def star_grown(W, xs):
    """``hs = [*hs, h]`` written by hand."""
    h = np.zeros(W.shape[0])
    hs = []
    for x in xs:
        h = np.tanh(W @ h + x)
        hs = [*hs, h]
    return np.sum(np.stack(hs) ** 2)


CASES = [stacked, summed_items, read_inside, copied]
#: functions of (W, xs) whose lists hold objects, tuples or dicts, or grow by ``[*hs, h]``
GROWN = [cached_pairs, cached_dicts, star_grown]
SHARED = [aliased, in_a_pair]


def make_args(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(4, 4)) * 0.4, rng.normal(size=(6, 4))


def make_layers(n, seed=1):
    """``n`` (W, b) pairs for :func:`layered`, and its input."""
    rng = np.random.default_rng(seed)
    params = [(rng.normal(size=(4, 4)) * 0.4, rng.normal(size=4) * 0.3) for _ in range(n)]
    return params, rng.normal(size=(2, 4))


def make_shared_layers(n=4, seed=2):
    """Arguments of :func:`shared_layers` with ``n`` layers."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(4, 4)) * 0.4, list(rng.normal(size=(n, 4)) * 0.3), rng.normal(size=4)
