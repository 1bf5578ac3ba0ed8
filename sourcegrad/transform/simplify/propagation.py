"""Constants and copies propagated, single-use temporaries inlined, an assignment and the
accumulation after it merged."""

from __future__ import annotations

import numbers

import gast

from .. import syntax as S
from ..node_facts import get_fact, set_fact
from ..walk import definition_counts, load_counts, read_parts
from .defuse import (
    COMPOUND,
    assigns,
    is_adjoint,
    move_comment,
    replace_everywhere,
    replace_in,
    simple_target,
)


def propagate(body, keep):
    """Replace each name assigned once a number, or a copy of a name (adjoint or temporary),
    by its value everywhere, except names of ``keep``; True if anything changed."""
    defs = definition_counts(body)
    changed = False
    for stmt in list(body):
        t = simple_target(stmt)
        if t is None or t in keep or defs.get(t) != 1 or stmt not in body:
            continue
        if get_fact(stmt, "keep", False):
            continue
        v = stmt.value
        ok = (
            isinstance(v, gast.Constant)
            and isinstance(v.value, numbers.Number)
            and not isinstance(v.value, bool)
        )
        ok |= (
            isinstance(v, gast.Name)
            and defs.get(v.id, 0) <= 1
            and (is_adjoint(stmt) or get_fact(stmt, "temp", False))
        )
        if not ok:
            continue
        if get_fact(stmt, "comment", None):
            move_comment(body, stmt)
        body.remove(stmt)
        replace_everywhere(body, {t: v})
        changed = True
    return changed


def block_copies(body, keep, defs):
    """Inside each block, ``t = v`` (a temporary copy of a name) is replaced by ``v`` in the
    statements that follow it, up to the first reassignment of ``t`` or ``v``; a copy of a
    name onto itself is dropped."""
    changed = False
    for stmt in list(body):
        if isinstance(stmt, COMPOUND):
            changed |= block_copies(stmt.body, keep, defs) | block_copies(stmt.orelse, keep, defs)
    for stmt in list(body):
        if stmt not in body:
            continue
        t = simple_target(stmt)
        if t is None or get_fact(stmt, "keep", False) or not isinstance(stmt.value, gast.Name):
            continue
        v = stmt.value.id
        if v == t:
            body.remove(stmt)
            changed = True
            continue
        if t in keep or defs.get(t) != 1 or not (is_adjoint(stmt) or get_fact(stmt, "temp", False)):
            continue
        start = body.index(stmt)
        for later in body[start + 1 :]:
            if isinstance(later, COMPOUND) and assigns(later) & {t, v}:
                break  # a loop or branch that reassigns either: later reads may differ
            for part in read_parts(later) if not isinstance(later, COMPOUND) else [later]:
                if any(isinstance(n, gast.Name) and n.id == t for n in S.walk(part)):
                    changed = True
            replace_in(later, {t: stmt.value})
            if assigns(later) & {t, v}:
                break
    return changed


def inline(body, keep, defs=None, uses=None, quiet=None):
    """Inline single-use temporaries into their one use, within each block (all of them in
    one call: inlining moves reads from one statement to another, so the def and use counts
    stay true for every other name); never out of or into the lines a quiet ``with`` covers
    (``quiet``: line -> its layers)."""
    if defs is None:
        defs, uses = definition_counts(body), load_counts(body)
    changed = False
    for stmt in body:
        if isinstance(stmt, COMPOUND):
            changed |= inline(stmt.body, keep, defs, uses, quiet)
            changed |= inline(stmt.orelse, keep, defs, uses, quiet)
    start = 0
    loads: dict = {}  # id(statement) -> the names it reads, while it is not rewritten
    while True:
        i = _inline_one(body, keep, (defs, uses, quiet or {}), start, loads)
        if i is None:
            return changed
        changed = True
        start = max(i - 1, 0)


def _loads(stmt, cache) -> set:
    """The names ``stmt`` reads (a compound statement: anywhere in it), cached by ``id``."""
    got = cache.get(id(stmt))
    if got is None:
        parts = [stmt] if isinstance(stmt, COMPOUND) else read_parts(stmt)
        got = cache[id(stmt)] = {
            n.id for part in parts for n in S.name_nodes(part) if isinstance(n.ctx, gast.Load)
        }
    return got


