"""``np.linalg.lstsq`` for a full-rank matrix with at least as many rows as columns: the
reverse rule and the tangent rule, in the solution, the residuals and the singular values
(the rank is an integer). Written with NumPy's products, ``np.linalg.solve`` and
``np.linalg.svd`` and linear helpers, so second order works. A rank-deficient or wide matrix
is refused where its derivative is asked for (the minimum-norm solution's derivative is
another formula), naming ``np.linalg.pinv`` and a regularized solve as the ways out."""

import numpy as np

from ..runtime.least_squares_helpers import full_column_rank, residual_seed, residual_tangent
from ..runtime.linalg_helpers import part_or_zeros, result_like
from .registry import adjoint, d, tangent


# for a full-rank a with m >= n: x = M^-1 a^T b with M = a^T a, residuals sum(r ** 2, axis=0)
# with r = b - a x (a^T r = 0), singular values s = svd(a); d x = M^-1 (da^T r + a^T (db - da x))
@adjoint(np.linalg.lstsq)
def _lstsq(z, a, b, rcond=None):
    x = z[0] * full_column_rank(a, z)  # refused first where the rule does not hold
    r = b - a @ x
    w = np.linalg.solve(a.T @ a, part_or_zeros(d[z], 0, z))
    rg = r * residual_seed(part_or_zeros(d[z], 1, z), x)
    usv = np.linalg.svd(a, full_matrices=False)
    d[a] += (usv[0] * part_or_zeros(d[z], 3, z)) @ usv[2]
    if np.ndim(b) == 1:
        d[a] += np.outer(r, w) - np.outer(a @ w, x) - 2.0 * np.outer(rg, x)
    else:
        d[a] += r @ w.T - (a @ w) @ x.T - 2.0 * (rg @ x.T)
    d[b] += a @ w + 2.0 * rg


@tangent(np.linalg.lstsq)
def _lstsq_tangent(z, a, b, rcond=None):
    # (refused in the statements of the result's tangent, which carry the user's line)
    x = z[0]
    r = b - a @ x
    m = a.T @ a
    usv = np.linalg.svd(a, full_matrices=False)
    d[z] += result_like(
        (
            np.linalg.solve(m * full_column_rank(a, z), d[a].T @ r - a.T @ (d[a] @ x)),
            residual_tangent(-2.0 * np.sum(r * (d[a] @ x), axis=0), z[1]),
            None,
            np.sum(usv[0] * (d[a] @ usv[2].T), axis=0),
        ),
        z,
    )
    d[z] += result_like(
        (
            np.linalg.solve(m * full_column_rank(a, z), a.T @ d[b]),
            residual_tangent(2.0 * np.sum(r * d[b], axis=0), z[1]),
            None,
            None,
        ),
        z,
    )
