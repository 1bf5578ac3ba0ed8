"""Criteria as primitives: ``mse_loss``, ``nll_loss``, ``cross_entropy``, ``bce_loss``,
``bce_with_logits_loss``, each with ``reduction`` ``"mean"`` (default), ``"sum"`` or
``"none"``, as PyTorch.

An elementwise criterion ``reduce(l(input, target))`` has the gradient ``scale * dl/dinput``
(``scale`` is the output adjoint, divided by the number of elements for ``"mean"``) and the
tangent ``reduce(dl/dinput * t)``. The reverse rules are NumPy expressions, differentiated
again at higher orders; the forward rules call :func:`reduce_loss`, so that ``reduction`` may
be a value known only when the derivative runs (a criterion's attribute). ``nll_loss`` is linear in its input, and bilinear in input and target for
probability targets; its adjoint ``nll_loss_grad`` is linear too, so the pair is closed
under differentiation. ``cross_entropy`` is ``nll_loss(log_softmax(input, 1), target)``.
"""

from __future__ import annotations

import numpy as np

from ..rules import defjvp, defvjp, primitive
from ..rules.registry import d
from .activations import log_softmax, sigmoid, softmax
from .backend import array_module

__all__ = [
    "reduce_loss",
    "mse_loss",
    "nll_loss",
    "nll_loss_grad",
    "cross_entropy",
    "bce_loss",
    "bce_with_logits_loss",
]

LOG_FLOOR = -100.0  # PyTorch clamps the logarithms of binary cross-entropy at -100
BCE_EPS = 1e-12  # and the denominator of its gradient at 1e-12


def reduce_loss(loss, reduction):
    """``loss`` (elementwise) reduced as ``reduction`` says."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


@primitive
def mse_loss(input, target, reduction="mean"):
    """The squared error ``(input - target) ** 2``, reduced."""
    diff = input - target
    return reduce_loss(diff * diff, reduction)


def _mse_adjoint(z, input, target, reduction="mean"):
    scale = d[z] / input.size if reduction == "mean" else d[z]
    d[input] += scale * (2.0 * (input - target))
    d[target] += scale * (2.0 * (target - input))


def _mse_tangent(z, input, target, reduction="mean"):
    d[z] += reduce_loss(2.0 * (input - target) * d[input], reduction)
    d[z] += reduce_loss(2.0 * (target - input) * d[target], reduction)


defvjp(mse_loss, _mse_adjoint)
defjvp(mse_loss, _mse_tangent)


def _is_index(target) -> bool:
    return array_module(target).issubdtype(target.dtype, np.integer)


@primitive
def nll_loss(input, target, reduction="mean"):
    """The negative log-likelihood of ``input`` (log-probabilities, classes on axis 1) at the
    integer class indices ``target``, or ``-sum(target * input, axis=1)`` for probability
    targets of ``input``'s shape; reduced (``"mean"`` divides by the number of samples)."""
    xp = array_module(input)
    if _is_index(target):
        picked = xp.take_along_axis(input, xp.expand_dims(target, 1), axis=1)
        per_sample = -picked.squeeze(1)
    else:
        per_sample = -(target * input).sum(axis=1)
    return reduce_loss(per_sample, reduction)


@primitive
def nll_loss_grad(g, input, target, reduction="mean"):
    """The gradient of ``nll_loss`` with respect to ``input`` for the output adjoint ``g``
    (``input`` gives only the shape and dtype): linear in ``g``, and in ``target`` for
    probability targets."""
    xp = array_module(g, input)
    samples = input.size // input.shape[1]
    scale = xp.asarray(g / samples if reduction == "mean" else g, xp.result_type(g, input))
    per_sample = xp.broadcast_to(scale, input.shape[:1] + input.shape[2:])
    if _is_index(target):
        classes = xp.arange(input.shape[1]).reshape((1, -1) + (1,) * (input.ndim - 2))
        target = xp.expand_dims(target, 1) == classes  # one-hot
    return -xp.expand_dims(per_sample, 1) * target


def _nll_adjoint(z, input, target, reduction="mean"):
    d[input] += nll_loss_grad(d[z], input, target, reduction)
    d[target] += nll_loss_grad(d[z], target, input, reduction)


def _nll_tangent(z, input, target, reduction="mean"):
    d[z] += nll_loss(d[input], target, reduction)
    d[z] += nll_loss(input, d[target], reduction)


