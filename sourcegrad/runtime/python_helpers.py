"""Helpers for the derivatives of Python's own ``max``, ``min`` and ``sorted``: which operand
Python returns, or in which order it puts the items, found by the comparisons Python makes,
so that ties and NaNs pick as Python does."""

from __future__ import annotations

import numpy as np

from .facts import helper
from .trees import Pieces


def _better(item, best, largest: bool, key=None) -> bool:
    if key is not None:
        item, best = key(item), key(best)
    return bool(item > best) if largest else bool(item < best)


@helper(constant=True)
def takes_second(a, b, largest, key=None):
    """Whether ``max(a, b)`` (``largest``) or ``min(a, b)`` returns ``b``, ``key=`` given or
    not: Python keeps the first operand unless the second compares strictly greater (less)."""
    return _better(b, a, largest, key)


@helper(constant=True)
def takes_first(a, b, largest, key=None):
    """Whether ``max(a, b)`` (``largest``) or ``min(a, b)`` returns ``a`` (see
    :func:`takes_second`)."""
    return not _better(b, a, largest, key)


def _picked(xs, largest: bool, key=None) -> int:
    """The position of the item ``max(xs, key=key)`` (``min``) returns: the first extreme
    one."""
    best, position = None, -1
    for i, item in enumerate(xs):
        if position < 0 or _better(item, best, largest, key):
            best, position = item, i
    return position


@helper(linear=("g",), allocates="outer")
def picked_adjoint(g, xs, largest, key=None):
    """The adjoint of ``max(xs)`` / ``min(xs)``: ``g`` at the item Python returns, zero at
    the others; an array for an array (along its first axis), else a :class:`Pieces` (a
    list, a tuple, a dict's values)."""
    k = _picked(xs, largest, key)
    if getattr(xs, "shape", None) is None:
        return Pieces(g if i == k else np.zeros_like(x) for i, x in enumerate(xs))
    out = np.zeros_like(xs, dtype=np.result_type(xs, g))
    out[k] = g
    return out


@helper(linear=("ts",), jointly=True)
def picked_tangent(ts, xs, largest, key=None):
    """The tangent of ``max(xs)`` / ``min(xs)``: the tangent of the item Python returns
    (``ts`` holds the items' tangents: a list, None for zero, or an array)."""
    t = ts[_picked(xs, largest, key)]
    return 0.0 if t is None else t


def _order(xs, key, reverse) -> list:
    """The positions of the items of ``xs`` in the order ``sorted(xs, key=key,
    reverse=reverse)`` puts them: the same stable sort, of the positions, comparing the same
    values (the keys, else the items)."""
    keys = list(xs) if key is None else [key(x) for x in xs]
    return sorted(range(len(keys)), key=keys.__getitem__, reverse=reverse)


@helper(linear=("g",), allocates="outer")
def sorted_adjoint(g, xs, key=None, reverse=False):
    """The adjoint of ``sorted(xs, key=key, reverse=reverse)``: the adjoint of each item of
    the sorted list (``g``, None for zeros) put back at the position the item came from; an
    array for an array (along its first axis), else a :class:`Pieces`; None for a dict (the
    sorted list holds its keys, which carry no derivative)."""
    if g is None or isinstance(xs, dict):
        return None
    order = _order(xs, key, reverse)
    if getattr(xs, "shape", None) is not None:
        out = np.zeros_like(xs, dtype=np.result_type(xs, 0.0))
        for j, i in enumerate(order):
            if g[j] is not None:
                out[i] = g[j]
        return out
    back = [None] * len(order)
    for j, i in enumerate(order):
        back[i] = g[j]
    return Pieces(back)


@helper(linear=("ts",), jointly=True)
def sorted_tangent(ts, xs, key=None, reverse=False):
    """The tangent of ``sorted(xs, key=key, reverse=reverse)``: the items' tangents (``ts``:
    a list, None for zero, or an array) in the order of their items; None for a dict (its
    sorted keys carry no derivative)."""
    if ts is None or isinstance(xs, dict):
        return None
    return [ts[i] for i in _order(xs, key, reverse)]
