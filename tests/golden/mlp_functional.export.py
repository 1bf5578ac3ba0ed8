"""The derivative of mlp_loss, exported by sourcegrad 0.1.0."""

# Made by sourcegrad.export from mlp_loss in tests/test_export_library_cases.py, line 17.
# d_mlp_loss(params, x, labels) returns (mlp_loss(params, x, labels), its gradient with respect to
# params), as sourcegrad.value_and_grad(mlp_loss, wrt=0) does.
# It is the code sourcegrad runs (optimized, specialised to the shapes) for arguments of this
# signature, and only for them: other shapes or dtypes need another export.
#   params: {W1: float64[4, 6], b1: float64[6], W2: float64[6, 3], b2: float64[3]}
#   x: float64[5, 4]
#   labels: int64[5]
# source sha256: a7b76e3295e20339ee453f94f085943590dd7803fe019e2ed398977ba2bbf589 of mlp_loss


from __future__ import annotations

import dataclasses
import functools
import sys
import types
from types import SimpleNamespace

import numpy as np

__all__ = ["d_mlp_loss"]


# the gradient of mlp_loss (test_export_library_cases.py:17), the derivative that runs
def d_mlp_loss(params, x, labels):
    W1 = params["W1"]
    h_1 = np.dot(x, W1)
    b1 = params["b1"]
    h_2 = np.add(h_1, b1, out=h_1)
    h_2_mask = h_2 > 0
    h = F.relu(h_2)
    W2 = params["W2"]
    logits_1 = np.dot(h, W2)
    b2 = params["b2"]
    logits = np.add(logits_1, b2, out=logits_1)
    p = F.softmax(logits, 1)
    logp = F.log_softmax(logits, 1)
    out_2 = p * logp
    out = F.cross_entropy(logits, labels) + 0.1 * np.add.reduce(out_2, None)

    # line 22: return F.cross_entropy(logits, labels) + 0.1 * np.sum(p * logp)
    dout_2 = unreduce(0.1, out_2)
    dp = sum_to(dout_2 * logp, p)
    dlogp = sum_to(p * dout_2, logp)
    grad_1 = nll_loss_grad(1.0, logits, labels, "mean", None, -100, 0.0, 1)
    dlogits = grad_1 - softmax(logits, 1) * np.sum(grad_1, axis=1, keepdims=True)
    # line 21: logp = F.log_softmax(logits, 1)
    dlogits += dlogp - np.exp(logp) * np.sum(dlogp, axis=1, keepdims=True)
    # line 20: p = F.softmax(logits, 1)
    dlogits += p * (dp - np.sum(dp * p, axis=1, keepdims=True))
    # line 19: logits = h @ params["W2"] + params["b2"]
    db2 = sum_leading(dlogits, 1)
    dh = np.dot(dlogits, W2.T)
    dW2 = np.dot(h.T, dlogits)
    # line 18: h = F.relu(x @ params["W1"] + params["b1"])
    dh_2 = dh * h_2_mask
    db1 = sum_leading(dh_2, 1)
    dW1 = np.dot(x.T, dh_2)
    return (out, build_gradient(params, dW1, db1, dW2, db2))


# ----------------------------------------------------------------------------
# What the derivative reads: sourcegrad's runtime helpers (copied from its source),
# the functions of yours it calls and the globals it reads (their values when exported).


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


def scalar_gradient(like, g):
    """The gradient ``g`` of a scalar ``like`` in ``like``'s own kind: a float for a Python
    float, a NumPy scalar of ``like``'s dtype for a NumPy scalar; None for anything else."""
    if type(like) is float:
        return float(g)
    if isinstance(like, np.generic):
        return like.dtype.type(g)
    return None


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


def _leaf(like, g, seen):
    """One gradient leaf: ``g`` itself when it is a fresh array of ``like``'s kind."""
    if like is None or isinstance(like, (str, bytes)):
        return like
    if _owned(like, g, seen):
        return g
    if isinstance(like, (float, np.generic)):
        return scalar_gradient(like, g)
    return _fresh(like, g, seen)


def build_gradient(like, v0, v1, v2, v3):
    seen = set()
    return {
        "W1": _leaf(like["W1"], v0, seen),
        "b1": _leaf(like["b1"], v1, seen),
        "W2": _leaf(like["W2"], v2, seen),
        "b2": _leaf(like["b2"], v3, seen),
    }


def nll_loss_grad(
    g,
    input,
    target,
    reduction="mean",
    weight=None,
    ignore_index=-100,
    label_smoothing=0.0,
    axis=1,
):
    """The gradient of ``nll_loss`` with respect to ``input`` for the output adjoint ``g``
    (``input`` gives only the shape and dtype): linear in ``g``, and in ``target`` for
    probability targets without ``label_smoothing``."""
    shape, dtype, target = input.shape, input.dtype, target_like(target, input)
    labels = plain_labels(shape, target, weight, ignore_index, label_smoothing, axis)
    if labels is not None and np is np and np.ndim(g) == 0:
        scale = np.asarray(g, np.result_type(g, input))
        if reduction == "mean":
            scale = scale / shape[0]
        out = np.zeros(shape, scale.dtype)
        out[np.arange(shape[0]), labels] = -scale
        return out
    if reduction == "mean":
        g = g / mean_denominator(shape, dtype, target, weight, ignore_index, axis)
    scale = np.asarray(g, np.result_type(g, input))
    axis %= len(shape)
    per_sample = np.broadcast_to(scale, shape[:axis] + shape[axis + 1 :])
    coef = class_coefficients(shape, dtype, target, weight, ignore_index, label_smoothing, axis)
    return -np.expand_dims(per_sample, axis) * coef


