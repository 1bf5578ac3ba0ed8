"""Functions that split an array and use its pieces, for ``test_split_adjoints.py``."""

from __future__ import annotations

import numpy as np


def gates(W, xs):
    h = np.zeros(W.shape[0])
    c = np.zeros(W.shape[0])
    for x in xs:
        i, f, g, o = np.split(x @ W + h @ W, 4, axis=-1)
        c = np.tanh(f) * c + np.tanh(i) * np.sin(g)
        h = np.cos(o) * np.tanh(c)
    return np.sum(h * h)


def one_piece_unused(W, xs):
    total = 0.0
    for x in xs:
        a, b, c = np.split(x @ W, 3, axis=-1)
        total = total + np.sum(a * c)
    return total


def sections_listed(W, xs):
    a, b = np.split(xs @ W, [2], axis=-1)
    return np.sum(np.tanh(a)) + np.sum(b**2)


CASES = [gates, one_piece_unused, sections_listed]


def make_args(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(3, 12)) * 0.4, rng.normal(size=(5, 3))
