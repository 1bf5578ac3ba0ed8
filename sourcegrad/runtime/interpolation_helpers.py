"""What the rules of ``np.interp``, ``np.vander``, ``np.polyval``, ``np.polyfit``, ``np.trapezoid``,
``np.gradient`` and ``np.partition`` call (``sourcegrad/rules/interpolation.py``).

The interval and permutation helpers give integer indices, constants for differentiation; the
others are linear maps of the derivative they take (``linear`` below), or derivatives of
powers whose own derivative is the next one (``vander_derivative``, ``polyval_derivative``), so
that the rules written with them are closed under differentiation."""

from __future__ import annotations

import numpy as np

from ..errors import SourcegradError
from .facts import helper


@helper(constant=True)
def interp_cell(x, xp, period=None):
    """For each entry of ``x``, the index ``i`` of the interval ``xp[i] .. xp[i + 1]`` of
    ``np.interp`` it falls in, clipped to the first and last interval (a point left or right
    of ``xp`` gets the end interval). Refuses ``period``."""
    if period is not None:
        raise SourcegradError(
            "the derivative of np.interp(..., period=...) is not supported; wrap the points "
            "yourself (np.mod(x - xp[0], period) + xp[0]) and extend xp and fp by one period"
        )
    xp = np.asarray(xp)
    if np.ndim(xp) != 1 or np.size(xp) < 2:
        raise SourcegradError(
            "the derivative of np.interp needs xp to be 1-D with at least two points"
        )
    i = np.searchsorted(xp, x, side="right") - 1
    return np.clip(i, 0, np.size(xp) - 2)


@helper(linear=("fp",), like="x")
def interp_slope(x, xp, fp, period=None):
    """The derivative of ``np.interp(x, xp, fp)`` with respect to ``x``: the slope of the
    interval each point lies in, zero left and right of ``xp`` (the fill values are constants
    of ``x``); at a sample point, the slope of the interval to its right. Linear in ``fp``
    (a constant of ``x`` wherever it is differentiable)."""
    i = interp_cell(x, xp, period)
    xp, fp = np.asarray(xp), np.asarray(fp)
    inside = (x >= xp[0]) & (x <= xp[-1])
    return inside * (fp[i + 1] - fp[i]) / (xp[i + 1] - xp[i])


@helper(constant=True, like="x")
def interp_outside(x, xp, period=None, side=-1):
    """Where ``np.interp(x, xp, fp, left, right, period)`` gives ``left`` (``side=-1``: ``x``
    left of ``xp``) or ``right`` (``side=1``); nowhere with a ``period``, which NumPy gives
    precedence over them."""
    xp = np.asarray(xp)
    if period is not None:
        return np.zeros(np.shape(x), bool)
    return x < xp[0] if side < 0 else x > xp[-1]


@helper(constant=True)
def refuse_interp_knots(xp):
    """The refusal of a derivative with respect to ``np.interp``'s ``xp``."""
    raise SourcegradError(
        "the derivative of np.interp with respect to xp (the sample points) is not supported; "
        "pass xp as a constant (only x, fp, left and right are differentiated)"
    )


@helper(constant=True)
def zero_unless_none(value):
    """``None`` for ``None``, else ``0.0``: the tangent of ``np.interp``'s ``left``/``right``
    fill where ``fp`` alone varies."""
    return None if value is None else 0.0


def _falling(powers, k):
    """``p (p - 1) ... (p - k + 1)`` for each power ``p`` (1 for ``k = 0``)."""
    out = np.ones(np.shape(powers))
    for j in range(k):
        out = out * (powers - j)
    return out


@helper(tangent_rule=True)
def vander_derivative(x, n, increasing=False, k=0):
    """The ``k``-th derivative of ``np.vander(x, n, increasing)`` with respect to ``x``, entry by
    entry: column ``j`` of power ``p`` holds ``p (p - 1) ... (p - k + 1) x ** (p - k)``, zero
    where ``p < k`` (no ``0 * x ** -1`` at ``x = 0``)."""
    x = np.asarray(x)
    powers = np.arange(n) if increasing else np.arange(n - 1, -1, -1)
    kept = powers >= k
    values = np.asarray(x)[:, None] ** np.where(kept, powers - k, 0)
    dtype = np.result_type(x.dtype, np.float64) if k else x.dtype
    return (values * np.where(kept, _falling(powers, k), 0)).astype(dtype, copy=False)


