"""Rules added for code found in models and tutorials: ``np.median``, ``np.quantile`` and
``np.percentile`` (linear interpolation, ``axis``, ``keepdims``), ``np.average`` (weights),
``np.nansum``, ``np.nanmean``, ``np.vdot``, ``np.copysign``, the ufuncs' ``reduce`` and
``accumulate`` methods (``np.logaddexp.reduce``, ...), ``np.convolve`` and
``np.correlate`` in every mode, and ``scipy.linalg``'s Cholesky factors and triangular solves
(``cholesky``, ``cho_factor``, ``cho_solve``, ``solve_triangular``) as a Gaussian process's
negative log likelihood is written. Checked against Python's value and central differences on
repeated calls, to second order."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

sla = pytest.importorskip("scipy.linalg", reason="scipy is optional: its rules need it")

R = np.random.default_rng(41)


def r(*shape):
    return R.standard_normal(shape)


def medians(x):
    return np.median(x) ** 2 + np.sum(np.median(x.reshape(2, 3), axis=1) * [1.0, 2.0])


def quantiles(x):
    both = np.quantile(x, [0.1, 0.7])
    cols = np.quantile(x.reshape(2, 3), 0.3, axis=0, keepdims=True)
    return np.sum(both**2) + np.percentile(x, 35.0) + np.sum(cols * [1.0, 2.0, 3.0])


def convolutions(a, v):
    full = np.sum(np.convolve(a, v) ** 2)
    same = np.sum(np.convolve(a, v, "same") * np.arange(6.0))
    return full + same + np.sum(np.convolve(v, a, "valid") ** 3)


def correlations(a, v):
    valid = np.sum(np.correlate(a, v) ** 2)
    full = np.sum(np.correlate(a, v, "full") * np.arange(8.0))
    return valid + full + np.sum(np.correlate(v, a, "same") ** 3)


def averages(a, w):
    plain = np.average(a) ** 2
    weighted = np.average(a, weights=w) * 3.0
    rows = np.average(a.reshape(2, 3), axis=1, weights=w[:3])
    return plain + weighted + np.sum(rows**2)


def nan_skipping(a):
    b = np.where(a > 0.5, np.nan, a)
    by_column = np.nanmean(b.reshape(2, 3), axis=0)
    return np.nansum(b**2) + np.nanmean(b) * 2.0 + np.sum(by_column**2)


def vdots(a, b):
    return np.vdot(a, b) ** 2 + np.vdot(a.reshape(2, 3), b.reshape(3, 2))


def copysigns(a, b):
    return np.sum(np.copysign(a, b) ** 3)


def ufunc_reductions(m):
    lse = np.sum(np.logaddexp.reduce(m, axis=1) ** 2)
    columns = np.sum(np.add.reduce(m) * np.arange(3.0)) + np.sum(np.multiply.reduce(m, axis=1))
    running = np.sum(np.add.accumulate(m, axis=1) ** 2) + np.add.reduce(m, None)
    extremes = np.sum(np.maximum.reduce(m)) + np.sum(np.minimum.reduce(m * 2.0, axis=1))
    return lse + columns + running + extremes


def gp_nll(log_ls, X, y):
    ls = np.exp(log_ls)
    d2 = np.sum((X[:, None, :] - X[None, :, :]) ** 2 / ls**2, axis=-1)
    K = np.exp(-0.5 * d2) + 1e-1 * np.eye(X.shape[0])
    c = sla.cho_factor(K, lower=True)
    alpha = sla.cho_solve(c, y)
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(c[0])))


def gp_nll_upper(log_ls, X, y):
    ls = np.exp(log_ls)
    d2 = np.sum((X[:, None, :] - X[None, :, :]) ** 2 / ls**2, axis=-1)
    K = np.exp(-0.5 * d2) + 1e-1 * np.eye(X.shape[0])
    U = sla.cholesky(K)
    alpha = sla.cho_solve((U, False), y)
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(U)))


def lower_factor(B):
    L = sla.cholesky(B @ B.T + np.eye(3), lower=True)
    return np.sum(L**2 * np.arange(1.0, 4.0))


def triangular_solves(A, b):
    x = sla.solve_triangular(A, b, lower=True)
    y = sla.solve_triangular(A, x, trans="T", lower=True)
    w = sla.solve_triangular(A.T, b[:, None] * np.ones((1, 2)), unit_diagonal=True)
    return np.sum(x**2) + np.sum(y * b) + np.sum(w**3)


def factor_then_solve(B, Y):
    c, low = sla.cho_factor(B @ B.T + np.eye(3))
    return np.sum(sla.cho_solve((c, low), Y) ** 2)


X52 = r(5, 2)
TRI = np.tril(r(3, 3)) + 3.0 * np.eye(3)
CASES = [
    Case("medians", medians, (r(6),), order=2),
    Case("quantiles", quantiles, (r(6),), order=2),
    Case("convolutions", convolutions, (r(6), r(3)), wrt=(0, 1), order=2),
    Case("correlations", correlations, (r(6), r(3)), wrt=(0, 1), order=2),
    Case("averages", averages, (r(6), np.abs(r(6)) + 0.1), wrt=(0, 1), order=2),
    Case("nan_skipping", nan_skipping, (np.array([0.1, 0.9, -0.3, 0.7, -1.2, 0.2]),), order=2),
    Case("vdots", vdots, (r(6), r(6)), wrt=(0, 1), order=2),
    Case("copysigns", copysigns, (r(6), r(6)), wrt=(0, 1), order=2),
    Case("ufunc_reductions", ufunc_reductions, (r(2, 3),), order=2),
    Case("gp_nll", gp_nll, (r(2) * 0.3, X52, r(5)), order=2),
    Case("gp_nll_upper", gp_nll_upper, (r(2) * 0.3, X52, r(5)), order=2),
    Case("lower_factor", lower_factor, (r(3, 3),), order=2),
    Case("triangular_solves", triangular_solves, (TRI, r(3)), wrt=(0, 1), order=2),
    Case("factor_then_solve", factor_then_solve, (r(3, 3), r(3, 2)), wrt=(0, 1), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_rule(case):
    check(case)
