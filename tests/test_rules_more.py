"""Checks of the rules for more NumPy functions against central finite differences.

One table of (function, inputs) run through ``fd.check`` (first and second order, the
signature-specialised and the rank-generic derivative), and each function once more through
``sg.grad`` called three times: the third call runs the optimized, shape-specialised code.
"""

import numpy as np
import pytest

import sourcegrad as sg

from .fd import check, numerical_grad, output_shape, weights

pytestmark = pytest.mark.filterwarnings(
    "ignore:Arrays of 2-dimensional vectors are deprecated:DeprecationWarning"
)


def rnd(*shape, seed=0, lo=-1.5, hi=1.5):
    return np.random.default_rng(seed).uniform(lo, hi, shape)


def away(*shape, seed=0):
    """|x| in (0.5, 1.5), either sign."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def distinct(*shape, seed=0):
    """Values at least 0.1 apart (no ties for a sort)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return rng.permutation(np.linspace(-1.5, 1.5, n)).reshape(shape) + 0.01


# ============================================================================ joins


def f_vstack(x, y, w):
    return np.sum(w * np.sin(np.vstack([x, y * y])))


def f_vstack_1d(x, y, w):
    return np.sum(w * np.sin(np.vstack((x, y))))


def f_hstack(x, y, w):
    return np.sum(w * np.sin(np.hstack([x, 2.0 * y])))


def f_column_stack(x, y, w):
    return np.sum(w * np.sin(np.column_stack([x, y])))


def f_dstack(x, y, w):
    return np.sum(w * np.sin(np.dstack([x, y])))


def f_append(x, y, w):
    return np.sum(w * np.sin(np.append(x, y)))


def f_append_axis(x, y, w):
    return np.sum(w * np.sin(np.append(x, y * x, axis=0)))


def f_atleast_3d(x, w):
    return np.sum(w * np.sin(np.atleast_3d(x) * 2.0))


def f_atleast_2d(x, w):
    return np.sum(w * np.sin(np.atleast_2d(x) * 2.0))


# ============================================================================ diagonals


def f_diag_vec(x, w):
    return np.sum(w * np.sin(np.diag(x, 1) + 1.0))


def f_diag_mat(x, w):
    return np.sum(w * np.sin(np.diag(x, -1)))


def f_diag_mat0(x, w):
    return np.sum(w * np.sin(np.diag(x * x)))


def f_diagonal(x, w):
    return np.sum(w * np.sin(np.diagonal(x, 1, 0, 2)))


def f_diagonal_method(x, w):
    return np.sum(w * np.sin(x.diagonal()))


def f_trace(x, w):
    return np.sum(w * np.sin(np.trace(x * x)))


def f_trace_axes(x, w):
    return np.sum(w * np.sin(np.trace(x, -1, 1, 2)))


def f_tril(x, w):
    return np.sum(w * np.sin(np.tril(x) + 1.0))


def f_triu(x, w):
    return np.sum(w * np.sin(np.triu(x * x, 1) + 1.0))


# ============================================================================ rotations


def f_roll(x, w):
    return np.sum(w * np.sin(np.roll(x, 2) * x))


def f_roll_axes(x, w):
    return np.sum(w * np.sin(np.roll(x, (1, -1), axis=(0, 1)) * x))


def f_rot90(x, w):
    return np.sum(w * np.sin(np.rot90(x) * 2.0))


def f_rot90_k(x, w):
    return np.sum(w * np.sin(np.rot90(x, 3, axes=(1, 2)) * 2.0))


def f_fliplr(x, w):
    return np.sum(w * np.sin(np.fliplr(x) * x))


def f_flipud(x, w):
    return np.sum(w * np.sin(np.flipud(x) * x))


# ============================================================================ differences, products


def f_diff(x, w):
    return np.sum(w * np.sin(np.diff(x * x)))


def f_diff_n2_axis0(x, w):
    return np.sum(w * np.sin(np.diff(x * x, 2, axis=0)))


def f_diff_prepend(x, y, w):
    return np.sum(w * np.sin(np.diff(x * x, prepend=y, append=1.0)))


def f_cumprod(x, w):
    return np.sum(w * np.sin(np.cumprod(x)))


def f_cumprod_axis(x, w):
    return np.sum(w * np.sin(np.cumprod(x, axis=1)))


def f_cumprod_method(x, w):
    return np.sum(w * np.sin(x.cumprod(0)))


# ============================================================================ elementwise


def f_logaddexp2(x, y, w):
    return np.sum(w * np.sin(np.logaddexp2(x, y)))


def f_nan_to_num(x, w):
    return np.sum(w * np.sin(np.nan_to_num(np.log(x))))


# ============================================================================ sort, select, cross, kron


def f_sort(x, w):
    return np.sum(w * np.sin(np.sort(x) * x))


def f_sort_axis0(x, w):
    return np.sum(w * np.sin(np.sort(x, axis=0) ** 2))


def f_sort_none(x, w):
    return np.sum(w * np.sin(np.sort(x, axis=None) ** 2))


def f_select(x, y, w):
    return np.sum(w * np.sin(np.select([x < -0.5, x > 0.5], [x * x, y * x], y)))


