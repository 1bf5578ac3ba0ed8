"""A repeated call checks its arguments with a guard made for the previous signature; a
NumPy scalar's guard is its type alone (the type fixes its shape and dtype). A call of
another signature is still caught and runs the derivative made for it: right values and
gradients of the right type, whichever order the signatures come in."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
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
