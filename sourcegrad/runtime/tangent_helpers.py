"""Functions that generated forward-mode (tangent) code calls.

A tangent is None where it is known to be zero only inside these helpers' arguments; what they
return is always a value of the primal's structure, so later code never tests for None.
"""

from __future__ import annotations

import types

import numpy as np

from ..errors import SourcegradError
from .facts import helper
from .helpers import Shape
from .records import (
    is_field,
    is_record,
    is_static_leaf,
    rebuilt_record,
    record_fields,
    refuse_property,
)
from .shape_helpers import index_items
from .trees import Pieces, dict_of_kind


@helper(constant=True, allocates="new")
def zero_tangent(x):
    """A zero tangent for ``x``: zeros of its shape and dtype, item by item for containers;
    0.0 for an integer or boolean number or array (its tangent is zero, and it may still be
    multiplied by one: a name that holds a mask before it holds a differentiated value, a
    flag `k == "b"` in `v * (k == "b")`); None for values that carry no derivative (shapes,
    strings, None). A NumPy float scalar gets a zero of its own type."""
    if x is None or isinstance(x, (str, Shape)):
        return None
    if isinstance(x, (int, np.integer, np.bool_)):
        return 0.0
    if isinstance(x, np.generic):
        return x.dtype.type(0) if x.dtype.kind in "fc" else None
    if isinstance(x, float):
        return 0.0
    if isinstance(x, dict):
        return _dict_like(x, ((k, zero_tangent(v)) for k, v in x.items()))
    if isinstance(x, Pieces):
        return Pieces(zero_tangent(v) for v in x)
    if isinstance(x, tuple) and hasattr(type(x), "_fields"):
        return type(x)(*[zero_tangent(v) for v in x])
    if isinstance(x, (list, tuple)):
        return type(x)(zero_tangent(v) for v in x)
    if is_record(x):
        return rebuilt_record(x, {k: zero_tangent(v) for k, v in record_fields(x).items()})
    dtype = getattr(x, "dtype", None)
    if dtype is not None and dtype.kind in "fc":
        return np.zeros_like(x)
    if dtype is not None and dtype.kind in "biu":
        return 0.0
    if isinstance(x, (complex, np.floating)):
        return 0.0
    return None


@helper(linear=("t",), like="z")
def broadcast_like(t, z):
    """Tangent ``t`` broadcast to the shape of ``z`` (the result it is the tangent of); a
    container's tangent (the tangent of an adjoint of a list or dict) as it is."""
    if isinstance(t, (tuple, list, dict)):
        return t
    shape = np.shape(z)
    if np.shape(t) == shape:
        return t
    return np.broadcast_to(t, shape)


@helper(linear=("dx", "dv"), jointly=True, allocates="outer")
def assign_tangent(dx, index, dv, x, v=None):
    """The tangent of ``x`` after ``x[index] = v``: ``dx`` (zeros when None) with ``dv`` (zero
    when None) written at ``index``; a new array, never a view of ``dx``. For a dict or a
    list ``x``, a new container of the same kind (where ``dv`` is None, zeros shaped like
    ``v`` where it is given, else like the item overwritten). Into an integer or boolean array
    NumPy casts ``v`` by cutting it: the tangent is zeros (floating, of ``x``'s shape)."""
    if _cuts_what_it_holds(x):
        return np.zeros(np.shape(x))
    if isinstance(x, dict):
        out = _DictTangent(zero_tangent(x) if dx is None else dx, like=x)
        if dv is None:  # zeros shaped like the value written, read when it is there
            out.pop(index, None)
        else:
            out[index] = dv
        return out
    if isinstance(x, list):
        out = zero_tangent(x) if dx is None else type(dx)(dx)
        if dv is None and v is not None:
            dv = zero_tangent(v)
        out[index] = zero_tangent(x[index]) if dv is None and index in _keys(x) else dv
        return out
    out = np.zeros_like(x) if dx is None else np.array(dx, copy=True)
    out[index] = 0.0 if dv is None else dv
    return out


