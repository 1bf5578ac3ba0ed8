"""Lists changed in place the way people write selection and ranking loops: ``remaining.remove(
item)`` in Plackett-Luce, ``pop(j)`` at an index computed in the loop, ``del xs[j]``,
``xs.sort(key=...)``, ``xs.clear()``; a helper that changes the index list it is given (made by
another helper). The derivative reads each list as it was when the line ran. Each against
Python's value and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(6302)


def r(*s):
    return R.standard_normal(s)


def plackett_luce_remove(scores, ranking):
    nll = 0.0
    remaining = list(ranking)
    for item in ranking:
        s = scores[remaining]
        m = s.max()
        nll -= scores[item] - (m + np.log(np.sum(np.exp(s - m))))
        remaining.remove(item)
    return nll


def greedy_pop_at_index(x, order):
    rem = list(order)
    total = 0.0
    while rem:
        total = total + np.sum(x[rem] ** 2) * len(rem)
        j = rem.pop(len(rem) // 2)
        total = total + np.sin(x[j])
    return total


def pop_negative_index(x):
    rem = [0, 1, 2, 3]
    total = 0.0
    for k in range(3):
        rem.pop(-2)
        total = total + np.prod(x[rem]) * (k + 1)
    return total


def del_item_in_loop(x, order):
    rem = list(order)
    total = 0.0
    for k in range(len(order) - 1):
        total = total + np.sum(np.tanh(x[rem]) * np.arange(1, len(rem) + 1))
        del rem[k % len(rem)]
    return total


def sort_by_key_then_read(x):
    idx = [0, 1, 2, 3, 4]
    first = np.sum(x[idx] * np.arange(5.0))
    idx.sort(key=lambda i: x[i])
    return first + np.sum(x[idx] ** 2 * np.arange(5.0))


def sort_floats_in_place(x):
    ys = [x[0] * x[1], np.sin(x[2]), x[3] ** 2]
    ys.sort(reverse=True)
    return ys[0] + 2.0 * ys[1] - ys[2] ** 2


def clear_then_refill(x):
    picks = [0, 1]
    total = np.sum(np.exp(x[picks]))
    picks.clear()
    picks.append(3)
    picks.append(4)
    return total + np.sum(x[picks] ** 3)


def remove_arrays_by_equality(x):
    hs = [x * 2.0, np.sin(x), x**2]
    hs.remove(hs[1])
    return np.sum(hs[0] * hs[-1])


def remove_missing(x):
    rem = [0, 1, 2]
    rem.remove(5)
    return np.sum(x[rem])


def pop_from_empty(x):
    rem = []
    rem.pop(0 * len(x))
    return np.sum(x)


def take_mutated(x, idx):
    idx.insert(0, 4)
    idx.remove(2)
    return np.sum(x[idx] ** 2 * np.arange(len(idx)))


def make_indices():
    return [3, 0, 2, 1]


def helper_changes_list_from_helper(x):
    idx = make_indices()
    return take_mutated(x, idx)


def helper_changes_list_display(x):
    return take_mutated(x, [1, 2, 0])


def del_whole_dict_item(x):
    d = {"a": x * 2.0, "b": x**2}
    del d["a"]  # REFUSED
    return np.sum(d["b"])


def del_list_slice(x):
    rem = [0, 1, 2, 3]
    del rem[1:3]  # REFUSED
    return np.sum(x[rem] ** 2)


X5 = r(5)

CASES = [
    Case("plackett_luce_remove", plackett_luce_remove, (r(5), [3, 0, 4, 1, 2]), order=2),
    Case("pop_at_computed_index", greedy_pop_at_index, (X5, [3, 0, 4, 1, 2]), order=2),
    Case("pop_negative_index_statement", pop_negative_index, (X5,), order=2),
    Case("del_item_in_loop", del_item_in_loop, (X5, [4, 2, 0, 1, 3]), order=2),
    Case("sort_indices_by_key", sort_by_key_then_read, (X5,), order=2),
    Case("sort_floats_reverse", sort_floats_in_place, (X5,), order=2),
    Case("clear_then_refill", clear_then_refill, (X5,), order=2),
    Case("helper_changes_list_from_helper", helper_changes_list_from_helper, (X5,), order=2),
    Case("helper_changes_list_display", helper_changes_list_display, (X5,), order=2),
    Case(
        "del_dict_item",
        del_whole_dict_item,
        (X5,),
        refused=(sg.UnsupportedSyntaxError, "`d.pop(k)`"),
    ),
    Case(
        "del_list_slice",
        del_list_slice,
        (X5,),
        refused=(sg.UnsupportedSyntaxError, "a new list (`xs = xs[:i] + xs[j:]`)"),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_lists_changed(case):
    check(case)


@pytest.mark.parametrize(
    "f, exc, text",
    [
        (remove_missing, ValueError, "not in list"),
        (pop_from_empty, IndexError, "empty list|out of range"),
        (remove_arrays_by_equality, ValueError, "ambiguous"),
    ],
)
def test_list_errors_are_pythons(f, exc, text):
    """Where Python's list method raises, the derivative raises the same exception type."""
    with pytest.raises(exc, match=text):
        f(X5)
    for _ in range(2):
        with pytest.raises(exc, match=text):
            sg.grad(f)(X5)


def test_argument_list_changed_as_python_changes_it():
    """A list argument the function changes (remove, pop at an index, sort) is left as
    Python's call leaves it, and the gradient reads it as it was on each line."""

    def f(x, order):
        order.remove(3)
        j = order.pop(len(order) - 2)
        order.sort(reverse=True)
        return np.sum(x[order] ** 2 * np.arange(len(order))) + np.sin(x[j])

    x = X5
    want = [3, 0, 4, 1, 2]
    value = f(x, want)
    eps = 1e-6
    numeric = np.array(
        [
            (f(x + e, [3, 0, 4, 1, 2]) - f(x - e, [3, 0, 4, 1, 2])) / (2 * eps)
            for e in eps * np.eye(5)
        ]
    )
    vg = sg.value_and_grad(f)
    for _ in range(3):
        order = [3, 0, 4, 1, 2]
        got_value, g = vg(x, order)
        assert got_value == value
        assert order == want
        np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-8)
