"""Programs whose derivatives run the code of the user's objects (exported by
tests/test_export_object_code.py): a property and a ``functools.cached_property`` read on an
object built in the function, a generator method of an argument object (called on it and
through its class), an argument object iterated and indexed through its own ``__iter__`` and
``__getitem__``, a classmethod that builds the object with ``cls(...)`` read through a
property."""

import collections
import dataclasses
import functools
from typing import NamedTuple

import numpy as np


class Box:
    def __init__(self, v):
        self.v = v

    @property
    def sq(self):
        return self.v**2


def property_of_a_local_object(W, x):
    b = Box(W)
    return np.sum(np.tanh(x @ b.sq))


class Cached:
    def __init__(self, W):
        self.W = W

    @functools.cached_property
    def gram(self):
        return self.W.T @ self.W


def cached_property_of_a_local_object(W, x):
    c = Cached(W)
    return np.sum(c.gram**2) + np.sum(np.sin(x @ c.W))


class Bag:
    def __init__(self, ws):
        self.ws = ws

    def items(self):
        yield from self.ws


def generator_method_in_a_generator_expression(bag, x):
    return sum(np.sum(np.tanh(x @ w)) for w in bag.items())


def generator_method_through_its_class(bag, x):
    t = 0.0
    for w in Bag.items(bag):
        t = t + np.sum(np.sin(x @ w))
    return t


class Stack:
    def __init__(self, blocks):
        self.blocks = blocks

    def __len__(self):
        return len(self.blocks)

    def __getitem__(self, i):
        return self.blocks[i]

    def __iter__(self):
        yield from self.blocks


def iterated_and_indexed_argument(stack, x):
    h = x
    for W in stack:
        h = np.tanh(h @ W)
    return np.sum(h**2) + 0.1 * np.sum(stack[0] ** 2)


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


def classmethod_then_property(logits, values):
    dist = Softmax.create(logits, temperature=0.5)
    return np.sum(dist.probs * values) - 0.1 * np.sum(dist.probs * np.log(dist.probs))


@dataclasses.dataclass
class Scaled:
    w: np.ndarray

    @classmethod
    def doubled(cls, w):
        return cls(2.0 * w)


class Pair(NamedTuple):
    w: np.ndarray

    @classmethod
    def of_sin(cls, w):
        return cls(np.sin(w))


def classmethods_of_a_dataclass_and_a_namedtuple(logits, values):
    return np.sum(Scaled.doubled(logits).w * values) + np.sum(Pair.of_sin(logits).w ** 2)


Made = collections.namedtuple("Made", ["w"])


def a_namedtuple_made_by_a_call(logits, values):
    makers = [Made]
    return sum(np.sum(m(logits * values).w ** 2) for m in makers)


def _rng():
    return np.random.default_rng(11)


def matrix_args():
    rng = _rng()
    return rng.standard_normal((3, 2)), rng.standard_normal((4, 3))


def bag_args():
    rng = _rng()
    return Bag([rng.standard_normal((3, 2)), rng.standard_normal((3, 2))]), rng.standard_normal(
        (4, 3)
    )


def stack_args():
    rng = _rng()
    blocks = [0.5 * rng.standard_normal((3, 3)), 0.5 * rng.standard_normal((3, 3))]
    return Stack(blocks), rng.standard_normal((4, 3))


def softmax_args():
    rng = _rng()
    return rng.standard_normal(5), rng.standard_normal(5)


CASES = {
    "a property of a local object": (property_of_a_local_object, matrix_args),
    "a cached_property of a local object": (cached_property_of_a_local_object, matrix_args),
    "an argument's generator method in a generator expression": (
        generator_method_in_a_generator_expression,
        bag_args,
    ),
    "an argument's generator method through its class": (
        generator_method_through_its_class,
        bag_args,
    ),
    "an argument iterated and indexed by its own methods": (
        iterated_and_indexed_argument,
        stack_args,
    ),
    "a classmethod's cls(...) read through a property": (classmethod_then_property, softmax_args),
    "classmethods of a dataclass and a NamedTuple": (
        classmethods_of_a_dataclass_and_a_namedtuple,
        softmax_args,
    ),
}
