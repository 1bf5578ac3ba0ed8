"""A second name of one list or dict (``ls = hs``, ``ls = ms = hs``, ``ls = hs or [h]`` of a
non-empty display, ``e = d``), bound at the top of the function's body with neither name bound
again while it is used, is the same object: a change through it by the list's or dict's own
methods (``append``, ``extend``, ``insert``, ``pop``, ``ls += [v]``) or into an item of an item
(``e["b"][0] = v``) shows through both names, as Python shows it. An item a display made new
(``d = {"a": z, "b": 0.5 * h}``: ``d["b"]``) is the container's alone, so a write into it
(``d["b"][0] = v``, ``d["b"] *= 2.0``) changes no other name. Each program is checked against
Python's value and central differences in float64 on calls 1-3, with the Hessian-vector
product; the names' values after the writes (returned as the auxiliary value) must be
Python's. What still cannot be followed stays refused: an item another name holds written in
place, a list whose positions moved, a second write in a loop after the item was replaced."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import SourcegradError

from .ported.harness import Case, check, check_refusal, params

R = np.random.default_rng(8128)
X = R.standard_normal(5)


def appended_through_second_name(x):
    z = np.tanh(x)
    hs = [z, 0.5 * x]
    ls = hs
    ls.append(np.sin(x))
    ls.extend([x * x])
    return sum(np.sum(v * v) for v in hs) + 0.1 * len(hs) + np.sum(z * x)


def chained_names_changed_by_methods(x):
    z = np.tanh(x)
    hs = [z, 0.5 * x]
    ls = ms = hs
    ls.extend([x * x])
    ms += [np.cos(x)]
    last = ls.pop()
    return sum(np.sum(v) for v in hs) + np.sum(last * x) + 0.1 * len(ms)


def or_of_a_display_hands_it_on(x):
    z = np.tanh(x)
    hs = [z, 0.5 * x]
    ls = hs or [x]
    ls.insert(0, np.cos(x))
    return np.sum(hs[0] * hs[1]) + np.sum(ls[-1] ** 2) + 0.1 * len(hs)


def dict_second_name_item_of_item(x):
    z = np.tanh(x)
    d = {"a": z, "b": 0.5 * x}
    e = d
    e["b"][0] = 0.3
    e["b"] *= 2.0
    e["c"] = np.sin(x)
    return np.sum(d["a"] * d["b"]) + np.sum(z) + np.sum(d["c"] * x)


def display_item_of_its_own_written(x):
    z = np.sin(x)
    hs = [z, x * x]
    hs[1][0] = 0.25
    hs[1] += z
    return np.sum(hs[0] * hs[1]) + np.sum(z**2)


def unused_second_name_dropped(x):
    z = np.tanh(x)
    hs = [z]
    ls = ms = hs  # noqa: F841 (`ms` is never read: its binding goes)
    ls.append(x * z)
    return sum(np.sum(v) for v in hs) + np.sum(ls[-1])


LOCAL = [
    appended_through_second_name,
    chained_names_changed_by_methods,
    or_of_a_display_hands_it_on,
    dict_second_name_item_of_item,
    display_item_of_its_own_written,
    unused_second_name_dropped,
]


@pytest.mark.parametrize(
    "case", params([Case(f.__name__, f, (X,), order=2, rtol=1e-5, atol=1e-6) for f in LOCAL])
)
def test_second_name_followed(case):
    check(case)


def names_after_append(x):
    z = np.tanh(x)
    hs = [z, 0.5 * x]
    ls = ms = hs
    ls.append(np.sin(x))
    ms += [x * x]
    return np.sum(hs[2] * hs[3]), (len(hs), len(ls), len(ms), ls is hs, ms is hs)


def names_after_item_writes(x):
    z = np.tanh(x)
    d = {"a": z, "b": 0.5 * x}
    e = d
    e["b"][0] = 0.3
    return np.sum(d["b"] * z), (d["b"], e["b"], z, e is d)


@pytest.mark.parametrize("f", [names_after_append, names_after_item_writes])
def test_every_name_holds_what_python_leaves(f):
    want_value, want_aux = f(X.copy())
    derivative = sg.value_and_grad(f, has_aux=True)
    for _ in range(3):
        (value, aux), _ = derivative(X.copy())
        assert np.isclose(value, want_value, rtol=1e-12, atol=1e-12)
        assert len(aux) == len(want_aux)
        for got, want in zip(aux, want_aux):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def shared_item_written_in_place(x):
    z = np.tanh(x)
    d = {"a": z, "b": 0.5 * x}
    e = d
    e["a"] += 0.1  # REFUSED
    return np.sum(d["a"] * d["b"]) + np.sum(z)


def positions_moved_by_insert(x):
    z = np.tanh(x)
    hs = [0.5 * x, 2.0 * x]
    hs.insert(0, z)
    hs[1][0] = 0.3  # REFUSED
    return np.sum(hs[0] * hs[1]) + np.sum(z)


def item_replaced_later_in_a_loop(x):
    z = np.tanh(x)
    d = {"a": 0.5 * x}
    for _ in range(2):
        d["a"][0] = 1.0  # REFUSED
        d["a"] = z
    return np.sum(d["a"]) + np.sum(z)


def item_replaced_then_written(x):
    z = np.tanh(x)
    d = {"a": 0.5 * x}
    d["a"] = z
    d["a"][0] = 1.0  # REFUSED
    return np.sum(d["a"]) + np.sum(z)


@pytest.mark.parametrize(
    "f",
    [
        shared_item_written_in_place,
        positions_moved_by_insert,
        item_replaced_later_in_a_loop,
        item_replaced_then_written,
    ],
)
def test_what_cannot_be_followed_stays_refused(f):
    check_refusal(f, (X,), SourcegradError, "copy")
