"""Criteria: ``criterion(input, target)`` is one call of a loss primitive of
:mod:`sourcegrad.nn.functional`, with PyTorch's ``reduction`` (``"mean"``, ``"sum"``,
``"none"``)."""

from __future__ import annotations

from ..util.tree import Array
from . import functional as F
from .modules import Module

__all__ = ["MSELoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss"]


class _Criterion(Module):
    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")
        self.reduction = reduction


class MSELoss(_Criterion):
    """The mean (or summed) squared error."""

    def __call__(self, input: Array, target: Array) -> Array:
        return F.mse_loss(input, target, self.reduction)


class CrossEntropyLoss(_Criterion):
    """Cross-entropy of logits (classes on axis 1) against integer class indices or class
    probabilities, with PyTorch's ``weight`` (one factor per class, an array of shape
    ``(C,)``), ``ignore_index`` (integer targets only) and ``label_smoothing``."""

    def __init__(
        self,
        reduction: str = "mean",
        *,
        weight: Array | None = None,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1], not {label_smoothing!r}")
        self.weight, self.ignore_index = weight, int(ignore_index)
        self.label_smoothing = float(label_smoothing)

    def __call__(self, input: Array, target: Array) -> Array:
        w, ignored, smoothing = self.weight, self.ignore_index, self.label_smoothing
        return F.cross_entropy(input, target, self.reduction, w, ignored, smoothing)


class NLLLoss(_Criterion):
    """Negative log-likelihood of log-probabilities (classes on axis 1) at integer class
    indices (or against class probabilities), with PyTorch's ``weight`` and
    ``ignore_index``."""

    def __init__(
        self, reduction: str = "mean", *, weight: Array | None = None, ignore_index: int = -100
    ) -> None:
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, int(ignore_index)

    def __call__(self, input: Array, target: Array) -> Array:
        return F.nll_loss(input, target, self.reduction, self.weight, self.ignore_index)


class BCELoss(_Criterion):
    """Binary cross-entropy of probabilities."""

    def __call__(self, input: Array, target: Array) -> Array:
        return F.bce_loss(input, target, self.reduction)


class BCEWithLogitsLoss(_Criterion):
    """Binary cross-entropy of ``sigmoid(input)``, computed stably from the logits."""

    def __call__(self, input: Array, target: Array) -> Array:
        return F.bce_with_logits_loss(input, target, self.reduction)
