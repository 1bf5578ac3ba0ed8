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
Class weights, an ignored index and label smoothing (PyTorch's) enter both only through
:func:`class_coefficients` (the per-class factors of each sample's loss) and
:func:`mean_denominator` (what ``"mean"`` divides by).
"""

from __future__ import annotations

import numpy as np

from ..rules import defjvp, defvjp, nondifferentiable, primitive
from ..rules.registry import d
from .activations import log_softmax, sigmoid, softmax
from .backend import array_module

__all__ = [
    "reduce_loss",
    "class_coefficients",
    "mean_denominator",
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


def class_coefficients(shape, dtype, target, weight=None, ignore_index=-100, label_smoothing=0.0):
    """``A`` of ``shape`` ``(N, C, ...)`` with the per-sample loss ``-sum(A * input, axis=1)``:
    one-hot rows of the integer ``target`` (zero rows where it is ``ignore_index``), or the
    probability ``target`` itself; mixed with the uniform ``1 / C`` by ``label_smoothing``
    and scaled by the class ``weight`` (PyTorch's rules)."""
    xp = array_module(target)
    classes = shape[1]
    axis_shape = (1, classes) + (1,) * (len(shape) - 2)
    if _is_index(target):
        valid = target != ignore_index
        hits = xp.expand_dims(xp.where(valid, target, 0), 1) == xp.arange(classes).reshape(
            axis_shape
        )
        coef = hits.astype(dtype)
        if label_smoothing:
            coef = coef * (1.0 - label_smoothing) + label_smoothing / classes
        coef = coef * xp.expand_dims(valid, 1)
    else:
        coef = target
        if label_smoothing:
            coef = coef * (1.0 - label_smoothing) + label_smoothing / classes
    if weight is not None:
        coef = coef * weight.astype(dtype, copy=False).reshape(axis_shape)
    return coef


def mean_denominator(shape, dtype, target, weight=None, ignore_index=-100):
    """What ``reduction="mean"`` divides the summed loss by, in ``dtype``: the total class
    weight of the samples not ignored for integer targets (their number without ``weight``),
    the number of samples for probability targets."""
    if not _is_index(target):
        return np.dtype(dtype).type(shape[0] * int(np.prod(shape[2:], dtype=np.int64)))
    xp = array_module(target)
    valid = target != ignore_index
    if weight is None:
        return valid.sum().astype(dtype)
    return xp.where(valid, weight[xp.where(valid, target, 0)], 0.0).sum().astype(dtype)


nondifferentiable(mean_denominator)


def _reduce_weighted(per_sample, reduction, denominator):
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: nan, as PyTorch
            return per_sample.sum() / denominator
    if reduction == "sum":
        return per_sample.sum()
    return per_sample


@primitive
def nll_loss(input, target, reduction="mean", weight=None, ignore_index=-100, label_smoothing=0.0):
    """The negative log-likelihood of ``input`` (log-probabilities, classes on axis 1) at the
    integer class indices ``target``, or ``-sum(target * input, axis=1)`` for probability
    targets of ``input``'s shape; PyTorch's class ``weight`` (each sample's loss times its
    class's weight; ``"mean"`` divides by the total weight) and ``ignore_index`` (those
    samples lose nothing and do not count). ``label_smoothing`` mixes the target with the
    uniform distribution (what ``cross_entropy`` passes on; PyTorch's ``nll_loss`` has none)."""
    coef = class_coefficients(
        input.shape, input.dtype, target, weight, ignore_index, label_smoothing
    )
    per_sample = -(coef * input).sum(axis=1)
    denominator = mean_denominator(input.shape, input.dtype, target, weight, ignore_index)
    return _reduce_weighted(per_sample, reduction, denominator)


@primitive
def nll_loss_grad(
    g, input, target, reduction="mean", weight=None, ignore_index=-100, label_smoothing=0.0
):
    """The gradient of ``nll_loss`` with respect to ``input`` for the output adjoint ``g``
    (``input`` gives only the shape and dtype): linear in ``g``, and in ``target`` for
    probability targets without ``label_smoothing``."""
    xp = array_module(g, input)
    if reduction == "mean":
        g = g / mean_denominator(input.shape, input.dtype, target, weight, ignore_index)
    scale = xp.asarray(g, xp.result_type(g, input))
    per_sample = xp.broadcast_to(scale, input.shape[:1] + input.shape[2:])
    coef = class_coefficients(
        input.shape, input.dtype, target, weight, ignore_index, label_smoothing
    )
    return -xp.expand_dims(per_sample, 1) * coef


# ``label_smoothing`` makes the loss affine in a probability target: its derivative with
# respect to the target is ``1 - label_smoothing`` times the unsmoothed one.
def _nll_adjoint(
    z, input, target, reduction="mean", weight=None, ignore_index=-100, label_smoothing=0.0
):
    d[input] += nll_loss_grad(d[z], input, target, reduction, weight, ignore_index, label_smoothing)
    d[target] += (1.0 - label_smoothing) * nll_loss_grad(
        d[z], target, input, reduction, weight, ignore_index
    )


def _nll_tangent(
    z, input, target, reduction="mean", weight=None, ignore_index=-100, label_smoothing=0.0
):
    d[z] += nll_loss(d[input], target, reduction, weight, ignore_index, label_smoothing)
    d[z] += (1.0 - label_smoothing) * nll_loss(input, d[target], reduction, weight, ignore_index)


def _nll_grad_adjoint(
    z, g, input, target, reduction="mean", weight=None, ignore_index=-100, label_smoothing=0.0
):
    d[g] += nll_loss(d[z], target, reduction, weight, ignore_index, label_smoothing)
    d[target] += (1.0 - label_smoothing) * nll_loss_grad(
        g, input, d[z], reduction, weight, ignore_index
    )


def _nll_grad_tangent(
    z, g, input, target, reduction="mean", weight=None, ignore_index=-100, label_smoothing=0.0
):
    d[z] += nll_loss_grad(d[g], input, target, reduction, weight, ignore_index, label_smoothing)
    d[z] += (1.0 - label_smoothing) * nll_loss_grad(
        g, input, d[target], reduction, weight, ignore_index
    )


defvjp(nll_loss, _nll_adjoint)
defjvp(nll_loss, _nll_tangent)
defvjp(nll_loss_grad, _nll_grad_adjoint)
defjvp(nll_loss_grad, _nll_grad_tangent)


@primitive
def cross_entropy(
    input, target, reduction="mean", weight=None, ignore_index=-100, label_smoothing=0.0
):
    """PyTorch's ``cross_entropy``: ``nll_loss(log_softmax(input, 1), target)``, with integer
    class indices or class probabilities as ``target``, class ``weight``, ``ignore_index``
    (integer targets only) and ``label_smoothing`` as PyTorch has them."""
    logp = log_softmax(input, 1)
    return nll_loss(logp, target, reduction, weight, ignore_index, label_smoothing)


def _cross_entropy_adjoint(
    z, input, target, reduction="mean", weight=None, ignore_index=-100, label_smoothing=0.0
):
    grad = nll_loss_grad(d[z], input, target, reduction, weight, ignore_index, label_smoothing)
    d[input] += grad - softmax(input, 1) * np.sum(grad, axis=1, keepdims=True)
    d[target] += (1.0 - label_smoothing) * nll_loss_grad(
        d[z], target, log_softmax(input, 1), reduction, weight, ignore_index
    )


def _cross_entropy_tangent(
    z, input, target, reduction="mean", weight=None, ignore_index=-100, label_smoothing=0.0
):
    p = softmax(input, 1)
    d[z] += nll_loss(
        d[input] - np.sum(p * d[input], axis=1, keepdims=True),
        target,
        reduction,
        weight,
        ignore_index,
        label_smoothing,
    )
    d[z] += (1.0 - label_smoothing) * nll_loss(
        log_softmax(input, 1), d[target], reduction, weight, ignore_index
    )


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
