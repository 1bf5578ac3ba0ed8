"""Adjoints of joins, tilings and gathers that need a loop or a scatter."""

from __future__ import annotations

import numpy as np

from ..errors import SourcegradError
from .facts import helper
from .helpers import sum_to
from .trees import Pieces, zero_adjoint


@helper(linear=("g",))
def unconcatenate(g, arrays, axis=0):
    """The pieces of ``g`` that came from each of ``arrays`` in ``np.concatenate(arrays, axis)``."""
    if axis is None:
        sizes = np.cumsum([np.size(a) for a in arrays])[:-1]
        return Pieces(
            np.reshape(p, np.shape(a)) for p, a in zip(np.split(np.ravel(g), sizes), arrays)
        )
    sizes = np.cumsum([np.shape(a)[axis] for a in arrays])[:-1]
    return Pieces(np.split(g, sizes, axis))


@helper(linear=("g",), like="a")
def untile(g, a, reps):
    """Adjoint of ``np.tile(a, reps)``: the tiles of ``g`` summed."""
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    shape = np.shape(a)
    nd = max(len(shape), len(reps))
    shape = (1,) * (nd - len(shape)) + shape
    reps = (1,) * (nd - len(reps)) + reps
    split = []
    for r, n in zip(reps, shape):
        split += [r, n]
    out = np.reshape(g, split).sum(axis=tuple(range(0, 2 * nd, 2)))
    return np.reshape(out, np.shape(a))


@helper(linear=("g",), like="a")
def unrepeat(g, a, repeats, axis=None):
    """Adjoint of ``np.repeat(a, repeats, axis)``."""
    if axis is None:
        flat = np.ravel(a)
        idx = np.repeat(np.arange(flat.size), repeats)
        out = np.zeros_like(flat)
        np.add.at(out, idx, np.ravel(g))
        return np.reshape(out, np.shape(a))
    axis = axis % np.ndim(a)
    idx = np.repeat(np.arange(np.shape(a)[axis]), repeats)
    out = np.zeros_like(a)
    np.add.at(out, (slice(None),) * axis + (idx,), g)
    return out


@helper(linear=("g",), like="a")
def unpad(g, a, pad_width, mode="constant"):
    """Adjoint of ``np.pad(a, pad_width)`` (constant mode): the interior of ``g``."""
    if mode != "constant":
        raise SourcegradError(f"the derivative of np.pad(mode={mode!r}) is not supported")
    pw = np.broadcast_to(np.asarray(pad_width), (np.ndim(a), 2))
    index = tuple(slice(int(lo), int(lo) + n) for (lo, _), n in zip(pw, np.shape(a)))
    return g[index]


@helper(linear=("g",), like="a")
def untake(g, a, indices, axis=None):
    """Adjoint of ``np.take(a, indices, axis)``."""
    if axis is None:
        out = np.zeros_like(np.ravel(a))
        np.add.at(out, np.ravel(indices), np.ravel(g))
        return np.reshape(out, np.shape(a))
    out = np.zeros_like(a)
    axis = axis % np.ndim(a)
    np.add.at(out, (slice(None),) * axis + (indices,), g)
    return out


@helper(linear=("g",), like="arr")
def untake_along_axis(g, arr, indices, axis):
    """Adjoint of ``np.take_along_axis(arr, indices, axis)``."""
    out = np.zeros_like(arr)
    if axis is None:
        np.add.at(np.ravel(out), indices, g)  # ravel of a fresh array is a view
        return out
    axis = axis % np.ndim(arr)
    # ``arr`` and ``indices`` broadcast against each other (except along ``axis``)
    shape = np.shape(g)
    idx = list(np.indices(shape, sparse=True))
    for k, n in enumerate(np.shape(arr)):
        if n == 1 and shape[k] != 1:
            idx[k] = np.zeros_like(idx[k])
    idx[axis] = np.broadcast_to(indices, shape)
    np.add.at(out, tuple(idx), g)
    return out


