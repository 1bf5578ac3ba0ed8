"""2-D max and average pooling (NCHW) as primitives, with PyTorch's ``ceil_mode`` and
``count_include_pad``.

Max pooling selects one element per window: ``max_pool2d(x) = max_pool2d_select(x, x)``
where ``max_pool2d_select(u, x)`` reads ``u`` at the positions of ``x``'s window maxima (the
first maximum of a window, as PyTorch). Its adjoint ``max_pool2d_grad(g, x)`` adds ``g`` back
at those positions. Both are linear in their first operand and constant in ``x`` (almost
everywhere), each the other's transpose: the family is closed under differentiation.
Average pooling is linear; its adjoint is ``avg_pool2d_grad``.

Every kernel works on the ``kh * kw`` strided views of the input that hold one position of
every window (one elementwise operation each), not on window views reduced over their small
trailing axes, which NumPy does slowly.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..rules import defjvp, defvjp, primitive
from ..rules.registry import d
from ..util.tree import Array
from .backend import IntPair, array_module, pair
from .conv import pad2d
from .gather import can_scatter, gather_windows, slotted, window_index

__all__ = [
    "PoolGeometry",
    "pool_geometry",
    "max_pool2d",
    "max_pool2d_select",
    "max_pool2d_grad",
    "max_pool2d_with_argmax",
    "max_pool2d_scatter",
    "avg_pool2d",
    "avg_pool2d_grad",
]


@dataclass(frozen=True)
class PoolGeometry:
    """Where the windows of a pooling lie: ``sides`` is the padding per side
    ``((top, bottom), (left, right))``, the bottom and right sides grown by ``ceil_mode``'s
    last, partial windows; ``out`` is ``(Ho, Wo)``."""

    kernel: tuple
    stride: tuple
    padding: tuple
    sides: tuple
    dilation: tuple
    out: tuple

    @functools.cached_property  # (geometries are cached, a frozen one included)
    def tiles(self) -> bool:
        """Whether the windows tile the input: no overlap, gap, padding or dilation."""
        unpadded = all(a == b == 0 for a, b in self.sides)
        return self.stride == self.kernel and self.dilation == (1, 1) and unpadded


def _out_size(n, k, s, p, dl, ceil_mode):
    span = dl * (k - 1) + 1
    if not ceil_mode:
        return (n + 2 * p - span) // s + 1
    out = -(-(n + 2 * p - span) // s) + 1
    # PyTorch: the last window must start inside the input or its left padding
    return out - 1 if (out - 1) * s >= n + p else out


def pool_geometry(
    x_shape,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
):
    """The :class:`PoolGeometry` of a pooling of an input of shape ``x_shape`` (``stride``
    None: the kernel), output sizes as PyTorch computes them (cached by its arguments)."""
    key = (tuple(x_shape), kernel_size, stride, padding, dilation, ceil_mode)
    try:
        return _cached_geometry(*key)
    except TypeError:  # an unhashable argument (a list for a pair)
        return _geometry(*key)


@functools.lru_cache(maxsize=256)
def _cached_geometry(*key):
    return _geometry(*key)


def _geometry(
    x_shape,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
):
    kernel = pair(kernel_size)
    stride = pair(kernel if stride is None else stride)
    padding, dilation = pair(padding), pair(dilation)
    out, sides = [], []
    for n, k, s, p, dl in zip(x_shape[2:], kernel, stride, padding, dilation):
        o = _out_size(n, k, s, p, dl, ceil_mode)
        extra = max((o - 1) * s + dl * (k - 1) + 1 - (n + 2 * p), 0)
        out.append(o)
        sides.append((p, p + extra))
    return PoolGeometry(kernel, stride, padding, tuple(sides), dilation, tuple(out))


def _slices(a, geo):
    """The ``kh * kw`` strided views ``(N, C, Ho, Wo)`` of the (padded) ``a`` at each
    position of the window, in row-major order: window position ``k`` of every window."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = geo.kernel, geo.stride, geo.dilation, geo.out
    return [
        a[:, :, i * dh : i * dh + sh * (ho - 1) + 1 : sh, j * dw : j * dw + sw * (wo - 1) + 1 : sw]
        for i in range(kh)
        for j in range(kw)
    ]


def _padded_zeros(g, x_shape, geo):
    (top, bottom), (left, right) = geo.sides
    shape = tuple(x_shape[:2]) + (x_shape[2] + top + bottom, x_shape[3] + left + right)
    return array_module(g).zeros_like(g, shape=shape)


