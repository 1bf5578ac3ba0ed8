"""``sourcegrad.nn.functional``: every layer and criterion as a function (PyTorch's
``torch.nn.functional`` names and conventions), each a primitive with hand-written reverse and
forward rules, gathered from the modules of each family."""

from __future__ import annotations

from .activations import (
    dropout,
    dropout_mask,
    erf,
    gelu,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    tanh,
)
from .backend import array_module, pair
from .conv import conv2d, conv2d_input_grad, conv2d_weight_grad
from .linear import embedding, flatten, linear, reshape
from .losses import (
    bce_loss,
    bce_with_logits_loss,
    cross_entropy,
    mse_loss,
    nll_loss,
)
from .normalization import batch_norm, blend_running_stats, layer_norm
from .pooling import avg_pool2d, max_pool2d
from .recurrent import lstm

__all__ = [
    "array_module",
    "pair",
    "linear",
    "embedding",
    "flatten",
    "reshape",
    "lstm",
    "conv2d",
    "conv2d_input_grad",
    "conv2d_weight_grad",
    "max_pool2d",
    "avg_pool2d",
    "relu",
    "tanh",
    "sigmoid",
    "erf",
    "gelu",
    "softmax",
    "log_softmax",
    "dropout",
    "dropout_mask",
    "batch_norm",
    "blend_running_stats",
    "layer_norm",
    "mse_loss",
    "nll_loss",
    "cross_entropy",
    "bce_loss",
    "bce_with_logits_loss",
]
