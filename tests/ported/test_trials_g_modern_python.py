"""Model code written in modern Python: frozen dataclass parameters with methods, a
``typing.NamedTuple`` with methods, class hierarchies calling ``super().__call__`` and
``super().forward``, ``@property`` weights, ``@staticmethod``/``@classmethod`` helpers, a
``functools.wraps`` timing-free decorator, a user container of layers with ``__getitem__``,
``__len__`` and ``__iter__``, ``*args``/``**kwargs`` forwarded through two helpers,
positional-only and keyword-only parameters with defaults, ``enum`` for the activation,
``match`` on a string setting, the walrus in a loop, f-string asserts on shapes, ``isinstance``
checks on parameters, ``getattr(self, name)``, ``setattr`` in ``__init__``, ``dict.get``
with a default and ``sorted(params.items())``. Each against Python's value and central
differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import dataclasses
import enum
import functools
from typing import NamedTuple

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(7101)


def r(*s):
    return R.standard_normal(s)


X = r(5, 3)
Y = r(5, 2)


# ------------------------------------------------------------ frozen dataclass with methods


@dataclasses.dataclass(frozen=True)
class Dense:
    W: np.ndarray
    b: np.ndarray
    act: str = "tanh"

    def __call__(self, x):
        z = x @ self.W + self.b
        return np.tanh(z) if self.act == "tanh" else z

    @property
    def n_out(self):
        return self.W.shape[1]


def frozen_dense_loss(layer, x, y):
    assert layer.n_out == y.shape[1], f"layer gives {layer.n_out}, targets have {y.shape[1]}"
    return np.mean((layer(x) - y) ** 2)


@dataclasses.dataclass(frozen=True)
class MLP:
    layers: tuple

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def frozen_mlp_loss(model, x, y):
    return np.mean((model(x) - y) ** 2)


# ------------------------------------------------------------ NamedTuple with methods


class Gaussian(NamedTuple):
    mu: np.ndarray
    log_sigma: np.ndarray

    def log_prob(self, x):
        s = np.exp(self.log_sigma)
        return np.sum(-0.5 * ((x - self.mu) / s) ** 2 - self.log_sigma - 0.5 * np.log(2 * np.pi))

    @property
    def sigma(self):
        return np.exp(self.log_sigma)


def namedtuple_nll(g, x):
    return -sum(g.log_prob(row) for row in x) + 0.01 * np.sum(g.sigma**2)


# ------------------------------------------------------------ class hierarchies and super()


class Layer:
    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        return x


class Affine(Layer):
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def forward(self, x):
        return x @ self.W + self.b


class TanhAffine(Affine):
    def forward(self, x):
        return np.tanh(super().forward(x))


class ScaledTanhAffine(TanhAffine):
    def __init__(self, W, b, scale=2.0):
        super().__init__(W, b)
        self.scale = scale

    def __call__(self, x):
        return self.scale * super().__call__(x)


def super_chain_loss(W, b, x):
    layer = ScaledTanhAffine(W, b, scale=1.5)
    return np.sum(layer(x) ** 2)


class Residual(Affine):
    def forward(self, x):
        return x + np.tanh(super().forward(x))


def residual_stack(Ws, x):
    h = x
    for W in Ws:
        h = Residual(W, np.zeros(W.shape[1]))(h)
    return np.sum(h**2)


# ------------------------------------------------------------ properties, static and class methods


class Weighted:
    def __init__(self, raw):
        self.raw = raw

    @property
    def weight(self):
        return np.exp(self.raw) / np.sum(np.exp(self.raw))

    @staticmethod
    def entropy(p):
        return -np.sum(p * np.log(p))

    @classmethod
    def from_logits(cls, logits):
        return cls(logits - np.max(logits))


def property_static_classmethod(logits, x):
    w = Weighted.from_logits(logits)
    return Weighted.entropy(w.weight) + np.sum(x @ w.weight)


class Scaler:
    factor = 3.0

    @classmethod
    def scale(cls, v):
        return cls.factor * v

    @staticmethod
    def square(v):
        return v * v


def class_attribute_in_classmethod(x):
    return np.sum(Scaler.scale(Scaler.square(x)))


# ------------------------------------------------------------ decorators


def checked(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        assert np.all(np.isfinite(out)), f"{fn.__name__} gave a non-finite value"
        return out

    return wrapper


@checked
def dense_relu(x, W, b):
    return np.maximum(x @ W + b, 0.0)


def decorated_layer_loss(W, b, x):
    return np.sum(dense_relu(x, W, b=b) ** 2)


def scaled(factor):
    def decorate(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            return factor * fn(*args, **kwargs)

        return inner

    return decorate


@scaled(0.5)
def half_sq(v):
    return np.sum(v**2)


def decorator_factory_loss(x):
    return half_sq(np.tanh(x))


# ------------------------------------------------------------ a user container of layers


class LayerList:
    def __init__(self, layers):
        self._layers = list(layers)

    def __len__(self):
        return len(self._layers)

    def __getitem__(self, i):
        return self._layers[i]

    def __iter__(self):
        return iter(self._layers)


def container_iter_loss(params, x):
    layers = LayerList([Affine(W, b) for W, b in params])
    h = x
    for layer in layers:
        h = np.tanh(layer(h))
    return np.sum(h**2)


def container_index_loss(params, x):
    layers = LayerList([Affine(W, b) for W, b in params])
    h = x
    for i in range(len(layers)):
        h = layers[i](h)
        if i < len(layers) - 1:
            h = np.tanh(h)
    return np.sum(h**2) + np.sum(layers[-1].W ** 2)


class Stack:
    def __init__(self, blocks):
        self.blocks = blocks

    def __len__(self):
        return len(self.blocks)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Stack(self.blocks[i])
        return self.blocks[i]

    def __iter__(self):
        yield from self.blocks


def container_argument_loss(stack, x):
    h = x
    for W in stack:
        h = np.tanh(h @ W)
    first = stack[0]
    return np.sum(h**2) + 0.1 * np.sum(first**2) + sum(np.sum(W) for W in stack)


def container_slice_loss(stack, x):
    h = x
    rest = stack[1:]
    for i in range(len(rest)):
        h = np.sin(h @ rest[i])  # REFUSED
    return np.sum(h**2) + np.sum(stack[0] ** 2)


# ------------------------------------------------------------ *args / **kwargs through two levels


def _core(x, W, b, *, slope=0.1):
    z = x @ W + b
    return np.where(z > 0, z, slope * z)


def _middle(*args, **kwargs):
    return _core(*args, **kwargs)


def _outer(x, *args, **kwargs):
    return _middle(x, *args, **kwargs)


def forwarded_args_loss(W, b, x):
    return np.sum(_outer(x, W, b, slope=0.2) ** 2)


# ------------------------------------------------------------ positional-only, keyword-only


def _gelu(z, /, approximate=True):
    if approximate:
        return 0.5 * z * (1 + np.tanh(0.7978845608 * (z + 0.044715 * z**3)))
    return z * 0.5


def _layer(x, W, /, b=None, *, act=_gelu, scale=1.0):
    z = x @ W
    if b is not None:
        z = z + b
    return scale * act(z)


def posonly_kwonly_loss(W, b, x):
    h = _layer(x, W, b, scale=0.5)
    h2 = _layer(h, W[:2].T @ W[:2, :2] if False else np.eye(2), act=np.tanh)
    return np.sum(h2**2) + np.sum(_gelu(h, approximate=False))


# ------------------------------------------------------------ enum and match


class Act(enum.Enum):
    TANH = "tanh"
    RELU = "relu"
    SOFTPLUS = "softplus"


def _activate(z, act):
    if act is Act.TANH:
        return np.tanh(z)
    elif act == Act.RELU:
        return np.maximum(z, 0.0)
    return np.logaddexp(0.0, z)


def enum_activation_loss(W, x, act=Act.SOFTPLUS):
    return np.sum(_activate(x @ W, act) ** 2) + np.sum(_activate(x @ W, Act.TANH))


def _match_act(z, name):
    match name:
        case "tanh":
            return np.tanh(z)
        case "relu" | "leaky":
            return np.maximum(z, 0.01 * z)
        case "gelu":
            return 0.5 * z * (1 + np.tanh(0.8 * z))
        case _:
            raise ValueError(f"unknown activation {name!r}")


def match_config_loss(W, x, config):
    h = x
    for name in config["acts"]:
        h = _match_act(h @ W, name)
    return np.mean(h**2)


def match_enum_value(W, x):
    match Act.TANH.value:
        case "tanh":
            h = np.tanh(x @ W)
        case _:
            h = x @ W
    return np.sum(h**2)


# ------------------------------------------------------------ walrus, asserts, isinstance


def walrus_loop(x):
    total = 0.0
    for row in x:
        if (n := np.sum(row**2)) > 0.5:
            total = total + np.sqrt(n)
        else:
            total = total + n
    return total


def walrus_while(x):
    h = x
    k = 0
    while (k := k + 1) <= 3:
        h = np.tanh(h) + 0.1 * x
    return np.sum(h**2)


def isinstance_params(params, x):
    total = 0.0
    h = x
    for p in params:
        if isinstance(p, dict):
            h = np.tanh(h @ p["W"] + p["b"])
        elif isinstance(p, (tuple, list)):
            W, b = p
            h = h @ W + b
        else:
            h = h * p
    return np.sum(h**2) + total


def shape_asserts(W, x):
    n, d = x.shape
    assert W.shape[0] == d, f"W has {W.shape[0]} rows, x has {d} columns"
    assert W.ndim == 2
    out = x @ W
    assert out.shape == (n, W.shape[1]), f"{out.shape}"
    return np.mean(out**2)


# ------------------------------------------------------------ getattr, setattr in __init__, dict.get


class NamedLayers:
    def __init__(self, weights):
        for name, w in weights.items():
            setattr(self, name, w)
        self.names = list(weights)

    def __call__(self, x):
        for name in self.names:
            x = np.tanh(x @ getattr(self, name))
        return x


def setattr_getattr_loss(weights, x):
    return np.sum(NamedLayers(weights)(x) ** 2)  # REFUSED


def dict_get_default(params, x):
    W = params["W"]
    b = params.get("b", 0.0)
    scale = params.get("scale", 1.0)
    return np.sum(np.tanh(scale * (x @ W) + b) ** 2)


def sorted_items_loss(params, x):
    total = 0.0
    h = x
    for name, W in sorted(params.items()):
        if name.startswith("w"):
            h = np.tanh(h @ W)
        total = total + 1e-2 * np.sum(W**2)
    return np.sum(h**2) + total


def sorted_keys_reversed(params):
    return sum(i * np.sum(params[k] ** 2) for i, k in enumerate(sorted(params, reverse=True)))


W32 = r(3, 2)
P2 = [(r(3, 3), r(3)), (r(3, 2), r(2))]

CASES = [
    Case("frozen_dense", frozen_dense_loss, (Dense(r(3, 2), r(2)), X, Y), order=2),
    Case(
        "frozen_mlp",
        frozen_mlp_loss,
        (MLP((Dense(r(3, 4), r(4)), Dense(r(4, 2), r(2), act="linear"))), X, Y),
        order=2,
    ),
    Case("namedtuple_methods", namedtuple_nll, (Gaussian(r(3), 0.1 * r(3)), X), order=2),
    Case("super_call_chain", super_chain_loss, (W32, r(2), X), wrt=(0, 1), order=2),
    Case("residual_subclass", residual_stack, ([0.5 * r(3, 3), 0.5 * r(3, 3)], X), order=2),
    Case("property_static_class", property_static_classmethod, (r(3), r(4, 3)), order=2),
    Case("classmethod_class_attr", class_attribute_in_classmethod, (r(4),), order=2),
    Case("wraps_decorator", decorated_layer_loss, (W32, r(2), X), wrt=(0, 1)),
    Case("decorator_factory", decorator_factory_loss, (r(4),), order=2),
    Case("container_iter", container_iter_loss, (P2, X), order=2),
    Case("container_index", container_index_loss, (P2, X), order=2),
    Case(
        "container_argument_generator_iter",
        container_argument_loss,
        (Stack([0.5 * r(3, 3), 0.5 * r(3, 3)]), X),
        order=2,
    ),
    Case(
        "container_slice_of_unknown_class_refused",
        container_slice_loss,
        (Stack([r(3, 3), 0.5 * r(3, 3), 0.5 * r(3, 2)]), X),
        refused=(sg.UnsupportedSyntaxError, "index the container the object holds"),
    ),
    Case("args_kwargs_two_levels", forwarded_args_loss, (W32, r(2), X), wrt=(0, 1)),
    Case("posonly_kwonly", posonly_kwonly_loss, (W32, r(2), X), wrt=(0, 1), order=2),
    Case("enum_activation", enum_activation_loss, (W32, X), order=2),
    Case(
        "match_config",
        match_config_loss,
        (0.7 * r(3, 3), X, {"acts": ["tanh", "leaky", "gelu"]}),
    ),
    Case("match_enum_value", match_enum_value, (W32, X), order=2),
    Case("walrus_loop", walrus_loop, (X,)),
    Case("walrus_while", walrus_while, (r(4),), order=2),
    Case(
        "isinstance_params",
        isinstance_params,
        ([{"W": r(3, 3), "b": r(3)}, (r(3, 2), r(2)), r(2)], X),
        order=2,
    ),
    Case("shape_asserts", shape_asserts, (W32, X), order=2),
    Case(
        "setattr_in_init_refused",
        setattr_getattr_loss,
        ({"w1": r(3, 3), "w2": r(3, 2)}, X),
        refused=(sg.NoRuleError, "keep them in one dict field"),
    ),
    Case("dict_get_default", dict_get_default, ({"W": W32, "scale": 0.5}, X), order=2),
    Case("dict_get_present", dict_get_default, ({"W": W32, "b": r(2)}, X), order=2),
    Case(
        "sorted_items",
        sorted_items_loss,
        ({"w2": r(3, 2), "w1": r(3, 3), "extra": r(2)}, X),
        order=2,
    ),
    Case("sorted_keys_reversed", sorted_keys_reversed, ({"b": r(2), "a": r(3), "c": r(1)},)),
]


@pytest.mark.parametrize("case", params(CASES))
def test_modern_python(case):
    check(case)
