"""Adjoints of lists read item by item add in place: the adjoint of ``layer = layers[k]`` in a
loop is ``dlayers += unindex(dlayer, layers, k)``, which makes a zero adjoint for every item
of the list and adds them all, at every step: quadratic in the list's length. Where the
accumulations are all that reads or writes ``dlayers`` for a stretch of statements (a loop),
the running code takes the adjoint apart into a plain list of its items' adjoints before
them (``item_adjoints``), adds each contribution to its one item (``add_to_item``), and puts
the adjoint together again (``joined_items``) before the statement that reads it next. The
helpers keep the accumulation as it was where the list turns out not to be a list or tuple.
"""

from __future__ import annotations

import gast

from ...runtime.helpers import add_to_item, item_adjoints, joined_items, unindex
from .. import syntax as S
from ..forms import Derivative
from ..node_facts import copy_all_facts
from .common import names_reaching


def add_items_in_place(node: gast.FunctionDef, der: Derivative) -> None:
    """Rewrite each stretch of statements that only accumulate ``d += unindex(g, xs, k)``
    into one name ``d`` (see the module docstring)."""
    unindex_names = names_reaching(der.refs, [unindex])
    if not unindex_names:
        return
    ranks = der.analysis.ranks
    for body in list(S.blocks(node.body)):
        done: set = set()
        i = 0
        while i < len(body):
            found = _first_accumulation(body[i], unindex_names, ranks, done)
            if found is None:
                i += 1
                continue
            d, xs = found
            done.add(d)
            end = _stretch_end(body, i, d, xs, unindex_names)
            if end is None:
                continue
            _rewrite(body, i, end, d, xs, der, unindex_names)


def _first_accumulation(stmt, unindex_names, ranks, done):
    """``(d, xs)`` of the first ``d += unindex(g, xs, k)`` inside a loop in ``stmt`` (``xs`` a
    name not known to hold an array), None where there is none."""
    if not isinstance(stmt, (gast.For, gast.While)):
        return None
    for n in S.walk(stmt):
        got = _accumulation(n, unindex_names)
        if got is not None and got[0] not in done and not ranks.get(got[1]):
            return got
    return None


def _accumulation(stmt, unindex_names):
    """``(d, xs)`` where ``stmt`` is ``d += unindex(g, xs, k)`` or ``d = d + unindex(...)``
    with ``g`` and ``k`` not reading ``d``, else None."""
    call = None
    if isinstance(stmt, gast.AugAssign) and isinstance(stmt.op, gast.Add):
        target, call = stmt.target, stmt.value
    elif isinstance(stmt, gast.Assign) and len(stmt.targets) == 1:
        target, value = stmt.targets[0], stmt.value
        if (
            isinstance(value, gast.BinOp)
            and isinstance(value.op, gast.Add)
            and isinstance(target, gast.Name)
            and isinstance(value.left, gast.Name)
            and value.left.id == target.id
        ):
            call = value.right
    if not (
        isinstance(call, gast.Call)
        and isinstance(target, gast.Name)
        and isinstance(call.func, gast.Name)
        and call.func.id in unindex_names
        and len(call.args) == 3
        and not call.keywords
        and isinstance(call.args[1], gast.Name)
    ):
        return None
    g, _, k = call.args
    if any(isinstance(n, gast.Name) and n.id == target.id for e in (g, k) for n in S.walk(e)):
        return None
    return target.id, call.args[1].id


def _stretch_end(body, start: int, d: str, xs: str, unindex_names):
    """The index of the first statement from ``start`` on that reads ``d`` other than by
    accumulating ``unindex(g, xs, k)`` into it; None where one before it writes ``d`` or
    ``xs`` otherwise, or where no statement of ``body`` reads ``d`` after."""
    for j in range(start, len(body)):
        accumulations = {
            id(part)
            for n in S.walk(body[j])
            if _accumulation(n, unindex_names) == (d, xs)
            for part in S.walk(n)
        }
        for n in S.walk(body[j]):
            if isinstance(n, gast.Name) and id(n) not in accumulations:
                if n.id == d:
                    return j if j > start and isinstance(n.ctx, gast.Load) else None
                if n.id == xs and not isinstance(n.ctx, gast.Load):
                    return None
    return None


def _rewrite(body, start: int, end: int, d: str, xs: str, der, unindex_names) -> None:
    """``body[start:end]``'s accumulations into ``d`` added item by item, between the
    statements that take ``d`` apart and put it together again."""
    adder = der.refs.helper(add_to_item)

    def replace(stmts, at) -> None:
        for k in at:
            n = stmts[k]
            if _accumulation(n, unindex_names) == (d, xs):
                g, x, idx = (n.value if isinstance(n, gast.AugAssign) else n.value.right).args
                new = S.assign(d, S.call(S.name(adder), [S.name(d), g, x, idx]))
                copy_all_facts(n, new, lineno=True)
                stmts[k] = new
            for field in ("body", "orelse"):
                inner = getattr(n, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                    replace(inner, range(len(inner)))

    replace(body, range(start, end))
    split = S.call(S.name(der.refs.helper(item_adjoints)), [S.name(d), S.name(xs)])
    joined = S.call(S.name(der.refs.helper(joined_items)), [S.name(d)])
    body.insert(end, gast.copy_location(S.assign(d, joined), body[end]))
    body.insert(start, gast.copy_location(S.assign(d, split), body[start]))