def _nll_grad_adjoint(z, g, input, target, reduction="mean"):
    d[g] += nll_loss(d[z], target, reduction)
    d[target] += nll_loss_grad(g, input, d[z], reduction)


def _nll_grad_tangent(z, g, input, target, reduction="mean"):
    d[z] += nll_loss_grad(d[g], input, target, reduction)
    d[z] += nll_loss_grad(g, input, d[target], reduction)


defvjp(nll_loss, _nll_adjoint)
defjvp(nll_loss, _nll_tangent)
defvjp(nll_loss_grad, _nll_grad_adjoint)
defjvp(nll_loss_grad, _nll_grad_tangent)


@primitive
def cross_entropy(input, target, reduction="mean"):
    """PyTorch's ``cross_entropy``: ``nll_loss(log_softmax(input, 1), target)``, with integer
    class indices or class probabilities as ``target``."""
    return nll_loss(log_softmax(input, 1), target, reduction)


def _cross_entropy_adjoint(z, input, target, reduction="mean"):
    grad = nll_loss_grad(d[z], input, target, reduction)  # then back through log_softmax
    d[input] += grad - softmax(input, 1) * np.sum(grad, axis=1, keepdims=True)
    d[target] += nll_loss_grad(d[z], target, log_softmax(input, 1), reduction)


def _cross_entropy_tangent(z, input, target, reduction="mean"):
    p = softmax(input, 1)
    d[z] += nll_loss(d[input] - np.sum(p * d[input], axis=1, keepdims=True), target, reduction)
    d[z] += nll_loss(log_softmax(input, 1), d[target], reduction)


defvjp(cross_entropy, _cross_entropy_adjoint)
defjvp(cross_entropy, _cross_entropy_tangent)


def _bce_logs(input):
    xp = array_module(input)
    return xp.maximum(xp.log(input), LOG_FLOOR), xp.maximum(xp.log(1.0 - input), LOG_FLOOR)


@primitive
def bce_loss(input, target, reduction="mean"):
    """Binary cross-entropy of probabilities ``input`` against ``target`` (logarithms clamped
    at -100 and the gradient's denominator at 1e-12, as PyTorch)."""
    log_p, log_q = _bce_logs(input)
    return reduce_loss(-(target * log_p + (1.0 - target) * log_q), reduction)


def _bce_adjoint(z, input, target, reduction="mean"):
    scale = d[z] / input.size if reduction == "mean" else d[z]
    denominator = np.maximum(input * (1.0 - input), BCE_EPS)
    d[input] += scale * ((input - target) / denominator)
    log_ratio = np.maximum(np.log(1.0 - input), LOG_FLOOR) - np.maximum(np.log(input), LOG_FLOOR)
    d[target] += scale * log_ratio


def _bce_tangent(z, input, target, reduction="mean"):
    slope = (input - target) / np.maximum(input * (1.0 - input), BCE_EPS)
    log_ratio = np.maximum(np.log(1.0 - input), LOG_FLOOR) - np.maximum(np.log(input), LOG_FLOOR)
    d[z] += reduce_loss(slope * d[input], reduction)
    d[z] += reduce_loss(log_ratio * d[target], reduction)


defvjp(bce_loss, _bce_adjoint)
defjvp(bce_loss, _bce_tangent)


@primitive
def bce_with_logits_loss(input, target, reduction="mean"):
    """Binary cross-entropy of ``sigmoid(input)`` against ``target``, computed stably as
    ``(1 - target) * input + log(1 + exp(-input))``."""
    xp = array_module(input)
    return reduce_loss((1.0 - target) * input + xp.logaddexp(0.0, -input), reduction)


def _bce_logits_adjoint(z, input, target, reduction="mean"):
    scale = d[z] / input.size if reduction == "mean" else d[z]
    d[input] += scale * (sigmoid(input) - target)
    d[target] += scale * -input


def _bce_logits_tangent(z, input, target, reduction="mean"):
    slope = sigmoid(input) - target
    d[z] += reduce_loss(slope * d[input], reduction)
    d[z] += reduce_loss(-input * d[target], reduction)


defvjp(bce_with_logits_loss, _bce_logits_adjoint)
defjvp(bce_with_logits_loss, _bce_logits_tangent)
