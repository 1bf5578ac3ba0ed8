"""More Python as model code is written: ``enumerate(layers, start=1)`` with
``params[f"W{i}"]``, ``sum(..., start=0.0)``, ``max`` of a list of per-task losses, a
frozen dataclass with methods and a ``default_factory`` field, a ``NamedTuple`` with
defaults updated by ``_replace`` in an unrolled step, an ``enum.Enum`` choosing the
activation, ``isinstance`` dispatch over a list of layers, ``OrderedDict`` parameters,
``str.format`` keys, ``operator.itemgetter``, ``dict.get`` with a default, a property built
on a property, ``super().__call__`` through two levels, a PyTorch-style ``Module`` whose
``__setattr__`` registers parameters (refused, saying why), ``match`` with a sequence
pattern (refused, with the ``if``/``elif`` way out), ``zip(*pairs)`` transposition, and
``**cfg`` forwarding, ``itertools.accumulate`` over an array's items, and ``__init__``
taking ``*layers``, keyword-only options after it, or ``**kw`` kept as a dict field. Each against Python's value and central differences on calls 1-3, to
second order where smooth."""

from __future__ import annotations

import dataclasses
import enum
import itertools
import operator
from collections import OrderedDict
from typing import NamedTuple

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(3390)


def r(*s):
    return R.standard_normal(s)


X = r(4, 3)
Y = r(4, 2)


def enumerate_start(params, x, n_layers=2):
    h = x
    for i, _ in enumerate(range(n_layers), start=1):
        h = np.tanh(h @ params[f"W{i}"] + params[f"b{i}"])
    return sum((np.sum(v**2) for v in params.values()), start=0.0) + np.sum(h)


def worst_task(W, tasks):
    losses = [np.mean((x @ W - y) ** 2) for x, y in tasks]
    return max(losses) + 0.1 * sum(losses) / len(losses)


@dataclasses.dataclass(frozen=True)
class Gaussian:
    mu: np.ndarray
    log_sigma: np.ndarray
    tags: list = dataclasses.field(default_factory=list)

    def log_prob(self, x):
        sigma = np.exp(self.log_sigma)
        return np.sum(
            -0.5 * ((x - self.mu) / sigma) ** 2 - self.log_sigma - 0.5 * np.log(2 * np.pi)
        )

    def kl_to_standard(self):
        return 0.5 * np.sum(np.exp(2 * self.log_sigma) + self.mu**2 - 1 - 2 * self.log_sigma)


def frozen_dataclass_elbo(q, x, eps):
    z = q.mu + np.exp(q.log_sigma) * eps
    return -q.log_prob(z) + q.kl_to_standard() + np.sum((z - x) ** 2)


class OptState(NamedTuple):
    w: np.ndarray
    velocity: np.ndarray
    lr: float = 0.1
    momentum: float = 0.9


def namedtuple_replace_steps(w0, x, y, steps=3):
    state = OptState(w0, np.zeros_like(w0))
    for _ in range(steps):
        g = 2 * x.T @ (x @ state.w - y) / len(x)
        v = state.momentum * state.velocity + g
        state = state._replace(w=state.w - state.lr * v, velocity=v)
    return np.mean((x @ state.w - y) ** 2)


class Act(enum.Enum):
    TANH = "tanh"
    RELU = "relu"
    SOFTPLUS = "softplus"


def enum_activation(W, x, act=Act.SOFTPLUS):
    z = x @ W
    if act is Act.TANH:
        h = np.tanh(z)
    elif act == Act.RELU:
        h = np.maximum(z, 0)
    else:
        h = np.logaddexp(0, z)
    return np.sum(h**2)


class Dense:
    def __init__(self, W):
        self.W = W


class Scale:
    def __init__(self, s):
        self.s = s


def isinstance_dispatch(layers, x):
    h = x
    for layer in layers:
        if isinstance(layer, Dense):
            h = np.tanh(h @ layer.W)
        elif isinstance(layer, Scale):
            h = h * layer.s
    return np.sum(h**2)


def ordered_dict_params(params, x):
    h = x
    for name, W in params.items():
        h = np.sin(h @ W) if name.startswith("hidden") else h @ W
    return np.sum(h**2)


def format_keys(params, x):
    h = x
    for i in range(2):
        key = "layer_{}".format(i)  # noqa: UP032 - the idiom ported
        h = np.tanh(h @ params[key] + params.get("bias_{}".format(i), 0.0))  # noqa: UP032
    return np.sum(h**2)


def itemgetter_params(params, x):
    W, b = operator.itemgetter("W", "b")(params)  # REFUSED
    return np.sum(np.tanh(x @ W + b) ** 2)


class Affine:
    def __init__(self, W, log_s):
        self.W = W
        self.log_s = log_s

    @property
    def scale(self):
        return np.exp(self.log_s)

    @property
    def scaled_W(self):
        return self.W * self.scale

    def __call__(self, x):
        return x @ self.scaled_W


class TanhAffine(Affine):
    def __call__(self, x):
        return np.tanh(super().__call__(x))


class ResidualTanhAffine(TanhAffine):
    def __call__(self, x):
        return x + super().__call__(x)


def property_on_property(layer, x):
    return np.sum(layer(x) ** 2)


