"""Forward-mode (tangent) rules for shape operations, joining/splitting and gathers.

Each mirrors the reverse rule of the same key in ``shapes.py`` (same parameter names). All of
these operations are linear, so the tangent of the result is the same operation applied to the
operand's tangent. Indexing (``"getitem"``) is in ``forward_core.py``."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

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
