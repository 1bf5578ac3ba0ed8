"""An update ``y += v`` (``-=``, ``*=``, ``/=``, ``//=``, ``**=``, ``y[k] += v``,
``np.copyto``, ``out=``) of an array writes into it as NumPy does: ``y`` keeps its dtype
(``casting="same_kind"``), and where NumPy refuses the cast (a float into an integer array,
``/=`` of integers) the derivative raises NumPy's ``TypeError``, as the function does."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import CALLS, Case, check

X = np.array([1.25, 2.7, 0.6])
V = np.array([0.3, -0.2, 0.7])


def add_into_float32(x):
    y = np.zeros(3, np.float32)
    y += x * 1.1
    return np.sum(y * x), y


def add_into_float32_cast(x):  # the same, the cast written out
    y = np.zeros(3, np.float32)
    y = (y + x * 1.1).astype(np.float32)
    return np.sum(y * x), y


def scale_float32(x):
    q = x.astype(np.float32)
    q *= np.sqrt(x)
    q -= x / 3.0
    return np.sum(q * x), q


def scale_float32_cast(x):
    q = x.astype(np.float32)
    q = (q * np.sqrt(x)).astype(np.float32)
    q = (q - x / 3.0).astype(np.float32)
    return np.sum(q * x), q


def scale_float32_copy(x):
    y = x.astype(np.float32) * 1.5
    y *= 2.0
    y += 1.0
    return np.sum(y * x), y


def add_into_float32_rows(x):
    y = np.zeros((2, 3), np.float32)
    y[1] += x * 1.1
    return np.sum(y * x), y


def add_into_float32_rows_cast(x):
    y = np.zeros((2, 3), np.float32)
    y[1] = (y[1] + x * 1.1).astype(np.float32)
    return np.sum(y * x), y


def write_out_float32(x):
    y = np.zeros(3, np.float32)
    np.multiply(x, 1.1, out=y)
    return np.sum(y * x), y


def write_out_float32_cast(x):  # (a write into the array, as `out=` is)
    y = np.zeros(3, np.float32)
    y[...] = np.multiply(x, 1.1)
    return np.sum(y * x), y


_FLOAT32 = [
    (add_into_float32, add_into_float32_cast),
    (scale_float32, scale_float32_cast),
    (add_into_float32_rows, add_into_float32_rows_cast),
    (write_out_float32, write_out_float32_cast),
]


@pytest.mark.parametrize("f, cast", _FLOAT32, ids=[f.__name__ for f, _ in _FLOAT32])
def test_a_float32_array_updated_with_float64_values_stays_float32(f, cast):
    want_value, want_y = f(X)
    assert want_y.dtype == np.float32
    twin = sg.grad(lambda x: cast(x)[0])
    for _ in range(CALLS):
        (value, y), g = sg.value_and_grad(f, has_aux=True)(X)
        assert value == want_value
        assert y.dtype == np.float32 and np.array_equal(y, want_y)
        # the cast's derivative is the identity: what the written-out cast gives
        np.testing.assert_allclose(g, twin(X), rtol=1e-12)
        # and, up to float32's rounding, the float64 central differences
        fd = [(f(X + h)[0] - f(X - h)[0]) / 2e-3 for h in np.eye(3) * 1e-3]
        np.testing.assert_allclose(g, fd, rtol=1e-3)
        hv = sg.hvp(lambda x: f(x)[0])(X, V)
        np.testing.assert_allclose(hv, sg.hvp(lambda x: cast(x)[0])(X, V), rtol=1e-12)
        jv = sg.jvp(lambda x: f(x)[0])(X, V)
        assert jv[0] == want_value
        np.testing.assert_allclose(jv[1], sg.jvp(lambda x: cast(x)[0])(X, V)[1], rtol=1e-12)


def add_floats_into_ints(x):
    y = np.arange(3)
    y += x
    return np.sum(y * x)


def scale_ints_by_floats(x):
    y = np.arange(3)
    y *= 2.5
    return np.sum(y * x)


def divide_ints(x):
    y = np.arange(3)
    y /= 2
    return np.sum(y * x)


def add_floats_into_int_rows(x):
    y = np.zeros((2, 3), int)
    y[0] += x
    return np.sum(y * x)


def add_floats_into_bools(x):
    m = x > 1.0
    m += x
    return np.sum(m * x)


def write_floats_out_into_ints(x):
    y = np.zeros(3, int)
    np.multiply(x, 2.0, out=y)
    return np.sum(y * x)


def add_floats_into_an_int_argument_copy(x, k):
    y = k.copy()
    y -= x
    return np.sum(y * x)


_REFUSED_BY_NUMPY = [
    add_floats_into_ints,
    scale_ints_by_floats,
    divide_ints,
    add_floats_into_int_rows,
    add_floats_into_bools,
    write_floats_out_into_ints,
]


@pytest.mark.parametrize("f", _REFUSED_BY_NUMPY, ids=lambda f: f.__name__)
def test_an_update_numpy_cannot_cast_raises_numpys_type_error(f):
    with pytest.raises(TypeError, match="same_kind"):
        f(X)
    makers = (sg.grad, sg.value_and_grad, sg.hvp, sg.jvp)
    for make in makers:
        for _ in range(CALLS):
            with pytest.raises(TypeError, match="same_kind") as got:
                make(f)(*((X, V) if make in (sg.hvp, sg.jvp) else (X,)))
            assert not isinstance(got.value, sg.SourcegradError)
            notes = " ".join(getattr(got.value, "__notes__", ()))
            assert "test_in_place_dtypes.py" in notes  # the user's line of the update


def add_floats_into_ints_when_positive(x):
    y = np.arange(3)
    if x[0] > 0.0:
        y += x
    return np.sum(y * x)


def test_a_later_call_numpy_cannot_cast_carries_the_users_line():
    """The update is met on a later call of the signature (the optimized build) only."""
    for make in (sg.grad, sg.value_and_grad, sg.hvp, sg.jvp):
        run = make(add_floats_into_ints_when_positive)
        for x in (-X, -X, X, X):
            args = (x, V) if make in (sg.hvp, sg.jvp) else (x,)
            if x[0] < 0.0:
                run(*args)
                continue
            with pytest.raises(TypeError, match="same_kind") as got:
                run(*args)
            notes = " ".join(getattr(got.value, "__notes__", ()))
            assert "test_in_place_dtypes.py" in notes, make.__name__


def test_an_int_argument_updated_with_floats_raises():
    k = np.array([1, 2, 3])
    with pytest.raises(TypeError):
        add_floats_into_an_int_argument_copy(X, k)
    for _ in range(CALLS):
        with pytest.raises(TypeError, match="same_kind"):
            sg.grad(add_floats_into_an_int_argument_copy)(X, k)


def add_ints_into_ints(x):
    y = np.arange(3)
    y += np.array([2, 0, 1])
    y *= 3
    y //= 2
    y %= 4
    return np.sum(y * x**2)


def add_int_items(x):
    y = np.arange(6).reshape(2, 3)
    y[1] += np.array([1, 2, 3])
    y[0, 1] += 2.5  # (a NumPy scalar: `+=` rebinds it, the write then cuts it)
    return np.sum(y * x)


def or_bools(x):
    m = x > 1.0
    m += x < 0.7
    m |= x > 2.5
    return np.sum(m * x**2)


def add_into_a_number(x):
    s = 0.0
    for k in range(3):
        s += x[k] ** 2  # (a Python float: `+=` rebinds it)
    t = np.float32(1.5)
    t += x  # (a NumPy scalar too: a new float64 array)
    return s + np.sum(t * x)


def add_ints_into_floats(x):
    y = x * 1.0
    y += np.arange(3)
    y *= 2
    y **= 2
    np.copyto(y, y + np.arange(3))
    return np.sum(y)


@pytest.mark.parametrize(
    "case",
    [
        Case("ints_into_ints", add_ints_into_ints, (X,), order=2).param(),
        Case("int_items", add_int_items, (X,), order=2).param(),
        Case("bools_into_bools", or_bools, (X,), order=2).param(),
        Case("into_numbers", add_into_a_number, (X,), order=2).param(),
        Case("ints_into_floats", add_ints_into_floats, (X,), order=2).param(),
    ],
)
def test_updates_numpy_makes_are_differentiated(case):
    check(case)


def test_the_value_dtype_of_an_integer_update_is_numpys():
    def f(x):
        y = np.arange(3, dtype=np.int32)
        y += np.array([1, 2, 3])  # int64 into int32: same_kind, cast
        return np.sum(y * x), y

    want = f(X)[1]
    for _ in range(CALLS):
        (_, y), _ = sg.value_and_grad(f, has_aux=True)(X)
        assert y.dtype == want.dtype == np.int32


def grow_by_broadcasting(x):
    y = np.zeros((1, 3), np.float32)
    y += np.ones((2, 3)) * x
    return np.sum(y)


def test_an_update_that_would_broadcast_its_array_larger_raises_numpys_value_error():
    with pytest.raises(ValueError, match="non-broadcastable output"):
        grow_by_broadcasting(X)
    for _ in range(CALLS):
        with pytest.raises(ValueError, match="non-broadcastable output"):
            sg.grad(grow_by_broadcasting)(X)


def test_a_float64_update_emits_no_cast():
    def f(x):
        y = x * 2.0
        y += np.sin(x)
        y[1:] *= x[:2]
        return np.sum(y)

    assert "in_place_result" not in sg.source(sg.grad(f), X)
    assert "in_place_result" not in sg.show(f, args=(X,), optimized=True)


def test_the_running_build_drops_a_cast_its_dtypes_prove_a_no_op():
    def f(x):
        z = np.ones(2, np.float32)  # (a float32 value: the pure build cannot prove the cast)
        y = x * 2.0
        y += x
        return np.sum(y * x) + np.sum(z)

    assert "in_place_result" in sg.source(sg.grad(f), X)
    assert "in_place_result" not in sg.show(f, args=(X,), optimized=True)
    check(Case("running", f, (X,), order=2))


def test_a_float32_update_of_a_cast_copy_drops_its_cast():
    # y's shape is x's (through astype) and each update keeps it: no cast is needed
    assert "in_place_result" in sg.source(sg.grad(scale_float32_copy, has_aux=True), X)
    assert "in_place_result" not in sg.show(scale_float32_copy, args=(X,), optimized=True)
    want_value, want_y = scale_float32_copy(X)
    for _ in range(CALLS):
        (value, y), g = sg.value_and_grad(scale_float32_copy, has_aux=True)(X)
        assert value == want_value
        assert y.dtype == np.float32 and np.array_equal(y, want_y)
        fd = [
            (scale_float32_copy(X + h)[0] - scale_float32_copy(X - h)[0]) / 2e-3
            for h in np.eye(3) * 1e-3
        ]
        np.testing.assert_allclose(g, fd, rtol=1e-3)


PRECISION = {"single": np.float32, "double": np.float64, "dtype": np.dtype("float32")}


def add_into_a_configured_dtype(x, precision):
    y = np.zeros(3, PRECISION[precision])
    y += x * 1.1
    return np.sum(y * x)


@pytest.mark.parametrize("precision", sorted(PRECISION))
def test_a_dtype_a_global_holds_is_seen(precision):
    want = add_into_a_configured_dtype(X, precision)
    for _ in range(CALLS):
        value, _ = sg.value_and_grad(add_into_a_configured_dtype)(X, precision)
        assert value == want


CONSTANTS = {"w": np.array([0.5, 1.5, 2.5], np.float32)}


def add_into_a_float32_global(x):
    y = CONSTANTS["w"] * 1.0  # (float32: a float32 array times a Python float)
    y += x
    return np.sum(y * x), y


def test_a_float32_array_a_global_container_holds_is_seen():
    want_value, want_y = add_into_a_float32_global(X)
    for _ in range(CALLS):
        (value, y), _ = sg.value_and_grad(add_into_a_float32_global, has_aux=True)(X)
        assert value == want_value and y.dtype == want_y.dtype == np.float32
