"""Reads a loop repeats with the same value (``x[3]``, ``p["W"]``, ``1.0 / k``) in a loop that
may run no times. Python reads them only where the loop runs; one derivative serves arrays of
every length (and containers of one structure), so a build made for a long array must not read
them for a short one whose loop runs no times, and the gradient there is that of the code
around the loop alone. Each function is called through one derivative with arguments of
different lengths (long, then one whose loop runs no times, then long again, ...), its value
and gradient against Python's and central differences, to second order where smooth."""

from __future__ import annotations

import collections
from types import SimpleNamespace

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import (
    assert_tree_close,
    assert_value,
    direction,
    fresh,
    leaves,
    numerical,
    rebuild,
)

R = np.random.default_rng(2024)


def r(*s):
    return R.standard_normal(s)


def item_in_range_loop(x, w):
    total = np.sum(x * w)
    for _ in range(len(x) - 3):
        total = total + np.sin(x[3]) * w[1]
    return total


def dict_item_in_loop(x, p):
    total = np.sum(np.tanh(x))
    for _ in range(len(x) - 2):
        total = total + np.cos(x[2]) * p["W"][1] + p["b"]
    return total


def negative_index_in_loop(x, w):
    total = 0.5 * np.sum(x**2)
    for t in range(len(w) - 2):
        total = total + x[-1] * w[t] * w[2]
    return total


def while_loop_item(x):
    total = np.sum(x)
    i = 3
    while i < len(x):
        total = total + x[i] * x[3] / (1.0 + i)
        i = i + 1
    return total


def loop_over_rows(x, rows):
    total = np.sum(x**2)
    for row in rows:
        total = total + np.sum(row) * x[2] ** 2
    return total


def nested_inner_zero_trip(x, w):
    total = np.sum(w)
    for i in range(len(w)):
        for _ in range(len(x) - 3):
            total = total + x[3] * w[i] * w[0]
    return total


def nested_outer_zero_trip(x, w):
    total = np.sum(x)
    for _ in range(len(x) - 3):
        for j in range(len(w)):
            total = total + x[3] * w[j]
    return total


def guarded_in_loop(x, w):
    total = np.sum(w**2)
    for t in range(len(x) - 2):
        if t % 2 == 0:
            total = total + x[2] * w[1]
        else:
            total = total - np.exp(x[2]) * w[0]
    return total


def constant_division_in_loop(x, w):
    k = len(x) - 3
    total = np.sum(w**2)
    for _ in range(k):
        total = total + (1.0 / k) * np.sum(w * x[3])
    return total


def constant_argument_item(x, w):
    total = np.sum(np.sin(w))
    for _ in range(len(x) - 3):
        total = total + x[3] * w[0] ** 2
    return total


def comprehension_item(x, w):
    return np.sum(w**2) + sum([x[3] * v for v in x[4:]])


def zero_trip_while_constant(x, w):
    total = np.sum(w)
    i = len(x)
    while i > 3:
        total = total + (1.0 / (i - 3)) * w[1] * x[3]
        i = i - 1
    return total


def guard_in_outer_loop(x, w):
    total = np.sum(w**2)
    for i in range(len(w)):
        for _ in range(len(x) - 3):
            total = total + x[3] * w[i] * (1.0 / (len(x) - 3))
    return total


def while_in_for(x, w):
    total = np.sum(np.cos(w))
    for i in range(len(w)):
        j = len(x)
        while j > 3:
            total = total + x[3] * x[2] * w[i] / j
            j = j - 1
    return total


def constant_matrix_item(h, M, xs):
    for t in range(xs.shape[0]):
        h = np.tanh(np.dot(h, M[0]) + xs[t])
    return np.sum(h**2)


def rnn_constant_items(W, xs, consts):
    h = np.zeros((xs.shape[1], W.shape[1]))
    loss = 0.0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ W + h @ consts[0] + consts[1][0])
        loss = loss + np.sum(h**2)
    return loss


