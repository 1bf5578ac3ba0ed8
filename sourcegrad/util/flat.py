"""A tree of parameters as one flat vector, for optimizers that want a vector
(``scipy.optimize.minimize``, line searches, L-BFGS).

::

    x0, fun, unravel = flat_objective(sg.value_and_grad(loss), params)
    result = scipy.optimize.minimize(fun, x0, args=(x, y), jac=True, method="L-BFGS-B")
    params = unravel(result.x)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..rules import defjvp, defvjp, nondifferentiable, primitive
from ..rules.registry import d
from ..runtime.trees import as_adjoint
from .tree import (
    Array,
    Tree,
    TreeStructureError,
    array_module,
    is_static_leaf,
    path_text,
    tree_leaves,
    tree_leaves_with_paths,
    tree_structure,
)

__all__ = ["Unravel", "flat_objective", "ravel", "ravel_adjoint", "unravel_vector"]

_ARRAY, _FLOAT, _SCALAR = "array", "float", "scalar"


class Unravel:
    """The layout of one tree in a vector: ``unravel(vector)`` rebuilds a tree like it, and
    ``unravel.ravel(other)`` lays out another tree of the same structure (its gradient) the
    same way.

    Each non-static leaf (see :mod:`sourcegrad.util.tree`) takes ``leaf.size`` consecutive
    entries, in :func:`~sourcegrad.util.tree.tree_leaves` order, in C order within the leaf.
    Static leaves (None, strings, ints, bools) are not in the vector; :meth:`__call__` puts
    back the ones of the tree the layout was made from."""

    def __init__(self, like: Array) -> None:
        self.treedef = tree_structure(like)
        self.layout: list = []  # per leaf: ("static", leaf) or (kind, start, stop, shape, dtype)
        dtypes = []
        start = 0
        xp = None
        for path, leaf in tree_leaves_with_paths(like):
            if is_static_leaf(leaf):
                self.layout.append(("static", leaf))
                continue
            if type(leaf) is float:
                kind, shape, dtype = _FLOAT, (), np.dtype(np.float64)
            elif isinstance(leaf, np.generic):
                kind, shape, dtype = _SCALAR, (), leaf.dtype
            elif hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
                kind, shape, dtype = _ARRAY, tuple(leaf.shape), np.dtype(leaf.dtype)
                module = array_module(leaf)
                if xp is not None and module is not xp:
                    raise TreeStructureError(
                        f"ravel: at {path_text(path)}: arrays of both NumPy and CuPy in one tree"
                    )
                xp = module
            else:
                raise TreeStructureError(
                    f"ravel: at {path_text(path)}: a leaf of type {type(leaf).__name__} is "
                    "neither an array nor a number"
                )
            size = int(np.prod(shape, dtype=np.int64))
            self.layout.append((kind, start, start + size, shape, dtype))
            dtypes.append(dtype)
            start += size
        self.size = start
        self.dtype = np.result_type(*dtypes) if dtypes else np.dtype(np.float64)
        self.xp = xp if xp is not None else np

    def __call__(self, vector: Array) -> Array:
        """The tree, like the one this layout was made from, holding ``vector``'s entries:
        new arrays (never views of ``vector``) of each leaf's own shape and dtype, floats for
        float leaves, NumPy scalars for NumPy scalars. Differentiable (to any order) inside a
        function sourcegrad differentiates: ``loss(unravel(flat), x)`` has a gradient in
        ``flat``."""
        return unravel_vector(vector, self)

    def unflattened(self, vector: Array) -> Array:
        """What :meth:`__call__` returns (the function :func:`unravel_vector` runs)."""
        if tuple(np.shape(vector)) != (self.size,):
            raise TreeStructureError(
                f"unravel: expected a vector of shape ({self.size},), got {np.shape(vector)}"
            )
        leaves = []
        for entry in self.layout:
            kind = entry[0]
            if kind == "static":
                leaves.append(entry[1])
                continue
            _, a, b, shape, dtype = entry
            piece = vector[a:b]
            if kind == _FLOAT:
                leaves.append(float(piece[0]))
            elif kind == _SCALAR:
                leaves.append(dtype.type(piece[0]))
            else:
                leaves.append(piece.reshape(shape).astype(dtype, copy=True))
        return self.treedef.unflatten(leaves)

    def ravel(self, tree: Tree):
        """``tree`` (of the structure this layout was made from: a gradient) as one new
        vector of ``self.dtype`` laid out as this layout says; static places are skipped."""
        if tree_structure(tree) != self.treedef:
            raise TreeStructureError(
                f"ravel: the tree has structure {tree_structure(tree)}, the layout {self.treedef}"
            )
        out = self.xp.empty(self.size, dtype=self.dtype)
        for entry, leaf in zip(self.layout, tree_leaves(tree)):
            if entry[0] == "static":
                continue
            _, a, b, shape, _ = entry
            if tuple(np.shape(leaf)) != shape:
                raise TreeStructureError(
                    f"ravel: a leaf of shape {tuple(np.shape(leaf))} where the layout has {shape}"
                )
            out[a:b] = leaf.reshape(-1) if hasattr(leaf, "reshape") else leaf
        return out


@primitive
def unravel_vector(vector: Array, layout: Unravel) -> Array:
    """``layout(vector)``: the tree ``layout`` describes, holding ``vector``'s entries. A
    primitive: its adjoint lays the adjoint tree out as a vector, its tangent is itself."""
    return layout.unflattened(vector)


@primitive
def ravel_adjoint(g: Tree, layout: Unravel) -> Array:
    """The adjoint of ``vector`` in ``unravel_vector(vector, layout)`` from the adjoint ``g``
    of the tree: each leaf's adjoint at its place in the vector, zeros where a leaf's adjoint
    is absent (None: the leaf was not used). Linear in ``g``."""
    out = layout.xp.zeros(layout.size, dtype=layout.dtype)
    for entry, leaf in zip(layout.layout, _adjoint_leaves(g, layout.treedef.node)):
        if entry[0] != "static" and leaf is not None:
            _, a, b, _, _ = entry
            out[a:b] = np.reshape(leaf, -1) if hasattr(leaf, "shape") else leaf
    return out


def _adjoint_leaves(g, node) -> list:
    """The leaves of the adjoint ``g`` of a tree of structure ``node`` (a
    :class:`~sourcegrad.util.tree.TreeDef`'s), None for a missing one: an adjoint may be a
    plain container, one of sourcegrad's adjoint containers, or None (all zero)."""
    if node is None:
        return [g]
    t, keys, kids = node
    out = []
    for i, kid in enumerate(kids):
        key = keys[i] if issubclass(t, dict) else i
        try:
            child = None if g is None else g[key]
        except (KeyError, IndexError, TypeError):
            child = None
        out += _adjoint_leaves(child, kid)
    return out


def _unravel_adjoint(z, vector, layout):
    d[vector] += ravel_adjoint(d[z], layout)


def _unravel_tangent(z, vector, layout):
    d[z] += unravel_vector(d[vector], layout)


def _ravel_adjoint_adjoint(z, g, layout):
    d[g] += as_adjoint(unravel_vector(d[z], layout))


def _ravel_adjoint_tangent(z, g, layout):
    d[z] += ravel_adjoint(d[g], layout)


@primitive
def ravel_tree(tree: Tree, layout: Unravel) -> Array:
    """``layout.ravel(tree)``: the leaves of ``tree`` laid out as one new vector. A primitive:
    its adjoint is :func:`unravel_vector` of the vector's adjoint, its tangent the tangent
    tree laid out the same way."""
    return layout.ravel(tree)


def _ravel_tree_adjoint(z, tree, layout):
    d[tree] += as_adjoint(unravel_vector(d[z], layout))


def _ravel_tree_tangent(z, tree, layout):
    d[z] += ravel_adjoint(d[tree], layout)


defvjp(ravel_tree, _ravel_tree_adjoint)
defjvp(ravel_tree, _ravel_tree_tangent)
nondifferentiable(Unravel)  # a layout: the tree's structure, shapes and dtypes, no values
defvjp(unravel_vector, _unravel_adjoint)
defjvp(unravel_vector, _unravel_tangent)
defvjp(ravel_adjoint, _ravel_adjoint_adjoint)
defjvp(ravel_adjoint, _ravel_adjoint_tangent)


def ravel(tree: Tree):
    """``(vector, unravel)``: every non-static leaf of ``tree`` in one new vector (the
    result dtype of the leaves: float32 leaves give float32, mixed give float64; NumPy or
    CuPy as the leaves are), and the :class:`Unravel` that turns such a vector back into a
    tree like ``tree`` (``unravel(vector)``) and lays out gradients the same way
    (``unravel.ravel(grads)``)."""
    unravel = Unravel(tree)
    return ravel_tree(tree, unravel), unravel


def flat_objective(value_and_grad_fn: Callable, params: Tree):
    """``(x0, fun, unravel)`` for optimizers over vectors.

    ``value_and_grad_fn(params, *args)`` returns ``(value, grads)`` with ``grads`` shaped like
    ``params`` (``sourcegrad.value_and_grad(loss)``). ``fun(x, *args)`` returns ``(float(value),
    gradient vector)`` at the parameters ``unravel(x)``: what ``scipy.optimize.minimize(fun, x0,
    args=args, jac=True)`` calls. ``x0`` is ``params`` raveled (a new vector)."""
    x0, unravel = ravel(params)

    def fun(x: Array, *args):
        value, grads = value_and_grad_fn(unravel(x), *args)
        return float(value), unravel.ravel(grads)

    return x0, fun, unravel
