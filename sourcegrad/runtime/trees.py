"""Adjoints of containers: lists, tuples, namedtuples and dicts of arrays and numbers.

An adjoint of a container is a container of the same structure that *adds* leaf by leaf: the
generated code accumulates adjoints with ``+``, which on plain lists and tuples would
concatenate and on dicts would fail. :class:`Pieces` (for lists, tuples and namedtuples, item
by position) and :class:`DictPieces` (for dicts, item by key) are those containers. ``None``
stands for a zero anywhere inside them, and a key missing from a :class:`DictPieces` is a zero
too, so the adjoint of one read ``p["W"]`` of a dict of many arrays allocates nothing for the
others. The gradient handed to the user is built from these by
:func:`sourcegrad.runtime.containers.gradient_like`, in the argument's own container types.
"""

from __future__ import annotations

import collections
import types

import numpy as np

from ..errors import SourcegradError
from .facts import helper
from .records import is_bound_method, is_record, is_static_leaf, record_fields, refuse_property

__all__ = [
    "Pieces", "DictPieces", "add_adjoints", "dict_piece", "as_adjoint", "zero_adjoint", "piece_of", "unlist",
    "unitems", "unvalues", "unget", "default_part", "unfield", "copied", "copied_array", "copied_shallow",
]  # fmt: skip


@helper(linear=("a", "b"), jointly=True)
def add_adjoints(a, b):
    """``a + b`` for adjoints: leaf by leaf for containers, ``None`` and missing keys as
    zeros."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        like = getattr(a, "like", None)
        out = DictPieces(a, like=getattr(b, "like", None) if like is None else like)
        for k, v in b.items():
            out[k] = add_adjoints(dict.__getitem__(out, k), v) if k in out else v
        return out
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        if len(a) != len(b):
            # a zero kept for an item overwritten since (`rows[i] = [*rows[i], v]`): the
            # old item's adjoint may be shorter than the new one's zeros
            if _all_zero(a) or _all_zero(b):  # (``b``: the old item's, where both are)
                return as_adjoint(b if _all_zero(a) else a)
            raise ValueError(f"adjoints of containers of lengths {len(a)} and {len(b)}")
        return Pieces([add_adjoints(x, y) for x, y in zip(a, b)])
    if _is_empty(a) or _is_empty(b):  # an empty list's adjoint holds no part: a zero
        return b if _is_empty(a) else a
    if _is_zero_number(a) and isinstance(b, (dict, tuple, list)):
        return as_adjoint(b)
    if _is_zero_number(b) and isinstance(a, (dict, tuple, list)):
        return as_adjoint(a)
    return a + b


@helper(linear=("x",), like="x", allocates="new")
def copied(x):
    """``x`` with each array in it copied (``np.copy``), item by item for a container: the
    gradient of a container argument that may share memory with the caller's data, returned
    as the caller's own."""
    if isinstance(x, dict):
        return DictPieces(((k, copied(v)) for k, v in x.items()), like=getattr(x, "like", None))
    if isinstance(x, (tuple, list)):
        return Pieces([copied(v) for v in x])
    return None if x is None else np.copy(x)


@helper(linear=("x",), like="x")
def copied_array(x):
    """``x`` copied where it is an array (a helper of the user's writes into it in place);
    any other value as it is (a container the helper fills stays the caller's, as in
    Python)."""
    return x.copy() if hasattr(x, "__array__") else x


@helper(linear=("x",), like="x")
def copied_shallow(x):
    """``x`` copied one level: an array's values, a list's or dict's items (the same objects
    in a new container); any other value as it is. For a differentiated argument a helper of
    the user's changes in place, whose value before the change the adjoint still reads."""
    if isinstance(x, (list, dict)):
        return type(x)(x) if type(x) in (list, dict) else x.copy()
    return x.copy() if hasattr(x, "__array__") else x


def dict_of_kind(like: dict, items) -> dict:
    """A dict of ``like``'s type holding ``items`` (a ``defaultdict`` keeps its factory)."""
    if isinstance(like, collections.defaultdict):
        return type(like)(like.default_factory, items)
    return type(like)(items)


def _is_zero_number(x) -> bool:
    return type(x) in (int, float) and x == 0


def _is_empty(t) -> bool:
    return isinstance(t, (tuple, list)) and not t


def _all_zero(t) -> bool:
    """Whether the adjoint ``t`` is zero in every leaf."""
    if t is None:
        return True
    if isinstance(t, dict):
        return all(_all_zero(v) for v in t.values())
    if isinstance(t, (tuple, list)):
        return all(_all_zero(v) for v in t)
    return not np.any(t)


@helper(called_by="library")
class Pieces(tuple):
    """The adjoint of a tuple or list value, item by item (the pieces of ``np.split``, the
    fields of ``np.linalg.slogdet``, the layers of a parameter list). Adjoints accumulate with
    ``+``, which here adds item by item instead of concatenating; it is a tuple, so NumPy takes
    it as a sequence of arrays."""

    __slots__ = ()

    def __add__(self, other):
        if other is None or _is_zero_number(other):
            return self
        if isinstance(other, (tuple, list)) and len(other) == len(self):
            return add_adjoints(self, other)
        return NotImplemented

    __radd__ = __add__

    def __getitem__(self, item):
        got = tuple.__getitem__(self, item)
        return Pieces(got) if isinstance(item, slice) else got


