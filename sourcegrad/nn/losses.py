"""Criteria as primitives: ``mse_loss``, ``nll_loss``, ``cross_entropy``, ``bce_loss``,
``bce_with_logits_loss``, each with ``reduction`` ``"mean"`` (default), ``"sum"`` or
``"none"``, as PyTorch.

An elementwise criterion ``reduce(l(input, target))`` has the gradient ``scale * dl/dinput``
(``scale`` is the output adjoint, divided by the number of elements for ``"mean"``) and the
tangent ``reduce(dl/dinput * t)``. The reverse rules are NumPy expressions, differentiated
again at higher orders; the forward rules call :func:`reduce_loss`, so that ``reduction`` may
be a value known only when the derivative runs (a criterion's attribute). ``nll_loss`` is linear in its input, and bilinear in input and target for
probability targets; its adjoint ``nll_loss_grad`` is linear too, so the pair is closed
under differentiation. ``cross_entropy`` is ``nll_loss(log_softmax(input, axis), target)``
with the classes on PyTorch's axis 1 unless ``axis`` says otherwise; it is the one softmax
cross-entropy of sourcegrad (:func:`sourcegrad.loss.cross_entropy` shares its rules). Class weights, an ignored index and label smoothing (PyTorch's) enter both only through
:func:`class_coefficients` (the per-class factors of each sample's loss) and
:func:`mean_denominator` (what ``"mean"`` divides by).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from ..rules import defjvp, defvjp, nondifferentiable, not_differentiated, primitive
from ..rules.registry import d
from ..runtime.helpers import sum_to
from ..util.tree import Array, to_module_of
from .activations import log_softmax, sigmoid, softmax
from .backend import array_module

__all__ = [
    "reduce_loss",
    "mean_scale",
    "class_coefficients",
    "mean_denominator",
    "plain_labels",
    "target_like",
    "mse_loss",
    "nll_loss",
    "nll_loss_grad",
    "cross_entropy",
    "bce_loss",
    "bce_with_logits_loss",
]

LOG_FLOOR = -100.0  # PyTorch clamps the logarithms of binary cross-entropy at -100
BCE_EPS = 1e-12  # and the denominator of its gradient at 1e-12


def reduce_loss(loss: Array, reduction: str) -> Array:
    """``loss`` (elementwise) reduced as ``reduction`` says (``ValueError`` for anything but
    ``"mean"``, ``"sum"`` and ``"none"``)."""
    if reduction == "mean":
        return np.mean(loss)
    if reduction == "sum":
        return np.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


def mean_scale(a: Array, b) -> float:
    """``1 / n`` for the number ``n`` of elementwise losses of operands shaped like ``a`` and
    ``b`` (broadcast): what ``reduction="mean"`` scales the output adjoint by."""
    n = int(np.prod(np.broadcast_shapes(np.shape(a), np.shape(b)), dtype=np.int64))
    return 1.0 / max(n, 1)


nondifferentiable(mean_scale)


@primitive
def mse_loss(input: Array, target: Array, reduction: str = "mean") -> Array:
    """The squared error ``(input - target) ** 2`` (the operands broadcast), reduced."""
    diff = input - target
    return reduce_loss(diff * diff, reduction)


def _mse_adjoint(z, input, target, reduction="mean"):
    scale = d[z] * mean_scale(input, target) if reduction == "mean" else d[z]
    d[input] += sum_to(scale * (2.0 * (input - target)), input)
    d[target] += sum_to(scale * (2.0 * (target - input)), target)


def _mse_tangent(z, input, target, reduction="mean"):
    d[z] += reduce_loss(2.0 * (input - target) * d[input], reduction)
    d[z] += reduce_loss(2.0 * (target - input) * d[target], reduction)


defvjp(mse_loss, _mse_adjoint)
defjvp(mse_loss, _mse_tangent)


def _is_index(target) -> bool:
    """Whether ``target`` holds class indices (integers) rather than class probabilities."""
    dtype = getattr(target, "dtype", None)
    return np.dtype(dtype if dtype is not None else np.asarray(target).dtype).kind in "iu"


def target_like(target: Array, input: Array) -> Array:
    """``target`` (an array, a list or a number) as an array of ``input``'s array module."""
    if type(target) is np.ndarray and type(input) is np.ndarray:
        return target
    return to_module_of(array_module(target).asarray(target), input)


