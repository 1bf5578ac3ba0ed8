"""2-D convolution (NCHW, PyTorch's cross-correlation, grouped or not) as primitives.

``conv2d``, its input gradient ``conv2d_input_grad`` (a transposed convolution) and its weight
gradient ``conv2d_weight_grad`` are bilinear maps ``<g, conv2d(x, w)>`` read three ways, so
each one's derivatives are the other two: the family is closed under differentiation and
every order runs on these three kernels. Each kernel is one GEMM (``tensordot``) over an
im2col view made with ``sliding_window_view`` (no copy until the GEMM packs it); the input
gradient adds the GEMM's columns back with one strided add per kernel position. With
``groups > 1`` each group is one GEMM over its own channels.
"""

from __future__ import annotations

from ..rules import defjvp, defvjp, primitive
from ..rules.registry import d
from ..runtime.tangent_helpers import broadcast_like
from ..util.tree import Array
from .backend import IntPair, array_module, pair

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


def _grouped(groups, parts, axis, xp):
    """One kernel's result for ``groups`` channel groups: ``parts(k)`` for each group ``k``
    joined along ``axis`` (the one call itself for a single group)."""
    if groups == 1:
        return parts(0)
    return xp.concatenate([parts(k) for k in range(groups)], axis=axis)


def _split_channels(a, axis, groups):
    """``a`` with its axis ``axis`` split into ``(groups, size / groups)`` (a view)."""
    size = a.shape[axis]
    return a.reshape(a.shape[:axis] + (groups, size // groups) + a.shape[axis + 1 :])


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
    xp = array_module(x, weight)
    stride, padding, dilation = pair(stride), pair(padding), pair(dilation)
    view = windows2d(pad2d(x, padding), weight.shape[2:], stride, dilation)
    views = _split_channels(view, 1, groups)  # (N, G, C / G, Ho, Wo, kh, kw)
    weights = _split_channels(weight, 0, groups)  # (G, O / G, C / G, kh, kw)

    def part(k):
        return xp.tensordot(views[:, k], weights[k], axes=([1, 4, 5], [1, 2, 3]))

    out = _grouped(groups, part, -1, xp)  # (N, Ho, Wo, O)
    if bias is not None:
        out += bias
    return xp.ascontiguousarray(out.transpose(0, 3, 1, 2))


def conv2d_columns(
    x: Array,
    kernel,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
):
    """The im2col matrix ``(N * Ho * Wo, C * kh * kw)`` of ``x`` (a copy, rows in ``(n, ho,
    wo)`` order): ``conv2d`` (``groups=1``) is its product with ``weight.reshape(O, -1).T``,
    and its weight gradient the product of the output adjoint with it."""
    stride, padding, dilation = pair(stride), pair(padding), pair(dilation)
    view = windows2d(pad2d(x, padding), kernel, stride, dilation)
    n, c, ho, wo, kh, kw = view.shape
    return view.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kh * kw)


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
    xp = array_module(g, weight)
    stride, padding, dilation = pair(stride), pair(padding), pair(dilation)
    gs = _split_channels(g, 1, groups)  # (N, G, O / G, Ho, Wo)
    weights = _split_channels(weight, 0, groups)

    def part(k):
        return xp.tensordot(gs[:, k], weights[k], axes=([1], [0]))  # (N, Ho, Wo, C/G, kh, kw)

    cols = _grouped(groups, part, 3, xp)
    return fold_windows2d(cols.transpose(0, 3, 1, 2, 4, 5), x_shape, stride, padding, dilation)


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
    xp = array_module(g, x)
    stride, padding, dilation = pair(stride), pair(padding), pair(dilation)
    view = windows2d(pad2d(x, padding), weight_shape[2:], stride, dilation)
    views, gs = _split_channels(view, 1, groups), _split_channels(g, 1, groups)

    def part(k):
        return xp.tensordot(gs[:, k], views[:, k], axes=([0, 2, 3], [0, 2, 3]))

    return _grouped(groups, part, 0, xp)  # (O, C / G, kh, kw)


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
