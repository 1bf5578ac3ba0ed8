"""Losses of a flat vector through ``sourcegrad.util.ravel``'s ``unravel`` (sourcegrad reads
their source, so they live in a file)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sourcegrad.util import ravel


class Head(NamedTuple):
    w: np.ndarray
    scale: float


def tree_loss(p, x):
    h = np.tanh(x @ p["W"] + p["b"])
    return np.sum((h @ p["head"].w) ** 2) * p["head"].scale


PARAMS = {
    "W": np.linspace(-1.0, 1.0, 6).reshape(3, 2),
    "b": np.array([0.1, -0.2]),
    "head": Head(np.array([0.5, -1.5]), 0.7),
    "name_len": 3,  # a static leaf: kept, never in the vector
}
FLAT, UNRAVEL = ravel(PARAMS)


def flat_loss(flat, x):
    p = UNRAVEL(flat)
    h = np.tanh(x @ p["W"] + p["b"])
    return np.sum((h @ p["head"].w) ** 2) * p["head"].scale


def unused_leaf_loss(flat, x):
    p = UNRAVEL(flat)
    return np.sum(np.sin(x @ p["W"]))  # b and head have no adjoint: zeros in the vector
