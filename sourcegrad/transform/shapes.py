"""Concrete shapes for one argument signature: what the optimize pass specialises to.

For arguments of known shapes, :func:`concrete_shapes` works out the shape of every name of
the core function that is assigned exactly once and computed by an operation whose result
shape follows from its operands' shapes alone (elementwise functions and operators,
``@``/``np.dot``, reductions with constant ``axis``/``keepdims``, path reads of arguments).
A name assigned more than once (in a loop, in branches), or computed by anything else (an
index, a reshape, a data-dependent shape like ``x[x > 0]``), has no entry: nothing is assumed
about it. :func:`expression_shape` extends this to expressions of the derivative, where the
adjoint ``dx`` has the shape of ``x``.

The shapes hold for every call with the same argument shapes (a build is cached per shape
signature); for a build serving every shape of a pattern, ``optimize.shaped.symbolic_shapes``
keeps those that hold for all.
"""

from __future__ import annotations

import gast
import numpy as np

from ..rules.facts import broadcast, einsum_shape, numpy_names, product_shape, reduced_shape
from ..rules.facts import shape_of as declared_shape
from . import syntax as S
from .call_shapes import returned_shape
from .forms import Analysis
from .node_facts import get_fact
from .quiet import quietly
from .ranks import follow_path
from .split_shapes import SplitPieces, split_pieces
from .walk import walk_statements, written_names

__all__ = [
    "ARRAY_BINOPS", "broadcast", "concrete_shapes", "einsum_shape", "expression_dtype",
    "expression_kind", "expression_shape", "product_shape", "reduce_all_call", "reduced_shape",
    "sum_to_axes",
]  # fmt: skip


def concrete_shapes(analysis: Analysis, example_args) -> dict:
    """Name -> shape tuple, for the names whose shape the arguments determine (see module).

    A name assigned in several places (before a loop and in it) gets a shape when every one
    of its assignments gives that same shape: an optimistic fixed point, each round evaluating
    the statements in order with what earlier rounds found, dropping a name whose assignments
    disagree (or one of which is unknown), until nothing changes. By induction over the
    execution, every value such a name holds then has that shape. Values (integers, shapes)
    are used for later shapes (``np.zeros((n, H))``) only for names assigned once."""
    core = analysis.core
    dropped, counters, count = _assignments(core)
    multi = {t for t, k in count.items() if k > 1} | counters
    first: dict = {}
    for p, value in zip(core.params, example_args):
        shape = _value_shape(value)
        if shape is not None:  # an integer argument's value is not in the signature
            first[p] = _kept(p, (shape, _INT if type(value) is int else None), multi)
    for c in counters:
        first[c] = ((), _INT)
    for _ in range(len(count) + 2):
        env = {t: sv for t, sv in first.items() if t not in dropped}
        found = _sweep(analysis, example_args, env, dropped, counters, multi)
        disagree = {
            t
            for t, results in found.items()
            if t not in dropped and (None in results or any(r != results[0] for r in results))
        }
        if not disagree:
            return {
                t: results[0][0]
                for t, results in found.items()
                if t not in dropped and not isinstance(results[0][1], SplitPieces)
            }
        dropped |= disagree
    return {}


def _assignments(core):
    """``(dropped, counters, count)``: the names never given a shape (targets of a tuple
    assignment, of an attribute's, of a loop over anything but ``range``), the counters
    of ``for i in range(...)`` loops (integers, values unknown), and how many times each name
    (a parameter counting once) is assigned."""
    dropped: set = set()
    counters: set = set()
    count: dict = {p: 1 for p in core.params}
    for stmt in walk_statements(core.node.body):
        if isinstance(stmt, gast.For):
            it = stmt.iter
            ranged = (
                isinstance(stmt.target, gast.Name)
                and isinstance(it, gast.Call)
                and isinstance(it.func, gast.Name)
                and it.func.id == "range"
            )
            names = {n.id for n in S.name_nodes(stmt.target)}
            (counters if ranged else dropped).update(names)
        elif isinstance(stmt, gast.Assign):
            target = stmt.targets[0]  # x[k] = v keeps x's shape (a list, a dict: none)
            if not (isinstance(target, (gast.Name, gast.Subscript)) or _unpacked(stmt)):
                dropped |= set(written_names(stmt))  # a, (b, c) = f(x); x.a = v
            for t in written_names(stmt):
                count[t] = count.get(t, 0) + 1
    return dropped, counters, count


