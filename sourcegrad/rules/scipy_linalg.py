"""``scipy.linalg``'s Cholesky factors and triangular solves: the reverse rule and the tangent
rule of each, side by side, registered only where scipy imports (scipy is not a dependency),
when ``scipy.linalg`` is imported.

Covered: ``cholesky`` (``lower``), ``cho_factor`` (``lower``; the factor's other triangle is
``a``'s, as LAPACK leaves it), ``cho_solve`` (a vector or matrix right-hand side) and
``solve_triangular`` (``trans`` 0/"N" or 1/"T", ``lower``, ``unit_diagonal``), for real
2-D matrices: the calls a Gaussian process or a whitened least-squares fit is written with. As
for ``np.linalg.cholesky``, a factor is of the symmetric matrix of the triangle the call reads
(the other triangle gets no gradient). Every rule is
written with these functions, NumPy's and the linear helpers of
``runtime/triangular_helpers.py``, so second order works.
"""

import importlib
import importlib.util

import numpy as np

from ..runtime.linalg_helpers import part_or_zeros, result_like, uncholesky
from ..runtime.matrix_exponential_helpers import frechet, frechet_block, upper_right
from ..runtime.triangular_helpers import (
    factor_adjoint,
    factor_product,
    first_item_adjoint,
    lower_form,
    other_trans,
    triangle,
    triangular_adjoint,
    triangular_product,
)
from .facts import declare
from .registry import adjoint, d, tangent
from .scipy_special import register_now_or_on_import

#: the ``scipy`` package the templates below read (``scipy.linalg.cho_solve``), bound when
#: ``scipy.linalg`` is imported (:func:`register_linalg`): importing it here cost 20 ms
scipy = None
#: whether scipy is installed (optional; found, not imported)
_FOUND = importlib.util.find_spec("scipy") is not None


def _cholesky(z, a, lower=False, overwrite_a=False, check_finite=True):
    # the adjoint of the symmetric matrix, carried to the triangle the call reads
    s = uncholesky(lower_form(d[z], lower), lower_form(z, lower))
    d[a] += triangle(s, lower) + triangle(s, lower, True)


def _cholesky_tangent(z, a, lower=False, overwrite_a=False, check_finite=True):
    # dL = L phi(L^-1 dA L^-T) for the lower factor L (an upper factor is its transpose), dA
    # the symmetric matrix of the triangle of da the call reads
    low = lower_form(z, lower)
    da = triangle(d[a], lower) + np.swapaxes(triangle(d[a], lower, True), -1, -2)
    m = np.linalg.solve(low, np.swapaxes(np.linalg.solve(low, np.swapaxes(da, -1, -2)), -1, -2))
    eye = np.eye(np.shape(z)[-1], dtype=z.dtype)
    d[z] += lower_form(low @ (np.tril(m) - 0.5 * eye * m), lower)


def _cho_factor(z, a, lower=False, overwrite_a=False, check_finite=True):
    g = part_or_zeros(d[z], 0, z)
    low = lower_form(triangle(z[0], lower), lower)
    s = uncholesky(lower_form(triangle(g, lower), lower), low)
    d[a] += triangle(s, lower) + triangle(s, lower, True)  # the triangle the factor is of
    d[a] += triangle(g, not lower, True)  # the other triangle is a's own


def _cho_factor_tangent(z, a, lower=False, overwrite_a=False, check_finite=True):
    low = lower_form(triangle(z[0], lower), lower)
    da = triangle(d[a], lower) + np.swapaxes(triangle(d[a], lower, True), -1, -2)
    m = np.linalg.solve(low, np.swapaxes(np.linalg.solve(low, np.swapaxes(da, -1, -2)), -1, -2))
    eye = np.eye(np.shape(low)[-1], dtype=low.dtype)
    d[z] += result_like(
        (
            lower_form(low @ (np.tril(m) - 0.5 * eye * m), lower) + triangle(d[a], not lower, True),
            None,
        ),
        z,
    )


def _cho_solve(z, c_and_lower, b, overwrite_b=False, check_finite=True):
    db = scipy.linalg.cho_solve(c_and_lower, d[z])
    d[b] += db
    d[c_and_lower] += first_item_adjoint(
        factor_adjoint(db, z, c_and_lower[0], c_and_lower[1]), c_and_lower
    )


def _cho_solve_tangent(z, c_and_lower, b, overwrite_b=False, check_finite=True):
    # x = A^-1 b: dx = A^-1 (db - dA x)
    d[z] += scipy.linalg.cho_solve(c_and_lower, d[b])
    d[z] += -scipy.linalg.cho_solve(
        c_and_lower,
        factor_product(part_or_zeros(d[c_and_lower], 0, c_and_lower), *c_and_lower[:2], z),
    )


def _solve_triangular(
    z, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, check_finite=True
):
    db = scipy.linalg.solve_triangular(
        a, d[z], trans=other_trans(trans), lower=lower, unit_diagonal=unit_diagonal
    )
    d[b] += db
    d[a] += triangular_adjoint(db, z, trans, lower, unit_diagonal)


def _solve_triangular_tangent(
    z, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, check_finite=True
):
    # x = op(T)^-1 b: dx = op(T)^-1 (db - op(dT) x)
    d[z] += scipy.linalg.solve_triangular(
        a, d[b], trans=trans, lower=lower, unit_diagonal=unit_diagonal
    )
    d[z] += -scipy.linalg.solve_triangular(
        a,
        triangular_product(d[a], z, trans, lower, unit_diagonal),
        trans=trans,
        lower=lower,
        unit_diagonal=unit_diagonal,
    )


def register_linalg(linalg) -> None:
    """Register the templates above for the functions of ``linalg`` (``scipy.linalg``)."""
    global scipy
    scipy = importlib.import_module("scipy")
    for fn, rule, tangent_rule in (
        (linalg.cholesky, _cholesky, _cholesky_tangent),
        (linalg.cho_factor, _cho_factor, _cho_factor_tangent),
        (linalg.cho_solve, _cho_solve, _cho_solve_tangent),
        (linalg.solve_triangular, _solve_triangular, _solve_triangular_tangent),
    ):
        adjoint(fn)(rule)
        tangent(fn)(tangent_rule)
    declare(linalg.cholesky, linalg.cho_solve, linalg.solve_triangular, allocates="new")
    declare(linalg.cho_factor, several_results=True)


if _FOUND:
    register_now_or_on_import({"scipy.linalg": register_linalg})


# ---------------------------------------------------------------- matrix exponential
# expm's derivative is the Frechet derivative L(a, e) (scipy.linalg.expm_frechet), its
# adjoint L(a^T, g); the derivative of L in a is the upper right block of L at the block
# matrix [[a, e], [0, a]] (runtime/matrix_exponential_helpers.py), so every order works


def _expm(z, A):
    d[A] += frechet(np.swapaxes(A, -1, -2), d[z])


def _expm_tangent(z, A):
    d[z] += frechet(A, d[A])


@tangent(frechet)
def _frechet_tangent(out, x, e):
    d[out] += frechet(x, d[e])
    d[out] += upper_right(frechet(frechet_block(x, e), frechet_block(d[x], None)))


def register_expm(linalg) -> None:
    """Register the rules of ``linalg.expm`` (``scipy.linalg``)."""
    adjoint(linalg.expm)(_expm)
    tangent(linalg.expm)(_expm_tangent)
    declare(linalg.expm, allocates="new")


if _FOUND:
    register_now_or_on_import({"scipy.linalg": register_expm})
