"""Helpers for the derivatives of ``scipy.linalg``'s triangular solvers and Cholesky factors
(``rules/scipy_linalg.py``): which triangle a call reads, and the products its rules need,
for a ``lower`` flag and a ``trans`` code known only when the derivative runs. Each is linear
in its array arguments, one at a time, so the rules that call them differentiate again."""

from __future__ import annotations

import numpy as np

from .facts import helper
from .trees import Pieces

#: the ``trans`` codes of ``scipy.linalg.solve_triangular`` that solve with ``a`` itself
_PLAIN = (0, "N", "n")


@helper(linear=("m",), like="m")
def triangle(m, lower, strict=False):
    """The lower (``lower``) or upper triangle of ``m``, without the diagonal where
    ``strict``: the part of a matrix a triangular routine reads (a unit diagonal is not
    read)."""
    k = 1 if strict else 0
    return np.tril(m, -k) if lower else np.triu(m, k)


@helper(linear=("m",), like="m")
def lower_form(m, lower):
    """``m`` where it is a lower factor (``lower``), else its transpose: an upper factor
    ``U`` of ``A = U^T U`` as the lower factor ``L = U^T`` of ``A = L L^T``."""
    return m if lower else np.swapaxes(m, -1, -2)


@helper(constant=True)
def other_trans(trans):
    """The ``trans`` code that solves with the transpose of what ``trans`` solves with."""
    return 1 if trans in _PLAIN else 0


def _outer(g, x):
    """``g x^T`` for the right-hand sides ``g`` and ``x`` of a solve (vectors or matrices)."""
    return np.multiply.outer(g, x) if np.ndim(x) == 1 else g @ np.swapaxes(x, -1, -2)


@helper(linear=("g", "x"))
def triangular_adjoint(g, x, trans, lower, unit_diagonal):
    """The adjoint of ``a`` in ``x = solve_triangular(a, b, trans, lower, unit_diagonal)``
    from ``g``, the adjoint of ``b``: ``-g x^T`` (``-x g^T`` for a transposed solve), in the
    triangle the call read."""
    outer = _outer(g, x)
    if trans not in _PLAIN:
        outer = np.swapaxes(outer, -1, -2)
    return -triangle(outer, lower, unit_diagonal)


@helper(linear=("t", "x"))
def triangular_product(t, x, trans, lower, unit_diagonal):
    """``op(T) @ x`` for ``T`` the triangle of ``t`` a triangular solve reads and ``op`` the
    transpose where ``trans`` asks: the tangent of ``a`` times the solution."""
    m = triangle(t, lower, unit_diagonal)
    if trans not in _PLAIN:
        m = np.swapaxes(m, -1, -2)
    return m @ x


@helper(linear=("g", "x", "c"))
def factor_adjoint(g, x, c, lower):
    """The adjoint of the factor ``c`` in ``x = cho_solve((c, lower), b)`` from ``g``, the
    adjoint of ``b``: with ``S = -(g x^T + x g^T)``, ``tril(S L)`` for a lower factor,
    ``triu(U S)`` for an upper one (the other triangle of ``c`` is not read)."""
    outer = _outer(g, x)
    s = -(outer + np.swapaxes(outer, -1, -2))
    f = triangle(c, lower)
    return np.tril(s @ f) if lower else np.triu(f @ s)


@helper(linear=("t", "c", "x"))
def factor_product(t, c, lower, x):
    """``dA @ x`` for ``A = L L^T`` (``A = U^T U``) the matrix a Cholesky factor ``c`` stands
    for and ``t`` a tangent of ``c``: ``(dL L^T + L dL^T) x`` in the triangle it reads."""
    dl = lower_form(triangle(t, lower), lower)
    f = lower_form(triangle(c, lower), lower)
    return dl @ (np.swapaxes(f, -1, -2) @ x) + f @ (np.swapaxes(dl, -1, -2) @ x)


@helper(linear=("g",))
def first_item_adjoint(g, like):
    """The adjoint of a tuple ``like`` (``(c, lower)``) whose first item has adjoint ``g``
    and whose other items are constants."""
    return Pieces((g,) + (None,) * (len(like) - 1))
