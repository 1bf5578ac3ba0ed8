"""Control flow spread over helpers, as losses are factored in practice: a helper returning
early from nested loops, generators delegating with ``yield from`` through two levels and
a generator of ``(name, value)`` pairs, ``with np.errstate`` inside a helper, a dict of
lambdas handed to a helper choosing by key, a helper with an array default that it only
reads, a mutable default array updated in place (Python changes the default itself from
call to call: refused, with the way out), recursion-free tree walks over nested dicts
written with an explicit stack, ``while True`` with ``break``, ``for ... else`` searching a
list of layers, and ``sum`` of a generator of helpers' results. Each against Python's value
and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(2236)


def r(*s):
    return R.standard_normal(s)


X = r(4, 3)


def first_large_entry(W, thresh):
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            if abs(W[i, j]) > thresh:
                return W[i, j], i
    return W[0, 0], -1


def early_return_helper(W, x):
    v, i = first_large_entry(W, 0.5)
    return v**2 * np.sum(x) + i


def leaves_of(tree):
    for key in sorted(tree):
        value = tree[key]
        if isinstance(value, dict):
            yield from leaves_of_level(value)
        else:
            yield key, value


def leaves_of_level(tree):
    for key, value in tree.items():  # noqa: UP028
        yield key, value


def yield_from_two_levels(tree):
    total = 0.0
    for name, value in leaves_of(tree):
        total = total + (2.0 if name.startswith("w") else 1.0) * np.sum(value**2)
    return total


def safe_log_ratio(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        r_ = np.where(b > 0, a / np.where(b > 0, b, 1.0), 0.0)
    return np.log1p(np.abs(r_))


def errstate_in_helper(a, b):
    return np.sum(safe_log_ratio(a, b) ** 2)


def apply_named(fns, name, z):
    return fns[name](z)


def lambdas_to_helper(W, x):
    fns = {"sq": lambda z: z**2, "soft": lambda z: np.log1p(np.exp(z))}
    z = x @ W
    return np.sum(apply_named(fns, "soft", z)) + np.sum(apply_named(fns, "sq", z))


def weighted(z, w=np.array([0.5, 1.5])):  # noqa: B008
    return np.sum(z * w)


def array_default_read(W, x):
    return weighted(np.tanh(x @ W)) + weighted(x @ W, np.array([1.0, -1.0]))


def accumulate_into(z, buf=np.zeros(2)):  # noqa: B008
    buf += z
    return np.sum(buf**2)


def mutable_default(W, x):
    return accumulate_into(np.sum(x @ W, axis=0))  # REFUSED


def explicit_stack_walk(tree):
    total = 0.0
    stack = [tree]
    while stack:
        node = stack.pop()
        for key in sorted(node):
            if isinstance(node[key], dict):
                stack.append(node[key])
            else:
                total = total + np.sum(np.sin(node[key]))
    return total


def while_true_break(x):
    y = x
    n = 0
    while True:
        y = 0.5 * y + np.sin(y)
        n += 1
        if n >= 4:
            break
    return np.sum(y**2)


def for_else_search(layers, x):
    for W in layers:
        if W.shape[1] == 2:
            out = x @ W
            break
    else:
        out = x
    return np.sum(np.tanh(out) ** 2)


def term_a(W, x):
    return np.sum(np.tanh(x @ W))


def term_b(W, x):
    return 0.1 * np.sum(W**2)


def sum_of_helpers(W, x):
    return sum(term(W, x) for term in (term_a, term_b))


DEEP = {"w1": r(2), "b": r(2), "sub": {"w2": r(3), "c": r(1)}}

CASES = [
    Case("early_return_helper", early_return_helper, (r(3, 3), r(2)), wrt=(0, 1)),
    Case("early_return_helper_none", early_return_helper, (0.1 * r(2, 2), r(2)), wrt=(0, 1)),
    Case("yield_from_two_levels", yield_from_two_levels, (DEEP,), order=2),
    Case(
        "errstate_in_helper", errstate_in_helper, (r(4), np.array([0.5, 0.0, 2.0, -1.0])), order=2
    ),
    Case("lambdas_to_helper", lambdas_to_helper, (r(3, 2), X), order=2),
    Case("array_default_read", array_default_read, (r(3, 2), X), order=2),
    Case(
        "mutable_default_refused",
        mutable_default,
        (r(3, 2), X),
        refused=(sg.UnsupportedSyntaxError, "make its default None and a new ndarray"),
    ),
    Case("explicit_stack_walk", explicit_stack_walk, (DEEP,), order=2),
    Case("while_true_break", while_true_break, (r(3),), order=2),
    Case("for_else_search", for_else_search, ([r(3, 3), r(3, 2)], X), order=2),
    Case("for_else_search_none", for_else_search, ([r(3, 3), r(3, 4)], X), order=2),
    Case("sum_of_helpers", sum_of_helpers, (r(3, 2), X), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_helpers_flow(case):
    check(case)
