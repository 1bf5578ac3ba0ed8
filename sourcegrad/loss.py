"""Losses to call inside functions that sourcegrad differentiates.

Each returns the mean of the per-sample losses (``reduction="mean"``), their sum (``"sum"``)
or the per-sample losses themselves (``"none"``), and agrees with PyTorch's function of the
same purpose (``torch.nn.functional.cross_entropy``, ``binary_cross_entropy_with_logits``,
``mse_loss``). Each is one of :mod:`sourcegrad.nn.functional`'s criteria under its own
signature, the same implementation with its rules shared (``cross_entropy``,
``bce_with_logits_loss``, ``mse_loss``): a :func:`sourcegrad.primitive` computed in plain
NumPy with reverse and forward rule templates built from operations that have both rules
themselves, so derivatives of every order exist; the targets may be differentiated too
(probability targets, regression targets).
"""

from __future__ import annotations

import numpy as np

from .nn.losses import bce_with_logits_loss, mean_scale, mse_loss
from .nn.losses import cross_entropy as nn_cross_entropy
from .nn.rule_alias import share_rules
from .rules import d, defjvp, defvjp, nondifferentiable, primitive
from .runtime.helpers import unreduce
from .util.tree import Array

__all__ = [
    "binary_cross_entropy", "check_reduction", "cross_entropy", "least_squares", "mean_scale",
    "reduce_losses",
]  # fmt: skip

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str) -> str:
    """``reduction`` itself, or ``ValueError`` if it is not one of ``mean sum none``."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def _reduce(losses, reduction):
    check_reduction(reduction)
    if reduction == "mean":
        return np.mean(losses)
    if reduction == "sum":
        return np.sum(losses)
    return losses


nondifferentiable(check_reduction)


@primitive
def reduce_losses(losses: Array, reduction: str = "mean") -> Array:
    """The mean (``"mean"``) or sum (``"sum"``) of ``losses``, or a copy of ``losses``
    (``"none"``)."""
    out = _reduce(losses, reduction)
    return np.copy(out) if out is losses else out


def _reduce_losses_rule(z, losses, reduction="mean"):
    if reduction == "none":
        d[losses] += d[z]
    elif reduction == "sum":
        d[losses] += unreduce(d[z], losses)
    else:
        d[losses] += unreduce(d[z] / np.size(losses), losses)


def _reduce_losses_tangent(z, losses, reduction="mean"):
    d[z] += reduce_losses(d[losses], reduction)


@primitive
def cross_entropy(
    logits: Array,
    labels: Array,
    axis: int = -1,
    reduction: str = "mean",
    weight: Array | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
) -> Array:
    """Softmax cross-entropy of ``logits`` (unnormalised scores, classes along ``axis``).

    ``labels`` is either

    * integer class indices, of ``logits``' shape without ``axis`` (``(N,)`` for logits of
      shape ``(N, C)``): the loss of a sample is ``-log_softmax(logits)[label]``; or
    * floating-point target probabilities of ``logits``' shape (one-hot rows from
      ``sourcegrad.util.one_hot``, or soft labels): ``-sum(labels * log_softmax(logits))``.

    Log-probabilities may be given as ``logits``: ``log_softmax`` leaves them unchanged, so the
    result is then the negative log-likelihood. ``weight``, ``ignore_index`` and
    ``label_smoothing`` are PyTorch's. This is :func:`sourcegrad.nn.functional.cross_entropy`
    with the class axis last by default (PyTorch's is 1: pass ``axis=1`` for images), the
    same implementation with the same derivative rules, equal to
    ``torch.nn.functional.cross_entropy``."""
    return nn_cross_entropy(logits, labels, reduction, weight, ignore_index, label_smoothing, axis)


share_rules(cross_entropy, nn_cross_entropy, logits="input", labels="target")


@primitive
def binary_cross_entropy(logits: Array, targets: Array, reduction: str = "mean") -> Array:
    """Binary cross-entropy of ``sigmoid(logits)`` against ``targets`` in ``[0, 1]``,
    elementwise, computed from the logits without overflow or ``log(0)``:
    ``log(1 + exp(logits)) - targets * logits``. Equal to
    ``torch.nn.functional.binary_cross_entropy_with_logits`` (pass logits, not
    probabilities): :func:`sourcegrad.nn.functional.bce_with_logits_loss` under its own
    signature, the same implementation with the same derivative rules."""
    return bce_with_logits_loss(logits, targets, check_reduction(reduction))


@primitive
def least_squares(predictions: Array, targets: Array, reduction: str = "mean") -> Array:
    """Squared errors ``(predictions - targets) ** 2``, elementwise (``"mean"``: the mean
    squared error, ``torch.nn.functional.mse_loss``): :func:`sourcegrad.nn.functional.mse_loss`
    under its own signature, the same implementation with the same derivative rules."""
    return mse_loss(predictions, targets, check_reduction(reduction))


share_rules(binary_cross_entropy, bce_with_logits_loss, logits="input", targets="target")
share_rules(least_squares, mse_loss, predictions="input", targets="target")
defvjp(reduce_losses, _reduce_losses_rule)
defjvp(reduce_losses, _reduce_losses_tangent)
