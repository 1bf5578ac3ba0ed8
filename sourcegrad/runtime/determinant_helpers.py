"""The derivative of ``np.linalg.det`` where the matrix may be singular.

The gradient of ``det(A)`` is the cofactor matrix of ``A`` (the transposed adjugate), which
is ``det(A) * inv(A).T`` where ``A`` is invertible and stays defined where it is not: with
``A = U diag(s) V^T``, the cofactor matrix is ``det(U) det(V) U diag(c) V^T``, ``c_i`` the
product of the singular values other than ``s_i`` (a rank ``n - 1`` matrix has one nonzero
``c_i``; a lower rank, none). Its own derivative (a second derivative of ``det``) is computed
where ``A`` is invertible and refused where it is not."""

from __future__ import annotations

import numpy as np

from ..errors import SourcegradError
from .facts import helper
from .products import prod_others


def _mT(a):
    return np.swapaxes(a, -1, -2)


@helper(tangent_rule=True, like="a")
def det_cofactors(a, z):
    """The gradient of ``z = np.linalg.det(a)`` with respect to ``a`` (a matrix or a stack of
    them): ``z * inv(a).T`` where every matrix is invertible, the SVD form where one is not."""
    a = np.asarray(a)
    z = np.asarray(z)
    if np.all(z != 0):
        try:
            return z[..., None, None] * _mT(np.linalg.inv(a))
        except np.linalg.LinAlgError:  # singular to working precision, det not exactly 0
            pass
    u, s, vt = np.linalg.svd(a)
    others = prod_others(s, np.prod(s, -1), -1)
    sign = np.linalg.det(u) * np.linalg.det(vt)
    return sign[..., None, None] * ((u * others[..., None, :]) @ vt)


@helper(constant=True)
def refuse_singular_curvature(a):
    """``a`` where every matrix of it is invertible; else the refusal of a second derivative
    of ``np.linalg.det`` at a singular matrix."""
    if np.all(np.linalg.det(a) != 0):
        return a
    raise SourcegradError(
        "second and higher derivatives of np.linalg.det are computed only at invertible "
        "matrices; this one is singular"
    )


@helper(linear=("a",), like="a", passes=True, checks=True)
def refuse_singular_logdet(a, sign):
    """``a`` where every matrix of it is invertible (``sign``, slogdet's first result, is not
    zero); else the refusal of a derivative of ``np.linalg.slogdet`` at a singular matrix."""
    if np.all(sign != 0):
        return a
    raise SourcegradError(
        "np.linalg.slogdet's log|det| has no derivative at a singular matrix (it is -inf "
        "there); this one is singular: check the matrix's rank before taking its log-determinant"
    )
