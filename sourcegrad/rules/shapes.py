"""Rules for shape operations, joining/splitting and indexing reads."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..runtime.helpers import sum_to, unindex
from ..runtime.shape_helpers import (
    unappend,
    unconcatenate,
    uncross_a,
    uncross_b,
    undiag,
    undiagonal,
    undiff,
    unjoin,
    unkron_a,
    unkron_b,
    unpad,
    unrepeat,
    unselect,
    unselect_default,
    untake,
    untake_along_axis,
    untile,
    untrace,
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
    np.atleast_3d,
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


# ---------------------------------------------------------------- joins


@adjoint(np.vstack)
def _vstack(z, tup, *, dtype=None, casting="same_kind"):
    d[tup] += unjoin(d[z], tup, "vstack")


@adjoint(np.hstack)
def _hstack(z, tup, *, dtype=None, casting="same_kind"):
    d[tup] += unjoin(d[z], tup, "hstack")


@adjoint(np.column_stack)
def _column_stack(z, tup):
    d[tup] += unjoin(d[z], tup, "column_stack")


@adjoint(np.dstack)
def _dstack(z, tup):
    d[tup] += unjoin(d[z], tup, "dstack")


@adjoint(np.append)
def _append(z, arr, values, axis=None):
    d[arr] += unappend(d[z], arr, values, axis, 0)
    d[values] += unappend(d[z], arr, values, axis, 1)


# ---------------------------------------------------------------- diagonals and triangles


@adjoint(np.diag)
def _diag(z, v, k=0):
    d[v] += undiag(d[z], v, k)


@adjoint(np.diagonal)
def _diagonal(z, a, offset=0, axis1=0, axis2=1):
    d[a] += undiagonal(d[z], a, offset, axis1, axis2)


@adjoint(np.trace)
def _trace(z, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    d[a] += untrace(d[z], a, offset, axis1, axis2)


@adjoint(np.tril)
def _tril(z, m, k=0):
    d[m] += np.tril(d[z], k)


@adjoint(np.triu)
def _triu(z, m, k=0):
    d[m] += np.triu(d[z], k)


# ---------------------------------------------------------------- rotations and flips


@adjoint(np.roll)
def _roll(z, a, shift, axis=None):
    d[a] += np.roll(d[z], np.negative(shift), axis)


@adjoint(np.rot90)
def _rot90(z, m, k=1, axes=(0, 1)):
    d[m] += np.rot90(d[z], -k, axes)


@adjoint(np.fliplr)
def _fliplr(z, m):
    d[m] += np.fliplr(d[z])


@adjoint(np.flipud)
def _flipud(z, m):
    d[m] += np.flipud(d[z])


# ---------------------------------------------------------------- differences, selections


@adjoint(np.diff)
def _diff(z, a, n=1, axis=-1, prepend=None, append=None):
    d[a] += undiff(d[z], a, n, axis, prepend, append, 0)
    d[prepend] += undiff(d[z], a, n, axis, prepend, append, 1)
    d[append] += undiff(d[z], a, n, axis, prepend, append, 2)


@adjoint(np.sort)
def _sort(z, a, axis=-1, kind=None, order=None):
    # z is a gathered through the sorting permutation (ties: one of the equal orders)
    d[a] += untake_along_axis(d[z], a, np.argsort(a, axis), axis)


@adjoint(np.select)
def _select(z, condlist, choicelist, default=0):
    d[choicelist] += unselect(d[z], condlist, choicelist)
    d[default] += unselect_default(d[z], condlist, default)


@adjoint(np.cross)
def _cross(z, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    d[a] += uncross_a(d[z], a, b, axisa, axisb, axisc, axis)
    d[b] += uncross_b(d[z], a, b, axisa, axisb, axisc, axis)


@adjoint(np.kron)
def _kron(z, a, b):
    d[a] += unkron_a(d[z], a, b)
    d[b] += unkron_b(d[z], a, b)
