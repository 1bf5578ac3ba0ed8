"""Layers with parameters and activations, PyTorch's names, layouts and initialisation.

Every ``__call__`` is one call of a primitive of :mod:`sourcegrad.nn.functional`, so the
derivative of a loss that uses a layer shows that call forward and its hand-written backward
functions in the adjoint.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ..util.tree import Array, Tree, to_module_of
from . import functional as F
from .backend import IntPair
from .conv import (
    bias_grad_from_rows,
    conv2d_columns,
    conv2d_from_columns,
    input_grad_from_rows,
    output_rows,
    output_size2d,
    weight_grad_from_columns,
)
from .linear import linear_bias_grad, linear_weight_grad
from .modules import Module
from .pooling import avg_pool2d_grad, max_pool2d_scatter, max_pool2d_with_argmax

__all__ = [
    "Linear",
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "ReLU",
    "Tanh",
    "Sigmoid",
    "GELU",
    "SoftMax",
    "LogSoftMax",
    "Softmax",
    "LogSoftmax",
    "Dropout",
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "Embedding",
    "Flatten",
    "Reshape",
]


def _uniform(rng, bound, shape, dtype):
    return rng.uniform(-bound, bound, shape).astype(dtype)


def _pairs(stride: IntPair, padding: IntPair, dilation: IntPair) -> tuple:
    """``stride``, ``padding`` and ``dilation`` (each an int or a pair) as pairs, read from
    the layer at every call and made once per set of values (and their types: ``1.0`` is
    refused where ``1`` is not)."""
    try:
        return _cached_pairs(stride, padding, dilation, type(stride), type(padding), type(dilation))
    except TypeError:  # an unhashable value (a list for a pair), or not a size
        return (F.pair(stride), F.pair(padding), F.pair(dilation))


@functools.lru_cache(maxsize=256)
def _cached_pairs(stride, padding, dilation, *types) -> tuple:
    return (F.pair(stride), F.pair(padding), F.pair(dilation))


def _mask_like(xp, a: Array, g: Array):
    """An empty array for ``g * (a > 0)``: ``a``'s shape and memory layout (a plain array of
    the module ``xp``), the product's dtype (``g``'s own for a float ``g``)."""
    dtype = g.dtype if g.dtype.kind in "fc" else xp.result_type(g, xp.bool_)
    if xp is np:
        return np.empty_like(a, dtype, subok=False)
    return xp.empty_like(a, dtype)


class Linear(Module):
    """``y = x @ weight.T + bias``; ``weight`` ``(out_features, in_features)``, both drawn
    from U(-1/sqrt(in), 1/sqrt(in)) (PyTorch's default)."""

    has_params = True

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        self.in_features, self.out_features, self.bias = in_features, out_features, bias

    def init(
        self, rng: np.random.Generator | int | None = None, dtype: DTypeLike = np.float64
    ) -> Tree:
        rng = np.random.default_rng() if rng is None else rng
        bound = 1.0 / math.sqrt(self.in_features)
        params = {"weight": _uniform(rng, bound, (self.out_features, self.in_features), dtype)}
        if self.bias:
            params["bias"] = _uniform(rng, bound, (self.out_features,), dtype)
        return params

    def __new__(cls, *args, bias=True, **kwargs):
        return super().__new__(cls if bias else UnbiasedLinear)

    def __call__(self, params: Tree, x: Array) -> Array:
        return F.linear(x, params["weight"], params["bias"])

    def backward_from_residuals(
        self, params: Tree, x: Array, out: Array, residuals: Any, g: Array, wants: tuple[bool, ...]
    ) -> tuple[Tree, Array | None]:
        grads = {}
        if wants[0]:
            grads["weight"] = linear_weight_grad(g, x)
            if self.bias:
                grads["bias"] = linear_bias_grad(g)
        return grads, (g @ params["weight"] if wants[1] else None)


class UnbiasedLinear(Linear):
    """``Linear(..., bias=False)``: ``y = x @ weight.T``. A class of its own so that the
    bias is the literal None in the call, which the rules then drop."""

    def __call__(self, params: Tree, x: Array) -> Array:
        return F.linear(x, params["weight"], None)


class Conv2d(Module):
    """2-D convolution over NCHW input; ``weight`` ``(out, in / groups, kh, kw)``, ``bias``
    ``(out,)``, both drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's default).
    ``groups`` splits the channels into groups convolved separately (``groups=in_channels``:
    depthwise)."""

    has_params = True

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: IntPair, stride: IntPair = 1,
        padding: IntPair = 0, dilation: IntPair = 1, groups: int = 1, bias: bool = True,
    ) -> None:  # fmt: skip
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"Conv2d: in_channels ({in_channels}) and out_channels ({out_channels}) must "
                f"be divisible by groups ({groups})"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = F.pair(kernel_size)
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.groups, self.bias = groups, bias

    def init(
        self, rng: np.random.Generator | int | None = None, dtype: DTypeLike = np.float64
    ) -> Tree:
        rng = np.random.default_rng() if rng is None else rng
        kh, kw = self.kernel_size
        per_group = self.in_channels // self.groups
        bound = 1.0 / math.sqrt(per_group * kh * kw)
        shape = (self.out_channels, per_group, kh, kw)
        params = {"weight": _uniform(rng, bound, shape, dtype)}
        if self.bias:
            params["bias"] = _uniform(rng, bound, (self.out_channels,), dtype)
        return params

    def __new__(cls, *args, bias=True, **kwargs):
        return super().__new__(cls if bias else UnbiasedConv2d)

    def __call__(self, params: Tree, x: Array) -> Array:
        w, b = params["weight"], params["bias"]
        return F.conv2d(x, w, b, self.stride, self.padding, self.dilation, self.groups)

    def forward_with_residuals(self, params: Tree, x: Array) -> tuple[Array, Any]:
        """The output, and the im2col matrix of ``x`` that made it, which the weight
        gradient reuses."""
        w = params["weight"]
        b = params["bias"] if self.bias else None
        geometry = _pairs(self.stride, self.padding, self.dilation)
        cols = conv2d_columns(x, w.shape[2:], *geometry)
        size = output_size2d(x.shape[2:], w.shape[2:], *geometry)
        out = conv2d_from_columns(cols, w, b, x.shape[0], size, self.groups, channels_first=True)
        return out, cols

    def backward_from_residuals(
        self, params: Tree, x: Array, out: Array, residuals: Any, g: Array, wants: tuple[bool, ...]
    ) -> tuple[Tree, Array | None]:
        w = params["weight"]
        geometry = _pairs(self.stride, self.padding, self.dilation)
        rows = output_rows(g)  # (O, N * Ho * Wo), for both GEMMs
        grads = {}
        if wants[0]:
            grads["weight"] = weight_grad_from_columns(rows, residuals, w.shape, self.groups)
            if self.bias:
                grads["bias"] = bias_grad_from_rows(rows)
        dx = None
        if wants[1]:
            dx = input_grad_from_rows(rows, w, x.shape, *geometry, self.groups)
        return grads, dx


