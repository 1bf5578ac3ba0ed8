"""Trees of parameters: nested dicts, lists, tuples and namedtuples with arrays at the leaves.

A *container* is a dict, list or tuple (namedtuples included) or a dataclass instance, exactly what sourcegrad walks
when it builds a gradient shaped like its argument (``sourcegrad.runtime.containers``);
anything else is a *leaf* (an array, a number, ``None``, a string). Children are visited in a
fixed order: a dict by insertion order, a namedtuple by field, a list or tuple by position, so
``tree_leaves(params)`` and ``tree_leaves(grads)`` line up leaf for leaf.

Leaves that are ``None``, strings, Python ints or bools are *static*: they describe the
structure (a name, a marker, a count) and carry no numbers to optimise; :func:`ravel` leaves
them out of its vector and :func:`sourcegrad.optim` leaves them alone.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeAlias

import numpy as np

from ..errors import SourcegradError
from ..rules import defjvp, defvjp, nondifferentiable, primitive
from ..rules.registry import d
from ..runtime.containers import children, is_container, is_namedtuple
from ..runtime.records import is_record
from ..runtime.trees import as_adjoint

#: a NumPy array, or a CuPy array where the inputs are CuPy arrays (for annotations)
Array: TypeAlias = Any
#: arrays (and static leaves) in any nesting of dicts, lists, tuples, namedtuples and
#: dataclasses: parameters, their gradients, optimizer state (for annotations)
Tree: TypeAlias = Any

__all__ = [
    "Array", "Tree", "TreeDef", "TreeStructureError", "array_module", "cast", "copy_into", "is_static_leaf",
    "path_text", "to_module_of", "tree_flatten", "tree_leaves",
    "tree_leaves_with_paths", "tree_map", "tree_structure", "tree_unflatten",
]  # fmt: skip


class TreeStructureError(SourcegradError, ValueError):
    """Two trees that should have the same structure (containers, keys, lengths) differ."""


def path_text(path: tuple) -> str:
    """``path`` (a tuple of keys) as Python indexing: ``['W'][0]``; ``(root)`` for ``()``."""
    return "".join(f"[{k!r}]" for k in path) or "(root)"


def is_static_leaf(x: Array) -> bool:
    """Whether ``x`` is a leaf that describes structure rather than holding numbers."""
    return x is None or isinstance(x, (str, bytes, bool, int)) and not isinstance(x, np.generic)


def array_module(*arrays: Any) -> ModuleType:
    """``cupy`` if any of ``arrays`` is a CuPy array, else ``numpy`` (CuPy is never imported
    here: a CuPy array exists only where it already is)."""
    cupy = sys.modules.get("cupy")
    if cupy is not None and any(isinstance(a, cupy.ndarray) for a in arrays):
        return cupy
    return np


def to_module_of(x: Array, like: Array) -> Array:
    """``x`` as an array of ``like``'s array module: ``x`` itself where it already is one,
    else a copy to the device (NumPy to CuPy) or to the host (CuPy to NumPy)."""
    xp = array_module(like)
    if array_module(x) is xp:
        return x
    return _to_numpy(x) if xp is np else xp.asarray(x)


def _node(x):
    """The structure of ``x`` as a hashable nested tuple (leaves: None)."""
    if not is_container(x):
        return None
    t = type(x)
    if isinstance(x, dict):
        keys = tuple(x)
    elif is_namedtuple(x) or is_record(x):
        keys = tuple(k for k, _ in children(x))
    else:
        keys = len(x)
    return (t, keys, tuple(_node(v) for _, v in children(x)))


class TreeDef:
    """The structure of a tree without its leaves: container types, keys, lengths. Two trees
    have equal ``TreeDef``\\ s exactly when their containers have the same types, keys (in the
    same order) and lengths; it is hashable, and :meth:`unflatten` rebuilds a tree from
    leaves in :func:`tree_leaves` order."""

    __slots__ = ("node", "num_leaves")

    def __init__(self, node) -> None:
        self.node = node
        self.num_leaves = _count(node)

    def __eq__(self, other):
        return isinstance(other, TreeDef) and self.node == other.node

    def __hash__(self):
        return hash(self.node)

    def __repr__(self):
        return f"TreeDef({_describe(self.node)})"

    def unflatten(self, leaves: list) -> Tree:
        """The tree of this structure holding ``leaves`` (in :func:`tree_leaves` order)."""
        leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise TreeStructureError(
                f"this structure has {self.num_leaves} leaves, got {len(leaves)}"
            )
        it = iter(leaves)
        return _build(self.node, it)


def _count(node) -> int:
    return 1 if node is None else sum(_count(c) for c in node[2])


def _describe(node) -> str:
    if node is None:
        return "*"
    t, keys, kids = node
    inner = [_describe(c) for c in kids]
    if t is dict or issubclass(t, dict):
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(keys, inner)) + "}"
    if isinstance(keys, tuple):  # namedtuple
        return t.__name__ + "(" + ", ".join(f"{k}={v}" for k, v in zip(keys, inner)) + ")"
    if t is list or issubclass(t, list):
        return "[" + ", ".join(inner) + "]"
    return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"


def _build(node, it):
    if node is None:
        return next(it)
    t, keys, kids = node
    values = [_build(c, it) for c in kids]
    if isinstance(keys, int):
        return t(values)
    if issubclass(t, dict):
        return t(zip(keys, values))
    if dataclasses.is_dataclass(t):
        out = object.__new__(t)  # the fields as they were, without running __init__ again
        for k, v in zip(keys, values):
            object.__setattr__(out, k, v)
        return out
    return t(*values)  # namedtuple


def tree_leaves(tree: Tree) -> list:
    """The leaves of ``tree``, in the fixed order described in the module docstring.
    Differentiable inside a function sourcegrad differentiates (to any order)."""
    return leaves_in_order(tree, tree_structure(tree))


@primitive
def leaves_in_order(tree: Tree, treedef: TreeDef) -> list:
    """The leaves of ``tree`` in the order of structure ``treedef`` (a dict's keys in
    ``treedef``'s order, whatever ``tree``'s); :class:`TreeStructureError` naming the first
    path where ``tree`` has another structure (other types, keys or lengths)."""
    out: list = []
    _collect(tree, treedef.node, out, ())
    return out


def _collect(x, node, out, path):
    if node is None:
        if is_container(x):
            raise TreeStructureError(
                f"at {path_text(path)}: a leaf in the first tree, a {type(x).__name__} in another"
            )
        out.append(x)
        return
    t, keys, kids = node
    if type(x) is not t:
        raise TreeStructureError(
            f"at {path_text(path)}: a {t.__name__} in the first tree, a {type(x).__name__} "
            "in another"
        )
    mine = dict(children(x))
    order = keys if isinstance(keys, tuple) else range(keys)
    if len(mine) != len(kids) or any(k not in mine for k in order):
        raise TreeStructureError(
            f"at {path_text(path)}: keys {list(order)} in the first tree, {list(mine)} in another"
        )
    for k, kid in zip(order, kids):
        _collect(mine[k], kid, out, path + (k,))


@primitive
def leaves_as_tree(g, treedef: TreeDef) -> Tree:
    """The adjoint (or tangent) ``g`` of a list of leaves as a tree of structure
    ``treedef``: None (a zero) where ``g`` holds none. Linear in ``g``."""
    items = (
        [None] * treedef.num_leaves
        if g is None
        else [_item(g, i) for i in range(treedef.num_leaves)]
    )
    return _build(treedef.node, iter(items))


@primitive
def adjoint_leaves(g, treedef: TreeDef) -> list:
    """The leaves of the adjoint (or tangent) ``g`` of a tree of structure ``treedef``, in
    its order: None where ``g`` holds none (a plain tree, an adjoint container, or None).
    Linear in ``g``."""
    out: list = []
    _adjoint_collect(g, treedef.node, out)
    return out


def _item(g, i):
    try:
        return g[i]
    except (IndexError, KeyError, TypeError):
        return None


def _adjoint_collect(g, node, out):
    if node is None:
        out.append(g)
        return
    t, keys, kids = node
    order = keys if isinstance(keys, tuple) else range(keys)
    for k, kid in zip(order, kids):
        child = None
        if g is not None:
            child = getattr(g, k, None) if is_record(g) else _item(g, k)
        _adjoint_collect(child, kid, out)


def _leaves_adjoint(z, tree, treedef):
    d[tree] += as_adjoint(leaves_as_tree(d[z], treedef))


def _leaves_tangent(z, tree, treedef):
    d[z] += adjoint_leaves(d[tree], treedef)


def _as_tree_adjoint(z, g, treedef):
    d[g] += as_adjoint(adjoint_leaves(d[z], treedef))


def _as_tree_tangent(z, g, treedef):
    d[z] += leaves_as_tree(d[g], treedef)


def _adjoint_leaves_adjoint(z, g, treedef):
    d[g] += as_adjoint(leaves_as_tree(d[z], treedef))


def _adjoint_leaves_tangent(z, g, treedef):
    d[z] += adjoint_leaves(d[g], treedef)


def _unflatten_adjoint(z, treedef, leaves):
    d[leaves] += as_adjoint(adjoint_leaves(d[z], treedef))


def _unflatten_tangent(z, treedef, leaves):
    d[z] += leaves_as_tree(d[leaves], treedef)


def tree_leaves_with_paths(tree: Tree, path: tuple = ()) -> list:
    """``(path, leaf)`` pairs in :func:`tree_leaves` order; a path is the tuple of keys
    (dict keys, namedtuple field names, list and tuple positions) from the root."""
    if not is_container(tree):
        return [(path, tree)]
    out = []
    for k, v in children(tree):
        out.extend(tree_leaves_with_paths(v, path + (k,)))
    return out


def tree_structure(tree: Tree) -> TreeDef:
    """The :class:`TreeDef` of ``tree``."""
    return TreeDef(_node(tree))


def tree_flatten(tree: Tree):
    """``(leaves, treedef)``, with ``treedef.unflatten(leaves)`` rebuilding ``tree``."""
    return tree_leaves(tree), tree_structure(tree)


@primitive
def tree_unflatten(treedef: TreeDef, leaves):
    """The tree of structure ``treedef`` holding ``leaves``."""
    return treedef.unflatten(leaves)


def tree_map(fn: Callable, tree: Tree, *rest):
    """A tree of ``tree``'s structure holding ``fn(leaf, *leaves_of_rest)`` at each leaf.

    Every tree of ``rest`` must have ``tree``'s structure (the same container types, keys and
    lengths; a dict's keys may come in another order): else :class:`TreeStructureError`
    naming the first path where they differ. Differentiable inside a function sourcegrad
    differentiates, ``fn`` a lambda or a function of the user's."""
    treedef = tree_structure(tree)
    leaves = leaves_in_order(tree, treedef)
    if not rest:
        mapped = [fn(x) for x in leaves]
    elif len(rest) == 1:
        mapped = [fn(x, y) for x, y in zip(leaves, leaves_in_order(rest[0], treedef))]
    elif len(rest) == 2:
        ys, zs = leaves_in_order(rest[0], treedef), leaves_in_order(rest[1], treedef)
        mapped = [fn(x, y, z) for x, y, z in zip(leaves, ys, zs)]
    else:
        mapped = _mapped_rows(fn, leaves, [leaves_in_order(r, treedef) for r in rest])
    return tree_unflatten(treedef, mapped)


