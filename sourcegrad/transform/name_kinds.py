"""What normalize knows of a user function's names before lowering them (part of normalize,
read by :mod:`.shared_writes` and by the inlining of helpers): how often each is bound, which
surely hold an int (an index that selects by basic indexing), which surely hold an array of
at least a known number of axes (a view of it is an array; an update of it is made in place)
or an array or a number, never a container. Arrays and numbers are decided per binding,
from the arguments' examples and the values bound (NumPy's constructors, arithmetic, what a
function of the user's returns), to a fixed point over loops; a statement reads them over
the bindings of the name that reach it (:mod:`.reaching_bindings`): ``h = x @ W;
normalize_(h); h = dense(p, h)`` holds an array at the call, whatever the later binding
gives."""

from __future__ import annotations

import gast
import numpy as np

from . import syntax as S
from .reaching_bindings import ReachingBindings

__all__ = ["NameKinds", "new_numeric"]


class NameKinds:
    """``stores`` (name -> how often it is bound; an update ``y += v`` is no binding),
    ``int_names``, ``ndims`` (name -> a number of axes it surely has, one or more, wherever
    it is read), ``numeric`` (the names that surely hold an array or a number, never a
    container, wherever read; :meth:`ndim_at` and :meth:`numeric_at`: where one statement
    runs) and ``numeric_items`` (lists and dicts of such items that nothing replaces or adds
    to) of ``fn``, given ``examples`` (argument -> the value the build is made for) and whether
    ``np`` is NumPy; ``results(call, ndims)``: ``(numeric, ndim)`` of what a call of one of
    the user's functions gives (:func:`~.helper_results.helper_results`), where known."""

    def __init__(self, fn, examples: dict, numpy: bool, results=None):
        self.examples, self.numpy, self.results = examples, numpy, results
        updated = {id(n.target) for n in S.nodes_of(fn, (gast.AugAssign,))}
        self.stores: dict = {}
        for node in S.walk(fn):
            if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
                if id(node) not in updated:
                    self.stores[node.id] = self.stores.get(node.id, 0) + 1
        self.int_names = _int_names(fn, self.stores)
        self.reach = ReachingBindings(fn)
        self.binding_ndims = _binding_ndims(self.reach, examples, self, numpy)
        self.binding_numeric = _binding_numeric(self.reach, examples, numpy, results)
        names = {b.name for b in self.reach.bindings} - self.reach.opaque
        ndims = {n: self.ndim_at(None, n) for n in names}
        self.ndims = {n: ndim for n, ndim in ndims.items() if ndim}
        self.numeric = {n for n in names if self.numeric_at(None, n)}
        self.numeric_items = _numeric_items(fn, self.numeric, numpy)

    def ndim_at(self, stmt, name: str) -> int:
        """The number of axes ``name`` surely has as an array where ``stmt`` (a statement of
        the function as it stood when this was made) runs: the least of the bindings
        reaching it (of every binding where ``stmt`` is None or not one); 0 where not known."""
        return _over_reaching(self, stmt, name, self.binding_ndims, min)

    def numeric_at(self, stmt, name: str) -> bool:
        """Whether ``name`` surely holds an array or a number where ``stmt`` runs (as
        :meth:`ndim_at` reads the bindings)."""
        return bool(_over_reaching(self, stmt, name, self.binding_numeric, all))

    def value_ndim(self, stmt, value) -> int:
        """The axes ``value`` (an expression of ``stmt``) surely has as an array, 0 where
        not known."""
        known = {n: self.ndim_at(stmt, n) for n in S.names_in(value)}
        return _ndim_of(value, known, self, self.numpy)

    def value_numeric(self, stmt, value) -> bool:
        """Whether ``value`` (an expression of ``stmt``) surely gives an array or a number."""
        known = {n for n in S.names_in(value) if self.numeric_at(stmt, n)}
        return _numeric(value, known, self.numpy, self.results)

    def indices_at(self, stmt, name: str):
        """The bindings of ``name`` reaching ``stmt``, as indices into ``reach.bindings``
        (all of them where ``stmt`` is None or not a statement of the function)."""
        indices = self.reach.indices_at(stmt, name)
        if indices is None and name not in self.reach.opaque:
            indices = [i for i, b in enumerate(self.reach.bindings) if b.name == name]
        return indices

    def int_like(self, node) -> bool:
        """Whether ``node`` surely gives an int (:func:`int_valued`)."""
        return int_valued(node, self.int_names)

    def item_ndim(self, container, key) -> int:
        """The axes of the array an argument given a dict or list holds at ``key`` (never
        rebound), 0 where it holds none there."""
        name = getattr(container, "id", None)
        example = self.examples.get(name)
        if self.stores.get(name) or not isinstance(example, (dict, list)):
            return 0
        if isinstance(example, dict):
            item = example.get(key)
        else:
            inside = type(key) is int and -len(example) <= key < len(example)
            item = example[key] if inside else None
        return item.ndim if isinstance(item, np.ndarray) else 0


