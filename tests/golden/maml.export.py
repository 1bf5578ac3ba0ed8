"""The derivative of maml, exported by sourcegrad 0.1.0."""

# Made by sourcegrad.export from maml in tests/test_export_inner_grad.py, line 24.
# d_maml(p, xs, ys, xq, yq) returns (maml(p, xs, ys, xq, yq), its gradient with respect to p), as
# sourcegrad.value_and_grad(maml, wrt=0) does.
# It is the code sourcegrad runs (optimized, specialised to the shapes) for arguments of this
# signature, and only for them: other shapes or dtypes need another export.
#   p: {w: float64[3, 2], b: float64[2]}
#   xs: float64[5, 3]
#   ys: float64[5, 2]
#   xq: float64[4, 3]
#   yq: float64[4, 2]
# source sha256: 57c8492b71289372d5280eb179a367cf5c1ac274c2337cc4d96abdef03b464d8 of maml, mse


from __future__ import annotations

import collections
import copy
import dataclasses
import functools
import inspect
import math
import threading
import types
import weakref

import numpy as np

__all__ = ["d_maml"]


# vjp_grad_mse: the vjp of grad_mse (vjp_of(grad_mse, wrt)), its Hessian times g_out
def vjp_grad_mse(function, p, x, y, *, g_out):
    return run_vjp_grad_mse(p, x, y, tp=g_out)


# the build vjp_grad_mse runs: forward mode over the pure code of grad_mse, along g_out
def run_vjp_grad_mse(p, x, y, *, tp):
    # line 3: w = p['w']
    w = p["w"]
    tw = tp["w"]
    # line 4: pred_1 = x @ w
    pred_1 = x @ w
    tpred_1 = x @ tw
    # line 5: b = p['b']
    b = p["b"]
    tb = tp["b"]
    # line 6: pred = np.tanh(pred_1 + b)
    pred = np.tanh(pred_1 + b)
    tpred = (tpred_1 + tb) * (1.0 - pred * pred)
    # line 7: out_1 = pred - y
    out_1 = pred - y
    tout_1 = broadcast_like(tpred, out_1)
    # line 8: out_2 = out_1 ** 2
    out_2 = out_1**2
    dpred_1 = np.size(out_2)
    dpred_3 = 2 / dpred_1
    # line 12: dpred = sum_to(2 / np.size(out_2) * out_1, pred)
    dpred = sum_to(dpred_3 * out_1, pred)
    tdpred = sum_to(dpred_3 * tout_1, pred)
    # line 14: dpred_2 = dpred * (1.0 - pred * pred)
    dpred_2_2 = 1.0 - pred * pred
    tdpred_2 = tdpred * dpred_2_2 + dpred * -(2.0 * (tpred * pred))
    # line 15: db = sum_to(dpred_2, b)
    tdb = sum_to(tdpred_2, b)
    dw_1 = x.T
    # line 16: dw = x.T @ sum_to(dpred_2, pred_1)
    tdw = dw_1 @ sum_to(tdpred_2, pred_1)
    return gradient_like(p, {("w",): tdw, ("b",): tdb})


# grad_mse: what sg.grad(mse) hands out (Gradients.grad), its gradient only
def grad_mse(p, x, y):
    return run_grad_mse(p, x, y)[1]


# the gradient of mse (test_export_inner_grad.py:19), the gradient that runs, taken while maml runs
def run_grad_mse(p, x, y):
    spare = pool.spare
    buffers = spare.pop() if spare else pool.new()
    w = p["w"]
    pred_1 = np.dot(x, w, buffers[0])
    b = p["b"]
    pred = np.tanh(np.add(pred_1, b, out=pred_1), out=pred_1)
    out_1 = np.subtract(pred, y, buffers[1])
    out_2 = out_1**2
    out = np.mean(out_2)

    # line 21: return np.mean((pred - y) ** 2)
    dpred = 2 / np.size(out_2) * out_1
    # line 20: pred = np.tanh(x @ p["w"] + p["b"])
    dpred_2 = np.multiply(
        dpred, np.subtract(1.0, np.multiply(pred, pred, out=pred), out=pred), out=dpred
    )
    db = sum_leading(dpred_2, 1)
    dw = np.dot(x.T, dpred_2)
    spare.append(buffers)
    return (out, build_gradient_2(p, dw, db))


# the gradient of maml (test_export_inner_grad.py:24), the derivative that runs
def d_maml(p, xs, ys, xq, yq):
    tape = []
    g_1 = sg.grad(mse)
    g = g_1(p, xs, ys)
    items = {}
    seq_2 = list(p.keys())
    n = len(seq_2)
    for k_2 in range(n):
        k_1 = seq_2[k_2]
        items_1 = p[k_1]
        items_2 = g[k_1]
        items_3 = 0.1 * items_2
        items_4 = items_1 - items_3
        items = items.copy()
        items[k_1] = items_4
        tape.append(shape_of(items_1))
        tape.append(shape_of(items_3))
        tape.append(shape_of(items_4))
    adapted = items
    out = mse(adapted, xq, yq)

    # line 27: return mse(adapted, xq, yq)
    dadapted = as_adjoint(vjp_mse(adapted, xq, yq, g_out=1.0))
    # line 26: adapted = {k: p[k] - 0.1 * g[k] for k in p}
    ditems = dadapted
    dg = zero_adjoint(g)
    dp = zero_adjoint(p)
    dg = item_adjoints(dg, g)
    for k_2 in reversed(range(n)):
        items_4 = tape.pop()
        items_3 = tape.pop()
        items_1 = tape.pop()
        k_1 = seq_2[k_2]
        ditems_4 = sum_to(written_part(ditems, k_1), items_4)
        ditems = zero_index(ditems, k_1)
        ditems_2_1 = 0.1 * sum_to(-ditems_4, items_3)
        dg = add_to_item(dg, ditems_2_1, g, k_1)
        dp += unindex(sum_to(ditems_4, items_1), p, k_1)
    dg = joined_items(dg)
    # line 25: g = sg.grad(mse)(p, xs, ys)
    dp += as_adjoint(vjp_of(g_1, 0)(p, xs, ys, g_out=dg))
    return (out, gradient_like(p, dp))


def vjp_mse(*args, g_out, **kwargs):
    value, grads = run_vjp_mse(*args, **kwargs, g_out=g_out)
    return grads


# the vjp of mse (test_export_inner_grad.py:19), the derivative that runs
def run_vjp_mse(p, x, y, *, g_out):
    w = p["w"]
    pred_1 = np.dot(x, w)
    b = p["b"]
    pred = np.tanh(np.add(pred_1, b, out=pred_1), out=pred_1)
    out_1 = pred - y
    out_2 = out_1**2
    out = np.mean(out_2)

    # line 21: return np.mean((pred - y) ** 2)
    dpred = sum_to(seed_like(g_out, out) / np.size(out_2) * 2 * out_1, pred)
    # line 20: pred = np.tanh(x @ p["w"] + p["b"])
    dpred_2 = dpred * (1.0 - pred * pred)
    db = sum_leading(dpred_2, 1)
    dw = np.dot(x.T, dpred_2)
    return (out, build_gradient(p, dw, db))


# ----------------------------------------------------------------------------
# What the derivative reads: sourcegrad's runtime helpers (copied from its source),
# the functions of yours it calls and the globals it reads (their values when exported).


class Shape(tuple):
    """A shape kept on the tape in place of an array whose values the adjoint never reads;
    ``cuts``: whether the array was of an integer or boolean dtype (:func:`through_write`);
    ``dtype`` and ``order`` (or ``like``, an empty array of its class and layout): what
    :meth:`zeros` makes zeros like the array by (the adjoint of its item, :func:`unindex`)."""

    cuts = False
    dtype = None
    order = "C"
    like = None

    def zeros(self, g):
        """Zeros of the array this is the shape of, as ``np.zeros_like`` of it makes them
        (shape, dtype, memory layout and class); of another array library (CuPy) through
        its own ``zeros_like`` of ``g``, a value of that library."""
        if self.like is not None:
            return np.zeros_like(self.like)
        if type(g) is np.ndarray or not hasattr(g, "__array_function__"):
            return np.zeros(self, self.dtype, self.order)
        return np.zeros_like(g, self.dtype, shape=self)


def _is_basic_index(idx) -> bool:
    for i in idx if isinstance(idx, tuple) else (idx,):
        if not (i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice))):
            return False
    return True


def _is_mask(idx) -> bool:
    return getattr(idx, "dtype", None) is not None and idx.dtype == bool


def _scatter(out, g, idx):
    """``out`` with ``g`` added at ``idx``."""
    if _is_basic_index(idx) or _is_mask(idx):
        out[idx] = g
    else:
        np.add.at(out, idx, g)
    return out


def _is_zero_number(x) -> bool:
    return type(x) in (int, float) and x == 0


