"""Cases ported from PyTorch's ``test/test_autograd.py`` and its OpInfo list: subgradients at
points where the textbook rule divides by zero (``norm`` of a zero vector, its
``test_norm_subgradient``, p-norms and ``hypot`` at 0), degenerate shapes (0x0 and 1x1 matrices), functions PyTorch
differentiates that NumPy code reaches for (``kron``, ``cross``, ``tensordot`` with negative
axes, ``select``, ``meshgrid``, ``median``), ``-inf`` entries in a log-sum-exp, and the
inputs and calls sourcegrad refuses, each naming the user's line and the way out: integer
arguments to differentiate, Fortran-order reshapes, and functions without a rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import NoRuleError, WrtTypeError

from .harness import Case, check, check_refusal, params

R = np.random.default_rng(5)
X = np.array([[0.3, -1.2, 0.7, 2.0], [1.1, 0.4, -0.3, 0.9], [-0.5, 0.8, 1.5, -0.2]])
W = R.uniform(0.5, 1.5, (3, 4))
K = np.array([[1.0, 2.0], [3.0, 4.0]])
AXIS = np.array([1.0, 2.0, 3.0])

# ------------------------------------------------------------------ subgradients


def p_norm_of_zero(x):
    return np.linalg.norm(x) + np.sum(AXIS * x)


def p_norm_rows_one_zero(x):
    return np.sum(np.linalg.norm(x, axis=-1) * np.array([1.0, 2.0]))


def p_norm_keepdims_zero(x):
    return np.sum(np.linalg.norm(x, axis=0, keepdims=True) * AXIS)


def p_norm_ord2_zero(x):
    return np.linalg.norm(x, ord=2) * 2.0


def p_norm_ord3_zero(x):
    return np.linalg.norm(x, ord=3) + np.sum(AXIS * x)


def p_norm_ord3_rows(x):
    return np.sum(np.linalg.norm(x, ord=3, axis=-1) * np.array([1.0, 2.0]))


def p_hypot_arrays(x, y):
    return np.sum(AXIS * np.hypot(x, y))


def p_math_hypot(x, y):
    return math.hypot(x, y) + 2.0 * x


def p_norm_difference_vanishes(x):
    return np.linalg.norm(x - x) + np.sum(x)


# ------------------------------------------------------------------ degenerate shapes


def p_det_empty(x):
    return np.linalg.det(x)


def p_det_1x1(x):
    return np.linalg.det(x) ** 2


def p_inv_1x1(x):
    return np.sum(np.linalg.inv(x))


def p_outer_zero_d(x, s):
    return np.sum(W[0] * np.outer(x, s))


def p_atleast_3d(x):
    return np.sum(np.atleast_3d(x) ** 2)


# ------------------------------------------------------------------ functions


def p_kron(a):
    return np.sum(np.kron(a, K) ** 2)


def p_cross(a):
    return np.sum(np.cross(a, AXIS) ** 2)


def p_tensordot_negative_axes(a, b):
    return np.sum(np.tensordot(a, b, axes=([-1], [0])) ** 2)


def p_select(x):
    return np.sum(W * np.select([x < 0, x >= 0], [-x, x**2]))


def p_meshgrid(x, y):
    a, b = np.meshgrid(x, y)
    return np.sum(a * b**2)


def p_median_rows(x):
    return np.sum(np.median(x, axis=-1) * np.array([1.0, 2.0, 3.0]))


def p_logsumexp_with_neg_inf(x):
    return np.log(np.sum(np.exp(x)))


def p_inplace_ops(x):
    y = x.copy()
    y *= 2.0
    y[1:] += y[:-1]
    return np.sum(y**2)


def p_argmax_pick(x):
    return x[np.argmax(x)] * 2.0


def p_count_times(x):
    return np.sum(x * np.sum(x > 0, axis=0))


def p_round_times(x):
    return np.sum(np.round(x, 1) * x)


def p_float_of_sum(x):
    return float(np.sum(x)) * 2 + int(3.5)


def p_float32_scalar(x):
    return x * x + 1.0


# ------------------------------------------------------------------ refused


# an argument that cannot be differentiated is named at its def line
def p_square(x):  # REFUSED
    return x * x + 1.0


def p_sum_squares(x):  # REFUSED
    return np.sum(x * x)


def p_ravel_fortran(x):
    return np.sum(np.ravel(x, order="F") * np.arange(12.0))  # REFUSED


def p_reshape_fortran(x):
    return np.sum(np.reshape(x, (4, 3), order="F") * W.reshape(4, 3))  # REFUSED


def p_piecewise(x):
    return np.sum(np.piecewise(x, [x < 0, x >= 0], [lambda v: -v, lambda v: v**2]))  # REFUSED


def p_maximum_accumulate(x):
    return np.sum(np.maximum.accumulate(x) * np.arange(1.0, 5.0))


def p_cov(x):
    return np.sum(np.cov(x))  # REFUSED


NO_RULE = (NoRuleError, "register one with sourcegrad.defvjp")
FORTRAN = (NoRuleError, "transpose explicitly")
INTEGER = (WrtTypeError, "pass floats")

CASES = [
    Case("norm_of_zero", p_norm_of_zero, (np.zeros(3),)),
    Case(
        "norm_rows_one_zero", p_norm_rows_one_zero, (np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]]),)
    ),
    Case("norm_keepdims_zero", p_norm_keepdims_zero, (np.zeros((2, 3)),)),
    Case("norm_ord2_zero", p_norm_ord2_zero, (np.zeros(4),)),
    Case("norm_ord3_zero", p_norm_ord3_zero, (np.zeros(3),)),
    Case("norm_ord3_rows", p_norm_ord3_rows, (np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]]),)),
    Case("norm_ord3_smooth", p_norm_ord3_rows, (X[:2, :3],), order=2),
    Case("hypot_at_zero", p_hypot_arrays, (np.zeros(3), np.array([0.0, 1.0, -2.0])), wrt=(0, 1)),
    Case("hypot_smooth", p_hypot_arrays, (X[0, :3], X[1, :3]), wrt=(0, 1), order=2),
    Case("math_hypot_at_zero", p_math_hypot, (0.0, 0.0), wrt=(0, 1)),
    Case("math_hypot", p_math_hypot, (0.3, -1.2), wrt=(0, 1), order=2),
    Case("norm_difference_vanishes", p_norm_difference_vanishes, (X,)),
    Case("det_empty", p_det_empty, (np.zeros((0, 0)),)),
    Case("det_1x1", p_det_1x1, (np.array([[2.0]]),), order=2),
    Case("inv_1x1", p_inv_1x1, (np.array([[2.0]]),), order=2),
    Case("outer_zero_d", p_outer_zero_d, (X[0], np.array(2.0)), wrt=(0, 1)),
    Case("atleast_3d", p_atleast_3d, (X[0],), order=2),
    Case("kron", p_kron, (X[:2, :2],), order=2),
    Case("cross", p_cross, (X[0, :3],), order=2),
    Case("tensordot_negative_axes", p_tensordot_negative_axes, (X, X.T.copy()), wrt=(0, 1)),
    Case("select", p_select, (X,)),
    Case("meshgrid", p_meshgrid, (X[0], X[1, :3]), wrt=(0, 1), order=2),
    Case("median_rows", p_median_rows, (X,)),
    Case("logsumexp_with_neg_inf", p_logsumexp_with_neg_inf, (np.array([-np.inf, 0.0, 1.0]),)),
    Case("inplace_ops", p_inplace_ops, (X,), order=2),
    Case("argmax_pick", p_argmax_pick, (X[0],)),
    Case("count_times", p_count_times, (X,)),
    Case("round_times", p_round_times, (X,)),
    Case("float_of_sum", p_float_of_sum, (X,)),
    Case("int_scalar_refused", p_square, (3,), refused=INTEGER),
    Case("int_array_refused", p_sum_squares, (np.array([1, 2, 3]),), refused=INTEGER),
    Case("bool_array_refused", p_sum_squares, (np.array([True, False]),), refused=INTEGER),
    Case("ravel_fortran_refused", p_ravel_fortran, (X,), refused=FORTRAN),
    Case("reshape_fortran_refused", p_reshape_fortran, (X,), refused=FORTRAN),
    Case("piecewise_refused", p_piecewise, (X,), refused=NO_RULE),
    Case("maximum_accumulate", p_maximum_accumulate, (X[0],), order=2),
    Case("cov_refused", p_cov, (X,), refused=NO_RULE),
]


@pytest.mark.parametrize("case", params(CASES))
def test_torch_autograd_case(case):
    check(case)


@pytest.mark.parametrize(
    "x", [np.float32(2.0), np.array(2.0, dtype=np.float32)], ids=["np_float32", "zero_d"]
)
def test_float32_scalar_keeps_its_precision(x):
    """A float32 number (NumPy scalar or 0-d array) gets a float32 gradient, on every call."""
    df = sg.grad(p_float32_scalar)
    for _ in range(3):
        g = df(x)
        assert np.asarray(g).dtype == np.float32
        assert g == 4.0


ARRAY_CASES = ("kron", "cross", "select", "meshgrid", "median_rows", "inplace_ops", "norm_of_zero")


@pytest.mark.parametrize("case", [c for c in CASES if c.id in ARRAY_CASES], ids=lambda c: c.id)
def test_float32_arrays_keep_float32_gradients(case):
    """The same programs on float32 arrays: float32 gradients, near the float64 ones."""
    wrt = case.wrt if isinstance(case.wrt, tuple) else (case.wrt,)
    args = tuple(a.astype(np.float32) if i in wrt else a for i, a in enumerate(case.args))
    want = sg.grad(case.f, case.wrt)(*case.args)
    df = sg.grad(case.f, case.wrt)
    for _ in range(3):
        got = df(*args)
        pairs = zip(got, want) if isinstance(case.wrt, tuple) else [(got, want)]
        for g, w in pairs:
            assert g.dtype == np.float32
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def test_refusals_name_the_line():
    """(The refusal cases above check the message; this one the other entry points.)"""
    check_refusal(p_square, (3,), WrtTypeError, "pass floats", make=sg.value_and_grad)
