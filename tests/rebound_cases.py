"""A loss whose helper reads a global function that a test rebinds (sourcegrad reads their
source, so they live in a file)."""

from __future__ import annotations

import numpy as np

ACT = np.tanh


def layer(W, x):
    return ACT(x @ W)


def deeper(W, x):
    return layer(W, x) * 2.0


def loss(W, x):
    return np.sum(layer(W, x) ** 2)


def deep_loss(W, x):
    return np.sum(deeper(W, x) ** 2)