def _kept(t, got, multi):
    """What a name keeps of ``(shape, value)``: the value only for a name assigned once (of
    one assigned several times, only that it is an integer)."""
    if got is None or t not in multi:
        return got
    if isinstance(got[1], SplitPieces):
        return None  # what a split assigned in several places holds is not followed
    return got[0], _INT if _is_int(got[1]) else None


def _sweep(analysis, example_args, env, dropped, counters, multi) -> dict:
    """One round of :func:`concrete_shapes`: name -> the ``(shape, value)`` each of its
    assignments gives (None: unknown), evaluating the statements in order over ``env``."""
    found: dict = {t: [sv] for t, sv in env.items() if t not in counters}
    for stmt in walk_statements(analysis.core.node.body):
        if not (isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)):
            if _unpacked(stmt):
                _sweep_unpacked(analysis, stmt, env, found, dropped)
            continue
        t = stmt.targets[0].id
        op = analysis.ops.get(id(stmt))
        got = None
        if op is not None and t not in dropped:
            got = _kept(t, _evaluate(op, stmt, env, analysis.core, example_args), multi)
        _found(t, got, env, found)
    return found


def _found(t, got, env, found) -> None:
    """Record that ``t`` is assigned ``got`` (``(shape, value)`` or None: unknown)."""
    found.setdefault(t, []).append(got)
    if got is None:
        env.pop(t, None)
    else:
        env[t] = got


def _unpacked(stmt) -> bool:
    """Whether ``stmt`` is ``a, b, ... = <call>``, names alone on the left."""
    target = stmt.targets[0] if isinstance(stmt, gast.Assign) else None
    return isinstance(target, gast.Tuple) and all(isinstance(e, gast.Name) for e in target.elts)


def _sweep_unpacked(analysis, stmt, env, found, dropped) -> None:
    """``a, b, c = np.split(x, 3)``: each name gets its piece's shape; the names of any other
    unpacking (or of a split of another count of pieces) are unknown."""
    names = [e.id for e in stmt.targets[0].elts]
    op = analysis.ops.get(id(stmt))
    got = (
        None
        if op is None or op.key not in (np.split, np.array_split)
        else _split(op.key, op.bound, env)
    )
    shapes = got[1].shapes if got is not None else ()
    for k, t in enumerate(names):
        known = len(shapes) == len(names) and t not in dropped
        _found(t, (shapes[k], None) if known else None, env, found)


_INT = "an integer"  # a value known to be an integer, not which
_NUMBERS = ("ndim", "size", len, int, np.ndim, np.size)


def _is_int(v) -> bool:
    return type(v) is int or v is _INT