def _cropped(padded, x_shape, geo):
    (top, _), (left, _) = geo.sides
    return padded[:, :, top : top + x_shape[2], left : left + x_shape[3]]


def _window_maxima(x, geo):
    """``(maxima, where)``: each window's maximum and the position ``(N, C, Ho, Wo)`` in its
    window of its first maximum (a NaN counts as the maximum, as in ``argmax``). The maxima
    by ``maximum`` (NaN propagates), then the first position holding each, found from the last
    position back: two passes per window position, not three masked copies."""
    xp = array_module(x)
    parts = _slices(pad2d(x, geo.sides, -float("inf")), geo)
    best = parts[0].copy()
    for part in parts[1:]:
        xp.maximum(best, part, out=best)
    where = xp.full(best.shape, len(parts) - 1, xp.intp)
    _first_hits(xp, parts, best, lambda k, hit: xp.copyto(where, k, where=hit))
    return best, where


def _first_hits(xp, parts, best, mark):
    """``mark(k, hit)`` for window positions ``k`` from the second last back to the first,
    ``hit`` where ``parts[k]`` holds the window's maximum ``best`` (or is a NaN, where one
    is): what each call marks overrides the later positions' marks."""
    has_nan = bool(xp.isnan(best).any())  # a window holding a NaN has the maximum NaN
    for k in range(len(parts) - 2, -1, -1):
        hit = parts[k] == best
        if has_nan:
            hit |= parts[k] != parts[k]
        mark(k, hit)


def _pool_index(x_shape, geo, xp):
    """The gather index ``(kh * kw, N * C * Ho * Wo)`` of the windows, or None (too large)."""
    return window_index("pool", x_shape, geo.kernel, geo.stride, geo.sides, geo.dilation, xp)


def _gathered_maxima(x, index, geo):
    """``(maxima, positions)`` by the gather ``index``: each window's maximum ``(N, C, Ho,
    Wo)`` and the flat position in ``x`` of its first maximum (``x.size``: the padding).
    The row of the first maximum is counted without branches: the number of rows before
    it, each missing the maximum (a NaN never misses: it is the maximum of its window)."""
    xp = array_module(x)
    padded = any(geo.sides[0] + geo.sides[1])
    windows = gather_windows(x, index, -float("inf"), padded)  # (kh * kw, N * C * Ho * Wo)
    best = np.maximum.reduce(windows, axis=0) if xp is np else windows.max(axis=0)
    has_nan = _may_hold_nan(xp, best)
    small = len(windows) <= 256  # the counts fit in bytes
    count = xp.zeros(best.shape, xp.uint8 if small else xp.intp)
    missed = None
    for k in range(len(windows) - 1):
        miss = windows[k] != best
        if has_nan:
            miss &= windows[k] == windows[k]
        missed = miss if missed is None else xp.logical_and(missed, miss, out=missed)
        count += missed.view(xp.uint8) if small else missed  # bytes 0/1: no cast
    row = xp.multiply(count, best.size, dtype=xp.intp)
    row += _positions(xp, best.size)
    return best.reshape(x.shape[:2] + geo.out), index.take(row)


def _may_hold_nan(xp, a) -> bool:
    """Whether ``a`` may hold a NaN: its sum is one (a NaN propagates; ``inf - inf`` makes
    one too, and then the caller only does some needless work). One pass, no mask."""
    return bool(xp.isnan(a.sum()))


#: (length, array module name) -> the read-only ``arange(length)`` of that module
_POSITIONS: dict = {}


def _positions(xp, n: int):
    key = (n, xp.__name__)
    found = _POSITIONS.get(key)
    if found is None:
        found = xp.arange(n)
        if xp is np:
            found.flags.writeable = False
        if len(_POSITIONS) < 64:
            _POSITIONS[key] = found
    return found


def _maxima(x, geo):
    """``(maxima, residual)``: each window's maximum and what :func:`_scatter_maxima` and
    :func:`_select_maxima` need: the flat positions of the maxima (small inputs) or their
    positions in their windows (large ones)."""
    index = _pool_index(x.shape, geo, array_module(x))
    if index is None:
        return _window_maxima(x, geo)
    return _gathered_maxima(x, index, geo)


