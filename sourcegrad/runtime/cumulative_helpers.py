"""Masks for the derivatives of ``np.cumprod`` where an entry is zero.

Along the cumulated axis, let ``p`` be the position of the first zero. Every product ``z_k``
with ``k >= p`` is zero, and its derivative with respect to ``a_i`` is zero for ``i > p`` (the
product keeps the zero at ``p``); before ``p`` the derivative is ``z_k / a_i`` as without
zeros, and at ``p`` it is the product of the other entries, the cumulative product of ``a``
with ``a_p`` replaced by one. These helpers give the two masks (``i < p``, ``i == p``);
they depend on ``a`` only through where it is zero, so they are constants for
differentiation."""

from __future__ import annotations

import numpy as np

from ..errors import SourcegradError
from .facts import helper


def _positions(a, axis):
    """``(index along the axis, first zero's index)`` broadcast against ``a`` (for
    ``axis=None``, ``a`` flattened); the first zero's index is the length where there is none."""
    a = np.ravel(a) if axis is None else np.asarray(a)
    ax = 0 if axis is None else axis % a.ndim
    zero = a == 0
    n = a.shape[ax]
    first = np.where(np.any(zero, ax, keepdims=True), np.argmax(zero, ax, keepdims=True), n)
    shape = [1] * a.ndim
    shape[ax] = n
    return np.arange(n).reshape(shape), first


@helper(constant=True)
def before_first_zero(a, axis=None):
    """True where an entry comes before the first zero along ``axis`` (for ``axis=None``,
    of ``a`` flattened, as ``np.cumprod`` takes it)."""
    i, first = _positions(a, axis)
    return i < first


@helper(constant=True)
def at_first_zero(a, axis=None):
    """True at the first zero along ``axis`` (``axis=None``: of ``a`` flattened)."""
    i, first = _positions(a, axis)
    return i == first


@helper(tangent_rule=True)
def cumprod_curvature(a, axis=None):
    """Zero, added to ``np.cumprod``'s adjoint: its tangent (a second derivative of
    ``np.cumprod``) is zero where no entry of ``a`` is zero, and refused where one is (the
    masks above are exact for first derivatives only)."""
    return 0.0


@helper(constant=True)
def refuse_cumprod_curvature(a):
    """0.0 where no entry of ``a`` is zero; else the refusal of a second derivative of
    ``np.cumprod`` that sourcegrad does not compute exactly."""
    if np.all(np.asarray(a) != 0):
        return 0.0
    raise SourcegradError(
        "second and higher derivatives of np.cumprod are computed only where no entry is zero; "
        "write the cumulative product as a loop of multiplications for these"
    )