def _all_zero(t) -> bool:
    """Whether the adjoint ``t`` is zero in every leaf."""
    if t is None:
        return True
    if isinstance(t, dict):
        return all(_all_zero(v) for v in t.values())
    if isinstance(t, (tuple, list)):
        return all(_all_zero(v) for v in t)
    return not np.any(t)


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


_PLAIN: dict = {}


_PLAIN_NAMES: set = set()


_PLAIN_TEST: list = []


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


def is_record(x) -> bool:
    """Whether ``x`` is an instance (not the class) of a dataclass, or of a plain class
    whose ``__init__`` only computes and stores fields."""
    if _is_plain(type(x)):
        return True
    return dataclasses.is_dataclass(x) and not isinstance(x, type)


def record_fields(x) -> dict:
    """``{field name: value}`` of the record ``x``, in the order the class declares them (of a
    plain class's instance, the order ``__init__`` stored them)."""
    if _is_plain(type(x)):
        return dict(vars(x))
    return {f.name: getattr(x, f.name) for f in dataclasses.fields(x)}


_STATIC = (
    str, bytes, bool, int, np.integer, np.bool_, type, np.ufunc, functools.partial,
    types.FunctionType, types.BuiltinFunctionType, types.MethodType,
)  # fmt: skip


def _stateless_callable(x) -> bool:
    return (
        callable(x)
        and not _is_plain(type(x))
        and not dataclasses.is_dataclass(x)
        and not getattr(x, "__dict__", True)
        and not hasattr(type(x), "__slots__")
    )


def is_static_leaf(x) -> bool:
    """Whether ``x``, a record's field, carries no derivative and is kept as it is in the
    record's gradient: None, a string, an integer or bool (or an array of them: a mask, indices),
    a function or class, or an object called like a function that holds nothing
    (``Sigmoid()``, a class with ``__call__``)."""
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "biu"
    return x is None or isinstance(x, _STATIC) or _stateless_callable(x)


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


def _is_empty(t) -> bool:
    return isinstance(t, (tuple, list)) and not t


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


GENERATED_LINES: dict = {}


def user_location(filename: str | None, lineno: int | None) -> tuple:
    """``(filename, lineno)``, or the user's file and line where they are in generated code."""
    found = GENERATED_LINES.get(filename) if filename else None
    if found is None or lineno is None:
        return filename, lineno
    user_file, line_map = found
    before = [k for k in line_map if k <= lineno]
    if not before:
        return filename, lineno
    return user_location(user_file, line_map[max(before)])


class SourcegradError(Exception):
    """Base class of every error sourcegrad raises on purpose."""

    def __init__(self, message: str, filename: str | None = None, lineno: int | None = None):
        filename, lineno = user_location(filename, lineno)
        self.filename = filename
        self.lineno = lineno
        self.reason = message
        where = f"{filename}:{lineno}: " if filename and lineno else ""
        super().__init__(where + message)


class UnsupportedSyntaxError(SourcegradError):
    """The function uses Python that sourcegrad does not differentiate."""


def unindex(g, x, idx):
    """The adjoint of ``x[idx]``: zeros shaped like ``x`` with ``g`` added at ``idx``
    (repeated integer indices accumulate). For a container ``x``, an adjoint container
    (:mod:`sourcegrad.runtime.trees`) with ``g`` at ``idx`` and zeros elsewhere: a dict's other
    keys are left out, a list's or tuple's other items are zeros of their own structure."""
    if type(x) is Shape:  # an array kept on the tape as its shape (shape_of)
        return _scatter(x.zeros(g), g, idx)
    if isinstance(x, dict):
        return DictPieces({idx: g}, like=x)
    if isinstance(x, (tuple, list)):
        pieces = [zero_adjoint(v) for v in x]
        if isinstance(idx, slice):
            for i, gi in zip(range(len(x))[idx], g):
                pieces[i] = gi
        else:
            pieces[idx] = g
        return Pieces(pieces)
    if not hasattr(x, "shape") and not np.isscalar(x):
        raise UnsupportedSyntaxError(
            f"`[...]` of a {type(x).__name__} object (its class's own __getitem__) reads a "
            "differentiated value; sourcegrad differentiates indexing of arrays, lists, tuples "
            "and dicts: index the container the object holds (`obj.items[i]`), or call a "
            "method of it by name",
            None,
            None,
        )
    if type(x) is np.ndarray and x.flags.c_contiguous:  # np.zeros_like's zeros, made faster
        return _scatter(np.zeros(x.shape, x.dtype), g, idx)
    return _scatter(np.zeros_like(x), g, idx)


def add_to_item(acc, g, xs, idx):
    """``acc + unindex(g, xs, idx)``, where ``acc`` is a list from :func:`item_adjoints`
    by adding ``g`` to the one item at an integer ``idx``, in place."""
    if type(acc) is not list:
        return acc + unindex(g, xs, idx)
    if isinstance(idx, (int, np.integer)) and not isinstance(idx, bool):
        acc[idx] = add_adjoints(acc[idx], g)
    else:
        acc[:] = add_adjoints(Pieces(acc), unindex(g, xs, idx))
    return acc


def _owned(like, g, seen) -> bool:
    """The common case, decided with attribute reads only: ``g`` is a fresh array of
    ``like``'s kind that no other leaf holds (then it is recorded as held)."""
    if (
        type(g) is np.ndarray
        and type(like) is np.ndarray
        and g.shape == like.shape
        and g.dtype == like.dtype
        and g.base is None
        and id(g) not in seen
    ):
        seen.add(id(g))
        return True
    return False


def is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _key_of(like, key):
    """Namedtuple fields may be read by position (``p[0]``) or by name (``p.w``); a list or
    tuple item by a negative position (``p[-1]``) too."""
    if isinstance(key, int) and isinstance(like, (list, tuple)) and -len(like) <= key < 0:
        key += len(like)
    if is_namedtuple(like) and isinstance(key, int):
        return like._fields[key]
    return key


_EMPTY: dict = {}


def is_container(x) -> bool:
    """A dict, list, tuple (namedtuples included) or record (a dataclass instance)."""
    return isinstance(x, (dict, list, tuple)) or is_record(x)


@functools.lru_cache(maxsize=1024)
def _is_property(cls, name: str) -> bool:
    """Whether ``cls`` defines ``name`` as a property or a ``functools.cached_property``
    (cached: ``unfield`` runs in loops)."""
    static = inspect.getattr_static(cls, name, None)
    return isinstance(static, (property, functools.cached_property))


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


def children(x):
    """``(key, child)`` pairs of a container, in a deterministic order (namedtuples and
    records by field)."""
    if isinstance(x, dict):
        return list(x.items())
    if is_namedtuple(x):
        return list(zip(x._fields, x))
    if is_record(x):
        return list(record_fields(x).items())
    return list(enumerate(x))


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


def dict_of_kind(like: dict, items) -> dict:
    """A dict of ``like``'s type holding ``items`` (a ``defaultdict`` keeps its factory)."""
    if isinstance(like, collections.defaultdict):
        return type(like)(like.default_factory, items)
    return type(like)(items)


def rebuilt_record(like, values: dict):
    """A shallow copy of the record ``like`` with each field ``k`` set to ``values[k]``
    (frozen dataclasses included)."""
    out = copy.copy(like)
    for k, v in values.items():
        object.__setattr__(out, k, v)
    return out


def rebuild(like, values: dict):
    """A container of ``like``'s type and keys holding ``values[key]``."""
    if isinstance(like, dict):
        return dict_of_kind(like, ((k, values[k]) for k in like))
    if is_namedtuple(like):
        return type(like)(*[values[f] for f in like._fields])
    if is_record(like):
        return rebuilt_record(like, values)
    return type(like)([values[i] for i in range(len(like))])


def scalar_gradient(like, g):
    """The gradient ``g`` of a scalar ``like`` in ``like``'s own kind: a float for a Python
    float, a NumPy scalar of ``like``'s dtype for a NumPy scalar; None for anything else."""
    if type(like) is float:
        return float(g)
    if isinstance(like, np.generic):
        return like.dtype.type(g)
    return None


def _zero_leaf(like):
    if like is None or isinstance(like, (str, bytes)) or is_static_leaf(like):
        return like  # a name or a marker in the structure (a key in a list of pairs)
    if isinstance(like, (float, np.generic)):
        return scalar_gradient(like, 0)
    return np.zeros_like(like)


def _fresh(like, g, seen):
    """``g`` as a new array of ``like``'s type, shape and dtype, owned by the caller."""
    if (
        not hasattr(g, "shape")
        or isinstance(g, np.generic)  # a NumPy scalar stands for a 0-d array: make one
        or np.shape(g) != np.shape(like)
        or g.dtype != like.dtype
    ):
        out = np.zeros_like(like)
        out[...] = g
        seen.add(id(out))
        return out
    flags = g.flags
    if id(g) in seen or not flags.owndata or not getattr(flags, "writeable", True):
        g = g.copy()
    elif type(g) is not type(like) and isinstance(like, np.ndarray):
        g = g.view(type(like))
    seen.add(id(g))
    return g


