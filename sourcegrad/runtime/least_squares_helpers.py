"""What the rule of ``np.linalg.lstsq`` calls (``sourcegrad/rules/linalg.py``): the check that
the solution is the unique one the rule differentiates, and the residuals' seed and tangent
in the shape of the solution's columns."""

from __future__ import annotations

import numpy as np

from ..errors import SourcegradError
from .facts import helper


@helper(constant=True)
def full_column_rank(a, z):
    """1.0 where ``a`` (``m x n``) has ``m >= n`` and rank ``n`` in ``z = np.linalg.lstsq(a,
    b)``, so that the solution is ``(a^T a)^-1 a^T b``; else the refusal of its derivative."""
    m, n = np.shape(a)[-2:]
    if m >= n and int(z[2]) == n:
        return 1.0
    raise SourcegradError(
        f"the derivative of np.linalg.lstsq is supported for a full-rank matrix with at least "
        f"as many rows as columns (got {m}x{n} of rank {int(z[2])}); for a minimum-norm "
        "solution write np.linalg.pinv(a) @ b, or regularize: np.linalg.solve(a.T @ a + "
        "lam * np.eye(n), a.T @ b)"
    )


@helper(linear=("g",))
def residual_seed(g, x):
    """The adjoint ``g`` of ``lstsq``'s residuals (``(k,)``, ``(1,)`` for a vector ``b``, or
    empty where NumPy returns none) shaped like one row of the solution ``x``: a number for a
    vector ``b``, ``(k,)`` for a matrix; zeros where the residuals are empty."""
    g = np.asarray(g)
    if np.ndim(x) == 1:
        return np.sum(g)
    return g if g.size else np.zeros(np.shape(x)[1:], g.dtype)


@helper(linear=("t",))
def residual_tangent(t, residuals):
    """The tangent ``t`` of ``lstsq``'s residuals (a number for a vector ``b``, ``(k,)`` for a
    matrix) in the shape of the residuals NumPy returned (empty: zeros of that shape)."""
    residuals = np.asarray(residuals)
    if residuals.size == 0:
        return np.zeros_like(residuals, dtype=np.result_type(residuals, np.asarray(t)))
    return np.reshape(t, residuals.shape)
