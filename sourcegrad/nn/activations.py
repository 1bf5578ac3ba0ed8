"""Activations as primitives: ``relu``, ``tanh``, ``sigmoid``, ``gelu``, ``softmax``,
``log_softmax``, the error function ``erf``; and ``dropout``.

The rules are NumPy expressions over these primitives, inlined into the derivative, so
sourcegrad differentiates them again at higher orders (``relu`` has zero second derivative;
the others are smooth).
"""

from __future__ import annotations

import math

import numpy as np

from ..rules import defjvp, defvjp, nondifferentiable, primitive
from ..rules.facts import declare, first_operand_rank, first_operand_shape
from ..rules.registry import d
from ..util import functions
from ..util.tree import Array
from .backend import array_module, erf_values

__all__ = [
    "relu",
    "tanh",
    "sigmoid",
    "erf",
    "gelu",
    "softmax",
    "log_softmax",
    "dropout",
    "dropout_mask",
]

SQRT_HALF = math.sqrt(0.5)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_CUBIC = 0.044715


@primitive
def relu(x: Array) -> Array:
    """``max(x, 0)``; its gradient at 0 is 0, as PyTorch's."""
    return array_module(x).maximum(x, 0)


def _relu_rule(z, x):
    d[x] += d[z] * (x > 0)


def _relu_tangent(z, x):
    d[z] += d[x] * (x > 0)


@primitive
def tanh(x: Array) -> Array:
    """The hyperbolic tangent."""
    return array_module(x).tanh(x)


def _tanh_rule(z, x):
    d[x] += d[z] * (1.0 - z * z)


def _tanh_tangent(z, x):
    d[z] += d[x] * (1.0 - z * z)


@primitive
def sigmoid(x: Array) -> Array:
    """The logistic function ``1 / (1 + exp(-x))``, without overflow for large ``|x|``:
    :func:`sourcegrad.util.sigmoid`, the one implementation of it."""
    return functions.sigmoid(x)


def _sigmoid_rule(z, x):
    d[x] += d[z] * (z * (1.0 - z))


def _sigmoid_tangent(z, x):
    d[z] += d[x] * (z * (1.0 - z))


@primitive
def erf(x: Array) -> Array:
    """The error function, elementwise (scipy's when installed, else ``math.erf``)."""
    return erf_values(x)


def _erf_rule(z, x):
    d[x] += d[z] * (TWO_OVER_SQRT_PI * np.exp(-(x * x)))


def _erf_tangent(z, x):
    d[z] += d[x] * (TWO_OVER_SQRT_PI * np.exp(-(x * x)))


@primitive
def gelu(x: Array, approximate: str = "none") -> Array:
    """PyTorch's GELU: ``x * Phi(x)`` (``approximate="none"``), or its tanh approximation
    ``0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))`` (``approximate="tanh"``)."""
    xp = array_module(x)
    if approximate == "tanh":
        return 0.5 * x * (1.0 + xp.tanh(SQRT_2_OVER_PI * (x + GELU_CUBIC * (x * x * x))))
    return x * 0.5 * (1.0 + erf_values(x * SQRT_HALF))


def _gelu_rule(z, x, approximate="none"):
    if approximate == "tanh":
        x2 = x * x
        t = tanh(SQRT_2_OVER_PI * (x + GELU_CUBIC * (x2 * x)))
        slope = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * x2)
        d[x] += d[z] * (0.5 * (1.0 + t) + 0.5 * x * ((1.0 - t * t) * slope))
    else:
        phi = INV_SQRT_2PI * np.exp(-0.5 * (x * x))
        d[x] += d[z] * (0.5 * (1.0 + erf(x * SQRT_HALF)) + x * phi)


def _gelu_tangent(z, x, approximate="none"):
    if approximate == "tanh":
        x2 = x * x
        t = tanh(SQRT_2_OVER_PI * (x + GELU_CUBIC * (x2 * x)))
        slope = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * x2)
        d[z] += d[x] * (0.5 * (1.0 + t) + 0.5 * x * ((1.0 - t * t) * slope))
    else:
        phi = INV_SQRT_2PI * np.exp(-0.5 * (x * x))
        d[z] += d[x] * (0.5 * (1.0 + erf(x * SQRT_HALF)) + x * phi)


