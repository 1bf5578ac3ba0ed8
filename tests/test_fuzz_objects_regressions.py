"""Programs the objects family of the program fuzzer (tests/program_fuzz_objects.py) found
silently wrong, or crashing inside sourcegrad, shrunk by hand: code written with classes and
methods. A method read as a value (``act = self.forward``) carries its object's derivative;
a field or method of the user's object named like an array attribute (``size``, ``T``) is
the object's, not the array's; a property of the items of a loop over an argument's field
(``sum(layer.norm for layer in self.layers)``, ``for k, blk in d.items()``) calls its getter; an item of a class
attribute (``self.OFFSETS[0]``) is a constant, at second order too; an object keeping state
made after an early return is named by the state put back on both paths. Each against Python's value and central differences on calls 1-3 (and the
Hessian-vector product where marked ``order=2``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pytest

import sourcegrad as sg
from tests.ported.harness import Case, check, params
from tests.test_export import run_isolated, same, steady

R = np.random.default_rng(62)


def r(*s):
    return R.standard_normal(s)


class Unit:
    def __init__(self, w):
        self.w = w

    def forward(self, z):
        return np.tanh(z * self.w)

    def twice(self, z):
        act = self.forward
        return act(np.sin(act(z)))


class LinT(NamedTuple):
    W: np.ndarray
    b: np.ndarray

    def __call__(self, h):
        return np.tanh(h @ self.W + self.b)


class Affine(NamedTuple):
    a: np.ndarray
    c: np.ndarray

    def size(self):
        return np.sum(self.a**2)


@dataclass
class Shaped:
    size: np.ndarray
    T: np.ndarray


class Sized:
    def __init__(self, a):
        self.a = a

    def size(self):
        return np.sum(np.sin(self.a) ** 2)


@dataclass
class Lin:
    W: np.ndarray

    @property
    def norm(self):
        return np.sum(self.W**2)


@dataclass
class Net:
    layers: list
    blocks: dict

    def penalty(self):
        return sum(layer.norm for layer in self.layers)

    def block_penalty(self):
        total = 0.0
        for blk in self.blocks.values():
            total = total + blk.norm
        return total


class Offset:
    OFFSETS = (0.1, -0.2)
    TABLE = {"shift": 0.3}

    def __init__(self, w):
        self.w = w

    def pre(self, z):
        return z * self.w + self.OFFSETS[0] + self.TABLE["shift"]

    def forward(self, z):
        return np.tanh(self.pre(z)) * self.w


def bound_method_value(b, h):
    u = Unit(b)
    a = u.forward
    return np.sum(a(h) ** 2)


def bound_methods_in_a_list(b, h):
    u = Unit(0.5 * b + 0.2)
    for a in [u.forward, u.twice]:
        h = 0.5 * a(h)
    return np.sum(h * h)


def bound_method_in_a_method(b, h):
    return np.sum(Unit(b).twice(h))


def namedtuple_calls_in_a_list(params, x):
    h = x
    for call in [layer.__call__ for layer in params]:
        h = call(h)
    return np.sum(h**2)


def namedtuple_bound_call(params, x):
    run = params[0].__call__
    return np.sum(params[1](run(x)))


def method_named_size(b):
    aff = Affine(b, 0.1 * b)
    return aff.size() + np.sum(aff.c**3)


def fields_named_size_and_T(b):
    q = Shaped(np.sin(b), 2.0 * b)
    return np.sum(q.size**2) + np.sum(q.T**3)


def argument_fields_named_size_and_T(p):
    return np.sum(p.size**2 * p.T)


def bound_method_named_size(b):
    fn = Sized(b).size
    return fn() * 2.0


def properties_of_held_layers(net, x):
    h = x
    for layer in net.layers:
        h = np.tanh(h @ layer.W) * layer.norm
    for _key, blk in net.blocks.items():
        h = h + 0.1 * blk.norm
    reg = sum(blk.norm for blk in net.blocks.values())
    return np.sum(h**2) + net.penalty() + 0.5 * net.block_penalty() + reg


def class_constant_items(b, h):
    return np.sum(Offset(b).forward(h) ** 2)


LAYERS = [LinT(r(3, 3), r(3)), LinT(r(3, 3), r(3))]


class Caching:
    def __init__(self, w):
        self.w = w

    def __call__(self, z):
        self.cache = z
        return np.sin(z * self.w)


def stateful_object_after_an_early_return(p, x):
    h = np.tanh(x * p)
    if np.mean(h) > 0.0:
        return np.mean(h * h)
    k = Caching(np.sin(p))  # (bound on one path only: the held state names it after)
    h = k(k(h))
    return np.mean(h**2)


CASES = [
    Case("bound_method_value", bound_method_value, (r(3), r(3)), wrt=(0, 1), order=2),
    Case("bound_methods_in_a_list", bound_methods_in_a_list, (r(3), r(2, 3)), order=2),
    Case("bound_method_in_a_method", bound_method_in_a_method, (r(3), r(3)), order=2),
    Case("namedtuple_calls_in_a_list", namedtuple_calls_in_a_list, (LAYERS, r(3)), order=2),
    Case("namedtuple_bound_call", namedtuple_bound_call, (LAYERS, r(2, 3)), order=2),
    Case("method_named_size", method_named_size, (r(3),), order=2),
    Case("fields_named_size_and_T", fields_named_size_and_T, (r(3),), order=2),
    Case(
        "argument_fields_named_size_and_T",
        argument_fields_named_size_and_T,
        (Shaped(r(3), r(3)),),
        order=2,
    ),
    Case("bound_method_named_size", bound_method_named_size, (r(3),), order=2),
    Case("class_constant_items", class_constant_items, (r(3), r(2, 3)), order=2),
    Case(
        "stateful_object_after_an_early_return_taken",
        stateful_object_after_an_early_return,
        (np.array([0.3, -0.2]), np.array([-1.0, -2.0])),
        order=2,
    ),
    Case(
        "stateful_object_after_an_early_return_not_taken",
        stateful_object_after_an_early_return,
        (np.array([0.3, -0.2]), np.array([1.0, 2.0])),
        order=2,
    ),
    Case(
        "properties_of_held_layers",
        properties_of_held_layers,
        (Net([Lin(0.5 * r(3, 3)), Lin(0.5 * r(3, 2))], {"a": Lin(r(2)), "b": Lin(r(3))}), r(2, 3)),
        wrt=(0, 1),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_object_program(case):
    check(case)


def test_bound_methods_in_a_list_export(tmp_path):
    """The exported module (run without sourcegrad) gives ``value_and_grad``'s numbers."""
    args = (r(3), r(2, 3))
    text = sg.export(bound_methods_in_a_list, *args)
    got = run_isolated(tmp_path, text, "d_bound_methods_in_a_list", args)
    assert same(got, steady(sg.value_and_grad(bound_methods_in_a_list), *args))
