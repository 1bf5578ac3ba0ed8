"""Rules for matrix products and ``np.linalg``."""

import numpy as np

from ..runtime.helpers import expand_to, sum_to
from ..runtime.linalg_helpers import (
    batch_scale,
    eigen_gaps,
    part_or_zeros,
    sublist_operands,
    sublist_scatter,
    sublist_subscripts,
    triangle_of,
    uncholesky,
    undot_left,
    undot_right,
    uneinsum,
    unmatmul_left,
    unmatmul_right,
    unnorm,
    unsolve_a,
    unsolve_b,
    untensordot_left,
    untensordot_right,
)
from .registry import adjoint, d, static


@adjoint(np.matmul)
def _matmul(z, x1, x2):
    if static(np.ndim(x1) == 2 and np.ndim(x2) == 2):
        d[x1] += d[z] @ x2.T
        d[x2] += x1.T @ d[z]
    elif static(np.ndim(x1) == 1 and np.ndim(x2) == 2):
        d[x1] += x2 @ d[z]
        d[x2] += np.outer(x1, d[z])
    elif static(np.ndim(x1) == 2 and np.ndim(x2) == 1):
        d[x1] += np.outer(d[z], x2)
        d[x2] += x1.T @ d[z]
    elif static(np.ndim(x1) == 1 and np.ndim(x2) == 1):
        d[x1] += d[z] * x2
        d[x2] += x1 * d[z]
    elif static(np.ndim(x1) > 2 and np.ndim(x2) > 2):
        d[x1] += sum_to(d[z] @ np.swapaxes(x2, -1, -2), x1)
        d[x2] += sum_to(np.swapaxes(x1, -1, -2) @ d[z], x2)
    else:
        d[x1] += unmatmul_left(d[z], x1, x2)
        d[x2] += unmatmul_right(d[z], x1, x2)


@adjoint(np.dot)
def _dot(z, a, b):
    if static(np.ndim(a) == 2 and np.ndim(b) == 2):
        d[a] += d[z] @ b.T
        d[b] += a.T @ d[z]
    elif static(np.ndim(a) == 1 and np.ndim(b) == 2):
        d[a] += b @ d[z]
        d[b] += np.outer(a, d[z])
    elif static(np.ndim(a) == 2 and np.ndim(b) == 1):
        d[a] += np.outer(d[z], b)
        d[b] += a.T @ d[z]
    elif static(np.ndim(a) == 1 and np.ndim(b) == 1):
        d[a] += d[z] * b
        d[b] += a * d[z]
    else:
        d[a] += undot_left(d[z], a, b)
        d[b] += undot_right(d[z], a, b)


@adjoint(np.outer)
def _outer(z, a, b):
    if static(np.ndim(a) == 1 and np.ndim(b) == 1):
        d[a] += d[z] @ b
        d[b] += a @ d[z]
    else:
        d[a] += np.reshape(d[z] @ np.ravel(b), np.shape(a))
        d[b] += np.reshape(np.ravel(a) @ d[z], np.shape(b))


@adjoint(np.inner)
def _inner(z, a, b):
    if static(np.ndim(a) == 1 and np.ndim(b) == 1):
        d[a] += d[z] * b
        d[b] += a * d[z]
    else:
        d[a] += untensordot_left(d[z], a, b, ([-1], [-1]))
        d[b] += untensordot_right(d[z], a, b, ([-1], [-1]))


@adjoint(np.tensordot)
def _tensordot(z, a, b, axes=2):
    d[a] += untensordot_left(d[z], a, b, axes)
    d[b] += untensordot_right(d[z], a, b, axes)


@adjoint(np.einsum)
def _einsum(z, subscripts, *operands):
    if static(subscripts != 0):  # a constant string of subscripts
        d[operands] += uneinsum(d[z], subscripts, operands)
    else:  # the sublist form np.einsum(a, [0, 1], b, [1, 2], [0, 2]), or subscripts in a name
        parts = sublist_scatter(
            uneinsum(
                d[z],
                sublist_subscripts(subscripts, operands),
                sublist_operands(subscripts, operands),
            ),
            subscripts,
            operands,
        )
        d[subscripts] += parts[0]
        d[operands] += parts[1:]


