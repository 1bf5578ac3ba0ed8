"""2-D max and average pooling (NCHW, ``ceil_mode=False``) as primitives.

Max pooling selects one element per window: ``max_pool2d(x) = max_pool2d_select(x, x)``
where ``max_pool2d_select(u, x)`` reads ``u`` at the positions of ``x``'s window maxima (the
first maximum of a window, as PyTorch). Its adjoint ``max_pool2d_grad(g, x)`` adds ``g`` back
at those positions. Both are linear in their first operand and constant in ``x`` (almost
everywhere), each the other's transpose: the family is closed under differentiation.
Average pooling (``count_include_pad=True``, PyTorch's default) is linear; its adjoint is
``avg_pool2d_grad``.
"""

from __future__ import annotations

from ..rules import defjvp, defvjp, primitive
from ..rules.registry import d
from .backend import array_module, pair
from .conv import fold_windows2d, pad2d, windows2d

__all__ = [
    "max_pool2d",
    "max_pool2d_select",
    "max_pool2d_grad",
    "avg_pool2d",
    "avg_pool2d_grad",
]


def _geometry(kernel_size, stride, padding, dilation=1):
    kernel = pair(kernel_size)
    return kernel, pair(kernel if stride is None else stride), pair(padding), pair(dilation)


def _argmax_windows(x, kernel, stride, padding, dilation):
    """The flat in-window position ``(N, C, Ho, Wo)`` of each window's first maximum."""
    view = windows2d(pad2d(x, padding, value=-float("inf")), kernel, stride, dilation)
    return view.reshape(view.shape[:4] + (-1,)).argmax(axis=-1)


@primitive
def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1):
    """PyTorch's ``max_pool2d`` (padding with -inf; ``stride`` defaults to the kernel)."""
    return max_pool2d_select(x, x, kernel_size, stride, padding, dilation)


@primitive
def max_pool2d_select(u, x, kernel_size, stride=None, padding=0, dilation=1):
    """``u`` read at the positions of the window maxima of ``x`` (same shape as ``x``)."""
    xp = array_module(u, x)
    kernel, stride, padding, dilation = _geometry(kernel_size, stride, padding, dilation)
    where = _argmax_windows(x, kernel, stride, padding, dilation)
    view = windows2d(pad2d(u, padding), kernel, stride, dilation)
    flat = view.reshape(view.shape[:4] + (-1,))
    return xp.take_along_axis(flat, where[..., None], axis=-1)[..., 0]


@primitive
def max_pool2d_grad(g, x, kernel_size, stride=None, padding=0, dilation=1):
    """The gradient of ``max_pool2d`` at ``x`` for the output adjoint ``g``: each element of
    ``g`` added at its window's maximum (overlapping windows add up)."""
    kernel, stride, padding, dilation = _geometry(kernel_size, stride, padding, dilation)
    where = _argmax_windows(x, kernel, stride, padding, dilation)
    positions = array_module(g).arange(kernel[0] * kernel[1]).reshape(kernel)
    cols = g[..., None, None] * (where[..., None, None] == positions)
    return fold_windows2d(cols, x.shape, stride, padding, dilation)


def _max_pool_adjoint(z, x, kernel_size, stride=None, padding=0, dilation=1):
    d[x] += max_pool2d_grad(d[z], x, kernel_size, stride, padding, dilation)


def _max_pool_tangent(z, x, kernel_size, stride=None, padding=0, dilation=1):
    d[z] += max_pool2d_select(d[x], x, kernel_size, stride, padding, dilation)


def _select_adjoint(z, u, x, kernel_size, stride=None, padding=0, dilation=1):
    d[u] += max_pool2d_grad(d[z], x, kernel_size, stride, padding, dilation)


def _select_tangent(z, u, x, kernel_size, stride=None, padding=0, dilation=1):
    d[z] += max_pool2d_select(d[u], x, kernel_size, stride, padding, dilation)


def _max_grad_adjoint(z, g, x, kernel_size, stride=None, padding=0, dilation=1):
    d[g] += max_pool2d_select(d[z], x, kernel_size, stride, padding, dilation)


def _max_grad_tangent(z, g, x, kernel_size, stride=None, padding=0, dilation=1):
    d[z] += max_pool2d_grad(d[g], x, kernel_size, stride, padding, dilation)


defvjp(max_pool2d, _max_pool_adjoint)
defjvp(max_pool2d, _max_pool_tangent)
defvjp(max_pool2d_select, _select_adjoint)
defjvp(max_pool2d_select, _select_tangent)
defvjp(max_pool2d_grad, _max_grad_adjoint)
defjvp(max_pool2d_grad, _max_grad_tangent)


@primitive
def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """PyTorch's ``avg_pool2d`` (zero padding counted in the mean; ``ceil_mode=False``)."""
    kernel, stride, padding, dilation = _geometry(kernel_size, stride, padding)
    view = windows2d(pad2d(x, padding), kernel, stride, dilation)
    return view.mean(axis=(4, 5))


@primitive
def avg_pool2d_grad(g, x_shape, kernel_size, stride=None, padding=0):
    """The gradient of ``avg_pool2d`` over an input of shape ``x_shape`` for the output
    adjoint ``g``: each element of ``g`` spread evenly over its window."""
    xp = array_module(g)
    kernel, stride, padding, dilation = _geometry(kernel_size, stride, padding)
    share = g / (kernel[0] * kernel[1])
    cols = xp.broadcast_to(share[..., None, None], share.shape + kernel)
    return fold_windows2d(cols, x_shape, stride, padding, dilation)


def _avg_pool_adjoint(z, x, kernel_size, stride=None, padding=0):
    d[x] += avg_pool2d_grad(d[z], x.shape, kernel_size, stride, padding)


def _avg_pool_tangent(z, x, kernel_size, stride=None, padding=0):
    d[z] += avg_pool2d(d[x], kernel_size, stride, padding)


def _avg_grad_adjoint(z, g, x_shape, kernel_size, stride=None, padding=0):
    d[g] += avg_pool2d(d[z], kernel_size, stride, padding)


def _avg_grad_tangent(z, g, x_shape, kernel_size, stride=None, padding=0):
    d[z] += avg_pool2d_grad(d[g], x_shape, kernel_size, stride, padding)


defvjp(avg_pool2d, _avg_pool_adjoint)
defjvp(avg_pool2d, _avg_pool_tangent)
defvjp(avg_pool2d_grad, _avg_grad_adjoint)
defjvp(avg_pool2d_grad, _avg_grad_tangent)
