"""Tokens for "provably the same shape", and the names derivative code reads only for their
shape. Shared by the reverse and forward passes and the passes after them."""

from __future__ import annotations

import gast
import numpy as np

from ..runtime.helpers import sum_to, through_write, unindex
from . import syntax as S
from .forms import Analysis


def shape_only_reads(stmts, refs, np_name=None, arrays=None) -> set:
    """Names that the statements read only as the shape argument of ``sum_to``, as the
    array written into by ``through_write`` (its dtype: a :class:`Shape` keeps whether it
    cuts) or, given the name NumPy goes by, in ``np.shape(x)``; given ``arrays`` (names
    surely holding arrays), also as the array ``x`` of ``unindex(g, x, idx)``, whose zeros
    a :class:`Shape` of an array makes."""
    sum_to_name, through_name = refs.name_of(sum_to), refs.name_of(through_write)
    unindex_name = refs.name_of(unindex) if arrays else None
    total: dict = {}
    as_shape: dict = {}
    for stmt in stmts:
        for n in S.walk(stmt):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                total[n.id] = total.get(n.id, 0) + 1
            x = shape_read(n, sum_to_name, np_name) or shape_read(n, through_name, None)
            if x is None and unindex_name is not None:
                x = _unindexed_array(n, unindex_name, arrays)
            if x is not None:
                as_shape[x] = as_shape.get(x, 0) + 1
    return {x for x, k in as_shape.items() if total.get(x) == k}


def _unindexed_array(n, unindex_name: str, arrays) -> str | None:
    """``x`` when ``n`` is ``unindex(g, x, idx)`` of a name in ``arrays``."""
    if not (isinstance(n, gast.Call) and isinstance(n.func, gast.Name)):
        return None
    if n.func.id != unindex_name or len(n.args) != 3 or n.keywords:
        return None
    x = n.args[1]
    return x.id if isinstance(x, gast.Name) and x.id in arrays else None


def shape_read(n, sum_to_name, np_name):
    """``x`` when ``n`` is ``sum_to(g, x)`` or ``np.shape(x)`` (with ``np_name``)."""
    if not isinstance(n, gast.Call):
        return None
    f = n.func
    if isinstance(f, gast.Name) and f.id == sum_to_name and len(n.args) == 2:
        x = n.args[1]
    elif (
        np_name is not None
        and isinstance(f, gast.Attribute)
        and f.attr == "shape"
        and isinstance(f.value, gast.Name)
        and f.value.id == np_name
        and len(n.args) == 1
    ):
        x = n.args[0]
    else:
        return None
    return x.id if isinstance(x, gast.Name) else None


def shape_key(analysis: Analysis, adj_of: dict, e, local=()):
    """A token equal for expressions whose shapes are provably equal; ``"scalar"`` for
    numbers and 0-d values; None when unknown. ``local`` holds pairs of tokens known equal
    only at the statement being differentiated."""
    shapes, ranks = analysis.same_shape, analysis.ranks
    if isinstance(e, gast.Constant):
        return "scalar" if isinstance(e.value, (int, float)) else None
    if isinstance(e, gast.Name):
        x = adj_of.get(e.id, e.id)
        if ranks.get(x) == 0:
            return "scalar"
        return shapes.find(x)
    if isinstance(e, gast.UnaryOp):
        return shape_key(analysis, adj_of, e.operand)
    if (
        isinstance(e, gast.Call)
        and isinstance(e.func, gast.Attribute)
        and e.func.attr in ("sum", "mean", "size")
        and isinstance(e.func.value, gast.Name)
        and e.func.value.id in ("np", "numpy")
        and len(e.args) == 1
        and not e.keywords
    ):
        return "scalar"  # a full reduction
    if (
        isinstance(e, gast.Call)
        and isinstance(e.func, gast.Attribute)
        and isinstance(e.func.value, gast.Name)
        and e.func.value.id in ("np", "numpy")
        and isinstance(getattr(np, e.func.attr, None), np.ufunc)
        and getattr(np, e.func.attr).nin == 1
        and len(e.args) == 1
        and not e.keywords
    ):
        return shape_key(analysis, adj_of, e.args[0])  # an elementwise function
    if (
        isinstance(e, gast.Call)
        and isinstance(e.func, gast.Name)
        and e.func.id == analysis.unreduce_name
        and len(e.args) >= 2
    ):
        return shape_key(analysis, adj_of, e.args[1], local)  # broadcast back to x's shape
    if isinstance(e, gast.BinOp) and not isinstance(e.op, gast.MatMult):
        a = shape_key(analysis, adj_of, e.left, local)
        b = shape_key(analysis, adj_of, e.right, local)
        if a == "scalar":
            return b
        if b == "scalar":
            return a
        return a if a == b or (a is not None and frozenset((a, b)) in local) else None
    return None
