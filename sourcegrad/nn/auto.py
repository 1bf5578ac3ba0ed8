"""Module classes made from plain functions: ``AutoModule(name)(fn, weight, bias)`` and
``AutoCriterion(name)(fn)``.

``fn`` is the user's own NumPy function; the module calls it through an attribute
(``self.fn(...)``), so sourcegrad differentiates it from its source wherever the module is
used inside a differentiated function.

::

    def scaled_tanh(x, weight, bias):
        return np.tanh(x * weight + bias)

    ScaledTanh = AutoModule("ScaledTanh")(scaled_tanh, weight=(8,), bias=(8,))
    layer = ScaledTanh()
    params = layer.init(rng)          # {"weight": (8,), "bias": (8,)}
    y = layer(params, x)

    def squared_log_error(input, target):
        return (np.log1p(input) - np.log1p(target)) ** 2

    SquaredLogError = AutoCriterion("SquaredLogError")(squared_log_error)
    SquaredLogError(reduction="sum")(input, target)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import DTypeLike

from ..util.tree import Array, Tree
from .modules import Module

__all__ = ["AutoModule", "AutoCriterion"]


def _fan_in(shape) -> int:
    return int(np.prod(shape[1:])) if len(shape) > 1 else int(shape[0])


class _AutoModule(Module):
    """A module computing ``fn(x, weight, bias)`` (or ``fn(x, weight)``, ``fn(x)``)."""

    has_params = True
    weight_shape = None
    bias_shape = None

    def __init__(self) -> None:
        # an instance attribute: sourcegrad reads a class attribute as a method taking self
        self.fn = self.function

    def init(
        self, rng: np.random.Generator | int | None = None, dtype: DTypeLike = np.float64
    ) -> Tree:
        """``weight`` and ``bias`` drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's
        default for its layers, with ``fan_in`` the product of the weight's shape after its
        first axis (its length for a vector)."""
        rng = np.random.default_rng() if rng is None else rng
        params = {}
        shape = self.weight_shape if self.weight_shape is not None else self.bias_shape
        if shape is None:
            return params
        bound = 1.0 / math.sqrt(_fan_in(shape))
        if self.weight_shape is not None:
            params["weight"] = rng.uniform(-bound, bound, self.weight_shape).astype(dtype)
        if self.bias_shape is not None:
            params["bias"] = rng.uniform(-bound, bound, self.bias_shape).astype(dtype)
        return params


class _WeightAndBias(_AutoModule):
    def __call__(self, params: Tree, x: Array) -> Array:
        return self.fn(x, params["weight"], params["bias"])


class _WeightOnly(_AutoModule):
    def __call__(self, params: Tree, x: Array) -> Array:
        return self.fn(x, params["weight"])


class _NoParameters(_AutoModule):
    has_params = False

    def __call__(self, x: Array) -> Array:
        return self.fn(x)


def AutoModule(  # noqa: N802 - it makes classes, and reads like one
    name: str,
) -> Callable[..., type[Module]]:
    """``AutoModule(name)(fn, weight=None, bias=None)``: a :class:`Module` class called
    ``name`` whose instances compute ``fn(x, params["weight"], params["bias"])``.
    ``weight`` and ``bias`` are the parameters' shapes (a bias needs a weight); with neither,
    the module has no parameters and computes ``fn(x)``."""

    def build(fn, weight: Array | None = None, bias: Array | None = None):
        if bias is not None and weight is None:
            raise ValueError("AutoModule: a bias needs a weight")
        base = _NoParameters if weight is None else _WeightOnly if bias is None else _WeightAndBias
        attrs = {
            "function": staticmethod(fn),
            "weight_shape": None if weight is None else tuple(weight),
            "bias_shape": None if bias is None else tuple(bias),
            "__doc__": f"A module computing {getattr(fn, '__name__', 'fn')} (AutoModule).",
        }
        return type(name, (base,), attrs)

    return build


class _AutoCriterion(Module):
    """A criterion ``fn(input, target)``, elementwise, reduced as ``reduction`` says."""

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")
        self.reduction = reduction
        self.fn = self.function  # an instance attribute, as in _AutoModule

    def __call__(self, input: Array, target: Array) -> Array:
        loss = self.fn(input, target)
        if self.reduction == "mean":
            return np.mean(loss)
        if self.reduction == "sum":
            return np.sum(loss)
        return loss


def AutoCriterion(  # noqa: N802 - it makes classes, and reads like one
    name: str,
) -> Callable[..., type[Module]]:
    """``AutoCriterion(name)(fn)``: a criterion class called ``name`` whose instances
    (``name(reduction="mean")``) reduce the elementwise loss ``fn(input, target)``."""

    def build(fn):
        attrs = {
            "function": staticmethod(fn),
            "__doc__": f"A criterion reducing {getattr(fn, '__name__', 'fn')} (AutoCriterion).",
        }
        return type(name, (_AutoCriterion,), attrs)

    return build
