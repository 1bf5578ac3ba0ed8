"""Forward-mode (tangent) rules for shape operations, joining/splitting and gathers.

Each mirrors the reverse rule of the same key in ``shapes.py`` (same parameter names). All of
these operations are linear, so the tangent of the result is the same operation applied to the
operand's tangent. Indexing (``"getitem"``) is in ``forward_core.py``."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..runtime.shape_helpers import diff_part, reselect
from ..runtime.tangent_helpers import pad_tangent, tangent_items
from .registry import d, tangent
from .shapes import RESHAPES


@tangent(*RESHAPES)
def _reshape(z, a, *args, **kwargs):
    d[z] += np.reshape(d[a], np.shape(z))


@tangent("T")
def _T(z, a):
    d[z] += d[a].T


@tangent(np.transpose)
def _transpose(z, a, axes=None):
    d[z] += np.transpose(d[a], axes)


@tangent(np.swapaxes)
def _swapaxes(z, a, axis1, axis2):
    d[z] += np.swapaxes(d[a], axis1, axis2)


@tangent(np.moveaxis)
def _moveaxis(z, a, source, destination):
    d[z] += np.moveaxis(d[a], source, destination)


@tangent(np.full)
def _full(z, shape, fill_value, dtype=None, order="C", *, like=None):
    d[z] += np.broadcast_to(d[fill_value], np.shape(z))


@tangent(np.full_like)
def _full_like(z, a, fill_value, dtype=None, order="K", subok=True, shape=None, **kwargs):
    d[z] += np.broadcast_to(d[fill_value], np.shape(z))


@tangent(np.broadcast_to)
def _broadcast_to(z, array, shape):
    d[z] += np.broadcast_to(d[array], np.shape(z))


@tangent(np.flip)
def _flip(z, m, axis=None):
    d[z] += np.flip(d[m], axis)


@tangent(np.concatenate)
def _concatenate(z, arrays, axis=0):
    d[z] += np.concatenate(tangent_items(d[arrays], arrays), axis)


@tangent(np.stack)
def _stack(z, arrays, axis=0):
    d[z] += np.stack(tangent_items(d[arrays], arrays), axis)


@tangent(np.split)
def _split(z, ary, indices_or_sections, axis=0):
    d[z] += np.split(d[ary], indices_or_sections, axis)


@tangent(np.array_split)
def _array_split(z, ary, indices_or_sections, axis=0):
    d[z] += np.array_split(d[ary], indices_or_sections, axis)


@tangent(np.tile)
def _tile(z, A, reps):
    d[z] += np.tile(d[A], reps)


@tangent(np.repeat)
def _repeat(z, a, repeats, axis=None):
    d[z] += np.repeat(d[a], repeats, axis)


@tangent(np.pad)
def _pad(z, array, pad_width, mode="constant", **kwargs):
    d[z] += pad_tangent(d[array], pad_width, mode)


@tangent(np.take)
def _take(z, a, indices, axis=None):
    d[z] += np.take(d[a], indices, axis)


@tangent(np.take_along_axis)
def _take_along_axis(z, arr, indices, axis):
    d[z] += np.take_along_axis(d[arr], indices, axis)


@tangent(sliding_window_view)
def _sliding_window_view(z, x, window_shape, axis=None, *, subok=False, writeable=False):
    d[z] += sliding_window_view(d[x], window_shape, axis)


@tangent(np.vstack)
def _vstack(z, tup, *, dtype=None, casting="same_kind"):
    d[z] += np.vstack(tangent_items(d[tup], tup))


@tangent(np.hstack)
def _hstack(z, tup, *, dtype=None, casting="same_kind"):
    d[z] += np.hstack(tangent_items(d[tup], tup))


@tangent(np.column_stack)
def _column_stack(z, tup):
    d[z] += np.column_stack(tangent_items(d[tup], tup))


@tangent(np.dstack)
def _dstack(z, tup):
    d[z] += np.dstack(tangent_items(d[tup], tup))


@tangent(np.append)
def _append(z, arr, values, axis=None):
    d[z] += np.append(d[arr], np.zeros_like(values), axis)
    d[z] += np.append(np.zeros_like(arr), d[values], axis)


@tangent(np.diag)
def _diag(z, v, k=0):
    d[z] += np.diag(d[v], k)


@tangent(np.diagonal)
def _diagonal(z, a, offset=0, axis1=0, axis2=1):
    d[z] += np.diagonal(d[a], offset, axis1, axis2)


@tangent(np.trace)
def _trace(z, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    d[z] += np.trace(d[a], offset, axis1, axis2)


@tangent(np.tril)
def _tril(z, m, k=0):
    d[z] += np.tril(d[m], k)


@tangent(np.triu)
def _triu(z, m, k=0):
    d[z] += np.triu(d[m], k)


@tangent(np.roll)
def _roll(z, a, shift, axis=None):
    d[z] += np.roll(d[a], shift, axis)


@tangent(np.rot90)
def _rot90(z, m, k=1, axes=(0, 1)):
    d[z] += np.rot90(d[m], k, axes)


@tangent(np.fliplr)
def _fliplr(z, m):
    d[z] += np.fliplr(d[m])


@tangent(np.flipud)
def _flipud(z, m):
    d[z] += np.flipud(d[m])


@tangent(np.diff)
def _diff(z, a, n=1, axis=-1, prepend=None, append=None):
    d[z] += diff_part(d[a], a, n, axis, prepend, append, 0)
    d[z] += diff_part(d[prepend], a, n, axis, prepend, append, 1)
    d[z] += diff_part(d[append], a, n, axis, prepend, append, 2)


@tangent(np.sort)
def _sort(z, a, axis=-1, kind=None, order=None):
    d[z] += np.take_along_axis(d[a], np.argsort(a, axis), axis)


@tangent(np.select)
def _select(z, condlist, choicelist, default=0):
    d[z] += reselect(condlist, d[choicelist], d[default], z)


@tangent(np.cross)
def _cross(z, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    d[z] += np.cross(d[a], b, axisa, axisb, axisc, axis)
    d[z] += np.cross(a, d[b], axisa, axisb, axisc, axis)


@tangent(np.kron)
def _kron(z, a, b):
    d[z] += np.kron(d[a], b)
    d[z] += np.kron(a, d[b])
