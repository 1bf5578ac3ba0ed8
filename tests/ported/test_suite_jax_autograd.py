"""Gradient cases ported from JAX's ``tests/api_test.py`` and ``tests/lax_autodiff_test.py``
(points where a textbook rule multiplies zero by an infinity: ``x ** 0`` at 0, ``0 ** y``,
``sinc`` at 0, the unselected branch of ``where``), autograd's ``tests/test_scalar_ops.py``
and ``tests/test_wrappers.py`` (Python floats, argument numbers, closures) and
Zygote/ForwardDiff's scalar tests (piecewise functions, loops on a float). Keyword options of
NumPy reductions (``where=``, ``initial=``) come from NumPy's own signatures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sourcegrad.errors import NoRuleError

from .harness import Case, check, params

R = np.random.default_rng(77)
X = R.standard_normal((3, 4))
W = R.uniform(0.5, 1.5, (3, 4))
POS = R.uniform(0.5, 2.0, (3, 4))
MASK = np.array([[True, False, True, True]] * 3)
V = R.standard_normal(5)
WV = R.uniform(0.5, 1.5, 5)
#: a NumPy reduction's keyword its rule does not take: refused, naming the call its rule takes
REFUSED_WHERE = (NoRuleError, "reduce the masked values instead")
REFUSED_INITIAL = (NoRuleError, "combine it after")

# ------------------------------------------------------------------ JAX: zero times infinity


def j_pow_zero_exponent_at_zero(x):
    return x**0.0 + 2.0 * x


def j_pow_one_exponent_at_zero(x):
    return x**1.0


COEFFS = np.array([1.0, -2.0, 3.0, 0.5])


def j_polynomial_loop(x):
    s = 0.0
    for k in range(4):
        s = s + COEFFS[k] * x**k
    return s


def j_power_arange(x):
    return np.sum(COEFFS * x ** np.arange(4))


def j_power_zero_base(y):
    return np.sum(np.power(np.zeros(3), y) + y)


def j_sinc_at_zero(x):
    return np.sum(np.sinc(x) * np.array([1.0, 2.0, 3.0]))


def j_where_sqrt_guard(x):
    return np.sum(np.where(x > 0, np.sqrt(np.abs(x)), 0.0) + x)


def j_where_log_guard(x):
    safe = np.where(x > 0, x, 1.0)
    return np.sum(np.where(x > 0, np.log(safe), 0.0))


def j_norm_of_difference(x):
    return np.linalg.norm(x - np.array([1.0, 2.0, 3.0]))


def j_logaddexp_far(x):
    return np.sum(np.logaddexp(x, -x) * np.array([1.0, 2.0, 3.0]))


def j_expit_stable(x):
    e = np.exp(np.where(x >= 0, -x, x))
    return np.sum(np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)) * np.array([1.0, 2.0, 3.0, 4.0]))


def j_hypot_scalar(x, y):
    return np.hypot(x, y) * x


def j_cumsum_reverse(x):
    return np.sum(WV * np.cumsum(x[::-1])[::-1] ** 2)


def j_sort_values(x):
    return np.sum(WV * np.sort(x) ** 2)


def j_argnums_mixed(a, b, c):
    return np.sum(a * b) * c + c**2


def j_closure_over_arg(x):
    def inner(y):
        return x * y + np.sin(y)

    return np.sum(inner(x) * W)


def j_sum_where(x):
    return np.sum(x**2, where=MASK)  # REFUSED


def j_mean_where(x):
    return np.mean(x**2, where=MASK)  # REFUSED


def j_max_initial(x):
    return np.max(x, initial=0.5)  # REFUSED


def j_sum_initial(x):
    return np.sum(x * W, initial=2.0)  # REFUSED


def j_prod_where(x):
    return np.prod(x, where=MASK)  # REFUSED


# ------------------------------------------------------------------ autograd: scalar ops


def a_scalar_chain(x):
    return math.sin(x) * math.exp(-(x**2)) + math.log(1.0 + x * x)


def a_scalar_pow_negative_base(x):
    return x**3 - 2.0 * x**2


def a_scalar_pow_both(x, y):
    return x**y


def a_scalar_reciprocal_ops(x):
    return 1.0 / x + 2.0 / (x * x) - x / 3.0


def a_scalar_mod(x):
    return (x % 1.5) * x


def a_scalar_floor_div_constant(x):
    return (x // 1.0) * x


def a_scalar_abs_neg(x):
    return abs(x) * x


def a_scalar_atan2(y, x):
    return math.atan2(y, x)


def a_scalar_tanh_sinh(x):
    return math.tanh(x) + math.sinh(x) - math.cosh(x)


def a_scalar_sqrt_hypot(x):
    return math.sqrt(x) + math.hypot(x, 2.0)


def a_numpy_on_float(x):
    return np.exp(x) * np.log1p(x) + np.arctan(x)


def a_float_to_array(x):
    return np.sum(np.array([x, 2.0 * x, x**2]) * np.array([1.0, 2.0, 3.0]))


# ------------------------------------------------------------------ Zygote / ForwardDiff scalars


def z_piecewise(x):
    if x > 0:
        return x**2
    return -x


def z_max_relu(x):
    return max(x, 0.0) * 3.0 + min(x, 1.0)


def z_while_doubling(x):
    while x < 10.0:
        x = x * 2.0
    return x


def z_for_power(x):
    y = 1.0
    for _ in range(5):
        y = y * x + 1.0
    return y


def z_recursive_pow(x, n=4):
    if n == 0:
        return 1.0
    return x * z_recursive_pow(x, n - 1)


def z_nested_functions(x):
    def f(a):
        return a * a

    def g(a):
        return f(a) + f(2.0 * a)

    return g(g(x))


def z_tuple_return_index(x):
    pair = (x * 2.0, x * x)
    return pair[0] + pair[1]


def z_ternary_chain(x):
    return x if x > 1.0 else (x * x if x > 0.0 else -x)


def z_sum_of_comprehension(x):
    return sum(x**k / math.factorial(k) for k in range(6))


CASES = [
    Case("pow_zero_exponent_at_zero", j_pow_zero_exponent_at_zero, (0.0,), order=2),
    Case("pow_one_exponent_at_zero", j_pow_one_exponent_at_zero, (0.0,)),
    Case("polynomial_loop_at_zero", j_polynomial_loop, (0.0,), order=2),
    Case("polynomial_loop", j_polynomial_loop, (-0.7,), order=2),
    Case("power_arange_at_zero", j_power_arange, (np.zeros((3, 1)),), order=2),
    Case("power_zero_base", j_power_zero_base, (np.array([0.5, 1.0, 2.0]),)),
    Case("sinc_at_zero", j_sinc_at_zero, (np.array([0.0, 0.5, -1.5]),), order=2),
    Case("where_sqrt_guard", j_where_sqrt_guard, (np.array([-1.0, -0.2, 2.0, 0.3]),)),
    Case("where_log_guard", j_where_log_guard, (np.array([-1.0, 0.5, 2.0]),), order=2),
    Case("norm_of_difference", j_norm_of_difference, (np.array([0.3, -1.0, 2.5]),), order=2),
    Case("logaddexp_far", j_logaddexp_far, (np.array([30.0, -0.2, 1.0]),), order=2),
    Case("expit_stable", j_expit_stable, (np.array([-40.0, -0.3, 0.0, 2.0]),)),
    Case("hypot_scalar", j_hypot_scalar, (0.7, -1.2), wrt=(0, 1), order=2),
    Case("cumsum_reverse", j_cumsum_reverse, (V,), order=2),
    Case("sort_values", j_sort_values, (V,)),
    Case("argnums_mixed", j_argnums_mixed, (X, W, 0.5), wrt=(2, 0)),
    Case("closure_over_arg", j_closure_over_arg, (X,), order=2),
    Case("sum_where", j_sum_where, (X,), refused=REFUSED_WHERE),
    Case("mean_where", j_mean_where, (X,), refused=REFUSED_WHERE),
    Case("max_initial", j_max_initial, (X,), refused=REFUSED_INITIAL),
    Case("sum_initial", j_sum_initial, (X,), refused=REFUSED_INITIAL),
    Case("prod_where", j_prod_where, (POS,), refused=REFUSED_WHERE),
    Case("scalar_chain", a_scalar_chain, (0.6,), order=2),
    Case("scalar_pow_negative_base", a_scalar_pow_negative_base, (-1.3,), order=2),
    Case("scalar_pow_both", a_scalar_pow_both, (1.7, 2.3), wrt=(0, 1), order=2),
    Case("scalar_reciprocal_ops", a_scalar_reciprocal_ops, (-0.8,), order=2),
    Case("scalar_mod", a_scalar_mod, (2.2,)),
    Case("scalar_floor_div_constant", a_scalar_floor_div_constant, (2.2,)),
    Case("scalar_abs_neg", a_scalar_abs_neg, (-0.9,)),
    Case("scalar_atan2", a_scalar_atan2, (0.4, -1.1), wrt=(0, 1), order=2),
    Case("scalar_tanh_sinh", a_scalar_tanh_sinh, (0.3,), order=2),
    Case("scalar_sqrt_hypot", a_scalar_sqrt_hypot, (1.4,), order=2),
    Case("numpy_on_float", a_numpy_on_float, (0.45,), order=2),
    Case("float_to_array", a_float_to_array, (0.45,), order=2),
    Case("piecewise_pos", z_piecewise, (1.5,), order=2),
    Case("piecewise_neg", z_piecewise, (-1.5,)),
    Case("max_relu", z_max_relu, (0.4,)),
    Case("while_doubling", z_while_doubling, (1.3,)),
    Case("for_power", z_for_power, (0.8,), order=2),
    Case("recursive_pow", z_recursive_pow, (1.1,), order=2),
    Case("nested_functions", z_nested_functions, (0.7,), order=2),
    Case("tuple_return_index", z_tuple_return_index, (0.7,)),
    Case("ternary_chain_mid", z_ternary_chain, (0.5,)),
    Case("ternary_chain_hi", z_ternary_chain, (1.5,)),
    Case("sum_of_comprehension", z_sum_of_comprehension, (0.9,), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_jax_autograd_case(case):
    check(case)
