"""Matrix decompositions and matrix functions of ``np.linalg`` (``svd``, ``svdvals``, ``qr``,
``eig``, ``eigvals``, ``eigvalsh``, ``matrix_power``): the reverse rule and the tangent rule of
each, side by side, and their facts.

Every rule is written with NumPy functions that have rules of their own (and helpers whose
tangent rules ``runtime_rules`` makes), so the generated derivative is differentiated again:
second order (``hvp``, ``hessian``) goes through the tangent rules here. All of them take
batches of matrices (leading axes).

Where a decomposition has no derivative the rule refuses when the derivative runs, with a
:class:`~sourcegrad.errors.SourcegradError` (starting with the user's line in reverse mode and
``hvp``): the full SVD of a non-square matrix (its extra singular vectors are arbitrary), the
QR decomposition of a wide matrix, and complex eigenvalues of a real matrix (``eig``,
``eigvals``: sourcegrad differentiates real values only, so it refuses rather than follow
autograd's complex convention). Eigenvalues and singular values must be distinct, as for
``eigh`` (and the singular values of a non-square matrix nonzero).
"""

import numpy as np

from ..runtime.linalg_helpers import (
    block_pair,
    corner_block,
    eigen_gaps,
    part_or_zeros,
    real_eigen,
    reduced_svd_factor,
    result_like,
    square_qr_factor,
    symmetric_from,
    triangle_of,
)
from .facts import declare, first_operand_rank
from .registry import adjoint, d, static, tangent

# ---------------------------------------------------------------- singular values


# hermitian=True (an SVD of one triangle) is refused: the rules take no such argument
@adjoint(np.linalg.svd)
def _svd(z, a, full_matrices=True, compute_uv=True):
    # A = U S Vt, F_ij = 1 / (s_j^2 - s_i^2), J = U^T gU, K = Vt gVt^T:
    # gA = U [(F * (J - J^T)) S + diag(gs) + S (F * (K - K^T))] Vt
    #      + (gU - U J) S^-1 Vt + U S^-1 (gVt - K^T Vt)   (the last two: outside U's, V's span)
    if compute_uv:
        if static(full_matrices is False or full_matrices == 0):
            u = z[0]
        else:
            u = reduced_svd_factor(z[0], z[2])
        s = z[1]
        vt = z[2]
        gu = part_or_zeros(d[z], 0, z)
        gvt = part_or_zeros(d[z], 2, z)
        f = eigen_gaps(s * s)
        j = np.swapaxes(u, -1, -2) @ gu
        k = vt @ np.swapaxes(gvt, -1, -2)
        inner = (
            f * (j - np.swapaxes(j, -1, -2)) * s[..., None, :]
            + np.eye(np.shape(s)[-1], dtype=s.dtype) * part_or_zeros(d[z], 1, z)[..., None, :]
            + s[..., :, None] * (f * (k - np.swapaxes(k, -1, -2)))
        )
        d[a] += (
            u @ inner @ vt
            + ((gu - u @ j) / s[..., None, :]) @ vt
            + (u / s[..., None, :]) @ (gvt - np.swapaxes(k, -1, -2) @ vt)
        )
    else:  # the singular values alone: gA = U diag(gs) Vt
        usv = np.linalg.svd(a, full_matrices=False)
        d[a] += (usv[0] * d[z][..., None, :]) @ usv[2]


@tangent(np.linalg.svd)
def _svd_tangent(z, a, full_matrices=True, compute_uv=True):
    # P = U^T dA V: ds = diag(P), dU = U (F * (P S + S P^T)) + (dA V - U P) S^-1,
    # dVt = -(F * (S P + P^T S)) Vt + S^-1 (U^T dA - P Vt)
    if compute_uv:
        if static(full_matrices is False or full_matrices == 0):
            u = z[0]
        else:
            u = reduced_svd_factor(z[0], z[2])
        s = z[1]
        vt = z[2]
        f = eigen_gaps(s * s)
        av = d[a] @ np.swapaxes(vt, -1, -2)
        uta = np.swapaxes(u, -1, -2) @ d[a]
        p = np.swapaxes(u, -1, -2) @ av
        pt = np.swapaxes(p, -1, -2)
        d[z] += result_like(
            (
                u @ (f * (p * s[..., None, :] + s[..., :, None] * pt))
                + (av - u @ p) / s[..., None, :],
                np.diagonal(p, 0, -2, -1),
                (uta - p @ vt) / s[..., :, None]
                - (f * (s[..., :, None] * p + pt * s[..., None, :])) @ vt,
            ),
            z,
        )
    else:
        usv = np.linalg.svd(a, full_matrices=False)
        d[z] += np.einsum("...ik,...ij,...kj->...k", usv[0], d[a], usv[2])


@adjoint(np.linalg.svdvals)
def _svdvals(z, x):
    usv = np.linalg.svd(x, full_matrices=False)
    d[x] += (usv[0] * d[z][..., None, :]) @ usv[2]


@tangent(np.linalg.svdvals)
def _svdvals_tangent(z, x):
    usv = np.linalg.svd(x, full_matrices=False)
    d[z] += np.einsum("...ik,...ij,...kj->...k", usv[0], d[x], usv[2])


# ---------------------------------------------------------------- QR


