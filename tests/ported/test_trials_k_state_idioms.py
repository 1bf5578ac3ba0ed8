"""State carried through loops the way scan-style and simulation code writes it: a frozen
dataclass state advanced by ``dataclasses.replace`` in a loop, a ``NamedTuple`` carry
advanced by ``_replace`` (JAX's ``lax.scan`` written as a Python loop), ``functools.reduce``
over layers, ``collections.defaultdict(float)`` and ``dict.setdefault`` accumulating losses,
``dict(zip(keys, values))``, ``{**a, **b}`` merges, ``list(map(np.tanh, xs))``, ``min`` and
``sorted`` with ``key=`` over differentiated values, ``enumerate(reversed(...))``, ``any()``
guards, nested comprehensions with conditions, f-string keys, ``operator.attrgetter`` and
``operator.itemgetter`` (called where made or through a name; one handed to a helper is
refused with the way out), ``functools.partial`` with keywords, and an integrator object whose ``__call__`` is
the dynamics. Each against Python's
value and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import collections
import dataclasses
import functools
import inspect
import operator
from typing import NamedTuple

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, marked_line, params

R = np.random.default_rng(1618)


def r(*s):
    return R.standard_normal(s)


X = r(4, 3)
Y = r(4, 2)


@dataclasses.dataclass(frozen=True)
class State:
    x: np.ndarray
    v: np.ndarray
    t: float = 0.0


def replace_in_loop(k, x0):
    s = State(x0, np.zeros_like(x0))
    for _ in range(4):
        a = -k * s.x - 0.1 * s.v
        s = dataclasses.replace(s, v=s.v + 0.1 * a)
        s = dataclasses.replace(s, x=s.x + 0.1 * s.v, t=s.t + 0.1)
    return np.sum(s.x**2) + s.t


class Carry(NamedTuple):
    h: np.ndarray
    total: float


def scan_step(carry, x, W):
    h = np.tanh(W @ carry.h + x)
    return carry._replace(h=h, total=carry.total + np.sum(h**2)), h


def namedtuple_scan(W, xs, h0):
    carry = Carry(h0, 0.0)
    ys = []
    for x in xs:
        carry, y = scan_step(carry, x, W)
        ys.append(y)
    return carry.total + np.sum(np.stack(ys)[-1])


def reduce_layers(Ws, x):
    return np.sum(functools.reduce(lambda h, W: np.tanh(h @ W), Ws, x) ** 2)


def defaultdict_losses(W, x, groups):
    losses = collections.defaultdict(float)
    pred = x @ W
    for i, g in enumerate(groups):
        losses[g] += np.sum(pred[i] ** 2)
    return sum(losses.values()) + losses["a"]


def setdefault_lists(W, x, groups):
    buckets = {}
    pred = np.tanh(x @ W)
    for i, g in enumerate(groups):
        buckets.setdefault(g, []).append(pred[i])
    return sum(np.sum(np.mean(np.stack(v), axis=0) ** 2) for v in buckets.values())


def dict_zip_merge(w1, w2, x):
    base = dict(zip(["a", "b"], [w1, w2]))
    extra = {"c": w1 * w2}
    allp = {**base, **extra}
    return sum(np.sum(np.sin(v * x)) for v in allp.values())


def map_builtin_ufunc(xs):
    ys = list(map(np.tanh, xs))
    return sum(np.sum(y**2) for y in ys)


def min_with_key(cands, x):
    best = min(cands, key=lambda c: np.sum((c - x) ** 2))
    return np.sum(best**2) + np.sum(best * x)


def sorted_with_key(ws):
    ordered = sorted(ws, key=lambda w: float(np.sum(w)))
    return sum((i + 1) * np.sum(w**2) for i, w in enumerate(ordered))


def enumerate_reversed(ws, x):
    h = x
    total = 0.0
    for i, w in enumerate(reversed(ws)):
        h = np.tanh(h * w)
        total = total + (i + 1) * np.sum(h)
    return total


def any_guard(W, x):
    z = x @ W
    if any(np.abs(z).ravel() > 10.0):
        z = z / np.max(np.abs(z))
    return np.sum(z**2)


def nested_comprehension_cond(W, x):
    rows = [[x[i, j] * W[j, k] for j in range(3) if j != i % 3] for i in range(4) for k in range(2)]
    return sum(sum(row) ** 2 for row in rows)


def fstring_keys(params, x):
    h = x
    for i in range(2):
        h = np.tanh(h @ params[f"layer_{i}"]["W"] + params[f"layer_{i}"]["b"])
    return np.sum(h**2)


Pair = collections.namedtuple("Pair", ["w", "b"])


def attrgetter_itemgetter(layers, x):
    get_w = operator.attrgetter("w")
    get_first = operator.itemgetter(0)
    h = x
    for layer in layers:
        h = np.tanh(h @ get_w(layer) + layer.b)
    return np.sum(get_first(h) ** 2) + np.sum(h)


def itemgetter_pairs(layers, x):
    get_w, get_b = operator.itemgetter(0), operator.itemgetter(1)
    h = x
    for layer in layers:
        h = np.tanh(h @ get_w(layer) + get_b(layer))
    return np.sum(h**2)


def apply_getter(get, layer):
    return get(layer)  # REFUSED


def getter_handed_on(layers, x):
    h = x
    for layer in layers:
        h = np.tanh(h @ apply_getter(operator.itemgetter(0), layer))
    return np.sum(h**2)


def scaled_mse(pred, y, *, scale=1.0, power=2):
    return scale * np.mean(np.abs(pred - y) ** power)


def partial_keywords(W, x, y):
    loss = functools.partial(scaled_mse, scale=0.5, power=2)
    return loss(x @ W, y) + functools.partial(scaled_mse, power=4)(x @ W, y)


class Dynamics:
    def __init__(self, A):
        self.A = A

    def __call__(self, y):
        return np.tanh(self.A @ y)


class Integrator:
    def __init__(self, f, dt):
        self.f = f
        self.dt = dt

    def run(self, y, n):
        for _ in range(n):
            y = y + self.dt * self.f(y)
        return y


def callable_dynamics(A, y0):
    sim = Integrator(Dynamics(A), 0.1)
    return np.sum(sim.run(y0, 4) ** 2)


CASES = [
    Case("replace_in_loop", replace_in_loop, (1.5, r(2)), wrt=(0, 1), order=2),
    Case(
        "namedtuple_scan",
        namedtuple_scan,
        (r(2, 2) * 0.5, [r(2), r(2), r(2)], r(2)),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case("reduce_layers", reduce_layers, ([r(3, 3), r(3, 2)], X), order=2),
    Case("defaultdict_losses", defaultdict_losses, (r(3, 2), X, ["a", "b", "a", "c"]), order=2),
    Case("setdefault_lists", setdefault_lists, (r(3, 2), X, ["a", "b", "a", "b"]), order=2),
    Case("dict_zip_merge", dict_zip_merge, (r(3), r(3), r(3)), wrt=(0, 1), order=2),
    Case("map_builtin_ufunc", map_builtin_ufunc, ([r(2), r(3)],), order=2),
    Case("min_with_key", min_with_key, ([r(2), r(2), r(2)], r(2)), wrt=(0, 1), order=2),
    Case("sorted_with_key", sorted_with_key, ([r(2), r(2), r(2)],), order=2),
    Case("enumerate_reversed", enumerate_reversed, ([r(2), r(2), r(2)], r(2)), wrt=(0, 1), order=2),
    Case("any_guard", any_guard, (r(3, 2), X), order=2),
    Case("any_guard_big", any_guard, (r(3, 2) * 20.0, X)),
    Case("nested_comprehension_cond", nested_comprehension_cond, (r(3, 2), X), wrt=(0, 1), order=2),
    Case(
        "fstring_keys",
        fstring_keys,
        ({"layer_0": {"W": r(3, 3), "b": r(3)}, "layer_1": {"W": r(3, 2), "b": r(2)}}, X),
        order=2,
    ),
    Case(
        "attrgetter_itemgetter",
        attrgetter_itemgetter,
        ([Pair(r(3, 3), r(3)), Pair(r(3, 2), r(2))], X),
        order=2,
    ),
    Case(
        "itemgetter_of_pairs",
        itemgetter_pairs,
        ([(r(3, 3), r(3)), (r(3, 2), r(2))], X),
        order=2,
    ),
    Case("partial_keywords", partial_keywords, (r(3, 2), X, Y), order=2),
    Case("callable_dynamics", callable_dynamics, (r(2, 2), r(2)), wrt=(0, 1), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_state_idioms(case):
    check(case)


def test_getter_handed_on_refused_at_its_call():
    """An ``itemgetter`` handed to a helper that calls it on a differentiated value: refused
    at the helper's call, with the way out of indexing there."""
    where = f"{inspect.getsourcefile(apply_getter)}:{marked_line(apply_getter)}: "
    for _ in range(2):
        with pytest.raises(sg.NoRuleError) as info:
            sg.grad(getter_handed_on)([(r(3, 3), r(3)), (r(3, 2), r(2))], X)
        assert str(info.value).startswith(where), str(info.value)
        assert "index the container itself" in str(info.value)
