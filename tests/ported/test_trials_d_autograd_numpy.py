"""autograd's tests/test_numpy.py and test_systematic.py as they are written there: one small
function per NumPy operation, its arguments given by the test (``axis`` tuples, ``keepdims``,
``ddof``, ``offset``, negative steps, repeated integer indices, boolean masks made from the
argument, broadcasting against a row), a function of two arguments differentiated in both.
Each against Python's value and central differences on calls 1-3, to second order where
smooth."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(7102)


def r(*s):
    return R.standard_normal(s)


def pos(*s):
    return R.uniform(0.5, 2.0, s)


def fun_dot_broadcast(x, y):
    return np.sum(np.dot(x, y) * np.arange(6.0).reshape(2, 3))


def fun_tensordot_axes(x, y):
    return np.sum(np.tensordot(x, y, axes=([0, 2], [1, 0])) ** 2)


def fun_einsum_ellipsis(a, b):
    return np.sum(np.sin(np.einsum("...ij,...jk->...ik", a, b)))


def fun_einsum_trace(a):
    return np.einsum("ii", a) ** 2 + np.einsum("ij,ij->", a, a)


def fun_var_ddof(x):
    return np.var(x, axis=1, ddof=1).sum() + np.std(x, axis=0, ddof=1, keepdims=True).sum()


def fun_cumsum_axis(x):
    return np.sum(np.cumsum(x, axis=0) ** 2) + np.sum(np.cumprod(x, axis=1))


def fun_prod_keepdims(x):
    return np.sum(np.prod(x, axis=(0, 2), keepdims=True) * x)


def fun_trace_offset(x):
    return np.trace(x, offset=1) ** 2 + np.trace(x, offset=-1) * np.trace(x)


def fun_diag_k(x):
    return np.sum(np.diag(x, k=1) ** 2) + np.sum(np.diag(np.diag(x), k=-1))


def fun_triu_k(x):
    return np.sum(np.triu(x, k=1) * np.tril(x, k=-1).T) + np.sum(np.tril(x) ** 2)


def fun_flip_axes(x):
    return np.sum(np.flip(x, axis=(0, 1)) * np.arange(12.0).reshape(3, 4))


def fun_roll_axis(x):
    return np.sum(np.roll(x, 2, axis=1) * x) + np.sum(np.roll(x, -1) * x)


def fun_negative_steps(x):
    return np.sum(x[::-1, ::2] ** 2) + np.sum(x[-1:0:-2, 1] * x[0, ::-1][:2])


def fun_repeated_index(x):
    idx = np.array([0, 2, 2, 1, 0, 0])
    return np.sum(x[idx] ** 2) + np.sum(x[[1, 1], [0, 0]])


def fun_index_matrix(x):
    return np.sum(x[np.array([[0, 1], [1, 0]])] * x[:2])


def fun_mask_from_arg(x):
    return np.sum(x[x > 0] ** 2) + np.sum(np.abs(x[x < 0]))


def fun_split_indices(x):
    a, b, c = np.split(x, [1, 3], axis=1)
    return np.sum(a * b.sum(1, keepdims=True)) + np.sum(np.exp(c))


def fun_concatenate_none(x, y):
    return np.sum(np.concatenate([x, y], axis=None) ** 3)


def fun_sort_axis0(x):
    s = np.sort(x, axis=0)
    return np.sum(s * np.arange(s.size).reshape(s.shape))


def fun_clip_array_bounds(x):
    return np.sum(np.clip(x, -np.ones(4) * 0.5, np.linspace(0.2, 1.0, 4)) ** 2)


def fun_where_broadcast(x, y):
    return np.sum(np.where(x > 0, x, y[None, :]) ** 2)


def fun_matmul_batch_broadcast(a, b):
    return np.sum(np.tanh(np.matmul(a, b)))


def fun_moveaxis_many(x):
    y = np.moveaxis(x, [0, 1], [-1, -2])
    return np.sum(y * np.arange(y.size).reshape(y.shape))


def fun_expand_dims_tuple(x):
    y = np.expand_dims(x, axis=(0, 2))
    return np.sum(np.squeeze(y * y, axis=0))


def fun_pad_reflect(x):
    return np.sum(np.pad(x, (2, 1), mode="reflect") ** 2) + np.sum(np.pad(x, 1, mode="edge") ** 3)


def fun_repeat_array(x):
    return np.sum(np.repeat(x, [1, 2, 3], axis=0) ** 2)


def fun_tile_2d(x):
    return np.sum(np.tile(x, (2, 3)) * np.arange(24.0).reshape(4, 6))


def fun_take_axis(x):
    return np.sum(np.take(x, [2, 0, 2], axis=1) ** 2)


def fun_average_weights_axis(x):
    return np.sum(np.average(x, axis=1, weights=np.array([1.0, 2.0, 3.0])) ** 2)


def fun_norm_axis_tuple(x):
    return np.linalg.norm(x, axis=(1, 2)).sum() + np.linalg.norm(x, ord=1, axis=(0, 1)).sum()


def fun_max_ties(x):
    y = np.concatenate([x, x])
    return np.max(y) + np.min(y, axis=0)


def fun_float32(x):
    return np.sum(np.tanh(x) * x)


def fun_inner_2d(x, y):
    return np.sum(np.inner(x, y) ** 2) + np.sum(np.outer(x, y))


def fun_cross_axis(x, y):
    return np.sum(np.cross(x, y, axis=0) ** 2)


def fun_kron_2d(x, y):
    return np.sum(np.sin(np.kron(x, y)))


def fun_swapaxes_T(x):
    return np.sum(x.swapaxes(0, 2).T * x)


def fun_atleast(x):
    return np.sum(np.atleast_2d(x) @ np.atleast_2d(x).T) + np.sum(np.atleast_3d(x))


def fun_int_power_of_array(x):
    n = np.array([1, 2, 3])
    return np.sum(x**n) + np.sum(np.power(x, n[::-1]))


def fun_bool_arith(x):
    m = x > 0
    return np.sum(x * m) + np.sum((x**2)[~m]) + np.sum(x * (m & (x < 1)))


def fun_mean_of_bool_and_float(x):
    return np.mean(x) * np.mean(x > 0.0) + np.sum(x.astype(np.float64) ** 2) + np.sum(x.astype(int))


def fun_linalg_tensor(x):
    return np.sum(np.linalg.inv(x + 3 * np.eye(3)) ** 2) + np.linalg.det(x) ** 2


def fun_slogdet_batched(x):
    sign, logdet = np.linalg.slogdet(x @ np.swapaxes(x, -1, -2) + np.eye(3))
    return np.sum(sign * logdet)


def fun_solve_batched(a, b):
    return np.sum(np.linalg.solve(a @ a.transpose(0, 2, 1) + np.eye(3), b) ** 2)


CASES = [
    Case("dot_broadcast", fun_dot_broadcast, (r(2, 4), r(4, 3)), wrt=(0, 1), order=2),
    Case("tensordot_axes_lists", fun_tensordot_axes, (r(2, 3, 4), r(4, 2, 5)), wrt=(0, 1), order=2),
    Case("einsum_ellipsis", fun_einsum_ellipsis, (r(2, 3, 4), r(2, 4, 2)), wrt=(0, 1), order=2),
    Case("einsum_trace", fun_einsum_trace, (r(3, 3),), order=2),
    Case("var_std_ddof", fun_var_ddof, (r(3, 4),), order=2),
    Case("cumsum_cumprod_axis", fun_cumsum_axis, (r(3, 4),), order=2),
    Case("prod_axis_tuple_keepdims", fun_prod_keepdims, (r(2, 3, 2),), order=2),
    Case("trace_offset", fun_trace_offset, (r(3, 4),), order=2),
    Case("diag_k", fun_diag_k, (r(4, 4),), order=2),
    Case("triu_tril_k", fun_triu_k, (r(4, 4),), order=2),
    Case("flip_axis_tuple", fun_flip_axes, (r(3, 4),)),
    Case("roll_axis_and_flat", fun_roll_axis, (r(3, 4),), order=2),
    Case("negative_steps", fun_negative_steps, (r(5, 4),), order=2),
    Case("repeated_integer_index", fun_repeated_index, (r(3, 2),), order=2),
    Case("index_by_matrix", fun_index_matrix, (r(3, 2),), order=2),
    Case("mask_from_argument", fun_mask_from_arg, (r(3, 4),), order=2),
    Case("split_indices", fun_split_indices, (r(2, 5),), order=2),
    Case("concatenate_axis_none", fun_concatenate_none, (r(2, 2), r(3)), wrt=(0, 1), order=2),
    Case("sort_axis0", fun_sort_axis0, (r(4, 3),), order=2),
    Case("clip_array_bounds", fun_clip_array_bounds, (r(3, 4),), order=2),
    Case("where_broadcast_row", fun_where_broadcast, (r(3, 4), r(4)), wrt=(0, 1), order=2),
    Case(
        "matmul_batch_broadcast",
        fun_matmul_batch_broadcast,
        (r(2, 1, 3, 4), r(3, 4, 2)),
        wrt=(0, 1),
        order=2,
    ),
    Case("moveaxis_lists", fun_moveaxis_many, (r(2, 3, 4),)),
    Case("expand_dims_tuple", fun_expand_dims_tuple, (r(2, 3),), order=2),
    Case("pad_reflect_edge", fun_pad_reflect, (r(5),), order=2),
    Case("repeat_counts_array", fun_repeat_array, (r(3, 2),), order=2),
    Case("tile_2d", fun_tile_2d, (r(2, 2),)),
    Case("take_axis_repeats", fun_take_axis, (r(2, 3),), order=2),
    Case("average_weights_axis", fun_average_weights_axis, (r(2, 3),), order=2),
    Case("norm_axis_tuple", fun_norm_axis_tuple, (r(2, 3, 4),), order=2),
    Case("max_min_ties_from_concatenate", fun_max_ties, (r(4),)),
    Case(
        "float32_argument",
        fun_float32,
        (r(5).astype(np.float32),),
        rtol=2e-2,
        atol=2e-2,
    ),
    Case("inner_outer_1d", fun_inner_2d, (r(4), r(4)), wrt=(0, 1), order=2),
    Case("cross_axis0", fun_cross_axis, (r(3, 2), r(3, 2)), wrt=(0, 1), order=2),
    Case("kron_2d", fun_kron_2d, (r(2, 2), r(2, 3)), wrt=(0, 1), order=2),
    Case("swapaxes_then_T", fun_swapaxes_T, (r(2, 3, 2),), order=2),
    Case("atleast_2d_3d", fun_atleast, (r(3),), order=2),
    Case("integer_array_exponents", fun_int_power_of_array, (pos(3),), order=2),
    Case("boolean_mask_arithmetic", fun_bool_arith, (r(6),), order=2),
    Case("mean_of_bool_and_cast_roundtrip", fun_mean_of_bool_and_float, (r(5),)),
    Case("inv_det", fun_linalg_tensor, (r(3, 3),), order=2),
    Case("slogdet_batched", fun_slogdet_batched, (r(2, 3, 3),), order=2),
    Case("solve_batched", fun_solve_batched, (r(2, 3, 3), r(2, 3, 2)), wrt=(0, 1), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_autograd_numpy(case):
    check(case)