@adjoint(np.linalg.inv)
def _inv(z, a):
    if static(np.ndim(a) == 2):
        d[a] += -z.T @ d[z] @ z.T
    else:
        d[a] += -np.swapaxes(z, -1, -2) @ d[z] @ np.swapaxes(z, -1, -2)


@adjoint(np.linalg.solve)
def _solve(z, a, b):
    if static(np.ndim(a) == 2 and np.ndim(b) == 1):
        db = np.linalg.solve(a.T, d[z])
        d[b] += db
        d[a] += -np.outer(db, z)
    elif static(np.ndim(a) == 2 and np.ndim(b) == 2):
        db = np.linalg.solve(a.T, d[z])
        d[b] += db
        d[a] += -db @ z.T
    else:
        d[a] += unsolve_a(d[z], a, b, z)
        d[b] += unsolve_b(d[z], a, b, z)


@adjoint(np.linalg.det)
def _det(z, a):
    if static(np.ndim(a) == 2):
        d[a] += d[z] * z * np.linalg.inv(a).T
    else:
        d[a] += batch_scale(d[z] * z, np.swapaxes(np.linalg.inv(a), -1, -2))


@adjoint(np.linalg.slogdet)
def _slogdet(z, a):
    if static(np.ndim(a) == 2):
        d[a] += d[z][1] * np.linalg.inv(a).T
    else:
        d[a] += batch_scale(d[z][1], np.swapaxes(np.linalg.inv(a), -1, -2))


@adjoint(np.linalg.norm)
def _norm(z, x, ord=None, axis=None, keepdims=False):
    if static(ord is None and axis is None and not keepdims):
        d[x] += d[z] / z * x
    elif static(ord is None or ord == "fro" or ord == "nuc" or ord == 0 or ord == 1 or ord == 2):
        d[x] += unnorm(d[z], x, z, ord, axis, keepdims)
    elif static(ord > 1e308):  # inf (np.inf and -np.inf themselves are not constants here)
        d[x] += unnorm(d[z], x, z, ord, axis, keepdims)
    elif static(
        ord < 1e308
        and ((np.ndim(axis) == 0 and axis is not None) or (axis is None and np.ndim(x) == 1))
    ):
        # a vector p-norm (p a constant): d z / d x = sign(x) |x|^(p-1) z^(1-p), written out
        # so that it is differentiated again through NumPy's own rules
        d[x] += expand_to(d[z] * z ** (1.0 - ord), x, axis, keepdims) * (
            np.sign(x) * np.abs(x) ** (ord - 1.0)
        )
    else:
        d[x] += unnorm(d[z], x, z, ord, axis, keepdims)


@adjoint(np.linalg.cholesky)
def _cholesky(z, a):
    d[a] += uncholesky(d[z], z)


@adjoint(np.linalg.pinv)
def _pinv(z, a, rcond=None, hermitian=False, **kwargs):
    # for a of full rank: -Z^T G Z^T + (I - A Z) G^T Z Z^T + Z^T Z G^T (I - Z A)
    zt = np.swapaxes(z, -1, -2)
    gt = np.swapaxes(d[z], -1, -2)
    d[a] += -(zt @ d[z] @ zt) + (gt @ z - a @ (z @ gt @ z)) @ zt + zt @ (z @ gt - (z @ gt @ z) @ a)


@adjoint(np.linalg.eigh)
def _eigh(z, a, UPLO="L"):
    # A = V diag(w) V^T: the adjoint of the symmetric matrix is
    # V (diag(gw) + F * (V^T gV)) V^T, F_ij = 1 / (w_j - w_i); eigh reads one triangle of a
    w = z[0]
    v = z[1]
    vt = np.swapaxes(v, -1, -2)
    gw = part_or_zeros(d[z], 0, z)
    gv = part_or_zeros(d[z], 1, z)
    inner = np.eye(np.shape(w)[-1], dtype=w.dtype) * gw[..., None, :] + eigen_gaps(w) * (vt @ gv)
    d[a] += triangle_of(v @ inner @ vt, UPLO)