@helper(linear=("g",), like="x")
def unwindow(g, x, window_shape, axis=None):
    """Adjoint of ``sliding_window_view(x, window_shape, axis)``: each window's part of ``g``
    added back where the window reads ``x`` (one add per position in the window)."""
    shape = np.shape(x)
    window = (window_shape,) if np.ndim(window_shape) == 0 else tuple(window_shape)
    if axis is None:
        axes = tuple(range(len(shape)))
    else:
        axes = tuple(a % len(shape) for a in ((axis,) if np.ndim(axis) == 0 else axis))
    if len(set(axes)) != len(axes):
        raise SourcegradError(
            "sliding_window_view with an axis named twice is not differentiated; take the "
            "windows of that axis in one step"
        )
    out = np.zeros(shape, dtype=np.result_type(g, x))
    for offset in np.ndindex(*window):
        index = [slice(None)] * len(shape)
        for a, j in zip(axes, offset):
            index[a] = slice(j, j + np.shape(g)[a])
        out[tuple(index)] += g[(Ellipsis, *offset)]
    return out


# ---------------------------------------------------------------- joins, diagonals, differences


def _join_axis(arrays, kind):
    """The axis ``np.<kind>(arrays)`` concatenates along (after promoting the items)."""
    if kind == "vstack":
        return 0
    if kind == "hstack":
        return 0 if all(np.ndim(a) <= 1 for a in arrays) else 1
    if kind == "column_stack":
        return 1
    if kind == "dstack":
        return 2
    raise SourcegradError(f"unknown join {kind!r}")


def _promoted_shape(a, kind):
    if kind == "vstack":
        return np.shape(np.atleast_2d(np.empty(np.shape(a), dtype=np.int8)))
    if kind == "hstack":
        return np.shape(a) if np.ndim(a) else (1,)
    if kind == "column_stack":
        return (np.size(a), 1) if np.ndim(a) < 2 else np.shape(a)
    return np.shape(np.atleast_3d(np.empty(np.shape(a), dtype=np.int8)))


@helper(linear=("g",))
def unjoin(g, arrays, kind):
    """Adjoints of the items of ``np.vstack`` / ``hstack`` / ``column_stack`` / ``dstack``
    (``kind``) of ``arrays``: the pieces of ``g`` each item became, in the item's shape."""
    axis = _join_axis(arrays, kind)
    sizes = np.cumsum([_promoted_shape(a, kind)[axis] for a in arrays])[:-1]
    return Pieces(np.reshape(p, np.shape(a)) for p, a in zip(np.split(g, sizes, axis), arrays))


@helper(linear=("g",))
def unappend(g, arr, values, axis, which):
    """Adjoint of ``arr`` (``which`` 0) or ``values`` (1) in ``np.append(arr, values, axis)``."""
    if axis is None:
        n = np.size(arr)
        flat = np.ravel(g)
        part = flat[:n] if which == 0 else flat[n:]
        return np.reshape(part, np.shape(arr if which == 0 else values))
    n = np.shape(arr)[axis]
    index = [slice(None)] * np.ndim(g)
    index[axis] = slice(None, n) if which == 0 else slice(n, None)
    part = g[tuple(index)]
    return np.reshape(part, np.shape(arr if which == 0 else values))


@helper(linear=("g",))
def uninsert(g, arr, obj, values, axis, which):
    """Adjoint of ``arr`` (``which`` 0) or ``values`` (1) in ``np.insert(arr, obj, values,
    axis)``: where each entry of the result came from is found by inserting the positions of
    ``values`` into those of ``arr`` the same way (a value broadcast into several entries
    gets their sum)."""
    came = np.insert(
        np.arange(1, np.size(arr) + 1).reshape(np.shape(arr)),
        obj,
        -np.arange(1, np.size(values) + 1).reshape(np.shape(values)),
        axis,
    ).ravel()
    g = np.ravel(g)
    own = came > 0 if which == 0 else came < 0
    out = np.zeros(np.size(arr if which == 0 else values), dtype=g.dtype)
    np.add.at(out, np.abs(came[own]) - 1, g[own])
    return np.reshape(out, np.shape(arr if which == 0 else values))