@helper(constant=True)
def plain_polyfit(full, w, cov):
    """1.0 for ``np.polyfit(x, y, deg)`` called for its coefficients alone, unweighted (what
    its rule differentiates: the least-squares solution); else the refusal of its derivative."""
    if full is False and w is None and cov is False:
        return 1.0
    raise SourcegradError(
        "the derivative of np.polyfit is supported for its coefficients alone, unweighted "
        "(no `full`, `w` or `cov`); fit with np.linalg.lstsq(np.vander(x, deg + 1), y) "
        "instead, rows scaled by the weights"
    )


@helper(tangent_rule=True)
def polyval_derivative(p, x, k=1):
    """The ``k``-th derivative of ``np.polyval(p, x)`` with respect to ``x`` (``p`` 1-D):
    ``np.polyval`` of the ``k``-th derivative's coefficients, zeros where the degree is
    below ``k``."""
    p = np.asarray(p)
    if np.ndim(p) != 1:
        raise SourcegradError(
            "the derivative of np.polyval is supported for 1-D coefficients p only"
        )
    n = np.size(p)
    if n <= k:
        return np.zeros(np.shape(x), np.result_type(p, x, np.float64))
    powers = np.arange(n - 1, k - 1, -1)
    return np.polyval(p[: n - k] * _falling(powers, k), x)


# ---------------------------------------------------------------- trapezoid


def _along(v, axis, ndim):
    """``v`` (1-D) shaped to broadcast along ``axis`` of an array of rank ``ndim``."""
    shape = [1] * ndim
    shape[axis] = -1
    return np.reshape(v, shape)


def _spacings(y, x, dx, axis):
    """The interval widths of ``np.trapezoid(y, x, dx, axis)``, broadcasting against ``y``'s
    intervals."""
    if x is None:
        return dx
    x = np.asarray(x)
    if x.ndim == 1:
        return _along(np.diff(x), axis, np.ndim(y))
    return np.diff(x, axis=axis)


@helper(linear=("g", "x", "dx"), like="y")
def untrapezoid(g, y, x=None, dx=1.0, axis=-1):
    """The adjoint with respect to ``y`` of ``np.trapezoid(y, x, dx, axis)``: ``g`` spread
    along the axis with each point's weight (half the widths of its intervals). Linear in
    ``g``, and in ``x`` (or, without ``x``, in ``dx``)."""
    y = np.asarray(y)
    axis = axis % y.ndim
    h = np.broadcast_to(_spacings(y, x, dx, axis) * 0.5, _interval_shape(y, x, axis))
    pad = [(0, 0)] * h.ndim
    lo, hi = list(pad), list(pad)
    lo[axis], hi[axis] = (0, 1), (1, 0)
    w = np.pad(h, lo) + np.pad(h, hi)
    return np.broadcast_to(np.expand_dims(g, axis) * w, y.shape).copy()


def _interval_shape(y, x, axis):
    shape = list(np.shape(y))
    shape[axis] -= 1
    if x is not None and np.ndim(x) > 1:
        shape = list(np.broadcast_shapes(tuple(shape), np.shape(np.diff(x, axis=axis))))
    return tuple(shape)


@helper(linear=("g", "y"), like="x")
def trapezoid_x_adjoint(g, y, x, axis=-1):
    """The adjoint with respect to ``x`` of ``np.trapezoid(y, x, axis=axis)``: at each point,
    the mean height of the interval before it minus that of the interval after it. Linear in
    ``g`` and in ``y``."""
    y = np.asarray(y)
    axis = axis % y.ndim
    n = y.shape[axis]
    first = np.take(y, np.arange(n - 1), axis)
    last = np.take(y, np.arange(1, n), axis)
    s = 0.5 * (first + last) * np.expand_dims(g, axis)
    pad = [(0, 0)] * s.ndim
    lo, hi = list(pad), list(pad)
    lo[axis], hi[axis] = (1, 0), (0, 1)
    out = np.pad(s, lo) - np.pad(s, hi)
    if np.ndim(x) == 1:
        others = tuple(k for k in range(out.ndim) if k != axis)
        return np.sum(out, axis=others)
    return np.reshape(out, np.shape(x)) if np.shape(out) == np.shape(x) else _summed(out, x)