def _build(like, parts, seen):
    if like is None or isinstance(like, (str, bytes)) or is_static_leaf(like):
        return like  # no derivative: a name, a marker in the structure, a record's setting
    whole = parts.get((), None)
    if whole is not None and len(parts) == 1 and _owned(like, whole, seen):
        return whole
    t = type(like)
    if whole is None and (t is dict or t is list):
        grouped: dict = {}
        for p, g in parts.items():
            key = _key_of(like, p[0])
            sub = grouped.get(key)
            if sub is None:
                sub = grouped[key] = {}
            sub[p[1:]] = add_adjoints(sub[p[1:]], g) if p[1:] in sub else g
        if t is dict:
            return {k: _build(v, grouped.get(k, _EMPTY), seen) for k, v in like.items()}
        return [_build(v, grouped.get(i, _EMPTY), seen) for i, v in enumerate(like)]
    if is_container(like):
        grouped = {}
        for p, g in parts.items():
            if p:
                refuse_property(like, p[0])
                sub = grouped.setdefault(_key_of(like, p[0]), {})
                sub[p[1:]] = add_adjoints(sub[p[1:]], g) if p[1:] in sub else g
        out = {}
        for key, child in children(like):
            sub = grouped.get(key, {})
            if whole is not None:
                piece = piece_of(whole, key, like)
                if piece is not None:
                    sub[()] = piece if () not in sub else add_adjoints(sub[()], piece)
            out[key] = _build(child, sub, seen)
        return rebuild(like, out)
    if not parts:
        return _zero_leaf(like)
    deeper = [(p, g) for p, g in parts.items() if p]
    if isinstance(like, (float, np.generic)):
        return scalar_gradient(like, sum(parts.values()))
    if whole is not None and not deeper:
        return _fresh(like, whole, seen)
    out = np.zeros_like(like)
    if whole is not None:
        out += whole
    for path, g in deeper:
        target = out
        for k in path[:-1]:
            target = target[k]
        target[path[-1]] += g
    seen.add(id(out))
    return out


def gradient_like(like, parts):
    """The gradient of ``like`` assembled from ``parts``.

    ``parts`` maps a key path (a tuple of dict keys and list/array indices) to the adjoint of
    the value read at that path; ``()`` is the whole value. A plain value stands for
    ``{(): value}``. Leaves no part reaches get zeros of their shape. Float leaves get floats,
    NumPy scalars NumPy scalars of their dtype, array leaves get arrays of their own type and
    dtype. Every array returned is a fresh array owned by the caller: views and arrays returned
    twice are copied.
    """
    if type(parts) is not dict:  # an adjoint (a DictPieces too), not a map of paths
        parts = {(): parts}
    return _build(like, parts, set())


def item_adjoints(dxs, xs):
    """The adjoint ``dxs`` of a list or tuple ``xs`` as a plain list of its items' adjoints
    (each with zeros where ``dxs`` holds None), which :func:`add_to_item` adds into in place;
    ``dxs`` itself where ``xs`` is not a list or tuple. :func:`joined_items` makes the adjoint
    again."""
    if isinstance(dxs, Pieces) and isinstance(xs, (list, tuple)) and len(dxs) == len(xs):
        return [add_adjoints(d, zero_adjoint(x)) for d, x in zip(dxs, xs)]
    return dxs


def joined_items(acc):
    """The adjoint that :func:`item_adjoints` took apart, with what was added into it."""
    return Pieces(acc) if type(acc) is list else acc


def _layout(shape: Shape, x) -> None:
    """The memory layout ``np.zeros_like(x)`` gives (its axes by decreasing stride, length
    one aside) as ``shape``'s order, or, for a subclass or an order neither C nor Fortran, an
    empty array of it as ``shape.like``."""
    strides = [abs(s) for s, n in zip(x.strides, x.shape) if n != 1]
    if type(x) is np.ndarray and strides == sorted(strides, reverse=True):
        return  # (C order: a row-major view)
    if type(x) is np.ndarray and strides == sorted(strides):
        shape.order = "F"
    else:
        shape.like = np.empty_like(x)


def shape_of(x):
    """The shape of ``x`` as a :class:`Shape` (``x`` itself when it is one, or when it is a
    container of items of different shapes, a tuple of a helper's results)."""
    if type(x) is np.ndarray:  # the usual case: its shape without np.shape's dispatch
        shape = Shape(x.shape)
        if not x.flags.c_contiguous:
            _layout(shape, x)
    elif type(x) is Shape:
        return x
    else:
        try:
            shape = Shape(np.shape(x))
        except ValueError:
            return x
        if isinstance(x, np.ndarray):
            _layout(shape, x)
    dtype = getattr(x, "dtype", None)
    if dtype is not None:
        shape.dtype = dtype
        if getattr(dtype, "kind", "f") in "biu":
            shape.cuts = True  # (an integer or boolean array: through_write reads it)
    return shape


_ONES: dict = {}  # (length, dtype char) -> a read-only vector of ones, shared by all calls


def sum_leading(g, k: int):
    """``g.sum(axis=tuple(range(k)))``: equal up to rounding. A C-contiguous float32/float64
    NumPy array is summed as ``ones @ g.reshape(m, -1)`` (one BLAS matrix-vector product), which
    NumPy's reduction over leading axes is 2 to 8 times slower than where the trailing size is
    small (a bias gradient: a (2304, 8) array takes 40 µs summed by NumPy, 5 by BLAS); each
    output element is still a sum of its ``m`` terms in one precision."""
    shape = g.shape
    if type(g) is np.ndarray and g.dtype.char in "fd" and g.flags.c_contiguous and g.ndim > k:
        m = 1
        for n in shape[:k]:
            m *= n
        if m > 1:
            key = (m, g.dtype.char)
            ones = _ONES.get(key)
            if ones is None:
                ones = np.ones(m, g.dtype)
                ones.flags.writeable = False
                if len(_ONES) < 256:
                    _ONES[key] = ones
            out = np.dot(ones, g.reshape(m, -1))
            return out if out.ndim == len(shape) - k else out.reshape(shape[k:])
    return g.sum(axis=0) if k == 1 else g.sum(axis=tuple(range(k)))


def sum_to(g, x):
    """``g`` summed over the axes along which ``x`` was broadcast, so it has ``x``'s shape
    (``x`` may also be a :class:`Shape`). A part a container's adjoint does not hold
    (None) is zeros of ``x``'s shape."""
    if g is None:
        return zero_adjoint(x)
    if isinstance(g, (list, tuple, dict)):
        return g  # the adjoint of a container put into a container: nothing was broadcast
    shape = getattr(x, "shape", None)  # attribute first: np.shape costs a dispatch
    if shape is None:
        shape = x if isinstance(x, Shape) else np.shape(x)
    gshape = getattr(g, "shape", None)
    if gshape is None:
        gshape = np.shape(g)
    if gshape == shape:
        return g
    if len(gshape) < len(shape) or not hasattr(g, "dtype"):
        if hasattr(g, "dtype"):
            return np.broadcast_to(g, shape)
        return np.full(shape, g) if isinstance(x, Shape) else np.full_like(x, g)
    lead = len(gshape) - len(shape)
    if gshape[lead:] == shape:
        if all(n == 1 for n in gshape[:lead]):
            return g.reshape(shape)  # summing axes of length 1: a reshape (batch 1)
        return sum_leading(g, lead)
    ones = tuple(lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1)
    out = g
    if ones:  # axes of length 1 in x that g broadcast
        out = out.sum(axis=ones, keepdims=True)
    if lead:  # leading axes x does not have
        out = out.sum(axis=tuple(range(lead)))
    return out


def _leaf(like, g, seen):
    """One gradient leaf: ``g`` itself when it is a fresh array of ``like``'s kind."""
    if like is None or isinstance(like, (str, bytes)):
        return like
    if _owned(like, g, seen):
        return g
    if isinstance(like, (float, np.generic)):
        return scalar_gradient(like, g)
    return _fresh(like, g, seen)


def build_gradient(like, v0, v1):
    seen = set()
    return {"w": _leaf(like["w"], v0, seen), "b": _leaf(like["b"], v1, seen)}


def _stacked_items(g, items) -> bool:
    """Whether array ``g`` has a row of each item's shape per item of ``items``."""
    if getattr(g, "ndim", 0) == 0 or len(g) != len(items):
        return False
    return all(np.shape(v) == g.shape[1:] for v in items)


