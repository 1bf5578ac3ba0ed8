"""2-D convolution (NCHW, PyTorch's cross-correlation, grouped or not) as primitives.

``conv2d``, its input gradient ``conv2d_input_grad`` (a transposed convolution) and its weight
gradient ``conv2d_weight_grad`` are bilinear maps ``<g, conv2d(x, w)>`` read three ways, so
each one's derivatives are the other two: the family is closed under differentiation and
every order runs on these three kernels.

Each kernel is one GEMM per group over the transposed im2col matrix ``(C * kh * kw, N * Ho *
Wo)`` (:func:`conv2d_columns`). On small images the matrix is one gather by a cached index and
its adjoint one gather by the inverse index and a sum (:mod:`sourcegrad.nn.gather`); on large
ones a strided copy and one strided add per kernel position. Channels lead the matrix so that
groups are blocks of rows and the weight is used as it is laid out; one pass lays the GEMM's
result out as NCHW.
"""

from __future__ import annotations

import numpy as np

from ..rules import defjvp, defvjp, primitive
from ..rules.registry import d
from ..runtime.tangent_helpers import broadcast_like
from ..util.tree import Array
from .backend import IntPair, array_module, pair
from .gather import (
    add_columns,
    column_sources,
    gather_windows,
    slotted_columns,
    window_index,
)

__all__ = [
    "conv2d",
    "conv2d_input_grad",
    "conv2d_weight_grad",
    "pad2d",
    "sides2d",
    "windows2d",
    "fold_windows2d",
    "output_size2d",
    "conv2d_columns",
    "conv2d_from_columns",
    "output_rows",
    "weight_grad_from_columns",
    "bias_grad_from_rows",
    "input_grad_from_rows",
]


def pad2d(x: Array, padding: IntPair, value: float = 0.0):
    """``x`` (``N, C, H, W``) padded by ``padding``: ``(ph, pw)`` on both sides of H and W,
    or ``((top, bottom), (left, right))``."""
    (top, bottom), (left, right) = sides2d(padding)
    if top == bottom == left == right == 0:
        return x
    n, c, h, w = x.shape
    out = array_module(x).full_like(x, value, shape=(n, c, h + top + bottom, w + left + right))
    out[:, :, top : top + h, left : left + w] = x  # much faster than np.pad
    return out


def sides2d(padding: IntPair) -> tuple:
    """``((top, bottom), (left, right))`` for a padding given as ``(ph, pw)`` (both sides
    alike) or already per side."""
    ph, pw = padding
    if isinstance(ph, tuple):
        return (ph, pw)
    return ((ph, ph), (pw, pw))


def windows2d(x: Array, kernel, stride: IntPair, dilation: IntPair):
    """A view ``(N, C, Ho, Wo, kh, kw)`` of the windows of the (already padded) ``x``."""
    xp = array_module(x)
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    span = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    view = xp.lib.stride_tricks.sliding_window_view(x, span, axis=(2, 3))
    return view[:, :, ::sh, ::sw, ::dh, ::dw]


def output_size2d(
    size,
    kernel,
    stride: IntPair,
    padding: IntPair,
    dilation: IntPair,
) -> tuple:
    """``(Ho, Wo)`` of a window operation over spatial ``size = (H, W)``."""
    return tuple(
        (n + 2 * p - dl * (k - 1) - 1) // s + 1
        for n, k, s, p, dl in zip(size, kernel, stride, padding, dilation)
    )


def fold_windows2d(
    cols: Array,
    x_shape,
    stride: IntPair,
    padding: IntPair,
    dilation: IntPair,
):
    """The adjoint of :func:`windows2d` after :func:`pad2d`: ``cols`` ``(N, C, Ho, Wo, kh,
    kw)`` added into a zero array of ``x_shape`` at the positions each window read (overlaps
    add up), padding (``(ph, pw)`` or per side) cropped away."""
    xp = array_module(cols)
    n, c, ho, wo, kh, kw = cols.shape
    (sh, sw), (dh, dw) = stride, dilation
    (top, bottom), (left, right) = sides2d(padding)
    h, w = x_shape[2] + top + bottom, x_shape[3] + left + right
    out = xp.zeros_like(cols, shape=(n, c, h, w))
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
            columns = slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)
            out[:, :, rows, columns] += cols[:, :, :, :, i, j]
    return out[:, :, top : top + x_shape[2], left : left + x_shape[3]]


