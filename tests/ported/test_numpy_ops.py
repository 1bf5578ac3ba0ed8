"""NumPy operations, ported from HIPS/autograd tests/test_systematic.py and tests/test_numpy.py
(unary and binary ufuncs with broadcasting, reductions with axis/keepdims, shape functions,
indexing reads, array construction). Each output is reduced against fixed weights so that a
wrong gradient cannot cancel in the sum; second order (hvp) is checked where autograd's
``combo_check`` checks it (all of test_systematic)."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(11)
A = R.standard_normal((3, 4))
B = R.standard_normal((3, 4))
POS = R.uniform(0.5, 2.0, (3, 4))
UNIT = R.uniform(-0.8, 0.8, (3, 4))
BIG = R.uniform(1.2, 3.0, (3, 4))
V4 = R.standard_normal(4)
C31 = R.standard_normal((3, 1))
T = R.standard_normal((2, 3, 4))
WT = R.uniform(0.5, 1.5, (3, 4))
WT3 = R.uniform(0.5, 1.5, (2, 3, 4))

# ------------------------------------------------------------------ unary (test_systematic)


def u_exp(x):
    return np.sum(WT * np.exp(x))


def u_log(x):
    return np.sum(WT * np.log(x))


def u_log2(x):
    return np.sum(WT * np.log2(x))


def u_log10(x):
    return np.sum(WT * np.log10(x))


def u_log1p(x):
    return np.sum(WT * np.log1p(x))


def u_expm1(x):
    return np.sum(WT * np.expm1(x))


def u_sqrt(x):
    return np.sum(WT * np.sqrt(x))


def u_cbrt(x):
    return np.sum(WT * np.cbrt(x))


def u_square(x):
    return np.sum(WT * np.square(x))


def u_reciprocal(x):
    return np.sum(WT * np.reciprocal(x))


def u_sin(x):
    return np.sum(WT * np.sin(x))


def u_cos(x):
    return np.sum(WT * np.cos(x))


def u_tan(x):
    return np.sum(WT * np.tan(x))


def u_arcsin(x):
    return np.sum(WT * np.arcsin(x))


def u_arccos(x):
    return np.sum(WT * np.arccos(x))


def u_arctan(x):
    return np.sum(WT * np.arctan(x))


def u_sinh(x):
    return np.sum(WT * np.sinh(x))


def u_cosh(x):
    return np.sum(WT * np.cosh(x))


def u_tanh(x):
    return np.sum(WT * np.tanh(x))


def u_arcsinh(x):
    return np.sum(WT * np.arcsinh(x))


def u_arccosh(x):
    return np.sum(WT * np.arccosh(x))


def u_arctanh(x):
    return np.sum(WT * np.arctanh(x))


def u_abs(x):
    return np.sum(WT * np.abs(x))


def u_fabs(x):
    return np.sum(WT * np.fabs(x))


def u_absolute(x):
    return np.sum(WT * np.absolute(x))


def u_negative(x):
    return np.sum(WT * np.negative(x))


def u_sign(x):
    return np.sum(WT * np.sign(x) * x)


def u_deg2rad(x):
    return np.sum(WT * np.deg2rad(x))


def u_rad2deg(x):
    return np.sum(WT * np.rad2deg(x))


def u_floor_mix(x):
    return np.sum(WT * (np.floor(x) + x * x))


def u_sinc(x):
    return np.sum(WT * np.sinc(x))


def u_exp2(x):
    return np.sum(WT * np.exp2(x))


def u_nan_to_num(x):
    return np.sum(WT * np.nan_to_num(x))


def u_real(x):
    return np.sum(WT * np.real(x))


UNARY = [
    Case("exp", u_exp, (A,), order=2),
    Case("log", u_log, (POS,), order=2),
    Case("log2", u_log2, (POS,), order=2),
    Case("log10", u_log10, (POS,), order=2),
    Case("log1p", u_log1p, (POS,), order=2),
    Case("expm1", u_expm1, (A,), order=2),
    Case("sqrt", u_sqrt, (POS,), order=2),
    Case("cbrt", u_cbrt, (POS,), order=2),
    Case("square", u_square, (A,), order=2),
    Case("reciprocal", u_reciprocal, (POS,), order=2),
    Case("sin", u_sin, (A,), order=2),
    Case("cos", u_cos, (A,), order=2),
    Case("tan", u_tan, (UNIT,), order=2),
    Case("arcsin", u_arcsin, (UNIT,), order=2),
    Case("arccos", u_arccos, (UNIT,), order=2),
    Case("arctan", u_arctan, (A,), order=2),
    Case("sinh", u_sinh, (A,), order=2),
    Case("cosh", u_cosh, (A,), order=2),
    Case("tanh", u_tanh, (A,), order=2),
    Case("arcsinh", u_arcsinh, (A,), order=2),
    Case("arccosh", u_arccosh, (BIG,), order=2),
    Case("arctanh", u_arctanh, (UNIT,), order=2),
    Case("abs", u_abs, (A,), order=2),
    Case("fabs", u_fabs, (A,)),
    Case("absolute", u_absolute, (A,)),
    Case("negative", u_negative, (A,), order=2),
    Case("sign", u_sign, (A,)),
    Case("deg2rad", u_deg2rad, (A,)),
    Case("rad2deg", u_rad2deg, (A,)),
    Case("floor_mix", u_floor_mix, (A,), order=2),
    Case("sinc", u_sinc, (A,)),
    Case("exp2", u_exp2, (A,)),
    Case("nan_to_num", u_nan_to_num, (A,)),
    Case("real", u_real, (A,), order=2),
]

# ------------------------------------------------------------------ binary, broadcasting


def b_add(x, y):
    return np.sum(WT * np.sin(x + y))


def b_sub(x, y):
    return np.sum(WT * np.sin(x - y))


def b_mul(x, y):
    return np.sum(WT * (x * y))


def b_div(x, y):
    return np.sum(WT * (x / y))


def b_pow(x, y):
    return np.sum(WT * (x**y))


def b_power(x, y):
    return np.sum(WT * np.power(x, y))


def b_maximum(x, y):
    return np.sum(WT * np.maximum(x, y))


def b_minimum(x, y):
    return np.sum(WT * np.minimum(x, y))


def b_fmax(x, y):
    return np.sum(WT * np.fmax(x, y))


def b_fmin(x, y):
    return np.sum(WT * np.fmin(x, y))


def b_arctan2(x, y):
    return np.sum(WT * np.arctan2(x, y))


def b_hypot(x, y):
    return np.sum(WT * np.hypot(x, y))


def b_logaddexp(x, y):
    return np.sum(WT * np.logaddexp(x, y))


def b_logaddexp2(x, y):
    return np.sum(WT * np.logaddexp2(x, y))


def b_true_divide(x, y):
    return np.sum(WT * np.true_divide(x, y))


def b_mod(x, y):
    return np.sum(WT * np.mod(x, y))


def b_fmod(x, y):
    return np.sum(WT * np.fmod(x, y))


def b_remainder(x, y):
    return np.sum(WT * np.remainder(x, y))


def b_copysign(x, y):
    return np.sum(WT * np.copysign(x, y))


def b_add_fn(x, y):
    return np.sum(WT * np.add(x, y) * np.subtract(x, y) * np.multiply(x, y))


def b_divide_fn(x, y):
    return np.sum(WT * np.divide(x, y))


BINARY = [
    Case("add_bcast_row", b_add, (A, V4), wrt=(0, 1), order=2),
    Case("add_bcast_col", b_add, (A, C31), wrt=(0, 1), order=2),
    Case("sub_scalar_float", b_sub, (A, 0.3), wrt=(0, 1), order=2),
    Case("mul_bcast", b_mul, (C31, V4), wrt=(0, 1), order=2),
    Case("mul_same", b_mul, (A, B), wrt=(0, 1), order=2),
    Case("div_bcast", b_div, (A, POS[0]), wrt=(0, 1), order=2),
    Case("pow_pos", b_pow, (POS, B), wrt=(0, 1), order=2),
    Case("pow_float_exp", b_pow, (POS, 2.5), wrt=(0, 1), order=2),
    Case("power_fn", b_power, (POS, V4), wrt=(0, 1), order=2),
    Case("maximum", b_maximum, (A, B), wrt=(0, 1), order=2),
    Case("minimum_bcast", b_minimum, (A, V4), wrt=(0, 1)),
    Case("fmax", b_fmax, (A, B), wrt=(0, 1)),
    Case("fmin", b_fmin, (A, B), wrt=(0, 1)),
    Case("arctan2", b_arctan2, (A, B), wrt=(0, 1), order=2),
    Case("hypot", b_hypot, (A, B), wrt=(0, 1), order=2),
    Case("logaddexp", b_logaddexp, (A, B), wrt=(0, 1), order=2),
    Case("logaddexp2", b_logaddexp2, (A, B), wrt=(0, 1)),
    Case("true_divide", b_true_divide, (A, POS), wrt=(0, 1)),
    Case("mod", b_mod, (A * 3, POS), wrt=(0, 1)),
    Case("fmod", b_fmod, (A * 3, POS), wrt=(0, 1)),
    Case("remainder", b_remainder, (A * 3, POS), wrt=(0, 1)),
    Case("copysign", b_copysign, (A, B), wrt=(0, 1), order=2),
    Case("add_sub_mul_fns", b_add_fn, (A, B), wrt=(0, 1), order=2),
    Case("divide_fn", b_divide_fn, (A, POS), wrt=(0, 1)),
]

# ------------------------------------------------------------------ reductions


def r_sum(x):
    return np.sum(np.sin(np.sum(x)))


def r_sum_axis0(x):
    return np.sum(WT[0] * np.sum(x, axis=0) ** 2)


def r_sum_axis1_keep(x):
    return np.sum(WT * np.sum(x, axis=1, keepdims=True) ** 2)


def r_sum_axes(x):
    return np.sum(WT3[:, 0, 0] * np.sum(x, axis=(1, 2)) ** 2)


def r_sum_neg_axis(x):
    return np.sum(WT3[:, :, 0] * np.sum(x, axis=-1) ** 2)


def r_mean(x):
    return np.mean(x) ** 2


def r_mean_axis(x):
    return np.sum(WT[:, 0] * np.mean(x, axis=1) ** 2)


def r_mean_keep(x):
    return np.sum(WT * np.mean(x, axis=0, keepdims=True) ** 2)


def r_prod(x):
    return np.prod(x)


def r_prod_axis(x):
    return np.sum(WT[0] * np.prod(x, axis=0))


def r_prod_keep(x):
    return np.sum(WT * np.prod(x, axis=1, keepdims=True))


def r_max(x):
    return np.max(x)


def r_max_axis(x):
    return np.sum(WT[0] * np.max(x, axis=0))


def r_max_keep(x):
    return np.sum(WT * np.max(x, axis=1, keepdims=True))


def r_min_axis(x):
    return np.sum(WT[:, 0] * np.min(x, axis=1))


def r_amax(x):
    return np.amax(x) * np.amin(x)


def r_var(x):
    return np.var(x)


def r_var_axis(x):
    return np.sum(WT[0] * np.var(x, axis=0))


def r_var_ddof(x):
    return np.sum(WT[:, 0] * np.var(x, axis=1, ddof=1))


def r_std(x):
    return np.std(x)


def r_std_axis_keep(x):
    return np.sum(WT * np.std(x, axis=0, keepdims=True))


def r_std_ddof(x):
    return np.std(x, ddof=1)


def r_cumsum(x):
    return np.sum(WT.ravel() * np.cumsum(x) ** 2)


def r_cumsum_axis0(x):
    return np.sum(WT * np.cumsum(x, axis=0) ** 2)


def r_cumsum_axis1(x):
    return np.sum(WT * np.cumsum(x, axis=1) ** 2)


def r_cumprod(x):
    return np.sum(WT * np.cumprod(x, axis=1))


def r_method_sum(x):
    return (x.sum(axis=0) ** 2).sum()


def r_method_mean_max(x):
    return x.mean() * x.max() + x.min()


def r_method_prod(x):
    return x.prod()


def r_method_var_std(x):
    return x.var() + x.std()


def r_logsumexp(x):
    m = np.max(x, axis=1, keepdims=True)
    return np.sum(WT[:, 0] * (m[:, 0] + np.log(np.sum(np.exp(x - m), axis=1))))


def r_norm_like(x):
    return np.sqrt(np.sum(x * x))


def r_average(x):
    return np.average(x) ** 2


def r_nansum(x):
    return np.nansum(x**2)


def r_trace(x):
    return np.trace(x) ** 2


REDUCTIONS = [
    Case("sum", r_sum, (A,), order=2),
    Case("sum_axis0", r_sum_axis0, (A,), order=2),
    Case("sum_axis1_keepdims", r_sum_axis1_keep, (A,), order=2),
    Case("sum_axis_tuple", r_sum_axes, (T,), order=2),
    Case("sum_neg_axis", r_sum_neg_axis, (T,), order=2),
    Case("mean", r_mean, (A,), order=2),
    Case("mean_axis", r_mean_axis, (A,), order=2),
    Case("mean_keepdims", r_mean_keep, (A,), order=2),
    Case("prod", r_prod, (POS,), order=2),
    Case("prod_axis", r_prod_axis, (A,), order=2),
    Case("prod_keepdims", r_prod_keep, (A,)),
    Case("max", r_max, (A,)),
    Case("max_axis", r_max_axis, (A,)),
    Case("max_keepdims", r_max_keep, (A,)),
    Case("min_axis", r_min_axis, (A,)),
    Case("amax_amin", r_amax, (A,)),
    Case("var", r_var, (A,), order=2),
    Case("var_axis", r_var_axis, (A,), order=2),
    Case("var_ddof", r_var_ddof, (A,), order=2),
    Case("std", r_std, (A,), order=2),
    Case("std_axis_keepdims", r_std_axis_keep, (A,), order=2),
    Case("std_ddof", r_std_ddof, (A,), order=2),
    Case("cumsum", r_cumsum, (A,), order=2),
    Case("cumsum_axis0", r_cumsum_axis0, (A,), order=2),
    Case("cumsum_axis1", r_cumsum_axis1, (A,)),
    Case("cumprod", r_cumprod, (POS,)),
    Case("method_sum", r_method_sum, (A,), order=2),
    Case("method_mean_max_min", r_method_mean_max, (A,)),
    Case("method_prod", r_method_prod, (POS,)),
    Case("method_var_std", r_method_var_std, (A,), order=2),
    Case("logsumexp", r_logsumexp, (A,), order=2),
    Case("norm_like", r_norm_like, (A,), order=2),
    Case("average", r_average, (A,), order=2),
    Case("nansum", r_nansum, (A,), order=2),
    Case("trace", r_trace, (R.standard_normal((3, 3)),), order=2),
]

# ------------------------------------------------------------------ shapes (test_numpy)


def s_reshape_method(x):
    return np.sum(WT.reshape(2, 6) * np.sin(x.reshape((2, -1))))


def s_reshape_call(x):
    return np.sum(WT.reshape(6, 2) * np.sin(np.reshape(x, (6, 2))))


def s_reshape_nolist(x):
    return np.sum(WT.reshape(2, 6) * np.sin(x.reshape(2, 6)))


def s_ravel(x):
    return np.sum(WT.ravel() * np.sin(x.ravel()))


def s_ravel_call(x):
    return np.sum(WT.ravel() * np.sin(np.ravel(x)))


def s_flatten(x):
    return np.sum(WT.ravel() * np.sin(x.flatten()))


def s_transpose(x):
    return np.sum(WT3.transpose(2, 0, 1) * np.sin(np.transpose(x, (2, 0, 1))))


def s_T(x):
    return np.sum(WT.T * np.sin(x.T))


def s_swapaxes(x):
    return np.sum(WT3.swapaxes(0, 2) * np.sin(np.swapaxes(x, 0, 2)))


def s_moveaxis(x):
    return np.sum(np.moveaxis(WT3, 0, -1) * np.sin(np.moveaxis(x, 0, -1)))


def s_squeeze(x):
    return np.sum(WT[:, 0] * np.sin(np.squeeze(x)))


def s_squeeze_method(x):
    return np.sum(WT[:, 0] * np.sin(x.squeeze(axis=1)))


def s_expand_dims(x):
    return np.sum(WT[:, None, :] * np.sin(np.expand_dims(x, 1)))


def s_concat0(x, y):
    return np.sum(np.sin(np.concatenate([x, y], axis=0)) * np.concatenate([WT, WT]))


def s_concat1(x, y):
    return np.sum(np.sin(np.concatenate((x, y), axis=1)) * np.concatenate([WT, WT], axis=1))


def s_stack(x, y):
    return np.sum(WT3 * np.sin(np.stack([x, y])))


def s_stack_axis(x, y):
    return np.sum(np.stack([WT, WT], axis=2) * np.sin(np.stack([x, y], axis=2)))


def s_hstack(x, y):
    return np.sum(np.hstack([WT, WT]) * np.sin(np.hstack([x, y])))


def s_vstack(x, y):
    return np.sum(np.vstack([WT, WT]) * np.sin(np.vstack([x, y])))


def s_append(x, y):
    return np.sum(np.sin(np.append(x, y)))


def s_split(x):
    a, b = np.split(x, 2, axis=1)
    return np.sum(a * np.sin(b))


def s_tile(x):
    return np.sum(np.tile(WT, (2, 1)) * np.sin(np.tile(x, (2, 1))))


def s_repeat(x):
    return np.sum(np.repeat(WT, 2, axis=0) * np.sin(np.repeat(x, 2, axis=0)))


def s_flip(x):
    return np.sum(WT * np.sin(np.flip(x, axis=1)))


def s_flipud(x):
    return np.sum(WT * np.sin(np.flipud(x)))


def s_fliplr(x):
    return np.sum(WT * np.sin(np.fliplr(x)))


def s_rot90(x):
    return np.sum(np.rot90(WT) * np.sin(np.rot90(x)))


def s_roll(x):
    return np.sum(WT * np.sin(np.roll(x, 2, axis=1)))


def s_roll_noaxis(x):
    return np.sum(WT * np.sin(np.roll(x, 3)))


def s_pad(x):
    return np.sum(np.sin(np.pad(x, ((1, 0), (0, 2)))) ** 2)


def s_broadcast_to(x):
    return np.sum(WT * np.sin(np.broadcast_to(x, (3, 4))))


def s_triu(x):
    return np.sum(WT * np.sin(np.triu(x)))


def s_tril(x):
    return np.sum(WT * np.sin(np.tril(x, k=-1)))


def s_diag(x):
    return np.sum(np.sin(np.diag(x)) ** 2)


def s_diag_make(x):
    return np.sum(np.sin(np.diag(x)) ** 2)


def s_diagonal(x):
    return np.sum(np.diagonal(x) ** 3)


def s_clip(x):
    return np.sum(WT * np.clip(x, -0.5, 0.7) ** 2)


def s_where(x, y):
    return np.sum(WT * np.where(x > 0, x * y, np.sin(y)))


def s_atleast_2d(x):
    return np.sum(np.atleast_2d(x) ** 2)


def s_astype(x):
    return np.sum(WT * x.astype(np.float64) ** 2)


def s_copy(x):
    y = x.copy()
    return np.sum(WT * y**2)


SHAPES = [
    Case("reshape_method", s_reshape_method, (A,), order=2),
    Case("reshape_call", s_reshape_call, (A,)),
    Case("reshape_nolist", s_reshape_nolist, (A,)),
    Case("ravel_method", s_ravel, (A,), order=2),
    Case("ravel_call", s_ravel_call, (A,)),
    Case("flatten_method", s_flatten, (A,)),
    Case("transpose_axes", s_transpose, (T,), order=2),
    Case("T", s_T, (A,)),
    Case("swapaxes", s_swapaxes, (T,)),
    Case("moveaxis", s_moveaxis, (T,)),
    Case("squeeze", s_squeeze, (C31,)),
    Case("squeeze_method_axis", s_squeeze_method, (C31,)),
    Case("expand_dims", s_expand_dims, (A,)),
    Case("concatenate_axis0", s_concat0, (A, B), wrt=(0, 1), order=2),
    Case("concatenate_axis1", s_concat1, (A, B), wrt=(0, 1)),
    Case("stack", s_stack, (A, B), wrt=(0, 1), order=2),
    Case("stack_axis2", s_stack_axis, (A, B), wrt=(0, 1)),
    Case("hstack", s_hstack, (A, B), wrt=(0, 1)),
    Case("vstack", s_vstack, (A, B), wrt=(0, 1)),
    Case("append", s_append, (A, V4), wrt=(0, 1)),
    Case("split", s_split, (A,), order=2),
    Case("tile", s_tile, (A,)),
    Case("repeat", s_repeat, (A,)),
    Case("flip", s_flip, (A,)),
    Case("flipud", s_flipud, (A,)),
    Case("fliplr", s_fliplr, (A,)),
    Case("rot90", s_rot90, (A,)),
    Case("roll", s_roll, (A,)),
    Case("roll_no_axis", s_roll_noaxis, (A,)),
    Case("pad", s_pad, (A,), order=2),
    Case("broadcast_to", s_broadcast_to, (V4,)),
    Case("triu", s_triu, (A,)),
    Case("tril", s_tril, (A,)),
    Case("diag_of_matrix", s_diag, (R.standard_normal((3, 3)),)),
    Case("diag_make_matrix", s_diag_make, (V4,)),
    Case("diagonal", s_diagonal, (R.standard_normal((3, 3)),)),
    Case("clip", s_clip, (A,), order=2),
    Case("where", s_where, (A, B), wrt=(0, 1), order=2),
    Case("atleast_2d", s_atleast_2d, (V4,)),
    Case("astype_float", s_astype, (A,)),
    Case("copy", s_copy, (A,)),
]

# ------------------------------------------------------------------ products


def p_dot(x, y):
    return np.sum(np.sin(np.dot(x, y)))


def p_dot_float(x, y):
    return np.sum(np.dot(x, y) ** 2)


def p_matmul(x, y):
    return np.sum(np.sin(x @ y))


def p_matmul_vec(x, y):
    return np.sum(np.sin(x @ y))


def p_matmul_batch(x, y):
    return np.sum(np.sin(np.matmul(x, y)))


def p_outer(x, y):
    return np.sum(WT * np.sin(np.outer(x, y)))


def p_inner(x, y):
    return np.inner(x, y) ** 2


def p_tensordot(x, y):
    return np.sum(np.sin(np.tensordot(x, y, axes=([1, 2], [0, 1]))))


def p_tensordot_int(x, y):
    return np.sum(np.sin(np.tensordot(x, y, 2)))


def p_einsum_ij_jk(x, y):
    return np.sum(np.sin(np.einsum("ij,jk->ik", x, y)))


def p_einsum_trace(x):
    return np.einsum("ii", x) ** 2


def p_einsum_batch(x, y):
    return np.sum(np.sin(np.einsum("bij,bjk->bik", x, y)))


def p_einsum_outer(x, y):
    return np.sum(WT * np.sin(np.einsum("i,j->ij", x, y)))


def p_vdot(x, y):
    return np.vdot(x, y) ** 2


def p_kron(x, y):
    return np.sum(np.sin(np.kron(x, y)))


def p_cross(x, y):
    return np.sum(np.sin(np.cross(x, y)))


M33 = R.standard_normal((3, 3))
M42 = R.standard_normal((4, 2))
PRODUCTS = [
    Case("dot_2d", p_dot, (A, M42), wrt=(0, 1), order=2),
    Case("dot_mat_vec", p_dot, (A, V4), wrt=(0, 1)),
    Case("dot_with_float", p_dot_float, (A, 2.5), wrt=(0, 1)),
    Case("matmul", p_matmul, (A, M42), wrt=(0, 1), order=2),
    Case("matmul_vec_mat", p_matmul_vec, (A[:, 0], A), wrt=(0, 1)),
    Case("matmul_batch_bcast", p_matmul_batch, (T, M42), wrt=(0, 1)),
    Case("outer", p_outer, (A[:, 0], V4), wrt=(0, 1), order=2),
    Case("inner", p_inner, (V4, A[0]), wrt=(0, 1), order=2),
    Case("tensordot_axes_lists", p_tensordot, (T, A), wrt=(0, 1)),
    Case("tensordot_int", p_tensordot_int, (T, A), wrt=(0, 1)),
    Case("einsum_matmul", p_einsum_ij_jk, (A, M42), wrt=(0, 1), order=2),
    Case("einsum_trace", p_einsum_trace, (M33,)),
    Case("einsum_batch", p_einsum_batch, (T, R.standard_normal((2, 4, 2))), wrt=(0, 1)),
    Case("einsum_outer", p_einsum_outer, (A[:, 0], V4), wrt=(0, 1)),
    Case("vdot", p_vdot, (A, B), wrt=(0, 1), order=2),
    Case("kron", p_kron, (R.standard_normal((2, 2)), M33), wrt=(0, 1)),
    Case("cross", p_cross, (M33, R.standard_normal((3, 3))), wrt=(0, 1)),
]

# ------------------------------------------------------------------ indexing reads


def i_int(x):
    return np.sum(np.sin(x[1]))


def i_neg_int(x):
    return np.sum(np.sin(x[-1, -2]))


def i_slice(x):
    return np.sum(np.sin(x[1:3, ::2]))


def i_lists(x):
    return np.sum(np.sin(x[[0, 2, 2]]))


def i_mixed(x):
    return np.sum(np.sin(x[[0, 2], 1:]))


def i_fancy_pairs(x):
    return np.sum(np.sin(x[[0, 1, 2, 0], [3, 2, 1, 3]]))


def i_slice_fanout(x):
    a = x[1:]
    b = x[:-1]
    return np.sum(a * b)


def i_multiple_slices(x):
    return np.sum(x[0:2] * x[1:3])


def i_bool_mask(x):
    return np.sum(np.sin(x[x > 0]))


def i_newaxis(x):
    return np.sum(np.sin(x[:, None, :] * x[None, :, :]))


def i_ellipsis(x):
    return np.sum(np.sin(x[..., 1]))


def i_extended_slice(x):
    return np.sum(x[::2, np.newaxis] ** 2)


def i_take(x):
    return np.sum(np.sin(np.take(x, [0, 3, 3], axis=1)))


def i_take_along(x):
    idx = np.argsort(x, axis=1)
    return np.sum(WT * np.sin(np.take_along_axis(x, idx, axis=1)))


def i_argmax_pick(x):
    k = np.argmax(x)
    return x.ravel()[k] ** 2


def i_array_index(x):
    idx = np.array([2, 0, 1, 2])
    return np.sum(np.sin(x[idx]))


INDEXING = [
    Case("index_int", i_int, (A,), order=2),
    Case("index_neg_ints", i_neg_int, (A,)),
    Case("index_slice_step", i_slice, (A,), order=2),
    Case("index_list_repeats", i_lists, (A,), order=2),
    Case("index_list_and_slice", i_mixed, (A,)),
    Case("index_fancy_pairs", i_fancy_pairs, (A,)),
    Case("index_slice_fanout", i_slice_fanout, (V4,), order=2),
    Case("index_multiple_slices", i_multiple_slices, (V4,)),
    Case("index_bool_mask", i_bool_mask, (A,)),
    Case("index_newaxis", i_newaxis, (A,)),
    Case("index_ellipsis", i_ellipsis, (T,)),
    Case("index_extended_slice", i_extended_slice, (A,)),
    Case("take", i_take, (A,)),
    Case("take_along_axis", i_take_along, (A,)),
    Case("argmax_pick", i_argmax_pick, (A,)),
    Case("index_int_array", i_array_index, (A,)),
]

# ------------------------------------------------------------------ construction


def c_1d_array(x):
    return np.sum(np.array([x, x * 1.0, x * 2.0]) ** 2)


def c_2d_array(x):
    return np.sum(np.array([[x, x * 2.0, x * 3.0], [x, 1.0, 0.5]]) ** 2)


def c_array_fanout(x):
    a = np.array([x, x])
    return np.sum(a * a)


def c_array_from_arrays(x):
    return np.sum(np.sin(np.array([x[0], x[1]])))


def c_rotation(t):
    m = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return np.sum(m @ np.array([1.0, 2.0]))


def c_full(x):
    return np.sum(np.full((2, 3), x) ** 2)


def c_full_like(x):
    return np.sum(np.full_like(WT, x) * WT)


def c_zeros_plus(x):
    return np.sum((np.zeros((3, 4)) + x) ** 2 + np.ones_like(x) * x)


def c_asarray(x):
    return np.sum(np.asarray(x) ** 2)


def c_list_sum(x):
    return np.sum([x, x * 2.0])


CONSTRUCTION = [
    Case("array_1d_of_floats", c_1d_array, (0.7,), order=2),
    Case("array_2d_of_floats", c_2d_array, (0.7,)),
    Case("array_fanout", c_array_fanout, (0.7,)),
    Case("array_from_arrays", c_array_from_arrays, (A,)),
    Case("array_rotation", c_rotation, (0.4,), order=2),
    Case("full", c_full, (0.7,)),
    Case("full_like", c_full_like, (0.7,)),
    Case("zeros_plus", c_zeros_plus, (A,)),
    Case("asarray", c_asarray, (A,)),
    Case("np_sum_of_list", c_list_sum, (A,)),
]


# ------------------------------------------------------------------ edge points (autograd's
# test_prod_4 has a zero entry; np.where with one argument; 0-d arrays)


def e_prod_zero(x):
    return np.prod(x)


def e_prod_axis_zero(x):
    return np.sum(np.prod(x, axis=1))


def e_where_one_arg(x):
    idx = np.where(x > 0)[0]
    return np.sum(idx * 1.0) + np.sum(x**2)


def e_zero_d(a):
    return np.sin(a) * a


def e_abs_at_zero(x):
    return np.sum(np.abs(x))


def e_maximum_tie(x):
    return np.sum(np.maximum(x, 0.5))


def e_where_nan_branch(x):
    return np.sum(np.where(x > 0, np.log(np.abs(x)), x))


def e_empty(x):
    return np.sum(x) + 1.0


EDGES = [
    Case("prod_with_zero_entry", e_prod_zero, (np.array([0.0, 2.0, 3.0]),), order=2),
    Case(
        "prod_axis_with_zero_entry",
        e_prod_axis_zero,
        (np.array([[0.0, 2.0], [1.5, 3.0]]),),
        order=2,
    ),
    Case("where_one_argument", e_where_one_arg, (A,), order=2),
    Case("zero_d_array_arg", e_zero_d, (np.array(0.7),), order=2),
    Case("abs_at_zero", e_abs_at_zero, (np.array([0.0, 1.0, -1.0]),)),
    Case("maximum_tie", e_maximum_tie, (np.array([0.5, 1.0, -1.0]),)),
    Case("where_nan_in_unused_branch", e_where_nan_branch, (A,), order=2),
    Case("empty_array", e_empty, (np.zeros(0),), order=2),
]


# ------------------------------------------------------------------ more of test_numpy.py
# (diff, r_/c_, stacking, trace/triu/diag offsets, select, meshgrid, sorting, softmax)

W33 = np.arange(1.0, 10.0).reshape(3, 3)
X3 = np.array([0.9, -0.4, 1.3])
Y3 = np.array([0.5, -1.0, 2.0])


def n_diff(x):
    return np.sum(np.diff(x) ** 2)


def n_diff2(m):
    return np.sum(np.diff(m, n=2, axis=0) ** 2)


def n_r_(x, y):
    return np.sum(np.r_[x, y] ** 3)


def n_c_(x, y):
    return np.sum(np.c_[x, y] ** 3)


def n_column_stack(x, y):
    return np.sum(np.column_stack([x, y]) ** 3)


def n_dstack(m):
    return np.sum(np.dstack([m, m * 2]) ** 3)


def n_array_split(x):
    a, b = np.array_split(x, 2)
    return np.sum(a**2) * np.sum(b)


def n_trace_offset(m):
    return np.trace(m, offset=1) ** 2


def n_triu_k(m):
    return np.sum(np.triu(m, k=1) ** 2 * W33)


def n_diag_k(x):
    return np.sum(np.diag(x, k=1) ** 2)


def n_select(x):
    return np.sum(np.select([x < 0, x > 1], [x**2, np.sin(x)], default=x))


def n_interp(x):
    return np.sum(np.interp(np.array([0.5, 1.5]), np.array([0.0, 1.0, 2.0]), x) ** 2)


def n_convolve(x, k):
    return np.sum(np.convolve(x, k) ** 2)


def n_meshgrid(x, y):
    a, b = np.meshgrid(x, y)
    return np.sum(a * b**2)


def n_squeeze_axis(m):
    return np.sum(np.squeeze(m[:, None, :], axis=1) ** 2)


def n_atleast_3d(x):
    return np.sum(np.atleast_3d(x) ** 2)


def n_sum_dtype(x):
    return np.sum(x**2, dtype=np.float64)


def n_mean_where(m):
    return np.mean(m**2, axis=(0, 1))


def n_softplus(x):
    return np.sum(np.logaddexp(0.0, x))


def n_sigmoid(x):
    return np.sum(1.0 / (1.0 + np.exp(-x)))


def n_matrix_vector_broadcast(m, x):
    return np.sum((m * x[:, None] - x) ** 2)


def n_swap_T_matmul(m):
    return np.sum(m.T @ m.T)


def n_ravel_F(m):
    return np.sum(m.ravel(order="F") * np.arange(9.0))  # REFUSED


def n_transpose_noargs(t):
    return np.sum(np.transpose(t) * np.arange(24.0).reshape(4, 3, 2))


def n_outer_flat(m):
    return np.sum(np.outer(m, m))


def n_inner_2d(m):
    return np.sum(np.inner(m, m))


def n_dot_3d(t, m):
    return np.sum(np.dot(t, m) ** 2)


def n_sum_bool(x):
    return np.sum(x > 0) * np.sum(x)


def n_count(x):
    return np.count_nonzero(x > 0) * np.sum(x**2)


def n_cumsum_rev_axis(m):
    return np.sum(np.flip(np.cumsum(np.flip(m, 0), 0), 0) ** 2)


def n_heaviside(x):
    return np.sum(np.heaviside(x, 0.5) * x**2)


def n_median(x):
    return np.median(x) ** 2


def n_sort_axis0(m):
    return np.sum(np.sort(m, axis=0) * W33)


def n_argsort_take(x):
    return np.sum(x[np.argsort(x)] * np.arange(3.0))


def n_isclose(x):
    return np.sum(np.where(np.isclose(x, 0.0), 0.0, x**2))


def n_log_softmax(m):
    return np.sum((m - np.log(np.sum(np.exp(m), axis=1, keepdims=True))) * W33)


MORE = [
    Case("diff", n_diff, (X3,), order=2),
    Case("diff_n2_axis0", n_diff2, (A,), order=2),
    Case(
        "r_",
        n_r_,
        (X3, Y3),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "c_",
        n_c_,
        (X3, Y3),
        wrt=(0, 1),
        order=2,
    ),
    Case("column_stack", n_column_stack, (X3, Y3), wrt=(0, 1), order=2),
    Case("dstack", n_dstack, (M33,), order=2),
    Case("array_split", n_array_split, (np.arange(5.0) - 2.2,), order=2),
    Case("trace_offset", n_trace_offset, (M33,), order=2),
    Case("triu_k", n_triu_k, (M33,), order=2),
    Case("diag_k", n_diag_k, (X3,), order=2),
    Case("select", n_select, (np.array([-0.5, 0.5, 1.5]),), order=2),
    Case("interp", n_interp, (X3,), order=2),
    Case("convolve", n_convolve, (X3, Y3[:2]), wrt=(0, 1), order=2),
    Case(
        "meshgrid",
        n_meshgrid,
        (X3, Y3),
        wrt=(0, 1),
        order=2,
    ),
    Case("squeeze_axis", n_squeeze_axis, (M33,), order=2),
    Case("atleast_3d", n_atleast_3d, (X3,), order=2),
    Case("sum_dtype", n_sum_dtype, (X3,), order=2),
    Case("mean_axes_tuple", n_mean_where, (M33,), order=2),
    Case("softplus", n_softplus, (X3,), order=2),
    Case("sigmoid", n_sigmoid, (X3,), order=2),
    Case("matrix_vector_bcast", n_matrix_vector_broadcast, (M33, X3), wrt=(0, 1), order=2),
    Case("T_matmul_T", n_swap_T_matmul, (M33,), order=2),
    Case("ravel_order_F", n_ravel_F, (M33,), refused=(sg.NoRuleError, "transpose explicitly")),
    Case("transpose_no_axes", n_transpose_noargs, (T,), order=2),
    Case("outer_of_matrices", n_outer_flat, (M33,), order=2),
    Case("inner_2d", n_inner_2d, (M33,), order=2),
    Case("dot_3d_2d", n_dot_3d, (R.standard_normal((2, 3, 3)), M33), wrt=(0, 1), order=2),
    Case("sum_of_bool", n_sum_bool, (X3,), order=2),
    Case("count_nonzero", n_count, (X3,), order=2),
    Case("reverse_cumsum", n_cumsum_rev_axis, (M33,), order=2),
    Case("heaviside", n_heaviside, (X3,), order=2),
    Case("median", n_median, (X3,), order=2),
    Case("sort_axis0", n_sort_axis0, (M33,)),
    Case("argsort_take", n_argsort_take, (X3,), order=2),
    Case("isclose", n_isclose, (X3,), order=2),
    Case("log_softmax", n_log_softmax, (M33,), order=2),
]

ALL = UNARY + BINARY + REDUCTIONS + SHAPES + PRODUCTS + INDEXING + CONSTRUCTION + EDGES + MORE


@pytest.mark.parametrize("case", params(ALL))
def test_numpy_op(case):
    check(case)
