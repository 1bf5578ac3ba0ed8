"""Parameters held in dataclasses, the way equinox- or flax-style model code holds them
(read by ``test_dataclass_params.py``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np


@dataclasses.dataclass(frozen=True)
class Linear:
    W: np.ndarray
    b: np.ndarray

    def __call__(self, x):
        return x @ self.W + self.b


@dataclasses.dataclass
class Dense:
    W: np.ndarray
    b: np.ndarray
    act: Callable = np.tanh
    name: str = "dense"
    depth: int = 1

    def __call__(self, x):
        return self.act(x @ self.W + self.b)

    def forward(self, x):
        h = x
        for _ in range(self.depth):
            h = self(h)
        return h


@dataclasses.dataclass
class MLP:
    layers: list
    scale: float = 1.0

    def __call__(self, x):
        h = x
        for layer in self.layers:
            h = layer(h)
        return h * self.scale


def fields_inline(p, x):
    return np.sum(np.tanh(x @ p.W + p.b) ** 2)


def fields_in_helper(p, x):
    return np.sum(dense_apply(p, x))


def dense_apply(p, x):
    return np.tanh(x @ p.W + p.b)


def called_object(layer, x):
    return np.sum(np.sin(layer(x)))


def method_calls_itself(layer, x):
    return np.sum(layer.forward(x) ** 2)


def model_object(model, x):
    return np.sum(model(x) ** 2)


def list_of_layers(layers, x):
    h = x
    for layer in layers:
        h = np.tanh(layer(h))
    return np.sum(h)


def loop_over_fields(model, x):
    h = x
    for layer in model.layers:
        h = np.tanh(h @ layer.W + layer.b)
    return np.sum(h) * model.scale


@dataclasses.dataclass
class Powered:
    W: np.ndarray
    n: int = 3


def int_setting_used(p, x):
    return np.sum(np.tanh(x @ p.W) ** p.n) + np.sum(p.W) * p.n
