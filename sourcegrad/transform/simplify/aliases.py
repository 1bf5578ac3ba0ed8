"""Gradients that could alias the user's data copied."""

from __future__ import annotations

import gast
import numpy as np

from ...runtime.facts import helper_functions_where
from ...runtime.trees import copied
from .. import syntax as S
from ..forms import Derivative
from ..node_facts import get_fact, set_fact
from ..walk import statement_blocks, walk_statements
from .defuse import (
    assigns,
    is_adjoint,
    simple_target,
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


def name_copies(body, keep) -> bool:
    """Each ``t = v`` (both plain names, ``t`` bound nowhere else and not of ``keep``) read as
    ``v`` in the statements of its block that follow it, up to the first that binds or deletes
    either name again (one that only binds it after reading, ``v = f(t)``, reads ``v``); the copy
    is removed once nothing reads ``t``. ``t`` and ``v`` name the same object there, so a write
    into either is seen through both. True if anything changed."""
    binds: dict = {}
    for node in S.walk(gast.Module(body=body, type_ignores=[])):
        if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
            binds[node.id] = binds.get(node.id, 0) + 1
    changed = False
    for block in list(statement_blocks(body)):
        for stmt in list(block):
            t = simple_target(stmt)
            if t is None or t in keep or binds.get(t) != 1 or get_fact(stmt, "keep", False):
                continue
            if isinstance(stmt.value, gast.Name) and stmt.value.id != t:
                changed |= _read_through(block, stmt, t, stmt.value.id)
    if changed:
        reads = {n.id for n in S.walk(gast.Module(body=body, type_ignores=[])) if _loaded(n)}
        for block in list(statement_blocks(body)):
            for i in reversed(range(len(block))):
                if _unread_copy(block[i], reads, binds):
                    comment = get_fact(block.pop(i), "comment", None)
                    if comment and i < len(block) and not get_fact(block[i], "comment", None):
                        set_fact(block[i], "comment", comment)
    return changed


def _read_through(block, copy, t, v) -> bool:
    changed = False
    for later in block[block.index(copy) + 1 :]:
        if S.nodes_of(later, (*S.NESTED_SCOPES, gast.NamedExpr)):
            break  # a function made here may read t after v is bound again
        bound = {n.id for n in S.walk(later) if isinstance(n, gast.Name) and not _loaded(n)}
        if bound & {t, v} and isinstance(later, (gast.Assign, gast.AugAssign)):
            reads = {n.id for n in S.walk(later.value) if _loaded(n)}
            if t in reads and not (bound & {t, v}) - {v}:
                S.rename(later.value, {t: S.name(v)})
                changed = True
            break
        if bound & {t, v}:
            break
        if any(_loaded(n) and n.id == t for n in S.walk(later)):
            S.rename(later, {t: S.name(v)})
            changed = True
    return changed


def _loaded(node) -> bool:
    return isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load)


def _unread_copy(stmt, reads, binds) -> bool:
    t = simple_target(stmt)
    return (
        t is not None
        and t not in reads
        and binds.get(t) == 1
        and isinstance(stmt.value, gast.Name)
        and not get_fact(stmt, "keep", False)
    )


def named_results(body, keep) -> bool:
    """``v = e`` then ``t = v`` (``t`` of ``keep``, ``v`` a temporary bound once and read only in
    its block, up to the first statement that binds ``t`` or ``v`` again, and ``t`` not read nor
    bound in between) becomes ``t = e``, later reads of ``v`` reading ``t``. True if anything
    changed."""
    binds, loads = _name_counts(body)
    changed = False
    for block in list(statement_blocks(body)):
        for copy in list(block):
            t = simple_target(copy)
            if t not in keep or not isinstance(copy.value, gast.Name) or copy not in block:
                continue
            v = copy.value.id
            if v in keep or binds.get(v) != 1 or get_fact(copy, "keep", False):
                continue
            changed |= _name_result(block, copy, t, v, loads[v])
    return changed


def _name_result(block, copy, t, v, reads) -> bool:
    at = block.index(copy)
    start = next((i for i in range(at) if simple_target(block[i]) == v), None)
    if start is None or S.nodes_of(block[start], (gast.NamedExpr,)):
        return False
    between, after, seen = block[start + 1 : at], [], 0
    for stmt in between:
        if S.nodes_of(stmt, (*S.NESTED_SCOPES, gast.NamedExpr)) or t in _names(stmt):
            return False
        seen += _count(stmt, v)
    for stmt in block[at + 1 :]:
        if seen == reads - 1:
            break
        if S.nodes_of(stmt, (*S.NESTED_SCOPES, gast.NamedExpr)):
            return False
        bound = {n.id for n in S.walk(stmt) if isinstance(n, gast.Name) and not _loaded(n)}
        if bound & {t, v}:
            if not isinstance(stmt, (gast.Assign, gast.AugAssign)) or v in bound:
                return False
            seen += _count(stmt.value, v)
            after.append(stmt.value)
            break
        seen += _count(stmt, v)
        after.append(stmt)
    if seen != reads - 1:
        return False
    block[start].targets[0] = S.name(t, store=True)
    for node in [*between, *after]:
        S.rename(node, {v: S.name(t)})
    comment = get_fact(block.pop(at), "comment", None)
    if comment and at < len(block) and not get_fact(block[at], "comment", None):
        set_fact(block[at], "comment", comment)
    return True


def _name_counts(body):
    binds: dict = {}
    loads: dict = {}
    for node in S.walk(gast.Module(body=body, type_ignores=[])):
        if isinstance(node, gast.Name):
            counts = loads if _loaded(node) else binds
            counts[node.id] = counts.get(node.id, 0) + 1
    return binds, loads


def _names(stmt) -> set:
    return {n.id for n in S.walk(stmt) if isinstance(n, gast.Name)}


def _count(node, name) -> int:
    return sum(1 for n in S.walk(node) if _loaded(n) and n.id == name)