def f_select_default(x, w):
    return np.sum(w * np.sin(np.select([x > 0.0], [x * 3.0])))


def f_cross(a, b, w):
    return np.sum(w * np.sin(np.cross(a, b)))


def f_cross_2d(a, b, w):
    return np.sum(w * np.sin(np.cross(a, b)))


def f_cross_axis(a, b, w):
    return np.sum(w * np.sin(np.cross(a, b, axis=0)))


def f_kron(a, b, w):
    return np.sum(w * np.sin(np.kron(a, b)))


def f_kron_mixed(a, b, w):
    return np.sum(w * np.sin(np.kron(a, b)))


# ============================================================================ einsum


def f_einsum_sublist(a, b, w):
    return np.sum(w * np.sin(np.einsum(a, [0, 1], b, [1, 2], [0, 2])))


def f_einsum_sublist_implicit(a, b, w):
    return np.sum(w * np.sin(np.einsum(a, [Ellipsis, 0, 1], b, [1, 2])))


def f_einsum_ellipsis(a, b, w):
    return np.sum(w * np.sin(np.einsum("...ij,...jk->...ik", a, b)))


def f_einsum_ellipsis_implicit(a, b, w):
    return np.sum(w * np.sin(np.einsum("i...,...", a, b)))


def f_einsum_ellipsis_diagonal(a, w):
    return np.sum(w * np.sin(np.einsum("...ii->...i", a)))


# ============================================================================ norms


def n_vec3(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, 3)))


def n_vec3_axis(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, 3, axis=1)))


def n_vec15_keep(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, 1.5, axis=0, keepdims=True)))


def n_vec_minus1(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, -1)))


def n_vec_inf(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, np.inf, axis=-1)))


def n_vec_minus_inf(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, -np.inf)))


def n_vec0(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, 0) * x))


def n_mat1(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, 1)))


def n_mat_minus1(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, -1)))


def n_mat_inf(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, np.inf)))


def n_mat_minus_inf_axes(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, -np.inf, axis=(2, 0))))


def n_mat_fro_axes(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, "fro", axis=(0, 2), keepdims=True)))


def n_nuc(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, "nuc")))


def n_spectral(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, 2)))


def n_min_singular_axes(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, -2, axis=(1, 2), keepdims=True)))


def n_nuc_axes(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, "nuc", axis=(0, 2))))


# ============================================================================ decompositions


def l_pinv(a, w):
    return np.sum(w * np.sin(np.linalg.pinv(a)))


def l_eigh_values(a, w):
    return np.sum(w * np.sin(np.linalg.eigh(a)[0]))


def l_eigh(a, w):
    vals, vecs = np.linalg.eigh(a)
    return np.sum(w * np.sin(vecs * vecs[0:1, :] + vals))


def l_eigh_upper(a, w):
    vals, vecs = np.linalg.eigh(a, UPLO="U")
    return np.sum(w * np.sin(vecs * vecs[0:1, :] + vals))


def symmetric(n, seed=0):
    m = np.random.default_rng(seed).standard_normal((n, n))
    return m + m.T


