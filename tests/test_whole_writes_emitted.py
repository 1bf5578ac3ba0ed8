"""A write of every element (``a[...] = v``, ``a[:] = v`` of an array, ``W.T[...]`` through a
view) leaves nothing of the old values: the emitted adjoint adds no zero term for them, and
``a[...] = v`` makes its new array with ``np.empty_like`` rather than copying what it
overwrites. Values and derivatives are checked as everywhere."""

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check, params

W = np.arange(6.0).reshape(2, 3) / 7 - 0.3
X = np.array([0.3, -0.2, 1.1])


def transposed_row_written(W):
    U = np.tanh(W)
    v = U.T
    v[0] = 1.0
    return np.sum(U * U * W)


def ellipsis_written(x):
    a = np.zeros(3)
    a[...] = np.sin(x)
    return np.sum(a * x)


def colon_written(x):
    a = x * 2.0
    a[:] = np.cos(x)
    return np.sum(a * x)


def broadcast_into_every_element(x):
    a = np.ones((2, 3))
    a[...] = x * x
    return np.sum(a * np.tanh(a))


def written_by_copyto(x):
    a = np.empty(3)
    np.copyto(a, np.exp(x))
    return np.sum(a * a)


CASES = [
    Case("transposed_row_written", transposed_row_written, (W,), order=2),
    Case("ellipsis_written", ellipsis_written, (X,), order=2),
    Case("colon_written", colon_written, (X,), order=2),
    Case("broadcast_into_every_element", broadcast_into_every_element, (X,), order=2),
    Case("written_by_copyto", written_by_copyto, (X,), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_whole_writes(case):
    check(case)


@pytest.mark.parametrize("optimized", [False, True])
def test_the_overwritten_values_get_no_zero_adjoint(optimized):
    for f, args in ((transposed_row_written, (W,)), (colon_written, (X,))):
        shown = sg.show(f, args=args, optimized=optimized)
        # (only `v[0] = 1.0` cuts part of an adjoint; the whole writes cut nothing)
        assert shown.count("zero_index(") == (f is transposed_row_written), shown


def test_a_whole_write_makes_a_new_array_without_copying():
    shown = sg.show(ellipsis_written, args=(X,))
    assert "np.empty_like(a)" in shown and ".copy()" not in shown, shown
    assert "[...] = np.sin(x)" in shown, shown
