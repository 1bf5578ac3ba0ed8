"""Batch and layer normalization as primitives.

Both normalise ``x`` over some axes: ``xhat = (x - mean) / sqrt(var + eps)`` (biased
variance), then scale and shift. The Jacobian of ``xhat`` with respect to ``x`` is a symmetric
projection scaled by ``1 / std``, the same in both directions. The rules are NumPy
expressions, inlined into the derivative and differentiated again at higher orders. A
forward rule cannot branch when the derivative runs, so ``training`` must be a constant where
forward mode (or a second order) is asked for; ``weight`` and ``bias`` are None only as the
literal ``None``.

Running statistics: called with ``running_mean``/``running_var`` in training mode,
``batch_norm`` updates them in place (PyTorch's functional behaviour) on every evaluation. A
derivative may evaluate a function more than once (the call of a layer object is evaluated
again inside its vjp), so a layer instead passes ``record``, a dict that the evaluation *sets*
to the batch statistics (the same values however many times it runs) without touching the
running statistics; the layer applies them once, outside the differentiated path
(``BatchNorm*.update_running_stats``).
"""

from __future__ import annotations

import numpy as np

from ..rules import defjvp, defvjp, nondifferentiable, primitive
from ..rules.registry import d, static
from ..runtime.tangent_helpers import broadcast_like
from ..util.tree import Array
from .backend import array_module

__all__ = [
    "batch_norm",
    "blend_running_stats",
    "layer_norm",
    "normalized",
    "stat_like",
]


def normalized(x: Array, axes, eps: float) -> Array:
    """``(x - mean) / sqrt(var + eps)`` with mean and biased variance over ``axes``."""
    centred = x - np.mean(x, axis=axes, keepdims=True)
    var = np.mean(centred * centred, axis=axes, keepdims=True)
    return centred / np.sqrt(var + eps)


def stat_like(stat: Array, x: Array, shape: tuple[int, ...]) -> Array:
    """The running statistic ``stat`` reshaped to ``shape``, as an array of ``x``'s array
    module (copied to the device where ``x`` is a CuPy array and ``stat`` is on the host)."""
    return array_module(x).asarray(stat).reshape(shape)


nondifferentiable(stat_like)


def _channel_axes(x):
    """The axes batch norm reduces over (all but the channel axis 1), and the shape that
    broadcasts a per-channel vector against ``x``."""
    axes = (0,) + tuple(range(2, np.ndim(x)))
    shape = (1, -1) + (1,) * (np.ndim(x) - 2)
    return axes, shape


def _stats(x, running_mean, running_var, training, eps):
    axes, shape = _channel_axes(x)
    if training:
        return normalized(x, axes, eps)
    return (x - stat_like(running_mean, x, shape)) / np.sqrt(stat_like(running_var, x, shape) + eps)


@primitive
def batch_norm(
    input: Array,
    running_mean: Array,
    running_var: Array,
    weight: Array | None = None,
    bias: Array | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
    record=None,
) -> Array:
    """PyTorch's ``batch_norm`` over ``(N, C)`` or ``(N, C, ...)``: batch statistics in
    training mode, the running statistics otherwise. In training mode, ``record`` (a dict)
    is set to the batch's ``mean``, unbiased ``var`` and ``count``; without ``record``,
    ``running_mean``/``running_var`` (when given) are updated in place."""
    axes, shape = _channel_axes(input)
    if training and (record is not None or running_mean is not None):
        count = input.size // input.shape[1]
        mean = input.mean(axis=axes)
        var = input.var(axis=axes) * (count / max(count - 1, 1))
        if record is not None:
            record.update(mean=mean, var=var, count=count)
        else:
            blend_running_stats(running_mean, running_var, mean, var, momentum)
    if training:
        out = normalized(input, axes, eps)
    else:
        out = _stats(input, running_mean, running_var, False, eps).astype(input.dtype)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def blend_running_stats(
    running_mean: Array, running_var: Array, mean, var, momentum: float
) -> None:
    """PyTorch's update, in place: ``running = (1 - momentum) * running + momentum * batch``
    (``var`` is the batch's unbiased variance; all four arrays of one array module)."""
    running_mean *= 1.0 - momentum
    running_mean += momentum * mean.astype(running_mean.dtype, copy=False)
    running_var *= 1.0 - momentum
    running_var += momentum * var.astype(running_var.dtype, copy=False)