@helper(linear=("g",), like="arr")
def undelete(g, arr, obj, axis):
    """Adjoint of ``arr`` in ``np.delete(arr, obj, axis)``: ``g`` written back where the kept
    entries were, zeros where entries were deleted."""
    kept = np.delete(np.arange(np.size(arr)).reshape(np.shape(arr)), obj, axis)
    out = np.zeros(np.size(arr), dtype=np.result_type(g, arr))
    out[np.ravel(kept)] = np.ravel(g)
    return np.reshape(out, np.shape(arr))


@helper(linear=("g",), like="v")
def undiag(g, v, k=0):
    """Adjoint of ``np.diag(v, k)``: the ``k``-th diagonal of ``g`` for a vector ``v``, ``g``
    written on the ``k``-th diagonal of zeros for a matrix ``v``."""
    if np.ndim(v) == 1:
        return np.array(np.diagonal(g, k))
    out = np.zeros(np.shape(v), dtype=np.result_type(g, v))
    n = np.shape(g)[0]
    i = np.arange(n)
    out[i + max(-k, 0), i + max(k, 0)] = g
    return out


@helper(linear=("g",), like="a")
def undiagonal(g, a, offset=0, axis1=0, axis2=1):
    """Adjoint of ``np.diagonal(a, offset, axis1, axis2)`` (the diagonal is ``g``'s last axis)."""
    out = np.zeros(np.shape(a), dtype=np.result_type(g, a))
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))
    n = np.shape(g)[-1]
    i = np.arange(n)
    view[..., i + max(-offset, 0), i + max(offset, 0)] = g
    return out


@helper(linear=("g",), like="a")
def untrace(g, a, offset=0, axis1=0, axis2=1):
    """Adjoint of ``np.trace(a, offset, axis1, axis2)``: ``g`` on every element of the
    diagonal."""
    n = np.shape(np.diagonal(a, offset, axis1, axis2))[-1]
    g = np.asarray(g)
    return undiagonal(np.broadcast_to(g[..., None], np.shape(g) + (n,)), a, offset, axis1, axis2)


def _diff_input(a, axis, prepend, append, which, t):
    """The array ``np.diff`` differences: ``prepend``, ``a``, ``append`` joined along
    ``axis`` with ``t`` in place of item ``which`` and zeros in place of the others."""
    a = np.asanyarray(a)
    axis = axis % a.ndim
    parts = []
    for k, item in ((1, prepend), (0, a), (2, append)):
        if item is None:
            continue
        if k != 0:
            shape = list(a.shape)
            shape[axis] = 1
            item = np.broadcast_to(item, shape) if np.ndim(item) == 0 else item
        shape = np.shape(item)
        if k == which:
            parts.append(np.broadcast_to(t, shape))
        else:
            parts.append(np.zeros(shape, dtype=np.result_type(t, a)))
    return parts, axis


@helper(linear=("t",))
def diff_part(t, a, n, axis, prepend, append, which):
    """``np.diff(a, n, axis, prepend=..., append=...)`` with the tangent ``t`` of item
    ``which`` (0: ``a``, 1: ``prepend``, 2: ``append``) in place of that item and zeros in
    place of the others: the item's part of the tangent of the result. Linear in ``t``."""
    parts, axis = _diff_input(a, axis, prepend, append, which, t)
    return np.diff(np.concatenate(parts, axis), n, axis)


@helper(linear=("g",))
def undiff(g, a, n, axis, prepend, append, which):
    """Adjoint of item ``which`` (0: ``a``, 1: ``prepend``, 2: ``append``) in
    ``np.diff(a, n, axis, prepend=..., append=...)``."""
    a = np.asanyarray(a)
    axis = axis % a.ndim
    out = g
    for _ in range(n):
        lo = [(0, 0)] * np.ndim(out)
        hi = [(0, 0)] * np.ndim(out)
        lo[axis] = (1, 0)
        hi[axis] = (0, 1)
        out = np.pad(out, lo) - np.pad(out, hi)
    sizes = []
    for item in (prepend, a, append):
        if item is None:
            sizes.append(0)
        elif np.ndim(item) == 0:
            sizes.append(1)
        else:
            sizes.append(np.shape(item)[axis])
    start = {1: 0, 0: sizes[0], 2: sizes[0] + sizes[1]}[which]
    stop = start + (sizes[1] if which == 0 else sizes[0] if which == 1 else sizes[2])
    index = [slice(None)] * np.ndim(out)
    index[axis] = slice(start, stop)
    part = out[tuple(index)]
    item = (a, prepend, append)[which]
    return sum_to(part, item) if np.ndim(item) == 0 else np.reshape(part, np.shape(item))