def _cuts_what_it_holds(x) -> bool:
    """Whether ``x`` is an integer or boolean array, into which NumPy writes a float cut."""
    dtype = getattr(x, "dtype", None)
    return dtype is not None and dtype.kind not in "fcO"


@helper(called_by="running", passes=True)
def write_tangent(dx, index, dv, x):
    """:func:`assign_tangent`'s value, written into ``dx`` itself (returned) where ``dx`` is
    a writeable NumPy array of the array ``x``'s shape: the running code passes only a tangent
    it owns (nothing else reaches it), so a loop writing a tangent element by element copies
    nothing. Anything else (None, a number, a container's tangent, another array type) goes to
    :func:`assign_tangent`."""
    if (
        type(dx) is np.ndarray
        and dx.flags.writeable
        and not isinstance(x, (dict, list))
        and dx.shape == np.shape(x)
        and not _cuts_what_it_holds(x)
    ):
        dx[index] = 0.0 if dv is None else dv
        return dx
    return assign_tangent(dx, index, dv, x)


class _DictTangent(dict):
    """The tangent of a dict after ``x[k] = v`` (``like`` is ``x``, which the generated code
    writes into right after): a key it lacks but ``like`` holds reads as zeros shaped like
    ``like``'s value there, the value just written."""

    __slots__ = ("like",)

    def __init__(self, items, like):
        dict.__init__(self, items)
        self.like = like

    def __getitem__(self, key):
        if key in self:
            return dict.__getitem__(self, key)
        if key in self.like:
            return zero_tangent(self.like[key])
        raise KeyError(key)


def _dict_like(x, items):
    """A dict of ``x``'s type holding ``items`` (a :class:`_DictTangent` keeps its ``like``:
    the value is itself a tangent, at order 3 and up)."""
    return _DictTangent(items, x.like) if isinstance(x, _DictTangent) else dict_of_kind(x, items)


def _keys(x):
    return x if isinstance(x, dict) else range(-len(x), len(x))


@helper(linear=("dxs", "dv"), jointly=True)
def append_tangent(dxs, dv, xs, v):
    """The tangent of ``[*xs, v]``; a None in ``dv`` (a display's constant item, as in
    ``xs.append((2.0, w))``) is ``v``'s item's zero."""
    if dxs is None:
        dxs = zero_tangent(list(xs))
    return [*dxs, _filled(dv, v)]


@helper(called_by="running")
def tangent_item(dv, v):
    """The item :func:`append_tangent` puts at the end of a list's tangent for ``v``, whose
    tangent is ``dv``: what the running code appends to a tangent list it grows in place."""
    return _filled(dv, v)


def _filled(dv, v):
    """The tangent ``dv`` of ``v`` with zeros for None, item by item in a tuple or list."""
    if dv is None:
        return zero_tangent(v)
    if type(dv) in (tuple, list) and isinstance(v, (tuple, list)) and len(dv) == len(v):
        items = [_filled(t, x) for t, x in zip(dv, v)]
        return items if type(dv) is list else tuple(items)
    return dv


@helper(called_by="running")
def float_gradient(t) -> float:
    """A tangent as the gradient with respect to a float: a float, 0.0 for no tangent."""
    return 0.0 if t is None else float(t)


@helper(called_by="running")
def typed_gradient(t, kind):
    """A tangent as the gradient with respect to a NumPy scalar of type ``kind``: a ``kind``,
    zero for no tangent."""
    return kind(0) if t is None else kind(t)


@helper(linear=("tangents",))
def pack_tangent(kind, tangents, values):
    """The tangent of a tuple or list literal: each item's tangent, zeros where it is None."""
    items = [zero_tangent(v) if t is None else t for t, v in zip(tangents, values)]
    return items if kind is list else tuple(items)


@helper(linear=("t",))
def item_tangent(t, index):
    """The tangent of ``x[index]`` (``x`` an array, list or tuple) from the tangent of ``x``."""
    if t is None:
        return None
    return t[index]


