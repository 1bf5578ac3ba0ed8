"""Array methods (HIPS/autograd tests/test_numpy.py's method variants: ``x.reshape``,
``x.sum``, ``x.clip`` ...), and NumPy calls that write into an existing array (``out=``,
``np.copyto``, ``np.put``, ``np.add.at``, ``y.sort()``, ``y.fill()``), which autograd refuses
(boxes cannot be written into) and sourcegrad must either follow or refuse."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(83)
X = np.array([0.8, -2.0, 0.3])
M = R.standard_normal((3, 3))
T = R.standard_normal((2, 3, 4))

# ------------------------------------------------------------------ methods


def m_clip(x):
    return np.sum(x.clip(-0.5, 0.5) ** 2)


def m_cumsum(m):
    return np.sum(m.cumsum(axis=0) ** 2)


def m_std_axis(m):
    return np.sum(m.std(axis=1))


def m_var_ddof(m):
    return np.sum(m.var(axis=0, ddof=1))


def m_min_axis(m):
    return np.sum(m.min(axis=0) ** 2)


def m_prod_axis(m):
    return np.sum(m.prod(axis=1))


def m_flatten(m):
    return np.sum(m.flatten() * np.arange(9.0))


def m_squeeze(m):
    return np.sum(m[None].squeeze() ** 2)


def m_repeat(x):
    return np.sum(x.repeat(2) * np.arange(6.0))


def m_take(x):
    return np.sum(x.take([0, 0, 2]) ** 2)


def m_trace(m):
    return m.trace() ** 2


def m_diagonal(m):
    return np.sum(m.diagonal() ** 2)


def m_swapaxes(t):
    return np.sum(t.swapaxes(0, 1) * np.arange(24.0).reshape(3, 2, 4))


def m_round(x):
    return np.sum(x.round() + x**2)


def m_argmax(m):
    i = m.argmax(axis=1)
    return np.sum(m[np.arange(3), i] ** 2)


def m_any(x):
    return np.sum(x**2) if (x > 1).any() else np.sum(x)


def m_cumprod(x):
    return np.sum(x.cumprod())


def m_dot_chain(m, x):
    return m.dot(x).dot(x)


def m_max_all(m):
    return m.max() * m.min()


def m_transpose_args(t):
    return np.sum(t.transpose(1, 0, 2) * np.arange(24.0).reshape(3, 2, 4))


def m_nonzero(x):
    idx = x.nonzero()
    return np.sum(x[idx] ** 2)


def m_size_ndim(m):
    return np.sum(m) * m.size * m.ndim


def m_conj(x):
    return np.sum(x.conj() * x)


def m_real(x):
    return np.sum(x.real * x)


# ------------------------------------------------------------------ writes into arrays


def w_ufunc_out(x):
    y = np.empty(3)
    np.exp(x, out=y)
    return np.sum(y)


def w_add_out(x):
    y = np.zeros(3)
    np.add(x, 1.0, out=y)
    return np.sum(y**2)


def w_clip_out(x):
    y = x * 1.0
    np.clip(y, -0.5, 0.5, out=y)
    return np.sum(y**2)


def w_copyto(x):
    y = np.zeros(3)
    np.copyto(y, x)
    return np.sum(y**2)


def w_put(x):
    y = x * 1.0
    np.put(y, [0], 5.0)  # REFUSED
    return np.sum(y**2)


def w_sort_method(x):
    y = x.copy()
    y.sort()
    return np.sum(y * np.arange(3.0))


def w_fill_method(x):
    y = x * 2.0
    y.fill(1.0)
    return np.sum(y * x)


def w_flat(x):
    y = x * 1.0
    y.flat[0] = 3.0  # REFUSED
    return np.sum(y**2)


CASES = [
    Case("clip", m_clip, (X,), order=2),
    Case("cumsum_axis", m_cumsum, (M,), order=2),
    Case("std_axis", m_std_axis, (M,), order=2),
    Case("var_ddof", m_var_ddof, (M,), order=2),
    Case("min_axis", m_min_axis, (M,)),
    Case("prod_axis", m_prod_axis, (M,), order=2),
    Case("flatten", m_flatten, (M,), order=2),
    Case("squeeze", m_squeeze, (M,), order=2),
    Case("repeat", m_repeat, (X,), order=2),
    Case("take", m_take, (X,), order=2),
    Case("trace", m_trace, (M,), order=2),
    Case("diagonal", m_diagonal, (M,), order=2),
    Case("swapaxes", m_swapaxes, (T,), order=2),
    Case("round", m_round, (X,), order=2),
    Case("argmax_rows", m_argmax, (M,), order=2),
    Case("any", m_any, (X,), order=2),
    Case("cumprod", m_cumprod, (X,), order=2),
    Case("dot_chain", m_dot_chain, (M, X), wrt=(0, 1), order=2),
    Case("max_times_min", m_max_all, (M,)),
    Case("transpose_args", m_transpose_args, (T,), order=2),
    Case("nonzero", m_nonzero, (X,), order=2),
    Case("size_ndim", m_size_ndim, (M,), order=2),
    Case("conj_method", m_conj, (X,), order=2),
    Case("real_attribute", m_real, (X,), order=2),
    Case("ufunc_out", w_ufunc_out, (X,), order=2),
    Case("add_out", w_add_out, (X,), order=2),
    Case("clip_out_self", w_clip_out, (X,), order=2),
    Case("copyto", w_copyto, (X,), order=2),
    Case("put", w_put, (X,), refused=(sg.UnsupportedSyntaxError, "`y[idx] = v`")),
    Case("sort_method", w_sort_method, (X,), order=2),
    Case("fill_method", w_fill_method, (X,), order=2),
    Case("flat_write", w_flat, (X,), refused=(sg.UnsupportedSyntaxError, "named array")),
]


@pytest.mark.parametrize("case", params(CASES))
def test_method_or_write(case):
    check(case)
