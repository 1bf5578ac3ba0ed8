"""Reads of an argument's item that only run where a test lets them: a recursive network over
a parse tree given as nested tuples (``if isinstance(node, int): ... left, right = node``), a
helper called with a leaf and with a pair, ``x[3]`` under ``if len(x) > 3:``, a constant item
read in a loop that may run no times. Python runs them only where they exist; the derivative
reads them where they run, for every argument the same build serves (arrays of one rank and
any length). Each against Python's value and central differences on calls 1-3, to second
order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(6307)


def r(*s):
    return R.standard_normal(s)


def tree_value(node, x):
    if isinstance(node, int):
        return x[node]
    left, right = node
    return np.tanh(tree_value(left, x) + 2.0 * tree_value(right, x))


def parse_tree_net(x):
    return tree_value(((0, 1), (2, (3, 4))), x)


def compose(node, W, leaves):
    if isinstance(node, int):
        return leaves[node]
    h = np.concatenate([compose(node[0], W, leaves), compose(node[1], W, leaves)])
    return np.tanh(W @ h)


def recursive_nn(W, leaves, tree):
    return np.sum(compose(tree, W, leaves) ** 2)


def leaf_or_pair(node, x):
    if isinstance(node, int):
        return x[node] ** 2
    return x[node[0]] * x[node[1]]


def leaf_then_pair(x):
    return leaf_or_pair(0, x) + leaf_or_pair((1, 2), x)


def pair_then_leaf(x):
    return leaf_or_pair((1, 2), x) + leaf_or_pair(0, x)


def guarded_by_length(x):
    if len(x) > 3:
        return x[3] ** 2 + x[0]
    return np.sum(x**2)


def guarded_in_loop(x):
    total = 0.0
    for i in range(len(x)):
        if i > 5:
            total = total + x[7] * x[i]
        total = total + x[i] ** 2
    return total


def read_in_loop_that_may_not_run(x, p):
    total = np.sum(x)
    for _ in range(len(x) - 3):
        total = total + np.sin(x[3]) * p["W"][2]
    return total


def read_in_loop_built_long_first(x, p):
    total = np.sum(x)
    for _ in range(len(x) - 3):
        total = total + np.cos(x[3]) * p["W"][2]
    return total


def dict_key_guarded(p, x):
    out = x @ p["W"]
    if "b" in p:
        out = out + p["b"]
    return np.sum(np.tanh(out))


LEAVES = [r(2) for _ in range(4)]
TREE = ((0, 1), (2, 3))

CASES = [
    Case("parse_tree_nested_tuples", parse_tree_net, (r(5),), order=2),
    Case("recursive_nn_tree", recursive_nn, (0.5 * r(2, 4), LEAVES, TREE), wrt=(0, 1), order=2),
    Case("helper_leaf_then_pair", leaf_then_pair, (r(3),), order=2),
    Case("helper_pair_then_leaf", pair_then_leaf, (r(3),), order=2),
    Case("length_guard_short", guarded_by_length, (r(3),), order=2),
    Case("length_guard_long", guarded_by_length, (r(5),), order=2),
    Case("loop_guard_short", guarded_in_loop, (r(5),), order=2),
    Case("loop_guard_long", guarded_in_loop, (r(9),), order=2),
    Case(
        "zero_trip_loop_reads",
        read_in_loop_that_may_not_run,
        (r(3), {"W": r(2)}),
        wrt=(0, 1),
    ),
    Case(
        "zero_trip_loop_reads_constant_x",
        read_in_loop_that_may_not_run,
        (r(3), {"W": r(2)}),
        wrt=1,
    ),
    Case("dict_key_guard_absent", dict_key_guarded, ({"W": r(3, 2)}, r(3)), order=2),
    Case("dict_key_guard_present", dict_key_guarded, ({"W": r(3, 2), "b": r(2)}, r(3)), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_guarded_reads(case):
    check(case)


@pytest.mark.parametrize("f", [guarded_by_length, guarded_in_loop])
def test_one_build_serves_every_length(f):
    """Arrays of one rank share a build: one made for a long array, whose guarded item
    exists, gives the right gradient for a short one, whose item does not, and back."""
    df = sg.grad(f)
    eps = 1e-6
    for n in (9, 3, 9, 2, 5):
        x = R.standard_normal(n)
        want = [(f(x + e) - f(x - e)) / (2 * eps) for e in eps * np.eye(n)]
        np.testing.assert_allclose(df(x), want, rtol=1e-6, atol=1e-8)


def test_zero_trip_loop_after_a_longer_array():
    df = sg.grad(read_in_loop_built_long_first, (0, 1))
    df(R.standard_normal(5), {"W": R.standard_normal(3)})
    gx, gp = df(np.full(3, 0.5), {"W": np.ones(3)})
    np.testing.assert_allclose(gx, np.ones(3))
    np.testing.assert_allclose(gp["W"], np.zeros(3))
