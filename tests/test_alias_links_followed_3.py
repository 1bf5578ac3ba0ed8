"""Names sharing memory, the forms followed after test_alias_links_followed_2.py: objects of a
dataclass of the user's made in the function.

* ``boxes = [Box(z, []), Box(0.5 * h, [h * h])]`` (or ``bx = Box(...)``) makes objects whose
  fields hold ``z`` itself and new values; ``first = boxes[0]`` names one, ``w =
  boxes[0].v`` (``getattr(boxes[0], "v")``, ``vars(boxes[0])["v"]``) names what a field
  holds.
* A method writing into the object's fields (``self.hs.append(u)``, ``self.v *= s``), called
  on an item of the list, on a name or in a loop over the list, a field changed in place
  (``first.hs.append(v)``, ``boxes[1].v *= 0.5``) and a write in place through a name of what
  a field holds (``w *= 0.5``, ``w[0] = v``, ``np.copyto(w, ...)``, ``np.tanh(w, out=w)``,
  ``hs.append(v)``) show through every holder and name, ``z`` included, as Python shows.
* A field read by a method returning a new value of its fields (``bx.total()``) reads the
  values after the writes.

Each program is checked against Python's value and central differences in float64 on calls
1-3, with the Hessian-vector product; the names' values after the writes, returned as the
auxiliary value, must be Python's. What still cannot be followed stays refused: an object
handed to a function that may keep it, a field holding an argument written in place."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import SourcegradError

from .alias_far_boxes import FarBox
from .ported.harness import Case, check, check_refusal, params

SCALE = 1.0  # (not the SCALE FarBox.scale reads)
R = np.random.default_rng(4711)
X = R.standard_normal(5)


@dataclass
class Box:
    v: np.ndarray
    hs: list

    def push(self, u):
        self.hs.append(u)

    def scale(self, s=0.5):
        self.v *= s

    def total(self):
        return np.sum(self.v) + sum(np.sum(t) for t in self.hs)


def method_appends_to_a_field(x):
    z = np.tanh(x)
    boxes = [Box(z, []), Box(0.5 * x, [x * x])]
    boxes[0].push(np.sin(x))
    boxes[1].push(z * z)
    return 0.1 * sum(bx.total() for bx in boxes) + np.sum(z * x)


def method_scales_a_field(x):
    boxes = [Box(np.sin(x), []), Box(0.5 * x, [])]
    boxes[1].scale(0.5)
    return np.sum(boxes[0].v * boxes[1].v)


def method_scales_the_field_holding_a_name(x):
    z = np.tanh(x)
    boxes = [Box(z, []), Box(0.5 * x, [x * x])]
    boxes[0].scale()
    return np.sum(boxes[0].v * z) + np.sum(z**2) + np.sum(boxes[1].v)


def methods_called_in_a_loop(x):
    z = np.sin(x) + 0.5 * x
    boxes = [Box(z, []), Box(0.5 * x, [x * x])]
    for bx in boxes:
        bx.push(np.sin(bx.v))
        bx.scale(0.9)
    return 0.1 * sum(bx.total() for bx in boxes) + np.sum(z * x)


def field_appended_through_a_second_name(x):
    z = np.tanh(x)
    boxes = [Box(z, []), Box(0.5 * x, [x * x])]
    first = boxes[0]
    first.hs.append(z * 0.5)
    first.v *= 2.0
    return np.sum(boxes[0].v * z) + np.sum(first.hs[0]) + 0.1 * len(boxes[0].hs)


def list_of_a_field_named_and_grown(x):
    z = np.sin(x) + 0.5 * x
    boxes = [Box(z, []), Box(0.5 * x, [x * x])]
    hs = boxes[1].hs
    hs.append(np.tanh(x))
    boxes[1].hs.append(z * 0.5)
    return 0.1 * sum(bx.total() for bx in boxes) + np.sum(hs[-1] * x) + len(hs)


def field_written_through_its_names(x):
    z = x * 1.0
    boxes = [Box(z, []), Box(0.5 * x, [x * x])]
    w = getattr(boxes[0], "v")  # noqa: B009 (the spelling followed)
    w *= 0.5
    u = vars(boxes[1])["v"]
    u[0] = np.sin(u[0]) + 0.1
    np.tanh(u, out=u)
    np.copyto(w, np.cos(w))
    w[1:] = w[:-1] * 0.5
    return np.sum(boxes[0].v * boxes[1].v) + np.sum(z * w) + np.sum(u)


def one_object_named(x):
    z = np.tanh(x)
    bx = Box(z, [np.sin(x)])
    bx.push(np.cos(x))
    bx.scale(0.7)
    z += 0.1
    return bx.total() + np.sum(z * bx.v)


@dataclass
class Cell:
    v: np.ndarray
    n: float

    def bump(self, s):
        self.n *= s
        self.v *= s


def number_field_rebound(x):
    k = 0.5
    z = np.sin(x)
    c = Cell(z, k)
    c.bump(2.0)
    k += 1.0
    return np.sum(c.v * z) * c.n + k


OBJECTS = [
    number_field_rebound,
    method_appends_to_a_field,
    method_scales_a_field,
    method_scales_the_field_holding_a_name,
    methods_called_in_a_loop,
    field_appended_through_a_second_name,
    list_of_a_field_named_and_grown,
    field_written_through_its_names,
    one_object_named,
]


@pytest.mark.parametrize(
    "case", params([Case(f.__name__, f, (X,), order=2, rtol=1e-5, atol=1e-6) for f in OBJECTS])
)
def test_objects_written_in_place_followed(case):
    check(case)


def names_after_writes(x):
    z = np.tanh(x)
    boxes = [Box(z, []), Box(0.5 * x, [x * x])]
    first = boxes[0]
    w = boxes[1].v
    for bx in boxes:
        bx.scale(0.5)
    first.push(x * 2.0)
    w += 1.0
    total = sum(bx.total() for bx in boxes)
    return total, (z, w, first.v, len(first.hs), boxes[1].v, boxes[1].hs[0])


def keep(hs):
    return hs


def object_handed_to_a_function(x):
    z = np.tanh(x)
    boxes = [Box(z, []), Box(0.5 * x, [])]
    kept = keep(boxes[1].hs)
    boxes[1].push(z)  # REFUSED
    return np.sum(boxes[0].v) + len(kept)


def field_holding_the_argument(x):
    boxes = [Box(x, []), Box(0.5 * x, [])]
    boxes[0].scale(0.5)  # REFUSED
    return np.sum(boxes[0].v * boxes[1].v)


def list_copy_item_scaled(x):
    z = np.tanh(x)
    hs = [z, 0.5 * x]
    ls = list(hs)
    ls[0] *= 0.5
    ls[-1] += 0.1
    return np.sum(z * x) + 0.1 * np.sum(hs[0]) + 0.2 * np.sum(ls[-1] * hs[1])


def slice_copy_item_of_item_written(x):
    z = np.tanh(x)
    hs = [z, 0.5 * x]
    ls = hs[:]
    ls[1][0] = 0.3
    ls.append(np.sin(x))
    ls[2] *= 2.0
    return np.sum(z * x) + 0.1 * sum(np.sum(v * v) for v in hs) + np.sum(ls[2]) + len(ls)


def starred_copy_written_in_a_loop(x):
    z = np.tanh(x)
    hs = [z, 0.5 * x]
    ls = [*hs]
    for v in ls:
        v *= 0.9
    return np.sum(z * x) + 0.1 * np.sum(hs[0]) + 0.2 * np.sum(ls[-1] ** 2)


def copy_item_replaced_then_written(x):
    z = np.tanh(x)
    hs = [z, 0.5 * x]
    ls = hs.copy()
    ls[0] += 0.1
    ls[0] = ls[0] * 0.5
    ls[0] *= 3.0
    z -= 0.2
    return np.sum(z * x) + 0.1 * np.sum(hs[0]) + 0.2 * np.sum(ls[0] * hs[0])


LIST_COPIES = [
    list_copy_item_scaled,
    slice_copy_item_of_item_written,
    starred_copy_written_in_a_loop,
    copy_item_replaced_then_written,
]


@pytest.mark.parametrize("case", params([Case(f.__name__, f, (X,), order=2) for f in LIST_COPIES]))
def test_items_shared_by_list_copies_followed(case):
    check(case)


def list_names_after_writes(x):
    z = np.tanh(x)
    hs = [z, 0.5 * x]
    ls = hs[:]
    ls[1] *= 2.0
    ls[0][0] = 0.3
    ls[0] = np.cos(x)
    z += 1.0
    return np.sum(z), (z, hs[0], hs[1], ls[0], ls[1])


@pytest.mark.parametrize("f", [names_after_writes, list_names_after_writes])
def test_names_hold_what_python_leaves(f):
    want_value, want_aux = f(X.copy())
    derivative = sg.value_and_grad(f, has_aux=True)
    for _ in range(3):
        (value, aux), _ = derivative(X.copy())
        assert np.isclose(value, want_value, rtol=1e-12, atol=1e-12)
        for got, want in zip(aux, want_aux, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@dataclass
class Doubled:
    v: np.ndarray

    def __init__(self, v):
        self.v = 2.0 * v

    def scale(self, s):
        self.v *= s


def own_init_not_rebuilt(x):
    b = Doubled(np.sin(x))  # REFUSED
    b.scale(0.5)
    return np.sum(b.v * x)


def method_of_another_module(x):
    b = FarBox(np.sin(x))
    b.scale(0.5)  # REFUSED
    return np.sum(b.v * x) * SCALE


def copy_handed_to_a_loop(x):
    z = np.tanh(x)
    hs = [z, 0.5 * x]
    ls = list(hs)
    keep = []
    for v in ls:
        keep.append(v)
    z *= 0.5  # REFUSED
    return np.sum(keep[0]) + np.sum(hs[0])


def copy_joined(x):
    z = np.tanh(x)
    hs = [z, 0.5 * x]
    ls = hs[:] + [x]
    ls[0] *= 0.5  # REFUSED
    return np.sum(z) + np.sum(ls[0])


@pytest.mark.parametrize(
    "f",
    [
        object_handed_to_a_function,
        field_holding_the_argument,
        copy_handed_to_a_loop,
        copy_joined,
        own_init_not_rebuilt,
        method_of_another_module,
    ],
)
def test_what_cannot_be_followed_stays_refused(f):
    check_refusal(f, (X,), SourcegradError, "")
