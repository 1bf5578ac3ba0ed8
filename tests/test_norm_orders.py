"""The spectral (2) and nuclear norms of a matrix differentiate to second order: their
gradient is written through the rule of ``np.linalg.svd`` (the second derivative was refused
with advice that did not fit: ``ord`` was a constant and the rank known)."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg


def spectral(m):
    return np.linalg.norm(m, 2) * 2.0


def nuclear(m):
    return np.linalg.norm(np.tanh(m), "nuc")


@pytest.mark.parametrize("f", [spectral, nuclear])
def test_matrix_norms_to_second_order(f):
    m = np.random.default_rng(3).standard_normal((3, 4))
    assert sg.gradcheck(f, m, order=2)
    vg = sg.value_and_grad(f)
    for _ in range(3):
        value, _ = vg(m)
        assert value == f(m)