def while_guard_taped(x, w):
    total = np.sum(np.cos(w))
    for i in range(len(w)):
        j = len(x)
        while j > 3:
            total = total + x[3] * w[i] / j
            j = j - 1
    return total


def list_items_in_loop(x, ws):
    total = np.sum(x**2)
    for w in ws:
        total = total + np.sum(w * ws[0]) * x[1] + ws[-1][0]
    return total


CASES = [
    # (id, f, calls (long first, then the loop runs no times, then long), wrt, order)
    (
        "array_item_range",
        item_in_range_loop,
        [(r(6), r(6)), (r(3), r(3)), (r(5), r(5)), (r(2), r(2))],
        (0, 1),
        2,
    ),
    (
        "dict_value_item",
        dict_item_in_loop,
        [
            (r(5), {"W": r(3), "b": 0.3}),
            (r(2), {"W": r(3), "b": 0.7}),
            (r(4), {"W": r(2), "b": -0.2}),
        ],
        (0, 1),
        2,
    ),
    ("negative_index", negative_index_in_loop, [(r(4), r(5)), (r(3), r(2)), (r(2), r(4))], 0, 2),
    ("while_item", while_loop_item, [(r(6),), (r(3),), (r(5),), (r(1),)], 0, 2),
    (
        "for_over_rows",
        loop_over_rows,
        [(r(4), r(3, 2)), (r(2), np.zeros((0, 2))), (r(5), r(2, 2))],
        0,
        2,
    ),
    (
        "nested_inner_zero_trip",
        nested_inner_zero_trip,
        [(r(5), r(3)), (r(3), r(4)), (r(6), r(2))],
        (0, 1),
        2,
    ),
    (
        "nested_outer_zero_trip",
        nested_outer_zero_trip,
        [(r(5), r(3)), (r(3), r(4)), (r(4), r(2)), (r(2), r(3))],
        (0, 1),
        2,
    ),
    ("if_in_loop", guarded_in_loop, [(r(6), r(2)), (r(2), r(3)), (r(5), r(2))], (0, 1), 2),
    (
        "division_by_trip_count",
        constant_division_in_loop,
        [(r(6), r(2)), (r(3), r(2)), (r(5), r(3))],
        1,
        2,
    ),
    (
        "constant_item_wrt_other",
        constant_argument_item,
        [(r(5), r(2)), (r(3), r(2)), (r(2), r(4)), (r(6), r(2))],
        1,
        2,
    ),
    (
        "guard_in_outer_loop",
        guard_in_outer_loop,
        [(r(5), r(3)), (r(3), r(2)), (r(6), r(2)), (r(2), r(3))],
        1,
        2,
    ),
    ("while_in_for", while_in_for, [(r(6), r(3)), (r(3), r(2)), (r(5), r(2))], 1, 2),
    (
        "constant_matrix_item",  # the optimized build (same shapes twice) copies M[0].T
        constant_matrix_item,
        [
            (r(2, 3), r(2, 3, 3), r(5, 2, 3)),
            (r(2, 3), r(2, 3, 3), r(5, 2, 3)),
            (r(2, 3), r(2, 3, 3), r(0, 2, 3)),
            (r(2, 3), r(2, 3, 3), r(0, 2, 3)),
            (r(2, 3), r(0, 3, 3), r(0, 2, 3)),
            (r(2, 3), r(2, 3, 3), r(4, 2, 3)),
        ],
        0,
        2,
    ),
    (
        "rnn_constant_items",  # the optimized build stacks the steps' xs[t] for dW
        rnn_constant_items,
        [
            (r(3, 2), r(4, 2, 3), r(2, 2, 2)),
            (r(3, 2), r(4, 2, 3), r(2, 2, 2)),
            (r(3, 2), r(0, 2, 3), r(2, 2, 2)),
            (r(3, 2), r(0, 2, 3), r(0, 2, 2)),
            (r(3, 2), r(6, 2, 3), r(3, 2, 2)),
        ],
        0,
        2,
    ),
    (
        "while_guard_taped",  # x[3] kept on the tape under the replayed `if cond:`
        while_guard_taped,
        [(r(6), r(3)), (r(3), r(2)), (r(5), r(3)), (r(2), r(2))],
        1,
        2,
    ),
    (
        "list_items",  # ws[0] of an empty list is never read
        list_items_in_loop,
        [(r(3), [r(2), r(2), r(2)]), (r(3), []), (r(4), (r(3),)), (r(2), ())],
        (0, 1),
        2,
    ),
    ("comprehension", comprehension_item, [(r(6), r(2)), (r(3), r(2)), (r(5), r(3))], (0, 1), 1),
    (
        "while_division",
        zero_trip_while_constant,
        [(r(6), r(2)), (r(3), r(2)), (r(2), r(3)), (r(5), r(2))],
        1,
        2,
    ),
]