def _int_names(fn, stores: dict) -> set:
    """Names that surely hold an int: every binding of which is a loop over ``range(...)``
    or an int made of ints (``0``, ``len(xs)``, ``k + 1``), to a fixed point over loops (not
    an argument given an int: its build serves a bool too, which indexes as a mask)."""
    values: dict = {}
    for node in S.nodes_of(fn, (gast.AugAssign,)):  # `k += 1` (not counted in ``stores``)
        if isinstance(node.target, gast.Name):
            step = gast.BinOp(left=S.name(node.target.id), op=node.op, right=node.value)
            values.setdefault(node.target.id, []).append(step)
    updates = {n: len(vs) for n, vs in values.items()}
    for node in S.nodes_of(fn, (gast.Assign, gast.For)):
        if isinstance(node, gast.For) and isinstance(node.target, gast.Name):
            ranged = isinstance(node.iter, gast.Call) and getattr(node.iter.func, "id", None)
            values.setdefault(node.target.id, []).append(S.const(0) if ranged == "range" else None)
        elif isinstance(node, gast.Assign) and len(node.targets) == 1:
            if isinstance(node.targets[0], gast.Name):
                values.setdefault(node.targets[0].id, []).append(node.value)
    ints = {
        n
        for n, vs in values.items()
        if len(vs) == stores.get(n, 0) + updates.get(n, 0) and None not in vs
    }
    while True:
        kept = {n for n in ints if all(int_valued(v, ints) for v in values[n])}
        if kept == ints:
            return ints
        ints = kept


def int_valued(node, ints: set) -> bool:
    """Whether ``node`` surely gives an int, given the names ``ints`` that hold one."""
    if isinstance(node, gast.Constant):
        return type(node.value) is int
    if isinstance(node, gast.Name):
        return node.id in ints
    if isinstance(node, gast.Call):
        return getattr(node.func, "id", None) == "len" and len(node.args) == 1
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
        return int_valued(node.operand, ints)
    if isinstance(node, gast.BinOp) and isinstance(
        node.op, (gast.Add, gast.Sub, gast.Mult, gast.FloorDiv, gast.Mod)
    ):
        return int_valued(node.left, ints) and int_valued(node.right, ints)
    return False


#: NumPy's functions making a new array, and the axes it surely has: a number of axes, or
#: how the arguments tell them (``"shape"``: one per item of the shape given first, one for an
#: int; ``"like"``: those of the first argument; ``"items"``: one more than the items of a
#: list display given first, else the first argument's)
_MADE_ARRAYS = {
    "zeros": "shape", "ones": "shape", "empty": "shape", "full": "shape",
    "zeros_like": "like", "ones_like": "like", "empty_like": "like", "full_like": "like",
    "copy": "like", "array": "items", "asarray": "items", "asanyarray": "items",
    "arange": 1, "linspace": 1, "logspace": 1, "geomspace": 1,
    "eye": 2, "identity": 2, "tri": 2, "diagflat": 2, "outer": 2,
}  # fmt: skip


