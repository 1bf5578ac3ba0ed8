"""Programs the Python-features fuzz family (``benchmarks/fuzz.py --family python``,
tests/program_fuzz_python.py) found wrong or refused, shrunk: each against Python's value and
central differences on calls 1-3 (and the hvp), or refused at the user's line with the way out.

A factory defined inside the differentiated function (``def make(a): def inner(u): ...;
return inner``) given a differentiated value returns a closure carrying it: its calls were
differentiated as if the captured value were constant (the gradient through ``a`` silently
missing); now refused as the module-level factory's are. Given constants, it runs as written.

Followed now, refused before: ``match`` with sequence patterns (a shape tuple with a guard, a
tuple of a comparison, ``[a, *rest]``; an array is no sequence to ``match``) and mapping
patterns; a generator of the user's stepped by ``next`` and its rest taken by a
comprehension; a helper declaring ``global`` a constant it only reads; ``try``/``finally``
whose ``finally`` only sets local names (also inside ``with np.errstate``, and after a body
ending in ``return``). A ``nonlocal`` two functions down is refused naming the function
that declares it (it named the outer one, and a way out that did not fit). ``itertools.pairwise``
of a display (not a name) runs as the list of pairs.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sourcegrad.errors import UnsupportedSyntaxError

from .ported.harness import Case, check, params

R = np.random.default_rng(7301)
X = R.uniform(-1.0, 1.0, (3, 4))
W = 0.7 * R.standard_normal((4, 4))
WAY_OUT = "pass them to it as arguments"


def nested_factory(W, x):
    h = np.tanh(x @ W)

    def make(a):
        def inner(u):
            return a * u + np.sin(u)

        return inner

    g = make(np.mean(h))
    h = np.tanh(g(h))  # REFUSED
    return np.mean(h**2)


def nested_factory_of_a_lambda(W, x):
    h = np.tanh(x @ W)

    def make(a):
        return lambda u: a * u

    gs = [make(np.mean(h)), make(0.5)]
    return np.sum(gs[0](h) ** 2)  # REFUSED


def nested_factory_given_constants(W, x):
    h = np.tanh(x @ W)

    def make(a):
        def inner(u):
            return a * u + np.sin(u)

        return inner

    g = make(0.7)
    return np.mean(np.tanh(g(h)) ** 2)


def the_way_out(W, x):
    h = np.tanh(x @ W)

    def inner(u, a):
        return a * u + np.sin(u)

    h = np.tanh(inner(h, np.mean(h)))
    return np.mean(h**2)


GAIN = 0.7


def match_shape(W, x):
    h = np.tanh(x @ W)
    match h.shape:
        case (n,):
            return np.sum(h) / n
        case (r, c) if r > 2:
            return np.sum(h * h) * c
        case (r, c):
            return np.sum(h[0]) * c
    return 0.0


def match_tuple_of_a_comparison(W, x):
    h = np.tanh(x @ W)
    match (np.mean(h) > -5.0, "tanh"):
        case (True, _):  # an np.bool_ is not `True`: this case never matches
            h = 3.0 * h
        case (_, "tanh" | "sin"):
            h = np.sin(h)
    match (bool(np.mean(h) > -5.0), "tanh"):
        case (True, "tanh"):
            h = np.tanh(h) * 2.0
    return np.sum(h * h)


def match_star_and_mapping(W, x, kind):
    h = np.tanh(x @ W)
    match [h, np.sin(h), 0.5 * h]:
        case [a, *rest, last]:
            h = a * last + 0.1 * sum(rest)
    match {"kind": kind, "gain": 0.7}:
        case {"kind": "tanh", "gain": g}:
            h = g * np.tanh(h)
        case {"kind": k}:
            h = h * len(k)
    match h:
        case [a, _, _]:  # an array is no sequence to `match`
            return np.sum(a)
    return np.sum(h**2)


def each_row(z):
    for r in z:
        yield np.tanh(r)


def generator_stepped(W, x):
    g = each_row(x @ W)
    first = next(g)
    return np.sum(first) + sum(np.sum(v * v) for v in g)


def gained(z):
    global GAIN
    return GAIN * z


def global_read(W, x):
    return np.sum(np.tanh(gained(x @ W)) ** 2)


def finally_in_errstate(W, x):
    acc = 1.0
    h = x @ W
    with np.errstate(over="ignore"):
        try:
            h = np.exp(-h * h) * h
        finally:
            acc = acc * 0.9 + float(np.sum(h))
    for i in range(2):
        try:
            h = np.tanh(h + 0.1 * i)
        finally:
            k = max(len(h), 2)
    return np.sum(h**2) * acc + k


def guarded(z):
    try:
        return np.tanh(z)
    finally:
        z = None


def finally_after_a_return(W, x):
    h = guarded(x @ W)
    try:
        h = h * 2.0
        return np.sum(h * h)
    finally:
        h = np.zeros(3)


def finally_appending(W, x, log):
    try:  # REFUSED
        return np.sum(np.tanh(x @ W))
    finally:
        log.append(1)


def nonlocal_two_levels_down(W, x):
    h = np.tanh(x @ W)

    def total_of(u):
        total = 0.0

        def add(v):
            nonlocal total  # REFUSED
            total = total + np.sum(v)

        add(u)
        return total

    return total_of(h)


def pairwise_of_a_display(W, x):
    h = np.tanh(x @ W)
    acc = sum(np.sum(a * c) for a, c in itertools.pairwise([h, np.sin(h), np.cos(h)]))
    for a, b in itertools.pairwise(h):
        acc = acc + np.sum(a * b)
    return acc


CASES = [
    Case("pairwise of a display and of an array", pairwise_of_a_display, (W, X), order=2),
    Case(
        "nonlocal in a function nested twice",
        nonlocal_two_levels_down,
        (W, X),
        refused=(UnsupportedSyntaxError, "`nonlocal total` in nested `add`"),
    ),
    Case("try and finally setting locals", finally_in_errstate, (W, X), order=2),
    Case("try and finally around a return", finally_after_a_return, (W, X), order=2),
    Case(
        "a finally appending to a list",
        finally_appending,
        (W, X, []),
        refused=(UnsupportedSyntaxError, "then the `finally` statements after it"),
    ),
    Case("match on a shape", match_shape, (W, X), order=2),
    Case("match on a tuple of a comparison", match_tuple_of_a_comparison, (W, X), order=2),
    Case("match a star and a mapping", match_star_and_mapping, (W, X, "tanh"), order=2),
    Case("match a mapping's other case", match_star_and_mapping, (W, X, "sin"), order=2),
    Case("a generator stepped by next", generator_stepped, (W, X), order=2),
    Case("a global only read", global_read, (W, X), order=2),
    Case(
        "a nested factory given a differentiated value",
        nested_factory,
        (W, X),
        refused=(UnsupportedSyntaxError, WAY_OUT),
    ),
    Case(
        "a nested factory of a lambda kept in a list",
        nested_factory_of_a_lambda,
        (W, X),
        refused=(UnsupportedSyntaxError, WAY_OUT),
    ),
    Case("a nested factory given constants", nested_factory_given_constants, (W, X), order=2),
    Case("the way out", the_way_out, (W, X), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_python_family_regressions(case):
    check(case)