def _first_read(body, start, name, loads):
    """The index of the first statement of ``body`` from ``start`` that reads ``name``
    (:func:`_loads`, cached in ``loads``); None if none does."""
    for k in range(start, len(body)):
        got = loads.get(id(body[k]))
        if got is None:
            got = _loads(body[k], loads)
        if name in got:
            return k
    return None


def _inline_one(body, keep, counts, start, loads):
    """Inline the first inlinable temporary from ``start``; its index, or None."""
    defs, uses, quiet = counts
    for i in range(start, len(body)):
        stmt = body[i]
        t = simple_target(stmt)
        if t is None or t in keep or defs.get(t) != 1 or uses.get(t) != 1:
            continue
        forward_temp = get_fact(stmt, "temp", False) and not is_adjoint(stmt)
        if not (forward_temp or is_adjoint(stmt)):
            continue
        if forward_temp and not get_fact(stmt, "pure", False):
            continue
        if _calls_a_derivative(stmt.value) or get_fact(stmt, "kept") is not None:
            # `dh = vjp_f(..., g_out=...)` on a line of its own, as one writes it; so is
            # `h = f(x)`, whose forward the running code keeps for that vjp (kept_calls)
            continue
        j = _first_read(body, i + 1, t, loads)
        if j is None:
            continue
        user = body[j]
        if isinstance(user, COMPOUND):
            continue
        if quiet and quiet.get(getattr(stmt, "lineno", None)) != quiet.get(
            getattr(user, "lineno", None)
        ):
            continue
        if forward_temp and (
            is_adjoint(user) or get_fact(user, "group", None) != get_fact(stmt, "group", None)
        ):
            continue
        reads = {n.id for n in S.name_nodes(stmt.value)}
        if any(assigns(body[k]) & reads for k in range(i + 1, j)):
            continue
        if forward_temp and any(not get_fact(body[k], "pure", True) for k in range(i + 1, j)):
            continue
        if isinstance(user, (gast.Assign, gast.Return, gast.Expr)):
            replace_in(user, {t: stmt.value})
            loads.pop(id(user), None)
        if get_fact(stmt, "comment", None) and not get_fact(user, "comment", None):
            set_fact(user, "comment", get_fact(stmt, "comment"))
        del body[i]
        loads.pop(id(stmt), None)
        defs[t] = uses[t] = 0
        return i
    return None


def _calls_a_derivative(value) -> bool:
    """Whether ``value`` calls the vjp or jvp of a user function (its ``g_out=``/``t_in=``)."""
    return any(
        any(k.arg in ("g_out", "t_in") for k in n.keywords) for n in S.nodes_of(value, (gast.Call,))
    )


def _use_site(body, start, name, lineno, loads):
    """The index of the first statement from ``start`` that reads ``name`` (:func:`_loads`,
    cached in ``loads``); with ``lineno``, None as soon as a statement from another user line
    comes first."""
    for k in range(start, len(body)):
        stmt = body[k]
        if lineno is not None and getattr(stmt, "lineno", None) != lineno:
            return None
        got = loads.get(id(stmt))
        if got is None:
            got = _loads(stmt, loads)
        if name in got:
            return k
    return None


def merge_accumulations(body):
    """``a = e1`` followed (with no read or store of ``a`` between) by ``a = a + e2`` ->
    ``a = e1 + e2``."""
    loads: dict = {}  # id(statement) -> the names it reads: nothing changes until a merge
    for i, stmt in enumerate(body):
        t = simple_target(stmt)
        if t is None or not is_adjoint(stmt):
            continue
        # one block per user line: the accumulation must come from the same line
        j = _use_site(body, i + 1, t, getattr(stmt, "lineno", None), loads)
        if j is None:
            continue
        nxt = body[j]
        if not (
            simple_target(nxt) == t
            and is_adjoint(nxt)
            and isinstance(nxt.value, gast.BinOp)
            and isinstance(nxt.value.op, gast.Add)
            and isinstance(nxt.value.left, gast.Name)
            and nxt.value.left.id == t
            and not any(isinstance(n, gast.Name) and n.id == t for n in S.walk(nxt.value.right))
        ):
            continue
        reads = {n.id for n in S.name_nodes(stmt.value)}
        if any(assigns(body[k]) & (reads | {t}) for k in range(i + 1, j)):
            continue  # (a store to a in between: a = e1 is dead, and the sum is of that store)
        nxt.value.left = stmt.value
        if get_fact(stmt, "comment", None):
            move_comment(body, stmt)
        del body[i]
        return True
    return False
