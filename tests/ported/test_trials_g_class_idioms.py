"""Class idioms of model code as people write them: an ``abc.ABC`` base with an
``@abstractmethod`` ``forward``, a factory function returning an object whose property is
read, a ``@dataclass`` with a ``default_factory`` field, a ``NamedTuple`` with defaults, an
``enum.Enum`` whose members are called, ``functools.cached_property``, ``sum(...,
start=np.zeros(...))``, ``enumerate`` over ``(W, b)`` pairs with ``params[-1][0]``, ``Ws, bs =
zip(*params)`` with an ``isinstance`` assert, ``math.prod`` of a shape; and the forms still
refused at the user's line with a way out that fits (``__post_init__``, ``__slots__``,
``collections.OrderedDict``); ``operator.itemgetter`` bound to a name is followed. Each
against Python's value and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import abc
import collections
import dataclasses
import enum
import functools
import math
import operator
from typing import NamedTuple

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(7104)


def r(*s):
    return R.standard_normal(s)


X = r(4, 3)
W32, B2 = r(3, 2), r(2)


class Box:
    def __init__(self, v):
        self.v = v

    @property
    def sq(self):
        return self.v**2


def make_box(v):
    return Box(2.0 * v)


def factory_property(W, x):
    box = make_box(W)
    return np.sum(x @ box.sq) + np.sum(box.v)


class Base(abc.ABC):
    @abc.abstractmethod
    def forward(self, x): ...

    def __call__(self, x):
        return self.forward(x)


class Lin(Base):
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def forward(self, x):
        return x @ self.W + self.b


class TanhLin(Lin):
    def forward(self, x):
        return np.tanh(super().forward(x))


def abc_layers(W, b, x):
    h = TanhLin(W, b)(x)
    return np.sum(Lin(np.eye(2), -b)(h) ** 2)


@dataclasses.dataclass
class WithFactory:
    W: np.ndarray
    heads: int = dataclasses.field(default_factory=lambda: 2)


def default_factory_argument(m, x):
    return np.sum(np.tanh(x @ m.W) ** 2) * m.heads


class Settings(NamedTuple):
    W: np.ndarray
    scale: float = 2.0


def namedtuple_defaults(W, x):
    p = Settings(W)
    return np.sum(p.scale * np.sin(x @ p.W) ** 2)


class Act(enum.Enum):
    TANH = "tanh"
    SIN = "sin"

    def __call__(self, z):
        return np.tanh(z) if self is Act.TANH else np.sin(z)


def enum_members_called(W, x):
    return np.sum(Act.TANH(x @ W) + Act("sin")(x @ W) ** 2)


class Cached:
    def __init__(self, W):
        self.W = W

    @functools.cached_property
    def gram(self):
        return self.W.T @ self.W


def cached_property_read(W, x):
    c = Cached(W)
    return np.sum(c.gram**2) + np.sum(x @ c.W)


def cached_property_in_comprehension(cs):
    return sum(np.sum(c.gram**2) for c in cs)


def sum_with_array_start(W, x):
    return np.sum(sum((x @ W * k for k in range(3)), start=np.zeros(2)) ** 2)


def enumerate_pairs(params, x):
    h = x
    for i, (W, b) in enumerate(params):
        h = np.tanh(h @ W + b) if i == 0 else h @ W + b
    return np.sum(h**2) + np.sum(params[-1][0] ** 2)


def zip_star_assert(params, x):
    Ws, bs = zip(*params)
    assert all(isinstance(p, np.ndarray) for p in Ws), "weights must be arrays"
    h = x
    for W, b in zip(Ws, bs):
        h = np.tanh(h @ W + b)
    return np.sum(h**2) + sum(np.sum(b**2) for b in bs)


def math_prod_shape(W, x):
    n = math.prod(W.shape)
    return np.sum(W**2) / n + np.sum(np.sin(x @ W))


@dataclasses.dataclass
class Post:
    W: np.ndarray

    def __post_init__(self):
        self.n = self.W.shape[1]


def post_init_refused(W, x):
    m = Post(W)  # REFUSED
    return np.sum(x @ m.W) * m.n


class Slots:
    __slots__ = ("W",)

    def __init__(self, W):
        self.W = W


def slots_refused(W, x):
    s = Slots(W)  # REFUSED
    return np.sum((x @ s.W) ** 2)


def itemgetter_named(params, x):
    get_W = operator.itemgetter("W")
    return np.sum(np.tanh(x @ get_W(params)) ** 2)


def ordered_dict_refused(params, x):
    od = collections.OrderedDict(sorted(params.items()))  # REFUSED
    h = x
    for W in od.values():
        h = np.tanh(h @ W)
    return np.sum(h**2)


class ParamDict:
    def __init__(self, d):
        self._d = d

    def __getitem__(self, k):
        return self._d[k]


def user_mapping_keys(p, x):
    return np.sum(np.tanh(x @ p["W"] + p["b"]) ** 2)


class Seq:
    def __init__(self, ws):
        self.ws = ws

    def __getitem__(self, i):
        return self.ws[i]

    def __len__(self):
        return len(self.ws)


def user_sequence_slice(seq, x):
    h = x
    for W in seq[:2]:
        h = np.tanh(h @ W)
    return np.sum(h**2) + np.sum(seq[-1])


def getitem_iteration_refused(seq, x):
    return sum(np.sum(x @ W) for W in seq)  # REFUSED


@dataclasses.dataclass
class Layer:
    W: np.ndarray


def replace_loop_variable_refused(layers, x):
    h = x
    for layer in layers:
        layer = dataclasses.replace(layer, W=2 * layer.W)  # REFUSED
        h = np.tanh(h @ layer.W)
    return np.sum(h**2)


PAIRS = [(W32, B2), (r(2, 2), r(2))]
W33 = r(3, 3)

CASES = [
    Case("factory_property", factory_property, (W32, X), order=2),
    Case("abc_layers", abc_layers, (W32, B2, X), wrt=(0, 1), order=2),
    Case("default_factory_argument", default_factory_argument, (WithFactory(W32), X), order=2),
    Case("namedtuple_defaults", namedtuple_defaults, (W32, X), order=2),
    Case("enum_members_called", enum_members_called, (W32, X), order=2),
    Case("cached_property", cached_property_read, (W32, X), order=2),
    Case("cached_property_loop_items", cached_property_in_comprehension, ([Cached(W32)],), order=2),
    Case("sum_array_start", sum_with_array_start, (W32, X), order=2),
    Case("enumerate_pairs", enumerate_pairs, (PAIRS, X), order=2),
    Case("zip_star_assert", zip_star_assert, (PAIRS, X), order=2),
    Case("math_prod_shape", math_prod_shape, (W32, X), order=2),
    Case(
        "user_mapping_keys",
        user_mapping_keys,
        (ParamDict({"W": W32, "b": B2}), X),
        order=2,
    ),
    Case("user_sequence_slice", user_sequence_slice, (Seq([W33, 0.5 * W33, W33]), X), order=2),
    Case(
        "getitem_iteration_refused",
        getitem_iteration_refused,
        (Seq([W33, 0.5 * W33]), X),
        refused=(sg.UnsupportedSyntaxError, "index the container the object holds"),
    ),
    Case(
        "replace_loop_variable_refused",
        replace_loop_variable_refused,
        ([Layer(W33), Layer(0.5 * W33)], X),
        refused=(sg.NoRuleError, "build the dataclass anew"),
    ),
    Case(
        "post_init_refused",
        post_init_refused,
        (W32, X),
        refused=(sg.NoRuleError, "make it a dataclass without __post_init__"),
    ),
    Case("slots_refused", slots_refused, (W32, X), refused=(sg.NoRuleError, "declares __slots__")),
    Case("itemgetter_named", itemgetter_named, ({"W": W32}, X), order=2),
    Case(
        "ordered_dict_refused",
        ordered_dict_refused,
        ({"b": r(2, 2), "a": W32}, X),
        refused=(sg.NoRuleError, "collections.OrderedDict"),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_class_idioms(case):
    check(case)
