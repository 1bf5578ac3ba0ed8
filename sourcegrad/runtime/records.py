"""Records: instances of dataclasses, containers of named fields like namedtuples.

A record holding arrays is differentiated like a dict of its fields: its adjoint is a
:class:`~sourcegrad.runtime.trees.DictPieces` keyed by field name, and its gradient a record
of the same class (a shallow copy of the argument with each field replaced by its gradient).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import types

import numpy as np

from ..errors import SourcegradError
from .facts import helper


@helper(called_by="library")
def is_record(x) -> bool:
    """Whether ``x`` is an instance (not the class) of a dataclass."""
    return dataclasses.is_dataclass(x) and not isinstance(x, type)


@helper(called_by="library")
def record_fields(x) -> dict:
    """``{field name: value}`` of the record ``x``, in the order the class declares them."""
    return {f.name: getattr(x, f.name) for f in dataclasses.fields(x)}


@helper(called_by="library")
def rebuilt_record(like, values: dict):
    """A shallow copy of the record ``like`` with each field ``k`` set to ``values[k]``
    (frozen dataclasses included)."""
    out = copy.copy(like)
    for k, v in values.items():
        object.__setattr__(out, k, v)
    return out


@helper(called_by="library")
def is_static_leaf(x) -> bool:
    """Whether ``x``, a record's field, carries no derivative and is kept as it is in the
    record's gradient: None, a string, an integer or bool, a function or class."""
    return x is None or isinstance(x, _STATIC)


_STATIC = (
    str, bytes, bool, int, np.integer, np.bool_, type, np.ufunc, functools.partial,
    types.FunctionType, types.BuiltinFunctionType, types.MethodType,
)  # fmt: skip


def refuse_property(x, name) -> None:
    """Refuse an adjoint for ``x.name`` where ``name`` is a property of the record ``x``'s
    class: it would reach no field. (sourcegrad calls the getter of a property of an argument
    it sees when it builds the derivative; this is one read through another object.)"""
    if isinstance(name, str) and is_record(x) and _is_property(type(x), name):
        raise SourcegradError(
            f"`.{name}` is a property of {type(x).__name__}, read where sourcegrad cannot call "
            "its getter (on an item of a loop or of a container); read the fields it is "
            "computed from there, or call a method of the object that reads it"
        )


@functools.lru_cache(maxsize=1024)
def _is_property(cls, name: str) -> bool:
    """Whether ``cls`` defines ``name`` as a property (cached: ``unfield`` runs in loops)."""
    return isinstance(inspect.getattr_static(cls, name, None), property)
