"""Window operations on small images as gathers by precomputed indices.

A window operation (convolution, pooling) reads, for every window and every position in it,
one element of the padded input. :func:`window_index` lists those reads once per input shape
and geometry: a matrix of flat positions into the input, with the padding mapped to one extra
*slot* past the input's last element. Then the im2col matrix is one ``take`` of the input with
the slot appended (:func:`gather_windows`), and its adjoint, the sum of each window's
elements back at the positions they were read from, one more gather by the inverse index and a
sum (:func:`add_columns`). All are passes over contiguous memory, where strided copies of small
images run NumPy's inner loops a few elements at a time.

The index is cached per shape (a few of them) and only made where it is small enough
(:data:`INDEX_LIMIT` elements): the callers fall back to strided copies, which are fast on
large images, where :func:`window_index` returns None.
"""

from __future__ import annotations

import functools

import numpy as np

from ..util.tree import Array
from .backend import array_module

__all__ = [
    "INDEX_LIMIT",
    "window_index",
    "slotted",
    "gather_windows",
    "can_scatter",
    "column_sources",
    "slotted_columns",
    "add_columns",
]

#: the most elements an index may hold (8 MiB of intp): beyond, strided copies are as fast
INDEX_LIMIT = 1 << 20


def _flat_windows(shape, kernel, stride, sides, dilation):
    """The windows ``(N, C, Ho, Wo, kh, kw)`` of the flat positions of an input of ``shape``
    padded by ``sides`` (padding at the slot ``N * C * H * W``)."""
    n, c, h, w = shape
    (top, bottom), (left, right) = sides
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    size = n * c * h * w
    flat = np.full((n, c, h + top + bottom, w + left + right), size, np.intp)
    flat[:, :, top : top + h, left : left + w] = np.arange(size).reshape(shape)
    span = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    view = np.lib.stride_tricks.sliding_window_view(flat, span, axis=(2, 3))
    return view[:, :, ::sh, ::sw, ::dh, ::dw]


@functools.lru_cache(maxsize=32)
def _cached_index(layout, shape, kernel, stride, sides, dilation, xp):
    n, c = shape[:2]
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    ho = (shape[2] + sum(sides[0]) - (kh - 1) * dh - 1) // sh + 1
    wo = (shape[3] + sum(sides[1]) - (kw - 1) * dw - 1) // sw + 1
    if ho <= 0 or wo <= 0 or n * c * ho * wo * kh * kw > INDEX_LIMIT:
        return None
    view = _flat_windows(shape, kernel, stride, sides, dilation)
    if layout == "conv":  # rows (c, i, j), columns (n, ho, wo)
        index = view.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, n * ho * wo)
    else:  # "pool": rows (i, j), columns (n, c, ho, wo)
        index = view.transpose(4, 5, 0, 1, 2, 3).reshape(kh * kw, n * c * ho * wo)
    index = np.ascontiguousarray(index)
    return index if xp is np else xp.asarray(index)


def window_index(layout: str, shape, kernel, stride, sides, dilation, xp=np):
    """The flat positions read by the windows over an input of ``shape`` (``N, C, H, W``),
    an array of the module ``xp``, padded by
    ``sides`` (``((top, bottom), (left, right))``), or None where the index would be too
    large. ``layout="conv"``: a ``(C * kh * kw, N * Ho * Wo)`` matrix, rows in ``(c, i,
    j)`` order and columns in ``(n, ho, wo)`` order (the im2col matrix, transposed);
    ``layout="pool"``: ``(kh * kw, N * C * Ho * Wo)``, one row per window position. A
    position ``N * C * H * W`` (the slot) stands for the padding. The array is cached and
    shared: never write into it."""
    key = (tuple(shape), tuple(kernel), tuple(stride), tuple(sides), tuple(dilation))
    return _cached_index(layout, *key, xp)


def slotted(x: Array, fill: float) -> Array:
    """``x`` flattened with one element ``fill`` appended (the slot of the padding)."""
    xp = array_module(x)
    out = xp.empty(x.size + 1, x.dtype)
    out[:-1].reshape(x.shape)[...] = x  # one pass, whatever the layout of x
    out[-1] = fill
    return out


def gather_windows(x: Array, index: Array, fill: float = 0.0, padded: bool = True) -> Array:
    """``x`` read at ``index`` (a :func:`window_index` of ``x``): the padding reads
    ``fill``; ``padded=False`` promises that no window reaches the padding (no copy of
    ``x`` then)."""
    source = slotted(x, fill) if padded else x.reshape(-1)
    return source.take(index)


@functools.lru_cache(maxsize=32)
def _cached_sources(shape, kernel, stride, sides, dilation, xp):
    forward = _cached_index("conv", shape, kernel, stride, sides, dilation, np)
    if forward is None:
        return None
    size, flat = int(np.prod(shape)), forward.reshape(-1)
    order = np.argsort(flat, kind="stable")  # the columns' entries by the element they read
    targets = flat[order]
    counts = np.bincount(flat, minlength=size + 1)
    rank = np.arange(flat.size) - (np.cumsum(counts) - counts)[targets]
    read = targets < size  # entries reading the padding add to nothing
    sources = np.full((int(counts[:size].max(initial=0)), size), flat.size, np.intp)
    sources[rank[read], targets[read]] = order[read]
    return sources if xp is np else xp.asarray(sources)


def column_sources(shape, kernel, stride, sides, dilation, xp=np):
    """The adjoint of the ``"conv"`` :func:`window_index` as a gather: a ``(k, N * C * H *
    W)`` matrix (``k <= kh * kw``) whose column ``q`` lists the flat positions in the im2col
    matrix of the entries read from input element ``q``, padded with the position just past
    the matrix (a slot holding zero, see :func:`slotted_columns`); None where the index is
    not made. Cached and shared: never write into it."""
    key = (tuple(shape), tuple(kernel), tuple(stride), tuple(sides), tuple(dilation))
    return _cached_sources(*key, xp)


def slotted_columns(rows: int, columns: int, dtype, xp=np) -> tuple:
    """``(buffer, matrix)``: a flat array of ``rows * columns + 1`` elements, the last zero
    (the slot of :func:`column_sources`), and the ``(rows, columns)`` matrix over the others,
    for a GEMM to write into."""
    buffer = xp.empty(rows * columns + 1, dtype)
    buffer[-1] = 0
    return buffer, buffer[:-1].reshape(rows, columns)


def add_columns(buffer: Array, sources: Array, x_shape) -> Array:
    """The im2col adjoint: each element of the input (``x_shape``) the sum of the entries of
    the im2col matrix read from it (``buffer`` from :func:`slotted_columns`, ``sources``
    from :func:`column_sources`): one gather and one sum over its short leading axis, in the
    matrix's dtype."""
    entries = buffer.take(sources)
    if type(entries) is np.ndarray:  # the ufunc's own reduction: no Python-level dispatch
        return np.add.reduce(entries, axis=0).reshape(x_shape)
    return entries.sum(axis=0).reshape(x_shape)


def can_scatter(a: Array) -> bool:
    """Whether ``bincount`` adds ``a``'s dtype (reals only)."""
    return a.dtype.kind == "f"