def seed_like(g, out):
    """The output gradient ``g`` of a vjp as the adjoint of ``out``: ``sum(out * g)`` is
    differentiated, so ``g`` is broadcast to the shape of that product and summed back to
    ``out``'s shape (``g`` itself when the shapes agree). For a container ``out`` (a helper
    that returns a dict, list or tuple), ``g`` as an adjoint container, leaf by leaf; an
    array ``g`` for a list or tuple is the adjoint of its items stacked (that of
    ``np.stack(items)``), row by row."""
    if isinstance(out, (list, tuple)) and _stacked_items(g, out):
        g = list(g)
    if isinstance(out, (dict, list, tuple)):
        if not isinstance(g, (dict, list, tuple)):
            raise SourcegradError(
                f"the output is a {type(out).__name__}; pass an output gradient of the same "
                f"structure, not a {type(g).__name__}"
            )
        return as_adjoint(g)
    if is_record(out):  # (np.shape would take one with __len__ and __getitem__ for a list)
        return as_adjoint(g)
    gshape, oshape = np.shape(g), np.shape(out)
    if gshape == oshape:
        return g
    try:
        full = np.broadcast_shapes(gshape, oshape)
    except ValueError:
        raise SourcegradError(
            f"the output gradient has shape {gshape}, which does not broadcast against the "
            f"output's shape {oshape}; pass an array of shape {oshape}"
        ) from None
    g = np.broadcast_to(g, full)
    return g if full == oshape else sum_to(g, out)


RECEIVER = "self"
#: the builds of the derivatives of function values: (function key, wrt) -> its wrapper
FUNCTION_VALUES = {}
FUNCTION_JVPS = {}
#: forward mode over the derivative of a function value: (its wrapper, wrt) -> the wrapper
VALUE_JVPS = {}
#: the NumPy functions (by their rules) and the classes called as function values
RULE_FUNCTIONS = set()
#: forward mode over the derivatives this module defines: (derivative, wrt) -> its wrapper
DERIVATIVE_JVPS = {}
PLAIN = (types.FunctionType, types.BuiltinMethodType, types.MethodWrapperType)
PACKING = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS


def vjp_of(fn, wrt, keywords=()):
    """The vjp of the function value fn along wrt, as sourcegrad's vjp_of: one of the builds
    this module was exported with; the last len(keywords) arguments go by those names."""
    return Keywords(fn, wrt, keywords, "vjp") if keywords else of_value(fn, wrt, "vjp")


def jvp_of(fn, wrt, keywords=()):
    """The jvp of the function value fn along wrt, or forward mode over a derivative (a
    helper's or a function value's, order 2 and up), as sourcegrad's jvp_of."""
    if keywords:
        return Keywords(fn, wrt, keywords, "jvp")
    if isinstance(fn, FORWARD_OVER) or hasattr(fn, "plan"):
        return fn.jvp(wrt)
    try:
        found = DERIVATIVE_JVPS.get((fn, wrt))
    except TypeError:
        found = None
    if found is None and isinstance(wrt, tuple) and any(k[0] is fn for k in DERIVATIVE_JVPS):
        return Narrowed(fn, wrt)  # a tangent seen to be zero when it runs: along the others
    return of_value(fn, wrt, "jvp") if found is None else found


def of_value(fn, wrt, mode):
    if has_receiver(wrt):
        return Unbound(fn, wrt, mode) if isinstance(fn, PLAIN) else OfReceiver(fn, wrt, mode)
    return dynamic(fn, wrt, mode)


def has_receiver(wrt):
    return wrt == RECEIVER or (isinstance(wrt, tuple) and RECEIVER in wrt)


def dynamic(fn, wrt, mode):
    """The mode derivative of fn along wrt (positions of its arguments)."""
    if isinstance(fn, types.FunctionType) and fn.__code__.co_flags & PACKING:
        return Keywords(fn, wrt, (), mode)  # its *args one tuple, its **kwargs one dict
    if is_rule_function(fn) or isinstance(fn, types.FunctionType):
        return Built(fn, wrt, mode)
    return Called(fn, wrt, mode)


def is_rule_function(fn):
    try:
        return fn in RULE_FUNCTIONS
    except TypeError:
        return False


def build_of(function, wrt, mode):
    """The wrapper of the builds of function's derivative (mode) along wrt."""
    if isinstance(function, types.FunctionType) and not is_rule_function(function):
        keys = (function.__code__, (function.__module__, function.__qualname__))
    else:
        keys = (function,)
    table = FUNCTION_VALUES if mode == "vjp" else FUNCTION_JVPS
    for key in keys:
        found = table.get((key, wrt))
        if found is not None:
            return found
    raise TypeError(
        f"the {mode} of {function!r} along {wrt!r}: a function value this module was not "
        "exported for"
    )


class Built:
    """The derivative (mode) of the plain function fn along wrt, by the build this module
    holds for it; with of, forward mode along wrt over the derivative of."""

    def __init__(self, fn, wrt, mode, of=None):
        self.fn, self.wrt, self.mode, self.of = fn, wrt, mode, of

    def wrapper(self):
        if self.of is None:
            return build_of(self.fn, self.wrt, self.mode)
        found = VALUE_JVPS.get((self.of.wrapper(), self.wrt))
        if found is None:
            raise TypeError(
                f"forward mode along {self.wrt!r} over a derivative of {self.fn!r}: one this "
                "module was not exported for"
            )
        return found

    def __call__(self, *args, **kwargs):
        if self.of is None and isinstance(self.fn, types.FunctionType):
            args, kwargs = with_defaults(self.fn, args, kwargs)
        return self.wrapper()(self.fn, *args, **kwargs)

    def jvp(self, wrt):
        return BoundToNothing(self, wrt) if has_receiver(wrt) else Built(self.fn, wrt, "jvp", self)


class BoundToNothing:
    """Forward mode along wrt (the seed last) over the derivative of, a plain function's:
    the receiver in wrt varies (restored from a tape), but has no tangent to pass on."""

    def __init__(self, of, wrt):
        self.of, self.wrt = of, wrt

    def plan(self, args, t_in):
        """(jvp, its arguments, its t_in, lift) as ForwardOver takes them."""
        single = not isinstance(self.wrt, tuple)
        ws = () if single else tuple(i for i in self.wrt if i != RECEIVER)
        if not ws:
            return None
        jvp = Built(self.of.fn, ws[0] if len(ws) == 1 else ws, "jvp", self.of)

        def lift(targs, tt, trecv):
            return list(targs), picked(tt, self.wrt, single, ws, len(ws) == 1)

        return jvp, args, without_receiver(t_in, self.wrt, single), lift

    def jvp(self, wrt):
        return ForwardOver(self, wrt)

    def __call__(self, *args, t_in=None):
        single = not isinstance(self.wrt, tuple)
        ws = () if single else tuple(i for i in self.wrt if i != RECEIVER)
        if not ws:
            value = self.of(*args[:-1], g_out=args[-1])
            return value, zero_adjoint(value)
        t = without_receiver(t_in, self.wrt, single)
        return Built(self.of.fn, ws[0] if len(ws) == 1 else ws, "jvp", self.of)(*args, t_in=t)


def with_defaults(function, args, kwargs):
    """args and kwargs of a call of function with its defaults added by name (its own, as
    sourcegrad's derivative of it reads them)."""
    code = function.__code__
    n = code.co_argcount
    defaults = function.__defaults__ or ()
    names = code.co_varnames[n - len(defaults) : n]
    added = {p: d for p, d in zip(names, defaults) if p not in code.co_varnames[: len(args)]}
    return args, {**added, **(function.__kwdefaults__ or {}), **kwargs}


def filled(function, args):
    """args (the function's own, then a seed) with the defaults of the parameters they leave
    out put before the seed, keyword-only ones last, as sourcegrad's derivatives fill them in."""
    code, defaults = function.__code__, function.__defaults__ or ()
    own, n = args[:-1], code.co_argcount
    first = n - len(defaults)
    if len(own) < first:
        return args
    if len(own) < n:
        own = own + tuple(defaults[len(own) - first :])
    names = code.co_varnames[n : n + code.co_kwonlyargcount]
    kwdefaults = function.__kwdefaults__ or {}
    return own + tuple(kwdefaults[k] for k in names[len(own) - n :]) + args[-1:]


def plain_function(fn):
    """(function, leading): the function behind the function value fn and the arguments a
    call of fn puts before its own (a bound method's object, an object with __call__)."""
    if is_rule_function(fn) or isinstance(fn, types.FunctionType):
        return fn, ()
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        return fn.__func__, (fn.__self__,)
    for k in type(fn).__mro__:
        call = k.__dict__.get("__call__")
        if isinstance(call, types.FunctionType):
            return call, (fn,)
    raise TypeError(f"{fn!r}: a function value this module was not exported for")


def closure_values(function):
    """The values of the variables function reads from an enclosing function, by name."""
    cells = getattr(function, "__closure__", None) or ()
    return {n: c.cell_contents for n, c in zip(function.__code__.co_freevars, cells)}


def code_at(code, path):
    """The code object nested in code at path (positions among nested code objects)."""
    for k in path:
        code = [c for c in code.co_consts if isinstance(c, types.CodeType)][k]
    return code


def shifted(wrt, n):
    return tuple(i + n for i in wrt) if isinstance(wrt, tuple) else wrt + n


