"""``functionalize``: a module (a :class:`~sourcegrad.nn.Module` or a ``torch.nn.Module``)
as a function of its parameters that sourcegrad differentiates."""

from __future__ import annotations

from typing import Any

import numpy as np

from .torch_bridge import TorchFunction, is_torch_module

__all__ = ["functionalize"]


def functionalize(module: Any, rng: np.random.Generator | int | None = None) -> Any:
    """``(f, params)`` with ``f(params, x)`` the module's output as a function sourcegrad
    differentiates, and ``params`` the module's held parameters (made from ``rng`` if it
    holds none yet); ``f`` alone, ``f(x)``, for a module without parameters.

    A ``torch.nn.Module`` (CPU, float32 or float64) becomes a :class:`TorchFunction`:
    ``params`` are NumPy views of its parameters, and torch computes the output and its
    derivatives (first order).
    """
    if is_torch_module(module):
        module = TorchFunction(module)
        return module.__call__, module.init()
    if not module.has_params:
        return module.__call__
    return module.__call__, module.parameters(rng)