@helper(linear=("ts",))
def tangent_items(ts, xs):
    """The tangents of the items of a sequence operand (``np.concatenate``'s ``arrays``): each
    item's tangent, zeros like the item where its tangent is None (a constant item)."""
    return [np.zeros_like(x) if t is None else t for t, x in zip(ts, xs)]


@helper(linear=("t",))
def pad_tangent(t, pad_width, mode="constant"):
    """The tangent of ``np.pad(a, pad_width, mode)`` from the tangent ``t`` of ``a``: padded
    with zeros in constant mode (the fill values are constants), padded like ``a`` in the
    modes that copy elements of ``a`` and take no options ("edge", "wrap")."""
    if mode == "constant":
        return np.pad(t, pad_width)
    if mode in ("edge", "wrap"):
        return np.pad(t, pad_width, mode)
    raise SourcegradError(f"the derivative of np.pad(mode={mode!r}) is not supported")


# ---------------------------------------------------------------- linear algebra tangents
# Forward-mode rules of np.einsum, uneinsum, np.linalg.solve and the solve adjoints call the
# functions below. Each is linear (or bilinear) in its array arguments, or returns a constant,
# so that its own tangent rule is a call to itself: generated tangent code can be differentiated
# again in forward mode.


@helper(constant=True)
def tangent_slots(tangents):
    """The positions of the items of ``tangents`` (a tuple of tangents) that are not None."""
    if tangents is None:
        return ()
    return tuple(i for i, t in enumerate(tangents) if t is not None)


def _einsum_output(ins: str) -> str:
    """The output subscripts NumPy gives ``np.einsum`` inputs ``ins`` in implicit mode."""
    letters = ins.replace(",", "").replace(".", "")
    once = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return ("..." if "..." in ins else "") + once


@helper(constant=True)
def slot_subscripts(subscripts, slots):
    """Subscripts for :func:`stack_slots`'s operands: with two slots or more, each operand at a
    slot gets a new leading axis, summed over (or kept, for the operands of ``uneinsum``)."""
    if len(slots) < 2:
        return subscripts
    spec = subscripts.replace(" ", "")
    if "->" in spec:
        ins, out = spec.split("->")
    else:
        ins, out = spec, _einsum_output(spec)
    new = next(c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in spec)
    terms = [new + t if i in slots else t for i, t in enumerate(ins.split(","))]
    return ",".join(terms) + "->" + out


@helper(linear=("values", "tangents"), jointly=True)
def stack_slots(values, tangents, slots, like):
    """The operands of a multilinear function's tangent as one call.

    With one slot ``k``: ``values`` with item ``k`` replaced by ``tangents[k]``. With more,
    each item ``k`` at a slot becomes a stack, along a new first axis with one entry per slot,
    of ``values[k]`` with ``tangents[k]`` at ``k``'s own entry: summing a multilinear function
    of the stacks over that axis (:func:`slot_subscripts`) gives the sum over slots of the
    function with one item replaced by its tangent. Linear in ``values`` and ``tangents``
    together; None (a zero, also for a whole argument) reads as zeros shaped like ``like``."""
    n = len(like)
    values = (None,) * n if values is None else values
    tangents = (None,) * n if tangents is None else tangents

    def item(seq, k):
        v = seq[k]
        return np.zeros_like(like[k]) if v is None else v

    out = []
    for k in range(n):
        if k not in slots:
            out.append(item(values, k))
        elif len(slots) == 1:
            out.append(item(tangents, k))
        else:
            out.append(np.stack([item(tangents if s == k else values, k) for s in slots]))
    return tuple(out)


@helper(tangent_rule=True)
def unstack_slots(parts, slots):
    """The tangent of ``uneinsum`` through its operands, from ``uneinsum`` over
    :func:`stack_slots`'s operands: an operand's adjoint does not read the operand itself, so
    with one slot its item is zeroed, and with more its stacked item is summed over the new
    axis leaving out its own entry. Linear in ``parts``."""
    out = list(parts)
    if len(slots) == 1:
        out[slots[0]] = np.zeros_like(out[slots[0]])
    elif len(slots) > 1:
        for j, k in enumerate(slots):
            p = out[k]
            out[k] = np.sum(p[:j], axis=0) + np.sum(p[j + 1 :], axis=0)
    return Pieces(out)