def _wrt(wrt):
    return wrt if isinstance(wrt, tuple) else (wrt,)


def _expected_hvp(df, args, i, v, eps=1e-5):
    """Central differences of the (checked) gradient along ``v``."""

    def at(s):
        moved = list(fresh(args))
        moved[i] = rebuild(args[i], iter([a + s * b for a, b in zip(leaves(args[i]), leaves(v))]))
        return df(*moved)

    hi, lo = at(eps), at(-eps)
    diffs = [
        float((p - q) / (2 * eps)) if isinstance(o, float) else np.asarray((p - q) / (2 * eps))
        for p, q, o in zip(leaves(hi), leaves(lo), leaves(args[i]))
    ]
    return rebuild(args[i], iter(diffs))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_one_derivative_over_lengths(case):
    """Value, gradient (grad and value_and_grad) and hvp of one derivative each, called with
    arguments whose loop runs and runs no times, in turns, twice over."""
    _, f, calls, wrt, order = case
    df, vg = sg.grad(f, wrt), sg.value_and_grad(f, wrt)
    hvps = {i: sg.hvp(f, i) for i in _wrt(wrt)} if order >= 2 else {}
    for n, args in enumerate(calls + calls):
        want = [numerical(f, args, i) for i in _wrt(wrt)]
        got = df(*fresh(args))
        value, got2 = vg(*fresh(args))
        assert_value(value, f(*fresh(args)), f"value, call {n}")
        for label, g in (("grad", got), ("value_and_grad", got2)):
            for i, gi, e in zip(_wrt(wrt), g if isinstance(wrt, tuple) else (g,), want):
                assert_tree_close(gi, e, 1e-5, 1e-6, f"{label} d/darg{i}, call {n}")
        for i, hf in hvps.items():
            v = direction(args[i])
            expected = _expected_hvp(sg.grad(f, i), args, i, v)
            assert_tree_close(hf(*fresh(args), v), expected, 1e-4, 1e-5, f"hvp {i}, call {n}")


def test_zero_trip_gradient_is_the_code_around_the_loop():
    """Where the loop runs no times, the hoisted read adds nothing: exactly the gradient of
    ``np.sum(x * w)``, on the third call too (the optimized build)."""
    df = sg.grad(item_in_range_loop, (0, 1))
    for x in (r(7), r(3), r(7), r(2)):
        w = r(len(x))
        gx, gw = df(x, w)
        if len(x) <= 3:
            np.testing.assert_array_equal(gx, w)
            np.testing.assert_array_equal(gw, x)


Pair = collections.namedtuple("Pair", "scale shift")


def record_fields_in_loop(x, p):
    total = np.sum(x)
    for _ in range(len(x) - 3):
        total = total + p.scale * x[3] + p.shift
    return total


def object_attribute_in_loop(x, obj):
    total = np.sum(x**2)
    for _ in range(len(x) - 3):
        total = total + obj.scale * x[0]
    return total


def test_record_fields_over_lengths():
    df = sg.grad(record_fields_in_loop, 0)
    for x in (r(5), r(3), r(6), r(1)):
        p = Pair(0.5, 0.25)
        assert_tree_close(df(x, p), numerical(record_fields_in_loop, (x, p), 0), 1e-5, 1e-6, "")