class UnbiasedConv2d(Conv2d):
    """``Conv2d(..., bias=False)``: the bias is the literal None in the call."""

    def __call__(self, params: Tree, x: Array) -> Array:
        return F.conv2d(
            x, params["weight"], None, self.stride, self.padding, self.dilation, self.groups
        )


class MaxPool2d(Module):
    """Max pooling over NCHW input (``stride`` defaults to ``kernel_size``; ``ceil_mode``
    keeps the last, partial windows). ``return_indices`` is not supported."""

    def __init__(
        self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0,
        dilation: IntPair = 1, return_indices: bool = False, ceil_mode: bool = False,
    ) -> None:  # fmt: skip
        if return_indices:
            raise NotImplementedError("MaxPool2d(return_indices=True) is not supported")
        self.kernel_size, self.stride = kernel_size, stride
        self.padding, self.dilation, self.ceil_mode = padding, dilation, bool(ceil_mode)

    def __call__(self, x: Array) -> Array:
        k, s, p = self.kernel_size, self.stride, self.padding
        return F.max_pool2d(x, k, s, p, self.dilation, self.ceil_mode)

    @property
    def geometry(self) -> tuple:
        """``(kernel_size, stride, padding, dilation, ceil_mode)``."""
        return (self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)

    def forward_with_residuals(self, params: Tree, x: Array) -> tuple[Array, Any]:
        """The output and the positions of the window maxima, for the backward."""
        return max_pool2d_with_argmax(x, *self.geometry)

    def backward_from_residuals(
        self, params: Tree, x: Array, out: Array, residuals: Any, g: Array, wants: tuple[bool, ...]
    ) -> tuple[Tree, Array | None]:
        if not wants[1]:
            return {}, None
        return {}, max_pool2d_scatter(g, residuals, x.shape, *self.geometry)