def class_coefficients(
    shape: tuple[int, ...],
    dtype: DTypeLike,
    target: Array,
    weight: Array | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    axis: int = 1,
) -> Array:
    """``A`` of ``shape`` with the per-sample loss ``-sum(A * input, axis)``, the classes along
    ``axis``: one-hot of the integer ``target`` (zero where it is ``ignore_index``), or the
    probability ``target`` itself; mixed with the uniform ``1 / C`` by ``label_smoothing``
    and scaled by the class ``weight`` (PyTorch's rules)."""
    xp = array_module(target)
    axis %= len(shape)
    classes = shape[axis]
    axis_shape = tuple(classes if i == axis else 1 for i in range(len(shape)))
    if _is_index(target):
        valid = target != ignore_index
        classes_of = xp.expand_dims(xp.where(valid, target, 0), axis)
        coef = (classes_of == xp.arange(classes).reshape(axis_shape)).astype(dtype)
        if label_smoothing:
            coef = coef * (1.0 - label_smoothing) + label_smoothing / classes
        coef = coef * xp.expand_dims(valid, axis)
    else:
        coef = target
        if label_smoothing:
            coef = coef * (1.0 - label_smoothing) + label_smoothing / classes
    if weight is not None:
        coef = coef * to_module_of(weight, target).astype(dtype, copy=False).reshape(axis_shape)
    return coef


