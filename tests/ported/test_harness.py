"""The checks in harness.py can fail: a primitive with a deliberately wrong derivative rule, a
value that differs from Python's, and a refusal naming the wrong line must all be caught."""

from __future__ import annotations

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