def is_bound(fn, leading):
    """Whether leading (from plain_function) is the one object fn is bound to."""
    return len(leading) == 1 and (isinstance(fn, types.MethodType) or leading[0] is fn)


def with_receiver(grads, count, wrt, single):
    """grads of the positions of wrt other than the receiver, None in the receiver's place."""
    parts = list(grads) if count > 1 else [grads]
    full = tuple(None if i == RECEIVER else parts.pop(0) for i in wrt)
    return full[0] if single else full


def receiver_tangent(t_in, wrt, single):
    if RECEIVER not in wrt:
        return ()
    return t_in if single else t_in[wrt.index(RECEIVER)]


def without_receiver(t_in, wrt, single):
    if single:
        return None
    kept = tuple(t for i, t in zip(wrt, t_in) if i != RECEIVER)
    return kept if len(kept) > 1 else kept[0]


def drop_zero_receiver(wrt, t_in, single):
    """(wrt, t_in, single) without the receiver where its tangent is None."""
    if RECEIVER not in wrt or receiver_tangent(t_in, wrt, single) is not None:
        return wrt, t_in, single
    t_in = None if single else without_receiver(t_in, wrt, single)
    wrt = tuple(i for i in wrt if i != RECEIVER)
    return wrt, t_in, len(wrt) == 1


class Keywords:
    """The derivative of a call of the function value fn whose last len(keywords) arguments
    go by those names, or of one taking *args or **kwargs: the function behind fn with every
    parameter given (defaults filled in, its *args one tuple and its **kwargs one dict), as
    sourcegrad binds the call; the parts go back to the call's own arguments."""

    def __init__(self, fn, wrt, keywords, mode):
        self.fn, self.keywords, self.mode = fn, tuple(keywords), mode
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def bind(self, args):
        """(function, its values by parameter, how many go by position, where each argument
        went: (parameter, item), item its place in a packed *args tuple or **kwargs dict)."""
        function, leading = plain_function(self.fn)
        params = list(inspect.signature(function).parameters.values())
        marks = list(range(len(leading) + len(args)))
        n = len(marks) - len(self.keywords)
        bound = (
            inspect.signature(function)
            .bind(*marks[:n], **dict(zip(self.keywords, marks[n:])))
            .arguments
        )
        given = (*leading, *args)
        values, places = [], {}
        for j, p in enumerate(params):
            if p.kind is p.VAR_POSITIONAL:
                ks = bound.get(p.name, ())
                values.append(tuple(given[k] for k in ks))
                places.update((k, (j, item)) for item, k in enumerate(ks))
            elif p.kind is p.VAR_KEYWORD:
                items = bound.get(p.name, {})
                values.append({key: given[k] for key, k in items.items()})
                places.update((k, (j, key)) for key, k in items.items())
            elif p.name in bound:
                values.append(given[bound[p.name]])
                places[bound[p.name]] = (j, None)
            else:
                values.append(p.default)
        npos = sum(
            p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params
        )
        where = {i: places[len(leading) + i] for i in range(len(args))}
        if is_bound(self.fn, leading):
            where[RECEIVER] = (0, None)
        names = [p.name for p in params]
        return function, values, npos, where, names

    def __call__(self, *args, g_out=None, t_in=None):
        function, values, npos, where, names = self.bind(args)
        call = dict(zip(names[npos:], values[npos:]))
        if self.mode == "jvp":
            ts = (t_in,) if self.single else tuple(t_in)
            given = {where[i]: t for i, t in zip(self.wrt, ts) if i in where and t is not None}
            inner = tuple(dict.fromkeys(j for j, _ in given))
            if not inner:
                value = self.fn(
                    *args[: len(args) - len(self.keywords)],
                    **dict(zip(self.keywords, args[len(args) - len(self.keywords) :])),
                )
                return value, zero_adjoint(value)
            call["t_in"] = packed_tangents(inner, given, values)
        else:
            inner = tuple(dict.fromkeys(where[i][0] for i in self.wrt if i in where))
            if not inner:
                return None if self.single else (None,) * len(self.wrt)
            call["g_out"] = g_out
        derivative = Built(function, inner[0] if len(inner) == 1 else inner, self.mode)
        out = derivative(*values[:npos], **call)
        if self.mode == "jvp":
            return out
        return self.regroup(out, inner, where)

    def regroup(self, out, inner, where):
        """The parts out of the parameters inner as the call's arguments'."""
        by = dict(zip(inner, (out,) if len(inner) == 1 else out))
        parts = []
        for i in self.wrt:
            loc = where.get(i)
            part = None if loc is None else by[loc[0]]
            parts.append(part if loc is None or loc[1] is None else part[loc[1]])
        return parts[0] if self.single else tuple(parts)

    def jvp(self, wrt):
        return KeywordsJvpOverJvp(self, wrt) if self.mode == "jvp" else KeywordsJvp(self, wrt)


def placed(where, wrt, ts, seed_at, nvalues):
    """{(parameter, item): tangent} of the call's arguments wrt (the argument seed_at is a
    vjp's seed, after every parameter); a receiver's left out where it is None."""
    given = {}
    for i, t in zip(wrt, ts):
        at = (nvalues, None) if i == seed_at else where.get(i)
        if at is not None and not (i == RECEIVER and t is None):
            given[at] = t
    return given


def lifted_tangents(given, values, params=None):
    """The tangents given lifted to the parameters: {parameter: tangent}; with params, those
    parameters' tangents as one (a tuple of them), zeros where none was given."""
    by = {j: packed_tangents((j,), given, values) for j in dict.fromkeys(j for j, _ in given)}
    if params is None:
        return by
    parts = tuple(by[j] if j in by else zero_adjoint(values[j]) for j in params)
    return parts[0] if len(parts) == 1 else parts


def one(positions):
    return positions[0] if len(positions) == 1 else positions


def packed_tangents(params, given, values):
    """The tangents of the parameters params: those given by (parameter, item), a packed
    tuple's or dict's completed with zeros for its constant items."""
    out = []
    for j in params:
        v = values[j]
        if (j, None) in given:
            out.append(given[(j, None)])
        elif isinstance(v, dict):
            out.append({k: given.get((j, k), zero_adjoint(x)) for k, x in v.items()})
        else:
            out.append(tuple(given.get((j, k), zero_adjoint(x)) for k, x in enumerate(v)))
    return out[0] if len(out) == 1 else tuple(out)


class KeywordsJvp:
    """Forward mode along wrt (the seed last) over a Keywords vjp: over the vjp of the
    function behind it, along the parameters the arguments went to, regrouped the same way."""

    def __init__(self, of, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in=None):
        of, seed = self.of, args[-1]
        function, values, npos, where, names = of.bind(args[:-1])
        inner = tuple(dict.fromkeys(where[i][0] for i in of.wrt if i in where))
        if not inner:
            value = of(*args[:-1], g_out=seed)
            return value, value
        vjp = Built(function, one(inner), "vjp")
        ts = (t_in,) if self.single else tuple(t_in)
        given = placed(where, self.wrt, ts, len(args) - 1, len(values))
        if not given:  # only a receiver that holds nothing varies
            grads = vjp(*values[:npos], g_out=seed, **dict(zip(names[npos:], values[npos:])))
            tangent = zero_adjoint(grads)
        else:
            outer = tuple(dict.fromkeys(j for j, _ in given))
            ts = packed_tangents(outer, given, (*values, seed))
            grads, tangent = jvp_of(vjp, one(outer))(*values, seed, t_in=ts)
        return of.regroup(grads, inner, where), of.regroup(tangent, inner, where)

    def jvp(self, wrt):
        return KeywordsOverJvp(self, wrt)


class KeywordsOverJvp:
    """Forward mode along wrt (the call's arguments, the seed, then t_in) over a KeywordsJvp
    (order 3): over the jvp of the vjp of the function behind it, each tangent lifted to the
    parameters, each part of the result regrouped to the call's arguments."""

    def __init__(self, of, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in=None):
        kj, of = self.of, self.of.of
        *own, seed, t = args
        m = len(own)
        function, values, npos, where, names = of.bind(tuple(own))
        inner = tuple(dict.fromkeys(where[i][0] for i in of.wrt if i in where))
        full = (*values, seed)
        given = placed(where, kj.wrt, (t,) if kj.single else tuple(t), m, len(values))
        outer = tuple(dict.fromkeys(j for j, _ in given))
        if not inner or not outer:
            raise TypeError("forward mode over a derivative this module was not exported for")
        jvp = jvp_of(Built(function, one(inner), "vjp"), one(outer))
        tangents = packed_tangents(outer, given, full)
        more = dict(zip(self.wrt, (t_in,) if self.single else tuple(t_in)))
        tt = more.pop(m + 1, None)
        moved = placed(where, tuple(more), tuple(more.values()), m, len(values))
        lifted = lifted_tangents(moved, full)
        if tt is not None:
            tgiven = placed(where, kj.wrt, (tt,) if kj.single else tuple(tt), m, len(values))
            lifted[len(full)] = lifted_tangents(tgiven, full, outer)
        at = tuple(sorted(k for k, x in lifted.items() if x is not None))
        if not at:
            out = jvp(*values, seed, t_in=tangents)
            parts = out, zero_adjoint(out)
        else:
            ts = tuple(lifted[k] for k in at)
            parts = jvp_of(jvp, one(at))(*values, seed, tangents, t_in=one(ts))
        return tuple(tuple(of.regroup(g, inner, where) for g in p) for p in parts)


