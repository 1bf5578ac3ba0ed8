"""Writes into memory another name shares, which Python shows through both names and
sourcegrad (writing into a copy) would not: refused at the user's line, where each was a
silently different value before. An array stored in a container (``hs = [h]``, ``d["h"] = h``)
then changed in place; a view read after the same assignment wrote its array (a swap of
columns); a loop variable taken from an array's rows (``for row in y: row *= 2``); the result
of a helper that returns its argument or a view of it (``v = first_rows(y); v[0] = 0``). A
number stored the same way, or an array given a new value first, is differentiated."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from tests.ported.harness import Case, check, check_refusal, params

R = np.random.default_rng(36)


def r(*s):
    return R.standard_normal(s)


def list_display(w, x):
    h = x @ w
    hs = [h]
    h *= 2.0
    return np.sum(hs[0] * h)


def dict_store(w, x):
    cache = {}
    h = np.tanh(x @ w)
    cache["h"] = h
    h -= 1.0  # REFUSED
    return np.sum(cache["h"] * h)


def nested_display(w, x):
    h = x @ w
    pair = ((h, 1.0), {"h": h})
    h += 0.5  # REFUSED
    return np.sum(pair[0][0] * h)


def number_in_list(w, x):
    total = 0.0
    totals = [total]
    total += np.sum(x @ w)
    return total * 2.0 + totals[0]


def new_array_before_change(w, x):
    h = x @ w
    hs = [h]
    h = h * 1.5
    h += 1.0
    return np.sum(hs[0] * h)


@pytest.mark.parametrize("f", [dict_store, nested_display])
def test_an_array_changed_while_a_container_holds_it_is_refused(f):
    check_refusal(f, (r(3, 2), r(4, 3)), sg.SourcegradError, "explicit copy")


CASES = [
    Case("number_in_list", number_in_list, (r(3, 2), r(4, 3))),
    Case("new_array_before_change", new_array_before_change, (r(3, 2), r(4, 3)), order=2),
    Case("list_display", list_display, (r(3, 2), r(4, 3)), order=2),  # (followed: held_items)
]


@pytest.mark.parametrize("case", params(CASES))
def test_accepted(case):
    check(case)


def swap_columns(w, x):
    y = x * w
    y[:, 0], y[:, 1] = y[:, 1], y[:, 0]  # REFUSED
    return np.sum(y * np.arange(y.size).reshape(y.shape))


def swap_rows(w, x):
    y = x * w
    y[0], y[1] = y[1], y[0]  # REFUSED
    return np.sum(y * np.arange(y.size).reshape(y.shape))


def swap_entries(w, x):
    y = (x * w).ravel()
    y[0], y[1] = y[1], y[0]
    return np.sum(y * np.arange(y.size))


def swap_copied_columns(w, x):
    y = x * w
    y[:, 0], y[:, 1] = y[:, 1].copy(), y[:, 0].copy()
    return np.sum(y * np.arange(y.size).reshape(y.shape))


@pytest.mark.parametrize("f", [swap_columns, swap_rows])
def test_a_view_read_after_a_write_of_one_assignment_is_refused(f):
    """Python reads the views first and writes one after the other: the second value shows
    the first write (nothing is swapped), while sourcegrad would read the old values."""
    check_refusal(f, (r(3, 3), r(3, 3)), sg.SourcegradError, ".copy()")


@pytest.mark.parametrize("f", [swap_entries, swap_copied_columns])
def test_swapping_numbers_or_copies_is_differentiated(f):
    check(Case(f.__name__, f, (r(3, 3), r(3, 3)), order=2))


def scale_rows(w, x):
    y = x * w
    for row in y:
        row *= 2.0  # REFUSED
    return np.sum(y**2)


def zero_first_of_rows(w, x):
    y = x * w
    for i, row in enumerate(y):
        row[0] = float(i)  # REFUSED
    return np.sum(y**2)


def add_rows_of_two(w, x):
    y = x * w
    z = x + w
    for a, b in zip(y, z):
        a += b  # REFUSED
    return np.sum(y**2)


def scale_numbers(w, x):
    total = 0.0
    for v in (x * w).ravel():
        v *= 2.0
        total = total + v
    return total


@pytest.mark.parametrize("f", [scale_rows, zero_first_of_rows, add_rows_of_two])
def test_a_loop_variable_changed_in_place_is_refused(f):
    """``for row in y: row *= 2`` changes y's rows in Python (the rows are views)."""
    check_refusal(f, (r(3, 3), r(3, 3)), sg.SourcegradError, "through an index")


def test_a_number_taken_from_an_array_in_a_loop_is_differentiated():
    check(Case("scale_numbers", scale_numbers, (r(3, 3), r(3, 3))))


def first_rows(a):
    return a[:2]


def transposed(a):
    v = a.T
    return v


def fresh_rows(a):
    return a[:2] * 1.0


def written_through_a_helpers_view(w, x):
    y = x * w
    v = first_rows(y)
    v[0] = 0.0  # REFUSED
    return np.sum(y**2)


def written_after_a_helpers_view(w, x):
    y = (x * w).copy()
    t = transposed(y)
    y[0, 1] = 3.0  # REFUSED
    return np.sum(t * x)


def written_through_np_squeeze(w, x):
    y = (x * w)[None]
    s = np.squeeze(y)
    s[0, 0] = 1.0  # REFUSED
    return np.sum(y**2)


def written_into_a_helpers_new_array(w, x):
    y = x * w
    v = fresh_rows(y)
    v[0] = 0.0
    return np.sum(y**2) + np.sum(v**3)


@pytest.mark.parametrize(
    "f", [written_through_a_helpers_view, written_after_a_helpers_view, written_through_np_squeeze]
)
def test_a_write_through_a_view_a_helper_or_numpy_returns_is_refused(f):
    check_refusal(f, (r(3, 3), r(3, 3)), sg.SourcegradError, "explicit copy")


def test_a_write_into_a_helpers_new_array_is_differentiated():
    check(Case("fresh_rows", written_into_a_helpers_new_array, (r(3, 3), r(3, 3)), order=2))


def inner_loss(p, x):
    return np.sum(np.tanh(x @ p["W"]) ** 2)


def inner_steps_in_place(params, x):
    fast = dict(params)
    for _ in range(2):
        g = {"W": 2.0 * x.T @ (np.tanh(x @ fast["W"]) * (1.0 - np.tanh(x @ fast["W"]) ** 2))}
        for k in fast:
            fast[k] = fast[k] - 0.1 * g[k]  # (`-=` would change params' array in place)
    return inner_loss(fast, x)


def test_a_loop_over_a_dicts_keys_links_nothing():
    """``for k in fast`` runs over a dict's keys: writing ``fast[k]`` was refused as if ``k``
    shared its memory."""
    check(Case("inner_steps_in_place", inner_steps_in_place, ({"W": r(3, 2)}, r(4, 3))))
