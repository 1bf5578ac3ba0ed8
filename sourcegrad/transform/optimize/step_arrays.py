"""Which array a name of a loop body holds where a statement reads it (for :mod:`.hoist`).

Queries over the straight-line body of a loop in the derivative's code: whether a name read
at one statement holds the array an earlier statement read, unchanged (:func:`same_array`),
whether a statement may write into an array (:func:`may_write`), and the array whose row
``xs[t]`` a name restored from the tape holds (:func:`stacked_rows`). Each answers
conservatively: "no" where unsure.
"""

from __future__ import annotations

import gast
import numpy as np

from .. import syntax as S
from ..walk import READ_METHODS, assigned_names

#: NumPy functions that write into none of their (at most two) arguments (an output array
#: would be a third)
_READERS = {"dot", "outer", "matmul", "sum", "zeros_like", "ones_like", "empty_like", "shape"}


def stacked_rows(body, loop, p, use):
    """The array ``X`` whose row ``X[t]`` the name ``p`` holds where the statement ``use`` of
    the reversed ``loop`` reads it, where that is certain, else None: ``p`` is assigned as in
    :func:`taped_definition`, by ``p = X[t]``, or read again so at the top of ``loop``, and
    ``X`` is never written."""
    again = [s for s in nested_statements(loop) if p in stored(s)]
    if len(again) == 1 and again[0] in loop.body[: loop.body.index(use)]:
        forward, made = loop, again[0]  # `p = xs[t]` made again, not restored from the tape
    else:
        found = taped_definition(body, loop, p, use)
        if found is None:
            return None
        forward, made = found
    rows = _row_of(made, p, forward.target.id)
    if not rows:
        return None
    for s in body:
        if s is forward or s is loop:
            continue
        if rows in stored(s) or any(rows in stored(inner) for inner in nested_statements(s)):
            return None
    if any(rows in stored(s) for s in nested_statements(forward) + nested_statements(loop)):
        return None
    return rows


def taped_definition(body, loop, p, use):
    """``(forward loop, statement)``: the one statement of the forward loop over the same
    count as the reversed ``loop`` that assigns ``p``, where the name ``p`` read by the
    statement ``use`` of ``loop`` certainly holds the value that statement gave it in the
    same step: ``p`` is assigned once at the forward loop's top level, only restored from the
    tape (``p = tape.pop()``) in ``loop`` after ``use``, and otherwise only set to None
    before the forward loop. None where that is not certain."""
    forward = forward_loop(body, loop)
    if forward is None:
        return None
    made = [s for s in forward.body if p in stored(s)]
    if len(made) != 1 or any(
        p in stored(s) for s in nested_statements(forward) if s not in forward.body
    ):
        return None
    used, popped = loop.body.index(use), None
    for i, s in enumerate(loop.body):
        if p in stored(s):
            if popped is not None or S.popped_stack(s) is None:
                return None
            popped = i
    if popped is None or popped < used:
        return None
    if any(p in stored(s) for s in nested_statements(loop) if s not in loop.body):
        return None
    for s in body:
        if s is forward or s is loop:
            continue
        if p in stored(s) and not (_is_none_assign(s) and body.index(s) < body.index(forward)):
            return None
        if any(p in stored(inner) for inner in nested_statements(s)):
            return None
    return forward, made[0]


def forward_loop(body, loop):
    """The top-level ``for t in range(n)`` before ``loop`` (``for t in reversed(range(n))``)
    with the same counter and bound name, the bound assigned nowhere between them."""
    bound = loop.iter.args[0].args[0]
    if not isinstance(bound, gast.Name):
        return None
    at = body.index(loop)
    for s in reversed(body[:at]):
        if bound.id in {n for inner in [s, *nested_statements(s)] for n in stored(inner)}:
            return None
        if (
            isinstance(s, gast.For)
            and isinstance(s.target, gast.Name)
            and s.target.id == loop.target.id
            and call_of(s.iter, "range", 1)
            and isinstance(s.iter.args[0], gast.Name)
            and s.iter.args[0].id == bound.id
        ):
            changed = {n for inner in nested_statements(s) for n in stored(inner)}
            return None if s.target.id in changed else s
    return None