@helper(tangent_rule=True)
def einsum_call(subscripts, operands):
    """``np.einsum(subscripts, *operands)``."""
    return np.einsum(subscripts, *operands)


@helper(tangent_rule=True)
def pieces(parts):
    """``parts`` (a tuple of arrays) as :class:`Pieces`, which add item by item."""
    return Pieces(parts)


@helper(linear=("m", "v"))
def matvec_like(m, v, x, transpose=False):
    """``m @ v`` (``m^T @ v`` with ``transpose``) for a (batch of) matrices ``m``, where ``v``
    is a (batch of) vector(s) when ``x``, the solution of the ``np.linalg.solve`` it belongs
    to, is one (``np.ndim(x) == np.ndim(m) - 1``). Bilinear in ``m`` and ``v``."""
    if transpose:
        m = np.swapaxes(m, -1, -2)
    if np.ndim(x) == np.ndim(m) - 1:
        return (m @ v[..., None])[..., 0]
    return m @ v


@helper(tangent_rule=True)
def solve_like(a, w, x):
    """``np.linalg.solve(a, w)``, with ``w`` a (batch of) vector(s) when ``x`` is one (as in
    :func:`matvec_like`)."""
    if np.ndim(x) == np.ndim(a) - 1:
        return np.linalg.solve(a, w[..., None])[..., 0]
    return np.linalg.solve(a, w)


@helper(constant=True)
def euclidean_weight(ord):
    """1.0 when ``np.linalg.norm(..., ord)`` is the 2-norm or Frobenius norm, else 0.0."""
    return 1.0 if ord is None or ord == "fro" or (not isinstance(ord, str) and ord == 2) else 0.0


@helper(linear=("ts",))
def sum_tangents(ts):
    """The tangent of Python's ``sum(xs)`` from the tangents of the items (None: zero)."""
    items = [t for t in ts if t is not None] if isinstance(ts, (list, tuple)) else ts
    return sum(items) if len(items) else 0.0


# ---------------------------------------------------------------- containers


@helper(linear=("a", "b"), jointly=True)
def add_tangents(a, b):
    """``a + b`` for two tangents of one value (the parts its operands contribute): item by
    item where the value is a tuple, namedtuple, list or dict, in ``a``'s type (``+`` would
    join two tuples); None is a zero."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        keys = list(a) + [k for k in b if k not in a]
        return _dict_like(a, ((k, add_tangents(a.get(k), b.get(k))) for k in keys))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        if len(a) != len(b):
            raise ValueError(f"tangents of one value of lengths {len(a)} and {len(b)}")
        items = [add_tangents(x, y) for x, y in zip(a, b)]
        return type(a)(*items) if hasattr(type(a), "_fields") else type(a)(items)
    return a + b


@helper(linear=("dx",))
def items_tangent(dx, x):
    """The tangent of ``list(x.items())``: pairs of no tangent for the key and the value's."""
    return [(None, dx[k]) for k in x]


@helper(linear=("dx",))
def values_tangent(dx, x):
    """The tangent of ``list(x.values())``."""
    return [dx[k] for k in x]


@helper(linear=("dx",))
def list_tangent(dx, x):
    """The tangent of ``list(x)``: none for a dict's keys, item by item otherwise (zeros for
    an item whose tangent is None)."""
    if isinstance(x, (dict, type({}.keys()))):
        return [None] * len(x)
    if isinstance(dx, (list, tuple)) and isinstance(x, (list, tuple)):
        return [zero_tangent(v) if t is None else t for t, v in zip(dx, x)]
    return list(dx)


