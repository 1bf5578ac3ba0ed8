"""Programs the Python-features fuzz family (``benchmarks/fuzz.py --family python``,
tests/program_fuzz_python.py) found wrong, shrunk: each against Python's value and central
differences on calls 1-3, or refused at the user's line with the way out.

A factory defined inside the differentiated function (``def make(a): def inner(u): ...;
return inner``) given a differentiated value returns a closure carrying it: its calls were
differentiated as if the captured value were constant (the gradient through ``a`` silently
missing); now refused as the module-level factory's are. Given constants, it runs as written.
"""

from __future__ import annotations

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


CASES = [
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
