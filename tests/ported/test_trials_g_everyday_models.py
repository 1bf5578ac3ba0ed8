"""More models written the way their authors write them: Equinox-style frozen dataclass
modules updated by ``dataclasses.replace`` (also rebinding the name), ``NamedTuple`` state
with ``_replace``, a classmethod ``create`` building a plain class and properties read from
what it makes, PyTorch-style ``parameters()`` generators called on loop and comprehension
variables, ``itertools.pairwise`` over layer sizes and activations, ``chain`` of parameter
groups, ``accumulate`` of a running product, a ``@dataclass`` config read with
``getattr``, keyword-only hyperparameters with defaults, ``enumerate`` with ``start``,
``zip(strict=True)`` over layers, nested helper ``*args`` forwarding, ``functools.partial``
handed to ``map``, and a ``match`` on a tuple-free string setting. Each against Python's
value and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import operator
from typing import NamedTuple

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(7103)


def r(*s):
    return R.standard_normal(s)


X = r(5, 3)
Y = r(5, 2)


# ------------------------------------------------------------ Equinox-style modules


@dataclasses.dataclass(frozen=True)
class Linear:
    weight: np.ndarray
    bias: np.ndarray

    def __call__(self, x):
        return x @ self.weight + self.bias


def eqx_scaled(model, x, y, scale=0.5):
    model = dataclasses.replace(model, weight=scale * model.weight)
    model = dataclasses.replace(model, bias=np.tanh(model.bias))
    return np.mean((model(x) - y) ** 2)


def eqx_pruned(model, x, y, mask):
    pruned = dataclasses.replace(model, weight=model.weight * mask)
    return np.mean((pruned(x) - y) ** 2) + np.mean((model(x) - y) ** 2)


def eqx_built_then_replaced(W, b, x):
    lin = Linear(W, b)
    lin = dataclasses.replace(lin, bias=2.0 * b)
    return np.sum(np.sin(lin(x)))


class OptState(NamedTuple):
    step: int
    momentum: np.ndarray

    def advance(self, g, beta=0.9):
        return self._replace(step=self.step + 1, momentum=beta * self.momentum + g)


def namedtuple_state_step(w, x, y):
    state = OptState(0, np.zeros_like(w))
    for _ in range(3):
        g = x.T @ (x @ w - y) / len(y)
        state = state.advance(g)
        w = w - 0.1 * state.momentum
    return np.mean((x @ w - y) ** 2)


class Params(NamedTuple):
    W: np.ndarray
    b: np.ndarray


def namedtuple_replace_argument(p, x, y):
    q = p._replace(W=np.clip(p.W, -1.0, 1.0))
    return np.mean((x @ q.W + q.b - y) ** 2)


# ------------------------------------------------------------ classmethods, properties


class Softmax:
    def __init__(self, logits, temperature):
        self.logits = logits
        self.temperature = temperature

    @classmethod
    def create(cls, logits, temperature=1.0):
        return cls(logits - np.max(logits), temperature)

    @property
    def probs(self):
        e = np.exp(self.logits / self.temperature)
        return e / np.sum(e)


def classmethod_property(logits, values):
    dist = Softmax.create(logits, temperature=0.5)
    return np.sum(dist.probs * values) - 0.1 * np.sum(dist.probs * np.log(dist.probs))


# ------------------------------------------------------------ parameters() on loop variables


class Block:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def parameters(self):
        yield self.W
        yield self.b

    def forward(self, h):
        return np.tanh(h @ self.W + self.b)


def params_in_explicit_loops(W1, b1, W2, b2, x):
    blocks = [Block(W1, b1), Block(W2, b2)]
    h = x
    penalty = 0.0
    for block in blocks:
        h = block.forward(h)
        for p in block.parameters():
            penalty = penalty + np.sum(p**2)
    return np.sum(h**2) + 1e-2 * penalty


def params_of_argument_blocks(blocks, x):
    h = x
    for block in blocks:
        h = block.forward(h)
    return np.sum(h**2) + 1e-2 * sum(np.sum(p**2) for b in blocks for p in b.parameters())


# ------------------------------------------------------------ itertools over layers


def pairwise_sizes_init_apply(flat, x):
    sizes = [3, 4, 2]
    h, start = x, 0
    for m, n in itertools.pairwise(sizes):
        W = flat[start : start + m * n].reshape(m, n)
        start += m * n
        h = np.tanh(h @ W)
    return np.sum(h**2)


def pairwise_activations(Ws, x):
    hs = [x]
    for W in Ws:
        hs.append(np.tanh(hs[-1] @ W))
    smooth = sum(np.sum((b[:, :2] - a[:, :2]) ** 2) for a, b in itertools.pairwise(hs))
    return np.sum(hs[-1] ** 2) + smooth


def chain_groups_decay(enc, dec, x):
    h = x
    for W in itertools.chain(enc, dec):
        h = np.tanh(h @ W)
    decay = sum(np.sum(W**2) for W in itertools.chain(enc, dec))
    return np.sum(h**2) + 1e-2 * decay


def product_grid(ws, xs):
    return sum(np.sum(w * x) ** 2 for w, x in itertools.product(ws, xs))


def accumulate_running_product(x):
    return sum(np.sum(v) for v in itertools.accumulate(x, operator.mul))


# ------------------------------------------------------------ configs and keyword-only settings


@dataclasses.dataclass
class Config:
    activation: str = "tanh"
    weight_decay: float = 1e-2
    layers: int = 2


def config_driven(W, x, cfg):
    act = getattr(np, cfg.activation)
    h = x
    for _ in range(cfg.layers):
        h = act(h @ W)
    return np.sum(h**2) + cfg.weight_decay * np.sum(W**2)


def kwonly_loss(W, x, y, *, l1=0.0, l2=1e-2, reduction="mean"):
    err = (x @ W - y) ** 2
    data = np.mean(err) if reduction == "mean" else np.sum(err)
    return data + l1 * np.sum(np.abs(W)) + l2 * np.sum(W**2)


def kwonly_caller(W, x, y):
    return kwonly_loss(W, x, y, reduction="sum") + kwonly_loss(W, x, y, l2=0.5)


def enumerate_start_layers(Ws, x):
    h = x
    total = 0.0
    for depth, W in enumerate(Ws, start=1):
        h = np.tanh(h @ W)
        total = total + depth * np.sum(h**2)
    return total


def zip_strict_layers(Ws, bs, x):
    h = x
    for W, b in zip(Ws, bs, strict=True):
        h = np.tanh(h @ W + b)
    return np.sum(h**2)


def _apply(fn, *args, **kwargs):
    return fn(*args, **kwargs)


def _dense(x, W, b=0.0, *, act=np.tanh):
    return act(x @ W + b)


def nested_forwarding(W, b, x):
    h = _apply(_dense, x, W, b=b)
    return np.sum(_apply(_dense, h, np.eye(W.shape[1]), act=np.sin) ** 2)


def partial_in_map(Ws, x):
    layer = functools.partial(_dense, x, act=np.sin)
    return sum(np.sum(h**2) for h in map(layer, Ws))


def _norm(h, kind):
    match kind:
        case "layer":
            mu = np.mean(h, axis=-1, keepdims=True)
            var = np.var(h, axis=-1, keepdims=True)
            return (h - mu) / np.sqrt(var + 1e-5)
        case "rms":
            return h / np.sqrt(np.mean(h**2, axis=-1, keepdims=True) + 1e-5)
        case "none":
            return h
    raise ValueError(kind)


def match_norm_kinds(W, x):
    h = x @ W
    return sum(np.sum(np.tanh(_norm(h, k)) ** 2) for k in ("layer", "rms", "none"))


def pairwise_gaps(ws):
    return np.array([np.sum((b - a) ** 2) for a, b in itertools.pairwise(ws)])


def walrus_orbit(x):
    y = x
    ys = [y := np.sin(y) * 1.5 for _ in range(3)]
    return np.stack(ys).ravel()


W32, B2 = r(3, 2), r(2)
LIN = Linear(r(3, 2), r(2))
MASK = (R.random((3, 2)) > 0.4) * 1.0
BLOCKS = [Block(0.5 * r(3, 4), r(4)), Block(0.5 * r(4, 2), r(2))]

CASES = [
    Case("eqx_replace_rebinding", eqx_scaled, (LIN, X, Y), order=2),
    Case("eqx_replace_mask", eqx_pruned, (LIN, X, Y, MASK), order=2),
    Case("eqx_built_then_replaced", eqx_built_then_replaced, (W32, B2, X), wrt=(0, 1), order=2),
    Case("namedtuple_state_replace", namedtuple_state_step, (r(3, 2), X, Y), order=2),
    Case(
        "namedtuple_replace_argument",
        namedtuple_replace_argument,
        (Params(0.5 * r(3, 2), B2), X, Y),
    ),
    Case("classmethod_property", classmethod_property, (r(4), r(4)), order=2),
    Case(
        "params_explicit_loops",
        params_in_explicit_loops,
        (r(3, 4), r(4), r(4, 2), r(2), X),
        wrt=(0, 1, 2, 3),
        order=2,
    ),
    Case("params_argument_blocks", params_of_argument_blocks, (BLOCKS, X), order=2),
    Case("pairwise_sizes", pairwise_sizes_init_apply, (0.5 * r(20), X), order=2),
    Case("pairwise_activations", pairwise_activations, ([r(3, 3), r(3, 2)], X), order=2),
    Case("chain_groups", chain_groups_decay, ([r(3, 3)], [r(3, 2)], X), wrt=(0, 1), order=2),
    Case("product_grid", product_grid, ([r(2), r(2)], [r(2), r(2), r(2)]), wrt=(0, 1), order=2),
    Case("accumulate_running_product", accumulate_running_product, (r(4),), order=2),
    Case("config_getattr", config_driven, (0.7 * r(3, 3), X, Config()), order=2),
    Case("config_sin", config_driven, (0.7 * r(3, 3), X, Config("sin", 0.1, 3)), order=2),
    Case("kwonly_defaults", kwonly_caller, (W32, X, Y), order=2),
    Case("enumerate_start", enumerate_start_layers, ([r(3, 3), r(3, 2)], X), order=2),
    Case("zip_strict", zip_strict_layers, ([r(3, 3), r(3, 2)], [r(3), r(2)], X), wrt=(0, 1)),
    Case("nested_forwarding", nested_forwarding, (W32, B2, X), wrt=(0, 1), order=2),
    Case("partial_in_map", partial_in_map, ([r(3, 2), r(3, 4)], X), order=2),
    Case("match_norm", match_norm_kinds, (r(3, 4), X), order=2),
    Case("pairwise_gaps_jacobian", pairwise_gaps, (r(4),), kind="jac"),
    Case("walrus_orbit_jacobian", walrus_orbit, (r(2),), kind="jac"),
]


@pytest.mark.parametrize("case", params(CASES))
def test_everyday_models(case):
    check(case)


def unknown_norm(W, x):
    return np.sum(_norm(x @ W, "batch"))


def test_a_raise_after_the_returning_branches_raises_pythons_error():
    """``raise ValueError(kind)`` after a ``match`` whose cases return is raised by the
    derivative where no case matched, as by the function, and a later call is unharmed."""
    with pytest.raises(ValueError, match="batch"):
        unknown_norm(W32, X)
    df = sg.grad(unknown_norm)
    for _ in range(2):
        with pytest.raises(ValueError, match="batch"):
            df(W32, X)
        assert np.all(np.isfinite(sg.grad(match_norm_kinds)(W32, X)))