def target_like(target, input):
    """``target`` (an array, a list or a number) as an array of ``input``'s array module."""
    if type(target) is np.ndarray and type(input) is np.ndarray:
        return target
    return to_module_of(np.asarray(target), input)


def to_module_of(x, like):
    """``x`` as an array of ``like``'s array module: ``x`` itself where it already is one,
    else a copy to the device (NumPy to CuPy) or to the host (CuPy to NumPy)."""
    if np is np:
        return x
    return _to_numpy(x) if np is np else np.asarray(x)


def _to_numpy(x):
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(x, cupy.ndarray):
        return cupy.asnumpy(x)
    return x


def plain_labels(shape, target, weight, ignore_index, label_smoothing, axis):
    """``target`` where it is the common case that :func:`nll_loss` and
    :func:`nll_loss_grad` compute by indexing: NumPy integer labels ``(N,)`` of ``(N, C)``
    inputs (classes on axis 1), none of them ``ignore_index``, without class weights or
    smoothing (then the coefficients are a one-hot and the mean divides by ``N``); None
    otherwise."""
    if (
        type(target) is not np.ndarray
        or target.dtype.kind not in "iu"
        or target.ndim != 1
        or len(shape) != 2
        or axis % 2 != 1
        or weight is not None
        or label_smoothing
        or shape[0] != target.shape[0]
        or (target == ignore_index).any()
    ):
        return None
    return target


