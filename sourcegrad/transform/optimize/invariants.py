"""Views of arrays that a loop does not change, made once before the loop.

The user's ``h @ W_h[:, : 2 * H]`` inside a loop over time steps makes the same view of
``W_h`` in every step, and the derivative keeps each step's view on the tape for the
reversed loop (``tape.append(zr_4)``, ``zr_4 = tape.pop()``). :func:`hoist_invariant_views`
makes such a view once before the forward loop and drops its tape entries, so that the
reversed loop reads one name it does not assign (and ``np.dot(g, zr_4.T)`` can then read a
contiguous copy of the transpose made once, see :func:`.products.hoist_transposes`), as a
hand-written BPTT does::

    zr_4 = W_h[:, :zr_1]
    for t in range(n):          # no tape.append(zr_4); zr_4 = W_h[:, :zr_1]
        ...
    for t in reversed(range(n)):
        dh += np.dot(dzr_5, zr_4.T)   # no zr_4 = tape.pop()

Where it is done: a statement ``v = X[s]`` (``s`` slices and ``...`` of names and numbers)
or ``v = X.T`` at the top level of a top-level ``for t in range(n)`` loop, ``X`` a NumPy
array, no name it reads assigned in the loop; ``v`` assigned nowhere else in the loop, read
before that statement only by its one push on the tape, popped once at the top level of the
reversed loop over the same count and assigned nowhere else there, and mentioned outside the
two loops only by ``v = None`` before the forward loop.

Guarantees: every step reads the same view as before (a view of the same memory, made from
the same unchanged names: a write into the array shows in both); making it once where the
loop runs no step raises nothing (slices never raise); the other tape entries keep their
order (the one push and the one pop of each step go together).
"""

from __future__ import annotations

import gast
import numpy as np

from .. import syntax as S
from .step_arrays import call_of, forward_loop, nested_statements, stored


def hoist_invariant_views(node, kinds: dict) -> None:
    """Make the loop-invariant views of the top-level loops of the function ``node`` once
    before their loop (see the module docstring), in place; ``kinds``: the dtypes of names,
    where known."""
    body = node.body
    params = {a.id for a in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]}
    for loop in [s for s in body if _reversed_count_loop(s)]:
        forward = forward_loop(body, loop)
        if forward is None:
            continue
        before = body[: body.index(forward)]
        defined = params | {n for s in before if not _compound(s) for n in stored(s)}
        for stmt in list(forward.body):
            if _invariant_view(stmt, forward, kinds) and S.names_in(stmt.value) <= defined:
                _hoist(body, forward, loop, stmt)


def _compound(stmt) -> bool:
    return isinstance(stmt, (gast.For, gast.While, gast.If, gast.With, gast.Try))


def _reversed_count_loop(stmt) -> bool:
    return (
        isinstance(stmt, gast.For)
        and isinstance(stmt.target, gast.Name)
        and call_of(stmt.iter, "reversed", 1)
        and call_of(stmt.iter.args[0], "range", 1)
    )


def _invariant_view(stmt, loop, kinds) -> bool:
    """Whether ``stmt`` is ``v = X[slices]`` or ``v = X.T`` of an array ``X``, reading no
    name the loop assigns."""
    if not (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
    ):
        return False
    v = stmt.value
    if isinstance(v, gast.Attribute) and v.attr == "T":
        base = v.value
    elif isinstance(v, gast.Subscript) and _slices(v.slice):
        base = v.value
    else:
        return False
    if not (isinstance(base, gast.Name) and isinstance(kinds.get(base.id), np.dtype)):
        return False
    assigned = {n for s in [loop, *nested_statements(loop)] for n in stored(s)}
    return assigned.isdisjoint(S.names_in(v))


def _slices(index) -> bool:
    """Whether ``index`` is slices and ``...`` only, with names and numbers for bounds."""
    parts = index.elts if isinstance(index, gast.Tuple) else [index]
    for p in parts:
        if isinstance(p, gast.Constant) and p.value is Ellipsis:
            continue
        if not isinstance(p, gast.Slice):
            return False
        for bound in (p.lower, p.upper, p.step):
            if bound is not None and not isinstance(bound, (gast.Name, gast.Constant)):
                return False
    return True


def _hoist(body, forward, loop, stmt) -> None:
    """Move ``stmt`` (assigning ``v``) before ``forward`` and drop ``v``'s tape entries,
    where the module's conditions on ``v`` hold."""
    v = stmt.targets[0].id
    at = forward.body.index(stmt)
    if any(v in stored(s) for s in nested_statements(forward) if s is not stmt):
        return
    pushes = [s for s in forward.body[:at] if v in S.names_in(s)]
    if len(pushes) != 1 or not _pushes(pushes[0], v):
        return
    tape = S.appended_list(pushes[0])
    pops = [s for s in nested_statements(loop) if v in stored(s)]
    if len(pops) != 1 or pops[0] not in loop.body or S.popped_stack(pops[0]) != tape:
        return
    for s in body:
        if s is forward or s is loop or v not in S.names_in(s):
            continue
        none_before = body.index(s) < body.index(forward) and _none_assign(s, v)
        if not none_before:
            return
    forward.body.remove(pushes[0])
    forward.body.remove(stmt)
    loop.body.remove(pops[0])
    body.insert(body.index(forward), stmt)


def _pushes(stmt, v) -> bool:
    """Whether ``stmt`` is ``xs.append(v)``."""
    return S.appended_list(stmt) is not None and S.dotted(stmt.value.args[0]) == v


def _none_assign(stmt, v) -> bool:
    return (
        isinstance(stmt, gast.Assign)
        and [S.dotted(t) for t in stmt.targets] == [v]
        and S.is_none(stmt.value)
    )