def _evaluate(op, stmt, env, core, example_args):
    """``(shape, value)`` of what ``stmt`` assigns (value: a shape tuple, an int or
    :data:`_INT` where that is known and matters for later shapes), or None if unknown."""
    key = op.key
    if key == "path":
        value = follow_path(core, stmt, example_args)
        shape = _value_shape(value)
        return None if shape is None else (shape, _INT if type(value) is int else None)
    if op.user_call:
        return returned_shape(op, env, core, example_args, concrete_shapes)
    if key == "shape":
        x = _atom(op.operands[0], env) if op.operands else None
        return None if x is None else ((len(x[0]),), x[0])
    if key == "getitem":
        return _item(_atom(op.bound.get("x"), env), op.bound.get("index"), env)
    if key in _NUMBERS:
        return (), _INT
    if key == "floordiv" and len(op.operands) == 2:  # `C // nh`: a length, as np.floor_divide's
        return _floor_division(*(_atom(x, env) for x in op.operands))
    if key == "copy" and len(op.operands) == 1:  # h = h_6, ho = ho_3: the value goes along
        return _atom(op.operands[0], env)
    if key in (np.split, np.array_split):
        return _split(key, op.bound, env)
    if key is np.reshape:
        return _reshaped(op.bound.get("a"), op.bound.get("args"), env)
    if key in (np.zeros, np.ones, np.empty, np.full) and op.operands:
        dims = _dims(op.operands[0], env)
        return None if dims is None else (dims, None)
    if key in (np.zeros_like, np.ones_like, np.empty_like) and len(op.operands) == 1:
        a = _atom(op.operands[0], env)  # np.zeros_like(a): a's shape
        return None if a is None or isinstance(a[1], SplitPieces) else (a[0], None)
    shape = declared_shape(op, {k: sv[0] for k, sv in env.items()})
    if shape is None:
        return None
    arithmetic = (np.add, np.subtract, np.multiply, np.floor_divide)
    if shape == () and key in arithmetic and len(op.operands) == 2:
        a, b = (_value(x, env) for x in op.operands)
        if type(a) is int and type(b) is int:  # i + ho: a known integer
            if key is np.floor_divide:
                return ((), a // b) if b else None
            return (), {np.add: a + b, np.subtract: a - b, np.multiply: a * b}[key]
        if _is_int(a) and _is_int(b):
            return (), _INT
    return shape, None


def _item(x, index, env):
    """``(shape, value)`` of ``x[index]`` for ``x`` known by ``(shape, value)``: an item of a
    shape (a number), a piece of a split, or a basic index of an array; None if unknown."""
    if x is None:
        return None
    if isinstance(x[1], SplitPieces):  # a piece of a split: a constant index picks it
        return x[1].piece(index)
    if isinstance(x[1], tuple):  # an item of a shape: a number
        if isinstance(index, gast.Constant) and type(index.value) is int:
            try:
                return (), x[1][index.value]
            except IndexError:
                return None
        return (), _INT if _is_int(_value(index, env)) else None
    shape = _index_shape(x[0], index, env)
    return None if shape is None else (shape, None)


def _split(key, bound, env):
    """``(stand-in shape, SplitPieces)`` of ``np.split`` / ``np.array_split`` (the stand-in is
    never handed out: see :class:`~sourcegrad.transform.split_shapes.SplitPieces`); None if unknown.
    """
    x = _atom(bound.get("ary"), env)
    if x is None:
        return None
    got = split_pieces(key, x[0], bound.get("indices_or_sections"), bound.get("axis"))
    return None if got is None else ((len(got.shapes),), got)


def _floor_division(a, b):
    """``(shape, value)`` of ``a // b`` for two numbers known by ``(shape, value)``; None
    where either is unknown or an array (its shape would follow NumPy's broadcasting)."""
    if a is None or b is None or a[0] != () or b[0] != ():
        return None
    if type(a[1]) is int and type(b[1]) is int:
        return ((), a[1] // b[1]) if b[1] else None
    return ((), _INT) if _is_int(a[1]) and _is_int(b[1]) else None


def _reshaped(a, args, env):
    """``(shape, None)`` of ``a.reshape(*args)`` when every length is known (one may be
    -1 where ``a``'s shape is known), else None."""
    x = _atom(a, env)
    if not isinstance(args, gast.Tuple):
        return None
    elts = args.elts
    dims = _dims(elts[0], env) if len(elts) == 1 else _dims(args, env)
    if dims is None or sum(d == -1 for d in dims) > 1 or any(d < -1 for d in dims):
        return None
    if x is None:  # the reshape makes these lengths, or raises
        return None if -1 in dims else (dims, None)
    size, known = int(np.prod(x[0], dtype=np.int64)), int(np.prod([d for d in dims if d != -1]))
    if -1 in dims:
        if known == 0 or size % known:
            return None
        dims = tuple(size // known if d == -1 else d for d in dims)
    return (dims, None) if int(np.prod(dims, dtype=np.int64)) == size else None


def _index_shape(shape, index, env):
    """The shape of ``x[index]`` for basic indices (integers, slices with known bounds,
    ``None``) of an ``x`` of ``shape``; None for anything else (arrays, masks, ``...``)."""
    items = index.elts if isinstance(index, gast.Tuple) else [index]
    out = []
    axis = 0
    for item in items:
        if isinstance(item, gast.Constant) and item.value is None:
            out.append(1)
            continue
        if axis >= len(shape):
            return None
        if isinstance(item, gast.Slice):
            bounds = []
            for b in (item.lower, item.upper, item.step):
                v = None if b is None else _value(b, env)
                if b is not None and not (isinstance(b, gast.Constant) and b.value is None):
                    if type(v) is not int:
                        return None
                    bounds.append(v)
                else:
                    bounds.append(None)
            if bounds[2] == 0:
                return None
            out.append(len(range(shape[axis])[slice(*bounds)]))
        elif _is_int(_value(item, env)) and _atom(item, env)[0] == ():
            pass  # an integer index drops its axis
        else:
            return None
        axis += 1
    return tuple(out) + tuple(shape[axis:])


def _atom(atom, env):
    if isinstance(atom, gast.Constant):
        if isinstance(atom.value, (int, float, complex)) and not isinstance(atom.value, bool):
            return (), atom.value if type(atom.value) is int else None
        return None
    if isinstance(atom, gast.Name):
        return env.get(atom.id)
    return None


def _value(atom, env):
    got = _atom(atom, env)
    return None if got is None else got[1]


def _dims(shape_atom, env):
    """The shape that ``np.zeros(shape_atom)`` makes, when every length is known."""
    if isinstance(shape_atom, gast.Tuple):
        dims = [_value(e, env) for e in shape_atom.elts]
        return tuple(dims) if all(type(d) is int for d in dims) else None
    v = _value(shape_atom, env)
    if type(v) is int:
        return (v,)
    return v if isinstance(v, tuple) else None


def _value_shape(value):
    if isinstance(value, (bool, int, float, complex, np.number)):
        return ()
    shape = getattr(value, "shape", None)
    return tuple(shape) if isinstance(shape, tuple) else None


def expression_shape(e, shapes: dict, adj_of: dict, np_name: str | None):
    """The shape of a derivative expression built from names of known shape (an adjoint has
    its value's shape), numbers, elementwise operators and NumPy ufuncs; None if unknown."""
    if isinstance(e, gast.Constant):
        return () if isinstance(e.value, (int, float)) and not isinstance(e.value, bool) else None
    if isinstance(e, gast.Name):
        return shapes.get(adj_of.get(e.id, e.id))
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, (gast.USub, gast.UAdd)):
        return expression_shape(e.operand, shapes, adj_of, np_name)
    if isinstance(e, gast.BinOp) and not isinstance(e.op, gast.MatMult):
        return broadcast(
            expression_shape(e.left, shapes, adj_of, np_name),
            expression_shape(e.right, shapes, adj_of, np_name),
        )
    if isinstance(e, gast.Compare) and len(e.comparators) == 1:
        return broadcast(
            expression_shape(e.left, shapes, adj_of, np_name),
            expression_shape(e.comparators[0], shapes, adj_of, np_name),
        )
    if isinstance(e, gast.Attribute) and e.attr == "T":
        inner = expression_shape(e.value, shapes, adj_of, np_name)
        return None if inner is None else inner[::-1]
    if reduce_all_call(e, np_name):  # np.add.reduce(x, None): a number
        return () if expression_shape(e.args[0], shapes, adj_of, np_name) is not None else None
    lead = get_fact(e, "leading_summed", None)
    if lead is not None:  # sum_leading(g, k), as optimize writes it
        inner = expression_shape(e.args[0], shapes, adj_of, np_name)
        return None if inner is None else inner[lead:]
    if isinstance(e, gast.Call) and isinstance(e.func, gast.Attribute):
        return _call_shape(e, shapes, adj_of, np_name)
    return None


def _call_shape(e, shapes, adj_of, np_name):
    """:func:`expression_shape` of a call of an attribute: ``g.sum(axis=..)`` and
    ``g.reshape(..)`` as specialisation writes them, ``x.astype(..)`` and ``x.copy()``, NumPy's reductions, ufuncs and products.
    """
    receiver, attr = e.func.value, e.func.attr
    numpy = isinstance(receiver, gast.Name) and receiver.id == np_name
    if attr in ("astype", "copy") and not numpy:  # x.astype(np.float32): x's shape
        return expression_shape(receiver, shapes, adj_of, np_name)
    if attr in ("sum", "reshape") and not numpy:
        inner = expression_shape(receiver, shapes, adj_of, np_name)
        kw = {k.arg: k.value for k in e.keywords}
        if attr == "sum" and not e.args and set(kw) <= {"axis", "keepdims"}:
            return reduced_shape(inner, kw.get("axis"), kw.get("keepdims"))
        if attr == "reshape" and len(e.args) == 1 and not kw:
            t = e.args[0]
            if isinstance(t, gast.Tuple) and all(
                isinstance(n, gast.Constant) and isinstance(n.value, int) and n.value >= 0
                for n in t.elts
            ):
                return tuple(n.value for n in t.elts)
        return None
    if not numpy or e.keywords:
        return None
    if attr in ("size", "ndim"):  # np.size(x), np.size(x, 0): a number, whatever x is
        return ()
    f = getattr(np, attr, None)
    args = [expression_shape(a, shapes, adj_of, np_name) for a in e.args]
    if attr in _REDUCTION_NAMES and len(args) == 1:  # np.sum(x): a number
        return None if args[0] is None else ()
    if isinstance(f, np.ufunc) and f is not np.matmul and len(args) == f.nin:
        return broadcast(*args)
    if f in (np.dot, np.matmul) and len(args) == 2:
        return product_shape(f, *args)
    return None


def sum_to_axes(g, x):
    """``(axes, keepdims_axes)`` reducing an array of shape ``g`` to shape ``x`` the way
    ``sum_to`` does: the leading axes ``x`` lacks, and the axes of length 1 in ``x`` that ``g``
    broadcast (``keepdims_axes``, counted after the leading ones are gone); None when ``g``
    does not broadcast from ``x``."""
    lead = len(g) - len(x)
    if lead < 0 or broadcast(g, x) != g:
        return None
    ones = tuple(i for i, n in enumerate(x) if n == 1 and g[lead + i] != 1)
    return tuple(range(lead)), ones


_UNKNOWN = object()
#: NumPy's reductions by name (``np.sum(x)``: one number of the reduced dtype)
_REDUCTION_NAMES = numpy_names(dtype="reduced")
ARRAY_BINOPS = {
    gast.Add: np.add,
    gast.Sub: np.subtract,
    gast.Mult: np.multiply,
    gast.Div: np.divide,
    gast.Pow: np.power,
}


def expression_dtype(e, dtypes: dict, np_name: str | None):
    """The dtype of an elementwise derivative expression over names of known dtype (NumPy's
    own promotion, Python numbers weak: evaluated on 0-d stand-ins), or None if unknown or
    a Python number."""
    got = _stand_in(e, dtypes, np_name)
    return getattr(got, "dtype", None) if got is not _UNKNOWN else None


def expression_kind(e, dtypes: dict, np_name: str | None):
    """As :func:`expression_dtype`, but a Python number's type (``int``, ``float``) where
    the expression is one (``x.shape[0]``, ``1.0 / n``)."""
    got = _stand_in(e, dtypes, np_name)
    if type(got) in (int, float):
        return type(got)
    return getattr(got, "dtype", None) if got is not _UNKNOWN else None


def _stand_in(e, dtypes, np_name):
    """A 0-d value of ``e``'s dtype (a Python number for a weak scalar), or _UNKNOWN."""
    if isinstance(e, gast.Constant):
        v = e.value
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else _UNKNOWN
    if isinstance(e, gast.Name):
        dt = dtypes.get(e.id)
        if dt is float or dt is int:  # a Python number: weak in NumPy's promotion
            return dt(0)
        return _UNKNOWN if dt is None else np.zeros((), dt)
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
        v = _stand_in(e.operand, dtypes, np_name)
        if type(v) in (int, float):  # (not np.float64, a float too)
            return -v  # a Python number stays one (np.negative would make it a strong float64)
        return _UNKNOWN if v is _UNKNOWN else _apply(np.negative, v)
    if isinstance(e, gast.BinOp):
        return _binop_stand_in(e, dtypes, np_name)
    if isinstance(e, gast.Attribute) and e.attr == "T":
        return _stand_in(e.value, dtypes, np_name)
    if (
        isinstance(e, gast.Attribute)
        and e.attr in ("size", "ndim")
        and not _is_np(e.value, np_name)
    ):
        return 0  # a count: a Python int
    if (
        isinstance(e, gast.Subscript)
        and isinstance(e.value, gast.Attribute)
        and e.value.attr == "shape"
    ):
        return 0  # a length: a Python int
    if isinstance(e, gast.Subscript):  # indexing keeps the dtype of an array
        v = _stand_in(e.value, dtypes, np_name)
        return v if hasattr(v, "dtype") else _UNKNOWN
    if isinstance(e, gast.Compare) and len(e.comparators) == 1:
        return np.zeros((), bool)
    if get_fact(e, "leading_summed", None) is not None:  # sum_leading(g, k)
        return _reduced_stand_in(_stand_in(e.args[0], dtypes, np_name))
    if reduce_all_call(e, np_name):  # np.add.reduce(x, None)
        return _reduced_stand_in(_stand_in(e.args[0], dtypes, np_name))
    if isinstance(e, gast.Call) and isinstance(e.func, gast.Attribute):
        return _call_stand_in(e, dtypes, np_name)
    return _UNKNOWN


def _binop_stand_in(e, dtypes, np_name):
    """:func:`_stand_in` of an operator: NumPy's promotion, Python's arithmetic of numbers."""
    if type(e.op) in ARRAY_BINOPS:
        a, b = _stand_in(e.left, dtypes, np_name), _stand_in(e.right, dtypes, np_name)
        if a is _UNKNOWN or b is _UNKNOWN:
            return _UNKNOWN
        if type(a) in (int, float) and type(b) in (int, float):  # Python arithmetic
            if type(a) is int and type(b) is int:
                if isinstance(e.op, gast.Pow):
                    return _UNKNOWN  # an int, or a float for a negative exponent
                return 0.0 if isinstance(e.op, gast.Div) else 0
            return 0.0
        return _apply(ARRAY_BINOPS[type(e.op)], a, b)
    if isinstance(e.op, gast.MatMult):
        a, b = _stand_in(e.left, dtypes, np_name), _stand_in(e.right, dtypes, np_name)
        if a is _UNKNOWN or b is _UNKNOWN or not hasattr(a, "dtype") or not hasattr(b, "dtype"):
            return _UNKNOWN
        return np.zeros((), np.result_type(a, b))
    return _UNKNOWN


def _call_stand_in(e, dtypes, np_name):
    """:func:`_stand_in` of a call of an attribute: array methods, NumPy's functions."""
    receiver, attr = e.func.value, e.func.attr
    kw = {k.arg: k.value for k in e.keywords}
    if attr in ("transpose", "reshape", "copy") and not _is_np(receiver, np_name):
        v = _stand_in(receiver, dtypes, np_name)  # x.transpose(..): x's dtype
        return v if hasattr(v, "dtype") else _UNKNOWN
    if attr in ("transpose", "reshape") and _is_np(receiver, np_name) and e.args:
        v = _stand_in(e.args[0], dtypes, np_name)  # np.reshape(x, ..): x's dtype
        return v if hasattr(v, "dtype") else _UNKNOWN
    if attr in ("sum", "mean", "max", "min", "prod") and not _is_np(receiver, np_name):
        v = _stand_in(receiver, dtypes, np_name)  # x.mean(axis=-1, keepdims=True)
        if e.args or not set(kw) <= {"axis", "keepdims"} or not hasattr(v, "dtype"):
            return _UNKNOWN
        return np.zeros((), getattr(np, attr)(np.zeros((1,), v.dtype)).dtype)
    if _is_np(receiver, np_name) and attr == "sum" and isinstance(kw.get("dtype"), gast.Attribute):
        d = kw["dtype"]  # np.sum(hit, 1, keepdims=True, dtype=z.dtype)
        if d.attr == "dtype" and set(kw) <= {"axis", "keepdims", "dtype"}:
            v = _stand_in(d.value, dtypes, np_name)
            return np.zeros((), v.dtype) if hasattr(v, "dtype") else _UNKNOWN
        return _UNKNOWN
    if _is_np(receiver, np_name) and attr in ("dot", "vdot") and len(e.args) == 2 and not kw:
        a, b = (_stand_in(x, dtypes, np_name) for x in e.args)
        if not (hasattr(a, "dtype") and hasattr(b, "dtype")):
            return _UNKNOWN
        return np.zeros((), np.result_type(a, b))
    if _is_np(receiver, np_name):
        f = getattr(np, attr, None)
        if attr in _REDUCTION_NAMES and e.args and set(kw) <= {"axis", "keepdims"}:
            x = _stand_in(e.args[0], dtypes, np_name)
            if x is _UNKNOWN or not all(isinstance(a, gast.Constant) for a in e.args[1:]):
                return _UNKNOWN
            return f(np.zeros((1,), np.asarray(x).dtype))  # the reduction's result dtype
        if isinstance(f, np.ufunc) and len(e.args) == f.nin and set(kw) <= {"out"}:
            args = [_stand_in(a, dtypes, np_name) for a in e.args]
            if any(a is _UNKNOWN for a in args):
                return _UNKNOWN
            if f.signature is not None:  # np.matmul: its core dimensions take no 0-d stand-in
                return np.zeros((), np.result_type(*args))
            out = _apply(f, *args)
            return out[0] if isinstance(out, tuple) else out
    return _UNKNOWN


def _apply(f, *args):
    """``f(*args)`` of stand-ins; _UNKNOWN where NumPy refuses them (``m1 - m2`` of bools)."""
    try:
        with quietly():
            return f(*args)
    except TypeError:
        return _UNKNOWN


def _is_np(e, np_name) -> bool:
    return isinstance(e, gast.Name) and e.id == np_name


def reduce_all_call(e, np_name) -> bool:
    """Whether ``e`` is ``np.add.reduce(x, None)``."""
    f = getattr(e, "func", None)
    return (
        isinstance(e, gast.Call)
        and isinstance(f, gast.Attribute)
        and f.attr == "reduce"
        and isinstance(f.value, gast.Attribute)
        and f.value.attr == "add"
        and _is_np(f.value.value, np_name)
        and len(e.args) == 2
        and isinstance(e.args[1], gast.Constant)
        and e.args[1].value is None
        and not e.keywords
    )


def _reduced_stand_in(x):
    """A stand-in of the dtype NumPy's sum of an array like ``x`` has."""
    if x is _UNKNOWN or not hasattr(x, "dtype"):
        return _UNKNOWN
    return np.zeros((), np.add.reduce(np.zeros((1,), x.dtype)).dtype)
