"""Small right-or-refused gaps: NumPy's own errors and casting rules where sourcegrad
rewrites a write in place, and messages that must name the real cause."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check, check_refusal


def fill_flat_diagonal(x):
    y = x * 1.0
    np.fill_diagonal(y, 0.0)
    return np.sum(y)


def fill_flat_diagonal_values(x):
    y = x * 1.0
    np.fill_diagonal(y, x[:2])
    return np.sum(y)


def fill_uneven_cube(x):
    y = np.zeros((2, 3, 3)) + x[0]
    np.fill_diagonal(y, 1.0)
    return np.sum(y)


@pytest.mark.parametrize("f", [fill_flat_diagonal, fill_flat_diagonal_values, fill_uneven_cube])
def test_fill_diagonal_raises_numpys_value_error(f):
    x = np.array([1.5, 2.5, 3.5])
    with pytest.raises(ValueError) as want:
        f(x)
    for make in (sg.grad, sg.value_and_grad):
        for _ in range(3):
            with pytest.raises(ValueError) as got:
                make(f)(x)
            assert str(got.value) == str(want.value) or "2-d" in str(got.value)


def add_floats_into_ints(x):
    y = np.zeros(3, dtype=int)
    np.add.at(y, [0, 1, 0], x)
    return np.sum(y * x[0])


def multiply_floats_into_ints(x):
    y = np.array([2, 3, 4])
    np.multiply.at(y, [2, 0], x[1:])
    return np.sum(y * x)


def fill_square_diagonal(x):
    y = np.outer(x, x)
    np.fill_diagonal(y, 0.0)
    return np.sum(y * y)


def write_float_into_ints(x):
    y = np.zeros(3, dtype=int)
    y[0] = x[0]
    return np.sum(y * x[1])


def add_floats_into_int_items(x):
    y = np.arange(3)
    y[[0, 2]] = y[[0, 2]] + x[:2] * 2.5
    return np.sum(y * x) + x[2] ** 2


def write_floats_into_bools(x):
    m = np.zeros(3, dtype=bool)
    m[1:] = x[1:] - 1.0
    return np.sum(np.where(m, x**2, x))


def copy_floats_into_ints(x):
    y = np.ones(3, dtype=np.int32)
    y[...] = x * 3.0
    z = np.zeros(3, dtype=np.int8)
    z[:] = x * x
    return np.sum(y * x) + np.sum(z * x)


def write_floats_into_int_rows(x):
    y = np.zeros((2, 3), dtype=int)
    for k in range(2):
        y[k] = x * (k + 1.5)
    w = np.zeros((2, 3))
    w[0] = x * 2.0
    return np.sum(y * x) + np.sum(w * x)


def write_into_copies_of_arguments(x, counts, w):
    y = counts.copy()  # (an integer array: what is written into it is cut)
    z = w.copy()
    for k in range(3):
        y[k] = x[k] * 2.5
        z[k] = x[k] * y[k]
    return np.sum(y * x) + np.sum(z * x)


X = np.array([1.25, 2.7, 0.6])


@pytest.mark.parametrize(
    "case",
    [
        Case("add_at_casts_to_int", add_floats_into_ints, (X,)).param(),
        Case("multiply_at_casts_to_int", multiply_floats_into_ints, (X,)).param(),
        Case("fill_diagonal_matrix", fill_square_diagonal, (X,), order=2).param(),
        Case("setitem_float_into_int", write_float_into_ints, (X,), order=2).param(),
        Case("add_into_int_items", add_floats_into_int_items, (X,), order=2).param(),
        Case("setitem_float_into_bool", write_floats_into_bools, (X,), order=2).param(),
        Case("whole_array_into_int", copy_floats_into_ints, (X,), order=2).param(),
        Case("rows_into_int_in_a_loop", write_floats_into_int_rows, (X,), order=2).param(),
        Case(
            "into_copies_of_int_and_float_arguments",
            write_into_copies_of_arguments,
            (X, np.array([1, 2, 3]), np.array([0.5, 1.5, 2.5])),
            order=2,
        ).param(),
    ],
)
def test_writes_in_place_as_numpy_casts(case):
    check(case)


class Box:
    def __init__(self, w):
        self.w = w

    @property
    def double(self):
        return self.w * 2.0


def reads_a_property(x):
    b = Box(x)
    return np.sum(b.double)


def joins_an_item_with_a_list(x):
    d = {"v": x * 2}
    return np.sum(d["v"] + [1.0, 2.0])


def joins_a_listed_item_with_a_list(x):
    hs = [np.tanh(x), x]
    return np.sum((hs[0] + [1.0, 2.0]) * hs[-1])


def adds_a_listed_item_to_a_list(x):
    hs = [x * 3.0, x]
    y = hs[0] + [1.0, 2.0]
    ys = [y, hs[1]]
    ys.append(x)
    return np.sum(y * ys[1] + ys[2])


@dataclasses.dataclass
class Scaled:
    w: np.ndarray
    s: float

    @property
    def value(self):
        return self.w * self.s


def reads_a_dataclass_property(x):
    box = Scaled(np.sin(x), 3.0)
    return np.sum(box.value**2)


@pytest.mark.parametrize(
    "case",
    [
        Case("property_of_an_object_built_inside", reads_a_property, (X[:2],), order=2).param(),
        Case(
            "property_of_a_dataclass_built_inside", reads_a_dataclass_property, (X,), order=2
        ).param(),
        Case("dict_item_plus_list", joins_an_item_with_a_list, (X[:2],), order=2).param(),
        Case("list_item_plus_list", joins_a_listed_item_with_a_list, (X[:2],), order=2).param(),
        Case("list_item_plus_list_named", adds_a_listed_item_to_a_list, (X[:2],), order=2).param(),
    ],
)
def test_gaps_closed(case):
    check(case)


def cholesky_with_a_fallback(x):
    A = np.outer(x, x) + np.eye(3)
    try:  # REFUSED
        L = np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        L = np.eye(3)
    return np.sum(L)


def cholesky_tested_first(x):
    A = np.outer(x, x) + np.eye(3)
    if np.all(np.linalg.eigvalsh(A) > 0):
        L = np.linalg.cholesky(A)
    else:
        L = np.eye(3)
    return np.sum(L)


CALLS: list = []


def logged_in_finally(x):
    try:  # REFUSED
        y = np.sin(x) * 2.0
    finally:
        CALLS.append(1)
    return np.sum(y)


def logged_after(x):
    y = np.sin(x) * 2.0
    CALLS.append(1)
    return np.sum(y)


def counted_in_finally(x):
    n = 0
    try:
        y = np.sin(x) * 2.0
    finally:
        n = n + 1
    return np.sum(y) * n


def test_a_finally_setting_local_names_runs_after_its_body():
    check(Case("counted_in_finally", counted_in_finally, (X,), order=2))


@pytest.mark.parametrize(
    "refused, hint, way_out",
    [
        (
            cholesky_with_a_fallback,
            "test for the failure first and choose with `if`",
            cholesky_tested_first,
        ),
        (logged_in_finally, "then the `finally` statements after it", logged_after),
    ],
)
def test_try_is_refused_with_a_way_out_that_is_differentiated(refused, hint, way_out):
    check_refusal(refused, (X,), sg.UnsupportedSyntaxError, hint)
    check(Case("way_out", way_out, (X,), order=2))


def add_floats_into_an_int_array(x):
    y = np.arange(3)
    y += x
    return np.sum(y * x)


def add_floats_into_int_items_in_place(x):
    y = np.arange(3)
    y[[0, 2]] += x[:2]
    return np.sum(y * x)


def copy_floats_into_an_int_array(x):
    y = np.arange(3)
    np.copyto(y, x)
    return np.sum(y * x)


@pytest.mark.parametrize(
    "f",
    [
        add_floats_into_an_int_array,
        add_floats_into_int_items_in_place,
        copy_floats_into_an_int_array,
    ],
)
def test_an_in_place_update_numpy_refuses_raises_its_type_error(f):
    with pytest.raises(TypeError):
        f(X)
    for make in (sg.grad, sg.value_and_grad):
        for _ in range(3):
            with pytest.raises(TypeError):
                make(f)(X)


def add_into_float32(x):
    y = np.zeros(3, np.float32)
    y += x * 1.1
    return np.sum(y * x)


def test_an_in_place_update_keeps_the_arrays_dtype():
    want = add_into_float32(X)
    for _ in range(3):
        value, _ = sg.value_and_grad(add_into_float32)(X)
        assert value == want