def _mapped_rows(fn, leaves, columns) -> list:
    """``fn`` of each leaf and its fellows in ``columns`` (four trees or more: not
    differentiated, as the number of ``fn``'s arguments is not known when it is built)."""
    return [fn(x, *[c[i] for c in columns]) for i, x in enumerate(leaves)]


defvjp(leaves_in_order, _leaves_adjoint)
defjvp(leaves_in_order, _leaves_tangent)
defvjp(leaves_as_tree, _as_tree_adjoint)
defjvp(leaves_as_tree, _as_tree_tangent)
defvjp(adjoint_leaves, _adjoint_leaves_adjoint)
defjvp(adjoint_leaves, _adjoint_leaves_tangent)
defvjp(tree_unflatten, _unflatten_adjoint)
defjvp(tree_unflatten, _unflatten_tangent)
nondifferentiable(tree_structure)  # the containers' types, keys and lengths: no values
nondifferentiable(TreeDef)


def copy_into(dst: Tree, src: Tree) -> Tree:
    """Copy every array leaf of ``src`` into the array at the same place in ``dst`` (in place:
    an optimizer holding ``dst``'s arrays sees the new values) and return ``dst``. The trees
    must have the same structure and each pair of arrays the same shape; static leaves are
    left alone."""

    def put(d, s):
        if is_static_leaf(d):
            return d
        if not hasattr(d, "shape") or np.isscalar(d) or isinstance(d, np.generic):
            raise TreeStructureError(
                f"copy_into writes into arrays, not into a {type(d).__name__} leaf"
            )
        if tuple(np.shape(s)) != tuple(d.shape):
            raise TreeStructureError(
                f"copy_into: shape {tuple(np.shape(s))} into an array of shape {d.shape}"
            )
        d[...] = s
        return d

    tree_map(put, dst, src)
    return dst