def mean_denominator(
    shape,
    dtype,
    target,
    weight=None,
    ignore_index=-100,
    axis=1,
):
    """What ``reduction="mean"`` divides the summed loss by, in ``dtype``: the total class
    weight of the samples not ignored for integer targets (their number without ``weight``),
    the number of samples (``shape``'s size without ``axis``) for probability targets."""
    if not _is_index(target):
        classes = shape[axis % len(shape)]
        return np.dtype(dtype).type(int(np.prod(shape, dtype=np.int64)) // max(classes, 1))
    valid = target != ignore_index
    if weight is None:
        return valid.sum().astype(dtype)
    weight = to_module_of(weight, target)
    return np.where(valid, weight[np.where(valid, target, 0)], 0.0).sum().astype(dtype)


def _is_index(target):
    """Whether ``target`` holds class indices (integers) rather than class probabilities."""
    dtype = getattr(target, "dtype", None)
    return np.dtype(dtype if dtype is not None else np.asarray(target).dtype).kind in "iu"


def class_coefficients(
    shape,
    dtype,
    target,
    weight=None,
    ignore_index=-100,
    label_smoothing=0.0,
    axis=1,
):
    """``A`` of ``shape`` with the per-sample loss ``-sum(A * input, axis)``, the classes along
    ``axis``: one-hot of the integer ``target`` (zero where it is ``ignore_index``), or the
    probability ``target`` itself; mixed with the uniform ``1 / C`` by ``label_smoothing``
    and scaled by the class ``weight`` (PyTorch's rules)."""
    axis %= len(shape)
    classes = shape[axis]
    axis_shape = tuple(classes if i == axis else 1 for i in range(len(shape)))
    if _is_index(target):
        valid = target != ignore_index
        classes_of = np.expand_dims(np.where(valid, target, 0), axis)
        coef = (classes_of == np.arange(classes).reshape(axis_shape)).astype(dtype)
        if label_smoothing:
            coef = coef * (1.0 - label_smoothing) + label_smoothing / classes
        coef = coef * np.expand_dims(valid, axis)
    else:
        coef = target
        if label_smoothing:
            coef = coef * (1.0 - label_smoothing) + label_smoothing / classes
    if weight is not None:
        coef = coef * to_module_of(weight, target).astype(dtype, copy=False).reshape(axis_shape)
    return coef


def softmax(x, dim=-1):
    """``exp(x) / sum(exp(x))`` along ``dim``, computed from ``x - max(x)``:
    :func:`sourcegrad.util.softmax` with PyTorch's name for its axis (the rules below are its
    rules, written with ``dim``); the same bits, without NumPy's dispatch frames for a float
    NumPy array."""
    if type(x) is not np.ndarray or x.dtype.kind != "f":
        return softmax_2(x, dim)
    shift = np.maximum.reduce(x, axis=dim, keepdims=True)
    finite = np.isfinite(shift)
    if not np.logical_and.reduce(finite, axis=None):  # as functions.max_shift
        shift = np.where(finite, shift, 0.0)
    e = np.subtract(x, shift)
    np.exp(e, out=e)
    e /= np.add.reduce(e, axis=dim, keepdims=True)
    return e


def softmax_2(x, axis=-1):
    """``exp(x) / sum(exp(x), axis)`` without overflow; sums to 1 along ``axis``."""
    e = np.exp(x - max_shift(x, axis))
    return e / np.sum(e, axis=axis, keepdims=True)


def max_shift(x, axis=-1):
    """The maximum of ``x`` along ``axis`` (kept as a length-1 axis), with non-finite maxima
    replaced by 0: the shift that keeps ``exp(x - shift)`` from overflowing. A constant for
    differentiation (the functions below are exact whatever the shift)."""
    m = np.max(x, axis=axis, keepdims=True)
    return np.where(np.isfinite(m), m, 0.0)


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


def unreduce(g, x, axis=None, keepdims=False):
    """The adjoint of a sum of ``x`` over ``axis``: ``g`` broadcast back to ``x``'s shape,
    in ``x``'s dtype when ``g`` is a Python number."""
    if not hasattr(g, "dtype"):
        return np.full_like(x, g)
    return np.broadcast_to(expand_to(g, x, axis, keepdims), np.shape(x))


def cross_entropy(
    input,
    target,
    reduction="mean",
    weight=None,
    ignore_index=-100,
    label_smoothing=0.0,
    axis=1,
):
    """PyTorch's ``cross_entropy``: ``nll_loss(log_softmax(input, axis), target)``, with
    integer class indices or class probabilities as ``target``, class ``weight``,
    ``ignore_index`` (integer targets only) and ``label_smoothing`` as PyTorch has them; the
    classes along ``axis`` (PyTorch's 1 by default). The one implementation of softmax
    cross-entropy: :func:`sourcegrad.loss.cross_entropy` is this function with its rules."""
    shape = input.shape
    labels = plain_labels(shape, target, weight, ignore_index, label_smoothing, axis)
    if labels is not None and type(input) is np.ndarray and input.dtype.kind == "f":
        # -log_softmax(input)[i, label]: the same bits, without the log-probabilities' array
        shift = np.maximum.reduce(input, axis=1, keepdims=True)
        finite = np.isfinite(shift)
        if not np.logical_and.reduce(finite, axis=None):  # as functions.max_shift
            shift = np.where(finite, shift, 0.0)
        shifted = np.subtract(input, shift)
        total = np.add.reduce(np.exp(shifted), axis=1)
        per_sample = np.log(total) - shifted[np.arange(shape[0]), labels]
        return _reduce_weighted(per_sample, reduction, input.dtype.type(shape[0]))
    logp = log_softmax(input, axis)
    return nll_loss(logp, target, reduction, weight, ignore_index, label_smoothing, axis)


def _reduce_weighted(per_sample, reduction, denominator):
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: nan, as PyTorch
            return per_sample.sum() / denominator
    if reduction == "sum":
        return per_sample.sum()
    if reduction == "none":
        return per_sample
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


def log_softmax(x, dim=-1):
    """``x - log(sum(exp(x)))`` along ``dim``, computed from ``x - max(x)``:
    :func:`sourcegrad.util.log_softmax` with PyTorch's name for its axis."""
    return log_softmax_2(x, dim)


def log_softmax_2(x, axis=-1):
    """``x - log_sum_exp(x, axis)``: log-probabilities from unnormalised scores, exact for
    large scores (no ``log(0)`` where the softmax underflows)."""
    shifted = x - max_shift(x, axis)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def nll_loss(
    input,
    target,
    reduction="mean",
    weight=None,
    ignore_index=-100,
    label_smoothing=0.0,
    axis=1,
):
    """The negative log-likelihood of ``input`` (log-probabilities, classes along ``axis``,
    PyTorch's 1 by default) at the integer class indices ``target``, or
    ``-sum(target * input, axis)`` for probability targets of ``input``'s shape; PyTorch's
    class ``weight`` (each sample's loss times its class's weight; ``"mean"`` divides by the
    total weight) and ``ignore_index`` (those samples lose nothing and do not count).
    ``label_smoothing`` mixes the target with the uniform distribution (what
    ``cross_entropy`` passes on; PyTorch's ``nll_loss`` has none)."""
    shape, dtype, target = input.shape, input.dtype, target_like(target, input)
    labels = plain_labels(shape, target, weight, ignore_index, label_smoothing, axis)
    if labels is not None and type(input) is np.ndarray:
        per_sample = -input[np.arange(shape[0]), labels]
        return _reduce_weighted(per_sample, reduction, np.dtype(dtype).type(shape[0]))
    coef = class_coefficients(shape, dtype, target, weight, ignore_index, label_smoothing, axis)
    per_sample = -(coef * input).sum(axis=axis)
    denominator = mean_denominator(shape, dtype, target, weight, ignore_index, axis)
    return _reduce_weighted(per_sample, reduction, denominator)


def relu(x):
    """``max(x, 0)``; its gradient at 0 is 0, as PyTorch's."""
    return np.maximum(x, 0)


F = SimpleNamespace(
    cross_entropy=cross_entropy, log_softmax=log_softmax, relu=relu, softmax=softmax
)
