"""``raise`` for input checks stays in the forward code as written: the derivative raises the
user's own exception where ``f`` would (its note names the user's line), differentiates
through the checks where they pass, and is unharmed by an earlier call that raised."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .fd import check_running_code


def checked_vector(x):
    if x.ndim != 1:
        raise ValueError("a vector expected")
    return np.sum(x**2) + np.prod(x)


def checked_sum(x):
    s = np.sum(x * x)
    if s > 100.0:
        raise ValueError(f"too large: {s}")
    return np.log(s)


def step(h, w):
    if not np.all(np.isfinite(h)):
        raise FloatingPointError("the state is not finite")
    return np.tanh(h * w)


def looped_helper(x):
    h = x
    for k in range(4):
        h = step(h, 1.0 + 0.5 * k)
    return np.sum(h * h)


def nested_check(x):
    def positive(v):
        if np.any(v <= 0):
            raise ValueError("positive values expected")
        return np.log(v)

    return np.sum(positive(x + 1.0) ** 2)


PASSING = np.array([0.5, -0.2, 0.9])


@pytest.mark.parametrize("f", [checked_vector, checked_sum, looped_helper, nested_check])
def test_where_the_checks_pass_it_differentiates(f):
    check_running_code(f, PASSING.copy())
    hv = sg.hvp(f)(PASSING, np.ones(3))
    eps = 1e-6
    g = sg.grad(f)
    np.testing.assert_allclose(
        hv, (g(PASSING + eps) - g(PASSING - eps)) / (2 * eps), rtol=1e-5, atol=1e-7
    )


@pytest.mark.parametrize(
    "f, bad, error",
    [
        (checked_vector, PASSING.reshape(3, 1), ValueError),
        (checked_sum, PASSING * 100.0, ValueError),
        (looped_helper, np.array([np.nan, 0.1, 0.2]), FloatingPointError),
        (nested_check, np.array([-2.0, 1.0, 2.0]), ValueError),
    ],
)
def test_it_raises_the_users_exception_and_recovers(f, bad, error):
    vg = sg.value_and_grad(f)
    want = vg(PASSING)
    for _ in range(3):  # the first call runs the pure code, the later ones the optimized
        with pytest.raises(error) as info:
            vg(bad)
        assert any("test_raise_checks.py" in note for note in info.value.__notes__)
        value, grad = vg(PASSING)
        assert value == want[0]
        np.testing.assert_array_equal(grad, want[1])