def _row_of(stmt, p, counter):
    """``X`` where ``stmt`` is ``p = X[counter]``, else False."""
    v = stmt.value if isinstance(stmt, gast.Assign) else None
    if (
        isinstance(v, gast.Subscript)
        and isinstance(v.value, gast.Name)
        and isinstance(v.slice, gast.Name)
        and v.slice.id == counter
        and isinstance(stmt.targets[0], gast.Name)
    ):
        return v.value.id
    return False


def _is_none_assign(stmt) -> bool:
    return isinstance(stmt, gast.Assign) and S.is_none(stmt.value)


def nested_statements(stmt) -> list:
    """Every statement nested in ``stmt`` (not ``stmt`` itself)."""
    out = []
    for attr in ("body", "orelse"):
        for s in getattr(stmt, attr, []) or []:
            out += [s, *nested_statements(s)]
    return out


def stored(stmt) -> set:
    """Names ``stmt`` (a simple statement, or a compound one's header) binds or writes into:
    assignment targets, ``x[k] = v``, ``x += v``, a loop's target."""
    if isinstance(stmt, gast.AugAssign):
        t = stmt.target
        t = t.value if isinstance(t, gast.Subscript) else t
        return {n.id for n in S.walk(t) if isinstance(n, gast.Name)}
    if isinstance(stmt, gast.For):
        return {n.id for n in S.walk(stmt.target) if isinstance(n, gast.Name)}
    return assigned_names(stmt)


def call_of(e, func, nargs) -> bool:
    return (
        isinstance(e, gast.Call)
        and isinstance(e.func, gast.Name)
        and e.func.id == func
        and len(e.args) == nargs
        and not e.keywords
    )


def same_array(stmts, copied, name, at, moving) -> bool:
    """Whether ``name`` read by ``stmts[at]`` is the array that ``copied`` (``(name, index
    of its copy into a stack)``) was copied from, unchanged: the names are bound to one
    array by plain copies (``dz_4 = dz``), and no statement between may write into it through
    any name bound to it there (the accumulations in ``moving``, ids of statements, only
    read)."""
    first, start = copied
    same: dict = {}  # name -> id of the array it holds, as far as plain copies tell
    fresh = iter(range(1 << 30))
    held = set()  # every name bound to the copied array between the two statements
    for i, s in enumerate(stmts[:at]):
        if i == start:
            same[first] = same.get(first, next(fresh))
            held.add(first)
        if isinstance(s, gast.Assign) and isinstance(s.value, gast.Name) and plain_binding(s):
            src = s.value.id
            same[s.targets[0].id] = same.setdefault(src, next(fresh))
        else:
            for n in stored(s):
                same[n] = next(fresh)
        if i >= start:
            held |= {n for n, k in same.items() if k == same.get(first)}
    if start >= at or same.get(name) != same.get(first):
        return False
    between = [s for s in stmts[start + 1 : at] if id(s) not in moving]
    return not any(may_write(s, held) for s in between)


def plain_binding(stmt) -> bool:
    return isinstance(stmt.targets[0], gast.Name)


def may_write(stmt, names) -> bool:
    """Whether ``stmt`` may change the array of one of ``names`` in place (conservative: a
    method of one of them other than a reading one, and a call passing one of them other
    than a NumPy function reading its operands, count); binding a name anew does not change
    the array it held."""
    rebinds = isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)
    if not rebinds and stored(stmt) & names:
        return True
    for n in S.walk(stmt):
        if not isinstance(n, gast.Call):
            continue
        f = n.func
        if isinstance(f, gast.Attribute) and names & S.names_in(f.value):
            if f.attr not in READ_METHODS:
                return True  # x.fill(0), x.sort(): may write into x
        passed = [a for a in [*n.args, *(k.value for k in n.keywords)] if a is not None]
        if any(names & S.names_in(a) for a in passed) and not _reads_only(n):
            return True
    return False


def _reads_only(call) -> bool:
    """Whether ``call`` is a NumPy function (by its name) that writes into none of its
    arguments: a ufunc without an output argument, or one of :data:`_READERS`."""
    f = call.func
    if not isinstance(f, gast.Attribute) or any(k.arg == "out" for k in call.keywords):
        return False
    ufunc = getattr(np, f.attr, None)
    if isinstance(ufunc, np.ufunc):
        return len(call.args) <= ufunc.nin
    return f.attr in _READERS and len(call.args) <= 2