_KINDS = ("float32", "float64", "numpy", "cupy")


def cast(tree: Tree, kind: str):
    """``tree`` with its leaves converted to ``kind``.

    * ``"float32"``, ``"float64"`` (or a floating NumPy dtype): floating-point arrays and
      NumPy floating scalars take that dtype (on their own device); integer and boolean
      arrays, Python numbers and static leaves are unchanged.
    * ``"cupy"``: NumPy arrays become CuPy arrays on the current device (CuPy must be
      installed); ``"numpy"``: CuPy arrays are copied to the host.

    Leaves already of the requested kind are returned as they are, not copied."""
    if isinstance(kind, str) and kind in ("numpy", "cupy"):
        if kind == "numpy":
            return tree_map(_to_numpy, tree)
        cupy = _import_cupy()
        return tree_map(lambda x: cupy.asarray(x) if isinstance(x, np.ndarray) else x, tree)
    try:
        dtype = np.dtype(kind)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind != "f":
        raise SourcegradError(
            f"cast: kind must be one of {_KINDS} or a floating dtype, got {kind!r}"
        )
    return tree_map(lambda x: _to_dtype(x, dtype), tree)


def _to_numpy(x):
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(x, cupy.ndarray):
        return cupy.asnumpy(x)
    return x


def _to_dtype(x, dtype):
    if isinstance(x, np.generic):
        return dtype.type(x) if x.dtype.kind == "f" and x.dtype != dtype else x
    dt = getattr(x, "dtype", None)
    if dt is None or np.dtype(dt).kind != "f" or not hasattr(x, "astype"):
        return x
    return x if dt == dtype else x.astype(dtype)


def _import_cupy():
    """CuPy, an optional dependency, imported only when asked for."""
    try:
        return importlib.import_module("cupy")
    except ImportError as e:
        raise SourcegradError('cast(tree, "cupy") needs CuPy: pip install cupy-cuda12x') from e