class AvgPool2d(Module):
    """Average pooling over NCHW input: zero padding counted in the mean with
    ``count_include_pad`` (PyTorch's default), not otherwise; ``ceil_mode`` keeps the last,
    partial windows (never counting what they reach beyond the padding).
    ``divisor_override`` is not supported."""

    def __init__(
        self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0,
        ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: None = None,
    ) -> None:  # fmt: skip
        if divisor_override is not None:
            raise NotImplementedError("AvgPool2d(divisor_override=...) is not supported")
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)

    def __call__(self, x: Array) -> Array:
        k, s, p = self.kernel_size, self.stride, self.padding
        return F.avg_pool2d(x, k, s, p, self.ceil_mode, self.count_include_pad)

    def backward_from_residuals(
        self, params: Tree, x: Array, out: Array, residuals: Any, g: Array, wants: tuple[bool, ...]
    ) -> tuple[Tree, Array | None]:
        if not wants[1]:
            return {}, None
        k, s, p = self.kernel_size, self.stride, self.padding
        return {}, avg_pool2d_grad(g, x.shape, k, s, p, self.ceil_mode, self.count_include_pad)


class ReLU(Module):
    """``max(x, 0)`` (gradient 0 at 0)."""

    def __call__(self, x: Array) -> Array:
        return F.relu(x)

    def fused_with(self, following: Module):
        """A ReLU followed by a MaxPool2d (both exactly these classes) runs as one
        (:class:`ReLUMaxPool`)."""
        if type(self) is ReLU and type(following) is MaxPool2d:
            return ReLUMaxPool(following)
        return None

    def backward_from_residuals(
        self, params: Tree, x: Array, out: Array, residuals: Any, g: Array, wants: tuple[bool, ...]
    ) -> tuple[Tree, Array | None]:
        if not wants[1]:
            return {}, None
        xp = F.array_module(g, x)
        dx = xp.greater(x, 0, out=_mask_like(xp, x, g))  # 1.0 or 0.0: no mask to cast
        dx *= g
        return {}, dx


class ReLUMaxPool:
    """``MaxPool2d`` of ``ReLU``, run as ``relu(max_pool(x))`` (equal, as ``max(x, 0)``
    is monotone): the ReLU on the pooled values only, and in the backward the ReLU's mask
    read on them (``relu(m) > 0`` exactly where ``m > 0``) before the pool's scatter."""

    def __init__(self, pool: MaxPool2d) -> None:
        self.pool = pool

    def forward_with_residuals(self, x: Array) -> tuple[Array, Any]:
        pooled, where = max_pool2d_with_argmax(x, *self.pool.geometry)
        return F.array_module(pooled).maximum(pooled, 0, out=pooled), where

    def backward_from_residuals(self, x: Array, out: Array, residuals: Any, g: Array) -> Array:
        xp = F.array_module(g, out)
        masked = xp.greater(out, 0, out=_mask_like(xp, out, g))
        masked *= g
        return max_pool2d_scatter(masked, residuals, x.shape, *self.pool.geometry)


class Tanh(Module):
    """The hyperbolic tangent."""

    def __call__(self, x: Array) -> Array:
        return F.tanh(x)

    def backward_from_residuals(
        self, params: Tree, x: Array, out: Array, residuals: Any, g: Array, wants: tuple[bool, ...]
    ) -> tuple[Tree, Array | None]:
        return {}, (g * (1.0 - out * out) if wants[1] else None)


class Sigmoid(Module):
    """The logistic function."""

    def __call__(self, x: Array) -> Array:
        return F.sigmoid(x)

    def backward_from_residuals(
        self, params: Tree, x: Array, out: Array, residuals: Any, g: Array, wants: tuple[bool, ...]
    ) -> tuple[Tree, Array | None]:
        return {}, (g * (out * (1.0 - out)) if wants[1] else None)


class GELU(Module):
    """GELU, exact (``approximate="none"``) or its tanh approximation."""

    def __init__(self, approximate: str = "none") -> None:
        self.approximate = approximate

    def __call__(self, x: Array) -> Array:
        if self.approximate == "tanh":  # a constant for each call: the rules branch on it
            return F.gelu(x, "tanh")
        return F.gelu(x, "none")


