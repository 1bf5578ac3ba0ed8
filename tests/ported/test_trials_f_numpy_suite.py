"""JAX's lax_numpy and linalg gradient tests and autograd's test_numpy/test_linalg, the cases
the earlier ports left out, one small function per operation as those suites write them:
batched linear algebra (inverse, determinant, solve, Cholesky, eigh, QR, singular values of a
stack of matrices), negative matrix powers, nuclear and spectral norms, ``lstsq``,
``logsumexp`` with weights, einsum's diagonal and ellipsis forms, ``kron``, ``vander``,
``take_along_axis`` by an argsort, offsets of ``trace``/``diagonal``, padding modes, rolls over
two axes, ``partition`` and ``ptp``, and NumPy 2's array-API names. Each against Python's
value and central differences on calls 1-3, to second order where smooth; the NumPy
functions without a rule are refused at the user's line."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(6304)


def r(*s):
    return R.standard_normal(s)


_B = r(2, 3, 3)
SPD3 = np.einsum("bij,bkj->bik", _B, _B) + 3 * np.eye(3)
_A = r(3, 3)
SPD = _A @ _A.T + 3 * np.eye(3)
X5 = r(5)
M = r(4, 3)


def inv_batched(S):
    return np.sum(np.linalg.inv(S) ** 2)


def det_batched(S):
    return np.sum(np.linalg.det(S))


def slogdet_batched(S):
    return np.sum(np.linalg.slogdet(S)[1])


def solve_batched(S, b):
    return np.sum(np.linalg.solve(S, b) ** 2)


def cholesky_batched(S):
    return np.sum(np.linalg.cholesky(S) ** 3)


def eigh_batched(S):
    return np.sum(np.linalg.eigh(S)[0] ** 2)


def qr_batched_r(S):
    return np.sum(np.linalg.qr(S)[1] ** 2)


def qr_mode_r(X):
    return np.sum(np.linalg.qr(X, mode="r") ** 2)


def svdvals_batched(S):
    return np.sum(np.linalg.svd(S, compute_uv=False))


def matrix_power_negative(S):
    return np.sum(np.linalg.matrix_power(S, -2))


def norm_nuclear(X):
    return np.linalg.norm(X, "nuc")


def norm_spectral(X):
    return np.linalg.norm(X, 2)


def norm_neg_inf_vector(x):
    return np.linalg.norm(x, -np.inf)


def norm_matrix_axes(X):
    return np.linalg.norm(X[None], axis=(1, 2)).sum()


def lstsq_solution(X, y):
    return np.sum(np.linalg.lstsq(X, y, rcond=None)[0] ** 2)


def logsumexp_b_weights(x):
    return logsumexp(x, b=np.arange(1.0, 6.0))


def logsumexp_keepdims(X):
    return np.sum(logsumexp(X, axis=1, keepdims=True) * X)


def var_ddof(X):
    return np.sum(np.var(X, axis=0, ddof=1))


def std_axis_tuple(X):
    return np.std(X[None], axis=(0, 2)).sum()


def einsum_trace(S):
    return np.einsum("ii->", S) ** 2


def einsum_diag(S):
    return np.sum(np.einsum("ii->i", S) ** 2)


def einsum_ellipsis_batch(S):
    return np.sum(np.einsum("...ij,...jk->...ik", S, S))


def einsum_chain_of_three(X):
    return np.sum(np.einsum("ij,jk,kl->il", X, X.T, X))


def kron(X):
    return np.sum(np.kron(X, X[:2, :2]) ** 2)


def vander_polynomial(x):
    return np.sum(np.vander(x, 4) @ np.arange(4.0))


def polyval_coefficients_and_points(p):
    return np.sum(np.polyval(p, p[:2] * 2))


def take_axis_repeats(X):
    return np.sum(np.take(X, [2, 0, 2], axis=1) ** 2)


def take_along_argsort(X):
    return np.sum(np.take_along_axis(X, np.argsort(X, axis=1), axis=1) * np.arange(3.0))


def trace_offset(S):
    return np.trace(S, offset=1) ** 2


def diagonal_negative_offset(X):
    return np.sum(np.diagonal(X, offset=-1) ** 2)


def max_ties_axis_tuple(X):
    return np.sum(np.max(np.round(X), axis=(0, 1), keepdims=True) * X)


def clip_array_bounds(x, lo):
    return np.sum(np.clip(x, lo, 0.5) ** 2)


def diff_second_order_axis0(X):
    return np.sum(np.diff(X, n=2, axis=0) ** 2)


def gradient_spacing_axis(X):
    return np.sum(np.gradient(X, 0.5, axis=1) ** 2)


def trapezoid_with_x(x):
    return np.trapezoid(x**2, x=np.cumsum(np.abs(x)))


def interp_values(fp):
    return np.sum(np.interp([0.5, 1.5, 2.5], [0.0, 1.0, 2.0, 3.0, 4.0], fp))


def sinc(x):
    return np.sum(np.sinc(x))


def hypot_reversed(x):
    return np.sum(np.hypot(x, x[::-1]))


def logaddexp2(x):
    return np.sum(np.logaddexp2(x, 0.3))


def sort_axis0_weights(X):
    return np.sum(np.sort(X, axis=0) * np.arange(4.0)[:, None])


def pad_reflect(x):
    return np.sum(np.pad(x, 2, mode="reflect") * np.arange(9.0))


def pad_wrap(x):
    return np.sum(np.pad(x, (1, 2), mode="wrap") * np.arange(8.0))


def pad_edge_2d(X):
    return np.sum(np.pad(X, ((1, 0), (0, 2)), mode="edge") ** 2)


def roll_two_axes(X):
    return np.sum(np.roll(X, (1, 2), axis=(0, 1)) * np.arange(12.0).reshape(4, 3))


def average_softmax_weights(w):
    return np.average(np.arange(5.0), weights=np.exp(w))


def cumprod_through_zero(x):
    return np.sum(np.cumprod(x * np.array([1, 1, 0, 1, 1.0])))


def cumsum_reversed(x):
    return np.sum(np.cumsum(x[::-1])[::-1] ** 2)


def outer_of_matrices(X):
    return np.sum(np.outer(X, X[0]) ** 2)


def inner_of_matrices(X):
    return np.sum(np.inner(X, X) ** 2)


def cross_reversed_rows(X):
    return np.sum(np.cross(X, X[::-1], axis=1) ** 2)


def tensordot_full(S):
    return np.tensordot(S, S, 2)


def partition_smallest(x):
    return np.sum(np.partition(x, 2)[:2] ** 2)


def argpartition_gather(x):
    return np.sum(x[np.argpartition(x, 2)[:2]] ** 2)


def ptp_axis(X):
    return np.sum(np.ptp(X, axis=0) ** 2)


def heaviside_gate(x):
    return np.sum(np.heaviside(x, 0.5) * x**2)


def array_api_names(X):
    return np.sum(np.concat([np.permute_dims(X, (1, 0)), X.T**2]) ** 2)


def einsum_optimized(X, Y):
    return np.sum(np.einsum("ij,jk,kl->il", X, X.T, Y, optimize=True) ** 2)


def einsum_greedy_path(X):
    return np.einsum("ij,ij->", X, np.tanh(X), optimize="greedy")


def whitened(X):
    C = np.cov(X.T)  # REFUSED
    return np.sum(np.linalg.solve(C, X.T) ** 2)


def nan_safe_max(x):
    return np.nanmax(x) ** 2  # REFUSED


def chained_product(X):
    return np.sum(np.linalg.multi_dot([X, X.T, X]) ** 2)  # REFUSED


CASES = [
    Case("inv_batched", inv_batched, (SPD3,), order=2),
    Case("det_batched", det_batched, (SPD3,), order=2),
    Case("slogdet_batched", slogdet_batched, (SPD3,), order=2),
    Case("solve_batched", solve_batched, (SPD3, r(2, 3, 1)), wrt=(0, 1), order=2),
    Case("cholesky_batched", cholesky_batched, (SPD3,), order=2),
    Case("eigh_batched", eigh_batched, (SPD3,), order=2),
    Case("qr_batched_r", qr_batched_r, (r(2, 3, 3),), order=2),
    Case("qr_mode_r", qr_mode_r, (M,), order=2),
    Case("svdvals_batched", svdvals_batched, (r(2, 3, 3),), order=2),
    Case("matrix_power_negative", matrix_power_negative, (SPD,), order=2),
    Case("norm_nuclear", norm_nuclear, (M,), order=2),
    Case("norm_spectral", norm_spectral, (M,), order=2),
    Case("norm_neg_inf_vector", norm_neg_inf_vector, (X5,)),
    Case("norm_matrix_axes", norm_matrix_axes, (M,), order=2),
    Case("lstsq_solution", lstsq_solution, (M, r(4)), wrt=(0, 1), order=2),
    Case("logsumexp_b_weights", logsumexp_b_weights, (X5,), order=2),
    Case("logsumexp_keepdims", logsumexp_keepdims, (M,), order=2),
    Case("var_ddof", var_ddof, (M,), order=2),
    Case("std_axis_tuple", std_axis_tuple, (M,), order=2),
    Case("einsum_trace", einsum_trace, (SPD,), order=2),
    Case("einsum_diag", einsum_diag, (SPD,), order=2),
    Case("einsum_ellipsis_batch", einsum_ellipsis_batch, (r(2, 3, 3),), order=2),
    Case("einsum_chain_of_three", einsum_chain_of_three, (M,), order=2),
    Case("kron", kron, (M,), order=2),
    Case("vander_polynomial", vander_polynomial, (X5,), order=2),
    Case("polyval_coefficients_and_points", polyval_coefficients_and_points, (X5,), order=2),
    Case("take_axis_repeats", take_axis_repeats, (M,), order=2),
    Case("take_along_argsort", take_along_argsort, (M,)),
    Case("trace_offset", trace_offset, (SPD,), order=2),
    Case("diagonal_negative_offset", diagonal_negative_offset, (M,), order=2),
    Case("max_ties_axis_tuple", max_ties_axis_tuple, (M,)),
    Case(
        "clip_array_bounds",
        clip_array_bounds,
        (X5, np.full(5, -0.5) + 0.1 * np.arange(5)),
        wrt=(0, 1),
    ),
    Case("diff_second_order_axis0", diff_second_order_axis0, (M,), order=2),
    Case("gradient_spacing_axis", gradient_spacing_axis, (M,), order=2),
    Case("trapezoid_with_x", trapezoid_with_x, (X5,)),
    Case("interp_values", interp_values, (X5,), order=2),
    Case("sinc", sinc, (X5,), order=2),
    Case("hypot_reversed", hypot_reversed, (X5,), order=2),
    Case("logaddexp2", logaddexp2, (X5,), order=2),
    Case("sort_axis0_weights", sort_axis0_weights, (M,)),
    Case("pad_reflect", pad_reflect, (X5,)),
    Case("pad_wrap", pad_wrap, (X5,)),
    Case("pad_edge_2d", pad_edge_2d, (M,), order=2),
    Case("roll_two_axes", roll_two_axes, (M,)),
    Case("average_softmax_weights", average_softmax_weights, (X5,), order=2),
    Case("cumprod_through_zero", cumprod_through_zero, (X5,)),
    Case("cumsum_reversed", cumsum_reversed, (X5,), order=2),
    Case("outer_of_matrices", outer_of_matrices, (M,), order=2),
    Case("inner_of_matrices", inner_of_matrices, (M,), order=2),
    Case("cross_reversed_rows", cross_reversed_rows, (M,), order=2),
    Case("tensordot_full", tensordot_full, (SPD,), order=2),
    Case("partition_smallest", partition_smallest, (X5,)),
    Case("argpartition_gather", argpartition_gather, (X5,)),
    Case("ptp_axis", ptp_axis, (M,)),
    Case("heaviside_gate", heaviside_gate, (X5,)),
    Case("array_api_names", array_api_names, (M,), order=2),
    Case("einsum_optimize_true", einsum_optimized, (M, r(4, 2)), wrt=(0, 1), order=2),
    Case("einsum_optimize_greedy", einsum_greedy_path, (M,), order=2),
    Case("cov_refused", whitened, (M,), refused=(sg.NoRuleError, "sourcegrad.defvjp(np.cov")),
    Case("nanmax_refused", nan_safe_max, (X5,), refused=(sg.NoRuleError, "np.nanmax")),
]


@pytest.mark.parametrize("case", params(CASES))
def test_numpy_suite(case):
    check(case)
