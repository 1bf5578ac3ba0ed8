"""Matrix products and ``np.linalg``: the reverse rule and the tangent rule of each, side by
side, and their rank, shape, dtype and allocation facts.

The tangent rules hold for any ranks (NumPy's broadcasting and 1-D promotion carry over to the
tangent), so they need no rank tests. Multilinear functions (``np.einsum``) and the
vector-or-matrix convention of ``np.linalg.solve`` go through the helpers at the end of
``tangent_helpers``, whose own tangent rules (``runtime_rules``) make the generated code
differentiable again.
"""

import gast
import numpy as np

from ..runtime.determinant_helpers import (
    det_cofactors,
    refuse_singular_curvature,
    refuse_singular_logdet,
)
from ..runtime.helpers import expand_to, sum_to
from ..runtime.linalg_helpers import (
    batch_scale,
    eigen_gaps,
    part_or_zeros,
    result_like,
    sublist_operands,
    sublist_scatter,
    sublist_subscripts,
    sublist_tangents,
    symmetric_from,
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
from ..runtime.tangent_helpers import (
    einsum_call,
    matvec_like,
    slot_subscripts,
    solve_like,
    stack_slots,
    tangent_slots,
    zero_tangent,
)
from .facts import (
    atom_rank,
    atom_shape,
    constant_rank,
    declare,
    einsum_shape,
    first_operand_rank,
    product_shape,
)
from .registry import adjoint, d, static, tangent

# ---------------------------------------------------------------- products


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
    elif static(np.ndim(x1) > 2 and np.ndim(x2) == 2):
        # a stack of rows times one matrix: one 2-D product each way over the flattened stack
        d[x1] += np.reshape(np.reshape(d[z], (-1, np.shape(x2)[1])) @ x2.T, np.shape(x1))
        d[x2] += np.reshape(x1, (-1, np.shape(x2)[0])).T @ np.reshape(d[z], (-1, np.shape(x2)[1]))
    elif static(np.ndim(x1) == 2 and np.ndim(x2) > 2):
        d[x1] += sum_to(d[z] @ np.swapaxes(x2, -1, -2), x1)
        d[x2] += x1.T @ d[z]
    else:
        d[x1] += unmatmul_left(d[z], x1, x2)
        d[x2] += unmatmul_right(d[z], x1, x2)


@tangent(np.matmul)
def _matmul_tangent(z, x1, x2):
    d[z] += d[x1] @ x2
    d[z] += x1 @ d[x2]


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


@tangent(np.dot)
def _dot_tangent(z, a, b):
    d[z] += np.dot(d[a], b)
    d[z] += np.dot(a, d[b])


@adjoint(np.outer)
def _outer(z, a, b):
    if static(np.ndim(a) == 1 and np.ndim(b) == 1):
        d[a] += d[z] @ b
        d[b] += a @ d[z]
    else:
        d[a] += np.reshape(d[z] @ np.ravel(b), np.shape(a))
        d[b] += np.reshape(np.ravel(a) @ d[z], np.shape(b))


@tangent(np.outer)
def _outer_tangent(z, a, b):
    d[z] += np.outer(d[a], b)
    d[z] += np.outer(a, d[b])


@adjoint(np.vdot)
def _vdot(z, a, b):
    # real arrays: the sum of the products of the flattened operands
    d[a] += np.reshape(d[z] * b, np.shape(a))
    d[b] += np.reshape(d[z] * a, np.shape(b))


@tangent(np.vdot)
def _vdot_tangent(z, a, b):
    d[z] += np.vdot(d[a], b)
    d[z] += np.vdot(a, d[b])


@adjoint(np.inner)
def _inner(z, a, b):
    if static(np.ndim(a) == 1 and np.ndim(b) == 1):
        d[a] += d[z] * b
        d[b] += a * d[z]
    else:
        d[a] += untensordot_left(d[z], a, b, ([-1], [-1]))
        d[b] += untensordot_right(d[z], a, b, ([-1], [-1]))


@tangent(np.inner)
def _inner_tangent(z, a, b):
    d[z] += np.inner(d[a], b)
    d[z] += np.inner(a, d[b])


@adjoint(np.tensordot)
def _tensordot(z, a, b, axes=2):
    d[a] += untensordot_left(d[z], a, b, axes)
    d[b] += untensordot_right(d[z], a, b, axes)


@tangent(np.tensordot)
def _tensordot_tangent(z, a, b, axes=2):
    d[z] += np.tensordot(d[a], b, axes)
    d[z] += np.tensordot(a, d[b], axes)


@adjoint(np.einsum)
def _einsum(z, subscripts, *operands, optimize=False):  # (the contraction order: no value)
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


@tangent(np.einsum)
def _einsum_tangent(z, subscripts, *operands, optimize=False):
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


@adjoint(np.linalg.inv)
def _inv(z, a):
    if static(np.ndim(a) == 2):
        d[a] += -z.T @ d[z] @ z.T
    else:
        d[a] += -np.swapaxes(z, -1, -2) @ d[z] @ np.swapaxes(z, -1, -2)


@tangent(np.linalg.inv)
def _inv_tangent(z, a):
    d[z] += -(z @ d[a] @ z)


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


@tangent(np.linalg.solve)
def _solve_tangent(z, a, b):
    # x = a^-1 b:  dx = a^-1 db - a^-1 da x
    d[z] += np.linalg.solve(a, d[b])
    if static(np.ndim(a) == 2):
        d[z] += -np.linalg.solve(a, d[a] @ z)
    else:
        d[z] += -solve_like(a, matvec_like(d[a], z, z), z)


@adjoint(np.linalg.det)
def _det(z, a):
    # the cofactor matrix: z * inv(a).T where a is invertible, defined where it is not
    if static(np.ndim(a) == 2):
        d[a] += d[z] * det_cofactors(a, z)
    else:
        d[a] += batch_scale(d[z], det_cofactors(a, z))


@tangent(np.linalg.det)
def _det_tangent(z, a):
    d[z] += np.sum(det_cofactors(a, z) * d[a], axis=(-2, -1))


@tangent(det_cofactors)
def _det_cofactors_tangent(out, a, z):
    # d(z inv(a).T) = d[z] inv(a).T - z inv(a).T d[a].T inv(a).T, at invertible a only
    inv_t = np.swapaxes(np.linalg.inv(refuse_singular_curvature(a)), -1, -2)
    d[out] += batch_scale(d[z], inv_t) - batch_scale(z, inv_t @ np.swapaxes(d[a], -1, -2) @ inv_t)


@adjoint(np.linalg.slogdet)
def _slogdet(z, a):
    if static(np.ndim(a) == 2):
        d[a] += d[z][1] * np.linalg.inv(refuse_singular_logdet(a, z[0])).T
    else:
        inv = np.linalg.inv(refuse_singular_logdet(a, z[0]))
        d[a] += batch_scale(d[z][1], np.swapaxes(inv, -1, -2))


@tangent(np.linalg.slogdet)
def _slogdet_tangent(z, a):
    # (sign, log|det|): the sign is locally constant
    d[z] += result_like((zero_tangent(z[0]), np.einsum("...ii->...", np.linalg.solve(a, d[a]))), z)


@adjoint(np.linalg.norm)
def _norm(z, x, ord=None, axis=None, keepdims=False):
    if static(ord is None and axis is None and not keepdims):
        # x / z, and at x == 0 the subgradient 0 (not 0 / 0), as PyTorch gives
        d[x] += d[z] * x / np.where(z == 0, 1, z)
    elif static(axis is None and np.ndim(x) == 2 and (ord == "nuc" or ord == 2 or ord == -2)):
        # the nuclear norm's gradient is u @ vh, the spectral norms' the outer product of the
        # singular vectors of the largest (smallest) singular value: written out so that a
        # second derivative goes through the rule of np.linalg.svd
        usv = np.linalg.svd(x, full_matrices=False)
        u = usv[0]
        vh = usv[2]
        if static(ord == "nuc"):
            d[x] += d[z] * (u @ vh)
        elif static(ord == 2):
            d[x] += d[z] * (u[:, :1] @ vh[:1, :])
        else:
            d[x] += d[z] * (u[:, -1:] @ vh[-1:, :])
    elif static(ord is None or ord == "fro" or ord == "nuc" or ord == 0 or ord == 1 or ord == 2):
        d[x] += unnorm(d[z], x, z, ord, axis, keepdims)
    elif static(ord > 1e308):  # inf (np.inf and -np.inf themselves are not constants here)
        d[x] += unnorm(d[z], x, z, ord, axis, keepdims)
    elif static(
        ord < 1e308
        and ((np.ndim(axis) == 0 and axis is not None) or (axis is None and np.ndim(x) == 1))
    ):
        # a vector p-norm (p a constant): d z / d x = sign(x) |x|^(p-1) z^(1-p), written out
        # so that it is differentiated again through NumPy's own rules; 0 where z is 0
        d[x] += expand_to(d[z] * np.where(z == 0, 1, z) ** (1.0 - ord), x, axis, keepdims) * (
            np.sign(x) * np.abs(x) ** (ord - 1.0)
        )
    else:
        d[x] += unnorm(d[z], x, z, ord, axis, keepdims)


@tangent(np.linalg.norm)
def _norm_tangent(z, x, ord=None, axis=None, keepdims=False):
    if static(ord is None and axis is None and not keepdims):
        d[z] += np.sum(x * d[x]) / np.where(z == 0, 1, z)
    else:
        # the reverse rule's weights (d z / d x, broadcast) times the tangent, reduced
        d[z] += np.sum(unnorm(1.0, x, z, ord, axis, keepdims) * d[x], axis=axis, keepdims=keepdims)


@adjoint(np.linalg.cholesky)
def _cholesky(z, a):
    # cholesky reads a's lower triangle only: the adjoint of the symmetric matrix it stands
    # for, carried to that triangle (zero above the diagonal), as for eigh
    d[a] += triangle_of(uncholesky(d[z], z), "L")


@tangent(np.linalg.cholesky)
def _cholesky_tangent(z, a):
    # dL = L phi(L^-1 dA L^-T), phi: the lower triangle with the diagonal halved; dA the
    # symmetric matrix of the lower triangle of da, the triangle cholesky reads
    m = np.linalg.solve(
        z, np.swapaxes(np.linalg.solve(z, np.swapaxes(symmetric_from(d[a], "L"), -1, -2)), -1, -2)
    )
    d[z] += z @ (np.tril(m) - 0.5 * np.eye(np.shape(z)[-1], dtype=z.dtype) * m)


@adjoint(np.linalg.pinv)
def _pinv(z, a, rcond=None, hermitian=False, **kwargs):
    # for a of full rank: -Z^T G Z^T + (I - A Z) G^T Z Z^T + Z^T Z G^T (I - Z A)
    zt = np.swapaxes(z, -1, -2)
    gt = np.swapaxes(d[z], -1, -2)
    d[a] += -(zt @ d[z] @ zt) + (gt @ z - a @ (z @ gt @ z)) @ zt + zt @ (z @ gt - (z @ gt @ z) @ a)


@tangent(np.linalg.pinv)
def _pinv_tangent(z, a, rcond=None, hermitian=False, **kwargs):
    # dZ = -Z dA Z + Z Z^T dA^T (I - A Z) + (I - Z A) dA^T Z^T Z (a of full rank)
    zt = np.swapaxes(z, -1, -2)
    dat = np.swapaxes(d[a], -1, -2)
    d[z] += -(z @ d[a] @ z) + z @ zt @ (dat - dat @ a @ z) + (dat - z @ a @ dat) @ zt @ z


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


@tangent(np.linalg.eigh)
def _eigh_tangent(z, a, UPLO="L"):
    # m = V^T dA V: dw = diag(m), dV = V (F * m), F_ij = 1 / (w_j - w_i)
    m = np.swapaxes(z[1], -1, -2) @ symmetric_from(d[a], UPLO) @ z[1]
    d[z] += result_like((np.diagonal(m, 0, -2, -1), z[1] @ (eigen_gaps(z[0]) * m)), z)


# ---------------------------------------------------------------- facts


def _product_rank(op, ranks):
    x, y = (atom_rank(a, ranks) for a in list(op.bound.values())[:2])
    if x is None or y is None:
        return None
    if x == 0 or y == 0:
        return max(x, y) if op.key is np.dot else None
    if x == 1 and y == 1:
        return 0
    if x == 1 or y == 1:
        return max(x, y) - 1
    return max(x, y)


def _product_shape(op, known):
    if len(op.operands) != 2:
        return None
    return product_shape(op.key, *(atom_shape(a, known) for a in op.operands))


def _einsum_shape(op, known):
    spec, ops = op.bound.get("subscripts"), op.bound.get("operands")
    if not (isinstance(spec, gast.Constant) and isinstance(spec.value, str)):
        return None
    if not isinstance(ops, gast.Tuple) or len(op.operands) != len(ops.elts) + 1:
        return None  # keywords (out=, optimize=) are not assumed
    return einsum_shape(spec.value, [atom_shape(a, known) for a in ops.elts])


def _det_rank(op, ranks):
    r = first_operand_rank(op, ranks)
    return None if r is None else r - 2


declare(np.matmul, np.dot, rank=_product_rank, shape=_product_shape, dtype="promote")
declare(np.einsum, shape=_einsum_shape, dtype="promote", allocates="view")
declare(np.outer, rank=constant_rank(2))
declare(np.matmul, np.dot, np.outer, np.inner, np.tensordot, np.vdot, allocates="new")
declare(np.linalg.inv, np.linalg.cholesky, rank=first_operand_rank)
declare(np.linalg.det, rank=_det_rank)
declare(np.linalg.slogdet, np.linalg.lstsq, several_results=True)
L = np.linalg
# np.linalg functions whose result is always a new array (matrix_power(a, 1) may be a)
declare(
    L.inv, L.pinv, L.solve, L.lstsq, L.det, L.slogdet, L.norm, L.vector_norm, L.matrix_norm,
    L.cholesky, L.qr, L.svd, L.svdvals, L.eig, L.eigh, L.eigvals, L.eigvalsh, L.cond,
    L.matrix_rank, L.tensorinv, L.tensorsolve, L.multi_dot, L.outer, L.cross, L.vecdot,
    L.matmul, L.tensordot, L.trace,
    allocates="new",
)  # fmt: skip
