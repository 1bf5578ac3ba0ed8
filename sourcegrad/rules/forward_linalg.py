"""Forward-mode (tangent) rules for matrix products and ``np.linalg``.

Each mirrors the reverse rule of the same key in ``linalg.py`` (same parameter names). The
rules hold for any ranks (NumPy's broadcasting and 1-D promotion carry over to the tangent),
so they need no rank tests. Multilinear functions (``np.einsum``) and the vector-or-matrix
convention of ``np.linalg.solve`` go through the helpers at the end of ``tangent_helpers``,
whose own tangent rules (``forward_runtime``) make the generated code differentiable again.
"""

import numpy as np

from ..runtime.linalg_helpers import (
    eigen_gaps,
    sublist_operands,
    sublist_subscripts,
    sublist_tangents,
    symmetric_from,
    unnorm,
)
from ..runtime.tangent_helpers import (
    einsum_call,
    matvec_like,
    slot_subscripts,
    solve_like,
    stack_slots,
    tangent_slots,
    zero_tangent,
)
from .registry import d, static, tangent

# ---------------------------------------------------------------- products


@tangent(np.matmul)
def _matmul(z, x1, x2):
    d[z] += d[x1] @ x2
    d[z] += x1 @ d[x2]


@tangent(np.dot)
def _dot(z, a, b):
    d[z] += np.dot(d[a], b)
    d[z] += np.dot(a, d[b])


@tangent(np.outer)
def _outer(z, a, b):
    d[z] += np.outer(d[a], b)
    d[z] += np.outer(a, d[b])


@tangent(np.inner)
def _inner(z, a, b):
    d[z] += np.inner(d[a], b)
    d[z] += np.inner(a, d[b])


@tangent(np.tensordot)
def _tensordot(z, a, b, axes=2):
    d[z] += np.tensordot(d[a], b, axes)
    d[z] += np.tensordot(a, d[b], axes)


@tangent(np.einsum)
def _einsum(z, subscripts, *operands):
    # the sum over the varying operands of einsum with that operand replaced by its tangent,
    # as one einsum (over stacks of the operands where more than one varies)
    if static(subscripts != 0):  # a constant string of subscripts
        slots = tangent_slots(d[operands])
        d[z] += einsum_call(
            slot_subscripts(subscripts, slots), stack_slots(operands, d[operands], slots, operands)
        )
    else:  # the sublist form, or subscripts in a name
        arrays = sublist_operands(subscripts, operands)
        tangents = sublist_tangents(subscripts, operands, d[subscripts], d[operands])
        slots = tangent_slots(tangents)
        d[z] += einsum_call(
            slot_subscripts(sublist_subscripts(subscripts, operands), slots),
            stack_slots(arrays, tangents, slots, arrays),
        )


# ---------------------------------------------------------------- np.linalg


@tangent(np.linalg.inv)
def _inv(z, a):
    d[z] += -(z @ d[a] @ z)


@tangent(np.linalg.solve)
def _solve(z, a, b):
    # x = a^-1 b:  dx = a^-1 db - a^-1 da x
    d[z] += np.linalg.solve(a, d[b])
    if static(np.ndim(a) == 2):
        d[z] += -np.linalg.solve(a, d[a] @ z)
    else:
        d[z] += -solve_like(a, matvec_like(d[a], z, z), z)


@tangent(np.linalg.det)
def _det(z, a):
    d[z] += z * np.einsum("...ii->...", np.linalg.solve(a, d[a]))


@tangent(np.linalg.slogdet)
def _slogdet(z, a):
    # (sign, log|det|): the sign is locally constant
    d[z] += (zero_tangent(z[0]), np.einsum("...ii->...", np.linalg.solve(a, d[a])))


@tangent(np.linalg.norm)
def _norm(z, x, ord=None, axis=None, keepdims=False):
    if static(ord is None and axis is None and not keepdims):
        d[z] += np.sum(x * d[x]) / z
    else:
        # the reverse rule's weights (d z / d x, broadcast) times the tangent, reduced
        d[z] += np.sum(unnorm(1.0, x, z, ord, axis, keepdims) * d[x], axis=axis, keepdims=keepdims)


@tangent(np.linalg.cholesky)
def _cholesky(z, a):
    # dL = L phi(L^-1 da L^-T), phi: the lower triangle with the diagonal halved; da is taken
    # as symmetric, as the reverse rule does. The second statement reads no tangent: it is
    # kept only because d[a] is the rule's one tangent (the rule is dropped when it is None)
    m = np.linalg.solve(z, np.swapaxes(np.linalg.solve(z, np.swapaxes(d[a], -1, -2)), -1, -2))
    d[z] += z @ (np.tril(m) - 0.5 * np.eye(np.shape(z)[-1], dtype=z.dtype) * m)


@tangent(np.linalg.pinv)
def _pinv(z, a, rcond=None, hermitian=False, **kwargs):
    # dZ = -Z dA Z + Z Z^T dA^T (I - A Z) + (I - Z A) dA^T Z^T Z (a of full rank)
    zt = np.swapaxes(z, -1, -2)
    dat = np.swapaxes(d[a], -1, -2)
    d[z] += -(z @ d[a] @ z) + z @ zt @ (dat - dat @ a @ z) + (dat - z @ a @ dat) @ zt @ z


@tangent(np.linalg.eigh)
def _eigh(z, a, UPLO="L"):
    # m = V^T dA V: dw = diag(m), dV = V (F * m), F_ij = 1 / (w_j - w_i)
    m = np.swapaxes(z[1], -1, -2) @ symmetric_from(d[a], UPLO) @ z[1]
    d[z] += (np.diagonal(m, 0, -2, -1), z[1] @ (eigen_gaps(z[0]) * m))