def _scatter_maxima(g, residual, x_shape, geo):
    """Each element of ``g`` added at its window's maximum (``residual`` from
    :func:`_maxima`)."""
    xp = array_module(g)
    if _pool_index(x_shape, geo, xp) is None:
        return _scatter(g, residual, x_shape, geo)
    size = math.prod(x_shape)
    if geo.tiles:  # no two windows share an element: one assignment
        out = xp.zeros(size + 1, g.dtype)
        out[residual] = g.reshape(-1)
    elif can_scatter(g):
        out = xp.bincount(residual, weights=g.reshape(-1), minlength=size + 1)
        out = out.astype(g.dtype, copy=False)
    else:
        out = xp.zeros(size + 1, g.dtype)
        xp.add.at(out, residual, g.reshape(-1))
    return out[:size].reshape(x_shape)


def _select_maxima(u, residual, x_shape, geo):
    """``u`` read at the maxima of the windows (``residual`` from :func:`_maxima`)."""
    xp = array_module(u)
    if _pool_index(x_shape, geo, xp) is None:
        parts = _slices(pad2d(u, geo.sides), geo)
        out = parts[0].copy()
        for k, part in enumerate(parts[1:], 1):
            xp.copyto(out, part, where=residual == k)
        return out
    padded = any(geo.sides[0] + geo.sides[1])
    source = slotted(u, 0.0) if padded else u.reshape(-1)
    return source.take(residual).reshape(tuple(x_shape[:2]) + geo.out)


def _scatter(g, where, x_shape, geo):
    """Each element of ``g`` added at position ``where`` of its window (overlaps add up)."""
    xp = array_module(g)
    out = _padded_zeros(g, x_shape, geo)
    for k, part in enumerate(_slices(out, geo)):
        if geo.tiles:  # no two windows share an element: written once, no add
            part[...] = xp.where(where == k, g, 0.0)
        else:
            part += xp.where(where == k, g, 0.0)
    return _cropped(out, x_shape, geo)


def max_pool2d_with_argmax(
    x: Array,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
):
    """``(max_pool2d(x, ...), where)``: also where each window's first maximum lies (an
    opaque residual), for :func:`max_pool2d_scatter` (what the layer keeps for its
    backward)."""
    geo = pool_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    flipped = _channels_first(x)
    if flipped is None:
        return _maxima(x, geo)
    # pooled plane by plane, so the (C, N, H, W) array x is a view of pools as it lies
    best, where = _maxima(flipped, geo)
    return best.transpose(1, 0, 2, 3), _Flipped(where)


class _Flipped:
    """The residual of a max-pool run on the input with its first two axes swapped (the
    pooled output is the view swapped back)."""

    __slots__ = ("where",)

    def __init__(self, where) -> None:
        self.where = where


def _channels_first(x: Array):
    """``x.transpose(1, 0, 2, 3)`` where that is contiguous and ``x`` is not (a layer's
    output laid out channels first), else None."""
    if x.ndim != 4 or x.flags.c_contiguous:
        return None
    swapped = x.transpose(1, 0, 2, 3)
    return swapped if swapped.flags.c_contiguous else None


def max_pool2d_scatter(
    g: Array,
    where,
    x_shape,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
):
    """:func:`max_pool2d_grad` given ``where`` from :func:`max_pool2d_with_argmax`."""
    geo = pool_geometry(x_shape, kernel_size, stride, padding, dilation, ceil_mode)
    if not isinstance(where, _Flipped):
        return _scatter_maxima(g, where, x_shape, geo)
    shape = (x_shape[1], x_shape[0]) + tuple(x_shape[2:])
    return _scatter_maxima(g.transpose(1, 0, 2, 3), where.where, shape, geo).transpose(1, 0, 2, 3)


@primitive
def max_pool2d(
    x: Array,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
) -> Array:
    """PyTorch's ``max_pool2d`` (padding with -inf; ``stride`` defaults to the kernel;
    ``ceil_mode`` keeps the last, partial windows)."""
    xp = array_module(x)
    geo = pool_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    index = _pool_index(x.shape, geo, xp)
    if index is not None:
        padded = any(geo.sides[0] + geo.sides[1])
        windows = gather_windows(x, index, -float("inf"), padded)
        return windows.max(axis=0).reshape(x.shape[:2] + geo.out)
    parts = _slices(pad2d(x, geo.sides, -float("inf")), geo)
    out = parts[0].copy()
    for part in parts[1:]:
        xp.maximum(out, part, out=out)
    return out


@primitive
def max_pool2d_select(
    u: Array,
    x: Array,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
):
    """``u`` read at the positions of the window maxima of ``x`` (same shape as ``x``)."""
    geo = pool_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    return _select_maxima(u, _maxima(x, geo)[1], x.shape, geo)