def _binding_ndims(reach, examples: dict, context, numpy: bool) -> list:
    """The number of axes each binding of ``reach`` surely gives its name as an array (0
    where not known): an argument's example, a value's (:func:`_ndim_of`, its names read as
    the bindings reaching it tell), an update keeping its name's; to a fixed point over the
    bindings in loops (0 for all but the arguments where none is reached)."""
    found = []
    for b in reach.bindings:
        example = examples.get(b.name) if b.form == "param" else None
        found.append(example.ndim if isinstance(example, np.ndarray) else 0)
    followed = [i for i, b in enumerate(reach.bindings) if b.form in ("value", "update", "loop")]
    for i in followed:
        found[i] = 64  # (as many as any: lowered until every binding agrees)
    for _ in range(20):
        before = list(found)
        for i in followed:
            b = reach.bindings[i]
            if b.form == "update":
                found[i] = _over_reaching(reach, b.stmt, b.name, found, min)
            else:
                names = S.names_in(b.value)
                known = {n: _over_reaching(reach, b.stmt, n, found, min) for n in names}
                found[i] = _ndim_of(b.value, known, context, numpy)
        if found == before:
            return found
    return [n if b.form == "param" else 0 for n, b in zip(found, reach.bindings)]


def _over_reaching(reach, stmt, name: str, found: list, combine):
    """``combine`` (``min``, ``all``) of ``found`` over the bindings of ``name`` reaching
    ``stmt`` (``reach``: a :class:`~.reaching_bindings.ReachingBindings` or a
    :class:`NameKinds`); 0 (false) where none does."""
    indices = reach.indices_at(stmt, name)
    return combine(found[i] for i in indices) if indices else 0


def _ndim_of(value, known: dict, context, numpy: bool) -> int:
    """The number of axes ``value`` surely has as an array, 0 where not known."""
    if isinstance(value, gast.Name):
        return known.get(value.id, 0)
    if isinstance(value, gast.Starred):  # each item of what a loop runs over
        items = value.value
        if isinstance(items, (gast.Tuple, gast.List)) and items.elts:
            return min(_ndim_of(e, known, context, numpy) for e in items.elts)
        example = context.examples.get(getattr(items, "id", None))
        if isinstance(example, (list, tuple)) and example and not context.stores.get(items.id):
            return min(context.item_ndim(items, k) for k in range(len(example)))
        return 0
    if isinstance(value, gast.BinOp):
        left = _ndim_of(value.left, known, context, numpy)
        right = _ndim_of(value.right, known, context, numpy)
        if isinstance(value.op, gast.MatMult):  # (an operand of two axes or more: one less)
            return max(left, right) - 1 if max(left, right) >= 2 else 0
        return max(left, right)
    if isinstance(value, gast.Subscript) and isinstance(value.slice, gast.Constant):
        return context.item_ndim(value.value, value.slice.value)
    if isinstance(value, gast.UnaryOp) and isinstance(value.op, (gast.USub, gast.UAdd)):
        return _ndim_of(value.operand, known, context, numpy)
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and context.results:
        given = [_ndim_of(a, known, context, numpy) for a in value.args]
        return context.results(value, given)[1]
    if not (isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute)):
        return 0
    func, args = value.func, value.args
    if func.attr == "copy" and not args and isinstance(func.value, gast.Name):
        return known.get(func.value.id, 0)
    if not (numpy and getattr(func.value, "id", None) == "np" and args):
        return 0
    made = _MADE_ARRAYS.get(func.attr)
    if isinstance(made, int):
        return made
    first = args[0]
    if made == "shape":
        if isinstance(first, gast.Tuple):
            return len(first.elts)
        return 1 if context.int_like(first) else 0
    if made == "items" and isinstance(first, (gast.List, gast.Tuple)):
        items = [_ndim_of(e, known, context, numpy) for e in first.elts]
        return 1 + min(items, default=0)
    if made is not None or isinstance(getattr(np, func.attr, None), np.ufunc):
        return max(_ndim_of(a, known, context, numpy) for a in args)
    return 0


