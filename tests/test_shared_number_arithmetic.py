"""A sum or product of numbers the function computes twice from the same names (``3 * H`` in
two slices, loop invariants hoisted from several statements) is computed once in the shown
derivative; values and derivatives stay exactly Python's."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check


def gates(W, xs):
    H = W.shape[1] // 4
    h = np.zeros(H)
    for x in xs:
        z = x @ W
        s = np.tanh(z[: 3 * H])
        g = np.tanh(z[3 * H :])
        h = s[:H] * h + s[H : 2 * H] * g + s[2 * H : 3 * H]
    return np.sum(h**2)


def signed_zeros(v, s):
    return np.sum(v * np.arctan2(0.0 * s, -1.0) + v * np.arctan2(-0.0 * s, -1.0))


def _gates_args():
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 8)) * 0.5, rng.standard_normal((4, 3))


def test_repeated_products_of_numbers_computed_once():
    shown = sg.show(gates, args=_gates_args(), callees=False)
    assert shown.count("= 3 * H\n") == 1, shown
    assert shown.count("= 2 * H\n") == 1, shown


CASES = [
    Case("gates", gates, _gates_args(), order=2),
    Case("signed_zeros", signed_zeros, (np.arange(3.0), 2.0)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_values_and_derivatives(case):
    check(case)
