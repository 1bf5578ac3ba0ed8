"""The derivative of helper_loss, exported by sourcegrad 0.1.0."""

# Made by sourcegrad.export from helper_loss in tests/export_cases.py, line 16.
# d_helper_loss(params, x) returns (helper_loss(params, x), its gradient with respect to params),
# as sourcegrad.value_and_grad(helper_loss, wrt=0) does.
# It is the code sourcegrad runs (optimized, specialised to the shapes) for arguments of this
# signature, and only for them: other shapes or dtypes need another export.
#   params: {W: float64[3, 4], b: float64[4]}
#   x: float64[5, 3]
# source sha256: 8b4f8ae91ed418f8ad661f8d2663229825b3ec8a8405134a2e21b58c21af21cd of helper_loss, encode


from __future__ import annotations

import collections
import copy
import dataclasses
import functools
import inspect
import types

import numpy as np

__all__ = ["d_helper_loss"]


# the gradient of helper_loss (export_cases.py:16), the derivative that runs
def d_helper_loss(params, x):
    h = encode(params, x)
    out = np.add.reduce(h**2, None) * SCALE

    # line 18: return np.sum(h**2) * SCALE
    dh = np.add.reduce(1.0 * SCALE, None) * 2 * h
    # line 17: h = encode(params, x)
    dparams = as_adjoint(vjp_encode(params, x, g_out=dh))
    return (out, gradient_like(params, dparams))


def vjp_encode(*args, g_out, **kwargs):
    value, grads = run_vjp_encode(*args, **kwargs, g_out=g_out)
    return grads


# the vjp of encode (export_cases.py:12), the derivative that runs
def run_vjp_encode(params, x, *, g_out):
    W = params["W"]
    out_1 = np.dot(x, W)
    b = params["b"]
    out = np.tanh(np.add(out_1, b, out=out_1), out=out_1)

    # line 13: return np.tanh(x @ params["W"] + params["b"])
    dout_2 = seed_like(g_out, out) * (1.0 - out * out)
    db = sum_leading(dout_2, 1)
    dW = np.dot(x.T, dout_2)
    return (out, build_gradient(params, dW, db))


# ----------------------------------------------------------------------------
# What the derivative reads: sourcegrad's runtime helpers (copied from its source),
# the functions of yours it calls and the globals it reads (their values when exported).


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
    return {"W": _leaf(like["W"], v0, seen), "b": _leaf(like["b"], v1, seen)}


def _stacked_items(g, items) -> bool:
    """Whether array ``g`` has a row of each item's shape per item of ``items``."""
    if getattr(g, "ndim", 0) == 0 or len(g) != len(items):
        return False
    return all(np.shape(v) == g.shape[1:] for v in items)


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


def encode(params, x):
    return np.tanh(x @ params["W"] + params["b"])


SCALE = 0.5