@primitive
def softmax(x: Array, dim: int = -1) -> Array:
    """``exp(x) / sum(exp(x))`` along ``dim``, computed from ``x - max(x)``:
    :func:`sourcegrad.util.softmax` with PyTorch's name for its axis (the rules below are its
    rules, written with ``dim``); the same bits, without NumPy's dispatch frames for a float
    NumPy array."""
    if type(x) is not np.ndarray or x.dtype.kind != "f":
        return functions.softmax(x, dim)
    shift = np.maximum.reduce(x, axis=dim, keepdims=True)
    finite = np.isfinite(shift)
    if not np.logical_and.reduce(finite, axis=None):  # as functions.max_shift
        shift = np.where(finite, shift, 0.0)
    e = np.subtract(x, shift)
    np.exp(e, out=e)
    e /= np.add.reduce(e, axis=dim, keepdims=True)
    return e


def _softmax_rule(z, x, dim=-1):
    d[x] += z * (d[z] - np.sum(d[z] * z, axis=dim, keepdims=True))


def _softmax_tangent(z, x, dim=-1):  # the Jacobian is symmetric
    d[z] += z * (d[x] - np.sum(d[x] * z, axis=dim, keepdims=True))


@primitive
def log_softmax(x: Array, dim: int = -1) -> Array:
    """``x - log(sum(exp(x)))`` along ``dim``, computed from ``x - max(x)``:
    :func:`sourcegrad.util.log_softmax` with PyTorch's name for its axis."""
    return functions.log_softmax(x, dim)


def _log_softmax_rule(z, x, dim=-1):
    d[x] += d[z] - np.exp(z) * np.sum(d[z], axis=dim, keepdims=True)


def _log_softmax_tangent(z, x, dim=-1):
    d[z] += d[x] - np.sum(np.exp(z) * d[x], axis=dim, keepdims=True)


for _fn, _rule, _tangent in [
    (relu, _relu_rule, _relu_tangent),
    (tanh, _tanh_rule, _tanh_tangent),
    (sigmoid, _sigmoid_rule, _sigmoid_tangent),
    (erf, _erf_rule, _erf_tangent),
    (gelu, _gelu_rule, _gelu_tangent),
    (softmax, _softmax_rule, _softmax_tangent),
    (log_softmax, _log_softmax_rule, _log_softmax_tangent),
]:
    defvjp(_fn, _rule)
    defjvp(_fn, _tangent)
declare(
    relu, tanh, sigmoid, erf, gelu, softmax, log_softmax,
    rank=first_operand_rank, shape=first_operand_shape, allocates="new", dtype="reduced",
)  # fmt: skip


def dropout_mask(x: Array, p: float, generator: np.random.Generator | None) -> Array:
    """The scaled keep-mask of inverted dropout for an array like ``x``: ``1 / (1 - p)``
    where ``generator.random`` draws at least ``p``, 0 elsewhere, in ``x``'s dtype and array
    module. A constant for differentiation: its draws are made once per call of the
    function (or derivative) that calls it."""
    if generator is None:
        raise ValueError("dropout in training mode needs an explicit numpy.random.Generator")
    if p >= 1.0:
        return array_module(x).zeros_like(x)
    keep = generator.random(x.shape) >= p
    mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))
    return array_module(x).asarray(mask)


nondifferentiable(dropout_mask)


def dropout(
    x: Array, p: float = 0.5, training: bool = True, generator: np.random.Generator | None = None
) -> Array:
    """Inverted dropout: in training mode ``x`` times :func:`dropout_mask` (drawn from
    ``generator``, an explicit ``numpy.random.Generator``), else ``x`` itself. The mask is a
    constant, so the gradient is ``g * mask`` with the forward pass's own mask. Inside a
    function sourcegrad differentiates, write ``x * dropout_mask(x, p, generator)`` (or use
    the ``Dropout`` layer): sourcegrad does not read the source of its own package's plain
    functions."""
    if not training or p == 0.0:
        return x
    return x * dropout_mask(x, p, generator)
