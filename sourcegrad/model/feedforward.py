"""Feed-forward models: :func:`NeuralNetwork` (an MLP) and :func:`SpatialNetwork`
(convolutions and max-pooling over NCHW images, with an optional MLP head).

Each constructor returns ``(f, params)``: ``f`` is a :class:`sourcegrad.nn.Module` whose
``f(params, x)`` is plain code over :mod:`sourcegrad.nn` layers, which ``sourcegrad.grad``
differentiates from its source; ``params`` holds one ``{"weight", "bias"}`` dict per layer,
initialised as PyTorch initialises ``nn.Linear`` / ``nn.Conv2d``. Dropout is on in train mode
(the default) and off after ``f.eval()``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import DTypeLike

from .. import nn
from ..nn import functional as F
from ..util.tree import Array, Tree
from .options import activation_layer, generator, per_layer

__all__ = ["MLP", "ConvNet", "NeuralNetwork", "SpatialNetwork"]


class MLP(nn.Module):
    """Linear layers of the given sizes, each followed by an activation (not the last one
    in a classifier), each input dropped with its layer's probability in train mode."""

    has_params = True

    def __init__(self, sizes, activation, classifier, dropout_probs, dropout_generator) -> None:
        self.layers = [nn.Linear(m, n) for m, n in zip(sizes[:-1], sizes[1:])]
        self.activation = activation_layer(activation)
        self.classifier = classifier
        self.dropout_probs = per_layer(dropout_probs, len(self.layers), "dropout_probs", 0.0)
        self.masks = generator(dropout_generator)
        self.last = len(self.layers) - 1

    def init(
        self, rng: np.random.Generator | int | None = None, dtype: DTypeLike = np.float64
    ) -> Tree:
        rng = generator(rng)
        return [layer.init(rng, dtype) for layer in self.layers]

    def __call__(self, params: Tree, x: Array) -> Array:
        for i, layer in enumerate(self.layers):
            if self.training and self.dropout_probs[i] > 0.0:
                x = x * F.dropout_mask(x, self.dropout_probs[i], self.masks)
            x = layer(params[i], x)
            if i < self.last or not self.classifier:
                x = self.activation(x)
        return x


class ConvNet(nn.Module):
    """Conv2d layers (stride 1, "same" zero padding for odd kernels), each followed by the
    activation and a max-pool (none where its size is 1), then an optional :class:`MLP` head
    on the flattened maps."""

    has_params = True

    def __init__(
        self,
        channels,
        kernel_size: int | tuple[int, int],
        poolings,
        activation,
        dropout_probs,
        masks,
        head,
    ) -> None:
        n = len(channels) - 1
        pad = kernel_size // 2
        self.convs = [
            nn.Conv2d(a, b, kernel_size, padding=pad) for a, b in zip(channels[:-1], channels[1:])
        ]
        sizes = per_layer(poolings, n, "poolings", 1)
        self.pools = [nn.MaxPool2d(k) if k > 1 else None for k in sizes]
        self.activation = activation_layer(activation)
        self.dropout_probs = per_layer(dropout_probs, n, "dropout_probs", 0.0)
        self.masks = masks
        self.head = head

    def init(
        self, rng: np.random.Generator | int | None = None, dtype: DTypeLike = np.float64
    ) -> Tree:
        rng = generator(rng)
        conv = [layer.init(rng, dtype) for layer in self.convs]
        return {"conv": conv, "head": [] if self.head is None else self.head.init(rng, dtype)}

    def train(self, mode: bool = True) -> nn.Module:
        if self.head is not None:
            self.head.train(mode)
        return super().train(mode)

    def __call__(self, params: Tree, x: Array) -> Array:
        for i, conv in enumerate(self.convs):
            if self.training and self.dropout_probs[i] > 0.0:
                x = x * F.dropout_mask(x, self.dropout_probs[i], self.masks)
            x = self.activation(conv(params["conv"][i], x))
            if self.pools[i] is not None:
                x = self.pools[i](x)
        if self.head is None:
            return x
        return self.head(params["head"], x.reshape(x.shape[0], -1))


