"""Checks of the state objects keep between calls: a snapshot of their fields, putting one
back, comparing two, and a function run from a snapshot (for central differences)."""

from __future__ import annotations

import copy

import numpy as np


def held(objects) -> list:
    """A deep copy of each object's fields."""
    return [copy.deepcopy(vars(o)) for o in objects]


def put_back(objects, state) -> None:
    """Give each object the fields of ``state`` (copied)."""
    for o, s in zip(objects, state):
        vars(o).clear()
        vars(o).update(copy.deepcopy(s))


def assert_same_state(got, want, what):
    """The snapshots ``got`` and ``want`` hold the same fields with equal values."""
    for g, w in zip(got, want):
        assert g.keys() == w.keys(), what
        for k in g:
            np.testing.assert_array_equal(np.asarray(g[k]), np.asarray(w[k]), err_msg=f"{what}.{k}")


def run_from(objects, state, f):
    """``f``, each call starting from the objects' ``state``."""

    def run(*args):
        put_back(objects, state)
        return f(*args)

    return run
