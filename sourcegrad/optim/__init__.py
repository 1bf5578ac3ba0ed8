"""Optimizers and learning-rate schedules over trees of parameters, with PyTorch's semantics.

::

    opt = sourcegrad.optim.Adam(params, lr=1e-3)
    schedule = sourcegrad.optim.CosineAnnealingLR(opt, T_max=100)
    dloss = sourcegrad.grad(loss)
    for epoch in range(100):
        opt.step(dloss(params, x, y))      # updates params' arrays in place
        schedule.step()

``params`` is any nesting of dicts, lists, tuples and namedtuples of floating-point arrays
(NumPy or CuPy); ``None``, strings, ints and bools in it are left alone. There is no
``zero_grad``: gradients are returned, not accumulated. ``opt.state_dict()`` and
``opt.load_state_dict(...)`` save and resume exactly (``sourcegrad.util.save`` writes them).
PyTorch's parameter groups work too: ``Adam([{"params": head, "lr": 1e-2}, {"params":
body}], lr=1e-3)`` then steps with ``opt.step([grads_head, grads_body])``.
"""

from .base import Optimizer, OptimizerStateError, Slot
from .optimizers import SGD, Adagrad, Adam, AdamW, RMSprop
from .schedules import CosineAnnealingLR, LambdaLR, LRScheduler, StepLR

__all__ = [
    "SGD", "Adagrad", "Adam", "AdamW", "CosineAnnealingLR", "LRScheduler", "LambdaLR",
    "Optimizer", "OptimizerStateError", "RMSprop", "Slot", "StepLR",
]  # fmt: skip