def mean_denominator(
    shape: tuple[int, ...],
    dtype: DTypeLike,
    target: Array,
    weight: Array | None = None,
    ignore_index: int = -100,
    axis: int = 1,
) -> Array:
    """What ``reduction="mean"`` divides the summed loss by, in ``dtype``: the total class
    weight of the samples not ignored for integer targets (their number without ``weight``),
    the number of samples (``shape``'s size without ``axis``) for probability targets."""
    if not _is_index(target):
        classes = shape[axis % len(shape)]
        return np.dtype(dtype).type(int(np.prod(shape, dtype=np.int64)) // max(classes, 1))
    xp = array_module(target)
    valid = target != ignore_index
    if weight is None:
        return valid.sum().astype(dtype)
    weight = to_module_of(weight, target)
    return xp.where(valid, weight[xp.where(valid, target, 0)], 0.0).sum().astype(dtype)


nondifferentiable(mean_denominator)


def plain_labels(shape, target, weight, ignore_index, label_smoothing, axis):
    """``target`` where it is the common case that :func:`nll_loss` and
    :func:`nll_loss_grad` compute by indexing: NumPy integer labels ``(N,)`` of ``(N, C)``
    inputs (classes on axis 1), none of them ``ignore_index``, without class weights or
    smoothing (then the coefficients are a one-hot and the mean divides by ``N``); None
    otherwise."""
    if (
        type(target) is not np.ndarray
        or target.dtype.kind not in "iu"
        or target.ndim != 1
        or len(shape) != 2
        or axis % 2 != 1
        or weight is not None
        or label_smoothing
        or shape[0] != target.shape[0]
        or (target == ignore_index).any()
    ):
        return None
    return target


def _reduce_weighted(per_sample, reduction, denominator):
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: nan, as PyTorch
            return per_sample.sum() / denominator
    if reduction == "sum":
        return per_sample.sum()
    if reduction == "none":
        return per_sample
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


@primitive
def nll_loss(
    input: Array,
    target: Array,
    reduction: str = "mean",
    weight: Array | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    axis: int = 1,
) -> Array:
    """The negative log-likelihood of ``input`` (log-probabilities, classes along ``axis``,
    PyTorch's 1 by default) at the integer class indices ``target``, or
    ``-sum(target * input, axis)`` for probability targets of ``input``'s shape; PyTorch's
    class ``weight`` (each sample's loss times its class's weight; ``"mean"`` divides by the
    total weight) and ``ignore_index`` (those samples lose nothing and do not count).
    ``label_smoothing`` mixes the target with the uniform distribution (what
    ``cross_entropy`` passes on; PyTorch's ``nll_loss`` has none)."""
    shape, dtype, target = input.shape, input.dtype, target_like(target, input)
    labels = plain_labels(shape, target, weight, ignore_index, label_smoothing, axis)
    if labels is not None and type(input) is np.ndarray:
        per_sample = -input[np.arange(shape[0]), labels]
        return _reduce_weighted(per_sample, reduction, np.dtype(dtype).type(shape[0]))
    coef = class_coefficients(shape, dtype, target, weight, ignore_index, label_smoothing, axis)
    per_sample = -(coef * input).sum(axis=axis)
    denominator = mean_denominator(shape, dtype, target, weight, ignore_index, axis)
    return _reduce_weighted(per_sample, reduction, denominator)


@primitive
def nll_loss_grad(
    g: Array,
    input: Array,
    target: Array,
    reduction: str = "mean",
    weight: Array | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    axis: int = 1,
) -> Array:
    """The gradient of ``nll_loss`` with respect to ``input`` for the output adjoint ``g``
    (``input`` gives only the shape and dtype): linear in ``g``, and in ``target`` for
    probability targets without ``label_smoothing``."""
    xp = array_module(g, input)
    shape, dtype, target = input.shape, input.dtype, target_like(target, input)
    labels = plain_labels(shape, target, weight, ignore_index, label_smoothing, axis)
    if labels is not None and xp is np and np.ndim(g) == 0:
        scale = np.asarray(g, np.result_type(g, input))
        if reduction == "mean":
            scale = scale / shape[0]
        out = np.zeros(shape, scale.dtype)
        out[np.arange(shape[0]), labels] = -scale
        return out
    if reduction == "mean":
        g = g / mean_denominator(shape, dtype, target, weight, ignore_index, axis)
    scale = xp.asarray(g, xp.result_type(g, input))
    axis %= len(shape)
    per_sample = xp.broadcast_to(scale, shape[:axis] + shape[axis + 1 :])
    coef = class_coefficients(shape, dtype, target, weight, ignore_index, label_smoothing, axis)
    return -xp.expand_dims(per_sample, axis) * coef


# ``label_smoothing`` makes the loss affine in a probability target: its derivative with
# respect to the target is ``1 - label_smoothing`` times the unsmoothed one.
def _nll_adjoint(
    z, input, target, reduction="mean", weight=None, ignore_index=-100, label_smoothing=0.0, axis=1
):
    d[input] += nll_loss_grad(
        d[z], input, target, reduction, weight, ignore_index, label_smoothing, axis
    )
    d[target] += (1.0 - label_smoothing) * nll_loss_grad(
        d[z], target, input, reduction, weight, ignore_index, 0.0, axis
    )


def _nll_tangent(
    z, input, target, reduction="mean", weight=None, ignore_index=-100, label_smoothing=0.0, axis=1
):
    d[z] += nll_loss(d[input], target, reduction, weight, ignore_index, label_smoothing, axis)
    d[z] += (1.0 - label_smoothing) * nll_loss(
        input, d[target], reduction, weight, ignore_index, 0.0, axis
    )


def _nll_grad_adjoint(
    z,
    g,
    input,
    target,
    reduction="mean",
    weight=None,
    ignore_index=-100,
    label_smoothing=0.0,
    axis=1,
):
    d[g] += nll_loss(d[z], target, reduction, weight, ignore_index, label_smoothing, axis)
    d[target] += (1.0 - label_smoothing) * nll_loss_grad(
        g, input, d[z], reduction, weight, ignore_index, 0.0, axis
    )


def _nll_grad_tangent(
    z,
    g,
    input,
    target,
    reduction="mean",
    weight=None,
    ignore_index=-100,
    label_smoothing=0.0,
    axis=1,
):
    d[z] += nll_loss_grad(
        d[g], input, target, reduction, weight, ignore_index, label_smoothing, axis
    )
    d[z] += (1.0 - label_smoothing) * nll_loss_grad(
        g, input, d[target], reduction, weight, ignore_index, 0.0, axis
    )


defvjp(nll_loss, _nll_adjoint)
defjvp(nll_loss, _nll_tangent)
defvjp(nll_loss_grad, _nll_grad_adjoint)
defjvp(nll_loss_grad, _nll_grad_tangent)


@primitive
def cross_entropy(
    input: Array,
    target: Array,
    reduction: str = "mean",
    weight: Array | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    axis: int = 1,
) -> Array:
    """PyTorch's ``cross_entropy``: ``nll_loss(log_softmax(input, axis), target)``, with
    integer class indices or class probabilities as ``target``, class ``weight``,
    ``ignore_index`` (integer targets only) and ``label_smoothing`` as PyTorch has them; the
    classes along ``axis`` (PyTorch's 1 by default). The one implementation of softmax
    cross-entropy: :func:`sourcegrad.loss.cross_entropy` is this function with its rules."""
    shape = input.shape
    labels = plain_labels(shape, target, weight, ignore_index, label_smoothing, axis)
    if labels is not None and type(input) is np.ndarray and input.dtype.kind == "f":
        # -log_softmax(input)[i, label]: the same bits, without the log-probabilities' array
        shift = np.maximum.reduce(input, axis=1, keepdims=True)
        finite = np.isfinite(shift)
        if not np.logical_and.reduce(finite, axis=None):  # as functions.max_shift
            shift = np.where(finite, shift, 0.0)
        shifted = np.subtract(input, shift)
        total = np.add.reduce(np.exp(shifted), axis=1)
        per_sample = np.log(total) - shifted[np.arange(shape[0]), labels]
        return _reduce_weighted(per_sample, reduction, input.dtype.type(shape[0]))
    logp = log_softmax(input, axis)
    return nll_loss(logp, target, reduction, weight, ignore_index, label_smoothing, axis)


def _cross_entropy_adjoint(
    z, input, target, reduction="mean", weight=None, ignore_index=-100, label_smoothing=0.0, axis=1
):
    grad = nll_loss_grad(
        d[z], input, target, reduction, weight, ignore_index, label_smoothing, axis
    )
    d[input] += grad - softmax(input, axis) * np.sum(grad, axis=axis, keepdims=True)
    d[target] += (1.0 - label_smoothing) * nll_loss_grad(
        d[z], target, log_softmax(input, axis), reduction, weight, ignore_index, 0.0, axis
    )


def _cross_entropy_tangent(
    z, input, target, reduction="mean", weight=None, ignore_index=-100, label_smoothing=0.0, axis=1
):
    p = softmax(input, axis)
    d[z] += nll_loss(
        d[input] - np.sum(p * d[input], axis=axis, keepdims=True),
        target,
        reduction,
        weight,
        ignore_index,
        label_smoothing,
        axis,
    )
    d[z] += (1.0 - label_smoothing) * nll_loss(
        log_softmax(input, axis), d[target], reduction, weight, ignore_index, 0.0, axis
    )


defvjp(cross_entropy, _cross_entropy_adjoint)
for _loss in (nll_loss, cross_entropy):
    not_differentiated(_loss, "class weights", "weight")
defjvp(cross_entropy, _cross_entropy_tangent)


def _bce_logs(input):
    xp = array_module(input)
    return xp.maximum(xp.log(input), LOG_FLOOR), xp.maximum(xp.log(1.0 - input), LOG_FLOOR)


@primitive
def bce_loss(input: Array, target: Array, reduction: str = "mean") -> Array:
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
def bce_with_logits_loss(input: Array, target: Array, reduction: str = "mean") -> Array:
    """Binary cross-entropy of ``sigmoid(input)`` against ``target`` (the operands
    broadcast), computed stably as ``(1 - target) * input + log(1 + exp(-input))``."""
    xp = array_module(input)
    return reduce_loss((1.0 - target) * input + xp.logaddexp(0.0, -input), reduction)


def _bce_logits_adjoint(z, input, target, reduction="mean"):
    scale = d[z] * mean_scale(input, target) if reduction == "mean" else d[z]
    d[input] += sum_to(scale * (sigmoid(input) - target), input)
    d[target] += sum_to(-(scale * input), target)


def _bce_logits_tangent(z, input, target, reduction="mean"):
    slope = sigmoid(input) - target
    d[z] += reduce_loss(slope * d[input], reduction)
    d[z] += reduce_loss(-input * d[target], reduction)


defvjp(bce_with_logits_loss, _bce_logits_adjoint)
defjvp(bce_with_logits_loss, _bce_logits_tangent)
