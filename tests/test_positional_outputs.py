"""A NumPy output given by position (``np.multiply(y, 2.0, y)``, ``np.sum(a, 0, None, out)``)
writes into that argument as ``out=`` does. Known gap: sourcegrad reads these calls as if they
returned a new array, so the gradient of what reads the output afterwards is silently wrong and
the caller's array is left unchanged (``out=`` is lowered; by position it is not, nor refused)."""

import numpy as np
import pytest

import sourcegrad as sg

from .fd import numerical_grad


def summed_into(x, y):
    np.sum(x * x, 0, None, y)
    return np.sum(x * y)


def doubled_in_place(x, y):
    np.multiply(y, 2.0, y)
    return np.sum(x * y)


@pytest.mark.xfail(strict=True, reason="a positional NumPy output is not followed (silently wrong)")
def test_positional_output_of_a_reduction_is_followed():
    x = np.arange(3.0) + 1.0
    want = numerical_grad(lambda x: summed_into(x, np.zeros(())), [x], 0)
    df = sg.grad(summed_into)
    for _ in range(3):
        np.testing.assert_allclose(df(x, np.zeros(())), want, rtol=1e-6, atol=1e-8)


@pytest.mark.xfail(
    strict=True, reason="a positional ufunc output is not written back to the caller"
)
def test_positional_ufunc_output_is_left_in_the_caller():
    x, y = np.arange(3.0) + 1.0, np.ones(3)
    df = sg.grad(doubled_in_place)
    for _ in range(3):
        given = y.copy()
        np.testing.assert_allclose(df(x, given), 2.0 * y, rtol=1e-12)
        np.testing.assert_array_equal(given, 2.0 * y)  # as Python's call leaves it