#: NumPy functions giving an array or a number (besides the ufuncs and those making arrays)
_NUMERIC_NUMPY = frozenset(
    {
        "sum", "mean", "max", "min", "prod", "std", "var", "dot", "matmul", "where", "clip",
        "stack", "concatenate", "tensordot", "einsum", "abs", "vstack", "hstack", "cumsum",
        "diff", "trace", "diag",
    }
) | frozenset(_MADE_ARRAYS)  # fmt: skip
#: methods of an array giving an array or a number
_NUMERIC_METHODS = frozenset({"copy", "sum", "mean", "reshape", "astype", "dot", "ravel"})


def _binding_numeric(reach, examples: dict, numpy: bool, results) -> list:
    """Whether each binding of ``reach`` surely gives its name an array or a number, never a
    list, a dict or another object: an argument given one; NumPy's functions, arithmetic
    with a float constant or between such values, an item or a copy of one (its names read
    as the bindings reaching it tell); an update of such a value; to a fixed point."""
    numbers = (np.ndarray, np.generic, int, float, complex)
    found = [
        (
            isinstance(examples.get(b.name), numbers)
            if b.form == "param"
            else b.form in ("value", "update")
        )
        for b in reach.bindings
    ]
    while True:
        before = list(found)
        for i, b in enumerate(reach.bindings):
            if not found[i] or b.form == "param":
                continue
            if b.form == "update":
                found[i] = bool(_over_reaching(reach, b.stmt, b.name, found, all))
            else:
                names = S.names_in(b.value)
                known = {n for n in names if _over_reaching(reach, b.stmt, n, found, all)}
                found[i] = _numeric(b.value, known, numpy, results)
        if found == before:
            return found


def _numeric(value, known: set, numpy: bool, results=None) -> bool:
    """Whether ``value`` surely gives an array or a number, given the names ``known`` to
    (and ``results``, what calls of the user's functions give: :class:`NameKinds`)."""
    if value is None:
        return False
    if isinstance(value, gast.Constant):
        return type(value.value) in (int, float, complex, bool)
    if isinstance(value, gast.Name):
        return value.id in known
    if isinstance(value, gast.UnaryOp) and isinstance(value.op, (gast.USub, gast.UAdd)):
        return _numeric(value.operand, known, numpy, results)
    if isinstance(value, gast.BinOp):
        sides = (value.left, value.right)
        floats = any(isinstance(s, gast.Constant) and type(s.value) is float for s in sides)
        return floats or all(_numeric(s, known, numpy, results) for s in sides)
    if isinstance(value, gast.Subscript):
        return _numeric(value.value, known, numpy, results)
    if isinstance(value, gast.Attribute) and value.attr == "T":
        return _numeric(value.value, known, numpy, results)
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and results:
        return results(value, [0] * len(value.args))[0]
    if not (isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute)):
        return False
    func = value.func
    if numpy and getattr(func.value, "id", None) == "np":
        return func.attr in _NUMERIC_NUMPY or isinstance(getattr(np, func.attr, None), np.ufunc)
    return func.attr in _NUMERIC_METHODS and _numeric(func.value, known, numpy, results)


#: builtins whose result holds none of their argument's items
_CONSUMING_CALLS = frozenset({"len", "sum", "float", "int", "abs", "round"})
#: NumPy functions whose result may be their argument itself or a view of it
_NUMPY_VIEWS = frozenset(
    {"asarray", "asanyarray", "reshape", "ravel", "transpose", "squeeze", "atleast_1d",
     "atleast_2d", "atleast_3d", "expand_dims", "swapaxes", "moveaxis", "broadcast_to"}
)  # fmt: skip


