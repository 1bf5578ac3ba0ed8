"""A repeated call checks its arguments with a guard made for the previous signature; a
NumPy scalar's guard is its type alone (the type fixes its shape and dtype). A call of
another signature is still caught and runs the derivative made for it: right values and
gradients of the right type, whichever order the signatures come in. The ``__call__`` made
for a signature takes the arguments as positional parameters and hands them on as they came;
any other call (fewer or more arguments, keywords) is answered as before."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import ArgumentError
from sourcegrad.runtime.signature import call_signature, compile_guard, guard_expression


def cube_root(a, tol):
    """Newton's method for the cube root, a data-dependent ``while``."""
    x = a if a > 1.0 else 1.0
    step = x
    while abs(step) > tol * x:
        step = (x * x * x - a) / (3.0 * x * x)
        x = x - step
    return x


SCALARS = [
    (20.0, 1e-12),
    (np.float64(20.0), np.float64(1e-12)),
    (np.float32(20.0), np.float32(1e-5)),
    (20.0, np.float64(1e-12)),
    (np.float16(20.0), np.float16(1e-2)),
]


def test_every_signature_in_turn_gets_its_own_derivative():
    df = sg.value_and_grad(cube_root)
    for _ in range(3):  # (the optimized code runs from the second call of a signature on)
        for a, tol in SCALARS + SCALARS[::-1]:
            value, grad = df(a, tol)
            assert value == cube_root(a, tol)
            assert type(grad) is type(a), (a, tol, grad)
            rtol = {np.float16: 1e-2, np.float32: 1e-5}.get(type(a), 1e-9)
            np.testing.assert_allclose(float(grad), 1.0 / (3.0 * float(value) ** 2), rtol=rtol)


@pytest.mark.parametrize(
    "seen, other",
    [
        (np.float64(1.0), np.float32(1.0)),
        (np.float32(1.0), np.float64(1.0)),
        (np.int64(1), np.int32(1)),
        (np.float64(1.0), 1.0),
        (np.float64(1.0), np.ones(())),
        (np.float64(1.0), np.ones(1)),
        (np.complex128(1.0), np.float64(1.0)),
        (np.bool_(True), True),
    ],
)
def test_a_scalar_guard_passes_its_signature_alone(seen, other):
    expr, names = guard_expression((seen,))
    guard = compile_guard(expr, names)
    assert guard((seen,)) and guard((type(seen)(seen),))
    assert call_signature(other) != call_signature(seen)
    assert not guard((other,)), (seen, other, expr)


def _positional_parameters(df) -> int:
    """How many positional-only parameters the ``__call__`` that ``df``'s calls run has."""
    params = inspect.signature(type(df).__call__).parameters.values()
    return sum(p.kind is p.POSITIONAL_ONLY for p in params)


def _cube_root_grad(value) -> float:
    return 1.0 / (3.0 * float(value) ** 2)


def test_a_repeated_call_hands_its_arguments_on_without_a_tuple():
    df = sg.value_and_grad(cube_root)
    for _ in range(3):
        value, grad = df(20.0, 1e-12)
        assert value == cube_root(20.0, 1e-12)
        np.testing.assert_allclose(grad, _cube_root_grad(value), rtol=1e-9)
    assert _positional_parameters(df) == 3  # self, a, tol: nothing packed into *args


def _expect(df, call, a, tol):
    value, grad = call()
    assert value == cube_root(a, tol) and type(grad) is type(a)
    np.testing.assert_allclose(float(grad), _cube_root_grad(value), rtol=1e-9)


def test_other_calls_after_the_direct_call_are_answered_as_before():
    df = sg.value_and_grad(cube_root)
    for _ in range(3):
        df(20.0, 1e-12)
    with pytest.raises(ArgumentError, match="missing 1 required positional argument: 'tol'"):
        df(20.0)
    with pytest.raises(ArgumentError, match="takes 2 positional arguments but 3 were given"):
        df(20.0, 1e-12, 1.0)
    for _ in range(3):
        _expect(df, lambda: df(20.0, tol=1e-12), 20.0, 1e-12)
        _expect(df, lambda: df(a=8.0, tol=1e-12), 8.0, 1e-12)
        _expect(df, lambda: df(np.float64(27.0), 1e-12), np.float64(27.0), 1e-12)
        _expect(df, lambda: df(20.0, 1e-12), 20.0, 1e-12)


def _scaled_cube_root(scale):
    def f(a, tol):
        return scale * cube_root(a, tol)

    return f


def test_a_function_of_the_same_code_runs_the_direct_call_with_its_own_values():
    """Two closures of one ``def`` share the builds; each runs them with its own cells, the
    missing-argument refusal included."""
    for scale in (2.0, 3.0):
        f = _scaled_cube_root(scale)
        df = sg.value_and_grad(f)
        for _ in range(3):
            value, grad = df(20.0, 1e-12)
            assert value == f(20.0, 1e-12)
            np.testing.assert_allclose(grad, scale * _cube_root_grad(value / scale), rtol=1e-9)
        with pytest.raises(ArgumentError, match="missing 1 required positional argument"):
            df(20.0)
