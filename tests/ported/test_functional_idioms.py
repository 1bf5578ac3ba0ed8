"""Model code written in the functional and everyday styles: ``functools.reduce`` over layers,
``map``/``filter`` with lambdas and named functions, generator-expression penalties over a
dict's values, f-string keys, ``enumerate(zip(...))``, namedtuples and dataclasses (one with a
``shape`` property), ``getattr(obj, name)`` with a computed name, ``sorted(d.items())``, a list or tuple of floats as a NumPy operand (``x @ w``, ``np.square(w)``), early returns and fixed-point ``while`` loops, layer objects in lists.
Each is checked against Python's value and central differences on repeated calls; the forms
still refused name their line and a way out that fits; a namedtuple's ``_replace`` is built
anew."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections import OrderedDict, namedtuple
from dataclasses import dataclass

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(606)


def r(*shape):
    return R.standard_normal(shape)


# reduce over layers with a lambda
def reduce_layers(params, x):
    h = functools.reduce(lambda h, p: np.tanh(h @ p[0] + p[1]), params, x)
    return np.sum(h**2)


# generator-expression L2 penalty over dict values
def l2_dict(params, x):
    out = np.tanh(x @ params["W1"]) @ params["W2"]
    reg = sum(np.sum(w**2) for w in params.values())
    return np.mean(out**2) + 1e-2 * reg


# f-string keys in a loop
def fstring_keys(params, x, n_layers=2):
    h = x
    for i in range(n_layers):
        h = np.tanh(h @ params[f"W{i}"] + params[f"b{i}"])
    return np.sum(h)


# enumerate(zip(...)) with last layer linear
def enum_zip(Ws, bs, x):
    h = x
    for i, (W, b) in enumerate(zip(Ws, bs)):
        h = h @ W + b
        if i < len(Ws) - 1:
            h = np.maximum(h, 0.1 * h)
    return np.sum(h**2)


# namedtuple params with _replace
Params = namedtuple("Params", "W b")


def nt_replace(p, x):
    q = p._replace(b=p.b * 2.0)
    return np.sum(np.tanh(x @ q.W + q.b))


# stable BCE with logaddexp and log1p
def stable_bce(w, x, y):
    z = x @ w
    return np.mean(np.logaddexp(0.0, z) - y * z) + np.mean(np.log1p(np.exp(-np.abs(z))))


# quadratic form, trace, slogdet
def gauss_nll(L, x):
    S = L @ L.T + 3.0 * np.eye(L.shape[0])
    sign, logdet = np.linalg.slogdet(S)
    return 0.5 * (x @ np.linalg.solve(S, x) + logdet) + 0.1 * np.trace(S)


# early return in a loop
def early_return(x, thresholds):
    s = 0.0
    for t in thresholds:
        s = s + np.sum(np.sin(x * t))
        if t > 2.5:
            return s * 2.0
    return s


# fixed-point while with tolerance
def fixed_point(a, x0):
    x = x0
    it = 0
    while True:
        x_new = np.cos(a * x)
        it += 1
        if np.max(np.abs(x_new - x)) < 1e-10 or it > 200:
            break
        x = x_new
    return np.sum(x_new)


# method chains and keepdims
def chains(x):
    m = x.max(axis=1, keepdims=True)
    z = np.exp(x - m)
    p = z / z.sum(axis=1, keepdims=True)
    return -(np.log(p).sum(axis=0).mean()) + x.std(axis=0).sum()


# stack of list comprehension of helper calls
def feature(xi, w):
    return np.tanh(np.dot(xi, w))


def stack_helper(w, xs):
    f = np.stack([feature(xi, w) for xi in xs])
    return np.sum(f * f)


# dataclass with property
@dataclass
class Affine:
    W: np.ndarray
    b: np.ndarray

    @property
    def shape(self):
        return self.W.shape

    def __call__(self, x):
        return x @ self.W + self.b


def dc_prop(m, x):
    assert m.shape[0] == x.shape[1]
    return np.sum(np.tanh(m(x)))


# keyword default overridden in call of grad
def kw_default(w, x, l2=1e-3, *, power=2):
    return np.sum((x @ w) ** power) + l2 * np.sum(w * w)


# tuple-returning helper unpacked (lstm cell)
def cell(x, h, c, W):
    z = np.concatenate([x, h], axis=-1) @ W
    i, f, g, o = np.split(z, 4, axis=-1)
    c = 1 / (1 + np.exp(-f)) * c + 1 / (1 + np.exp(-i)) * np.tanh(g)
    h = 1 / (1 + np.exp(-o)) * np.tanh(c)
    return h, c


def lstm_unrolled(W, xs):
    h = np.zeros((xs.shape[1], W.shape[1] // 4))
    c = np.zeros_like(h)
    for x in xs:
        h, c = cell(x, h, c, W)
    return np.sum(h)


# dropout with rng passed in (same seed each call)
def dropout_loss(w, x, seed):
    rng = np.random.default_rng(seed)
    h = np.tanh(x @ w)
    mask = rng.random(h.shape) < 0.8
    return np.sum(np.where(mask, h / 0.8, 0.0))


# python float scalar param and math functions
def scalar_math(a, b):
    return math.exp(a) * math.sin(b) + math.log(1 + a * a) + a**b


# closure capturing params
def closure_loss(params, x):
    def layer(h, k):
        return np.tanh(h @ params[k])

    return np.sum(layer(layer(x, "a"), "b"))


# leaky relu via boolean masked copy
def masked_copy(x):
    y = x.copy()
    y[y < 0] *= 0.1
    return np.sum(y**2)


# OrderedDict of layers with items()
def od_layers(layers, x):
    h = x
    for name, (W, b) in layers.items():
        h = h @ W + b
        if not name.startswith("out"):
            h = np.tanh(h)
    return np.sum(h)


# sorted + reversed list of arrays
def sorted_norms(xs):
    norms = sorted([np.sum(x**2) for x in xs])
    acc = 0.0
    for k, v in enumerate(reversed(norms)):
        acc = acc + v / (k + 1)
    return acc


# dict update inside loss (MAML-ish inner step written out)
def inner_step(params, x, lr=0.1):
    g = {k: 2 * v for k, v in params.items()}
    new = {k: params[k] - lr * g[k] for k in params}
    return np.sum(np.tanh(x @ new["W"]) + new["b"])


# norm along axis and clip
def norm_clip(W, x):
    n = np.linalg.norm(W, axis=0, keepdims=True)
    Wn = W / np.clip(n, 1e-3, None)
    return np.sum((x @ Wn) ** 2)


# list of layer objects with per-layer activation strings
class Dense:
    def __init__(self, W, b, act):
        self.W, self.b, self.act = W, b, act

    def __call__(self, x):
        z = x @ self.W + self.b
        if self.act == "relu":
            return np.maximum(z, 0.0)
        if self.act == "tanh":
            return np.tanh(z)
        return z


@dataclass
class DenseDC:
    W: np.ndarray
    b: np.ndarray
    act: str = "lin"

    def __call__(self, x):
        z = x @ self.W + self.b
        if self.act == "relu":
            return np.maximum(z, 0.0)
        if self.act == "tanh":
            return np.tanh(z)
        return z


def layer_list(layers, x):
    for layer in layers:
        x = layer(x)
    return np.mean(x**2)


def layer_objects_x(x, layers):
    for layer in layers:
        x = layer(x)
    return np.mean(x**2)


# max over list via builtin max with generator
def max_gen(xs):
    return max(np.sum(x**2) for x in xs) + min(np.sum(np.sin(x)) for x in xs)


# np.outer, np.kron, np.cumsum, np.diff
def misc_ops(a, b):
    o = np.outer(a, b)
    k = np.kron(a[:2], b[:2])
    return np.sum(np.cumsum(o, axis=1) ** 2) + np.sum(np.diff(a) ** 2) + np.sum(k)


# augmented assignment on dict entries inside loss
def dict_aug(params, x):
    p = dict(params)
    p["W"] = p["W"] * 1.0
    p["W"] += 0.5
    return np.sum(x @ p["W"])


# integer power of scalar-array and reciprocal
def powers(x):
    return np.sum(x**-2 + x**0.5 + 2.0**x + np.reciprocal(x))


# einsum attention
def einsum_attn(Wq, Wk, x):
    q = np.einsum("btd,de->bte", x, Wq)
    k = np.einsum("btd,de->bte", x, Wk)
    s = np.einsum("bqe,bke->bqk", q, k) / math.sqrt(q.shape[-1])
    s = s - s.max(-1, keepdims=True)
    a = np.exp(s)
    a /= a.sum(-1, keepdims=True)
    return np.sum(np.einsum("bqk,bkd->bqd", a, x) ** 2)


# tuple params nested
def nested_tuple(params, x):
    (W1, b1), (W2, b2) = params
    return np.sum(np.tanh(np.tanh(x @ W1 + b1) @ W2 + b2))


P2 = {"W1": r(3, 4), "W2": r(4, 2)}
LAYERS = [(r(3, 4) * 0.5, r(4)), (r(4, 2) * 0.5, r(2))]


def _scaled_layer(scale, x, w=None):
    return scale * np.tanh(x @ w)


def partial_map(w, xs):
    outs = map(functools.partial(_scaled_layer, 0.5, w=w), xs)
    return sum(np.sum(o**2) for o in outs)


def _step(lr, acc, x):
    return acc - lr * np.sin(acc * x)


def partial_reduce(w, xs):
    return np.sum(functools.reduce(functools.partial(_step, 0.1 * np.sum(w)), xs, w))


def partial_filter(w, xs):
    kept = filter(functools.partial(_is_positive, 0.0), [np.sum(w * x) for x in xs])
    return sum(v**2 for v in kept)


def _is_positive(floor, v):
    return v > floor


CASES = [
    Case("reduce_layers", reduce_layers, (LAYERS, r(5, 3))),
    Case("partial_map", partial_map, (r(3, 2), [r(4, 3), r(2, 3)]), order=2),
    Case("partial_reduce", partial_reduce, (r(3), [r(3), r(3), r(3)]), order=2),
    Case("partial_filter", partial_filter, (r(3), [r(3), r(3), r(3), r(3)]), order=2),
    Case("l2_dict", l2_dict, (P2, r(5, 3))),
    Case(
        "fstring_keys",
        fstring_keys,
        ({"W0": r(3, 3), "b0": r(3), "W1": r(3, 2), "b1": r(2)}, r(4, 3)),
    ),
    Case("enum_zip", enum_zip, ([r(3, 4), r(4, 2)], [r(4), r(2)], r(5, 3)), wrt=(0, 1)),
    Case("nt_replace", nt_replace, (Params(r(3, 2), r(2)), r(4, 3)), order=2),
    Case("stable_bce", stable_bce, (r(3), r(6, 3), (R.random(6) > 0.5).astype(float))),
    Case("gauss_nll", gauss_nll, (r(3, 3), r(3))),
    Case("early_return", early_return, (r(4), [1.0, 2.0, 3.0, 4.0])),
    Case("fixed_point", fixed_point, (0.5 + 0.1 * R.random(3), np.zeros(3)), rtol=1e-4),
    Case("chains", chains, (r(4, 5),)),
    Case("stack_helper", stack_helper, (r(3), [r(3) for _ in range(4)])),
    Case("dc_prop", dc_prop, (Affine(r(3, 2), r(2)), r(4, 3))),
    Case("kw_default", kw_default, (r(3), r(4, 3))),
    Case("lstm_unrolled", lstm_unrolled, (r(5, 8) * 0.5, r(3, 2, 3))),
    Case("dropout_loss", dropout_loss, (r(3, 4), r(5, 3), 3)),
    Case("scalar_math", scalar_math, (0.7, 1.3), wrt=(0, 1)),
    Case("closure_loss", closure_loss, ({"a": r(3, 3), "b": r(3, 2)}, r(4, 3))),
    Case("masked_copy", masked_copy, (r(10),)),
    Case(
        "od_layers",
        od_layers,
        (OrderedDict([("h1", (r(3, 4), r(4))), ("out", (r(4, 2), r(2)))]), r(5, 3)),
    ),
    Case("sorted_norms", sorted_norms, ([r(3) for _ in range(4)],), order=2),
    Case("inner_step", inner_step, ({"W": r(3, 2), "b": r(2)}, r(4, 3))),
    Case("norm_clip", norm_clip, (r(3, 4), r(5, 3))),
    Case(
        "layer_list",
        layer_list,
        (
            [
                DenseDC(r(3, 4), r(4), "relu"),
                DenseDC(r(4, 4), r(4), "tanh"),
                DenseDC(r(4, 2), r(2)),
            ],
            r(5, 3),
        ),
    ),
    Case(
        "layer_objects_x",
        layer_objects_x,
        (r(5, 3), [Dense(r(3, 4), r(4), "relu"), Dense(r(4, 2), r(2), "tanh")]),
    ),
    Case("max_gen", max_gen, ([r(3) for _ in range(4)],)),
    Case("misc_ops", misc_ops, (r(4), r(3)), wrt=(0, 1)),
    Case("dict_aug", dict_aug, ({"W": r(3, 2)}, r(4, 3))),
    Case("powers", powers, (1.0 + R.random(5),)),
    Case("einsum_attn", einsum_attn, (r(4, 4), r(4, 4), r(2, 3, 4)), wrt=(0, 1)),
    Case("nested_tuple", nested_tuple, (LAYERS, r(5, 3))),
]


@pytest.mark.parametrize("case", params(CASES))
def test_trial(case):
    check(case)


def nt_anew(p, x):
    q = Params(W=p.W, b=p.b * 2.0)
    return np.sum(np.tanh(x @ q.W + q.b))


def nt_local_replace(W, x):
    q = Params(W, W[0])
    q = q._replace(b=q.b * 2.0)
    return np.sum(np.tanh(x @ q.W + q.b))


CASES_B = [
    Case("nt_anew", nt_anew, (Params(r(3, 2), r(2)), r(4, 3))),
    Case("nt_local_replace", nt_local_replace, (r(3, 2), r(4, 3)), order=2),
]


@pytest.mark.parametrize("case", params(CASES_B))
def test_trial_b(case):
    check(case)


def map_l2(params, x):
    h = np.tanh(x @ params[0][0] + params[0][1]) @ params[1][0]
    return np.sum(h**2) + 1e-2 * sum(map(lambda p: np.sum(p[0] ** 2), params))


def map_named(xs, w):
    return np.sum(np.stack(list(map(np.tanh, xs))) @ w)


def map_two(xs, ys):
    return sum(map(lambda a, b: np.sum(a * b), xs, ys))


def filter_pos(xs):
    return sum(np.sum(x**2) for x in filter(lambda x: x.shape[0] > 2, xs))


def reduce_noinit(xs):
    return np.sum(functools.reduce(lambda a, b: a * b, xs))


def reduce_helper_fn(params, x):
    return np.sum(functools.reduce(apply_layer, params, x) ** 2)


def apply_layer(h, p):
    return np.tanh(h @ p[0] + p[1])


def reduce_in_loop(params, x):
    total = 0.0
    for k in range(2):
        total = total + np.sum(functools.reduce(lambda h, p: np.sin(h @ p[0]), params, x * k))
    return total


def sequence_operands(w, x):
    return (
        np.sum((x @ w) ** 2)
        + np.sum(np.square(w) * x)
        + np.sum(np.outer(w, w))
        + np.linalg.norm(w)
        + np.max(w)
    )


def sorted_items_arg(p, x):
    total = 0.0
    for name, w in sorted(p.items()):
        if name.startswith("W"):
            total = total + np.sum(w**2)
    return total + sum(np.sum(v) for k, v in sorted(p.items(), reverse=True)) + np.sum(x @ p["W1"])


def sorted_items_local(x):
    p = {"b": x * 2.0, "a": np.sin(x)}
    return sum(np.sum(v**2) * len(k) for k, v in sorted(p.items()))


@dataclass
class TwoLayers:
    layer0: np.ndarray
    layer1: np.ndarray
    n: int = 2


def getattr_layers(net, x):
    h = x
    for i in range(net.n):
        h = np.tanh(h @ getattr(net, f"layer{i}"))
    return np.sum(h**2)


def getattr_fields(net, x):
    total = 0.0
    for f in dataclasses.fields(net):
        v = getattr(net, f.name)
        if f.name.startswith("layer"):
            total = total + np.sum(np.sin(v) * v)
    return total + np.sum(x @ net.layer0)


def getattr_namedtuple(p, x):
    return sum(np.sum(getattr(p, k) * x) ** 2 for k in p._fields)


CASES_C = [
    Case("getattr_layers", getattr_layers, (TwoLayers(r(3, 3), r(3, 2)), r(4, 3)), order=2),
    Case("getattr_fields", getattr_fields, (TwoLayers(r(3, 3), r(3, 2)), r(4, 3)), order=2),
    Case("getattr_namedtuple", getattr_namedtuple, (Params(r(3), r(3)), r(3)), order=2),
    Case(
        "sorted_items_arg",
        sorted_items_arg,
        ({"b": r(2), "W1": r(3, 2), "W0": r(2, 2)}, r(1, 3)),
        order=2,
    ),
    Case("sorted_items_local", sorted_items_local, (r(3),), order=2),
    Case("list_operands", sequence_operands, ([0.3, -1.2, 2.0], r(2, 3)), order=2),
    Case("tuple_operands", sequence_operands, ((0.3, -1.2, 2.0), r(2, 3)), order=2),
    Case("reduce_layers2", reduce_layers, (LAYERS, r(5, 3))),
    Case("map_l2", map_l2, (LAYERS, r(5, 3))),
    Case("map_named", map_named, ([r(3) for _ in range(4)], r(3))),
    Case("map_two", map_two, ([r(3) for _ in range(4)], [r(3) for _ in range(4)]), wrt=(0, 1)),
    Case("filter_pos", filter_pos, ([r(3), r(2), r(4)],)),
    Case("reduce_noinit", reduce_noinit, ([r(3) for _ in range(4)],)),
    Case("reduce_helper_fn", reduce_helper_fn, (LAYERS, r(5, 3))),
    Case("reduce_in_loop", reduce_in_loop, (LAYERS, r(5, 3))),
]


@pytest.mark.parametrize("case", params(CASES_C))
def test_trial_c(case):
    check(case)