def _numeric_items(fn, numeric: set, numpy: bool) -> set:
    """The names bound once, by a list or dict display of new values that surely are arrays
    or numbers (held by no other name), whose items are only read after, none handed on but
    to a name (:func:`_reads_items`): their items stay such values, held by no container."""
    displays, bound = {}, {}
    for node in S.walk(fn):
        if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
            bound[node.id] = bound.get(node.id, 0) + 1
    for node in S.nodes_of(fn, (gast.Assign,)):
        target, value = node.targets[0], node.value
        if len(node.targets) == 1 and isinstance(target, gast.Name):
            items = value.elts if isinstance(value, gast.List) else None
            if isinstance(value, gast.Dict) and None not in value.keys:
                items = value.values
            if items is not None and all(new_numeric(v, numeric, numpy) for v in items):
                displays[target.id] = (target, isinstance(value, gast.Dict))
    parents = {id(c): n for n in S.walk(fn) for c in gast.iter_child_nodes(n)}
    out = {n for n in displays if bound.get(n) == 1}
    for node in S.name_nodes(fn):
        if node.id in out and node is not displays[node.id][0]:
            if not _reads_items(node, parents, displays[node.id][1]):
                out.discard(node.id)
    return out


def new_numeric(value, numeric: set, numpy: bool) -> bool:
    """Whether ``value`` surely makes a new array or number (no view, no name's own)."""
    if isinstance(value, gast.Call):
        func = value.func
        if any(k.arg in ("out", None) for k in value.keywords):
            return False
        if not isinstance(func, gast.Attribute) or func.attr in ("asarray", "asanyarray"):
            return False
        if getattr(func.value, "id", None) != "np" and func.attr != "copy":
            return False
    elif not isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Constant)):
        return False
    return _numeric(value, numeric, numpy)


def _reads_items(node, parents: dict, keyed: bool) -> bool:
    """Whether the use ``node`` of a container's name only reads its items, handing none of
    them on but to a name (which aliasing links): ``hs[0] * 2``, ``w = hs[0]``, ``len(hs)``,
    ``sum(np.sum(v) for v in hs)``, a dict's keys (``keyed``: ``for k in d``); not
    ``[hs[0]]``, ``f(hs[0])``, ``for v in hs``."""
    up = parents.get(id(node))
    if keyed and isinstance(up, (gast.For, gast.comprehension)) and up.iter is node:
        return True
    if isinstance(up, gast.Subscript) and up.value is node:
        if not isinstance(up.ctx, gast.Load):
            return False
        holder = parents.get(id(up))
        if isinstance(holder, gast.Assign) and holder.value is up:
            return all(isinstance(t, gast.Name) for t in holder.targets)
        return _consumed(up, parents)
    if isinstance(up, gast.comprehension) and up.iter is node:
        return _consumed(parents.get(id(up)), parents)
    if isinstance(up, gast.Attribute) and up.attr in ("values", "items", "keys"):
        call = parents.get(id(up))
        if not (isinstance(call, gast.Call) and call.func is up and not call.args):
            return False
        over = parents.get(id(call))
        if up.attr == "keys" or (isinstance(over, gast.comprehension) and over.iter is call):
            return up.attr == "keys" or _consumed(parents.get(id(over)), parents)
        return False
    return _consumed(node, parents)


def _consumed(node, parents: dict) -> bool:
    """Whether the value of ``node`` (an item, a container or a comprehension over items)
    goes only into a new value: arithmetic, a comparison, ``len``/``sum``, a NumPy function
    that copies; the item of an item read the same way."""
    up = parents.get(id(node))
    if isinstance(up, (gast.BinOp, gast.UnaryOp, gast.Compare)):
        return True
    if isinstance(up, gast.Subscript) and up.value is node and isinstance(up.ctx, gast.Load):
        return _consumed(up, parents)
    if isinstance(up, gast.Attribute) and up.attr in ("shape", "ndim", "size", "dtype"):
        return True
    if isinstance(up, gast.Call) and any(a is node for a in up.args):
        func = up.func
        if isinstance(func, gast.Name):
            return func.id in _CONSUMING_CALLS
        return (
            isinstance(func, gast.Attribute)
            and getattr(func.value, "id", None) == "np"
            and func.attr not in _NUMPY_VIEWS
            and not any(k.arg in ("out", None) for k in up.keywords)
        )
    return False
