"""``sourcegrad.nn``: layers and criteria with hand-written gradients, PyTorch's conventions.

::

    lin = sourcegrad.nn.Linear(100, 50)
    params = lin.init(rng)                       # {"weight": (50, 100), "bias": (50,)}

    def loss(params, x, labels):
        return sourcegrad.nn.CrossEntropyLoss()(lin(params, x), labels)

    sourcegrad.grad(loss)(params, x, labels)

Each layer's call is one call of a :func:`sourcegrad.primitive` of :mod:`.functional` whose
reverse and forward rules call hand-written backward functions, themselves differentiable, so
higher orders work too.
"""

from . import functional
from .auto import AutoCriterion, AutoModule
from .convert import functionalize
from .criteria import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .layers import (
    GELU,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Embedding,
    Flatten,
    LayerNorm,
    Linear,
    LogSoftMax,
    LogSoftmax,
    MaxPool2d,
    ReLU,
    Reshape,
    Sigmoid,
    SoftMax,
    Softmax,
    Tanh,
)
from .modules import Module, Sequential, update_running_stats
from .torch_bridge import TorchFunction

__all__ = [
    "functional",
    "Module",
    "Sequential",
    "functionalize",
    "TorchFunction",
    "AutoModule",
    "AutoCriterion",
    "update_running_stats",
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
    "MSELoss",
    "CrossEntropyLoss",
    "NLLLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
]