@helper(linear=("g",))
def unselect(g, condlist, choicelist):
    """Adjoints of the choices of ``np.select(condlist, choicelist, default)``: ``g`` where a
    choice's condition is the first that holds, summed to the choice's shape."""
    taken = np.zeros(np.shape(g), dtype=bool)
    out = []
    for cond, choice in zip(condlist, choicelist):
        here = np.logical_and(cond, np.logical_not(taken))
        out.append(sum_to(np.where(here, g, 0.0), choice))
        taken = np.logical_or(taken, here)
    return Pieces(out)


@helper(linear=("g",))
def unselect_default(g, condlist, default):
    """Adjoint of ``default`` in ``np.select(condlist, choicelist, default)``."""
    none = np.logical_not(np.any(np.broadcast_arrays(*condlist, g)[:-1], axis=0))
    return sum_to(np.where(none, g, 0.0), default)


@helper(linear=("choices", "default"), jointly=True, like="like")
def reselect(condlist, choices, default, like):
    """``np.select(condlist, choices, default)`` broadcast to ``like``'s shape, a None choice
    or default read as zero: the tangent of a select from the tangents of its choices and its
    default. Linear in ``choices`` and ``default`` together."""
    choices = (None,) * len(condlist) if choices is None else choices
    items = [np.zeros_like(like) if c is None else c for c in choices]
    out = np.select(condlist, items, 0.0 if default is None else default)
    return np.broadcast_to(out, np.shape(like))