def NeuralNetwork(  # noqa: N802 - the seed's name for a model constructor
    input_features: int = 10,
    hidden_features: Sequence[int] = (100, 2),
    activations: str | Callable = "ReLU",
    classifier: bool = False,
    dropout_probs: float | Sequence[float] | None = None,
    *,
    rng: np.random.Generator | int | None = None,
    dtype: DTypeLike = np.float64,
    dropout_generator: np.random.Generator | int | None = None,
) -> tuple[MLP, Tree]:
    """``(f, params)`` of a multilayer perceptron (an :class:`MLP`).

    ``hidden_features`` lists each layer's output size (the last is the network's output);
    every layer is an ``nn.Linear`` followed by ``activations`` (a name, ``"ReLU"``,
    ``"Tanh"``, ``"Sigmoid"``, ``"GELU"``, or a callable), except the last one when
    ``classifier`` is true (its output then feeds a loss). ``dropout_probs[i]`` (a number for
    every layer, or a list, missing entries 0) drops the input of layer ``i`` in train mode,
    with masks drawn from ``dropout_generator`` (a generator or seed).

    ``f(params, x)`` maps ``x`` ``(..., input_features)`` to ``(..., hidden_features[-1])``.
    ``params`` is a list of ``{"weight": (out, in), "bias": (out,)}`` drawn from ``rng`` (a
    generator or seed) in ``dtype``.
    """
    sizes = [input_features, *hidden_features]
    f = MLP(sizes, activations, classifier, dropout_probs, dropout_generator)
    f.params = f.init(rng, dtype)  # held too: f.forward and f.backward use them
    return f, f.params


def SpatialNetwork(  # noqa: N802 - the seed's name for a model constructor
    input_features: int = 3,
    hidden_features: Sequence[int] = (16, 32),
    poolings: int | Sequence[int] = (2, 2),
    activations: str | Callable = "Sigmoid",
    kernel_size: int | tuple[int, int] = 3,
    dropout_probs: float | Sequence[float] | None = None,
    *,
    input_size: tuple[int, int] | None = None,
    head_features: Sequence[int] = (),
    classifier: bool = True,
    rng: np.random.Generator | int | None = None,
    dtype: DTypeLike = np.float64,
    dropout_generator: np.random.Generator | int | None = None,
) -> tuple[ConvNet, Tree]:
    """``(f, params)`` of a convolutional network over NCHW images (a :class:`ConvNet`).

    Layer ``i`` is an ``nn.Conv2d`` to ``hidden_features[i]`` channels (``kernel_size``
    square, stride 1, zero padding ``kernel_size // 2``: the seed's "same" size for odd
    kernels), ``activations``, then a ``poolings[i]`` max-pool (1 or missing: none); its input
    is dropped with ``dropout_probs[i]`` in train mode, as in :func:`NeuralNetwork`.

    Without ``head_features``, ``f(params, x)`` returns the last feature maps. With them, the
    maps are flattened and fed to an MLP with those sizes (``classifier`` as in
    :func:`NeuralNetwork`); its input size needs the images' ``input_size`` ``(H, W)``.

    ``params`` is ``{"conv": [one {"weight", "bias"} per conv layer], "head": [the MLP's
    layers; none without a head]}``.
    """
    channels = [input_features, *hidden_features]
    masks = generator(dropout_generator)
    head = None
    if head_features:
        flat = flat_size(channels[-1], input_size, kernel_size, poolings, len(hidden_features))
        head = MLP([flat, *head_features], activations, classifier, None, masks)
    f = ConvNet(channels, kernel_size, poolings, activations, dropout_probs, masks, head)
    f.params = f.init(rng, dtype)  # held too: f.forward and f.backward use them
    return f, f.params


def flat_size(channels, input_size, kernel_size: int | tuple[int, int], poolings, n):
    """The number of features per image after ``n`` conv layers of ``kernel_size`` ("same"
    padding) and their max-pools, for images of ``input_size`` ``(H, W)``."""
    if input_size is None:
        raise ValueError("SpatialNetwork: a head needs input_size=(height, width)")
    height, width = input_size
    pad = kernel_size // 2
    for pool in per_layer(poolings, n, "poolings", 1):
        height = (height + 2 * pad - kernel_size + 1) // pool
        width = (width + 2 * pad - kernel_size + 1) // pool
    return channels * height * width
