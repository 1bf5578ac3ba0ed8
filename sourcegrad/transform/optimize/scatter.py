"""Scatter-adds: ``a += unindex(g, x, idx)`` as ``a[idx] += g``."""

from __future__ import annotations

import gast

from ...runtime.helpers import unindex, unindex_shaped
from .. import syntax as S
from ..forms import Derivative
from ..node_facts import copy_all_facts


def scatter_accumulations(stmts, der: Derivative) -> None:
    """``a += unindex(g, x, idx)`` (zeros shaped like ``x`` with ``g`` at ``idx``, added to an
    array the derivative owns) is ``a[idx] += g`` for a basic index: no array of zeros."""
    unindex_name = der.refs.name_of(unindex)
    shaped = der.refs.name_of(unindex_shaped)
    if unindex_name is None and shaped is None:
        return
    ranks = der.analysis.ranks
    for i, stmt in enumerate(stmts):
        for attr in ("body", "orelse"):
            inner = getattr(stmt, attr, None)
            if inner:
                scatter_accumulations(inner, der)
        found = _scattered(stmt, unindex_name, shaped, ranks)
        if found is None:
            continue
        g, index = found
        new = gast.AugAssign(
            target=gast.Subscript(
                value=S.name(stmt.target.id), slice=S.clone(index), ctx=gast.Store()
            ),
            op=gast.Add(),
            value=g,
        )
        copy_all_facts(stmt, new, lineno=True)
        stmts[i] = new


def _scattered(stmt, unindex_name, shaped, ranks):
    """``(g, index)`` where ``stmt`` is ``a += unindex(g, x, idx)`` (or ``unindex_shaped``)
    of an array ``x`` and a basic index, else None."""
    v = getattr(stmt, "value", None)
    if not (
        isinstance(stmt, gast.AugAssign)
        and isinstance(stmt.target, gast.Name)
        and isinstance(v, gast.Call)
        and isinstance(v.func, gast.Name)
        and (
            (v.func.id == unindex_name and len(v.args) == 3)
            or (v.func.id == shaped and len(v.args) == 4)
        )
    ):
        return None
    if v.func.id == shaped:  # unindex_shaped(g, shape, dtype, idx): an array
        g, idx = v.args[0], v.args[3]
    else:
        g, x, idx = v.args
        if not (isinstance(x, gast.Name) and (ranks.get(x.id) or 0) >= 1):
            return None  # a list's adjoint (Pieces) is a tuple: only arrays are scattered into
    index = idx
    if (
        isinstance(idx, gast.Subscript)
        and isinstance(idx.value, gast.Attribute)
        and idx.value.attr == "s_"
    ):
        index = idx.slice  # np.s_[1:, 2] written as the subscript itself
    return (g, index) if _basic(index, ranks) else None


def _basic(idx, ranks) -> bool:
    """Whether ``idx`` is a basic index: slices, integers, None and ``...``, with names of
    rank 0 (``ranks``) for integers and slice bounds."""
    items = idx.elts if isinstance(idx, gast.Tuple) else [idx]
    for it in items:
        if isinstance(it, gast.Slice):
            if any(
                p is not None
                and not (isinstance(p, gast.Constant) or ranks.get(getattr(p, "id", None)) == 0)
                for p in (it.lower, it.upper, it.step)
            ):
                return False
            continue
        if isinstance(it, gast.Constant) and (
            it.value is None or it.value is Ellipsis or type(it.value) is int
        ):
            continue
        if isinstance(it, gast.Name) and ranks.get(it.id) == 0:
            continue
        return False
    return True
