"""``np.where(c, f(x), b)`` computes ``f`` in every entry, as NumPy does; where ``f``'s own
derivative is infinite in the entries the where does not take (``sqrt``, ``log`` at ``x <= 0``,
``sin(x) / x`` at 0), the gradient is still the function's: zero there, not NaN (JAX, PyTorch
and autograd give NaN). First and second order, first and later calls."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import sourcegrad as sg
from tests.ported.harness import Case, check, params

# NumPy warns computing each branch where it is not taken, as Python's own call of f does
pytestmark = pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")

X = np.array([-1.5, -0.3, 0.4, 1.2, 2.5, -2.0])


def sqrt_of_positives(x):
    return np.sum(np.where(x > 0, np.sqrt(x), 0.0))


def log_or_identity(x):
    return np.sum(np.where(x > 0, np.log(x), x))


def sinc_like(x):
    return np.sum(np.where(x != 0, np.sin(x) / x, 1.0))


def chain_in_the_branch(x):
    return np.sum(np.where(x > 0, np.log(x) * 2.0 + 1.0, -x) ** 2)


def fractional_power(x):
    return np.sum(np.where(x > 0, x**1.5, 0.0) * x)


def arcsin_inside(x):
    y = 0.5 * x
    return np.sum(np.where(np.abs(y) < 1, np.arcsin(y), np.sign(y)))


def in_the_other_branch(x):
    return np.sum(np.where(x <= 0, x * x, np.sqrt(x)))


def division_by_an_array(x, y):
    return np.sum(np.where(y > 0, x / y, x))


def numerator_and_denominator_vary(x):
    d = x - 0.5
    return np.sum(np.where(d != 0, np.cos(x) / d, 0.0))


CASES = [
    Case("sqrt_of_positives", sqrt_of_positives, (X,), order=2),
    Case("log_or_identity", log_or_identity, (X,), order=2),
    Case("sinc_like", sinc_like, (X,), order=2),
    Case("sinc_like_at_zero", sinc_like, (np.append(X, 0.0),)),
    Case("chain_in_the_branch", chain_in_the_branch, (X,), order=2),
    Case("fractional_power", fractional_power, (X,), order=2),
    Case("arcsin_inside", arcsin_inside, (X[:-1],), order=2),
    Case("in_the_other_branch", in_the_other_branch, (X,), order=2),
    Case("division_by_an_array", division_by_an_array, (X, np.append(X[1:], 0.0)), order=2),
    Case("numerator_and_denominator", numerator_and_denominator_vary, (X,), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_gradient_of_a_masked_branch_is_finite_and_right(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's own, computing each branch
        check(case)
        gradient = sg.grad(case.f)(*case.args)
    assert np.all(np.isfinite(gradient))


def test_the_mask_is_shown_and_only_where_needed():
    assert "== 0, 0.0," in sg.show(sqrt_of_positives, args=(X,), callees=False)
    assert "== 0, 0.0," not in sg.show(scaled_branch, args=(X,), callees=False)


def scaled_branch(x):
    return np.sum(np.where(x > 0, x**2 / 3.0, 0.0))
