"""Records: instances of dataclasses, containers of named fields like namedtuples, and
instances of the plain classes sourcegrad builds from differentiated values (their fields the
attributes ``__init__`` stores, :func:`register_plain_class`).

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

#: class -> whether its instances are records as a plain class's (not a dataclass's): its
#: ``__init__`` only computes and stores fields. ``transform/plain_classes.py`` decides, through
#: the test it installs (:func:`install_plain_class_test`): the runtime imports no pass
_PLAIN: dict = {}
_PLAIN_TEST: list = []
#: ``(module, qualified name)`` of the classes :func:`register_plain_class` knows by name
_PLAIN_NAMES: set = set()


def install_plain_class_test(test) -> None:
    """Install ``test(cls) -> bool``, which says whether ``cls`` is such a plain class."""
    _PLAIN_TEST[:] = [test]
    _PLAIN.clear()


def register_plain_class(cls: type, known_as: tuple | None = None) -> None:
    """Make the instances of the plain class ``cls`` records, their fields their attributes;
    with ``known_as`` (module, qualified name), the instances of the class so named too (an
    export's copy of the user's class, whose objects its callers make with their own)."""
    _PLAIN[cls] = True
    if known_as is not None:
        _PLAIN_NAMES.add(known_as)


def _is_plain(t: type) -> bool:
    known = _PLAIN.get(t)
    if known is None:
        known = _PLAIN[t] = (t.__module__, t.__qualname__) in _PLAIN_NAMES or (
            t.__module__ not in ("builtins", "numpy")
            and "__dict__" in dir(t)
            and bool(_PLAIN_TEST)
            and _PLAIN_TEST[0](t)
        )
    return known


@helper(called_by="library")
def is_record(x) -> bool:
    """Whether ``x`` is an instance (not the class) of a dataclass, or of a plain class
    whose ``__init__`` only computes and stores fields."""
    if _is_plain(type(x)):
        return True
    return dataclasses.is_dataclass(x) and not isinstance(x, type)


@helper(called_by="library")
def record_fields(x) -> dict:
    """``{field name: value}`` of the record ``x``, in the order the class declares them (of a
    plain class's instance, the order ``__init__`` stored them)."""
    if _is_plain(type(x)):
        return dict(vars(x))
    return {f.name: getattr(x, f.name) for f in dataclasses.fields(x)}


@helper(called_by="library")
def is_field(x, name: str) -> bool:
    """Whether ``name`` is a field of the record ``x`` (not a class attribute or ``ClassVar``)."""
    if _is_plain(type(x)):
        return name in vars(x)
    return _is_dataclass_field(type(x), name)


@functools.lru_cache(maxsize=1024)
def _is_dataclass_field(cls, name: str) -> bool:
    return any(f.name == name for f in dataclasses.fields(cls))


def built_object(cls: type, fields: dict):
    """An instance of the plain class ``cls`` holding ``fields`` as its attributes, made
    without running its ``__init__``: what the derivative of ``cls(...)`` builds from the
    fields ``__init__`` computes (``transform/plain_classes.py``)."""
    out = cls.__new__(cls)
    vars(out).update(fields)
    return out


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
    record's gradient: None, a string, an integer or bool (or an array of them: a mask, indices),
    a function or class, or an object called like a function that holds nothing
    (``Sigmoid()``, a class with ``__call__``)."""
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "biu"
    return x is None or isinstance(x, _STATIC) or _stateless_callable(x)


def _stateless_callable(x) -> bool:
    return (
        callable(x)
        and not _is_plain(type(x))
        and not dataclasses.is_dataclass(x)
        and not getattr(x, "__dict__", True)
        and not hasattr(type(x), "__slots__")
    )


_STATIC = (
    str, bytes, bool, int, np.integer, np.bool_, type, np.ufunc, functools.partial,
    types.FunctionType, types.BuiltinFunctionType, types.MethodType,
)  # fmt: skip


def refuse_property(x, name) -> None:
    """Refuse an adjoint for ``x.name`` where ``name`` is a property of the record ``x``'s
    class: it would reach no field. (sourcegrad calls the getter of a property of an argument
    it sees when it builds the derivative; this is one read through another object.) A
    ``functools.cached_property`` whose cache ``x`` holds is a field of ``x``."""
    if (
        isinstance(name, str)
        and is_record(x)
        and _is_property(type(x), name)
        and name not in getattr(x, "__dict__", ())
    ):
        raise SourcegradError(
            f"`.{name}` is a property of {type(x).__name__}, read where sourcegrad cannot call "
            "its getter (on an item of a loop or of a container, or a name bound to more "
            "than one object); read the fields it is computed from there, or call a method of "
            "the object that reads it"
        )


@helper(called_by="library")
def is_bound_method(x, name) -> bool:
    """Whether ``x.name`` is a method bound to ``x`` (``act = self.forward``): its derivative
    is ``x``'s own, since the method's derivative reads ``x`` as its receiver."""
    if not isinstance(name, str) or isinstance(x, (dict, list)):
        return False
    value = getattr(x, name, None)
    return isinstance(value, types.MethodType) and value.__self__ is x


@functools.lru_cache(maxsize=1024)
def _is_property(cls, name: str) -> bool:
    """Whether ``cls`` defines ``name`` as a property or a ``functools.cached_property``
    (cached: ``unfield`` runs in loops)."""
    static = inspect.getattr_static(cls, name, None)
    return isinstance(static, (property, functools.cached_property))