def test_attribute_an_object_lacks_where_the_loop_runs_no_times():
    """``obj.scale`` is read only where the loop runs: an object without it is fine for an
    array whose loop runs no times, as in Python, after one with it."""
    df = sg.grad(object_attribute_in_loop, 0)
    calls = [
        (r(5), SimpleNamespace(scale=2.0)),
        (r(3), SimpleNamespace()),
        (r(2), SimpleNamespace()),
        (r(4), SimpleNamespace(scale=-1.5)),
    ]
    for x, obj in calls + calls:
        want = numerical(object_attribute_in_loop, (x, obj), 0)
        assert_tree_close(df(x, obj), want, 1e-5, 1e-6, "")


def test_key_a_dict_lacks_where_the_loop_runs_no_times():
    """``p["b"]`` read in a loop that runs no times for a dict without the key."""
    df = sg.grad(dict_item_in_loop, (0, 1))
    calls = [
        (r(5), {"W": r(3), "b": 0.3}),
        (r(2), {"W": r(3)}),
        (r(4), {"W": r(2), "b": -0.2}),
        (r(1), {"W": r(2)}),
    ]
    for x, p in calls + calls:
        gx, gp = df(x, p)
        assert_tree_close(gx, numerical(dict_item_in_loop, (x, p), 0), 1e-5, 1e-6, "d/dx")
        assert_tree_close(gp, numerical(dict_item_in_loop, (x, p), 1), 1e-5, 1e-6, "d/dp")


def half_in_loop(x, w):
    H = len(w) // 2
    total = 0.0
    for t in range(len(x)):
        total = total + np.sum(w[: 2 * H] ** 2) * x[t]
    return total


def test_the_hoisted_test_reads_as_written():
    """A loop invariant that may raise is computed before the loop only under the loop's own
    test; arithmetic of numbers is moved before it unguarded."""
    text = sg.source(sg.grad(constant_division_in_loop, 1), r(5), r(2))
    lines = [line.strip() for line in text.splitlines()]
    at = lines.index("if k > 0:")
    assert lines[at + 1 : at + 3] == ["total_2 = 1.0 / k", "total_3 = x[3]"]
    assert lines[at + 4] == "for _ in range(k):"
    text = sg.source(sg.grad(half_in_loop), r(4), r(6))
    lines = [line.strip() for line in text.splitlines()]
    assert lines.index("total_1 = 2 * H") < lines.index("for t in range(n_1):")
    assert not any(line.startswith("if ") for line in lines)


def scale_in_loop(x, s):
    total = s * np.sum(x)
    for _ in range(len(x) - 3):
        total = total + np.sin(s * x[3])
    return total


def test_forward_mode_over_lengths():
    """The gradient with respect to one float runs in forward mode, as does ``jvp``: the same
    reads, only where the loop runs."""
    df, jf = sg.grad(scale_in_loop, 1), sg.jvp(scale_in_loop, 1)
    for n in (6, 6, 3, 5, 2, 7):
        x, s = r(n), 0.7
        want = numerical(scale_in_loop, (x, s), 1)
        value, tangent = jf(x, s, 1.0)
        assert_value(value, scale_in_loop(x, s), f"jvp value, length {n}")
        assert_tree_close(df(x, s), want, 1e-5, 1e-6, f"grad, length {n}")
        assert_tree_close(tangent, want, 1e-5, 1e-6, f"jvp, length {n}")


def test_a_guarded_matrix_keeps_its_contiguous_transpose():
    """The optimized build still copies the transpose of a constant matrix the reversed loop
    multiplies by once, next to the matrix, under the same test."""
    args = (r(2, 3), r(2, 3, 3), r(5, 2, 3))
    text = sg.show(constant_matrix_item, 0, args=args, optimized=True)
    lines = [line.strip() for line in text.splitlines()]
    at = lines.index("if n_2 > 0:")
    assert lines[at + 1] == "h_1 = M[0]"
    assert lines[at + 2] == "h_1_T = np.ascontiguousarray(h_1.T)"
    assert "dh = np.dot(dh_3, h_1_T)" in lines
