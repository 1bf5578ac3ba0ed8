"""Batch and layer normalization as primitives.

Both normalise ``x`` over some axes: ``xhat = (x - mean) / sqrt(var + eps)`` (biased
variance), then scale and shift. The Jacobian of ``xhat`` with respect to ``x`` is a symmetric
projection scaled by ``1 / std``, applied by :func:`normalize_grad` in both directions; the
backward functions are plain NumPy, differentiated from their source at higher orders.

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

from ..rules import defjvp, defvjp, primitive
from ..rules.registry import d
from ..runtime.tangent_helpers import broadcast_like

__all__ = [
    "batch_norm",
    "blend_running_stats",
    "layer_norm",
    "normalized",
    "normalize_grad",
    "batch_norm_input_grad",
    "batch_norm_input_tangent",
    "batch_norm_weight_grad",
    "batch_norm_weight_tangent",
    "layer_norm_input_grad",
    "layer_norm_input_tangent",
    "layer_norm_weight_grad",
    "layer_norm_bias_grad",
]


def normalized(x, axes, eps):
    """``(x - mean) / sqrt(var + eps)`` with mean and biased variance over ``axes``."""
    centred = x - np.mean(x, axis=axes, keepdims=True)
    var = np.mean(centred * centred, axis=axes, keepdims=True)
    return centred / np.sqrt(var + eps)


def normalize_grad(g, x, axes, eps):
    """The Jacobian of :func:`normalized` (symmetric) applied to ``g``."""
    centred = x - np.mean(x, axis=axes, keepdims=True)
    var = np.mean(centred * centred, axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = centred * inv_std
    mean_g = np.mean(g, axis=axes, keepdims=True)
    mean_gx = np.mean(g * xhat, axis=axes, keepdims=True)
    return inv_std * (g - mean_g - xhat * mean_gx)


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
    return (x - running_mean.reshape(shape)) / np.sqrt(running_var.reshape(shape) + eps)


@primitive
def batch_norm(
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


def blend_running_stats(running_mean, running_var, mean, var, momentum):
    """PyTorch's update, in place: ``running = (1 - momentum) * running + momentum * batch``
    (``var`` is the batch's unbiased variance)."""
    running_mean *= 1.0 - momentum
    running_mean += momentum * mean.astype(running_mean.dtype, copy=False)
    running_var *= 1.0 - momentum
    running_var += momentum * var.astype(running_var.dtype, copy=False)


def batch_norm_input_grad(g, x, running_var, weight, training, eps):
    """The gradient of ``batch_norm`` with respect to its input for the output adjoint
    ``g``."""
    axes, shape = _channel_axes(x)
    if weight is not None:
        g = g * weight.reshape(shape)
    if training:
        return normalize_grad(g, x, axes, eps)
    return g / np.sqrt(running_var.reshape(shape) + eps)


def batch_norm_input_tangent(t, x, running_var, weight, training, eps):
    """The tangent of ``batch_norm`` along the input tangent ``t``."""
    axes, shape = _channel_axes(x)
    if training:
        out = normalize_grad(t, x, axes, eps)
    else:
        out = t / np.sqrt(running_var.reshape(shape) + eps)
    if weight is not None:
        out = out * weight.reshape(shape)
    return out


def batch_norm_weight_grad(g, x, running_mean, running_var, training, eps):
    """The gradient of ``batch_norm`` with respect to ``weight``."""
    axes, _ = _channel_axes(x)
    return np.sum(g * _stats(x, running_mean, running_var, training, eps), axis=axes)


def batch_norm_weight_tangent(t, x, running_mean, running_var, training, eps):
    """The tangent of ``batch_norm`` along the weight tangent ``t``."""
    _, shape = _channel_axes(x)
    return _stats(x, running_mean, running_var, training, eps) * t.reshape(shape)


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
    d[input] += batch_norm_input_grad(d[z], input, running_var, weight, training, eps)
    d[weight] += batch_norm_weight_grad(d[z], input, running_mean, running_var, training, eps)
    d[bias] += np.sum(d[z], axis=(0,) + tuple(range(2, np.ndim(input))))


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
    d[z] += batch_norm_input_tangent(d[input], input, running_var, weight, training, eps)
    d[z] += batch_norm_weight_tangent(d[weight], input, running_mean, running_var, training, eps)
    d[z] += broadcast_like(d[bias].reshape((1, -1) + (1,) * (np.ndim(input) - 2)), z)


defvjp(batch_norm, _batch_norm_adjoint)
defjvp(batch_norm, _batch_norm_tangent)


def _trailing_axes(x, normalized_shape):
    return tuple(range(np.ndim(x) - len(normalized_shape), np.ndim(x)))


@primitive
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """PyTorch's ``layer_norm``: normalise over the trailing ``normalized_shape`` axes, then
    scale by ``weight`` and shift by ``bias`` (both of shape ``normalized_shape``)."""
    out = normalized(input, _trailing_axes(input, tuple(normalized_shape)), eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def layer_norm_input_grad(g, x, normalized_shape, weight, eps):
    """The gradient of ``layer_norm`` with respect to its input."""
    if weight is not None:
        g = g * weight
    return normalize_grad(g, x, _trailing_axes(x, normalized_shape), eps)


def layer_norm_input_tangent(t, x, normalized_shape, weight, eps):
    """The tangent of ``layer_norm`` along the input tangent ``t``."""
    out = normalize_grad(t, x, _trailing_axes(x, normalized_shape), eps)
    if weight is not None:
        out = out * weight
    return out


def layer_norm_weight_grad(g, x, normalized_shape, eps):
    """The gradient of ``layer_norm`` with respect to ``weight``."""
    xhat = normalized(x, _trailing_axes(x, normalized_shape), eps)
    return np.sum(g * xhat, axis=tuple(range(np.ndim(x) - len(normalized_shape))))


def layer_norm_bias_grad(g, normalized_shape):
    """The gradient of ``layer_norm`` with respect to ``bias``."""
    return np.sum(g, axis=tuple(range(np.ndim(g) - len(normalized_shape))))


def _layer_norm_adjoint(z, input, normalized_shape, weight=None, bias=None, eps=1e-5):
    d[input] += layer_norm_input_grad(d[z], input, normalized_shape, weight, eps)
    d[weight] += layer_norm_weight_grad(d[z], input, normalized_shape, eps)
    d[bias] += layer_norm_bias_grad(d[z], normalized_shape)


def _layer_norm_tangent(z, input, normalized_shape, weight=None, bias=None, eps=1e-5):
    d[z] += layer_norm_input_tangent(d[input], input, normalized_shape, weight, eps)
    d[z] += d[weight] * normalized(input, _trailing_axes(input, normalized_shape), eps)
    d[z] += broadcast_like(d[bias], z)


defvjp(layer_norm, _layer_norm_adjoint)
defjvp(layer_norm, _layer_norm_tangent)
