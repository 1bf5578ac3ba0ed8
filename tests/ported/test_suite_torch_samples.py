"""Edge-case inputs ported from PyTorch's OpInfo sample inputs
(``torch/testing/_internal/common_methods_invocations.py``) and ``test/test_autograd.py``:
0-d arrays, empty and size-1 dimensions, negative axes with ``keepdims``, broadcasting of
every operand, transposed and strided (non-contiguous) inputs, integer and bool operands, and
the functions whose textbook derivative divides by an input (``prod``, ``cumprod`` with zeros).
Each output is weighted so that a wrong gradient cannot cancel in the sum."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(2024)
X3 = R.standard_normal((2, 3, 4))
W3 = R.uniform(0.5, 1.5, (2, 3, 4))
X2 = R.standard_normal((3, 4))
W2 = R.uniform(0.5, 1.5, (3, 4))
POS = R.uniform(0.5, 2.0, (3, 4))
COL = R.standard_normal((3, 1))
ROW = R.standard_normal((1, 4))
SIZE1 = R.standard_normal((3, 1, 4))
W_SIZE1 = R.uniform(0.5, 1.5, (3, 1, 4))
W4 = R.uniform(0.5, 1.5, 4)
W3V = R.uniform(0.5, 1.5, 3)
INTS = np.array([1, 2, 3, 4])
INT_EXPONENTS = np.array([[1, 2, 3, 0]] * 3)
MASK = np.array([[True, False, True, True]] * 3)
BIG = R.standard_normal((6, 8))
WITH_ZERO = np.array([1.5, -0.5, 0.0, 2.0])
WITH_TWO_ZEROS = np.array([1.5, 0.0, 0.0, 2.0])
BATCH_A = R.standard_normal((2, 1, 3, 4))
BATCH_B = R.standard_normal((5, 4, 2))

# ------------------------------------------------------------------ reductions: axes, keepdims


def t_sum_neg_axis_keepdims(x):
    return np.sum(W3[:, :1, :] * np.sum(x, axis=-2, keepdims=True) ** 2)


def t_mean_neg_axis_tuple(x):
    return np.sum(W4 * np.mean(x, axis=(-3, -2)) ** 2)


def t_max_size1_axis(x):
    return np.sum(W_SIZE1 * np.max(x, axis=1, keepdims=True))


def t_max_neg_axis(x):
    return np.sum(W3V * np.max(X3[0] * x, axis=-1))


def t_var_neg_axis_ddof(x):
    return np.sum(W3V * np.var(x, axis=-1, ddof=1))


def t_std_keepdims(x):
    return np.sum(W2[:, :1] * np.std(x, axis=-1, keepdims=True))


def t_logsumexp_keepdims(x):
    m = np.max(x, axis=-1, keepdims=True)
    return np.sum(W2 * (x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))))


def t_prod_neg_axis(x):
    return np.sum(W4 * np.prod(x, axis=0))


def t_amin_axis_none_keepdims(x):
    return np.sum(np.amin(x, axis=None, keepdims=True) * 3.0)


def t_sum_dtype(x):
    return np.sum(x * W2, dtype=np.float64)


# ------------------------------------------------------------------ 0-d arrays


def t_zero_d_unary(x):
    return np.sin(x) * x**2


def t_zero_d_reduction(x):
    return np.sum(x) + np.max(x) * np.mean(x)


def t_zero_d_broadcast(x, s):
    return np.sum(W2 * x * s)


def t_zero_d_cumsum(x):
    return np.sum(np.cumsum(x) * 2.0)


def t_zero_d_expand(x):
    return np.sum(W2 * np.broadcast_to(x, (3, 4)))


def t_zero_d_reshape(x):
    return np.sum(np.reshape(x, (1, 1)) * 3.0) + np.sum(np.atleast_1d(x) ** 2)


# ------------------------------------------------------------------ empty and size-1 dims


def t_empty_sum(x):
    return np.sum(x**2) + 1.0


def t_empty_concat(x, e):
    return np.sum(W4 * np.concatenate([e, x], axis=0) ** 2)


def t_size1_squeeze(x):
    return np.sum(W2 * np.squeeze(x, axis=-2) ** 2)


def t_size1_broadcast_both(c, r):
    return np.sum(W2 * np.tanh(c * r + c))


def t_size1_expand_dims(x):
    return np.sum(W_SIZE1 * np.expand_dims(x, -2) ** 3)


# ------------------------------------------------------------------ layouts


def t_transposed_matmul(x):
    return np.sum(W2.T * np.tanh(x @ np.ones((3, 3)) * 0.1 + x.T.sum()))


def t_strided_input(x):
    return np.sum(np.sin(x) * np.cos(x[::-1]))


def t_fortran_reduction(x):
    return np.sum(W3V * np.sum(x * x, axis=1))


# ------------------------------------------------------------------ integer and bool operands


def t_int_array_times(x):
    return np.sum(W4 * x * INTS)


def t_int_exponents(x):
    return np.sum(W2 * x**INT_EXPONENTS)


def t_bool_mask_times(x):
    return np.sum(W2 * np.sin(x) * MASK)


def t_where_bool_broadcast(x):
    return np.sum(W2 * np.where(MASK[0], x, 2.0 * x))


def t_int_argument_unused_wrt(x, n):
    return np.sum(W4 * x ** n[0]) + np.sum(n)


def t_true_divide_by_int(x):
    return np.sum(W2 * x / INTS)


def t_bool_sum_count(x):
    return np.sum(x**2) / np.sum(x > 0)


# ------------------------------------------------------------------ broadcasting everywhere


def t_clip_array_bounds(x):
    return np.sum(W2 * np.clip(x, COL - 10.0, ROW + 10.0) ** 2)


def t_maximum_broadcast(x, c):
    return np.sum(W2 * np.maximum(x, c))


def t_arctan2_broadcast(y, x):
    return np.sum(W2 * np.arctan2(y, x))


def t_batched_matmul_broadcast(a, b):
    return np.sum(np.tanh(a @ b))


def t_matvec_1d(v, m):
    return np.sum(W3V * (m @ v)) + np.sum(W4 * (W3V @ m) * v)


def t_einsum_ellipsis(a, b):
    return np.sum(np.einsum("...ij,...jk->...ik", a, b) ** 2)


def t_einsum_diag(x):
    return np.einsum("ii->", x) + np.sum(np.einsum("ii->i", x) ** 2)


# ------------------------------------------------------------------ indexing (test_autograd)


def t_index_negative_ellipsis(x):
    return np.sum(x[..., -1] ** 2) + np.sum(x[-1, :, None, -2:] * 3.0)


def t_index_repeated_fancy(x):
    return np.sum(W3V * x[[0, 0, 2], 1] ** 2)


def t_index_bool_mask_read(x):
    return np.sum(x[x > 0] ** 2)


def t_take_along_axis(x):
    order = np.argsort(x, axis=-1)
    return np.sum(W2 * np.take_along_axis(x, order, axis=-1))


def t_index_reverse_step(x):
    return np.sum(W2[:, ::-1] * x[:, ::-1] ** 3)


# ------------------------------------------------------------------ shape functions


def t_moveaxis_multiple(x):
    return np.sum(W3.transpose(2, 0, 1) * np.moveaxis(x, [-1, 0], [0, -1]).transpose(0, 2, 1))


def t_diff_n2(x):
    return np.sum(np.diff(x, n=2, axis=-1) ** 2)


def t_tril_negative_k(x):
    return np.sum(W2 * np.tril(x, -1) ** 2)


def t_diagonal_offset(x):
    return np.sum(np.diagonal(x, offset=-1) ** 2) + np.trace(x, offset=1)


def t_roll_negative(x):
    return np.sum(W2 * np.roll(x, -1, axis=-1) * x)


def t_split_unequal(x):
    a, b = np.split(x, [1], axis=-1)
    return np.sum(a**2) + np.sum(W2[:, 1:] * b)


# ------------------------------------------------------------------ derivatives dividing by an input


def t_prod_with_zero(x):
    return np.prod(x)


def t_prod_with_two_zeros(x):
    return np.prod(x) + np.sum(x)


def t_cumprod_with_zero(x):
    return np.sum(W4 * np.cumprod(x))


def t_det_singular(x):
    return np.linalg.det(x)


SINGULAR = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, -1.0, 2.0]])


CASES = [
    Case("sum_neg_axis_keepdims", t_sum_neg_axis_keepdims, (X3,), order=2),
    Case("mean_neg_axis_tuple", t_mean_neg_axis_tuple, (X3,), order=2),
    Case("max_size1_axis", t_max_size1_axis, (SIZE1,)),
    Case("max_neg_axis", t_max_neg_axis, (X3[1],)),
    Case("var_neg_axis_ddof", t_var_neg_axis_ddof, (X2,), order=2),
    Case("std_keepdims", t_std_keepdims, (X2,), order=2),
    Case("logsumexp_keepdims", t_logsumexp_keepdims, (X2,), order=2),
    Case("prod_neg_axis", t_prod_neg_axis, (POS,), order=2),
    Case("amin_axis_none_keepdims", t_amin_axis_none_keepdims, (X2,)),
    Case("sum_dtype", t_sum_dtype, (X2,)),
    Case("zero_d_unary", t_zero_d_unary, (np.array(0.7),), order=2),
    Case("zero_d_reduction", t_zero_d_reduction, (np.array(-1.3),), order=2),
    Case("zero_d_broadcast", t_zero_d_broadcast, (np.array(0.4), np.array(-2.0)), wrt=(0, 1)),
    Case("zero_d_cumsum", t_zero_d_cumsum, (np.array(0.4),)),
    Case("zero_d_expand", t_zero_d_expand, (np.array(0.4),)),
    Case("zero_d_reshape", t_zero_d_reshape, (np.array(0.4),), order=2),
    Case("empty_sum", t_empty_sum, (np.zeros((0, 3)),)),
    Case("empty_concat", t_empty_concat, (R.standard_normal((2, 4)), np.zeros((0, 4)))),
    Case("size1_squeeze", t_size1_squeeze, (SIZE1,), order=2),
    Case("size1_broadcast_both", t_size1_broadcast_both, (COL, ROW), wrt=(0, 1), order=2),
    Case("size1_expand_dims", t_size1_expand_dims, (R.standard_normal((3, 4)),)),
    Case("transposed_matmul", t_transposed_matmul, (X2.T,)),
    Case("strided_input", t_strided_input, (BIG[::2, 1::2],), order=2),
    Case("fortran_reduction", t_fortran_reduction, (np.asfortranarray(X2),)),
    Case("int_array_times", t_int_array_times, (R.standard_normal(4),)),
    Case("int_exponents", t_int_exponents, (X2,), order=2),
    Case("bool_mask_times", t_bool_mask_times, (X2,), order=2),
    Case("where_bool_broadcast", t_where_bool_broadcast, (X2,)),
    Case("int_argument_unused_wrt", t_int_argument_unused_wrt, (POS[0], np.array([3, 1]))),
    Case("true_divide_by_int", t_true_divide_by_int, (X2,)),
    Case("bool_sum_count", t_bool_sum_count, (X2,)),
    Case("clip_array_bounds", t_clip_array_bounds, (X2,)),
    Case("maximum_broadcast", t_maximum_broadcast, (X2, COL + 0.05), wrt=(0, 1)),
    Case("arctan2_broadcast", t_arctan2_broadcast, (X2, POS[:1]), wrt=(0, 1), order=2),
    Case("batched_matmul_broadcast", t_batched_matmul_broadcast, (BATCH_A, BATCH_B), wrt=(0, 1)),
    Case("matvec_1d", t_matvec_1d, (R.standard_normal(4), X2), wrt=(0, 1), order=2),
    Case("einsum_ellipsis", t_einsum_ellipsis, (X3[:, :, :3], X3[:, :, 1:]), wrt=(0, 1)),
    Case("einsum_diag", t_einsum_diag, (X2[:, :3],), order=2),
    Case("index_negative_ellipsis", t_index_negative_ellipsis, (X3,)),
    Case("index_repeated_fancy", t_index_repeated_fancy, (X2,), order=2),
    Case("index_bool_mask_read", t_index_bool_mask_read, (X2,)),
    Case("take_along_axis", t_take_along_axis, (X2,)),
    Case("index_reverse_step", t_index_reverse_step, (X2,), order=2),
    Case("moveaxis_multiple", t_moveaxis_multiple, (X3,)),
    Case("diff_n2", t_diff_n2, (X2,), order=2),
    Case("tril_negative_k", t_tril_negative_k, (X2,)),
    Case("diagonal_offset", t_diagonal_offset, (X2[:, :3],)),
    Case("roll_negative", t_roll_negative, (X2,), order=2),
    Case("split_unequal", t_split_unequal, (X2,)),
    Case("prod_with_zero", t_prod_with_zero, (WITH_ZERO,), order=2),
    Case("prod_with_two_zeros", t_prod_with_two_zeros, (WITH_TWO_ZEROS,)),
    Case("cumprod_with_zero", t_cumprod_with_zero, (WITH_ZERO,)),
    Case("det_singular", t_det_singular, (SINGULAR,)),
]


@pytest.mark.parametrize("case", params(CASES))
def test_torch_sample(case):
    check(case)
