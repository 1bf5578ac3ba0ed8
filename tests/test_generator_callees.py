"""Generator functions called by a differentiated function (each becomes a function returning
the list of what it yields, and its calls are listed; one stepped by `next` is read as the
list's items in order), and recursive helpers over integer data
at second order (a jvp over a vjp whose integer argument comes back from the tape)."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check, check_refusal, params


def pairs(w):
    for i in range(0, len(w) - 1, 2):
        yield w[i], w[i + 1]


def nested(w):
    yield from pairs(w)
    yield w[0], w[-1]


def stop_early(w):
    for x in w:
        if x > 10.0:
            return
        yield x * 2.0


def f_for(w):
    tot = 0.0
    for a, b in pairs(w):
        tot = tot + a * b
    return tot


def f_sum(w):
    return sum(a * np.sin(b) for a, b in nested(w))


def f_list(w):
    xs = list(stop_early(w))
    return np.sum(np.stack(xs) ** 2)


def f_zip(w):
    return sum(x * y for x, y in zip(stop_early(w), w[::-1]))


def f_assigned(w):
    it = pairs(w)
    out = 0.0
    for a, b in it:
        out = out + np.tanh(a - b)
    return out


def f_next(w):
    it = pairs(w)
    a, b = next(it)
    c, d = next(it)
    return a * b + sum(x * y for x, y in it) * c - d


def f_next_in_branch(w):
    it = pairs(w)
    a, b = next(it)  # REFUSED
    if a > 0.0:
        a, b = next(it)
    return a * b


class Net:
    def __init__(self, n):
        self.n = n

    def blocks(self, w):
        for k in range(self.n):
            yield w[k] ** 2

    def __call__(self, w):
        return sum(self.blocks(w))


NET = Net(3)


def f_method(w):
    return NET(w) + 1.0


def f_comp(w):
    return np.sum(np.array([a - b for a, b in pairs(w)]) ** 2)


def rec_comp(w, data):
    if isinstance(data, list):
        return sum([rec_comp(w, d) for d in data])
    return np.sum(np.tanh(w[data]) ** 2)


def rec_loop(w, data):
    if isinstance(data, list):
        tot = 0.0
        for d in data:
            tot = tot + rec_loop(w, d)
        return tot
    return np.sum(np.tanh(w[data]) ** 2)


def rec_depth(w, data, depth):
    if depth == 0:
        return np.sum(np.tanh(w[data]) ** 2)
    return rec_depth(w, data, depth - 1) * 0.5 + np.sum(w**2)


W = np.array([0.3, -0.4, 0.7, 1.1, -0.2, 0.5])
DATA = [np.array([0, 2]), np.array([1]), np.array([3, 3, 0])]
CASES = [
    Case(f.__name__, f, (W.copy(),), order=2)
    for f in (f_for, f_sum, f_list, f_zip, f_assigned, f_method, f_comp, f_next)
] + [
    Case("rec_comp", rec_comp, (W[:4].copy(), DATA), order=2),
    Case("rec_loop", rec_loop, (W[:4].copy(), DATA), order=2),
    Case("rec_depth", rec_depth, (W[:4].copy(), DATA[2], 2), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_generators_and_recursion(case):
    check(case)


def test_next_of_a_generator_in_a_branch_is_refused_with_a_loop_as_the_way_out():
    check_refusal(f_next_in_branch, (W.copy(),), sg.NoRuleError, "loop over the items")


def generator_itself(w):
    for x in w:
        yield x * 2.0  # REFUSED


def test_a_generator_function_differentiated_itself_is_refused_at_its_yield():
    check_refusal(generator_itself, (W.copy(),), sg.UnsupportedSyntaxError, "generator function")