class SoftMax(Module):
    """Softmax along ``dim``."""

    def __init__(self, dim: int = -1) -> None:
        self.dim = dim

    def __call__(self, x: Array) -> Array:
        return F.softmax(x, self.dim)


class LogSoftMax(Module):
    """Log-softmax along ``dim``."""

    def __init__(self, dim: int = -1) -> None:
        self.dim = dim

    def __call__(self, x: Array) -> Array:
        return F.log_softmax(x, self.dim)


Softmax = SoftMax
LogSoftmax = LogSoftMax


class Dropout(Module):
    """Inverted dropout with probability ``p``.

    State: the mask is drawn from ``generator`` (an explicit ``numpy.random.Generator``;
    ``None`` makes an unseeded one) once per call of the loss or of its derivative, and is a
    constant for differentiation, so the gradient uses the forward pass's own mask. In eval
    mode (``layer.eval()``) the layer is the identity. ``sg.gradcheck`` of a loss with
    dropout in training mode needs the same mask on every call: build the generator inside the
    loss from a fixed seed, or check in eval mode.
    """

    def __init__(self, p: float = 0.5, generator: np.random.Generator | None = None) -> None:
        self.p = p
        self.generator = np.random.default_rng() if generator is None else generator

    def __call__(self, x: Array) -> Array:
        if not self.training or self.p == 0.0:
            return x
        return x * F.dropout_mask(x, self.p, self.generator)

    def forward_with_residuals(self, params: Tree, x: Array) -> tuple[Array, Any]:
        """The output and the mask it used (None in eval mode)."""
        if not self.training or self.p == 0.0:
            return x, None
        mask = F.dropout_mask(x, self.p, self.generator)
        return x * mask, mask

    def backward_from_residuals(
        self, params: Tree, x: Array, out: Array, residuals: Any, g: Array, wants: tuple[bool, ...]
    ) -> tuple[Tree, Array | None]:
        if not wants[1]:
            return {}, None
        return {}, (g if residuals is None else g * residuals)


class _BatchNorm(Module):
    """Batch normalization over the channel axis 1; ``weight`` ones, ``bias`` zeros.

    State: ``running_mean`` and ``running_var`` are arrays held by the layer, not in
    ``params``, and never differentiated. In train mode a call normalises with the batch's
    statistics and *records* them (``pending``: set, not accumulated, so the extra
    evaluations a derivative makes change nothing); :meth:`update_running_stats` then applies
    the recorded batch once (PyTorch's ``momentum`` rule, unbiased variance). Call it once
    per training step, outside the differentiated function (``sourcegrad.nn.
    update_running_stats(model)`` walks a model; :meth:`Module.backward` does it itself). In
    eval mode the running statistics are used. ``init(rng, dtype)`` resets them in ``dtype``.
    With ``track_running_stats=False`` batch statistics are used in both modes.
    """

    has_params = True

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ) -> None:
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.pending = {}
        self.reset_running_stats()

    def reset_running_stats(self, dtype: DTypeLike = np.float64) -> None:
        """Running mean 0 and variance 1 (none without ``track_running_stats``); forgets a
        recorded batch."""
        self.running_mean = self.running_var = None
        self.pending.clear()
        if self.track_running_stats:
            self.running_mean = np.zeros(self.num_features, dtype)
            self.running_var = np.ones(self.num_features, dtype)

    def update_running_stats(self) -> Module:
        """Blend the batch recorded by the last train-mode call into the running statistics
        (once: the record is then cleared). Returns the layer."""
        if self.pending and self.running_mean is not None:
            p = self.pending
            # the statistics follow the data: a model trained on CuPy arrays keeps them there
            self.running_mean = to_module_of(self.running_mean, p["mean"])
            self.running_var = to_module_of(self.running_var, p["mean"])
            F.blend_running_stats(
                self.running_mean, self.running_var, p["mean"], p["var"], self.momentum
            )
        self.pending.clear()
        return self

    @property
    def uses_batch_stats(self):
        """Whether the forward pass normalises with the batch's own statistics."""
        return self.training or self.running_mean is None

    @property
    def record(self):
        """Where a train-mode call records its batch statistics (None when not tracked)."""
        return self.pending if self.running_mean is not None else None

    def init(
        self, rng: np.random.Generator | int | None = None, dtype: DTypeLike = np.float64
    ) -> Tree:
        self.reset_running_stats(dtype)
        if not self.affine:
            return {}
        return {
            "weight": np.ones(self.num_features, dtype),
            "bias": np.zeros(self.num_features, dtype),
        }

    def __call__(self, params: Tree, x: Array) -> Array:
        mean, var, record = self.running_mean, self.running_var, self.record
        # the mode, and None for absent parameters, are literals in each call: the forward
        # rules cannot branch on values known only when the derivative runs
        if self.affine and self.uses_batch_stats:
            w, b = params.get("weight"), params.get("bias")
            return F.batch_norm(x, mean, var, w, b, True, self.momentum, self.eps, record)
        if self.affine:
            w, b = params.get("weight"), params.get("bias")
            return F.batch_norm(x, mean, var, w, b, False, self.momentum, self.eps, record)
        if self.uses_batch_stats:
            return F.batch_norm(x, mean, var, None, None, True, self.momentum, self.eps, record)
        return F.batch_norm(x, mean, var, None, None, False, self.momentum, self.eps, record)