class KeywordsJvpOverJvp:
    """Forward mode along wrt (the call's arguments, then t_in) over a Keywords jvp: over the
    jvp of the function behind it, each tangent lifted to the parameters."""

    def __init__(self, of, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in=None):
        of, (*own, t) = self.of, args
        function, values, npos, where, names = of.bind(tuple(own))
        given = placed(where, of.wrt, (t,) if of.single else tuple(t), None, len(values))
        inner = tuple(dict.fromkeys(j for j, _ in given))
        if not inner:
            raise TypeError("forward mode over a derivative this module was not exported for")
        jvp = Built(function, one(inner), "jvp")
        tangents = packed_tangents(inner, given, values)
        more = dict(zip(self.wrt, (t_in,) if self.single else tuple(t_in)))
        tt = more.pop(len(own), None)
        lifted = lifted_tangents(placed(where, tuple(more), tuple(more.values()), None, 0), values)
        if tt is not None:
            tgiven = placed(where, of.wrt, (tt,) if of.single else tuple(tt), None, 0)
            lifted[len(values)] = lifted_tangents(tgiven, values, inner)
        at = tuple(sorted(k for k, x in lifted.items() if x is not None))
        if not at:
            out = jvp(*values[:npos], **dict(zip(names[npos:], values[npos:])), t_in=tangents)
            return out, zero_adjoint(out)
        ts = tuple(lifted[k] for k in at)
        return jvp_of(jvp, one(at))(*values, tangents, t_in=one(ts))


class Called:
    """The derivative of a function value that is not a plain function: the function behind
    it, its leading arguments first."""

    def __init__(self, fn, wrt, mode):
        self.fn, self.wrt, self.mode = fn, wrt, mode

    def __call__(self, *args, **kwargs):
        function, leading = plain_function(self.fn)
        derivative = dynamic(function, shifted(self.wrt, len(leading)), self.mode)
        return derivative(*leading, *args, **kwargs)

    def jvp(self, wrt):
        return CalledJvp(self, wrt)


class CalledJvp:
    """Forward mode along wrt (the seed last) over a Called derivative."""

    def __init__(self, called, wrt):
        self.called, self.wrt = called, wrt

    def plan(self, args, t_in):
        """(jvp, its arguments, its t_in, lift) as ForwardOver takes them; None where no
        tangent reaches the function."""
        c = self.called
        function, leading = plain_function(c.fn)
        n, whole = len(leading), not isinstance(self.wrt, tuple)
        ws, single, bound = (self.wrt,) if whole else self.wrt, whole, is_bound(c.fn, leading)
        if RECEIVER in ws and bound:
            ws, t, single = drop_zero_receiver(ws, t_in, single)
        elif RECEIVER in ws:
            t = without_receiver(t_in, ws, single)
            ws = tuple(i for i in ws if i != RECEIVER)
            single = len(ws) == 1
        else:
            t = t_in
        if not ws:
            return None
        wrt = tuple(0 if i == RECEIVER else i + n for i in ws)
        inner = dynamic(function, shifted(c.wrt, n), c.mode)

        def lift(targs, tt, trecv):
            head = [trecv if bound else None] + [None] * (n - 1) if n else []
            return head + list(targs), picked(tt, self.wrt, whole, ws, single)

        return jvp_of(inner, wrt[0] if single else wrt), (*leading, *args), t, lift

    def jvp(self, wrt):
        return ForwardOver(self, wrt)

    def __call__(self, *args, t_in=None):
        c = self.called
        function, leading = plain_function(c.fn)
        n = len(leading)
        single = not isinstance(self.wrt, tuple)
        ws = (self.wrt,) if single else self.wrt
        if RECEIVER in ws and is_bound(c.fn, leading):
            ws, t_in, single = drop_zero_receiver(ws, t_in, single)
        elif RECEIVER in ws:
            t_in = without_receiver(t_in, ws, single)
            ws = tuple(i for i in ws if i != RECEIVER)
            single = len(ws) == 1
        if not ws:
            value = c(*args[:-1], g_out=args[-1])
            return value, zero_adjoint(value)
        wrt = tuple(0 if i == RECEIVER else i + n for i in ws)
        inner = dynamic(function, shifted(c.wrt, n), c.mode)
        return jvp_of(inner, wrt[0] if single else wrt)(*leading, *args, t_in=t_in)


class Narrowed:
    """Forward mode along wrt over a helper's derivative fn where some tangents are zeros
    seen only when it runs (None; 0.0 for an integer): forward mode along the others, as
    sourcegrad's Jvp narrows it."""

    def __init__(self, fn, wrt):
        self.fn, self.wrt = fn, wrt

    def __call__(self, *args, t_in):
        kept = [(i, t) for i, t in zip(self.wrt, t_in) if not zero_of_integer(args[i], t)]
        found = None
        if 0 < len(kept) < len(self.wrt):
            wrt, t_in = (tuple(k) for k in zip(*kept))
            found = DERIVATIVE_JVPS.get((self.fn, wrt))
        if found is None:
            raise TypeError(
                f"forward mode along {self.wrt!r} over {self.fn!r}: one this module was not "
                "exported for"
            )
        return found(*args, t_in=t_in)

    def jvp(self, wrt):
        return NarrowedOver(self, wrt)


class NarrowedOver:
    """Forward mode along wrt (the call's arguments, its t_in last) over a Narrowed jvp: over
    the forward mode it runs, the tangent of its t_in narrowed alike."""

    def __init__(self, of, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in):
        of, (*primal, t) = self.of, args
        kept = [k for k, i in enumerate(of.wrt) if not zero_of_integer(primal[i], t[k])]
        inner = DERIVATIVE_JVPS.get((of.fn, tuple(of.wrt[k] for k in kept)))
        if inner is None or not 0 < len(kept) < len(of.wrt):
            raise TypeError(f"forward mode over {of.fn!r}: one this module was not exported for")
        ts = list((t_in,) if self.single else t_in)
        for j, i in enumerate(self.wrt):
            if i == len(primal) and ts[j] is not None:
                ts[j] = tuple(ts[j][k] for k in kept)
        t_in = ts[0] if self.single else tuple(ts)
        narrowed = tuple(t[k] for k in kept)
        return jvp_of(inner, self.wrt[0] if self.single else self.wrt)(*primal, narrowed, t_in=t_in)


def zero_of_integer(x, t):
    integer = isinstance(x, (int, np.integer)) or getattr(x, "dtype", np.dtype(float)).kind in "biu"
    return t is None or (integer and isinstance(t, float) and t == 0.0)


def picked(t, wrt, single, kept, kept_single):
    """The parts of the tangents t along wrt at the positions kept; None for None."""
    if t is None:
        return None
    by = dict(zip((wrt,) if single else wrt, (t,) if single else tuple(t)))
    parts = tuple(by[i] for i in kept)
    return parts[0] if kept_single else parts


class ForwardOver:
    """Forward mode along wrt over of, forward mode over a function value's vjp (order 3):
    forward mode over the derivative of runs (of.plan), with the tangents lifted to it."""

    def __init__(self, of, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in=None):
        plan = self.of.plan(args[:-1], args[-1])
        if plan is None:
            raise TypeError("forward mode over a derivative this module was not exported for")
        jvp, jargs, jt, lift, *regroup = plan
        given = dict(zip(self.wrt, (t_in,) if self.single else tuple(t_in)))
        n = len(args) - 1
        tjargs, tjt = lift([given.get(i) for i in range(n)], given.get(n), given.get(RECEIVER))
        tangents = (*tjargs, tjt)
        at = tuple(k for k, t in enumerate(tangents) if t is not None)
        if not at:
            out = jvp(*jargs, t_in=jt)
            parts = out, zero_adjoint(out)
        else:
            ts = tangents[at[0]] if len(at) == 1 else tuple(tangents[k] for k in at)
            parts = jvp_of(jvp, at[0] if len(at) == 1 else at)(*jargs, jt, t_in=ts)
        if not regroup:
            return parts
        return tuple(tuple(regroup[0](g) for g in p) for p in parts)


