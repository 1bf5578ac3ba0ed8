"""Programs whose derivatives call function values, exported by tests/test_export_values.py:
layer objects called in a loop, lambdas, nested defs, NumPy functions from a list, functions
taking *args; a dict of parameters through a helper at order 2. Imports NumPy only: the
isolated interpreter of the export tests imports it (its layer objects are pickled)."""

import functools
from dataclasses import dataclass

import numpy as np


@dataclass
class Dense:
    W: np.ndarray
    b: np.ndarray

    def __call__(self, x):
        return np.tanh(x @ self.W + self.b)


def layers_loss(layers, x):
    h = x
    for layer in layers:
        h = layer(h)
    return np.sum(h**2)


def layers_args(seed=0, sizes=(3, 5, 4, 2)):
    rng = np.random.default_rng(seed)
    layers = [
        Dense(rng.standard_normal((m, n)) / np.sqrt(m), rng.standard_normal(n) * 0.1)
        for m, n in zip(sizes[:-1], sizes[1:])
    ]
    return layers, rng.standard_normal((6, sizes[0]))


def lambda_loss(params, x):
    act = lambda z: z * np.tanh(z)  # noqa: E731
    h = act(x @ params["W"] + params["b"])
    return np.sum(h**2)


def scaled_loss(params, x, k):
    def scaled(z):
        return np.sin(z) * k

    return np.sum(scaled(x @ params["W"]) ** 2)


ACTIVATIONS = {"hidden": np.tanh, "out": np.sin}


def activations_loss(params, x):
    h = ACTIVATIONS["hidden"](x @ params["W"] + params["b"])
    return np.sum(ACTIVATIONS["out"](h) ** 2)


def dict_args(seed=0):
    rng = np.random.default_rng(seed)
    params = {"W": rng.standard_normal((3, 4)) / 2, "b": rng.standard_normal(4) * 0.1}
    return params, rng.standard_normal((5, 3))


def encode(params, x):
    return np.tanh(x @ params["W"] + params["b"])


def decode(params, h):
    return h @ params["V"]


def autoencoder_loss(params, x):
    h = encode(params, x)
    y = decode(params, h)
    return 0.5 * np.sum((y - x) ** 2) + 1e-2 * np.sum(params["W"] ** 2)


def autoencoder_args(seed=0):
    rng = np.random.default_rng(seed)
    params = {
        "W": rng.standard_normal((3, 4)) / 2,
        "b": rng.standard_normal(4) * 0.1,
        "V": rng.standard_normal((4, 3)) / 2,
    }
    return params, rng.standard_normal((5, 3))


def dense(W, b, x):
    return np.tanh(x @ W + b)


def two_dense(params, x):
    h = dense(params["W"], params["b"], x)
    return dense(params["V"], params["c"], h)


def nested_loss(params, x):
    return np.sum(two_dense(params, x) ** 2)


def nested_args(seed=0):
    rng = np.random.default_rng(seed)
    params = {
        "W": rng.standard_normal((3, 4)) / 2,
        "b": rng.standard_normal(4) * 0.1,
        "V": rng.standard_normal((4, 2)) / 2,
        "c": rng.standard_normal(2) * 0.1,
    }
    return params, rng.standard_normal((5, 3))


@dataclass
class Scaled:
    W: np.ndarray
    k: float

    def forward(self, x):
        return np.sin(x @ self.W) * self.k


def method_loss(layers, x):
    h = x
    for layer in layers:
        h = layer.forward(h)
    return np.sum(h**2)


def method_args(seed=0):
    rng = np.random.default_rng(seed)
    return [
        Scaled(rng.standard_normal((3, 3)) / 2, 0.5 + k) for k in range(2)
    ], rng.standard_normal((4, 3))


def default_loss(params, x):
    act = lambda z, a=0.5: z * np.tanh(a * z)  # noqa: E731
    h = act(x @ params["W"] + params["b"])
    return np.sum(h**2)


