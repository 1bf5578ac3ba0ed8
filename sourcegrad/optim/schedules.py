"""Learning-rate schedules with PyTorch's semantics (``torch.optim.lr_scheduler``).

A schedule sets ``optimizer.lr``. Making one counts as its first step (epoch 0: the
learning rate the optimizer has); call ``schedule.step()`` after each epoch's (or each
step's) ``optimizer.step(...)``, exactly as with PyTorch, and the learning rates are the ones
PyTorch's schedule gives, computed by the same formulas (``StepLR`` and
``CosineAnnealingLR`` recursively from the current rate, as PyTorch's ``step()`` does).

To resume, as with PyTorch, make the optimizer and the schedule, then load both state dicts
(making a schedule sets the optimizer's learning rate; loading the optimizer's state sets it
back).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .base import Optimizer

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR", "LambdaLR"]


class LRScheduler:
    """The base of the schedules: subclasses define :meth:`get_lr`, the learning rate for
    ``self.last_epoch`` (which :meth:`step` has just advanced)."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not a sourcegrad Optimizer")
        if optimizer.groups is not None:
            raise TypeError(
                "a schedule sets one learning rate: make one schedule per parameter group, "
                "on optimizer.groups[i] (each group's rate follows the schedule from its own "
                "initial rate, as PyTorch's schedules do)"
            )
        self.optimizer = optimizer
        if last_epoch == -1:
            if optimizer.initial_lr is None:
                optimizer.initial_lr = optimizer.lr
        elif optimizer.initial_lr is None:
            raise KeyError(
                "resuming a schedule (last_epoch >= 0) needs the optimizer's initial_lr: load "
                "the optimizer's state dict first"
            )
        self.base_lr = optimizer.initial_lr
        self.last_epoch = last_epoch
        self.step_count = 0
        self.initial = True
        self.step()
        self.initial = False

    def get_lr(self) -> float:  # pragma: no cover - abstract
        """The learning rate for epoch ``self.last_epoch`` (just advanced), as PyTorch's
        schedule of the same name computes it."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set the optimizer's learning rate for it."""
        self.step_count += 1
        self.last_epoch += 1
        self.optimizer.lr = float(self.get_lr())
        self.last_lr = self.optimizer.lr

    def get_last_lr(self) -> float:
        """The learning rate the last :meth:`step` set (one number: one parameter group)."""
        return self.last_lr

    def state_dict(self) -> dict:
        """Everything but the optimizer (and a ``LambdaLR``'s function)."""
        skip = ("optimizer", "lr_lambda")
        return {k: v for k, v in self.__dict__.items() if k not in skip}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore :meth:`state_dict`: the next :meth:`step` continues where it left off."""
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> float:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self.optimizer.lr
        return self.optimizer.lr * self.gamma


class CosineAnnealingLR(LRScheduler):
    """Anneal from the initial learning rate to ``eta_min`` along half a cosine over ``T_max``
    epochs (and back up over the next ``T_max``, as PyTorch's schedule does)."""

    def __init__(
        self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ):  # noqa: N803
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> float:
        lr, base, e, t, low = (
            self.optimizer.lr,
            self.base_lr,
            self.last_epoch,
            self.T_max,
            self.eta_min,
        )
        if self.initial:
            return lr
        if self.step_count == 1 and e > 0:
            return low + (base - low) * (1 + math.cos(e * math.pi / t)) / 2
        if (e - 1 - t) % (2 * t) == 0:
            return lr + (base - low) * (1 - math.cos(math.pi / t)) / 2
        return (1 + math.cos(math.pi * e / t)) / (1 + math.cos(math.pi * (e - 1) / t)) * (
            lr - low
        ) + low


class LambdaLR(LRScheduler):
    """The initial learning rate times ``lr_lambda(epoch)``."""

    def __init__(self, optimizer, lr_lambda: Callable[[int], float], last_epoch: int = -1) -> None:
        self.lr_lambda = lr_lambda
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> float:
        return self.base_lr * self.lr_lambda(self.last_epoch)
