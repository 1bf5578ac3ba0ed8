"""Gradients that could alias the user's data copied."""

from __future__ import annotations

import gast
import numpy as np

from ...runtime.facts import helper_functions_where
from ...runtime.trees import copied
from .. import syntax as S
from ..forms import Derivative
from ..walk import walk_statements
from .defuse import (
    assigns,
    is_adjoint,
)

_PASSTHROUGH = {
    "reshape", "transpose", "swapaxes", "moveaxis", "broadcast_to", "ravel", "squeeze",
    "expand_dims", "asarray", "atleast_1d", "atleast_2d",
}  # fmt: skip


_PASSTHROUGH_HELPERS = helper_functions_where(passes=True)


def protect_aliases(der: Derivative):
    """Copy (``np.copy``) each gradient the derivative returns that may share memory with the
    user's data (an argument, or a view of one through adjoint copies and pass-through calls)."""
    body = der.node.body
    refs = der.refs
    helper_names = refs.names_of(_PASSTHROUGH_HELPERS)
    adjoint_defs = {t for s in walk_statements(body) if is_adjoint(s) for t in assigns(s)}
    alias: dict = {}

    def of(expr) -> set:
        if isinstance(expr, gast.Name):
            return alias.get(expr.id, set()) if expr.id in adjoint_defs else {expr.id}
        if isinstance(expr, gast.Subscript):
            return of(expr.value)
        if isinstance(expr, gast.Attribute) and expr.attr == "T":
            return of(expr.value)
        if isinstance(expr, gast.Call):
            fname = (
                expr.func.attr
                if isinstance(expr.func, gast.Attribute)
                else getattr(expr.func, "id", None)
            )
            if (fname in _PASSTHROUGH or fname in helper_names) and expr.args:
                return of(expr.args[0])
        return set()

    for stmt in walk_statements(body):
        if isinstance(stmt, gast.Assign) and is_adjoint(stmt):
            t = stmt.targets[0]
            if isinstance(t, gast.Name):
                alias[t.id] = alias.get(t.id, set()) | of(stmt.value)
            else:
                for e in t.elts:
                    alias[e.id] = alias.get(e.id, set()) | of(stmt.value)
    ret = body[-1]
    grads = ret.value.elts[1]
    np_name = refs.ref(np, "np")

    def protect(v, whole=False):
        if not of(v):
            return v
        like = grads.args[0]
        array = isinstance(like, gast.Name) and der.analysis.ranks.get(like.id) is not None
        if whole and array:
            return S.call(gast.Attribute(value=S.name(np_name), attr="copy", ctx=gast.Load()), [v])
        return S.call(S.name(refs.helper(copied)), [v])  # a container's: item by item

    parts = grads.args[1]
    if isinstance(parts, gast.Dict):
        parts.values = [protect(v, whole=not k.elts) for k, v in zip(parts.keys, parts.values)]
    else:
        grads.args[1] = protect(parts, whole=True)
