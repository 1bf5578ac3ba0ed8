"""A 0-d array is changed in place by ``+=`` (a number is rebound): a second name of it, or a
helper's parameter given it, sees the change. Known gap: the aliasing passes read a value of
no axes as a number, so the change through the other name is lost (a wrong value and
gradient, not a refusal)."""

import numpy as np
import pytest

from .ported.harness import Case, check, params

X = np.array([0.5, -1.2, 2.0, 0.3])


def scale_(a):
    a *= 2.0


def updated_through_a_second_name(x):
    s = np.array(np.sum(x * x))
    t = s
    t *= 2.0
    return s * x[0]


def updated_by_a_helper(x):
    s = np.array(np.sum(x * x))
    scale_(s)
    return s * x[0]


def updated_in_place(x):
    s = np.array(np.sum(x * x))
    s *= 2.0
    return s * x[0]


GAP = "a 0-d array's second name is read as a number's: its update in place is lost"
CASES = [
    Case("updated_in_place", updated_in_place, (X,)),
    Case("updated_through_a_second_name", updated_through_a_second_name, (X,), xfail=GAP),
    Case("updated_by_a_helper", updated_by_a_helper, (X,), xfail=GAP),
]


@pytest.mark.parametrize("case", params(CASES))
def test_zero_dimensional_array_updated_in_place(case):
    check(case)