@helper(linear=("dx", "ddefault"), jointly=True)
def get_tangent(dx, x, key, ddefault, default=None):
    """The tangent of ``x.get(key, default)`` (zeros where the default has none)."""
    if key in x:
        return zero_tangent(x[key]) if dx is None else dx[key]  # (a constant dict: none)
    if ddefault is None:
        return zero_tangent(default)
    return ddefault


@helper(linear=("t",))
def field_tangent(t, x, name):
    """The tangent of ``x.name`` (a namedtuple's or record's field) from ``x``'s tangent
    ``t``; a zero where ``t`` is None (an object that only seems to vary: restored from a
    tape that holds varying values)."""
    value = getattr(x, name)
    if isinstance(value, types.MethodType) and value.__self__ is x:
        # a method bound to x (`layer.forward`): its tangent is x's own, read by the
        # derivative of the method as the tangent of its receiver
        return zero_tangent(x) if t is None else t
    if t is not None:
        refuse_property(x, name)  # (its getter's tangent is no field's)
    if t is None or (is_record(x) and (is_static_leaf(value) or not is_field(x, name))):
        # a record's setting (an int, a function) or class attribute (a ClassVar) has none
        return zero_tangent(value)
    return getattr(t, name)


@helper(linear=("t",), like="x")
def complete_tangent(t, x):
    """The tangent ``t`` of ``x`` with a zero tangent wherever a part of it is None (a
    constant item of a display ``[x, c]`` handed to a function), in ``x``'s container types."""
    if t is None:
        return zero_tangent(x)
    if isinstance(x, dict) and isinstance(t, dict):
        return _dict_like(x, ((k, complete_tangent(t.get(k), v)) for k, v in x.items()))
    if isinstance(x, (list, tuple)) and isinstance(t, (list, tuple)):
        items = [complete_tangent(ti, v) for ti, v in zip(t, x)]
        return type(x)(*items) if hasattr(type(x), "_fields") else type(x)(items)
    return t


@helper(linear=("t",), like="z")
def record_tangent(t, z):
    """The tangent of the record ``z`` made from fields whose tangents ``t`` holds by name
    (None for a constant field): a record like ``z``, zeros where ``t`` has none."""
    t = t or {}
    fields = record_fields(z)
    return rebuilt_record(z, {k: complete_tangent(t.get(k), v) for k, v in fields.items()})


@helper(tangent_rule=True)
def exponent_tangent(dy, z, x):
    """The part of the tangent of ``z = x ** y`` that the exponent's tangent ``dy`` makes,
    ``dy * z * log(x)``; nothing where ``dy`` is a plain zero (the tangent of an integer, such
    as a loop counter in the exponent), so that a negative base gives no NaN there."""
    if isinstance(dy, (int, float)) and dy == 0:
        return 0.0
    return dy * z * np.log(np.where(x == 0, 1, x))


@helper(linear=("ts",), like="z")
def join_index_tangent(ts, x, index, z):
    """The tangent of ``z = x[index]`` from the tangent ``ts`` of a differentiated ``index``:
    for ``np.r_`` and ``np.c_`` (linear in their items), the same join of the items' tangents,
    zeros for constant items and ranges; for indexing an array, zeros (an index is an
    integer, with no derivative)."""
    items = index_items(x, index)
    if items is None:
        return zero_tangent(z)
    tangents = ts if isinstance(index, tuple) else (ts,)
    parts = tuple(
        np.zeros(np.shape(x[it] if isinstance(it, slice) else it)) if t is None else t
        for t, it in zip(tangents, items)
    )
    return x[parts if isinstance(index, tuple) else parts[0]]


@helper(linear=("ts",), jointly=True)
def meshgrid_tangent(ts, xi, indexing="xy", sparse=False):
    """The tangent of ``np.meshgrid(*xi, indexing=indexing, sparse=sparse)`` (linear in each
    input): the grids of the inputs' tangents, zeros for a constant input."""
    items = [np.zeros(np.shape(x)) if t is None else t for t, x in zip(ts, xi)]
    return np.meshgrid(*items, indexing=indexing, sparse=sparse)
