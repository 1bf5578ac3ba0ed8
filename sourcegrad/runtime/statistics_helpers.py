"""Helpers for the derivatives of ``np.median``, ``np.quantile`` and ``np.percentile`` (with
NumPy's default, linear interpolation): a quantile is a weighted sum of the two order
statistics around it, so its derivative puts those weights on the two elements that hold them
(on a tie, the ones a stable sort puts there). Both helpers are linear in their first argument;
the positions depend on ``a`` only piecewise, so they are constants for differentiation."""

from __future__ import annotations

import numpy as np

from .facts import helper


def _reduced(a, axis) -> tuple:
    """The axes of ``a`` that ``axis`` names (every axis for None), non-negative, in the
    order given."""
    if axis is None:
        return tuple(range(np.ndim(a)))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return tuple(ax % np.ndim(a) for ax in axes)


def _moved(a, axis):
    """``a`` with the axes ``axis`` reduces flattened into its last axis (all of them for
    ``axis=None``)."""
    if axis is None:
        return np.reshape(a, (-1,))
    axes = _reduced(a, axis)
    kept = [ax for ax in range(np.ndim(a)) if ax not in axes]
    moved = np.transpose(a, kept + list(axes))
    return np.reshape(moved, moved.shape[: len(kept)] + (-1,))


def _positions(a, q, axis):
    """``(moved, order, lo, hi, w)``: :func:`_moved` ``a``, its stable sort order along the
    last axis, and per quantile in ``q`` (a flat array) the two sorted positions and the
    weight of the upper one."""
    moved = _moved(a, axis)
    n = moved.shape[-1]
    order = np.argsort(moved, axis=-1, kind="stable")
    p = np.asarray(q, dtype=np.float64).reshape(-1) * (n - 1)
    lo = np.floor(p).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    return moved, order, lo, hi, p - lo


def _lanes(g, q, keep_shape, keepdims, a, axis):
    """``g`` (shaped as the quantile's result) as ``(len(q),) + keep_shape``."""
    g = np.asarray(g)
    nq = int(np.size(q))
    if keepdims:
        g = np.squeeze(g, axis=tuple(np.ndim(q) + ax for ax in _reduced(a, axis)))
    return np.broadcast_to(g, np.shape(q) + keep_shape).reshape((nq,) + keep_shape)


@helper(linear=("g",), like="a")
def unquantile(g, a, q, axis=None, keepdims=False):
    """The adjoint of ``a`` in ``np.quantile(a, q, axis, keepdims=keepdims)`` (linear
    interpolation; ``q`` a number or an array of them) from the adjoint ``g`` of its result."""
    moved, order, lo, hi, w = _positions(a, q, axis)
    lanes = _lanes(g, q, moved.shape[:-1], keepdims, a, axis)
    out = np.zeros(moved.shape, dtype=np.result_type(a, lanes, 1.0))
    for k in range(lo.size):
        for pos, weight in ((lo[k], 1.0 - w[k]), (hi[k], w[k])):
            idx = np.take(order, [pos], axis=-1)
            np.put_along_axis(
                out, idx, np.take_along_axis(out, idx, -1) + weight * lanes[k][..., None], -1
            )
    return _unmoved(out, a, axis)


def _unmoved(moved, a, axis):
    """``moved`` (``a``'s elements with the reduced axes flattened last) in ``a``'s layout."""
    if axis is None:
        return np.reshape(moved, np.shape(a))
    axes = _reduced(a, axis)
    kept = [ax for ax in range(np.ndim(a)) if ax not in axes]
    perm = kept + list(axes)
    shaped = np.reshape(moved, tuple(np.shape(a)[ax] for ax in perm))
    return np.transpose(shaped, np.argsort(perm))


@helper(linear=("t",))
def quantile_tangent(t, a, q, axis=None, keepdims=False):
    """The tangent of ``np.quantile(a, q, axis, keepdims=keepdims)`` from the tangent ``t`` of
    ``a``: the same weights on the same two elements."""
    moved, order, lo, hi, w = _positions(a, q, axis)
    tm = _moved(t, axis)
    parts = []
    for k in range(lo.size):
        at_lo = np.take_along_axis(tm, np.take(order, [lo[k]], axis=-1), -1)[..., 0]
        at_hi = np.take_along_axis(tm, np.take(order, [hi[k]], axis=-1), -1)[..., 0]
        parts.append((1.0 - w[k]) * at_lo + w[k] * at_hi)
    out = np.reshape(np.stack(parts), np.shape(q) + moved.shape[:-1])
    if keepdims:
        for ax in sorted(_reduced(a, axis)):
            out = np.expand_dims(out, np.ndim(q) + ax)
    return out


@helper(linear=("w",), like="a")
def weights_like(w, a, axis=None):
    """The weights ``w`` of ``np.average(a, axis, weights=w)`` shaped to broadcast against
    ``a``: ``w`` itself where it has ``a``'s shape, a 1-D ``w`` laid along ``axis``."""
    if np.shape(w) == np.shape(a):
        return w
    shape = [1] * np.ndim(a)
    shape[axis % np.ndim(a)] = np.shape(w)[0]
    return np.reshape(w, shape)


@helper(linear=("g",), like="w")
def unweights(g, w, a, axis=None):
    """``g`` (shaped like ``a``) summed back to the shape of the weights ``w`` of
    ``np.average(a, axis, weights=w)``: the adjoint of :func:`weights_like`."""
    if np.shape(w) == np.shape(a):
        return g
    other = tuple(ax for ax in range(np.ndim(a)) if ax != axis % np.ndim(a))
    return np.sum(g, axis=other)


@helper(constant=True)
def present(a):
    """1.0 where ``a`` is not NaN, 0.0 where it is, in ``a``'s dtype: what ``np.nansum`` and
    ``np.nanmean`` count."""
    return (~np.isnan(a)).astype(np.result_type(a, 1.0))
