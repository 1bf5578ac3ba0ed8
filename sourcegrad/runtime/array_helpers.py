"""Functions that the rules of array construction and dtype casts call (``x.astype(t)``,
``np.asarray(x, t)``, ``np.array(nested list)``), in reverse and in forward mode.

Each is linear in the derivative it maps, so its forward-mode rule is a call to itself
(made from its ``@helper(linear=...)`` declaration): generated code that calls it can be
differentiated again.
"""

from __future__ import annotations

import numpy as np

from .facts import helper


def _zeros_like(x):
    """Floating zeros shaped like ``x``: 0.0 for a Python number, a NumPy zero for a NumPy
    scalar, an array (of ``x``'s own array type) for an array, nested lists or tuples."""
    if isinstance(x, (bool, int, float, complex)):
        return 0.0
    if isinstance(x, (list, tuple)):
        return np.zeros(np.shape(x))
    if getattr(x, "dtype", None) is None:
        return np.zeros(np.shape(x))
    kind = x.dtype.kind
    dtype = x.dtype if kind in ("f", "c") else np.float64
    if isinstance(x, np.generic):
        return np.dtype(dtype).type(0)
    return np.zeros_like(x, dtype=dtype)


@helper(linear=("g",), like="z")
def through_cast(g, z):
    """The derivative ``g`` carried through a dtype cast whose result is ``z``, in either
    direction (an adjoint or a tangent, shaped like ``z``): ``g`` itself where ``z`` is
    floating or complex; zeros where ``z`` is integer or boolean, as a cast to those is
    piecewise constant (``x.astype(int)`` truncates)."""
    dtype = getattr(z, "dtype", None)
    kind = dtype.kind if dtype is not None else np.asarray(z).dtype.kind
    return g if kind in ("f", "c") else _zeros_like(g)


@helper(linear=("t",))
def fill_tangents(t, x):
    """The tangent ``t`` of ``x`` (one value, or a nested list or tuple of values, as
    ``np.array`` takes them) with zeros shaped like the matching part of ``x`` wherever it is
    None (a constant item): ``np.array(fill_tangents(t, x))`` is the tangent of
    ``np.array(x)``."""
    if t is None:
        if isinstance(x, (list, tuple)):
            return [fill_tangents(None, v) for v in x]
        return _zeros_like(x)
    if isinstance(t, (list, tuple)) and isinstance(x, (list, tuple)):
        return [fill_tangents(ti, v) for ti, v in zip(t, x)]
    return t


@helper(tangent_rule=True, like="value", passes=True, checks=True)
def in_place_result(value, x):
    """``value``, the result of ``x + v`` (or another operator) of an update ``x += v``, as
    NumPy's in-place update leaves ``x`` where ``x`` is an array: cast to ``x``'s dtype (a
    float32 array stays float32), and NumPy's own errors where the update cannot be made in
    place: a ``TypeError`` where the cast is not ``same_kind`` (a float into an integer
    array), a ``ValueError`` where ``v`` broadcasts ``x`` to a larger shape. ``value`` itself
    where ``x`` is a number or a NumPy scalar (which ``+=`` rebinds) or the dtype is
    ``x``'s already; a 0-d array where ``x`` is one (NumPy's arithmetic of a 0-d array gives
    a scalar, its update leaves the array)."""
    dtype = getattr(x, "dtype", None)
    got = getattr(value, "dtype", None)
    if dtype is None or got is None or not hasattr(x, "__setitem__"):
        return value
    if value.shape != x.shape:
        raise ValueError(
            f"non-broadcastable output operand with shape {x.shape} doesn't match the "
            f"broadcast shape {value.shape}"
        )
    if got != dtype:
        if not np.can_cast(got, dtype, casting="same_kind"):
            raise TypeError(
                f"Cannot cast ufunc output from {got!r} to {dtype!r} with casting rule "
                "'same_kind'"
            )
        value = value.astype(dtype)
    # a 0-d array's arithmetic gives a NumPy scalar; its update leaves the array
    return value if hasattr(value, "__setitem__") else np.asarray(value)
