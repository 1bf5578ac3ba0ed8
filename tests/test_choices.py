"""Conditional expressions and ``and``/``or``: lowered to ``if`` statements, so that only the
operand Python evaluates is evaluated and differentiated (checked against central differences,
forward and reverse mode, first call and specialised code)."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .fd import numerical_grad


def scale_by_choice(x, flag, k):
    y = x * (2.0 if flag else np.sin(x))
    z = (x * x if k > 1 else x) + 1.0
    return np.sum(y * z)


def choice_in_a_loop(x, n):
    s = 0.0
    for i in range(n):
        s = s + (np.sum(x * i) if i % 2 else np.sum(np.cos(x)))
    return s


def nested_choices(x, k):
    return np.sum(x * x if k > 2 else (np.exp(x) if k > 1 else -x))


def and_or(x, a, b):
    c = a and b
    d = a or b
    return np.sum(x * c + x * x * d)


def data_dependent(x):
    s = np.sum(x)
    return s * s if s > 0 else -s  # a choice on a differentiated value: a branch


CASES = [
    (scale_by_choice, lambda x: (x, True, 2)),
    (scale_by_choice, lambda x: (x, False, 0)),
    (choice_in_a_loop, lambda x: (x, 5)),
    (nested_choices, lambda x: (x, 3)),
    (nested_choices, lambda x: (x, 2)),
    (nested_choices, lambda x: (x, 0)),
    (and_or, lambda x: (x, 2.0, 3.0)),
    (and_or, lambda x: (x, 0.0, 3.0)),
    (data_dependent, lambda x: (x,)),
    (data_dependent, lambda x: (-x,)),
]


@pytest.mark.parametrize("f,make", CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_choices_match_central_differences(f, make):
    args = make(np.array([0.3, 0.7, 1.1]))
    want = numerical_grad(f, args, 0)
    df, vg = sg.grad(f), sg.value_and_grad(f)
    for _ in range(3):  # the first call, then the code specialised to the signature
        np.testing.assert_allclose(df(*args), want, rtol=1e-6, atol=1e-9)
        assert vg(*args)[0] == f(*args)
    tangent = np.array([1.0, -2.0, 0.5])
    _, along = sg.jvp(f)(*args, tangent)
    np.testing.assert_allclose(along, want @ tangent, rtol=1e-6)


def guarded(x, k):
    inverse = 1.0 / k if k != 0 else 0.0  # 1 / 0 must never run
    return np.sum(x * x) * inverse + (k and np.sum(x))  # nor np.sum(x) for k == 0


def test_only_the_operand_python_evaluates_runs():
    x = np.array([1.0, 2.0])
    for k in (0, 4):
        value, grad = sg.value_and_grad(guarded)(x, k)
        assert value == guarded(x, k)
        np.testing.assert_allclose(grad, numerical_grad(guarded, (x, k), 0), rtol=1e-6)


def test_the_shown_derivative_has_the_branches():
    text = sg.show(scale_by_choice)
    assert "if cond:" in text and "y_choice = np.sin(x)" in text
    assert "if not cond:" in text  # the adjoint of the branch that has one, not `pass`


def three_operands(x, a, b):
    return np.sum(x * (a and b and 2.0)) + np.sum(x * x * (a or b or 3.0))


def every_jump(x, n):  # continue, break and return in one loop: `not a and not b and not c`
    s = 0.0
    for i in range(n):
        if i == 1:
            continue
        if i == 5:
            break
        if np.sum(x) * i > 100.0:
            return s
        s = s + np.sum(x * x) * i
    return s


def tuple_choice(x, y, k):
    a, b = (x, y) if k else (y, x)  # each item gets its own tangent
    return np.sum(a * a * 2.0 + b)


@pytest.mark.parametrize(
    "f,args",
    [
        (three_operands, (2.0, 0.0)),
        (three_operands, (2.0, 3.0)),
        (three_operands, (0.0, 0.0)),
        (every_jump, (4,)),
        (every_jump, (9,)),
        (tuple_choice, (np.array([1.3, -0.4, 0.2]), 0)),
        (tuple_choice, (np.array([1.3, -0.4, 0.2]), 1)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_chains_jumps_and_tuples(f, args):
    full = (np.array([0.3, 0.7, 1.1]), *args)
    want = numerical_grad(f, full, 0)
    np.testing.assert_allclose(sg.grad(f)(*full), want, rtol=1e-6, atol=1e-9)
    tangent = np.array([1.0, -2.0, 0.5])
    value, along = sg.jvp(f)(*full, tangent)
    assert value == f(*full)
    np.testing.assert_allclose(along, want @ tangent, rtol=1e-6, atol=1e-9)


def int_or_float(x, k):
    return k and x  # k == 0: the value is the int 0, which does not depend on x


def test_a_float_gradient_where_the_value_does_not_depend_on_it():
    for k, want in ((0, 0.0), (2, 1.0)):
        got = sg.grad(int_or_float)(0.7, k)
        assert type(got) is float and got == want
