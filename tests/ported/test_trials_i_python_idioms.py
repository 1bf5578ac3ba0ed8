"""Python as people write model code: a dataclass and a ``NamedTuple`` holding parameters,
``enumerate``/``zip`` over a list of layers with ``*hidden, last`` unpacking, dict
comprehensions building ``params[f"W{i}"]``, ``functools.partial`` of a loss,
``itertools.accumulate`` and ``itertools.pairwise``, a generator yielding per-batch losses,
``match`` on an activation name, the walrus, ``getattr(self, f"layer{i}")`` over layers
stored by ``setattr`` in ``__init__``, ``@staticmethod``/``@classmethod`` helpers,
``__call__``, properties, and inheritance calling ``super().forward(x)``. Each against
Python's value and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import NamedTuple

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(2207)


def r(*s):
    return R.standard_normal(s)


X = r(4, 3)
Y = r(4, 2)


# ------------------------------------------------------------------ records


@dataclasses.dataclass
class MLPParams:
    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray
    activation: str = "tanh"


def dataclass_mlp(p: MLPParams, x, y):
    act = np.tanh if p.activation == "tanh" else np.sin
    h = act(x @ p.W1 + p.b1)
    out = h @ p.W2 + p.b2
    return np.mean((out - y) ** 2)


class Linear(NamedTuple):
    W: np.ndarray
    b: np.ndarray

    def __call__(self, x):
        return x @ self.W + self.b


def namedtuple_layers(layers, x, y):
    *hidden, last = layers
    h = x
    for layer in hidden:
        h = np.tanh(layer(h))
    return np.sum((last(h) - y) ** 2)


def enumerate_zip_layers(Ws, bs, x):
    h = x
    for i, (W, b) in enumerate(zip(Ws, bs)):
        h = h @ W + b
        if i < len(Ws) - 1:
            h = np.maximum(h, 0.1 * h)
    return np.sum(h**2)


def init_params(sizes, rng):
    return {
        f"W{i}": rng.standard_normal((m, n)) * 0.5
        for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:]))
    }


def fstring_keys(params, x, n_layers=2):
    h = x
    for i in range(n_layers):
        h = h @ params[f"W{i}"]
        if i < n_layers - 1:
            h = np.tanh(h)
    return np.sum(h**2)


def dict_comprehension_step(params, x, lr=0.1):
    grads = {k: 2 * v for k, v in params.items()}
    new = {name: params[name] - lr * grads[name] for name in params}
    return fstring_keys(new, x)


def mse(pred, target, weight=1.0):
    return weight * np.mean((pred - target) ** 2)


def partial_loss(W, x, y):
    loss_fn = functools.partial(mse, target=y, weight=0.5)
    return loss_fn(np.tanh(x @ W))


def accumulate_residual(ws, x):
    partials = list(itertools.accumulate(ws))
    return sum(np.sum(np.tanh(x @ p) ** 2) for p in partials)


def accumulate_product(scales):
    running = list(itertools.accumulate(scales, lambda a, b: a * b))
    return sum(running)


def pairwise_path_length(points):
    return sum(np.sqrt(np.sum((b - a) ** 2)) for a, b in itertools.pairwise(points))


def batches(x, y, size):
    for i in range(0, len(x), size):
        yield x[i : i + size], y[i : i + size]


def generator_batches(W, x, y):
    total = 0.0
    for xb, yb in batches(x, y, 2):
        total += np.sum((xb @ W - yb) ** 2)
    return total


def batch_losses(W, x, y):
    for xb, yb in batches(x, y, 2):
        yield np.mean((np.tanh(xb @ W) - yb) ** 2)


def generator_of_losses(W, x, y):
    return sum(batch_losses(W, x, y))


def activate(z, name):
    match name:
        case "relu":
            return np.maximum(z, 0.0)
        case "gelu" | "gelu_tanh":
            return 0.5 * z * (1 + np.tanh(0.7978845608 * (z + 0.044715 * z**3)))
        case "swish":
            return z / (1 + np.exp(-z))
        case _:
            return z


def match_activation(W, x, name):
    return np.sum(activate(x @ W, name) ** 2)


def walrus_norm_clip(W, x, max_norm=1.0):
    h = x @ W
    if (n := np.sqrt(np.sum(h**2))) > max_norm:
        h = h * (max_norm / n)
    return np.sum(np.sin(h))


# ------------------------------------------------------------------ classes


class Stack:
    def __init__(self, Ws):
        self.n = len(Ws)
        for i, W in enumerate(Ws):
            setattr(self, f"layer{i}", W)

    def forward(self, x):
        for i in range(self.n):
            x = np.tanh(x @ getattr(self, f"layer{i}"))
        return x


def getattr_layers(Ws, x):
    net = Stack(Ws)  # REFUSED
    return np.sum(net.forward(x) ** 2)


def getattr_layers_of_argument(net, x):  # REFUSED
    return np.sum(net.forward(x) ** 2)


class Scaler:
    def __init__(self, W, log_scale):
        self.W = W
        self.log_scale = log_scale

    @property
    def scale(self):
        return np.exp(self.log_scale)

    @staticmethod
    def act(z):
        return z * np.tanh(z)

    @classmethod
    def from_params(cls, p):
        return cls(p["W"], p["log_scale"])

    def __call__(self, x):
        return self.scale * self.act(x @ self.W)


def classmethod_property(p, x):
    model = Scaler.from_params(p)
    return np.sum(model(x) ** 2)


class Base:
    def __init__(self, W):
        self.W = W

    def forward(self, x):
        return x @ self.W


class Residual(Base):
    def forward(self, x):
        return x + np.tanh(super().forward(x))


class Normed(Residual):
    def forward(self, x):
        h = super().forward(x)
        return h / np.sqrt(np.mean(h**2, axis=-1, keepdims=True) + 1e-5)


def inheritance_chain(W, x):
    return np.sum(Normed(W).forward(x) ** 2)


def inheritance_object_arg(model, x):
    return np.sum(model.forward(x) ** 3)


class Sequential:
    def __init__(self, *layers):
        self.layers = list(layers)

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def sequential_of_namedtuples(W1, b1, W2, b2, x):
    net = Sequential(Linear(W1, b1), np.tanh, Linear(W2, b2))
    return np.sum(net(x) ** 2)


def sequential_spliced(params, x):
    net = Sequential(*[Linear(W, b) for W, b in params])  # REFUSED
    return np.sum(np.tanh(net(x)) ** 2)


def sequential_named_list(params, x):
    layers = [Linear(W, b) for W, b in params]
    net = Sequential(*layers)
    return np.sum(np.tanh(net(x)) ** 2)


class Configured:
    def __init__(self, W, *extra, **options):
        self.W = W
        self.extra = extra
        self.scale = options.get("scale", 1.0)
        self.act = options.pop("act", np.tanh)

    def __call__(self, x):
        h = self.act(x @ self.W) * self.scale
        for E in self.extra:
            h = h @ E
        return h


def init_varargs_kwargs(W, E, x):
    model = Configured(W, E, scale=0.5, act=np.sin)
    plain = Configured(W)
    return np.sum(model(x) ** 2) + np.sum(plain(x))


def accumulate_initial(ws, x, w0):
    total = 0.0
    for W in itertools.accumulate(ws, func=lambda a, b: a @ b, initial=w0):
        total += np.sum(np.tanh(x @ W))
    return total


def accumulate_of_nothing(scales, x):
    parts = list(itertools.accumulate(scales[:0]))
    return np.sum(x * scales[0]) + len(parts)


def accumulate_in_generator(ws, x):
    return sum(np.sum(np.tanh(x @ W) ** 2) for W in itertools.accumulate(ws))


def reduce_in_comprehension(mats, x):
    chain = [
        np.sum(np.sin(x @ M))
        for M in functools.reduce(lambda acc, m: acc + [acc[-1] @ m], mats[1:], [mats[0]])
    ]
    return sum(chain)


def running_max_accumulate(xs):
    return sum(itertools.accumulate(xs, max))


def zip_strict_rest(params, x):
    first, *rest = params
    h = np.tanh(x @ first)
    for W, scale in zip(rest, [0.5, 2.0], strict=True):
        h = scale * np.tanh(h @ W)
    return np.sum(h)


def dict_of_params_comprehension(weights, x):
    params = {name: w for name, w in zip(["enc", "dec"], weights)}
    h = np.tanh(x @ params["enc"])
    return np.sum((h @ params["dec"] - x) ** 2)


def sorted_items_reg(params, x):
    reg = sum(np.sum(v**2) for _, v in sorted(params.items()))
    return np.sum(np.tanh(x @ params["a"]) @ params["b"]) + 0.1 * reg


def any_all_guards(W, x):
    h = x @ W
    if all(np.all(np.isfinite(v)) for v in (h, W)) and not any(v.size == 0 for v in (h,)):
        return np.sum(np.cos(h))
    return 0.0


SIZES = [3, 4, 2]
P_F = init_params(SIZES, np.random.default_rng(1))

CASES = [
    Case("dataclass_mlp", dataclass_mlp, (MLPParams(r(3, 4), r(4), r(4, 2), r(2)), X, Y), order=2),
    Case(
        "namedtuple_layers_rest",
        namedtuple_layers,
        ([Linear(r(3, 4), r(4)), Linear(r(4, 3), r(3)), Linear(r(3, 2), r(2))], X, Y),
        order=2,
    ),
    Case(
        "enumerate_zip_layers",
        enumerate_zip_layers,
        ([r(3, 4), r(4, 2)], [r(4), r(2)], X),
        wrt=(0, 1),
    ),
    Case("fstring_keys", fstring_keys, (P_F, X), order=2),
    Case("dict_comprehension_step", dict_comprehension_step, (P_F, X), order=2),
    Case("partial_loss", partial_loss, (r(3, 2), X, Y), order=2),
    Case("accumulate_residual", accumulate_residual, ([r(3, 2), r(3, 2), r(3, 2)], X), order=2),
    Case("accumulate_product", accumulate_product, ([0.5, 1.5, -0.7, 1.2],), order=2),
    Case("pairwise_path", pairwise_path_length, ([r(2), r(2), r(2), r(2)],), order=2),
    Case("generator_batches", generator_batches, (r(3, 2), X, Y), order=2),
    Case("generator_of_losses", generator_of_losses, (r(3, 2), X, Y), order=2),
    Case("match_gelu", match_activation, (r(3, 2), X, "gelu_tanh"), order=2),
    Case("match_swish", match_activation, (r(3, 2), X, "swish"), order=2),
    Case("match_default", match_activation, (r(3, 2), X, "linear"), order=2),
    Case("walrus_clip", walrus_norm_clip, (r(3, 2), X), order=2),
    Case(
        "setattr_fields_built_inside",
        getattr_layers,
        ([r(3, 3), r(3, 2)], X),
        refused=(sg.NoRuleError, "store each with `self.name = value`"),
    ),
    Case(
        "setattr_fields_of_argument",
        getattr_layers_of_argument,
        (Stack([r(3, 3), r(3, 2)]), X),
        refused=(sg.WrtTypeError, "sets fields by computed names"),
    ),
    Case(
        "classmethod_property", classmethod_property, ({"W": r(3, 2), "log_scale": 0.2}, X), order=2
    ),
    Case("inheritance_chain", inheritance_chain, (r(3, 3), X), order=2),
    Case("inheritance_object_arg", inheritance_object_arg, (Normed(r(3, 3)), X), order=2),
    Case(
        "sequential_namedtuples",
        sequential_of_namedtuples,
        (r(3, 4), r(4), r(4, 2), r(2), X),
        wrt=(0, 1, 2, 3),
        order=2,
    ),
    Case(
        "sequential_spliced_comprehension",
        sequential_spliced,
        ([(r(3, 4), r(4)), (r(4, 2), r(2))], X),
        refused=(sg.UnsupportedSyntaxError, "build the list first, `items = [...]`"),
    ),
    Case(
        "sequential_named_list",
        sequential_named_list,
        ([(r(3, 4), r(4)), (r(4, 2), r(2))], X),
        order=2,
    ),
    Case("init_varargs_kwargs", init_varargs_kwargs, (r(3, 2), r(2, 2), X), wrt=(0, 1), order=2),
    Case(
        "accumulate_initial",
        accumulate_initial,
        ([r(2, 2), r(2, 2)], X[:, :2], r(2, 2)),
        wrt=(0, 2),
        order=2,
    ),
    Case("accumulate_of_nothing", accumulate_of_nothing, (r(3), X), order=2),
    Case(
        "accumulate_in_generator",
        accumulate_in_generator,
        ([r(3, 2), r(3, 2), r(3, 2)], X),
        order=2,
    ),
    Case(
        "reduce_in_comprehension",
        reduce_in_comprehension,
        ([r(3, 3), r(3, 3), r(3, 3)], X),
        order=2,
    ),
    Case("running_max_accumulate", running_max_accumulate, ([0.3, 1.2, -0.5, 2.0, 1.1],)),
    Case("zip_strict_rest", zip_strict_rest, ([r(3, 3), r(3, 3), r(3, 2)], X), order=2),
    Case(
        "dict_of_params_comprehension",
        dict_of_params_comprehension,
        ([r(3, 2), r(2, 3)], X),
        order=2,
    ),
    Case("sorted_items_reg", sorted_items_reg, ({"b": r(2, 2), "a": r(3, 2)}, X), order=2),
    Case("any_all_guards", any_all_guards, (r(3, 2), X), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_python_idioms(case):
    check(case)


def test_partial_handed_to_grad():
    """``sg.grad(functools.partial(loss, x=x, y=y))`` as a training script binds its data."""
    from .harness import numerical

    f = functools.partial(partial_loss, x=X, y=Y)
    W = r(3, 2)
    want = numerical(lambda w: partial_loss(w, X, Y), (W,), 0)
    df = sg.grad(f)
    for _ in range(3):
        np.testing.assert_allclose(df(W), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["init_varargs_kwargs", "sequential_namedtuples"])
def test_init_taking_star_args_exports(name, tmp_path):
    """A loss building objects whose ``__init__`` takes ``*args``/``**kwargs`` exports, and
    the module gives ``value_and_grad``'s numbers bit for bit."""
    from ..test_export import run_isolated, same, steady

    (case,) = [c for c in CASES if c.id == name]
    text = sg.export(case.f, *case.args, wrt=case.wrt)
    got = run_isolated(tmp_path, text, f"d_{case.f.__name__}", case.args)
    assert same(got, steady(sg.value_and_grad(case.f, case.wrt), *case.args)), got
