"""Writes through views and into a helper's arguments: exactly Python's value, or a refusal
that names the line; never a different value. A write through ``np.asarray`` of an array is
followed (it is the array itself); views made by functions (flip, moveaxis, split) are refused."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check

X = np.array([0.5, -1.2, 2.0, 0.3])


def flip_written(x):
    y = x * 1.0
    z = np.flip(y)
    z[0] = 5.0
    return np.sum(y * x)


def asarray_written(x):
    """``np.asarray(y)`` of an array is ``y`` itself: the write through ``z`` is followed."""
    y = x * 1.0
    z = np.asarray(y)
    z[1] = z[1] * 2.0
    return np.sum(y * x)


def moveaxis_written(x):
    y = (x * 1.0).reshape(2, 2)
    z = np.moveaxis(y, 0, 1)
    z[0, 1] = 7.0
    return np.sum(y * x.reshape(2, 2))


def split_written(x):
    y = x * 1.0
    a, b = np.split(y, 2)
    a[0] = a[0] * 3.0
    return np.sum(y * x)


def scale_first(a):
    a[0] = a[0] * 3.0


def helper_writes_its_argument(x):
    y = x * 1.0
    scale_first(y)
    return np.sum(y**2)


@pytest.mark.parametrize(
    "f", [flip_written, moveaxis_written, split_written], ids=lambda f: f.__name__
)
def test_a_write_through_a_view_is_refused_not_lost(f):
    with pytest.raises(sg.UnsupportedSyntaxError) as info:
        sg.grad(f)(X.copy())
    assert "test_views_and_writes.py" in str(info.value) and "share" in str(info.value)


def test_a_write_through_asarray_of_an_array_is_followed_not_refused():
    """Python's value, the gradient against central differences and the hvp, on three calls;
    the caller's array is left as it was."""
    check(Case("asarray_written", asarray_written, (X.copy(),), order=2))


def test_a_helper_that_writes_into_its_argument_is_followed():
    """(refused before: the helper is inlined, its write into `y` the function's own)"""
    check(Case("helper_writes_its_argument", helper_writes_its_argument, (X.copy(),), order=2))


def scaled_first(a):
    a = a.copy()
    a[0] = a[0] * 3.0
    return a


def helper_returns_the_new_array(x):
    y = scaled_first(x * 1.0)
    return np.sum(y**2)


def test_the_way_out_works():
    got = sg.grad(helper_returns_the_new_array)(X.copy())
    want = 2 * X * np.array([9.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(got, want, rtol=1e-12)


def alias_made_after_the_write(x):
    y = x * 1.0
    y[0] = y[0] * 2.0
    z = y[1:]
    return np.sum(z * x[1:]) + y[0]


def test_an_alias_made_after_the_last_write_is_no_alias():
    got = sg.grad(alias_made_after_the_write)(X.copy())
    want = np.array([2.0, *(2 * X[1:])])
    np.testing.assert_allclose(got, want, rtol=1e-12)


def alias_made_after_the_loop_that_writes(x):
    z = np.zeros_like(x)
    for i in range(len(x)):
        z[i] = np.tanh(x[i] * (i + 1))
    h = z
    return np.sum(h**2)


def test_an_alias_made_after_the_loop_that_writes_is_no_alias():
    got = sg.grad(alias_made_after_the_loop_that_writes)(X.copy())
    k = np.arange(1, len(X) + 1)
    t = np.tanh(X * k)
    np.testing.assert_allclose(got, 2 * t * (1 - t * t) * k, rtol=1e-12)


def test_the_refusal_quotes_the_write_as_written():
    # (it quoted `z[...] = ...` for every write, which reads as a write of the whole array)
    with pytest.raises(sg.UnsupportedSyntaxError) as info:
        sg.grad(moveaxis_written)(X.copy())
    assert "`z[0, 1] = ...`" in str(info.value), str(info.value)
