"""Functions that generated forward-mode (tangent) code calls.

A tangent is None where it is known to be zero only inside these helpers' arguments; what they
return is always a value of the primal's structure, so later code never tests for None.
"""

from __future__ import annotations

import numpy as np

from .helpers import Pieces, Shape


def zero_tangent(x):
    """A zero tangent for ``x``: zeros of its shape and dtype, item by item for containers;
    None for values that carry no derivative (integers, shapes, None)."""
    if isinstance(x, float):
        return 0.0
    if x is None or isinstance(x, (bool, int, str, Shape, np.integer)):
        return None
    if isinstance(x, dict):
        return type(x)((k, zero_tangent(v)) for k, v in x.items())
    if isinstance(x, Pieces):
        return Pieces(zero_tangent(v) for v in x)
    if isinstance(x, tuple) and hasattr(type(x), "_fields"):
        return type(x)(*[zero_tangent(v) for v in x])
    if isinstance(x, (list, tuple)):
        return type(x)(zero_tangent(v) for v in x)
    dtype = getattr(x, "dtype", None)
    if dtype is not None and dtype.kind in "fc":
        return np.zeros_like(x)
    if isinstance(x, (complex, np.floating)):
        return 0.0
    return None


def broadcast_like(t, z):
    """Tangent ``t`` broadcast to the shape of ``z`` (the result it is the tangent of)."""
    shape = np.shape(z)
    if np.shape(t) == shape:
        return t
    return np.broadcast_to(t, shape)


def assign_tangent(dx, index, dv, x):
    """The tangent of ``x`` after ``x[index] = v``: ``dx`` (zeros when None) with ``dv`` (zero
    when None) written at ``index``; a new array, never a view of ``dx``."""
    out = np.zeros_like(x) if dx is None else np.array(dx, copy=True)
    out[index] = 0.0 if dv is None else dv
    return out


def append_tangent(dxs, dv, xs, v):
    """The tangent of ``[*xs, v]``."""
    if dxs is None:
        dxs = zero_tangent(list(xs))
    return [*dxs, zero_tangent(v) if dv is None else dv]


def pack_tangent(kind, tangents, values):
    """The tangent of a tuple or list literal: each item's tangent, zeros where it is None."""
    items = [zero_tangent(v) if t is None else t for t, v in zip(tangents, values)]
    return items if kind is list else tuple(items)


def item_tangent(t, index):
    """The tangent of ``x[index]`` (``x`` an array, list or tuple) from the tangent of ``x``."""
    if t is None:
        return None
    return t[index]
