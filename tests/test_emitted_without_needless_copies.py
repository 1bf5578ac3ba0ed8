"""What the derivative of an aliasing program emits has no copy or store a person would not
write: a dict's shallow copy ``{**d}`` is ``d2 = d.copy()`` (no temporary renamed into the
user's variable), an object a dict and its copy both hold, written through an item of the
copy, is stored once into each holder (not again into the holder written through), and an item known to be an array is updated with no ``isinstance``
guard (one that may be a number is tested before the update, which rebinds a number). State
an object keeps between calls is stored from the value computed (``CELL.h = h``), not from a
copy of it."""

import re

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check, params

R = np.random.default_rng(4242)
X = R.standard_normal(4)


def copy_written_through_its_item(x):
    z = np.tanh(x)
    d = {"a": z, "b": 0.5 * x}
    d2 = {**d}
    d2["a"][0] = x[1]
    return np.sum(d["a"] * x) + np.sum(d2["b"]) + np.sum(z * z)


def copy_updated_through_its_item(x):
    z = np.sin(x)
    d = {"a": z}
    d2 = {**d}
    d2["a"] *= 2.0
    return np.sum(d["a"] * x) + np.sum(d2["a"] * z)


def number_item_of_a_copy_updated(x):
    d = {"a": 1.0, "b": x * 1.0}
    e = {**d}
    e["a"] += x  # (a number: `e["a"]` is rebound to a new array, `d["a"]` stays 1.0)
    return np.sum(d["a"]) + np.sum(e["a"] * x)


def array_item_of_a_copy_updated(x):
    d = {"a": np.tanh(x), "b": x * 1.0}
    e = {**d}
    e["a"] += x
    return np.sum(d["a"]) + np.sum(e["a"] * x)


PROGRAMS = [
    copy_written_through_its_item,
    copy_updated_through_its_item,
    number_item_of_a_copy_updated,
    array_item_of_a_copy_updated,
]


@pytest.mark.parametrize(
    "case", params([Case(f.__name__, f, (X,), order=2, rtol=1e-5, atol=1e-6) for f in PROGRAMS])
)
def test_values_and_derivatives_are_pythons(case):
    check(case)


@pytest.mark.parametrize("optimized", [False, True])
def test_each_holder_is_stored_once(optimized):
    source = sg.show(copy_written_through_its_item, args=[X.copy()], optimized=optimized)
    assert "_merged" not in source
    assert re.search(r"^    d2 = d\.copy\(\)$", source, re.M), source
    stores = re.findall(r'^    (\w+)\["a"\] = d2_item\w*$', source, re.M)
    assert sorted(stores) == sorted(set(stores)) and len(stores) == 2, source


def test_an_item_known_to_be_an_array_is_updated_without_a_guard():
    source = sg.show(array_item_of_a_copy_updated, args=[X.copy()])
    assert "isinstance" not in source, source


class Cell:
    def __init__(self):
        self.h = np.zeros(4)

    def step(self, W, x):
        self.h = np.tanh(W @ x + self.h)
        return self.h


CELL = Cell()
W0 = R.standard_normal((4, 4)) * 0.5


def cell_loss(W, x):
    h = CELL.step(W, x)
    return np.sum(h * h)


@pytest.mark.parametrize("optimized", [False, True])
def test_state_kept_between_calls_is_stored_without_a_copy(optimized):
    saved = CELL.h.copy()
    try:
        source = sg.show(cell_loss, args=[W0, X.copy()], optimized=optimized)
    finally:
        CELL.h = saved
    assert re.search(r"^    CELL\.h = h\w*$", source, re.M), source
    assert not re.search(r"^    CELL_h\w* = h\w*$", source, re.M), source
