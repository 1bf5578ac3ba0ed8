"""Adjoints of joins, tilings and gathers that need a loop or a scatter."""

from __future__ import annotations

import numpy as np

from ..errors import SourcegradError
from .helpers import sum_to
from .trees import Pieces


def unconcatenate(g, arrays, axis=0):
    """The pieces of ``g`` that came from each of ``arrays`` in ``np.concatenate(arrays, axis)``."""
    if axis is None:
        sizes = np.cumsum([np.size(a) for a in arrays])[:-1]
        return Pieces(
            np.reshape(p, np.shape(a)) for p, a in zip(np.split(np.ravel(g), sizes), arrays)
        )
    sizes = np.cumsum([np.shape(a)[axis] for a in arrays])[:-1]
    return Pieces(np.split(g, sizes, axis))


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


def unpad(g, a, pad_width, mode="constant"):
    """Adjoint of ``np.pad(a, pad_width)`` (constant mode): the interior of ``g``."""
    if mode != "constant":
        raise SourcegradError(f"the derivative of np.pad(mode={mode!r}) is not supported")
    pw = np.broadcast_to(np.asarray(pad_width), (np.ndim(a), 2))
    index = tuple(slice(int(lo), int(lo) + n) for (lo, _), n in zip(pw, np.shape(a)))
    return g[index]


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


__all__ = [
    "sum_to", "unconcatenate", "untile", "unrepeat", "unpad", "untake", "untake_along_axis",
    "unwindow",
]  # fmt: skip
