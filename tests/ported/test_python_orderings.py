"""Python's own orderings of differentiated values: ``sorted`` of floats, of arrays by a
``key=``, ``reverse=True``, of a tuple and of an array's items, a top-k loss, a loop over the
sorted list, and ``min``/``max`` with ``key=``; items taken by ``next`` from ``iter`` of a
list or a dict's values (the first item, items stepped one by one, a loop over the rest).
The order is a discrete choice the values make: the derivative follows the order Python's
sort gave (each item's gradient goes back to the position it came from). Each against
Python's value and central differences on calls 1-3, to second order, away from ties; a
``next`` past the end raises Python's StopIteration; a ``next`` that cannot be followed is
refused at its line with a way out that is itself differentiated."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, check_refusal, params

X = np.array([1.25, 2.7, 0.6, -0.4])
R = np.random.default_rng(4211)
W = R.standard_normal((4, 3))


def sorted_floats(x):
    xs = [x[0] * 2.0, x[1], x[2] * x[0], float(np.sin(x[3]))]
    ys = sorted(xs)
    return ys[0] * 3.0 + ys[2] * ys[3]


def sorted_arrays_by_key(w):
    rows = [w[0] * 2.0, np.tanh(w[1]), w[2] * w[3], np.sin(w[3])]
    ranked = sorted(rows, key=lambda r: float(np.sum(r)), reverse=True)
    return np.sum(ranked[0] ** 2) + 3.0 * np.sum(ranked[-1])


def top_k_losses(w, x):
    losses = [np.sum((w[i] * x[i]) ** 2) for i in range(4)]
    worst = sorted(losses, reverse=True)[:2]
    return sum(worst) / 2.0


def sorted_tuple_loop(x):
    total = 0.0
    for k, v in enumerate(sorted((x[0] * x[1], x[2], x[3] ** 2))):
        total = total + (k + 1) * v
    return total


def sorted_array_items(x):
    ys = sorted(x * 1.5)
    return ys[0] * ys[1] + ys[3]


def sorted_array_rows(w):
    ranked = sorted(np.tanh(w), key=lambda r: r[0])
    return np.sum(ranked[0] * ranked[2])


def sorted_by_helper(w):
    return np.sum(sorted([w[0], w[1] * 2.0, w[2]], key=row_norm)[1] ** 2)


def row_norm(r):
    return float(np.linalg.norm(r))


def sorted_dict_values(p):
    vs = sorted(p.values(), key=lambda v: float(np.sum(v)))
    return np.sum(vs[0] ** 2) + np.sum(vs[-1] * vs[1])


def sorted_by_abs(x):
    s = sorted([x[0], x[1] * 0.5, x[3]], key=abs)
    return s[0] * 2.0 + s[1] * s[2]


def ranked_by_a_score(v, rows):
    ranked = sorted(rows, key=lambda r: float(r @ v))
    return np.sum(ranked[0] * v) + np.sum(ranked[-1] ** 2)


def min_by_key(w):
    best = min([w[0] * 2.0, w[1], w[2] * w[3]], key=lambda r: float(np.sum(r * r)))
    return np.sum(best**2)


def sorted_to_array(x):
    return np.array(sorted([x[0] * 2.0, x[1], x[2] * x[0], x[3]]))


def first_item(x):
    xs = [x[0] * 2.0, x[1], x[2]]
    return next(iter(xs)) * 3.0 + x[3] * next(iter(xs))


def first_value_of_a_dict(p):
    return np.sum(next(iter(p.values())) ** 2) + np.sum(p["b"])


def stepped_then_the_rest(x):
    xs = [x[0] * 2.0, x[1], x[2] * x[0], np.sin(x[3])]
    it = iter(xs)
    a = next(it)
    b = next(it)
    total = a * b
    for v in it:
        total = total + v**2
    return total


CASES = [
    Case("sorted_floats", sorted_floats, (X,), order=2),
    Case("sorted_arrays_by_key_reversed", sorted_arrays_by_key, (W,), order=2),
    Case("top_k_losses", top_k_losses, (W, X), wrt=(0, 1), order=1),
    Case("top_k_losses_order2", top_k_losses, (W, X), order=2),
    Case("sorted_tuple_in_a_loop", sorted_tuple_loop, (X,), order=2),
    Case("sorted_array_items", sorted_array_items, (X,), order=2),
    Case("sorted_array_rows", sorted_array_rows, (W,), order=2),
    Case("sorted_by_a_helper", sorted_by_helper, (W,), order=2),
    Case("min_by_key", min_by_key, (W,), order=2),
    Case("sorted_dict_values", sorted_dict_values, ({"a": W[0], "b": W[1], "c": W[2]},), order=2),
    Case("sorted_by_abs", sorted_by_abs, (X,), order=2),
    Case("key_reads_a_differentiated_value", ranked_by_a_score, (X[:3], list(W)), wrt=(0, 1)),
    Case("key_reads_a_differentiated_value_order2", ranked_by_a_score, (X[:3], list(W)), order=2),
    Case("sorted_to_array", sorted_to_array, (X,), kind="jac"),
    Case("next_of_iter", first_item, (X,), order=2),
    Case("next_of_iter_of_dict_values", first_value_of_a_dict, ({"W": W, "b": X},), order=2),
    Case("next_stepped_then_loop", stepped_then_the_rest, (X,), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_python_orderings(case):
    check(case)


def sorted_ties(x):
    ys = sorted([x[0], x[1] * 1.0, x[0] * 1.0], key=lambda v: round(float(v), 3))
    return ys[0] * 1.0 + ys[1] * 2.0 + ys[2] * 3.0


def test_ties_follow_pythons_stable_order():
    """Equal keys keep their order, as Python's sort keeps it: the weights 1, 2 and 3 go to
    the first, second and third item in that order."""
    x = np.array([0.5, 0.5])
    for make in (sg.grad, sg.value_and_grad):
        df = make(sorted_ties)
        for _ in range(3):
            got = df(x)
            g = got[1] if isinstance(got, tuple) else got
            np.testing.assert_allclose(g, [1.0 + 3.0, 2.0])


def next_past_the_end(x):
    it = iter([x[0] * 2.0])
    a = next(it)
    return a * next(it)


def test_next_past_the_end_raises_stop_iteration():
    for make in (sg.grad, sg.value_and_grad):
        for _ in range(3):
            with pytest.raises(StopIteration):
                make(next_past_the_end)(X)


def next_in_a_branch(x):
    it = iter([x[0] * 2.0, x[1]])  # REFUSED
    a = x[2]
    if x[3] > 0:
        a = next(it)
    return a * next(it)


def next_with_default(x):
    it = iter([x[0] * 2.0, x[1]])  # REFUSED
    return next(it, 0.0) * 3.0


def next_after_its_block(x):
    for _ in range(2):
        it = iter([x[0], x[1] * 2.0])  # REFUSED
        a = next(it)
    return a * next(it)


def way_out_of_next(x):
    xs = list([x[0] * 2.0, x[1]])
    a = x[2]
    if x[3] > 0:
        a = xs[0]
    return a * xs[0]


@pytest.mark.parametrize("f", [next_in_a_branch, next_with_default, next_after_its_block])
def test_next_not_followed_is_refused_with_a_way_out(f):
    check_refusal(f, (X,), sg.NoRuleError, "index a list of them (`list(xs)[0]`)")
    check(Case("way_out", way_out_of_next, (X,), order=2))


def first_of_a_list_then_changed_in_place(x):
    z = x.copy()
    w = next(iter([z, x]))  # w is z itself
    z += 0.1 * np.cos(z)  # REFUSED
    return np.sum(z * x) + 0.5 * np.sum(w)


def listed_display_then_changed_in_place(x):
    z = x.copy()
    items = list([z, x])  # items[0] is z itself
    w = items[0]
    z += 0.1 * np.cos(z)  # REFUSED
    return np.sum(z * x) + 0.5 * np.sum(w)


@pytest.mark.parametrize(
    "f", [first_of_a_list_then_changed_in_place, listed_display_then_changed_in_place]
)
def test_an_item_of_a_listed_display_shares_the_arrays_memory(f):
    """``list([z, x])`` (and ``next(iter([z, x]))``, lowered to it) holds ``z`` itself: an
    in-place update of ``z`` shows through it in Python. It gave the value without the update
    (the fuzzer's aliasing family found it); now refused at the update."""
    check_refusal(f, (np.linspace(0.1, 1.0, 5),), sg.SourcegradError, "may share its memory")