@primitive
def max_pool2d_grad(
    g: Array,
    x: Array,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
):
    """The gradient of ``max_pool2d`` at ``x`` for the output adjoint ``g``: each element of
    ``g`` added at its window's maximum (overlapping windows add up)."""
    geo = pool_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    return _scatter_maxima(g, _maxima(x, geo)[1], x.shape, geo)


def _max_pool_adjoint(z, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    d[x] += max_pool2d_grad(d[z], x, kernel_size, stride, padding, dilation, ceil_mode)


def _max_pool_tangent(z, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    d[z] += max_pool2d_select(d[x], x, kernel_size, stride, padding, dilation, ceil_mode)


def _select_adjoint(z, u, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    d[u] += max_pool2d_grad(d[z], x, kernel_size, stride, padding, dilation, ceil_mode)


def _select_tangent(z, u, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    d[z] += max_pool2d_select(d[u], x, kernel_size, stride, padding, dilation, ceil_mode)


def _max_grad_adjoint(z, g, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    d[g] += max_pool2d_select(d[z], x, kernel_size, stride, padding, dilation, ceil_mode)


def _max_grad_tangent(z, g, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    d[z] += max_pool2d_grad(d[g], x, kernel_size, stride, padding, dilation, ceil_mode)


defvjp(max_pool2d, _max_pool_adjoint)
defjvp(max_pool2d, _max_pool_tangent)
defvjp(max_pool2d_select, _select_adjoint)
defjvp(max_pool2d_select, _select_tangent)
defvjp(max_pool2d_grad, _max_grad_adjoint)
defjvp(max_pool2d_grad, _max_grad_tangent)


def _divisor(xp, x_shape, geo, count_include_pad, dtype):
    """``(Ho, Wo)``: how many elements each window averages (PyTorch's rule: the padding
    counts with ``count_include_pad``, the part ``ceil_mode`` adds never does)."""
    if geo.tiles:
        return float(geo.kernel[0] * geo.kernel[1])
    (top, bottom), (left, right) = geo.sides
    h, w = x_shape[2], x_shape[3]
    mask = xp.zeros((1, 1, h + top + bottom, w + left + right), dtype)
    if count_include_pad:
        mask[:, :, : h + 2 * top, : w + 2 * left] = 1.0
    else:
        mask[:, :, top : top + h, left : left + w] = 1.0
    return sum(_slices(mask, geo))[0, 0]


@primitive
def avg_pool2d(
    x: Array,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Array:
    """PyTorch's ``avg_pool2d``: the mean of each window, zero padding counted in it with
    ``count_include_pad`` (the default) and not otherwise; ``ceil_mode`` keeps the last,
    partial windows."""
    xp = array_module(x)
    geo = pool_geometry(x.shape, kernel_size, stride, padding, 1, ceil_mode)
    parts = _slices(pad2d(x, geo.sides), geo)
    total = parts[0].copy()
    for part in parts[1:]:
        total += part
    return total / _divisor(xp, x.shape, geo, count_include_pad, x.dtype)


@primitive
def avg_pool2d_grad(
    g: Array,
    x_shape,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
):
    """The gradient of ``avg_pool2d`` over an input of shape ``x_shape`` for the output
    adjoint ``g``: each element of ``g`` spread evenly over its window."""
    xp = array_module(g)
    geo = pool_geometry(x_shape, kernel_size, stride, padding, 1, ceil_mode)
    share = g / _divisor(xp, x_shape, geo, count_include_pad, g.dtype)
    out = _padded_zeros(share, x_shape, geo)
    for part in _slices(out, geo):
        part += share
    return _cropped(out, x_shape, geo)


def _avg_pool_adjoint(
    z, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True
):
    d[x] += avg_pool2d_grad(
        d[z], x.shape, kernel_size, stride, padding, ceil_mode, count_include_pad
    )


def _avg_pool_tangent(
    z, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True
):
    d[z] += avg_pool2d(d[x], kernel_size, stride, padding, ceil_mode, count_include_pad)


def _avg_grad_adjoint(
    z, g, x_shape, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True
):
    d[g] += avg_pool2d(d[z], kernel_size, stride, padding, ceil_mode, count_include_pad)


def _avg_grad_tangent(
    z, g, x_shape, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True
):
    d[z] += avg_pool2d_grad(
        d[g], x_shape, kernel_size, stride, padding, ceil_mode, count_include_pad
    )


defvjp(avg_pool2d, _avg_pool_adjoint)
defjvp(avg_pool2d, _avg_pool_tangent)
defvjp(avg_pool2d_grad, _avg_grad_adjoint)
defjvp(avg_pool2d_grad, _avg_grad_tangent)
