"""The option ``exact=False``: the running code may compute values in another order of
rounding (integer powers as products, forward ``einsum`` products and fused loop sums through
BLAS); by default the value is Python's bit for bit. Both against central differences on the
first three calls (the optimized code runs from the second)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import ArgumentError

from .fd import numerical_grad


def gelu_loss(u, w):
    g = 0.5 * u * (1.0 + np.tanh(0.7978845608028654 * (u + 0.044715 * u**3)))
    return np.sum(w * g)


def inverse_powers(x, w):
    return np.sum(w * (x**-2 + 2.0 * x**-1 - x**4 + np.power(x, 3)))


def negative_constant_power(x, w):
    return np.sum(w * x ** (-3) + x**4.0)


def scalar_power(x, a):
    return a * x**3 - x**-1


def int_power(x, n):
    return np.sum(x * n**3)  # n: an integer array, its power stays an integer power


def conv_loss(K, x, w):
    ho, wo = x.shape[2] - 2, x.shape[3] - 2
    h = 0.0
    for i in range(3):
        for j in range(3):
            h = h + np.einsum("nchw,co->nhwo", x[:, :, i : i + ho, j : j + wo], K[i, j])
    return np.sum(w * np.tanh(h))


def einsum_loss(a, b, w):
    return np.sum(w * np.einsum("ij,jk->ik", a, b) ** 3)


def softmax_loss(x, w):
    s = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(s)
    a = e / np.sum(e, axis=-1, keepdims=True)
    return np.sum(w * a)


def softmax_and_its_max(x, w):
    m = np.max(x, axis=1, keepdims=True)  # read again below: its adjoint is not zero
    s = x - m
    e = np.exp(s)
    a = e / np.sum(e, axis=1, keepdims=True)
    return np.sum(w * a) + np.sum(m * m)


def softmax_and_its_exp(x, w):
    s = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(s)
    a = e / np.sum(e, axis=-1, keepdims=True)
    return np.sum(w * a) + np.sum(e * e)


def _cases():
    rng = np.random.default_rng(18)
    u = rng.standard_normal((40, 30)) * 2.0
    x = rng.uniform(0.5, 2.0, (7, 5))
    z = rng.standard_normal((6, 5)) * 3.0
    z[0, :2] = 4.0  # a tie at the max
    return {
        "softmax": (softmax_loss, (z, rng.standard_normal(z.shape))),
        "softmax_and_its_max": (softmax_and_its_max, (z, rng.standard_normal(z.shape))),
        "softmax_and_its_exp": (softmax_and_its_exp, (z, rng.standard_normal(z.shape))),
        "gelu": (gelu_loss, (u, rng.standard_normal(u.shape))),
        "inverse_powers": (inverse_powers, (x, rng.standard_normal(x.shape))),
        "negative_constant_power": (negative_constant_power, (x, rng.standard_normal(x.shape))),
        "conv": (
            conv_loss,
            (
                rng.standard_normal((3, 3, 2, 4)),
                rng.standard_normal((3, 2, 6, 5)),
                rng.standard_normal((3, 4, 3, 4)),
            ),
        ),
        "einsum": (
            einsum_loss,
            (rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal((4, 3))),
        ),
    }


CASES = _cases()


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "inexact"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_on_the_first_three_calls(name, exact):
    f, args = CASES[name]
    df = sg.value_and_grad(f, exact=exact)
    want = f(*args)
    g_fd = numerical_grad(f, args, 0)
    for _ in range(3):
        value, g = df(*args)
        if exact:
            assert value == want  # Python's value, bit for bit
        else:
            np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-12 * np.abs(want))
        np.testing.assert_allclose(g, g_fd, rtol=1e-6, atol=1e-6)


def _running(df, args) -> str:
    for _ in range(3):
        df(*args)
    text = df.emitted(tuple(args), specialise=True).pretty(optimized=True)
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def test_integer_powers_run_as_products_only_when_allowed():
    f, args = CASES["gelu"]
    exact = _running(sg.value_and_grad(f), args)
    inexact = _running(sg.value_and_grad(f, exact=False), args)
    assert "u**3" in exact and "u * u * u" not in exact
    assert "u * u * u" in inexact and "u**3" not in inexact
    f, args = CASES["inverse_powers"]
    inexact = _running(sg.value_and_grad(f, exact=False), args)
    assert "1.0 / (x * x)" in inexact and "np.power" not in inexact
    assert not re.search(r"\*\*\s*\(?(-|[3-9])", inexact)  # x**2 stays: NumPy squares it


def test_forward_products_run_through_blas_only_when_allowed():
    f, args = CASES["conv"]
    exact = _running(sg.value_and_grad(f), args)
    inexact = _running(sg.value_and_grad(f, exact=False), args)
    assert exact.count('np.einsum("nchw,co->nhwo"') == 9  # the loop's own products, in order
    assert "np.einsum" not in inexact and "contract(" in inexact  # one GEMM, fused


def test_a_softmax_adjoint_runs_as_written_by_hand_only_when_allowed():
    f, args = CASES["softmax"]
    exact = _running(sg.value_and_grad(f), args)
    inexact = _running(sg.value_and_grad(f, exact=False), args)
    assert "hit" in exact and "np.sum(da * a, axis=-1, keepdims=True)" not in exact
    assert "hit" not in inexact and "np.sum(da * a, axis=-1, keepdims=True)" in inexact
    for name in ("softmax_and_its_max", "softmax_and_its_exp"):
        f, args = CASES[name]
        assert "hit" in _running(sg.value_and_grad(f, exact=False), args)


def test_an_integer_power_of_integers_and_a_scalar_power():
    rng = np.random.default_rng(3)
    x, n = rng.standard_normal((4, 3)), rng.integers(-3, 4, (4, 3))
    df = sg.value_and_grad(int_power, exact=False)
    for _ in range(3):
        value, g = df(x, n)
        assert value == int_power(x, n)  # n**3 in integers: the same either way
        np.testing.assert_array_equal(g, n**3)
    df = sg.value_and_grad(scalar_power, exact=False)
    for _ in range(3):
        value, g = df(1.3, 0.7)
        assert value == pytest.approx(scalar_power(1.3, 0.7), rel=1e-15)
        assert g == pytest.approx(3 * 0.7 * 1.3**2 + 1.3**-2, rel=1e-14)


def cube_and_inverse_square(x):
    return np.sum(x**-2 + x**3)


@pytest.mark.parametrize("x0", [0.0, -0.0, np.inf, -np.inf, np.nan, 2.0])
def test_special_values_stay_special(x0):
    x = np.full(4, x0)
    df = sg.value_and_grad(cube_and_inverse_square, exact=False)
    with np.errstate(all="ignore"):
        want = cube_and_inverse_square(x)
        for _ in range(3):
            value, _ = df(x)
            np.testing.assert_array_equal(value, want)  # the same inf / nan / number


@pytest.mark.parametrize("bad", ["no", 0, None])
def test_exact_takes_a_bool(bad):
    with pytest.raises(ArgumentError, match="exact="):
        sg.grad(gelu_loss, exact=bad)