# (function, args, wrt)
CASES = [
    (f_vstack, (rnd(2, 3), rnd(1, 3, seed=1)), (0, 1)),
    (f_vstack_1d, (rnd(3), rnd(3, seed=1)), (0, 1)),
    (f_hstack, (rnd(2, 3), rnd(2, 2, seed=1)), (0, 1)),
    (f_hstack, (rnd(3), rnd(2, seed=1)), (0, 1)),
    (f_column_stack, (rnd(3), rnd(3, 2, seed=1)), (0, 1)),
    (f_dstack, (rnd(2, 3), rnd(2, 3, 2, seed=1)), (0, 1)),
    (f_append, (rnd(2, 3), rnd(4, seed=1)), (0, 1)),
    (f_append_axis, (rnd(2, 3), rnd(2, 3, seed=1)), (0, 1)),
    (f_atleast_3d, (rnd(4),), 0),
    (f_atleast_2d, (rnd(4),), 0),
    (f_diag_vec, (rnd(3),), 0),
    (f_diag_mat, (rnd(3, 4),), 0),
    (f_diag_mat0, (rnd(4, 3),), 0),
    (f_diagonal, (rnd(3, 2, 4),), 0),
    (f_diagonal_method, (rnd(3, 3),), 0),
    (f_trace, (rnd(3, 3),), 0),
    (f_trace_axes, (rnd(2, 3, 4),), 0),
    (f_tril, (rnd(3, 4),), 0),
    (f_triu, (rnd(4, 3),), 0),
    (f_tril, (rnd(4),), 0),  # a vector: broadcast over the rows, then the triangle
    (f_triu, (rnd(3),), 0),
    (f_tril, (rnd(2, 3, 3),), 0),  # a stack of matrices
    (f_roll, (rnd(5),), 0),
    (f_roll_axes, (rnd(3, 4),), 0),
    (f_rot90, (rnd(3, 4),), 0),
    (f_rot90_k, (rnd(2, 3, 4),), 0),
    (f_fliplr, (rnd(3, 4),), 0),
    (f_flipud, (rnd(3, 4),), 0),
    (f_diff, (rnd(5),), 0),
    (f_diff_n2_axis0, (rnd(4, 3),), 0),
    (f_diff_prepend, (rnd(3, 4), rnd(3, 1, seed=1)), (0, 1)),
    (f_cumprod, (away(2, 3),), 0),
    (f_cumprod_axis, (away(2, 3),), 0),
    (f_cumprod_method, (away(3, 2),), 0),
    (f_logaddexp2, (rnd(2, 3), rnd(3, seed=1)), (0, 1)),
    (f_nan_to_num, (np.array([0.5, 1.5, 2.0, 0.7]),), 0),
    (f_sort, (distinct(6),), 0),
    (f_sort_axis0, (distinct(3, 4),), 0),
    (f_sort_none, (distinct(3, 4),), 0),
    (f_select, (away(6), rnd(6, seed=1)), (0, 1)),
    (f_select_default, (away(6),), 0),
    (f_cross, (rnd(4, 3), rnd(3, seed=1)), (0, 1)),
    (f_cross_2d, (rnd(4, 2), rnd(4, 2, seed=1)), (0, 1)),
    (f_cross_axis, (rnd(3, 2), rnd(3, 2, seed=1)), (0, 1)),
    (f_kron, (rnd(2, 3), rnd(2, 2, seed=1)), (0, 1)),
    (f_kron_mixed, (rnd(3), rnd(2, 2, seed=1)), (0, 1)),
    (f_einsum_sublist, (rnd(2, 3), rnd(3, 4, seed=1)), (0, 1)),
    (f_einsum_sublist_implicit, (rnd(2, 2, 3), rnd(3, 4, seed=1)), (0, 1)),
    (f_einsum_ellipsis, (rnd(2, 1, 2, 3), rnd(3, 3, 4, seed=1)), (0, 1)),
    (f_einsum_ellipsis_implicit, (rnd(2, 3), rnd(3, seed=1)), (0, 1)),
    (f_einsum_ellipsis_diagonal, (rnd(2, 3, 3),), 0),
    (n_vec3, (away(5),), 0),
    (n_vec3_axis, (away(3, 4),), 0),
    (n_vec15_keep, (away(3, 4),), 0),
    (n_vec_minus1, (away(4),), 0),
    (n_vec_inf, (away(3, 4),), 0),
    (n_vec_minus_inf, (away(5),), 0),
    (n_vec0, (away(4),), 0),
    (n_mat1, (away(3, 4),), 0),
    (n_mat_minus1, (away(3, 4),), 0),
    (n_mat_inf, (away(3, 4),), 0),
    (n_mat_minus_inf_axes, (away(3, 2, 4),), 0),
    (n_mat_fro_axes, (away(3, 2, 4),), 0),
    (l_pinv, (rnd(3, 4),), 0),
    (l_pinv, (rnd(4, 3),), 0),
    (l_pinv, (rnd(2, 4, 3),), 0),
    (l_eigh_values, (symmetric(4),), 0),
    (l_eigh, (symmetric(4),), 0),
    (l_eigh_upper, (symmetric(4),), 0),
]

#: first order only: their second derivative needs the SVD's own derivative (not written)
FIRST_ORDER = [
    (n_nuc, (away(3, 4),), 0),
    (n_spectral, (away(3, 4),), 0),
    (n_min_singular_axes, (away(2, 3, 4),), 0),
    (n_nuc_axes, (away(3, 2, 4),), 0),
]


def _id(case):
    return case[0].__name__


@pytest.mark.parametrize("f, args, wrt", CASES, ids=[_id(c) for c in CASES])
def test_rule(f, args, wrt):
    check(f, *args, wrt=wrt)


@pytest.mark.parametrize("f, args, wrt", FIRST_ORDER, ids=[_id(c) for c in FIRST_ORDER])
def test_rule_first_order(f, args, wrt):
    check(f, *args, wrt=wrt, second=False)


def test_spectral_norm_second_order_through_the_svd_rule():
    """It was refused; the gradient is now written through np.linalg.svd's rule."""
    x = away(3, 4)
    w = weights(output_shape(n_spectral, (x,)))
    v = away(3, 4) * 0.5
    g = sg.grad(n_spectral)
    eps = 1e-5
    expected = (g(x + eps * v, w) - g(x - eps * v, w)) / (2 * eps)
    np.testing.assert_allclose(sg.hvp(n_spectral)(x, w, v), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "f, args, wrt", CASES + FIRST_ORDER, ids=[_id(c) for c in CASES + FIRST_ORDER]
)
def test_rule_optimized(f, args, wrt):
    """``sg.grad`` called three times: the second call builds the code specialised to the
    shapes, which the third runs."""
    w = weights(output_shape(f, args), seed=3)
    full = (*args, w)
    df = sg.grad(f, wrt)
    idxs = wrt if isinstance(wrt, tuple) else (wrt,)
    expected = [numerical_grad(f, full, i) for i in idxs]
    for _ in range(3):
        got = df(*full)
    got = got if isinstance(wrt, tuple) else (got,)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-7)
