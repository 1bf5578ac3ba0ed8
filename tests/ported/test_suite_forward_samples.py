"""Array-valued functions on PyTorch's OpInfo-style sample inputs, through ``jacobian``,
``vjp`` and ``jvp`` (``torch.autograd.functional.jacobian`` / ``jvp`` / ``vjp`` in
``test/test_autograd.py``, JAX's ``jacfwd``/``jacrev`` tests): polynomials with a run-time
exponent at 0, norms of zero rows, products and cumulative products through zeros, size-1,
0-d, strided and empty inputs."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

X = np.array([[0.3, -1.2, 0.7, 2.0], [1.1, 0.4, -0.3, 0.9], [-0.5, 0.8, 1.5, -0.2]])
COEFFS = np.array([1.0, -2.0, 3.0, 0.5])


def f_polynomial_terms(x):
    return COEFFS * x ** np.arange(4)


def f_norm_of_columns(x):
    return np.linalg.norm(x, axis=0)


def f_norm_of_rows(x):
    return np.linalg.norm(x, axis=-1)


def f_prod_axis(x):
    return np.prod(x, axis=0)


def f_cumprod(x):
    return np.cumprod(x)


def f_squeeze_size1(x):
    return np.squeeze(x, -2) * 2.0


def f_max_keepdims(x):
    return np.max(x, axis=-1, keepdims=True)


def f_where_branches(x):
    return np.where(x > 0, np.sqrt(np.abs(x) + 1.0), x)


def f_sinc(x):
    return np.sinc(x)


def f_zero_d_stack(x):
    return np.stack([x, x**2, np.sin(x)])


def f_strided(x):
    return np.tanh(x[::2]) * x[1::2]


def f_int_powers(x):
    return x ** np.array([0, 1, 2, 3])


def f_median(x):
    return np.median(x, axis=0)


def f_sorted_descending(x):
    return np.sort(x, axis=-1)[:, ::-1]


def f_kron(x):
    return np.kron(x, np.array([1.0, -1.0]))


def f_empty_input(x):
    return np.concatenate([x**2, np.ones(2)])


def f_empty_output(x):
    return x[:0] * 2.0


def f_sum_squares(x):
    return np.sum(x**2)


CASES = [
    Case("polynomial_terms_at_zero", f_polynomial_terms, (np.zeros(4),), kind="jac"),
    Case("polynomial_terms", f_polynomial_terms, (np.array([0.5, 0.0, -1.0, 2.0]),), kind="jac"),
    Case("norm_of_zero_columns", f_norm_of_columns, (np.zeros((2, 3)),), kind="jac"),
    Case("norm_of_rows", f_norm_of_rows, (X,), kind="jac"),
    Case(
        "prod_through_zeros",
        f_prod_axis,
        (np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]]),),
        kind="jac",
    ),
    Case("cumprod_through_zero", f_cumprod, (np.array([1.5, 0.0, -2.0, 0.5]),), kind="jac"),
    Case("squeeze_size1", f_squeeze_size1, (X.reshape(3, 1, 4),), kind="jac"),
    Case("max_keepdims", f_max_keepdims, (X,), kind="jac"),
    Case("where_branches", f_where_branches, (X,), kind="jac"),
    Case("sinc_at_zero", f_sinc, (np.array([0.0, 0.5, -1.5]),), kind="jac"),
    Case("zero_d_stack", f_zero_d_stack, (np.array(0.3),), kind="jac"),
    Case("strided", f_strided, (np.arange(8.0) * 0.1,), kind="jac"),
    Case("int_powers_at_zero", f_int_powers, (np.zeros(4),), kind="jac"),
    Case("median", f_median, (X,), kind="jac"),
    Case("sorted_descending", f_sorted_descending, (X,), kind="jac"),
    Case("kron", f_kron, (X[0],), kind="jac"),
    Case("empty_input", f_empty_input, (np.zeros(0),), kind="jac"),
    Case("empty_output", f_empty_output, (np.ones(3),), kind="jac"),
]


@pytest.mark.parametrize("case", params(CASES))
def test_forward_sample(case):
    check(case)


def test_vjp_and_jvp_of_an_empty_input():
    """What jacobian's empty case needs is already right in vjp and jvp."""
    for _ in range(3):
        assert sg.vjp(f_empty_input)(np.zeros(0), np.ones(2)).shape == (0,)
        value, tangent = sg.jvp(f_empty_input)(np.zeros(0), np.zeros(0))
        np.testing.assert_array_equal(value, [1.0, 1.0])
        np.testing.assert_array_equal(tangent, [0.0, 0.0])


def test_hessian_of_an_empty_input():
    assert sg.hessian(f_sum_squares)(np.zeros(0)).shape == (0, 0)
