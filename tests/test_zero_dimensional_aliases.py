"""A 0-d array is changed in place by ``+=`` (a number is rebound): a second name of it, a
helper's parameter given it, or the container holding it sees the change. NumPy's arithmetic
of a 0-d array gives a scalar; the update keeps the array (``in_place_result``), so the write
back to the other names runs."""

import numpy as np
import pytest

import sourcegrad as sg

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


def updated_twice_through_second_names(x):
    s = np.array(np.sum(x * x))
    t = s
    t *= x[1]
    u = t
    u += x[2]
    return s * x[0]


def written_whole_through_a_second_name(x):
    s = np.array(np.sum(x * x))
    t = s
    t[...] = t * x[1] + 1.0
    return s * x[0]


def written_by_out_through_a_second_name(x):
    s = np.array(np.sum(x * x))
    t = s
    np.multiply(t, 2.0, out=t)
    return s * x[0]


def updated_in_a_dict(x):
    s = np.array(np.sum(x * x))
    d = {"s": s}
    d["s"] *= x[1]
    return s * x[0]


def updated_in_a_list(x):
    s = np.array(np.sum(x * x))
    hs = [s, x[2]]
    hs[0] += x[1]  # REFUSED
    return s * hs[1]


def both_names_bound_before_the_update(x):
    s = np.array(np.sum(x * x))
    t = s
    u = t
    t *= x[1]  # REFUSED
    return s * x[0] + u


def scalar_updated_in_a_loop(x):
    s = np.array(0.5)
    t = s
    for v in x:
        t *= v
    return s + x[0]


def zeros_updated_through_a_second_name(x):
    s = np.zeros(())
    t = s
    t += x[0] * x[1]
    return s * x[2]


def zeros_updated_in_place(x):
    s = np.zeros(())
    s += x[0] * x[1]
    s *= x[2]
    return s


def returned_updated(x):
    s = np.array(np.sum(x * x))
    t = s
    t *= x[1]
    return s


def number_not_shared(x):
    s = np.sum(x * x)
    t = s
    t *= 2.0
    return s * x[0] + t


CASES = [
    Case("updated_in_place", updated_in_place, (X,), order=2),
    Case("updated_through_a_second_name", updated_through_a_second_name, (X,), order=2),
    Case("updated_by_a_helper", updated_by_a_helper, (X,), order=2),
    Case("updated_twice", updated_twice_through_second_names, (X,), order=2),
    Case("written_whole", written_whole_through_a_second_name, (X,), order=2),
    Case("written_by_out", written_by_out_through_a_second_name, (X,), order=2),
    Case("updated_in_a_dict", updated_in_a_dict, (X,), order=2),
    Case(
        "updated_in_a_list",
        updated_in_a_list,
        (X,),
        refused=(sg.UnsupportedSyntaxError, "write through one name only"),
    ),
    Case(
        "both_names_bound_before_the_update",
        both_names_bound_before_the_update,
        (X,),
        refused=(sg.UnsupportedSyntaxError, "make the value made at line"),
    ),
    Case("scalar_updated_in_a_loop", scalar_updated_in_a_loop, (X,), order=2),
    Case("zeros_through_a_second_name", zeros_updated_through_a_second_name, (X,), order=2),
    Case("zeros_updated_in_place", zeros_updated_in_place, (X,), order=2),
    Case("returned_updated", returned_updated, (X,), order=2),
    Case("number_not_shared", number_not_shared, (X,), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_zero_dimensional_array_updated_in_place(case):
    check(case)
