"""The options the model constructors share: activations by name, per-layer lists, random
generators."""

from __future__ import annotations

import numpy as np

from .. import nn
from ..util.tree import Array

__all__ = ["ACTIVATIONS", "activation_layer", "per_layer", "generator"]

#: the activations a constructor accepts by name (the seed's names, case-insensitive)
ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
}


def activation_layer(activation):
    """A parameter-free layer for ``activation``: a name of :data:`ACTIVATIONS`
    (``"ReLU"``, ``"Tanh"``, ``"Sigmoid"``, ``"GELU"``, any case), or a callable ``act(x)``
    returned as it is (sourcegrad differentiates it from its source or its rule)."""
    if callable(activation):
        return activation
    try:
        return ACTIVATIONS[str(activation).lower()]()
    except KeyError:
        names = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(
            f"unknown activation {activation!r}; one of {names}, or a callable"
        ) from None


def per_layer(values: Array, n, name: str, default):
    """``values`` as a list of ``n`` entries: a single value repeated, a shorter sequence
    padded with ``default`` (the seed's convention for ``dropoutProbs``), or ``n`` values."""
    if values is None:
        return [default] * n
    if np.isscalar(values):
        return [values] * n
    values = list(values)
    if len(values) > n:
        raise ValueError(f"{name}: {len(values)} values for {n} layers")
    return values + [default] * (n - len(values))


def generator(rng: np.random.Generator | int | None):
    """A random generator from ``rng``: a ``numpy.random.Generator`` or any object with its
    methods (returned as it is), a seed, or None (a fresh unseeded generator)."""
    if rng is not None and hasattr(rng, "random"):
        return rng
    return np.random.default_rng(rng)