def conv2d_columns(
    x: Array,
    kernel,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
):
    """The im2col matrix of ``x``, transposed: ``(C * kh * kw, N * Ho * Wo)``, rows in
    ``(c, i, j)`` order (``weight.reshape(O, -1)``'s columns), columns in ``(n, ho, wo)``
    order; a fresh array. One gather by a cached index on small images, a strided copy on
    large ones."""
    xp = array_module(x)
    stride, dilation = pair(stride), pair(dilation)
    sides = sides2d(pair(padding))
    index = window_index("conv", x.shape, kernel, stride, sides, dilation, xp)
    if index is not None:
        return gather_windows(x, index, 0.0, padded=any(sides[0] + sides[1]))
    view = windows2d(pad2d(x, sides), kernel, stride, dilation)  # (N, C, Ho, Wo, kh, kw)
    n, c, ho, wo, kh, kw = view.shape
    return xp.ascontiguousarray(view.transpose(1, 4, 5, 0, 2, 3)).reshape(c * kh * kw, -1)


def _columns_adjoint(buffer: Array, cols: Array, x_shape, kernel, stride, padding, dilation):
    """The adjoint of :func:`conv2d_columns`: each element of ``cols`` (the matrix over
    ``buffer``, see :func:`slotted_columns`) added back at the element of an input of
    ``x_shape`` it was read from."""
    xp = array_module(cols)
    sides = sides2d(padding)
    sources = column_sources(x_shape, kernel, stride, sides, dilation, xp)
    if sources is not None:
        return add_columns(buffer, sources, x_shape)
    n, c = x_shape[:2]
    (kh, kw), size = kernel, output_size2d(x_shape[2:], kernel, stride, padding, dilation)
    six = cols.reshape((c, kh, kw, n) + size).transpose(3, 0, 4, 5, 1, 2)
    return fold_windows2d(six, x_shape, stride, padding, dilation)


def _group_matmul(a: Array, b: Array, groups: int, transpose_a=False, transpose_b=False, out=None):
    """``a @ b`` block by block: row block ``k`` of ``a`` times row block ``k`` of ``b``
    (each transposed as asked), the ``groups`` products stacked by rows (into the matrix
    ``out`` where given, else a new one)."""
    xp = array_module(a, b)
    if groups == 1 and a.ndim == b.ndim == 2:  # one GEMM: no stacked views to make
        a = a.T if transpose_a else a
        b = b.T if transpose_b else b
        if out is None:
            out = xp.empty((a.shape[0], b.shape[1]), _result_type(xp, a, b))
        return xp.matmul(a, b, out=out)
    a = a.reshape(groups, -1, a.shape[-1])
    b = b.reshape(groups, -1, b.shape[-1])
    if transpose_a:
        a = a.transpose(0, 2, 1)
    if transpose_b:
        b = b.transpose(0, 2, 1)
    if out is None:
        out = xp.empty((groups * a.shape[1], b.shape[2]), _result_type(xp, a, b))
    xp.matmul(a, b, out=out.reshape(groups, a.shape[1], b.shape[2]))
    return out


def _result_type(xp, a: Array, b: Array):
    """The dtype of ``a @ b`` (without NumPy's dispatch where both have the same)."""
    return a.dtype if a.dtype == b.dtype else xp.result_type(a, b)


