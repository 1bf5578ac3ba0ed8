"""Python's own numeric functions on differentiated values: ``max``/``min`` (two operands and
one iterable), ``pow``, the ``math`` module and the ``operator`` module — the value Python's
own, the gradient central differences', to second order, first and later calls."""

from __future__ import annotations

import math
import operator

import numpy as np
import pytest

import sourcegrad as sg

from .fd import check, check_running_code


def math_chain(x, w):
    s = float(np.sum(x * x)) + 0.5
    t = math.exp(-s) + math.sqrt(s) + math.log(s) + math.sin(s) * math.cos(s)
    t = t + math.tanh(s) + math.atan(s) + math.log1p(s) + math.log(s, 3.0) + math.erf(s / 4)
    t = t + math.pow(s, 1.5) + math.hypot(s, 2.0) + math.atan2(s, 2.0) + math.log10(s)
    return w * t


def math_on_elements(x, w):
    return w * (math.expm1(x[0]) * math.asinh(x[1]) + math.erfc(x[2]) + math.fabs(x[1]))


def builtin_pow(x, w):
    return w * (pow(np.sum(x), 2) + pow(abs(x[0]), 0.5) + float(x[1]) * 2.0)


def operators(x, w):
    y = operator.mul(x, x) + operator.truediv(x, 3.0) - operator.neg(x)
    return np.sum(w * operator.pow(y, 2))


def max_of_two(x, w):
    return w * (max(np.sum(x), 0.5) + min(x[0], x[1]) + max(x[2], x[0] * x[1]))


def max_of_a_list(x, w):
    return w * (max([np.sum(x), x[0] * 3.0, x[1]]) - min(v * v for v in x))


def max_of_an_array(x, w):
    return w * (max(x) + min(x * x))


def max_of_dict_values(x, w):
    scores = {"a": np.sum(x), "b": x[0] * 4.0, "c": np.prod(x)}
    return w * max(scores.values())


X = np.array([0.7, -0.4, 1.3])


@pytest.mark.parametrize(
    "f",
    [
        math_chain,
        math_on_elements,
        builtin_pow,
        operators,
        max_of_two,
        max_of_a_list,
        max_of_an_array,
        max_of_dict_values,
    ],
)
def test_gradients_to_second_order(f):
    check(f, X.copy())


@pytest.mark.parametrize("f", [math_chain, max_of_two, max_of_a_list, max_of_dict_values])
def test_running_code_returns_pythons_value(f):
    check_running_code(f, X.copy(), 1.0)


def _first_wins(x):
    a, b = x[0] * 1.0, x[1] * 1.0
    return max(a, b) * 2.0 + min(a, b) * 5.0


def _first_of_list(x):
    return max([x[0], x[1], x[2]]) * 3.0


@pytest.mark.parametrize("calls", [1, 3])
def test_ties_go_to_the_operand_python_returns(calls):
    """``max(a, b)`` with ``a == b`` returns ``a``: its derivative is ``a``'s alone."""
    x = np.array([2.0, 2.0, 2.0])
    df = sg.value_and_grad(_first_wins)
    for _ in range(calls):
        value, g = df(x)
    assert value == _first_wins(x)
    np.testing.assert_array_equal(g, [7.0, 0.0, 0.0])
    vg = sg.value_and_grad(_first_of_list)
    for _ in range(calls):
        value, g = vg(x)
    np.testing.assert_array_equal(g, [3.0, 0.0, 0.0])


def test_nan_is_picked_as_python_picks_it():
    """``max(nan, 1.0)`` is nan (nothing compares greater than it first); ``max(1.0, nan)``
    is 1.0: the gradient follows the operand returned."""
    df = sg.grad(_first_wins)
    g = df(np.array([np.nan, 1.0, 0.0]))
    assert g[0] == 7.0 and g[1] == 0.0
    g = df(np.array([1.0, np.nan, 0.0]))
    assert g[0] == 7.0 and g[1] == 0.0


def _three_operands(x, w):
    return w * (max(x[0], x[1] * 2.0, x[2]) + min(x[0] ** 2, x[1], 0.5, x[2]))


def test_max_of_three_or_more_operands():
    """``max(a, b, c)`` picks as ``max([a, b, c])`` does and is differentiated that way."""
    check(_three_operands, X.copy())
    check_running_code(_three_operands, X.copy(), 1.0)