class OfReceiver:
    """The derivative of a call of an object (or of its bound method), the object itself
    differentiated: the function behind it with the object first."""

    def __init__(self, fn, wrt, mode):
        self.fn, self.mode = fn, mode
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def plan(self, drop=False):
        function, leading = plain_function(self.fn)
        bound = is_bound(self.fn, leading) and not drop
        n = len(leading)
        inner = tuple(0 if i == RECEIVER else i + n for i in self.wrt if bound or i != RECEIVER)
        return function, leading, bound, inner

    def __call__(self, *args, g_out=None, t_in=None):
        zero = self.mode == "jvp" and receiver_tangent(t_in, self.wrt, self.single) is None
        function, leading, bound, inner = self.plan(drop=zero)
        if self.mode == "jvp" and not bound:
            t_in = without_receiver(t_in, self.wrt, self.single)
        if not inner:
            if self.mode == "jvp":
                value = function(*leading, *args)
                return value, zero_adjoint(value)
            return None if self.single else (None,) * len(self.wrt)
        d = dynamic(function, inner if len(inner) > 1 else inner[0], self.mode)
        if self.mode == "jvp":
            return d(*leading, *args, t_in=t_in)
        grads = d(*leading, *args, g_out=g_out)
        return grads if bound else with_receiver(grads, len(inner), self.wrt, self.single)

    def jvp(self, wrt):
        return OfReceiverJvp(self, wrt)