class Module:
    def __init__(self):
        object.__setattr__(self, "_params", {})

    def __setattr__(self, name, value):
        if isinstance(value, np.ndarray):
            self._params[name] = value
        object.__setattr__(self, name, value)


class TorchLinear(Module):
    def __init__(self, W):
        super().__init__()
        self.W = W

    def forward(self, x):
        return x @ self.W


def setattr_registry(W, x):
    lin = TorchLinear(W)  # REFUSED
    return np.sum(lin.forward(x) ** 2)


def match_sequence(W, x, spec):
    h = x @ W
    match spec:
        case ("scale", s):
            h = h * s
        case _:
            pass
    return np.sum(h**2)


def zip_star_transpose(pairs, x):
    Ws, bs = zip(*pairs)
    h = x
    for W, b in zip(Ws, bs):
        h = np.tanh(h @ W + b)
    return np.sum(h**2) + sum(np.sum(b**2) for b in bs)


def layer(x, W, *, act=np.tanh, scale=1.0):
    return scale * act(x @ W)


def kwargs_forwarding(W, x):
    cfg = {"act": np.sin, "scale": 0.5}
    return np.sum(layer(x, W, **cfg) ** 2)


def acc_array(x):
    return sum(v**2 for v in itertools.accumulate(x))


def acc_array_list(x):
    c = list(itertools.accumulate(x, initial=0.5))
    return np.sum(np.array(c) ** 2)


class Seq:
    def __init__(self, *layers, name="seq", scale=1.0):
        self.layers = layers
        self.name = name
        self.scale = scale

    def __call__(self, x):
        for W in self.layers:
            x = np.tanh(x @ W)
        return self.scale * x


def kwonly_after_star(W1, W2, x):
    net = Seq(W1, W2, scale=2.0)
    return np.sum(net(x) ** 2) + len(net.layers)


class Opts:
    def __init__(self, W, **kw):
        self.W = W
        self.kw = kw

    def out(self, x):
        return x @ self.W * self.kw.get("scale", 1.0)


def kwargs_dict_field(W, x):
    o = Opts(W, scale=3.0, name="a")
    return np.sum(o.out(x) ** 2)


def star_args_loop(Ws, x):
    net = Seq(*Ws)
    return np.sum(net(x))


P_ENUM = {"W1": r(3, 4), "b1": r(4), "W2": r(4, 2), "b2": r(2)}

CASES = [
    Case("enumerate_start", enumerate_start, (P_ENUM, X), order=2),
    Case("worst_task_max", worst_task, (r(3, 2), [(X, Y), (r(4, 3), r(4, 2))]), order=2),
    Case(
        "frozen_dataclass_elbo",
        frozen_dataclass_elbo,
        (Gaussian(r(3), 0.3 * r(3)), r(3), r(3)),
        order=2,
    ),
    Case("namedtuple_replace_steps", namedtuple_replace_steps, (r(3, 2), X, Y), order=2),
    Case("enum_activation", enum_activation, (r(3, 2), X), order=2),
    Case("enum_activation_tanh", enum_activation, (r(3, 2), X, Act.TANH), order=2),
    Case(
        "isinstance_dispatch",
        isinstance_dispatch,
        ([Dense(r(3, 3)), Scale(0.7), Dense(r(3, 2))], X),
        order=2,
    ),
    Case(
        "ordered_dict_params",
        ordered_dict_params,
        (OrderedDict([("hidden1", r(3, 3)), ("hidden2", r(3, 3)), ("out", r(3, 2))]), X),
        order=2,
    ),
    Case(
        "format_keys",
        format_keys,
        ({"layer_0": r(3, 3), "layer_1": r(3, 2), "bias_1": r(2)}, X),
        order=2,
    ),
    Case(
        "itemgetter_params",
        itemgetter_params,
        ({"W": r(3, 2), "b": r(2)}, X),
        refused=(sg.NoRuleError, 'index the container itself (`params["W"]`)'),
    ),
    Case(
        "property_on_property", property_on_property, (ResidualTanhAffine(r(3, 3), 0.2), X), order=2
    ),
    Case(
        "setattr_registry",
        setattr_registry,
        (r(3, 2), X),
        refused=(sg.NoRuleError, "defines __setattr__"),
    ),
    Case(
        "setattr_registry_advice",
        setattr_registry,
        (r(3, 2), X),
        refused=(sg.NoRuleError, "pass them to its methods"),
    ),
    Case("match_sequence_pattern", match_sequence, (r(3, 2), X, ("scale", 2.0)), order=2),
    Case(
        "zip_star_transpose", zip_star_transpose, ([(r(3, 3), r(3)), (r(3, 2), r(2))], X), order=2
    ),
    Case("kwargs_forwarding", kwargs_forwarding, (r(3, 2), X), order=2),
    Case("accumulate_over_array", acc_array, (r(4),), order=2),
    Case("accumulate_initial_over_array", acc_array_list, (r(4),), order=2),
    Case("init_keyword_after_star", kwonly_after_star, (r(3, 3), r(3, 2), X), wrt=(0, 1), order=2),
    Case("init_kwargs_dict_field", kwargs_dict_field, (r(3, 2), X), order=2),
    Case("init_star_spliced_argument", star_args_loop, ([r(3, 3), r(3, 2)], X), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_more_python_idioms(case):
    check(case)
