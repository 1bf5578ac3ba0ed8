"""Functions that generated derivative code calls.

They allocate through the array module of their inputs (``np.zeros_like`` and friends dispatch
to CuPy for CuPy arrays and keep ``ndarray`` subclasses), never through a hard-coded ``numpy``.
"""

from __future__ import annotations

import numpy as np

from ..errors import SourcegradError, UnsupportedSyntaxError
from .facts import helper
from .records import is_record
from .trees import DictPieces, Pieces, add_adjoints, as_adjoint, zero_adjoint


@helper(called_by="library")
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


@helper(constant=True)
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


def _cuts(x) -> bool:
    """Whether ``x`` is a NumPy array (or scalar) of integer or boolean dtype."""
    dtype = getattr(x, "dtype", None)
    return dtype is not None and getattr(dtype, "kind", None) in ("b", "i", "u")


@helper(linear=("g",), like="g", passes=True)
def through_write(g, x):
    """The derivative ``g`` of a value written into ``x`` (``x[k] = v``, in either direction):
    ``g`` itself, unless ``x`` is an array of integer or boolean dtype (or the :class:`Shape`
    of one), into which NumPy casts the value written by cutting it: a piecewise constant
    map, whose derivative is zero. A list or dict ``x`` holds what is written as it is."""
    if not (x.cuts if type(x) is Shape else _cuts(x)):
        return g
    if isinstance(g, (int, float)):
        return 0.0
    return np.zeros(np.shape(g), np.result_type(g, 0.0))


@helper(linear=("g",), like="x", passes=True)
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


_ONES: dict = {}  # (length, dtype char) -> a read-only vector of ones, shared by all calls


@helper(called_by="running", allocates="new")
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


def _stacked_items(g, items) -> bool:
    """Whether array ``g`` has a row of each item's shape per item of ``items``."""
    if getattr(g, "ndim", 0) == 0 or len(g) != len(items):
        return False
    return all(np.shape(v) == g.shape[1:] for v in items)


@helper(linear=("g",), like="out", passes=True)
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


@helper(linear=("g",), called_by="running", like="out", allocates="new", dtype="operand")
def given_seed(out, g):
    """The output gradient ``g`` of a vjp whose caller gives it away (no other name, container
    or view of the caller's reaches it, and the caller reads it no more), as an array the vjp
    owns, of ``out``'s shape and dtype (a float64, complex128, float32 or complex64 array):
    ``g`` itself where it is a NumPy array of that shape and dtype holding its own writeable
    memory, else a new array of the values :func:`seed_like` converted to ``out``'s dtype
    gives (NumPy's ``same_kind`` casting: a complex seed for a real output is refused; a
    float64 seed of a float32 output is rounded to float32)."""
    if type(g) is np.ndarray and g.shape == out.shape and g.dtype == out.dtype:
        if g.base is None and g.flags.writeable:  # the common case, decided at once
            return g
    s = seed_like(g, out)
    s = (s if hasattr(s, "astype") else np.asarray(s)).astype(
        out.dtype, casting="same_kind", copy=False
    )  # (not np.asarray: a CuPy array stays one)
    if type(s) is np.ndarray and s.base is None and s.flags.writeable and s.shape == out.shape:
        return s
    return np.broadcast_to(s, out.shape).astype(out.dtype, copy=True)


@helper(linear=("g",), passes=True, dtype="operand")
def expand_to(g, x, axis, keepdims):
    """``g``, the adjoint of a reduction of ``x`` over ``axis``, with the reduced axes put back
    as length-1 axes so that it broadcasts against ``x``."""
    if keepdims or axis is None:
        if axis is None and not keepdims:
            return np.reshape(g, (1,) * np.ndim(x)) if hasattr(g, "dtype") else g
        return g
    ndim = np.ndim(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = sorted(a % ndim for a in axes)
    if not hasattr(g, "dtype"):
        return g
    return np.expand_dims(g, tuple(axes))


@helper(linear=("g",), like="x", passes=True, dtype="operand")
def unreduce(g, x, axis=None, keepdims=False):
    """The adjoint of a sum of ``x`` over ``axis``: ``g`` broadcast back to ``x``'s shape,
    in ``x``'s dtype when ``g`` is a Python number."""
    if not hasattr(g, "dtype"):
        return np.full_like(x, g)
    return np.broadcast_to(expand_to(g, x, axis, keepdims), np.shape(x))


def _is_basic_index(idx) -> bool:
    for i in idx if isinstance(idx, tuple) else (idx,):
        if not (i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice))):
            return False
    return True


@helper(linear=("g",), like="x", allocates="outer")
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


@helper(called_by="running")
def item_adjoints(dxs, xs):
    """The adjoint ``dxs`` of a list or tuple ``xs`` as a plain list of its items' adjoints
    (each with zeros where ``dxs`` holds None), which :func:`add_to_item` adds into in place;
    ``dxs`` itself where ``xs`` is not a list or tuple. :func:`joined_items` makes the adjoint
    again."""
    if isinstance(dxs, Pieces) and isinstance(xs, (list, tuple)) and len(dxs) == len(xs):
        return [add_adjoints(d, zero_adjoint(x)) for d, x in zip(dxs, xs)]
    return dxs


@helper(called_by="running")
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


@helper(called_by="running")
def joined_items(acc):
    """The adjoint that :func:`item_adjoints` took apart, with what was added into it."""
    return Pieces(acc) if type(acc) is list else acc


