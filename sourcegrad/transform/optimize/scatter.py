"""Scatter-adds: ``a += unindex(g, x, idx)`` as ``a[idx] += g``."""

from __future__ import annotations

import gast

from ...runtime import NAMESPACE
from .. import syntax as S
from ..reverse import Derivative


def scatter_accumulations(stmts, der: Derivative) -> None:
    """``a += unindex(g, x, idx)`` (zeros shaped like ``x`` with ``g`` at ``idx``, added to an
    array the derivative owns) is ``a[idx] += g`` for a basic index: no array of zeros."""
    unindex = der.refs.by_id.get(id(NAMESPACE["unindex"]))
    shaped = der.refs.by_id.get(id(NAMESPACE["unindex_shaped"]))
    ranks = der.analysis.ranks
    if unindex is None and shaped is None:
        return

    def basic(idx) -> bool:
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

    for i, stmt in enumerate(stmts):
        for attr in ("body", "orelse"):
            inner = getattr(stmt, attr, None)
            if inner:
                scatter_accumulations(inner, der)
        v = getattr(stmt, "value", None)
        if not (
            isinstance(stmt, gast.AugAssign)
            and isinstance(stmt.target, gast.Name)
            and isinstance(v, gast.Call)
            and isinstance(v.func, gast.Name)
            and (
                (v.func.id == unindex and len(v.args) == 3)
                or (v.func.id == shaped and len(v.args) == 4)
            )
        ):
            continue
        if v.func.id == shaped:  # unindex_shaped(g, shape, dtype, idx): an array
            g, idx = v.args[0], v.args[3]
        else:
            g, x, idx = v.args
            if not (isinstance(x, gast.Name) and (ranks.get(x.id) or 0) >= 1):
                continue  # a list's adjoint (Pieces) is a tuple: only arrays are scattered into
        index = idx
        if (
            isinstance(idx, gast.Subscript)
            and isinstance(idx.value, gast.Attribute)
            and idx.value.attr == "s_"
        ):
            index = idx.slice  # np.s_[1:, 2] written as the subscript itself
        if not basic(index):
            continue
        new = gast.AugAssign(
            target=gast.Subscript(
                value=S.name(stmt.target.id), slice=S.clone(index), ctx=gast.Store()
            ),
            op=gast.Add(),
            value=g,
        )
        for attr, val in stmt.__dict__.items():
            if attr.startswith("sg_") or attr == "lineno":
                setattr(new, attr, val)
        stmts[i] = new
