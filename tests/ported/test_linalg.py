"""Linear algebra, ported from HIPS/autograd tests/test_linalg.py (inv, solve, det, slogdet,
norms, cholesky, eigh, svd, qr, pinv, matrix_power) and JAX's linalg gradient tests. Matrices
are kept well conditioned; decompositions are read through sign-invariant functions (``v**2``
of eigenvectors, singular values) as autograd's tests do."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(23)
D = 3
M = R.standard_normal((D, D)) + 3.0 * np.eye(D)
M2 = R.standard_normal((D, D)) + 3.0 * np.eye(D)
BATCH = R.standard_normal((2, D, D)) + 3.0 * np.eye(D)
VEC = R.standard_normal(D)
RHS = R.standard_normal((D, 2))
WIDE = R.standard_normal((2, 4))
TALL = R.standard_normal((4, 2))
WM = R.uniform(0.5, 1.5, (D, D))
WB = R.uniform(0.5, 1.5, (2, D, D))


def l_inv(x):
    return np.sum(WM * np.linalg.inv(x))


def l_inv_3d(x):
    return np.sum(WB * np.linalg.inv(x))


def l_inv_twice(x):
    return np.sum(WM * np.linalg.inv(np.linalg.inv(x) + x))


def l_solve_arg1(a, b):
    return np.sum(np.sin(np.linalg.solve(a, b)))


def l_solve_1d(a, b):
    return np.sum(np.sin(np.linalg.solve(a, b)))


def l_solve_3d(a, b):
    return np.sum(np.sin(np.linalg.solve(a, b)))


def l_det(x):
    return np.linalg.det(x)


def l_det_3d(x):
    return np.sum(np.linalg.det(x) * np.array([1.0, -2.0]))


def l_det_sym(x):
    return np.linalg.det(x @ x.T)


def l_slogdet(x):
    sign, logdet = np.linalg.slogdet(x)
    return sign * logdet


def l_slogdet_3d(x):
    sign, logdet = np.linalg.slogdet(x)
    return np.sum(logdet * np.array([0.7, 1.3]))


def l_norm_vec(x):
    return np.linalg.norm(x)


def l_norm_fro(x):
    return np.linalg.norm(x)


def l_norm_fro_named(x):
    return np.linalg.norm(x, "fro")


def l_norm_ord1(x):
    return np.linalg.norm(x, ord=1)


def l_norm_ord3(x):
    return np.linalg.norm(x, ord=3)


def l_norm_inf(x):
    return np.linalg.norm(x, ord=np.inf)


def l_norm_axis(x):
    return np.sum(np.linalg.norm(x, axis=1) * np.array([1.0, 2.0, 0.5]))


def l_norm_axis_keep(x):
    return np.sum(np.linalg.norm(x, axis=0, keepdims=True) ** 3)


def l_norm_nuclear(x):
    return np.linalg.norm(x, "nuc")


def l_norm_matrix2(x):
    return np.linalg.norm(x, 2)


def l_cholesky(x):
    s = x @ x.T + np.eye(3)
    return np.sum(WM * np.linalg.cholesky(s))


def l_cholesky_batch(x):
    s = np.matmul(x, np.swapaxes(x, -1, -2)) + np.eye(3)
    return np.sum(WB * np.linalg.cholesky(s))


def l_eigh_values(x):
    w, v = np.linalg.eigh(x + x.T)
    return np.sum(w * np.array([1.0, 2.0, 3.0]))


def l_eigh_vectors(x):
    w, v = np.linalg.eigh(x + x.T)
    return np.sum(WM * v * v) + np.sum(w**2)


def l_eigvalsh(x):
    return np.sum(np.linalg.eigvalsh(x + x.T) * np.array([1.0, 2.0, 3.0]))


def l_svd_s(x):
    return np.sum(np.linalg.svd(x, compute_uv=False) * np.array([1.0, 0.5]))


def l_svd_full(x):
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    return np.sum((u * s) @ vt)


def l_qr(x):
    q, r = np.linalg.qr(x)
    return np.sum(np.abs(np.diag(r))) + np.sum((q @ r) ** 2)


def l_pinv(x):
    return np.sum(np.sin(np.linalg.pinv(x)))


def l_matrix_power(x):
    return np.sum(WM * np.linalg.matrix_power(x, 3))


def l_multi_dot(x, y):
    return np.sum(np.linalg.multi_dot([x, y, x]))  # REFUSED


def l_quadratic_form(x, a):
    return x @ np.linalg.solve(a, x)


def l_gaussian_logpdf(x, cov):
    sign, logdet = np.linalg.slogdet(cov)
    return -0.5 * (x @ np.linalg.inv(cov) @ x + logdet + 3 * np.log(2 * np.pi))


def l_matrix_transpose_solve(a, b):
    return np.sum(np.linalg.solve(a.T, b) ** 2)


SPD = M @ M.T + np.eye(D)
NR = (sg.NoRuleError, "sourcegrad.defvjp(")
CASES = [
    Case("inv", l_inv, (M,), order=2),
    Case("inv_3d", l_inv_3d, (BATCH,), order=2),
    Case("inv_of_inv", l_inv_twice, (M,)),
    Case("solve_2d_rhs", l_solve_arg1, (M, RHS), wrt=(0, 1), order=2),
    Case("solve_1d_rhs", l_solve_1d, (M, VEC), wrt=(0, 1), order=2),
    Case("solve_3d", l_solve_3d, (BATCH, R.standard_normal((2, D, 2))), wrt=(0, 1)),
    Case("det", l_det, (M,), order=2),
    Case("det_3d", l_det_3d, (BATCH,), order=2),
    Case("det_of_gram", l_det_sym, (M,), order=2),
    Case("slogdet", l_slogdet, (M,), order=2),
    Case("slogdet_3d", l_slogdet_3d, (BATCH,)),
    Case("norm_vector", l_norm_vec, (VEC,), order=2),
    Case("norm_frobenius", l_norm_fro, (M,), order=2),
    Case("norm_fro_named", l_norm_fro_named, (M,)),
    Case("norm_ord1_vector", l_norm_ord1, (VEC,)),
    Case("norm_ord3_vector", l_norm_ord3, (VEC,), order=2),
    Case("norm_inf_vector", l_norm_inf, (VEC,)),
    Case("norm_axis", l_norm_axis, (M,), order=2),
    Case("norm_axis_keepdims", l_norm_axis_keep, (M,)),
    Case("norm_nuclear", l_norm_nuclear, (M,)),
    Case("norm_matrix_2", l_norm_matrix2, (M,)),
    Case("cholesky", l_cholesky, (M,), order=2),
    Case("cholesky_batch", l_cholesky_batch, (BATCH,)),
    Case("eigh_values", l_eigh_values, (M,), order=2),
    Case("eigh_vectors", l_eigh_vectors, (M,)),
    Case("eigvalsh", l_eigvalsh, (M,), order=2),
    Case("svd_values_wide", l_svd_s, (WIDE,), order=2),
    Case("svd_values_tall", l_svd_s, (TALL,), order=2),
    Case("svd_reconstruct", l_svd_full, (TALL,), order=2),
    Case("qr", l_qr, (TALL,), order=2),
    Case("pinv", l_pinv, (TALL,)),
    Case("matrix_power", l_matrix_power, (M,), order=2),
    Case("multi_dot", l_multi_dot, (M, M2), wrt=(0, 1), refused=NR),
    Case("quadratic_form_solve", l_quadratic_form, (VEC, SPD), wrt=(0, 1), order=2),
    Case("gaussian_logpdf", l_gaussian_logpdf, (VEC, SPD), wrt=(0, 1), order=2),
    Case("solve_transposed", l_matrix_transpose_solve, (M, RHS), wrt=(0, 1)),
]


@pytest.mark.parametrize("case", params(CASES))
def test_linalg(case):
    check(case)
