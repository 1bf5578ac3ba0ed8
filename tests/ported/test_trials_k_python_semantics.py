"""Python semantics in losses as people write them: keyword-only arguments, array defaults,
``*args``/``**kwargs`` helpers (forwarded, splatted from a list), closures and nested defs
capturing loop variables (late and early binding, refused with their way out where the
closure is called after the loop; a def called in the loop that made it is followed),
lambdas in dicts, decorators (``functools.wraps``, ``lru_cache``/``cache`` on pure shape
helpers), frozen dataclasses with field defaults and ``dataclasses.replace``, a
``default_factory`` field, ``NamedTuple._replace`` and ``_asdict``. Each against Python's
value and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(4242)


def r(*s):
    return R.standard_normal(s)


X = r(4, 3)
Y = r(4, 2)

# ------------------------------------------------------------------ arguments


def huber(r_, *, delta=1.0):
    a = np.abs(r_)
    return np.where(a <= delta, 0.5 * r_**2, delta * (a - 0.5 * delta))


def kwonly_loss(W, x, y, *, delta=0.5, reduction="mean"):
    res = x @ W - y
    h = huber(res, delta=delta)
    if reduction == "mean":
        return np.mean(h)
    return np.sum(h)


def kwonly_caller(W, x, y):
    return kwonly_loss(W, x, y, reduction="sum", delta=0.3) + kwonly_loss(W, x, y)


def weighted_sse(pred, target, weights=np.array([1.0, 2.0])):  # noqa: B008
    return np.sum(weights * (pred - target) ** 2)


def array_default(W, x, y):
    return weighted_sse(x @ W, y) + weighted_sse(x @ W, y, weights=np.array([0.5, 0.1]))


def total_of(*terms):
    out = 0.0
    for t in terms:
        out = out + np.sum(t)
    return out


def star_args_helper(a, b):
    return total_of(a * b, np.sin(a), b**2)


def apply_layer(x, W, **opts):
    z = x @ W
    if opts.get("act", "tanh") == "tanh":
        z = np.tanh(z)
    return z * opts.get("scale", 1.0)


def kwargs_helper(W1, W2, x):
    h = apply_layer(x, W1, act="tanh", scale=0.5)
    out = apply_layer(h, W2, act="none")
    return np.sum(out**2)


def forward_kwargs(W, x, **kw):
    return np.sum(apply_layer(x, W, **kw))


def kwargs_forwarded(W, x):
    return forward_kwargs(W, x, scale=2.0) + forward_kwargs(W, x, act="none")


def splat_args_list(W, b, x):
    args = [x, W]
    z = apply_layer(*args, scale=1.5) + b
    return np.sum(z**2)


# ------------------------------------------------------------------ closures and lambdas


def closures_loop_late(w, x):
    fns = []
    for k in range(3):
        fns.append(lambda v: v * w[k])  # noqa: B023
    return sum(np.sum(f(x)) for f in fns)  # REFUSED


def closures_loop_early(w, x):
    fns = []
    for k in range(3):
        fns.append(lambda v, k=k: v * w[k])
    return sum(np.sum(f(x) ** 2) for f in fns)  # REFUSED


def nested_def_in_loop(w, x):
    total = 0.0
    for i in range(len(w)):

        def term(v):
            return np.sin(v * w[i])  # noqa: B023

        total = total + np.sum(term(x))
    return total


def make_scaler(s):
    def scale(v):
        return v * s

    return scale


def closure_factory(w, x):
    scalers = [make_scaler(w[i]) for i in range(3)]
    return np.sum(scalers[0](x) + scalers[2](x) ** 2)  # REFUSED


ACTS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": lambda z: np.tanh(z),
    "softplus": lambda z: np.log1p(np.exp(z)),
}


def lambdas_in_dict(W1, W2, x, y):
    h = ACTS["softplus"](x @ W1)
    out = ACTS["tanh"](h @ W2)
    return np.mean((out - y) ** 2)


def lambdas_dict_local(w, x):
    losses = {
        "l2": lambda p: np.sum(p**2),
        "l1": lambda p: np.sum(np.sqrt(p**2 + 1e-3)),
    }
    return sum(fn(x * w) for fn in losses.values())


# ------------------------------------------------------------------ decorators


def scaled(factor):
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return factor * fn(*args, **kwargs)

        return wrapper

    return deco


@scaled(0.5)
def half_sse(W, x, y):
    return np.sum((x @ W - y) ** 2)


def decorated_helper(W, x, y):
    return half_sse(W, x, y) + 0.1 * np.sum(W**2)


@functools.lru_cache(maxsize=64)
def out_shape(n, k):
    return (n, k)


def lru_cache_shape(W, x):
    n, k = out_shape(x.shape[0], W.shape[1])
    z = np.zeros(out_shape(n, k))
    z = z + x @ W
    return np.sum(np.tanh(z))


@functools.cache
def fan_in_scale(n):
    return 1.0 / np.sqrt(n)


def functools_cache_scale(W, x):
    return np.sum(np.tanh(x @ W * fan_in_scale(x.shape[1])) ** 2)


# ------------------------------------------------------------------ records


@dataclasses.dataclass(frozen=True)
class Linear:
    W: np.ndarray
    b: np.ndarray
    alpha: float = 0.1

    def __call__(self, x):
        z = x @ self.W + self.b
        return np.where(z > 0, z, self.alpha * z)


def frozen_dataclass_call(layer, x, y):
    return np.mean((layer(x) - y) ** 2)


def frozen_replace(layer, x, y):
    smaller = dataclasses.replace(layer, W=layer.W * 0.5)
    return np.sum((smaller(x) - y) ** 2) + np.sum(layer.b**2)


@dataclasses.dataclass
class Config:
    lr: float = 0.1
    steps: int = 3
    decay: list = dataclasses.field(default_factory=lambda: [1.0, 0.5, 0.25])


def dataclass_field_factory(w, x, y):
    cfg = Config(lr=0.05)
    for t in range(cfg.steps):
        g = 2.0 * x.T @ (x @ w - y)
        w = w - cfg.lr * cfg.decay[t] * g
    return np.sum((x @ w - y) ** 2)


class Gauss(NamedTuple):
    mu: np.ndarray
    log_sigma: np.ndarray


def namedtuple_replace(p, x):
    q = p._replace(mu=p.mu + 1.0)
    z = (x - q.mu) / np.exp(p.log_sigma)
    return np.sum(0.5 * z**2 + p.log_sigma)


def namedtuple_asdict(p, x):
    d = p._asdict()
    return np.sum(d["mu"] * x) + np.sum(np.exp(d["log_sigma"]))


W3 = r(3, 2)

CASES = [
    Case("kwonly_caller", kwonly_caller, (W3, X, Y), order=2),
    Case("array_default", array_default, (W3, X, Y), order=2),
    Case("star_args_helper", star_args_helper, (r(3), r(3)), wrt=(0, 1), order=2),
    Case("kwargs_helper", kwargs_helper, (r(3, 3), r(3, 2), X), wrt=(0, 1), order=2),
    Case("kwargs_forwarded", kwargs_forwarded, (W3, X), order=2),
    Case("splat_args_list", splat_args_list, (W3, r(2), X), wrt=(0, 1), order=2),
    Case(
        "closures_loop_late_refused",
        closures_loop_late,
        (r(3), r(2)),
        refused=(sg.UnsupportedSyntaxError, "pass them to it as arguments"),
    ),
    Case(
        "closures_loop_early_refused",
        closures_loop_early,
        (r(3), r(2)),
        refused=(sg.UnsupportedSyntaxError, "pass them to it as arguments"),
    ),
    Case("nested_def_in_loop", nested_def_in_loop, (r(3), r(2)), wrt=(0, 1), order=2),
    Case(
        "closure_factory_refused",
        closure_factory,
        (r(3), r(2)),
        refused=(sg.UnsupportedSyntaxError, "pass them to it as arguments"),
    ),
    Case("lambdas_in_dict", lambdas_in_dict, (r(3, 3), r(3, 2), X, Y), wrt=(0, 1), order=2),
    Case("lambdas_dict_local", lambdas_dict_local, (r(3), r(3)), wrt=(0, 1), order=2),
    Case("decorated_helper", decorated_helper, (W3, X, Y), order=2),
    Case("lru_cache_shape", lru_cache_shape, (W3, X), order=2),
    Case("functools_cache_scale", functools_cache_scale, (W3, X), order=2),
    Case("frozen_dataclass_call", frozen_dataclass_call, (Linear(W3, r(2)), X, Y)),
    Case("frozen_replace", frozen_replace, (Linear(W3, r(2), 0.2), X, Y), order=2),
    Case("dataclass_field_factory", dataclass_field_factory, (r(3, 2), X, Y), order=2),
    Case("namedtuple_replace", namedtuple_replace, (Gauss(r(3), r(3)), r(3)), order=2),
    Case("namedtuple_asdict", namedtuple_asdict, (Gauss(r(3), r(3)), r(3)), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_python_semantics(case):
    check(case)