def _batch_norm_adjoint(
    z,
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
    record=None,
):
    axes = (0,) + tuple(range(2, np.ndim(input)))
    shape = (1, -1) + (1,) * (np.ndim(input) - 2)
    if training:
        centred = input - np.mean(input, axis=axes, keepdims=True)
        inv_std = 1.0 / np.sqrt(np.mean(centred * centred, axis=axes, keepdims=True) + eps)
        xhat = centred * inv_std
    else:
        inv_std = 1.0 / np.sqrt(stat_like(running_var, input, shape) + eps)
        xhat = (input - stat_like(running_mean, input, shape)) * inv_std
    if static(weight is None):
        scale = inv_std
    else:
        scale = inv_std * weight.reshape(shape)
    if training:  # the Jacobian of xhat: a symmetric projection over the batch, over std
        mean_g = np.mean(d[z], axis=axes, keepdims=True)
        mean_gx = np.mean(d[z] * xhat, axis=axes, keepdims=True)
        d[input] += scale * (d[z] - mean_g - xhat * mean_gx)
    else:
        d[input] += scale * d[z]
    d[weight] += np.sum(d[z] * xhat, axis=axes)
    d[bias] += np.sum(d[z], axis=axes)


def _batch_norm_tangent(
    z,
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
    record=None,
):
    axes = (0,) + tuple(range(2, np.ndim(input)))
    shape = (1, -1) + (1,) * (np.ndim(input) - 2)
    if training:
        centred = input - np.mean(input, axis=axes, keepdims=True)
        inv_std = 1.0 / np.sqrt(np.mean(centred * centred, axis=axes, keepdims=True) + eps)
        xhat = centred * inv_std
    else:
        inv_std = 1.0 / np.sqrt(stat_like(running_var, input, shape) + eps)
        xhat = (input - stat_like(running_mean, input, shape)) * inv_std
    if static(weight is None):
        scale = inv_std
    else:
        scale = inv_std * weight.reshape(shape)
    if training:
        d[z] += scale * (
            d[input]
            - np.mean(d[input], axis=axes, keepdims=True)
            - xhat * np.mean(d[input] * xhat, axis=axes, keepdims=True)
        )
    else:
        d[z] += scale * d[input]
    d[z] += xhat * d[weight].reshape(shape)
    d[z] += broadcast_like(d[bias].reshape(shape), z)


defvjp(batch_norm, _batch_norm_adjoint)
defjvp(batch_norm, _batch_norm_tangent)


def _trailing_axes(x, normalized_shape):
    return tuple(range(np.ndim(x) - len(normalized_shape), np.ndim(x)))


@primitive
def layer_norm(
    input: Array,
    normalized_shape,
    weight: Array | None = None,
    bias: Array | None = None,
    eps: float = 1e-5,
) -> Array:
    """PyTorch's ``layer_norm``: normalise over the trailing ``normalized_shape`` axes, then
    scale by ``weight`` and shift by ``bias`` (both of shape ``normalized_shape``)."""
    out = normalized(input, _trailing_axes(input, tuple(normalized_shape)), eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def _layer_norm_adjoint(z, input, normalized_shape, weight=None, bias=None, eps=1e-5):
    axes = tuple(range(np.ndim(input) - len(normalized_shape), np.ndim(input)))
    leading = tuple(range(np.ndim(input) - len(normalized_shape)))
    centred = input - np.mean(input, axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(np.mean(centred * centred, axis=axes, keepdims=True) + eps)
    xhat = centred * inv_std
    if static(weight is None):
        g = d[z]
    else:
        g = d[z] * weight
    mean_g = np.mean(g, axis=axes, keepdims=True)
    mean_gx = np.mean(g * xhat, axis=axes, keepdims=True)
    d[input] += inv_std * (g - mean_g - xhat * mean_gx)
    d[weight] += np.sum(d[z] * xhat, axis=leading)
    d[bias] += np.sum(d[z], axis=leading)


def _layer_norm_tangent(z, input, normalized_shape, weight=None, bias=None, eps=1e-5):
    axes = tuple(range(np.ndim(input) - len(normalized_shape), np.ndim(input)))
    centred = input - np.mean(input, axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(np.mean(centred * centred, axis=axes, keepdims=True) + eps)
    xhat = centred * inv_std
    if static(weight is None):
        scale = inv_std
    else:
        scale = inv_std * weight
    d[z] += scale * (
        d[input]
        - np.mean(d[input], axis=axes, keepdims=True)
        - xhat * np.mean(d[input] * xhat, axis=axes, keepdims=True)
    )
    d[z] += d[weight] * xhat
    d[z] += broadcast_like(d[bias], z)


defvjp(layer_norm, _layer_norm_adjoint)
defjvp(layer_norm, _layer_norm_tangent)
