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


CASES = [stacked, summed_items, read_inside, copied]
SHARED = [aliased, in_a_pair]


def make_args(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(4, 4)) * 0.4, rng.normal(size=(6, 4))