def output_rows(g: Array) -> Array:
    """An output (or output adjoint) ``(N, O, Ho, Wo)`` as the matrix ``(O, N * Ho * Wo)``
    the GEMMs take: a view of ``g`` where its memory is laid out so (channels first, as the
    layers' own outputs and their adjoints are), else a fresh array. Never written into."""
    n, o = g.shape[:2]
    xp = array_module(g)
    return xp.ascontiguousarray(g.reshape(n, o, -1).transpose(1, 0, 2)).reshape(o, -1)


def conv2d_from_columns(
    cols: Array, weight: Array, bias, n: int, size, groups: int = 1, channels_first: bool = False
):
    """``conv2d`` of the input whose :func:`conv2d_columns` are ``cols``: ``(N, O, Ho, Wo)``
    for ``n`` images of output size ``size``; one GEMM per group, the bias added, then one
    pass that lays the result out as NCHW. With ``channels_first`` the GEMM's result itself
    is returned, as the view ``(N, O, Ho, Wo)`` of a contiguous ``(O, N, Ho, Wo)`` array (no
    pass: the layers read it as it lies, :func:`output_rows`)."""
    xp = array_module(cols, weight)
    o = weight.shape[0]
    rows = _group_matmul(weight.reshape(o, -1), cols, groups)  # (O, N * Ho * Wo), fresh
    if bias is not None:  # along the rows: a broadcast in the transposing pass is slower
        xp.add(rows, bias.reshape(-1, 1), out=rows, casting="same_kind")
    if channels_first:
        return rows.reshape((o, n) + tuple(size)).transpose(1, 0, 2, 3)
    out = xp.empty((n, o) + tuple(size), rows.dtype)
    out.reshape(n, o, -1)[...] = rows.reshape(o, n, -1).transpose(1, 0, 2)
    return out


#: (length, dtype) -> a read-only vector of ones, for row sums by BLAS
_ONES: dict = {}


def bias_grad_from_rows(rows: Array) -> Array:
    """The bias gradient of ``conv2d`` from the output adjoint as :func:`output_rows`: each
    row summed, as one BLAS matrix-vector product with ones where ``rows`` is a float NumPy
    matrix (NumPy's reduction along short rows is 2-3 times slower); a fresh array."""
    xp = array_module(rows)
    if xp is not np or rows.dtype.char not in "fd":
        return rows.sum(axis=1)
    key = (rows.shape[1], rows.dtype.char)
    ones = _ONES.get(key)
    if ones is None:
        ones = np.ones(rows.shape[1], rows.dtype)
        ones.flags.writeable = False
        if len(_ONES) < 64:
            _ONES[key] = ones
    return np.dot(rows, ones)


def weight_grad_from_columns(rows: Array, cols: Array, weight_shape, groups: int = 1):
    """The weight gradient of ``conv2d`` from the output adjoint as :func:`output_rows` and
    the input's :func:`conv2d_columns`: one GEMM per group, into a fresh array of its own."""
    xp = array_module(rows, cols)
    out = xp.empty(tuple(weight_shape), _result_type(xp, rows, cols))
    _group_matmul(rows, cols, groups, transpose_b=True, out=out.reshape(weight_shape[0], -1))
    return out


def input_grad_from_rows(rows: Array, weight: Array, x_shape, stride, padding, dilation, groups):
    """The input gradient of ``conv2d`` from the output adjoint as :func:`output_rows`: one
    GEMM per group back to columns, then their adjoint scatter (``stride``, ``padding`` and
    ``dilation`` pairs)."""
    xp = array_module(rows, weight)
    o = weight.shape[0]
    k = weight[0].size * groups
    buffer, cols = slotted_columns(k, rows.shape[1], _result_type(xp, rows, weight), xp)
    _group_matmul(weight.reshape(o, -1), rows, groups, transpose_a=True, out=cols)
    return _columns_adjoint(buffer, cols, x_shape, weight.shape[2:], stride, padding, dilation)


