"""The checks in harness.py can fail: a primitive with a deliberately wrong derivative rule, a
value that differs from Python's, and a refusal naming the wrong line must all be caught."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check

X = np.array([0.3, -0.8, 1.1])


def wrong_cube(x):
    return x**3


def wrong_cube_adjoint(z, x):
    d[x] += d[z] * 2.0 * x * x  # noqa: F821 - `d` exists inside templates (true rule: 3 x^2)


def wrong_cube_tangent(z, x):
    d[z] += d[x] * 3.0 * x * x  # noqa: F821


sg.primitive(wrong_cube)
sg.defvjp(wrong_cube, wrong_cube_adjoint)
sg.defjvp(wrong_cube, wrong_cube_tangent)


def square(x):
    return x**2


def square_adjoint(z, x):
    d[x] += d[z] * 2.0 * x  # noqa: F821


def square_wrong_tangent(z, x):
    d[z] += d[x] * 3.0 * x  # noqa: F821 - the gradient is right, its derivative is not


sg.primitive(square)
sg.defvjp(square, square_adjoint)
sg.defjvp(square, square_wrong_tangent)


@dataclasses.dataclass
class Inner:
    W: np.ndarray

    def __call__(self, x):
        return square(x @ self.W)


@dataclasses.dataclass
class Outer:
    inner: object  # a layer held in a field: a record called, not a function setting

    def __call__(self, x):
        return x + self.inner(x)


def uses_outer(m, x):
    return np.sum(m(x) ** 2)


def uses_wrong_cube(x):
    return np.sum(wrong_cube(x))


def plain(x):
    return np.sum(x**2)


def refused_elsewhere(x):
    y = np.fft.fft(x).real
    return np.sum(y)  # REFUSED


def test_wrong_gradient_is_caught():
    with pytest.raises(AssertionError, match="grad d/darg0"):
        check(Case("wrong", uses_wrong_cube, (X,)))


def test_refusal_on_another_line_is_caught():
    with pytest.raises(AssertionError, match="does not start with"):
        check(Case("refused", refused_elsewhere, (X,), refused=(sg.NoRuleError, "defvjp")))


def test_program_that_works_is_not_taken_for_a_refusal():
    with pytest.raises(pytest.fail.Exception):
        check(Case("plain", plain, (X,), refused=(sg.NoRuleError, "defvjp")))


def test_wrong_hvp_along_a_layer_held_in_a_field_is_caught():
    """The direction and the differences move the arrays of a layer held in a field (they
    took it for a function setting, moved nothing and compared nothing)."""
    m = Outer(Inner(np.array([[0.5, -0.2], [0.1, 0.3]])))
    with pytest.raises(AssertionError, match="hvp d2/darg0"):
        check(Case("wrong_hvp", uses_outer, (m, np.array([[0.4, -0.7]])), order=2))