def defaults_in_a_loop_loss(params, x):
    acts = [lambda z, a=a: np.tanh(a * z) for a in (0.5, 2.0)]
    h = x @ params["W"]
    for act in acts:
        h = act(h)
    return np.sum(h**2)


def keyword_loss(params, x):
    act = lambda z, a: z * np.tanh(a * z)  # noqa: E731
    h = act(x @ params["W"] + params["b"], a=0.5)
    return np.sum(h**2)


def star_loss(params, x):
    def total(*zs):
        return zs[0] * np.tanh(zs[1])

    h = x @ params["W"]
    return np.sum(total(h, h + params["b"]) ** 2)


@dataclass
class Dropout:
    W: np.ndarray

    def __call__(self, h, *, train=False):
        return np.tanh(h @ self.W) * (0.5 if train else 1.0)


def train_loss(layers, x):
    h = x
    for layer in layers:
        h = layer(h)
    return np.sum(h**2)


def train_args(seed=0):
    rng = np.random.default_rng(seed)
    return [Dropout(rng.standard_normal((3, 3)) / 2) for _ in range(2)], rng.standard_normal((4, 3))


@dataclass
class Pair:
    W: np.ndarray

    def __call__(self, *hs):
        return np.tanh(hs[0] @ self.W) + hs[-1]


def pair_loss(layers, x):
    h = x
    for layer in layers:
        h = layer(h, x)
    return np.sum(h**2)


def pair_args(seed=0):
    rng = np.random.default_rng(seed)
    return [Pair(rng.standard_normal((3, 3)) / 2) for _ in range(2)], rng.standard_normal((4, 3))


_rng = np.random.default_rng(11)
LAYERS = [
    Dense(_rng.standard_normal((3, 4)) / 2, _rng.standard_normal(4) * 0.1),
    Dense(_rng.standard_normal((4, 2)) / 2, _rng.standard_normal(2) * 0.1),
]


def global_layers_loss(x):
    h = x
    for layer in LAYERS:
        h = layer(h)
    return np.sum(h**2)


def global_layers_args(seed=0):
    return (np.random.default_rng(seed).standard_normal((5, 3)),)


SCALE = 2.0


def scale(z, a=SCALE):  # the export writes the default's value, not the name it reads
    return a * np.sin(z)


def helper_default_loss(params, x):
    h = scale(x @ params["W"] + params["b"])
    return np.sum(h**2)


def value_default_loss(params, x):
    f = scale  # a function value: vjp_of / jvp_of fill its default in
    return np.sum(f(x @ params["W"]) ** 2) + np.sum(f(params["b"], 0.5))


def batch_loss(params, *batch):
    x, y = batch
    return np.sum((np.tanh(x @ params["W"] + params["b"]) - y) ** 2)


def batch_step_loss(params, x, y):
    loss = batch_loss  # a function value taking *batch
    return loss(params, x, y)


def batch_args(seed=0):
    params, x = dict_args(seed)
    return params, x, np.random.default_rng(seed + 1).standard_normal((5, 4))


def gated(z, *zs, **options):
    return options["scale"] * np.tanh(z) * zs[0]


def options_loss(params, x):
    f = gated  # a function value taking *zs and **options, called by keyword too
    h = x @ params["W"]
    return np.sum(f(h, h + params["b"], scale=0.5) ** 2)


def partial_loss(params, x):
    f = functools.partial(gated, scale=0.5)  # a partial of one taking *zs and **options
    h = x @ params["W"]
    return np.sum(f(h, h + params["b"]) ** 2)


def lambda_instead_of_partial_loss(params, x):
    f = lambda *zs: gated(*zs, scale=0.5)  # noqa: E731 - the way out a partial's refusal gives
    h = x @ params["W"]
    return np.sum(f(h, h + params["b"]) ** 2)


class Slotted:
    __slots__ = ("W",)

    def __init__(self, W):
        self.W = W

    def __call__(self, x):
        return np.tanh(x @ self.W)


SLOTTED = [Slotted(_rng.standard_normal((3, 3)) / 2)]


def slotted_loss(x):
    h = x
    for layer in SLOTTED:
        h = layer(h)
    return np.sum(h**2)