class OfReceiverJvp:
    """Forward mode along wrt (the seed last) over an OfReceiver vjp."""

    def __init__(self, of, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def plan(self, args, t_in):
        """(jvp, its arguments, its t_in, lift) as ForwardOver takes them; None where no
        tangent reaches the object's function."""
        function, leading, bound, inner = self.of.plan()
        ws, t, single = drop_zero_receiver(self.wrt, t_in, self.single)
        if not bound or not ws:
            return None
        outer = tuple(0 if i == RECEIVER else i + len(leading) for i in ws)
        vjp = dynamic(function, inner if len(inner) > 1 else inner[0], self.of.mode)

        def lift(targs, tt, trecv):
            return [trecv] + list(targs), picked(tt, self.wrt, self.single, ws, single)

        jvp = jvp_of(vjp, outer[0] if single else outer)
        return jvp, (*leading, *args), t, lift

    def jvp(self, wrt):
        return ForwardOver(self, wrt)

    def __call__(self, *args, t_in=None):
        of = self.of
        function, leading, bound, inner = of.plan()
        vjp = dynamic(function, inner if len(inner) > 1 else inner[0], of.mode)
        if bound:
            ws, t_in, single = drop_zero_receiver(self.wrt, t_in, self.single)
            if not ws:
                value = of(*args[:-1], g_out=args[-1])
                return value, zero_adjoint(value)
            outer = tuple(0 if i == RECEIVER else i + len(leading) for i in ws)
            return jvp_of(vjp, outer[0] if single else outer)(*leading, *args, t_in=t_in)
        if not inner:
            value = of(*args[:-1], g_out=args[-1])
            return value, value
        outer = tuple(i + len(leading) for i in self.wrt if i != RECEIVER)
        if outer:
            t = without_receiver(t_in, self.wrt, self.single)
            grads, tangent = jvp_of(vjp, outer if len(outer) > 1 else outer[0])(
                *leading, *args, t_in=t
            )
        else:
            grads = vjp(*leading, *args[:-1], g_out=args[-1])
            tangent = zero_adjoint(grads)
        count = len(inner)
        return (
            with_receiver(grads, count, of.wrt, of.single),
            with_receiver(tangent, count, of.wrt, of.single),
        )


class Unbound:
    """The derivative of a plain function with the receiver in wrt: None (a zero) in its
    place."""

    def __init__(self, fn, wrt, mode):
        self.fn, self.mode = fn, mode
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt
        rest = tuple(i for i in self.wrt if i != RECEIVER)
        self.rest = rest[0] if len(rest) == 1 else rest

    def __call__(self, *args, g_out=None, t_in=None):
        if self.mode == "jvp":
            if self.rest == ():
                value = self.fn(*args)
                return value, zero_adjoint(value)
            t = without_receiver(t_in, self.wrt, self.single)
            return jvp_of(self.fn, self.rest)(*args, t_in=t)
        if self.rest == ():
            return None if self.single else (None,) * len(self.wrt)
        return self.with_receiver(vjp_of(self.fn, self.rest)(*args, g_out=g_out))

    def with_receiver(self, grads):
        count = len(self.rest) if isinstance(self.rest, tuple) else 1
        return with_receiver(grads, count, self.wrt, self.single)

    def jvp(self, wrt):
        return UnboundOverJvp(self, wrt) if self.mode == "jvp" else UnboundJvp(self, wrt)


class UnboundOverJvp:
    """Forward mode along wrt (the call's arguments, its t_in last) over an Unbound jvp: over
    the jvp of the function along the positions other than the receiver."""

    def __init__(self, of, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in=None):
        of, (*primal, t) = self.of, args
        given = dict(zip(self.wrt, (t_in,) if self.single else tuple(t_in)))
        n = len(primal)
        if of.rest == ():  # the jvp along the receiver alone: the value, a zero tangent
            at = tuple(i for i in range(n) if given.get(i) is not None)
            value = of.fn(*primal)
            tangent = (
                jvp_of(of.fn, one(at))(*primal, t_in=given_parts(given, at))[1]
                if at
                else zero_adjoint(value)
            )
            return (value, zero_adjoint(value)), (tangent, zero_adjoint(value))
        inner = jvp_of(of.fn, of.rest)
        t = without_receiver(t, of.wrt, of.single)
        if given.get(n) is not None:
            given[n] = without_receiver(given[n], of.wrt, of.single)
        at = tuple(i for i in range(n + 1) if given.get(i) is not None)
        if not at:
            out = inner(*primal, t_in=t)
            return out, zero_adjoint(out)
        return jvp_of(inner, one(at))(*primal, t, t_in=given_parts(given, at))


def given_parts(given, at):
    """The tangents given at the positions at: one, or a tuple of them."""
    return given[at[0]] if len(at) == 1 else tuple(given[i] for i in at)


class UnboundJvp:
    """Forward mode along wrt (the seed last) over an Unbound vjp."""

    def __init__(self, of, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in=None):
        of, ws, t = self.of, self.wrt, t_in
        if RECEIVER in ws:
            t = None if self.single else without_receiver(t, ws, self.single)
            ws = tuple(i for i in ws if i != RECEIVER)
        if of.rest == ():
            value = of(*args[:-1], g_out=args[-1])
            return value, value
        inner = vjp_of(of.fn, of.rest)
        if not ws:
            grads = inner(*args[:-1], g_out=args[-1])
            tangent = zero_adjoint(grads)
        else:
            grads, tangent = jvp_of(inner, ws[0] if len(ws) == 1 else ws)(*args, t_in=t)
        return of.with_receiver(grads), of.with_receiver(tangent)

    def plan(self, args, t_in):
        """(jvp, its arguments, its t_in, lift, regroup) as ForwardOver takes them; None where
        only the receiver varies."""
        of, ws, t = self.of, self.wrt, t_in
        if RECEIVER in ws:
            t = None if self.single else without_receiver(t, ws, self.single)
            ws = tuple(i for i in ws if i != RECEIVER)
        if of.rest == () or not ws:
            return None
        jvp = jvp_of(vjp_of(of.fn, of.rest), one(ws))

        def lift(targs, tt, trecv):
            return list(targs), picked(tt, self.wrt, self.single, ws, len(ws) == 1)

        return jvp, args, t, lift, of.with_receiver

    def jvp(self, wrt):
        return ForwardOver(self, wrt)


#: the derivatives that make forward mode over themselves (.jvp), besides those with a plan
FORWARD_OVER = (Built, Called, Keywords, KeywordsJvp, OfReceiver, Unbound, Narrowed)


#: what each function value's function changes in place, by its builds' key (its code, or its
#: module and qualified name): {position: whether it writes values, not only items}
WRITTEN = {}


def copy_if_written(fn, i, x, differentiated=False, read_after=False):
    """x, copied where the function value fn changes its i-th argument in place, as
    sourcegrad's copy_if_written: an array it writes into; a list or dict it changes too
    where differentiated; refused where the caller reads x after the call."""
    try:
        function, leading = plain_function(fn)
    except TypeError:  # no function of this module's: nothing it writes is known
        return x
    if not isinstance(function, types.FunctionType):  # a NumPy function: writes nothing
        return x
    keys = (function.__code__, (function.__module__, function.__qualname__))
    written = next((WRITTEN[k] for k in keys if k in WRITTEN), {})
    values = written.get(i + len(leading))
    if values is None:
        return x
    if read_after and (values or differentiated):
        raise ValueError(
            f"{function.__qualname__}() writes into its argument {i} in place, and the caller "
            "reads it after the call: make it return the new value and assign it"
        )
    if differentiated and type(x) in (list, dict):
        return type(x)(x)
    return x.copy() if hasattr(x, "__array__") and (values or differentiated) else x


def written_part(g, idx):
    """``g[idx]`` for the adjoint of ``x[idx] = v`` with an integer-array or mask index:
    where an index repeats, only the last write reached ``x``, so the earlier ones get zero.
    For a dict's or list's adjoint, its part at ``idx``."""
    if isinstance(g, (dict, list, tuple)):
        return g[idx]
    part = g[idx]
    items = idx if isinstance(idx, tuple) else (idx,)
    items = tuple(np.asarray(i) if isinstance(i, (list, range)) else i for i in items)
    arrays = [i for i in items if getattr(i, "dtype", None) is not None and i.dtype != bool]
    if not arrays:
        return part  # a mask selects every element once
    n = len(arrays)
    if any(getattr(i, "dtype", None) is None for i in items[:n]):
        keys = None  # an integer array after a slice: NumPy moves its axes; not handled
    else:
        shape = np.shape(g)[:n]
        keys = np.ravel(
            np.ravel_multi_index(tuple(np.broadcast_arrays(*arrays)), shape, mode="wrap")
        )
    if keys is None:
        flat = np.ravel(arrays[0])
        if np.unique(flat).size == flat.size:
            return part
        raise SourcegradError(
            "x[..., idx] = v with repeated indices after a slice is not differentiated; "
            "put the integer index first or make the indices unique"
        )
    if np.unique(keys).size == keys.size:
        return part
    _, from_end = np.unique(keys[::-1], return_index=True)
    last = np.zeros(keys.size, dtype=bool)
    last[keys.size - 1 - from_end] = True
    mask = last.reshape(np.broadcast_shapes(*[np.shape(a) for a in arrays]))
    return part * mask.reshape(mask.shape + (1,) * (np.ndim(part) - mask.ndim))


def _zero_part(part):
    """A zero of the structure of the adjoint ``part``, its leaves the number 0.0 (None stays
    None): an item overwritten may have had arrays of other shapes there."""
    if part is None:
        return None
    if isinstance(part, dict):
        return DictPieces(like=getattr(part, "like", None))
    if isinstance(part, (list, tuple)):
        return Pieces([_zero_part(p) for p in part])
    return 0.0


def zero_index(g, idx):
    """A copy of ``g`` with zeros at ``idx``: the adjoint of the value that ``x[idx] = v``
    overwrote. For a dict's or list's adjoint, the same container without that part (a
    list's item a zero of the new item's structure whose leaves are the number 0.0, which
    adds to the old item's adjoint whatever its shapes)."""
    if isinstance(g, dict):
        return DictPieces(((k, v) for k, v in g.items() if k != idx), like=getattr(g, "like", None))
    if isinstance(g, (list, tuple)):
        parts = list(g)
        if isinstance(idx, slice):
            parts[idx] = [_zero_part(p) for p in parts[idx]]
        else:
            parts[idx] = _zero_part(parts[idx])
        return Pieces(parts)
    out = g.copy() if hasattr(g, "__setitem__") else np.array(g)  # a NumPy scalar: 0-d
    out[idx] = 0
    return out


#: the gradients the function takes while it runs: (the function's code, wrt) -> its gradient
GRADIENTS = {}


class Gradients:
    """Stands in for sourcegrad where the function takes a gradient while it runs: grad(f,
    wrt) is the gradient of f along wrt this module was exported with."""

    @staticmethod
    def grad(f, wrt=0):
        found = GRADIENTS.get((getattr(f, "__code__", None), wrt))
        if found is None:
            raise TypeError(
                f"the gradient of {f!r} along {wrt!r}: one this module was not exported for"
            )
        return found


sg = Gradients()


def mse(p, x, y):
    pred = np.tanh(x @ p["w"] + p["b"])
    return np.mean((pred - y) ** 2)


def build_gradient_2(like, v0, v1):
    return {"w": v0, "b": v1}


class BufferSet(list):
    """One call's buffers (a list of arrays), with the dimensions they were sized for
    (``dims``, empty for a pool of fixed shapes), the memory blocks they are views of and,
    for symbolic shapes, the views made for other dimensions (``cut``: dims -> views)."""

    __slots__ = ("dims", "blocks", "cut")


KEPT_VIEWS = 64


class BufferPool(threading.local):
    """The spare buffer sets of one derivative build, per thread: generated code takes
    ``pool.spare.pop()`` (or :meth:`new` when this thread's sets are all in use, as when the
    derivative is reached again from inside itself) and appends the set back right before it
    returns. A call that raises does not give its set back; the next one makes a new one.
    Sets live as long as the derivative and the thread that made them.

    A set is a list of arrays, each a view of one of a few memory blocks: arrays the code
    never needs at the same time share a block (the transform decided which).

    A build that serves every shape of a pattern (see :mod:`sourcegrad.runtime.signature`)
    has *symbolic* buffers: a length ``-1 - j`` in a view's shape stands for the ``j``-th of
    the dimensions the call passes to :meth:`take`, which sizes the set on demand.

    Make one with :meth:`of`: the arguments of the constructor are shared by every thread's
    instance (``threading.local`` calls it again in each thread that reads the pool)."""

    def __init__(self, blocks: tuple, views: tuple, made: list):
        self.blocks = blocks  # bytes per memory block (of a fixed-shape pool)
        self.views = views  # (block, shape, dtype) per buffer
        self.spare: list = []  # this thread's sets not in use
        self._made = made  # weak references to every block made, in any thread

    @classmethod
    def of(cls, blocks, views) -> BufferPool:
        """A pool of buffer sets: ``views`` ``(block, shape, dtype)`` of memory ``blocks``
        (sizes in bytes; for symbolic shapes, the least each block is made)."""
        return cls(tuple(blocks), tuple((b, tuple(s), np.dtype(d)) for b, s, d in views), [])

    @property
    def layouts(self) -> tuple:
        """``(shape, dtype)`` of each buffer of a set (lengths ``-1 - j``: symbolic)."""
        return tuple((shape, dtype) for _, shape, dtype in self.views)

    def shapes(self, dims: tuple = ()) -> list:
        """The shape of each buffer of a set sized for ``dims``."""
        return [tuple(dims[-1 - n] if n < 0 else n for n in s) for _, s, _ in self.views]

    def _sizes(self, shapes) -> list:
        """Bytes each memory block needs for buffers of ``shapes``."""
        sizes = list(self.blocks)
        for (b, _, dtype), shape in zip(self.views, shapes):
            sizes[b] = max(sizes[b], math.prod(shape) * dtype.itemsize)
        return sizes

    def new(self, dims: tuple = ()) -> BufferSet:
        """A new set of buffers (uninitialised) sized for ``dims``, C-contiguous views of new
        memory blocks."""
        shapes = self.shapes(dims)
        blocks = [np.empty(size, np.uint8) for size in self._sizes(shapes)]
        self._made[:] = [r for r in self._made if r() is not None] + [
            weakref.ref(b) for b in blocks
        ]
        return self._viewed(BufferSet(), blocks, shapes, dims)

    def _viewed(self, got: BufferSet, blocks, shapes, dims) -> BufferSet:
        got[:] = [
            blocks[b][: math.prod(shape) * dtype.itemsize].view(dtype).reshape(shape)
            for (b, _, dtype), shape in zip(self.views, shapes)
        ]
        got.dims, got.blocks, got.cut = dims, blocks, {dims: list(got)}
        return got

    def take(self, spare: list, dims: tuple) -> BufferSet:
        """A set of buffers sized for ``dims``: this thread's spare one (``spare``, the
        pool's ``spare`` list), its buffers made again for ``dims`` where they were sized for
        others (in its memory where that is large enough, never a buffer of another shape),
        or a new one."""
        if not spare:
            return self.new(dims)
        got = spare.pop()
        if got.dims == dims:
            return got
        views = got.cut.get(dims)
        if views is not None:  # cut for these lengths before
            got[:] = views
            got.dims = dims
            return got
        shapes = self.shapes(dims)
        sizes = self._sizes(shapes)
        if any(block.nbytes < size for block, size in zip(got.blocks, sizes)):
            return self.new(dims)  # the old set's memory goes with it
        cut = got.cut if len(got.cut) < KEPT_VIEWS else {}
        self._viewed(got, got.blocks, shapes, dims)
        cut[dims] = got.cut[dims]
        got.cut = cut
        return got

    def held_bytes(self) -> int:
        """Bytes of the memory blocks this pool has made that are still alive, in every
        thread."""
        alive = [r() for r in list(self._made)]
        return sum(b.nbytes for b in alive if b is not None)


pool = BufferPool.of((80, 80), ((0, (5, 2), "<f8"), (1, (5, 2), "<f8")))


def broadcast_like(t, z):
    """Tangent ``t`` broadcast to the shape of ``z`` (the result it is the tangent of); a
    container's tangent (the tangent of an adjoint of a list or dict) as it is."""
    if isinstance(t, (tuple, list, dict)):
        return t
    shape = np.shape(z)
    if np.shape(t) == shape:
        return t
    return np.broadcast_to(t, shape)


GRADIENTS[(mse.__code__, 0)] = grad_mse


FUNCTION_VALUES[(grad_mse.__code__, 0)] = vjp_grad_mse
