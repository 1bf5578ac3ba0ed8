"""Rules for shape operations, joining/splitting and indexing reads."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..runtime.helpers import sum_to, unindex
from ..runtime.shape_helpers import (
    unconcatenate,
    unpad,
    unrepeat,
    untake,
    untake_along_axis,
    untile,
    unwindow,
)
from .registry import adjoint, d, nondifferentiable

#: functions that only change the shape (the values keep their order)
RESHAPES = (
    np.reshape,
    np.ravel,
    np.squeeze,
    np.expand_dims,
    np.atleast_1d,
    np.atleast_2d,
    np.ascontiguousarray,
    "reshape",
)


@adjoint(*RESHAPES)
def _reshape(z, a, *args, **kwargs):
    d[a] += np.reshape(d[z], np.shape(a))


@adjoint("T")
def _T(z, a):
    d[a] += d[z].T


@adjoint(np.transpose)
def _transpose(z, a, axes=None):
    if axes is None:
        d[a] += np.transpose(d[z])
    else:
        d[a] += np.transpose(d[z], np.argsort(axes))


@adjoint(np.swapaxes)
def _swapaxes(z, a, axis1, axis2):
    d[a] += np.swapaxes(d[z], axis1, axis2)


@adjoint(np.moveaxis)
def _moveaxis(z, a, source, destination):
    d[a] += np.moveaxis(d[z], destination, source)


@adjoint(np.broadcast_to)
def _broadcast_to(z, array, shape):
    d[array] += sum_to(d[z], array)


@adjoint(np.flip)
def _flip(z, m, axis=None):
    d[m] += np.flip(d[z], axis)


@adjoint(np.concatenate)
def _concatenate(z, arrays, axis=0):
    d[arrays] += unconcatenate(d[z], arrays, axis)


@adjoint(np.stack)
def _stack(z, arrays, axis=0):
    if axis == 0:
        d[arrays] += d[z]
    else:
        d[arrays] += np.moveaxis(d[z], axis, 0)


@adjoint(np.split, np.array_split)
def _split(z, ary, indices_or_sections, axis=0):
    d[ary] += np.concatenate(d[z], axis)


@adjoint(np.tile)
def _tile(z, A, reps):
    d[A] += untile(d[z], A, reps)


@adjoint(np.repeat)
def _repeat(z, a, repeats, axis=None):
    d[a] += unrepeat(d[z], a, repeats, axis)


@adjoint(np.pad)
def _pad(z, array, pad_width, mode="constant", **kwargs):
    d[array] += unpad(d[z], array, pad_width, mode)


@adjoint("getitem")
def _getitem(z, x, index):
    d[x] += unindex(d[z], x, index)


@adjoint(np.take)
def _take(z, a, indices, axis=None):
    d[a] += untake(d[z], a, indices, axis)


@adjoint(np.take_along_axis)
def _take_along_axis(z, arr, indices, axis):
    d[arr] += untake_along_axis(d[z], arr, indices, axis)


@adjoint(np.full)
def _full(z, shape, fill_value, dtype=None, order="C", *, like=None):
    d[fill_value] += sum_to(d[z], fill_value)


@adjoint(np.full_like)
def _full_like(z, a, fill_value, dtype=None, order="K", subok=True, shape=None, **kwargs):
    d[fill_value] += sum_to(d[z], fill_value)


# np.arange and np.linspace are not here: their values depend on their arguments, so a
# differentiated value passed to them is refused (no rule) rather than given a zero gradient
nondifferentiable(
    np.shape, np.ndim, np.size, np.zeros_like, np.ones_like, np.empty_like, np.zeros, np.ones,
    np.empty, np.eye, np.identity, np.indices, np.meshgrid, np.tril_indices, np.triu_indices,
    np.diag_indices,
)  # fmt: skip


@adjoint(sliding_window_view)
def _sliding_window_view(z, x, window_shape, axis=None, *, subok=False, writeable=False):
    d[x] += unwindow(d[z], x, window_shape, axis)
