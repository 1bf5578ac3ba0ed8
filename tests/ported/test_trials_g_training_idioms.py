"""Training-loop idioms of model code: a weight-normalised layer whose ``weight`` is a
property of the dataclass passed in, an activation held as a ``staticmethod`` class attribute,
``super().__call__(x, **kwargs)`` forwarding keywords, a MAML inner step written as a dict
comprehension over ``params.items()``, an optax-style ``(init, update)`` pair of closures
over a learning rate, ``named_parameters()`` yielding ``(name, p)``, an ensemble stacking its
heads, a dict of lambdas selected by name, a hand-written ``tree_map`` with ``is_leaf``, a
generator ``__iter__`` yielding ``(W, b)`` pairs, and a walrus inside a comprehension. Each
against Python's value and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(7105)


def r(*s):
    return R.standard_normal(s)


X = r(4, 3)
W32, B2 = r(3, 2), r(2)


@dataclasses.dataclass
class WNLinear:
    v: np.ndarray
    g: np.ndarray

    @property
    def weight(self):
        return self.g * self.v / np.linalg.norm(self.v, axis=0, keepdims=True)

    def __call__(self, x):
        return x @ self.weight


def weight_norm(layer, x):
    return np.sum(np.tanh(layer(x)) ** 2)


class Act:
    act = staticmethod(np.tanh)
    scale = 2.0

    def __init__(self, W):
        self.W = W

    def __call__(self, x):
        return self.scale * self.act(x @ self.W)


def staticmethod_attribute(W, x):
    return np.sum(Act(W)(x) ** 2)


class Base:
    def __call__(self, x, **kwargs):
        return self.forward(x, **kwargs)


class Drop(Base):
    def __init__(self, W):
        self.W = W

    def forward(self, x, mask=None):
        h = x @ self.W
        return h if mask is None else h * mask


class Wrapped(Drop):
    def __call__(self, x, **kwargs):
        return np.tanh(super().__call__(x, **kwargs))


def super_call_kwargs(W, x, mask):
    return np.sum(Wrapped(W)(x, mask=mask) ** 2) + np.sum(Wrapped(W)(x))


def inner_loss(params, x):
    return np.sum(np.tanh(x @ params["W"] + params["b"]) ** 2)


def maml_dict_comprehension(params, x):
    grads = sg.grad(inner_loss)(params, x)
    fast = {k: v - 0.1 * grads[k] for k, v in params.items()}
    return inner_loss(fast, x)


def scale_by(lr):
    def init(params):
        return None

    def update(grads, state):
        return {k: -lr * g for k, g in grads.items()}, state

    return init, update


def optax_pair(params, x):
    init, update = scale_by(0.1)
    g = sg.grad(inner_loss)(params, x)
    upd, _ = update(g, init(params))
    return inner_loss({k: params[k] + upd[k] for k in params}, x)


class Model:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def named_parameters(self):
        yield "W", self.W
        yield "b", self.b


def named_parameters_decay(W, b, x):
    m = Model(W, b)
    reg = 0.0
    for name, p in m.named_parameters():
        if name.startswith("W"):
            reg = reg + np.sum(p**2)
    return np.sum(np.tanh(x @ m.W + m.b) ** 2) + 0.1 * reg


class Ensemble:
    def __init__(self, heads):
        self.heads = heads

    def __call__(self, x):
        return np.mean(np.stack([x @ h for h in self.heads], axis=0), axis=0)


def ensemble_heads(heads, x):
    return np.sum(np.tanh(Ensemble(heads)(x)) ** 2)


ACTS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "swish": lambda z: z / (1 + np.exp(-z)),
}


def dict_of_lambdas(W, x, name):
    return np.sum(ACTS[name](x @ W) ** 2)


def tree_map(f, t, is_leaf=None):
    if is_leaf is not None and is_leaf(t):
        return f(t)
    if isinstance(t, dict):
        return {k: tree_map(f, v, is_leaf) for k, v in t.items()}
    if isinstance(t, (list, tuple)):
        return type(t)(tree_map(f, v, is_leaf) for v in t)
    return f(t)


def tree_map_is_leaf(params, x):
    halved = tree_map(lambda p: p * 0.5, params, is_leaf=lambda t: isinstance(t, np.ndarray))
    return np.sum(np.tanh(x @ halved["layers"][0]["W"]) ** 2) + np.sum(halved["layers"][1])


class Pairs:
    def __init__(self, Ws, bs):
        self.Ws = Ws
        self.bs = bs

    def __iter__(self):
        for W, b in zip(self.Ws, self.bs):  # noqa: UP028 (as its author wrote it)
            yield W, b


class ZipPairs(Pairs):
    def __iter__(self):
        yield from zip(self.Ws, self.bs)


def generator_iter_pairs(Ws, bs, x):
    model = Pairs(Ws, bs)
    h = x
    for W, b in model:
        h = np.tanh(h @ W + b)
    return np.sum(h**2)


def generator_yield_from_zip(Ws, bs, x):
    h = x
    for W, b in ZipPairs(Ws, bs):
        h = np.tanh(h @ W + b)
    return np.sum(h**2)


def walrus_in_comprehension(W, x):
    y = x @ W
    ys = [y := np.tanh(y) for _ in range(3)]
    return np.sum(ys[-1] ** 2) + np.sum(ys[0]) + np.sum(y)


def walrus_filter_comprehension(x):
    return sum(s for v in x if (s := v**2) > 0.1)


class FlaxDense:
    def __init__(self, features):
        self.features = features

    def apply(self, variables, x, *, train=False, rate=0.5):
        p = variables["params"]
        h = x @ p["kernel"] + p["bias"]
        return h * (1 - rate) if train else h


def flax_apply_train(params, x, y):
    m = FlaxDense(2)
    return np.mean((m.apply({"params": params}, x, train=True) - y) ** 2)


def scan(f, init, xs):
    carry = init
    ys = []
    for x in xs:
        carry, y = f(carry, x)
        ys.append(y)
    return carry, np.stack(ys)


def scan_with_closure(Wh, x):
    def step(h, xt):
        h = np.tanh(h @ Wh + xt[:2])
        return h, h.sum()

    h, ys = scan(step, np.zeros(2), x)  # REFUSED
    return np.sum(h**2) + np.sum(ys)


@dataclasses.dataclass
class Lin:
    W: np.ndarray

    def __call__(self, x):
        return x @ self.W


def replace_in_loop(model, x):
    for i in range(3):
        model = dataclasses.replace(model, W=model.W * 0.9 + 0.01 * i)
    return np.sum(np.tanh(model(x)) ** 2)


def clip(g):
    return np.clip(g, -1.0, 1.0)


def scale(g):
    return -0.1 * g


def chain(*fs):
    return lambda g: functools.reduce(lambda acc, f: f(acc), fs, g)


def optax_chain_step(w, x, y):
    g = sg.grad(lambda w: np.mean((x @ w - y) ** 2))(w)
    upd = chain(clip, scale)(g)
    return np.mean((x @ (w + upd) - y) ** 2)


def leaves_of(t):
    if isinstance(t, dict):
        return [leaf for k in t for leaf in leaves_of(t[k])]
    if isinstance(t, (list, tuple)):
        return [leaf for v in t for leaf in leaves_of(v)]
    return [t]


def filter_array_leaves(params, x):
    arrays = [p for p in leaves_of(params) if isinstance(p, np.ndarray)]
    return sum(np.sum(a**2) for a in arrays) + np.sum(x @ params["W"]) * params["scale"]


def loss_with_metrics(params, x, y):
    pred = x @ params["W"] + params["b"]
    loss = np.mean((pred - y) ** 2)
    return loss, {"mse": loss, "pred_norm": float(np.linalg.norm(pred))}


MASK = (R.random((4, 2)) > 0.5) * 1.0
P = {"W": W32, "b": B2}
Y4 = r(4, 2)

CASES = [
    Case("weight_norm_property", weight_norm, (WNLinear(W32, np.abs(B2) + 0.5), X), order=2),
    Case("staticmethod_attribute", staticmethod_attribute, (W32, X), order=2),
    Case("super_call_kwargs", super_call_kwargs, (W32, X, MASK), order=2),
    Case("maml_dict_comprehension", maml_dict_comprehension, (P, X), rtol=1e-4),
    Case("optax_pair", optax_pair, (P, X), rtol=1e-4),
    Case("named_parameters", named_parameters_decay, (W32, B2, X), wrt=(0, 1), order=2),
    Case("ensemble_heads", ensemble_heads, ([W32, 0.5 * r(3, 2)], X), order=2),
    Case("dict_of_lambdas_swish", dict_of_lambdas, (W32, X, "swish"), order=2),
    Case("dict_of_lambdas_tanh", dict_of_lambdas, (W32, X, "tanh"), order=2),
    Case("tree_map_is_leaf", tree_map_is_leaf, ({"layers": [{"W": W32}, r(2)]}, X), order=2),
    Case("generator_iter_pairs", generator_iter_pairs, ([W32, r(2, 2)], [B2, B2], X), wrt=(0, 1)),
    Case("yield_from_zip", generator_yield_from_zip, ([W32, r(2, 2)], [B2, B2], X), wrt=(0, 1)),
    Case("walrus_in_comprehension", walrus_in_comprehension, (W32, X), order=2),
    Case("flax_apply_train", flax_apply_train, ({"kernel": W32, "bias": B2}, X, r(4, 2)), order=2),
    Case(
        "scan_closure_refused",
        scan_with_closure,
        (r(2, 2), X),
        refused=(sg.UnsupportedSyntaxError, "pass those values to it as arguments"),
    ),
    Case("replace_in_loop", replace_in_loop, (Lin(W32), X), order=2),
    Case("optax_chain_step", optax_chain_step, (r(3), X, r(4)), rtol=1e-4),
    Case("filter_array_leaves", filter_array_leaves, ({"W": W32, "scale": 2.0}, X), order=2),
    Case("walrus_filter_comprehension", walrus_filter_comprehension, (r(5),)),
]


@pytest.mark.parametrize("case", params(CASES))
def test_training_idioms(case):
    check(case)


def test_has_aux_metrics_dict():
    """``value_and_grad(has_aux=True)`` of a loss returning ``(loss, metrics)``: the metrics
    as Python computes them, the gradient against central differences, on calls 1-3."""
    from .harness import numerical

    want = numerical(lambda p, x, y: loss_with_metrics(p, x, y)[0], (P, X, Y4), 0)
    loss, aux = loss_with_metrics(P, X, Y4)
    vg = sg.value_and_grad(loss_with_metrics, has_aux=True)
    for _ in range(3):
        (value, metrics), g = vg(P, X, Y4)
        np.testing.assert_allclose(value, loss, rtol=1e-12)
        assert metrics["pred_norm"] == aux["pred_norm"]
        for k in P:
            np.testing.assert_allclose(g[k], want[k], rtol=1e-5, atol=1e-6)
