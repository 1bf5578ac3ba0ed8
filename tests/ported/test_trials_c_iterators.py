"""Loops over iterators as physics and ML scripts write them: ``itertools.product`` over
index ranges (in a ``for`` and in a generator expression), ``itertools.combinations`` of
particle indices, ``np.ndindex`` over a grid; and the forms that cannot be followed, refused
at the user's line with a way out that fits: an endless ``itertools.count()``, combinations
of the differentiated points themselves, ``np.ndenumerate`` of a differentiated array, a
nested helper that writes a name of the enclosing function through ``nonlocal`` (an
accumulator), or a module's through ``global``. Each against Python's value and central
differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(7006)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ followed


def lattice_energy_product(W):
    """Nearest-neighbour couplings of a 2-D lattice written with itertools.product."""
    n, m = W.shape
    e = 0.0
    for i, j in itertools.product(range(n), range(m)):
        if i + 1 < n:
            e += np.cos(W[i, j] - W[i + 1, j])
        if j + 1 < m:
            e += np.cos(W[i, j] - W[i, j + 1])
    return e


def coulomb_combinations(pos, q):
    """Pair energy over itertools.combinations of particle indices."""
    e = 0.0
    for i, j in itertools.combinations(range(len(q)), 2):
        e += q[i] * q[j] / np.sqrt(np.sum((pos[i] - pos[j]) ** 2) + 0.01)
    return e


def symmetric_penalty_generator(W):
    return sum((W[i, j] - W[j, i]) ** 2 for i, j in itertools.product(range(W.shape[0]), repeat=2))


def grid_ndindex(u, kappa):
    s = 0.0
    for idx in np.ndindex(u.shape):
        s += kappa * np.sin(u[idx]) * (idx[0] + 1)
    return s


def permutation_sum(x):
    s = 0.0
    for i, j, k in itertools.permutations(range(3)):
        s += x[i] * x[j] ** 2 * (k + 1)
    return s


# ------------------------------------------------------------------ refused


def counted_layers(xs):
    s = 0.0
    for i, x in zip(itertools.count(), xs):  # REFUSED
        s += i * np.sum(x**2)
    return s


def combinations_of_points(pts):
    e = 0.0
    for a, b in itertools.combinations(pts, 2):  # REFUSED
        e += 1.0 / np.linalg.norm(a - b)
    return e


def ndenumerate_weights(W):
    s = 0.0
    for (i, j), w in np.ndenumerate(W):  # REFUSED
        s += w * (i - j)
    return s


def nonlocal_accumulator(x):
    total = 0.0

    def add(v):
        nonlocal total  # REFUSED
        total = total + np.sum(v**2)

    add(x)
    add(2 * x)
    return total


def returned_accumulator(x):
    """The way out the refusal gives."""
    total = 0.0

    def add(total, v):
        return total + np.sum(v**2)

    total = add(total, x)
    total = add(total, 2 * x)
    return total


LAST = None


def nested_global(x):
    def keep(v):
        global LAST  # REFUSED
        LAST = v
        return np.sum(v**2)

    return keep(x)


# ------------------------------------------------------------------ cases

POS = r(4, 2)

CASES = [
    Case("lattice_itertools_product", lattice_energy_product, (r(3, 4),), order=2),
    Case("coulomb_combinations_of_indices", coulomb_combinations, (POS, r(4)), wrt=(0, 1), order=2),
    Case("product_repeat_in_generator", symmetric_penalty_generator, (r(3, 3),), order=2),
    Case("grid_ndindex", grid_ndindex, (r(2, 3), 0.7), wrt=(0, 1), order=2),
    Case("permutations_of_range", permutation_sum, (r(3),), order=2),
    Case("returned_accumulator", returned_accumulator, (r(3),), order=2),
    Case(
        "endless_count_refused",
        counted_layers,
        ([r(2), r(2)],),
        refused=(sg.UnsupportedSyntaxError, "loop over `range(n)`"),
    ),
    Case(
        "combinations_of_points_refused",
        combinations_of_points,
        (list(POS),),
        refused=(sg.NoRuleError, "itertools.combinations(range(len(xs)), 2)"),
    ),
    Case(
        "ndenumerate_refused",
        ndenumerate_weights,
        (r(2, 3),),
        refused=(sg.NoRuleError, "np.ndindex(x.shape)"),
    ),
    Case(
        "nonlocal_accumulator_refused",
        nonlocal_accumulator,
        (r(3),),
        refused=(sg.UnsupportedSyntaxError, "`total = add(total, ...)`"),
    ),
    Case(
        "nested_global_refused",
        nested_global,
        (r(3),),
        refused=(sg.UnsupportedSyntaxError, "pass the value in and return the new value"),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_iterators(case):
    check(case)