@helper(linear=("g", "b"), like="a")
def uncross_a(g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Adjoint of ``a`` in ``np.cross(a, b, ...)`` (3- or 2-vectors): ``b x g``."""
    if axis is not None:
        axisa = axisb = axisc = axis
    am, bm = np.moveaxis(a, axisa, -1), np.moveaxis(b, axisb, -1)
    if np.shape(am)[-1] == 3 and np.shape(bm)[-1] == 3:
        r = np.cross(bm, np.moveaxis(g, axisc, -1))
    elif np.shape(am)[-1] == 2 and np.shape(bm)[-1] == 2:
        r = np.asarray(g)[..., None] * np.stack([bm[..., 1], -bm[..., 0]], -1)
    else:
        raise SourcegradError(
            "the derivative of np.cross of 2- and 3-vectors mixed is not supported"
        )
    return np.moveaxis(sum_to(r, am), -1, axisa)


@helper(linear=("g", "a"), like="b")
def uncross_b(g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Adjoint of ``b`` in ``np.cross(a, b, ...)`` (3- or 2-vectors): ``g x a``."""
    if axis is not None:
        axisa = axisb = axisc = axis
    am, bm = np.moveaxis(a, axisa, -1), np.moveaxis(b, axisb, -1)
    if np.shape(am)[-1] == 3 and np.shape(bm)[-1] == 3:
        r = np.cross(np.moveaxis(g, axisc, -1), am)
    elif np.shape(am)[-1] == 2 and np.shape(bm)[-1] == 2:
        r = np.asarray(g)[..., None] * np.stack([-am[..., 1], am[..., 0]], -1)
    else:
        raise SourcegradError(
            "the derivative of np.cross of 2- and 3-vectors mixed is not supported"
        )
    return np.moveaxis(sum_to(r, bm), -1, axisb)


def _kron_parts(g, a, b):
    nd = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (nd - np.ndim(a)) + np.shape(a)
    sb = (1,) * (nd - np.ndim(b)) + np.shape(b)
    split = [n for pair in zip(sa, sb) for n in pair]
    return np.reshape(g, split), sa, sb, nd


@helper(linear=("g", "b"), like="a")
def unkron_a(g, a, b):
    """Adjoint of ``a`` in ``np.kron(a, b)`` (linear in ``g`` and in ``b``)."""
    return _unkron(g, a, b, of_a=True)


@helper(linear=("g", "a"), like="b")
def unkron_b(g, a, b):
    """Adjoint of ``b`` in ``np.kron(a, b)`` (linear in ``g`` and in ``a``)."""
    return _unkron(g, a, b, of_a=False)


def _unkron(g, a, b, of_a):
    """``g`` (split into the interleaved axes of ``a`` and ``b``) contracted with the other
    operand over its axes, leaving the axes of the operand whose adjoint it is."""
    gg, sa, sb, nd = _kron_parts(g, a, b)
    even, odd = list(range(0, 2 * nd, 2)), list(range(1, 2 * nd, 2))
    if of_a:
        other, other_axes, own_axes, own = np.reshape(b, sb), odd, even, a
    else:
        other, other_axes, own_axes, own = np.reshape(a, sa), even, odd, b
    out = np.einsum(gg, list(range(2 * nd)), other, other_axes, own_axes)
    return np.reshape(out, np.shape(own))


__all__ = [
    "sum_to", "unconcatenate", "untile", "unrepeat", "unpad", "untake", "untake_along_axis",
    "unwindow", "unjoin", "unappend", "uninsert", "undelete", "undiag", "undiagonal", "untrace",
    "diff_part", "undiff", "unselect", "unselect_default", "reselect", "uncross_a", "uncross_b",
    "unkron_a", "unkron_b", "unjoin_index", "unmeshgrid",
]  # fmt: skip


#: the classes of ``np.r_`` and ``np.c_``, which join their index items into one array
_JOINERS = (type(np.r_), type(np.c_))


def index_items(x, index) -> tuple | None:
    """The items ``x[index]`` joins when ``x`` is ``np.r_`` or ``np.c_`` (None for any other
    ``x``). A directive string (``np.r_["0,2", ...]``) is refused."""
    if not isinstance(x, _JOINERS):
        return None
    items = index if isinstance(index, tuple) else (index,)
    if any(isinstance(it, str) for it in items):
        raise SourcegradError(
            "a directive string in np.r_[...] / np.c_[...] with a differentiated value is not "
            "supported; use np.concatenate, np.stack or np.column_stack"
        )
    return items


@helper(linear=("g",), like="index")
def unjoin_index(g, x, index):
    """The adjoint of ``index`` in ``x[index]``: for ``np.r_`` and ``np.c_``, each item's part
    of ``g`` (none for a range ``a:b``); for indexing an array, zeros (an index is an integer,
    with no derivative)."""
    items = index_items(x, index)
    if items is None:
        return zero_adjoint(index)
    axis = 0 if isinstance(x, type(np.r_)) else -1
    blocks = [x[it] for it in items]
    bounds = np.cumsum([np.shape(b)[axis] for b in blocks])[:-1]
    pieces = np.split(np.asarray(g), bounds, axis)
    out = []
    for it, block, piece in zip(items, blocks, pieces):
        if isinstance(it, slice):
            out.append(None)
        elif np.size(piece) != np.size(it):
            raise SourcegradError(
                f"np.r_ / np.c_ spread an item of shape {np.shape(it)} over {np.shape(block)}; "
                "join arrays of matching shapes with np.concatenate or np.column_stack"
            )
        else:
            out.append(np.reshape(piece, np.shape(it)))
    return Pieces(out) if isinstance(index, tuple) else out[0]


@helper(linear=("g",), like="xi")
def unmeshgrid(g, xi, indexing="xy"):
    """The adjoints of the inputs of ``np.meshgrid(*xi, indexing=indexing)``: each output
    spreads one input along every axis but its own, so each input gets its output's adjoint
    summed over the other axes."""
    out = []
    for k, x in enumerate(xi):
        gk = None if g is None else g[k]
        if gk is None:
            out.append(zero_adjoint(x))
            continue
        axis = 1 - k if indexing == "xy" and len(xi) > 1 and k < 2 else k
        gk = np.asarray(gk)
        other = tuple(a for a in range(gk.ndim) if a != axis)
        out.append(np.reshape(np.sum(gk, axis=other), np.shape(x)))
    return Pieces(out)
