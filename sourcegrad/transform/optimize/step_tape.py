"""A value a loop makes afresh in every step is taped at the end of its step, not before the
next step overwrites it: the forward sweep saves each value it overwrites (``tape.append(c)``
before ``c = np.tanh(...)``), so the first step of a loop saves the ``c = None`` put before
the loop for it, a placeholder the adjoint pops and never reads. Where ``c`` is assigned once
in the loop's body, at its top level, and read there only after that assignment, the running
code saves the value itself instead, after the step's last statement, and the reversed loop
pops it at the top of its step::

    for t in range(n):                      for t in range(n):
        tape.append(c)                          c = np.tanh(a)
        c = np.tanh(a)              ->          ...
        ...                                     tape.append(c)
    for t in reversed(range(n)):            for t in reversed(range(n)):
        ... reads c ...                         c = tape.pop()
        c = tape.pop()                          ... reads c ...

The tape holds the same arrays, one per step, in the same order within each step's entries
(the moved ones last in the step, so first off in the reversed step), and the adjoint reads
the same values; ``c = None`` goes where nothing else reads ``c``. Loops are taken where the
forward loop and its reversed loop are statements of one block; anything else is left as
it is.
"""

from __future__ import annotations

import gast

from .. import syntax as S
from ..node_facts import get_fact

_LOOPS = (gast.For, gast.While)


def tape_at_step_end(node: gast.FunctionDef) -> None:
    """Move, in place, the tape entries of the values each step of a loop makes afresh to the
    end of the step, and their pops to the top of the reversed step (see the module)."""
    pairs = _tape_pairs(node)
    if not pairs:
        return
    for body in S.blocks(node.body):
        loops = [s for s in body if isinstance(s, _LOOPS)]
        for forward in loops:
            for reverse in loops:
                if reverse is not forward:
                    _move(node, body, forward, reverse, pairs)


def _tape_pairs(node) -> dict:
    """``{pair: (push, pop)}`` of the tape entries pushed and popped once each, directly in a
    loop's body: ``tape.append(x)`` (or of ``shape_of(x)``) and ``x = tape.pop()``."""
    found: dict = {}
    for stmt in S.walk(node):
        if not isinstance(stmt, gast.stmt):
            continue
        pair = get_fact(stmt, "tape_pair", None)
        if pair is not None:
            found.setdefault(pair, []).append(stmt)
    out = {}
    for pair, stmts in found.items():
        pushes = [s for s in stmts if isinstance(s, gast.Expr)]
        pops = [s for s in stmts if isinstance(s, gast.Assign)]
        if len(pushes) == len(pops) == 1 and len(stmts) == 2:
            out[pair] = (pushes[0], pops[0])
    return out


def _move(node, block: list, forward, reverse, pairs: dict) -> None:
    """Move the entries pushed in ``forward``'s body and popped in ``reverse``'s that
    :func:`_movable` allows."""
    moved = [
        (push, pop)
        for push, pop in pairs.values()
        if _in_body(push, forward) and _in_body(pop, reverse)
        if _movable(node, block, forward, reverse, push, pop)
    ]
    moved.sort(key=lambda pp: forward.body.index(pp[0]))
    for push, pop in moved:
        forward.body.remove(push)
        forward.body.append(push)
        reverse.body.remove(pop)
    reverse.body[:0] = [pop for _, pop in reversed(moved)]
    for push, _ in moved:
        _drop_placeholder(node, block, forward, reverse, _pushed_name(push))


def _in_body(stmt, loop) -> bool:
    return any(s is stmt for s in loop.body)


def _pushed_name(push) -> str | None:
    """``x`` of ``tape.append(x)`` or ``tape.append(helper(x))``, else None."""
    arg = push.value.args[0] if len(push.value.args) == 1 else None
    if isinstance(arg, gast.Call) and len(arg.args) == 1 and not arg.keywords:
        arg = arg.args[0]
    return arg.id if isinstance(arg, gast.Name) else None


def _movable(node, block, forward, reverse, push, pop) -> bool:
    """Whether ``x`` (pushed by ``push``) is assigned once in ``forward``'s body, at its top
    level, after the push, and read there only after; bound elsewhere only by ``pop`` and
    ``x = None`` in ``block``; and read elsewhere only in ``reverse`` before ``pop`` or
    between the loops."""
    x = _pushed_name(push)
    if x is None or x in S.names_in(getattr(forward, "test", None) or forward.iter):
        return False
    body = forward.body
    at = body.index(push)
    stores = [s for s in body if x in _stored(s)]
    if len(stores) != 1 or not isinstance(stores[0], gast.Assign):
        return False
    made = body.index(stores[0])
    if made < at or any(x in S.names_in(s) for s in body[:made] if s is not push):
        return False
    if x in S.names_in(stores[0].value) or not _single_target(stores[0], x):
        return False
    first, last = block.index(forward), block.index(reverse)
    if first > last:
        return False
    allowed = {id(n) for s in body for n in S.walk(s)}
    allowed |= {id(n) for s in reverse.body[: reverse.body.index(pop)] for n in S.walk(s)}
    allowed |= {id(n) for s in block[first + 1 : last] for n in S.walk(s)}
    allowed |= {id(n) for n in S.walk(pop)}
    allowed |= {id(n) for s in block if _is_placeholder(s, x) for n in S.walk(s)}
    return all(id(n) in allowed for n in S.name_nodes(node) if n.id == x)


def _stored(stmt) -> set:
    return {n.id for n in S.name_nodes(stmt) if isinstance(n.ctx, gast.Store)}


def _single_target(stmt, x: str) -> bool:
    target = stmt.targets[0]
    return len(stmt.targets) == 1 and isinstance(target, gast.Name) and target.id == x


def _is_placeholder(stmt, x: str) -> bool:
    """``x = None``."""
    return (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
        and stmt.targets[0].id == x
        and S.is_none(stmt.value)
    )


def _drop_placeholder(node, block, forward, reverse, x: str) -> None:
    """Remove ``x = None`` from ``block`` where every read of ``x`` is in the loops' bodies
    (the forward step binds it before reading it, the reversed step pops it first)."""
    inside = {id(n) for loop in (forward, reverse) for s in loop.body for n in S.walk(s)}
    reads = [n for n in S.name_nodes(node) if n.id == x and isinstance(n.ctx, gast.Load)]
    if all(id(n) in inside for n in reads):
        block[:] = [s for s in block if not _is_placeholder(s, x)]