def _summed(out, x):
    """``out`` summed to the shape of ``x`` (which it broadcast against)."""
    extra = np.ndim(out) - np.ndim(x)
    out = np.sum(out, axis=tuple(range(extra))) if extra else out
    axes = tuple(k for k, n in enumerate(np.shape(x)) if n == 1 and np.shape(out)[k] != 1)
    return np.sum(out, axis=axes, keepdims=True) if axes else out


# ---------------------------------------------------------------- gradient


def _gradient_axis(f, axis):
    """The one axis of ``np.gradient(f, ..., axis=axis)`` differentiated here, or a refusal."""
    if axis is None and np.ndim(f) == 1:
        return 0
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        return int(axis) % np.ndim(f)
    if isinstance(axis, tuple) and len(axis) == 1:
        return int(axis[0]) % np.ndim(f)
    raise SourcegradError(
        "the derivative of np.gradient is supported for a 1-D array or one axis (axis=k); "
        "call np.gradient once per axis you need"
    )


def _stencil(n, spacing, edge_order):
    """The rows, columns and weights of ``np.gradient``'s linear map along one axis of
    length ``n``: each output point reads at most three consecutive inputs, so the weights are
    ``np.gradient`` of three comb vectors (ones at every third point)."""
    combs = [np.gradient((np.arange(n) % 3 == r).astype(float), *spacing, edge_order=edge_order)
             for r in range(3)]  # fmt: skip
    width = 2 if edge_order == 1 else 3
    rows, cols = [], []
    inner = np.arange(1, n - 1)
    for shift in (-1, 0, 1):
        rows.append(inner)
        cols.append(inner + shift)
    for j in range(width):
        rows += [np.array([0]), np.array([n - 1])]
        cols += [np.array([j]), np.array([n - 1 - j])]
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    weights = np.choose(cols % 3, [c[rows] for c in combs])
    return rows, cols, weights


@helper(linear=("g",), like="f")
def ungradient(g, f, spacing=(), axis=None, edge_order=1):
    """The adjoint of ``np.gradient(f, *spacing, axis=axis, edge_order=edge_order)`` along
    its one axis (a 1-D ``f``, or an integer ``axis``): the transposed stencil."""
    ax = _gradient_axis(f, axis)
    if len(spacing) > 1:
        raise SourcegradError(
            "the derivative of np.gradient with one axis takes at most one spacing"
        )
    n = np.shape(f)[ax]
    rows, cols, weights = _stencil(n, tuple(np.asarray(s) for s in spacing), edge_order)
    moved = np.moveaxis(np.asarray(g), ax, 0)
    out = np.zeros(moved.shape, np.result_type(moved, weights))
    shape = (-1,) + (1,) * (moved.ndim - 1)
    np.add.at(out, cols, np.reshape(weights, shape) * moved[rows])
    return np.moveaxis(out, 0, ax)


@helper(linear=("t",))
def gradient_tangent(t, spacing=(), axis=None, edge_order=1):
    """The tangent of ``np.gradient(f, *spacing, axis=axis, edge_order=edge_order)`` from the
    tangent ``t`` of ``f`` (one axis, as :func:`ungradient`)."""
    ax = _gradient_axis(t, axis)
    return np.gradient(t, *spacing, axis=ax, edge_order=edge_order)


# ---------------------------------------------------------------- partition


@helper(constant=True)
def partition_order(a, z, axis=-1):
    """Indices ``i`` with ``np.take_along_axis(a, i, axis) == z`` for ``z = np.partition(a,
    ...)`` (for ``axis=None``, of ``a`` flattened): the two arrays' stable sorting
    permutations matched (equal values: one of their orders)."""
    if axis is None:
        a, axis = np.ravel(a), 0
    order_a = np.argsort(a, axis, kind="stable")
    order_z = np.argsort(z, axis, kind="stable")
    out = np.empty_like(order_a)
    np.put_along_axis(out, order_z, order_a, axis)
    return out
