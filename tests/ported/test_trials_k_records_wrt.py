"""Gradients and Hessian-vector products with respect to records, as training code asks for
them: a frozen dataclass of parameters with a ``float`` field and a ``str`` setting, a
dataclass nesting another dataclass and a list of arrays, a ``NamedTuple`` of
``NamedTuple``s, a plain object with a method returning the loss, a dict of dataclasses,
a list of ``NamedTuple`` layers, a dataclass whose method calls ``dataclasses.replace`` on
itself, a ``@property`` derived parameter (``softplus`` of a raw field), a classmethod
constructor inside the loss, a dataclass with ``__post_init__`` made inside the loss,
keyword-only arguments given by the caller, ``sum`` over ``dataclasses.fields``, and
``vars(obj)`` of an argument (refused, with the way out of reading the fields by name). Each against Python's value and central
differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(1414)


def r(*s):
    return R.standard_normal(s)


X = r(4, 3)
Y = r(4, 2)


@dataclasses.dataclass(frozen=True)
class Dense:
    W: np.ndarray
    b: np.ndarray
    gain: float = 1.0
    act: str = "tanh"

    def __call__(self, x):
        z = self.gain * (x @ self.W + self.b)
        return np.tanh(z) if self.act == "tanh" else z


def frozen_params_loss(layer, x, y):
    return np.mean((layer(x) - y) ** 2)


@dataclasses.dataclass
class Encoder:
    first: Dense
    extras: list


def nested_dataclass(enc, x):
    h = enc.first(x)
    for e in enc.extras:
        h = h + np.tanh(h * e)
    return np.sum(h**2)


class Norm(NamedTuple):
    scale: np.ndarray
    shift: np.ndarray


class Block(NamedTuple):
    W: np.ndarray
    norm: Norm


def namedtuple_of_namedtuples(block, x):
    h = x @ block.W
    mu = h.mean(axis=0)
    sd = np.sqrt(h.var(axis=0) + 1e-5)
    return np.sum(((h - mu) / sd * block.norm.scale + block.norm.shift) ** 2)


class Regressor:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def loss(self, x, y):
        return np.mean((x @ self.w + self.b - y) ** 2)


def plain_object_method(model, x, y):
    return model.loss(x, y) + 0.01 * np.sum(model.w**2)


def dict_of_dataclasses(layers, x):
    h = layers["enc"](x)
    return np.sum(layers["dec"](h) ** 2)


def list_of_namedtuple_layers(blocks, x):
    h = x
    for blk in blocks:
        h = np.tanh(h @ blk.W) * blk.norm.scale + blk.norm.shift
    return np.sum(h**2)


@dataclasses.dataclass(frozen=True)
class Scaled:
    w: np.ndarray
    s: float

    def halved(self):
        return dataclasses.replace(self, s=self.s * 0.5)

    def apply(self, x):
        return x * self.w * self.s


def method_replacing_self(p, x):
    q = p.halved()
    return np.sum(q.apply(x) ** 2) + np.sum(p.apply(x))


@dataclasses.dataclass
class Positive:
    raw: np.ndarray

    @property
    def value(self):
        return np.log1p(np.exp(self.raw))


def property_softplus(p, x):
    return np.sum(p.value * x**2) - np.sum(np.log(p.value))


@dataclasses.dataclass
class Affine:
    A: np.ndarray
    c: np.ndarray

    @classmethod
    def identity_plus(cls, D, c):
        return cls(np.eye(len(c)) + D, c)

    def __call__(self, v):
        return self.A @ v + self.c


def classmethod_in_loss(D, c, v):
    f = Affine.identity_plus(D, c)
    return np.sum(f(f(v)) ** 2)


def kwonly_given(W, x, *, y, weight=1.0):
    return weight * np.sum((x @ W - y) ** 2)


def kwonly_caller(W, x, y):
    return kwonly_given(W, x, y=y, weight=0.5) + kwonly_given(W, x, y=2.0 * y)


@dataclasses.dataclass
class Params:
    a: np.ndarray
    b: np.ndarray


def sum_over_fields(p, x):
    total = 0.0
    for f in dataclasses.fields(p):
        total = total + np.sum(np.sin(getattr(p, f.name) * x))
    return total


def vars_of_object(model, x, y):
    reg = sum(np.sum(v**2) for v in vars(model).values())  # REFUSED
    return model.loss(x, y) + 0.1 * reg


CASES = [
    Case("frozen_params_loss", frozen_params_loss, (Dense(r(3, 2), r(2), 0.8), X, Y), order=2),
    Case(
        "frozen_params_linear",
        frozen_params_loss,
        (Dense(r(3, 2), r(2), 1.2, "linear"), X, Y),
        order=2,
    ),
    Case(
        "nested_dataclass",
        nested_dataclass,
        (Encoder(Dense(r(3, 2), r(2)), [r(2), r(2)]), X),
        order=2,
    ),
    Case(
        "namedtuple_of_namedtuples",
        namedtuple_of_namedtuples,
        (Block(r(3, 2), Norm(r(2), r(2))), X),
        order=2,
    ),
    Case("plain_object_method", plain_object_method, (Regressor(r(3, 2), r(2)), X, Y), order=2),
    Case(
        "dict_of_dataclasses",
        dict_of_dataclasses,
        ({"enc": Dense(r(3, 3), r(3)), "dec": Dense(r(3, 2), r(2), 0.5, "linear")}, X),
        order=2,
    ),
    Case(
        "list_of_namedtuple_layers",
        list_of_namedtuple_layers,
        ([Block(r(3, 3), Norm(r(3), r(3))), Block(r(3, 2), Norm(r(2), r(2)))], X),
        order=2,
    ),
    Case("method_replacing_self", method_replacing_self, (Scaled(r(3), 0.7), r(3)), order=2),
    Case("property_softplus", property_softplus, (Positive(r(3)), r(3)), order=2),
    Case(
        "classmethod_in_loss",
        classmethod_in_loss,
        (0.3 * r(2, 2), r(2), r(2)),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case("kwonly_caller", kwonly_caller, (r(3, 2), X, Y), wrt=(0, 2), order=2),
    Case("sum_over_fields", sum_over_fields, (Params(r(2), r(2)), r(2)), order=2),
    Case(
        "vars_of_object_refused",
        vars_of_object,
        (Regressor(r(3, 2), r(2)), X, Y),
        refused=(sg.NoRuleError, "read the fields by name (`obj.W`)"),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_records_wrt(case):
    check(case)