@adjoint(np.linalg.qr)
def _qr(z, a, mode="reduced"):
    # A = Q R (R square): M = R gR^T - gQ^T Q, gA = (gQ + Q sym(M)) R^-T, sym(M) the
    # symmetric matrix with M's lower triangle
    if static(mode == "r"):
        q = np.linalg.qr(a)[0]
        r = square_qr_factor(z, mode)
        gq = np.zeros_like(q)
        gr = d[z]
    else:
        q = z[0]
        r = square_qr_factor(z[1], mode)
        gq = part_or_zeros(d[z], 0, z)
        gr = part_or_zeros(d[z], 1, z)
    m = r @ np.swapaxes(gr, -1, -2) - np.swapaxes(gq, -1, -2) @ q
    low = np.tril(m, -1)
    b = gq + q @ (low + np.swapaxes(low, -1, -2) + np.tril(np.triu(m)))
    d[a] += np.swapaxes(np.linalg.solve(r, np.swapaxes(b, -1, -2)), -1, -2)


@tangent(np.linalg.qr)
def _qr_tangent(z, a, mode="reduced"):
    # Y = dA R^-1, C = Q^T Y, Omega = tril(C, -1) - tril(C, -1)^T (Q^T dQ, antisymmetric):
    # dR = (C - Omega) R, dQ = Y - Q (C - Omega)
    if static(mode == "r"):
        q = np.linalg.qr(a)[0]
        r = square_qr_factor(z, mode)
    else:
        q = z[0]
        r = square_qr_factor(z[1], mode)
    y = np.swapaxes(np.linalg.solve(np.swapaxes(r, -1, -2), np.swapaxes(d[a], -1, -2)), -1, -2)
    c = np.swapaxes(q, -1, -2) @ y
    upper = np.triu(c) + np.swapaxes(np.tril(c, -1), -1, -2)  # C - Omega
    if static(mode == "r"):
        d[z] += upper @ r
    else:
        d[z] += result_like((y - q @ upper, upper @ r), z)


# ---------------------------------------------------------------- eigenvalues


@adjoint(np.linalg.eig)
def _eig(z, a):
    # A = V W V^-1, V's columns of unit length, F_ij = 1 / (w_j - w_i), J = V^T gV:
    # gA = V^-T (diag(gw) + F * (J - V^T V (I * J))) V^T
    w = real_eigen(z[0])
    v = real_eigen(z[1])
    vt = np.swapaxes(v, -1, -2)
    eye = np.eye(np.shape(w)[-1], dtype=w.dtype)
    j = vt @ part_or_zeros(d[z], 1, z)
    inner = eye * part_or_zeros(d[z], 0, z)[..., None, :] + eigen_gaps(w) * (
        j - (vt @ v) @ (eye * j)
    )
    d[a] += np.linalg.solve(vt, inner @ vt)


@tangent(np.linalg.eig)
def _eig_tangent(z, a):
    # P = V^-1 dA V: dw = diag(P), dV = V X - V (I * (V^T V X)), X = F * P
    w = real_eigen(z[0])
    v = real_eigen(z[1])
    p = np.linalg.solve(v, d[a] @ v)
    x = eigen_gaps(w) * p
    eye = np.eye(np.shape(w)[-1], dtype=w.dtype)
    d[z] += result_like(
        (np.diagonal(p, 0, -2, -1), v @ x - v @ (eye * (np.swapaxes(v, -1, -2) @ v @ x))), z
    )


@adjoint(np.linalg.eigvals)
def _eigvals(z, a):
    # gA = V^-T diag(gw) V^T
    wv = np.linalg.eig(a)
    vt = np.swapaxes(real_eigen(wv[1]), -1, -2)
    d[a] += np.linalg.solve(vt, real_eigen(d[z])[..., :, None] * vt)


@tangent(np.linalg.eigvals)
def _eigvals_tangent(z, a):
    v = real_eigen(np.linalg.eig(a)[1])
    d[z] += np.diagonal(np.linalg.solve(v, d[a] @ v), 0, -2, -1)


@adjoint(np.linalg.eigvalsh)
def _eigvalsh(z, a, UPLO="L"):
    # gA = V diag(gw) V^T, read from the triangle eigvalsh reads
    v = np.linalg.eigh(a, UPLO)[1]
    d[a] += triangle_of((v * d[z][..., None, :]) @ np.swapaxes(v, -1, -2), UPLO)


@tangent(np.linalg.eigvalsh)
def _eigvalsh_tangent(z, a, UPLO="L"):
    # dw = diag(V^T dA V), dA the symmetric matrix of the triangle read
    v = np.linalg.eigh(a, UPLO)[1]
    d[z] += np.einsum("...ji,...jk,...ki->...i", v, symmetric_from(d[a], UPLO), v)


# ---------------------------------------------------------------- matrix functions


@adjoint(np.linalg.matrix_power)
def _matrix_power(z, a, n):
    # the adjoint of the derivative of A^n is the derivative of (A^T)^n: the corner block
    # of [[A^T, G], [0, A^T]]^n (any integer n: 0 gives zeros, a negative one inverses)
    d[a] += corner_block(np.linalg.matrix_power(block_pair(np.swapaxes(a, -1, -2), d[z]), n))


@tangent(np.linalg.matrix_power)
def _matrix_power_tangent(z, a, n):
    d[z] += corner_block(np.linalg.matrix_power(block_pair(a, d[a]), n))


# ---------------------------------------------------------------- facts


def _one_less(op, ranks):
    r = first_operand_rank(op, ranks)
    return None if r is None else r - 1


L = np.linalg
declare(L.svdvals, L.eigvals, L.eigvalsh, rank=_one_less)
declare(L.matrix_power, rank=first_operand_rank)
declare(L.svd, L.qr, L.eig, L.eigh, several_results=True)