@helper(called_by="running", allocates="new", dtype="creation")
def unindex_shaped(g, shape, dtype, idx):
    """:func:`unindex` for a NumPy array ``x`` of ``shape`` and ``dtype`` (the code specialised
    to shapes calls it, so that ``x`` itself need not be kept for the adjoint sweep)."""
    return _scatter(np.zeros(shape, dtype), g, idx)


def _scatter(out, g, idx):
    """``out`` with ``g`` added at ``idx``."""
    if _is_basic_index(idx) or _is_mask(idx):
        out[idx] = g
    else:
        np.add.at(out, idx, g)
    return out


@helper(linear=("g",))
def unclip(g, a, a_min, a_max, which):
    """The adjoint of ``a`` (``which=0``), ``a_min`` (1) or ``a_max`` (2) in
    ``np.clip(a, a_min, a_max)``, where a bound may be None and the bounds may broadcast."""
    below = False if a_min is None else a < a_min
    above = False if a_max is None else a > a_max
    if which == 0:
        return sum_to(g * np.logical_not(np.logical_or(below, above)), a)
    if which == 1:
        return None if a_min is None else sum_to(g * below, a_min)
    return None if a_max is None else sum_to(g * above, a_max)


def _is_mask(idx) -> bool:
    return getattr(idx, "dtype", None) is not None and idx.dtype == bool


@helper(constant=True)
def nondiff(value):
    """Identity: marks a value as a constant for differentiation."""
    return value


@helper(linear=("g",), like="g", allocates="new", dtype="operand")
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


@helper(linear=("g",), like="xs")
def unsum(g, xs):
    """The adjoint of Python's ``sum(xs)``: ``g`` for every item (reduced to its shape), for
    a list, a tuple or a dict's values as for an array's rows."""
    if isinstance(xs, (list, tuple, type({}.values()))):
        return Pieces(sum_to(g, x) for x in xs)
    return np.broadcast_to(g, np.shape(xs))


@helper(linear=("g",), like="g")
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


@helper(linear=("x",), like="x", passes=True, checks=True)
def not_a_view(x, message: str, line: int | None = None):
    """``x``, an item read from an array that is written into afterwards; refused (an
    ``UnsupportedSyntaxError`` saying ``message``, at the user's ``line`` of the write) where
    it is an array (a view sharing the array's memory; a 0-d one too), not a number: a build
    for unknown ranks checks when it runs what a build for known ranks decides when it is
    made."""
    if np.ndim(x) != 0 or isinstance(x, np.ndarray):
        raise UnsupportedSyntaxError(message, None, line)
    return x


@helper(linear=("x",), like="x", passes=True, checks=True)
def an_array(x, message: str, line: int | None = None):
    """``x``, a name whose writes are followed into the array or container it was read
    from (``w = z[1:]``, then ``w[0] = v`` also writes ``z``); refused (an
    ``UnsupportedSyntaxError`` saying ``message``, at the user's ``line`` of the write)
    where it is no array of one axis or more (a list's slice is a copy; a vector's item a
    number): a build for unknown ranks checks when it runs what a build for known ranks
    decides when it is made."""
    if not (isinstance(x, np.ndarray) and x.ndim >= 1):
        raise UnsupportedSyntaxError(message, None, line)
    return x


def _running_weights(a, z, i, smaller: bool):
    """The weights of ``a[i]`` and of ``z[i - 1]`` in ``z[i]``, the running maximum (minimum
    where ``smaller``) along axis 0: 1 for the operand taken, 0.5 each on a tie, as the rule
    of ``np.maximum`` splits it."""
    ahead = a[i] < z[i - 1] if smaller else a[i] > z[i - 1]
    w = ahead + 0.5 * (a[i] == z[i - 1])
    return w, 1.0 - w


@helper(linear=("g",), like="a")
def unaccumulate_extreme(g, a, z, axis=0, smaller=False):
    """The adjoint ``g`` of ``z = np.maximum.accumulate(a, axis)`` (``np.minimum`` where
    ``smaller``) carried back to ``a``: each entry of ``g`` goes to the entry the running
    extreme took there, following the recursion ``z[i] = maximum(z[i - 1], a[i])``."""
    g, a, z = (np.moveaxis(np.asarray(v, dtype=float), axis, 0) for v in (g, a, z))
    out = np.zeros(np.broadcast_shapes(g.shape, a.shape))
    carry = np.zeros(out.shape[1:])
    for i in range(out.shape[0] - 1, 0, -1):
        w_a, w_prev = _running_weights(a, z, i, smaller)
        total = g[i] + carry
        out[i] = total * w_a
        carry = total * w_prev
    if out.shape[0]:
        out[0] = g[0] + carry
    return np.moveaxis(out, 0, axis)


@helper(linear=("t",), like="a")
def accumulate_extreme_tangent(t, a, z, axis=0, smaller=False):
    """The tangent of ``z = np.maximum.accumulate(a, axis)`` (``np.minimum`` where
    ``smaller``) along the tangent ``t`` of ``a``: the recursion's weights applied forward."""
    t, a, z = (np.moveaxis(np.asarray(v, dtype=float), axis, 0) for v in (t, a, z))
    out = np.zeros(np.broadcast_shapes(t.shape, a.shape))
    if out.shape[0]:
        out[0] = t[0]
    for i in range(1, out.shape[0]):
        w_a, w_prev = _running_weights(a, z, i, smaller)
        out[i] = t[i] * w_a + out[i - 1] * w_prev
    return np.moveaxis(out, 0, axis)