class BatchNorm1d(_BatchNorm):
    """Batch normalization of ``(N, C)`` or ``(N, C, L)`` input (see the base class for the
    running statistics)."""


class BatchNorm2d(_BatchNorm):
    """Batch normalization of ``(N, C, H, W)`` input (see the base class for the running
    statistics)."""


class LayerNorm(Module):
    """Layer normalization over the trailing ``normalized_shape`` axes; ``weight`` ones and
    ``bias`` zeros of that shape."""

    has_params = True

    def __init__(
        self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True
    ) -> None:
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine

    def init(
        self, rng: np.random.Generator | int | None = None, dtype: DTypeLike = np.float64
    ) -> Tree:
        if not self.elementwise_affine:
            return {}
        return {
            "weight": np.ones(self.normalized_shape, dtype),
            "bias": np.zeros(self.normalized_shape, dtype),
        }

    def __call__(self, params: Tree, x: Array) -> Array:
        if self.elementwise_affine:
            w, b = params.get("weight"), params.get("bias")
            return F.layer_norm(x, self.normalized_shape, w, b, self.eps)
        return F.layer_norm(x, self.normalized_shape, None, None, self.eps)


class Embedding(Module):
    """Rows of ``weight`` ``(num_embeddings, embedding_dim)``, drawn from N(0, 1), at integer
    indices."""

    has_params = True

    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim

    def init(
        self, rng: np.random.Generator | int | None = None, dtype: DTypeLike = np.float64
    ) -> Tree:
        rng = np.random.default_rng() if rng is None else rng
        shape = (self.num_embeddings, self.embedding_dim)
        return {"weight": rng.standard_normal(shape).astype(dtype)}

    def __call__(self, params: Tree, indices: Array) -> Array:
        return F.embedding(indices, params["weight"])


class Flatten(Module):
    """Axes ``start_dim..end_dim`` merged into one."""

    def __init__(self, start_dim: int = 1, end_dim=-1) -> None:
        self.start_dim, self.end_dim = start_dim, end_dim

    def __call__(self, x: Array) -> Array:
        return F.flatten(x, self.start_dim, self.end_dim)

    def backward_from_residuals(
        self, params: Tree, x: Array, out: Array, residuals: Any, g: Array, wants: tuple[bool, ...]
    ) -> tuple[Tree, Array | None]:
        return {}, (g.reshape(x.shape) if wants[1] else None)


class Reshape(Module):
    """Each sample reshaped to ``shape``: ``(N, ...)`` to ``(N,) + shape``."""

    def __init__(self, *shape) -> None:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        # not named `shape`: sourcegrad would take an object with a `shape` for an array
        self.sample_shape = tuple(shape)

    def __call__(self, x: Array) -> Array:
        return F.reshape(x, (x.shape[0],) + self.sample_shape)

    def backward_from_residuals(
        self, params: Tree, x: Array, out: Array, residuals: Any, g: Array, wants: tuple[bool, ...]
    ) -> tuple[Tree, Array | None]:
        return {}, (g.reshape(x.shape) if wants[1] else None)