@primitive
def conv2d(
    x: Array,
    weight: Array,
    bias: Array | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Array:
    """PyTorch's ``conv2d``: ``x`` ``(N, C, H, W)``, ``weight`` ``(O, C / groups, kh, kw)``,
    ``bias`` ``(O,)``; ``stride``, ``padding`` (zeros), ``dilation`` an int or a pair; the
    channels split into ``groups`` groups convolved separately (output channels in group
    order, as PyTorch)."""
    stride, padding, dilation = pair(stride), pair(padding), pair(dilation)
    cols = conv2d_columns(x, weight.shape[2:], stride, padding, dilation)
    size = output_size2d(x.shape[2:], weight.shape[2:], stride, padding, dilation)
    return conv2d_from_columns(cols, weight, bias, x.shape[0], size, groups)


@primitive
def conv2d_input_grad(
    g: Array,
    weight: Array,
    x_shape,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Array:
    """The gradient of ``conv2d`` with respect to its input (of shape ``x_shape``) for the
    output adjoint ``g``: a transposed convolution, linear in ``g`` and in ``weight``."""
    stride, padding, dilation = pair(stride), pair(padding), pair(dilation)
    rows = output_rows(g)
    return input_grad_from_rows(rows, weight, tuple(x_shape), stride, padding, dilation, groups)


@primitive
def conv2d_weight_grad(
    g: Array,
    x: Array,
    weight_shape,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Array:
    """The gradient of ``conv2d`` with respect to its weight (of shape ``weight_shape``) for
    the output adjoint ``g``: linear in ``g`` and in ``x``."""
    stride, padding, dilation = pair(stride), pair(padding), pair(dilation)
    cols = conv2d_columns(x, weight_shape[2:], stride, padding, dilation)
    return weight_grad_from_columns(output_rows(g), cols, tuple(weight_shape), groups)


def _conv2d_adjoint(z, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    d[x] += conv2d_input_grad(d[z], weight, x.shape, stride, padding, dilation, groups)
    d[weight] += conv2d_weight_grad(d[z], x, weight.shape, stride, padding, dilation, groups)
    d[bias] += d[z].sum(axis=(0, 2, 3))


def _conv2d_tangent(z, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    d[z] += conv2d(d[x], weight, None, stride, padding, dilation, groups)
    d[z] += conv2d(x, d[weight], None, stride, padding, dilation, groups)
    d[z] += broadcast_like(d[bias].reshape(-1, 1, 1), z)


def _input_grad_adjoint(z, g, weight, x_shape, stride=1, padding=0, dilation=1, groups=1):
    d[g] += conv2d(d[z], weight, None, stride, padding, dilation, groups)
    d[weight] += conv2d_weight_grad(g, d[z], weight.shape, stride, padding, dilation, groups)


def _input_grad_tangent(z, g, weight, x_shape, stride=1, padding=0, dilation=1, groups=1):
    d[z] += conv2d_input_grad(d[g], weight, x_shape, stride, padding, dilation, groups)
    d[z] += conv2d_input_grad(g, d[weight], x_shape, stride, padding, dilation, groups)


def _weight_grad_adjoint(z, g, x, weight_shape, stride=1, padding=0, dilation=1, groups=1):
    d[g] += conv2d(x, d[z], None, stride, padding, dilation, groups)
    d[x] += conv2d_input_grad(g, d[z], x.shape, stride, padding, dilation, groups)


def _weight_grad_tangent(z, g, x, weight_shape, stride=1, padding=0, dilation=1, groups=1):
    d[z] += conv2d_weight_grad(d[g], x, weight_shape, stride, padding, dilation, groups)
    d[z] += conv2d_weight_grad(g, d[x], weight_shape, stride, padding, dilation, groups)


defvjp(conv2d, _conv2d_adjoint)
defjvp(conv2d, _conv2d_tangent)
defvjp(conv2d_input_grad, _input_grad_adjoint)
defjvp(conv2d_input_grad, _input_grad_tangent)
defvjp(conv2d_weight_grad, _weight_grad_adjoint)
defjvp(conv2d_weight_grad, _weight_grad_tangent)
