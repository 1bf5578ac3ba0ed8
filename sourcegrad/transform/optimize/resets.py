"""Per-iteration adjoints: zero resets dropped where the accumulation after them can be an
assignment (:func:`drop_zero_resets`)."""

from __future__ import annotations

import gast

from .. import syntax as S
from .common import accumulation


def _is_zeros(value, zeros, np_name) -> bool:
    if isinstance(value, gast.Constant):
        return value.value == 0 and type(value.value) in (int, float)
    if not isinstance(value, gast.Call):
        return False
    f = value.func
    if isinstance(f, gast.Name):
        return f.id in zeros
    return (
        isinstance(f, gast.Attribute) and f.attr == "zeros_like" and S.dotted(f.value) == (np_name)
    )


def _mentions(stmt, name, cache=None) -> bool:
    """Whether ``name`` appears in ``stmt``; with ``cache`` (a dict), each statement's names
    are collected once."""
    if cache is None:
        return any(isinstance(n, gast.Name) and n.id == name for n in S.walk(stmt))
    names = cache.get(id(stmt))
    if names is None:
        names = cache[id(stmt)] = {n.id for n in S.walk(stmt) if isinstance(n, gast.Name)}
    return name in names


def drop_zero_resets(stmts, zeros, np_name, whole, names=None) -> None:
    """The adjoint of a value made anew in every iteration is reset to zeros at the end of the
    iteration and then accumulated into: ``a = a + e`` after ``a = zeros`` is ``a = e``. Where
    the first statement of a loop body that mentions ``a`` is that accumulation, the last is
    the reset, and every assignment to ``a`` outside the loop sets zeros, the accumulation
    becomes an assignment and the reset moves after the loop: no array of zeros is made per
    iteration, and every read outside the loop sees what it saw before."""
    names = {} if names is None else names  # statements only shrink here: a safe cache
    for k, stmt in enumerate(stmts):
        for attr in ("body", "orelse"):
            inner = getattr(stmt, attr, None)
            if inner:
                drop_zero_resets(inner, zeros, np_name, whole, names)
        if not isinstance(stmt, (gast.For, gast.While)):
            continue
        body = stmt.body
        for i, first in enumerate(body):
            if not (isinstance(first, gast.Assign) and accumulation(first, gast.Sub)):
                continue
            a = first.targets[0].id
            if any(_mentions(s, a, names) for s in body[:i]):
                continue
            if not _only_zeroed_outside(whole, stmt, a, zeros, np_name):
                continue
            users = [j for j, s in enumerate(body) if _mentions(s, a, names)]
            last = body[users[-1]]
            if not (
                isinstance(last, gast.Assign)
                and isinstance(last.targets[0], gast.Name)
                and last.targets[0].id == a
                and _is_zeros(last.value, zeros, np_name)
                and users[-1] > i
            ):
                continue
            if not _same_init_before(stmts[:k], last):
                continue  # the moved reset must read only names defined before the loop
            e = first.value.right
            if isinstance(first.value.op, gast.Sub):
                e = gast.UnaryOp(op=gast.USub(), operand=e)
            first.value = e
            # the reset moves after the loop: whatever reads `a` there still sees zeros
            stmts.insert(k + 1, body.pop(users[-1]))


def _same_init_before(before, reset) -> bool:
    """Whether ``before`` (the statements ahead of the loop, same block) sets the reset's
    target with exactly the reset's expression: then everything the reset reads is defined
    when the loop ends, even when it ran no iteration."""
    text = gast.dump(reset)
    return any(isinstance(s, gast.Assign) and gast.dump(s) == text for s in before)


def _only_zeroed_outside(stmts, loop, a, zeros, np_name) -> bool:
    """Whether every statement outside ``loop`` that assigns ``a`` sets it to zeros."""
    for stmt in stmts:
        if stmt is loop:
            continue
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            if _mentions_header(stmt, a):
                return False
            if not _only_zeroed_outside(stmt.body + stmt.orelse, loop, a, zeros, np_name):
                return False
            continue
        assigns = isinstance(stmt, (gast.Assign, gast.AugAssign)) and any(
            isinstance(n, gast.Name) and n.id == a
            for t in (stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target])
            for n in S.walk(t)
        )
        if assigns and not (
            isinstance(stmt, gast.Assign)
            and isinstance(stmt.targets[0], gast.Name)
            and stmt.targets[0].id == a
            and _is_zeros(stmt.value, zeros, np_name)
        ):
            return False
    return True


def _mentions_header(stmt, a) -> bool:
    parts = [
        getattr(stmt, "test", None),
        getattr(stmt, "iter", None),
        getattr(stmt, "target", None),
    ]
    return any(p is not None and _mentions(p, a) for p in parts)