@helper(called_by="library")
class DictPieces(dict):
    """The adjoint of a dict, key by key; a key that is missing is a zero. Adds key by key.

    ``like``, where known, is the dict this is the adjoint of: reading a key it holds but the
    adjoint does not gives zeros shaped like its value there, so that generated code can read
    the adjoint of any entry (``dd[k]``); without it a missing key reads as None."""

    __slots__ = ("like",)

    def __init__(self, *args, like=None):
        dict.__init__(self, *args)
        self.like = like

    def __add__(self, other):
        if other is None or _is_zero_number(other):
            return self
        if isinstance(other, dict):
            return add_adjoints(self, other)
        return NotImplemented

    __radd__ = __add__

    def __getitem__(self, key):
        if key in self:
            return dict.__getitem__(self, key)
        like = self.like
        if like is not None and key in like:
            return zero_adjoint(like[key])
        return None  # a zero of unknown shape


@helper(linear=("x",))
def as_adjoint(x):
    """``x`` (a gradient in the user's container types, as a vjp returns it) as an adjoint
    that adds leaf by leaf. Arrays and numbers are returned as they are."""
    if type(x) is np.ndarray:  # the usual leaf, decided at once
        return x
    if isinstance(x, dict):
        return DictPieces((k, as_adjoint(v)) for k, v in x.items())
    if isinstance(x, (tuple, list)):  # (arrays, the usual items, as they are)
        return Pieces([v if type(v) is np.ndarray else as_adjoint(v) for v in x])
    if is_record(x):  # a record's gradient: adds field by field, as a dict does
        fields = record_fields(x).items()
        return DictPieces((k, as_adjoint(v)) for k, v in fields if not is_static_leaf(v))
    return x


@helper(constant=True, like="x", allocates="new", dtype="operand")
def zero_adjoint(x):
    """A zero adjoint for ``x``: zeros of its shape, item by item for a list or tuple, an
    empty :class:`DictPieces` for a dict, its receiver's for a bound method, 0.0 for a number
    or a name not yet assigned (float zeros for an integer or boolean array: its adjoint, as a
    seed of a callee, must be a float)."""
    if isinstance(x, dict):
        return DictPieces(like=x)
    if isinstance(x, (list, tuple)):
        return Pieces([zero_adjoint(v) for v in x])
    if is_record(x):
        return DictPieces(like=record_fields(x))
    if isinstance(x, types.MethodType):
        return zero_adjoint(x.__self__)  # a bound method's adjoint is its receiver's
    if x is None or isinstance(x, (float, int, str)):
        return 0.0  # a name the forward sweep never reached on this path
    if getattr(getattr(x, "dtype", None), "kind", "f") in "iub":
        return np.zeros_like(x, dtype=np.float64)
    return np.zeros_like(x)


@helper(linear=("adjoint",))
def piece_of(adjoint, key, like):
    """The part of a container ``adjoint`` at ``key`` of the container ``like`` it belongs to
    (None where it is zero). A namedtuple's field is found by name or by position."""
    if adjoint is None:
        return None
    if isinstance(adjoint, dict):
        return adjoint.get(key)
    if isinstance(key, str) and hasattr(type(like), "_fields"):
        key = type(like)._fields.index(key)
    return adjoint[key]


@helper(linear=("adjoint",))
def dict_piece(adjoint, key, value):
    """The adjoint of ``value``, stored at ``key`` of a dict, from the dict's adjoint: zeros
    shaped like ``value`` where the dict's adjoint has no part there."""
    part = None if adjoint is None else adjoint.get(key)
    return zero_adjoint(value) if part is None else part


@helper(linear=("g",), like="x")
def unlist(g, x):
    """The adjoint of ``list(x)`` or ``tuple(x)``: nothing for a dict or its keys (the keys
    have no derivative), the rows stacked for an array, ``g`` item by item otherwise."""
    if isinstance(x, (dict, type({}.keys()))):
        return DictPieces() if isinstance(x, dict) else None
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        rows = [np.zeros(x.shape[1:], x.dtype) if v is None else v for v in g]
        return np.stack(rows) if rows else np.zeros_like(x)
    return as_adjoint(g)


@helper(linear=("g",))
def unitems(g, x):
    """The adjoint of the dict ``x`` from that of ``list(x.items())`` (pairs of key and
    value, in ``x``'s order)."""
    out = DictPieces()
    for k, pair in zip(x, g):
        part = None if pair is None else pair[1]
        if part is not None:
            out[k] = part
    return out


@helper(linear=("g",))
def unvalues(g, x):
    """The adjoint of the dict ``x`` from that of ``list(x.values())``."""
    return DictPieces((k, v) for k, v in zip(x, g) if v is not None)


@helper(linear=("g",))
def unget(g, x, key):
    """The adjoint of the dict ``x`` in ``x.get(key, default)``."""
    return DictPieces({key: g}) if key in x else DictPieces()


@helper(linear=("g",), like="default")
def default_part(g, x, key, default):
    """The adjoint of ``default`` in ``x.get(key, default)``: ``g`` where ``key`` is missing."""
    return g if key not in x else zero_adjoint(default)


@helper(linear=("g",), like="x")
def unfield(g, x, name):
    """The adjoint of a namedtuple or record ``x`` from that of its field ``x.name``; where
    ``x.name`` is a method bound to ``x`` (``act = self.smooth``), ``x``'s own adjoint, which
    is what the method's vjp gives for its receiver."""
    fields = getattr(type(x), "_fields", None)
    if is_record(x):
        refuse_property(x, name)
    if (is_record(x) or fields is not None) and is_bound_method(x, name):
        return g
    if is_record(x):
        return DictPieces({name: g}, like=record_fields(x))
    if fields is None:
        raise SourcegradError(
            f"`.{name}` is read from a {type(x).__name__} object with a differentiated value "
            "inside; sourcegrad differentiates through dicts, lists, tuples, namedtuples and "
            "dataclasses: hold the parameters in one of those"
        )
    return Pieces([g if f == name else zero_adjoint(v) for f, v in zip(fields, x)])
