"""Reads a reversed loop makes again instead of taping: ``p = layers[k]`` and ``g = p["g"]``
in ``for k in range(n)``, an item of a container nothing writes, by the loop's counter, a
name the loop does not change or another such read, as a person writes it at the top of the
backward loop."""

from __future__ import annotations

import gast

from . import syntax as S
from .forms import Analysis
from .node_facts import get_fact
from .walk import mutated_names, walk_statements, written_names


def recomputed_reads(body, analysis: Analysis) -> dict:
    """id(for loop) -> the statements of its body (in order) that its reversed body computes
    again at its top rather than restoring their targets from the tape. Each is ``t = c[i]``
    of ``body``'s ``for`` loop (not a ``while``: its reversed loop has no counter), ``t``
    assigned nowhere else and read only by the statements after it in that body, ``c`` and
    ``i`` constants, targets of the enclosing ``for`` loops, names the loop never assigns or
    targets of earlier such reads; ``c`` is a name assigned once (the core writes an item
    into a container as an assignment of it) and changed in place by nothing but appends,
    so the reversed loop reads the objects the forward loop read."""
    defs: dict = {p: 1 for p in analysis.core.params}
    for stmt in walk_statements(body):
        if isinstance(stmt, (gast.Assign, gast.AugAssign)):
            for t in written_names(stmt):
                defs[t] = defs.get(t, 0) + 1
    kept = [st for st in walk_statements(body) if S.appended_list(st) is None]
    for name in mutated_names([st for st in kept if not isinstance(st, _BLOCKS)]):
        defs[name] = 2  # changed in place: never read again
    reads: dict = {}  # name -> the ids of the top statements of loop bodies that read it
    out: dict = {}

    def visit(block, counters):
        for stmt in block:
            if isinstance(stmt, gast.For):
                target = stmt.target
                inner = counters
                if isinstance(target, gast.Name) and target.id not in defs:
                    inner = counters | {target.id}
                found = _in_loop(stmt, inner, defs, reads)
                if found:
                    out[id(stmt)] = found
                visit(stmt.body, inner)
            elif isinstance(stmt, (gast.If, gast.While)):
                visit(stmt.body, counters)
                visit(stmt.orelse, counters)

    _index_reads(body, reads)
    visit(body, frozenset())
    return out


_BLOCKS = (gast.If, gast.For, gast.While)


def _index_reads(body, reads: dict) -> None:
    """``reads``: name -> the ids of every statement (at every depth) that reads it."""
    for stmt in walk_statements(body):
        parts = [stmt] if not isinstance(stmt, (gast.If, gast.For, gast.While)) else []
        if isinstance(stmt, (gast.If, gast.While)):
            parts = [stmt.test]
        elif isinstance(stmt, gast.For):
            parts = [stmt.iter]
        for part in parts:
            for n in S.name_nodes(part):
                if isinstance(n.ctx, gast.Load):
                    reads.setdefault(n.id, set()).add(id(stmt))


def _in_loop(loop, counters, defs, reads) -> list:
    """The statements of ``loop``'s body :func:`recomputed_reads` takes."""
    changed = {n.id for n in S.name_nodes(loop.target)}
    for stmt in walk_statements(loop.body):
        if isinstance(stmt, (gast.Assign, gast.AugAssign)):
            changed |= written_names(stmt)
        elif isinstance(stmt, gast.For):
            changed |= {n.id for n in S.name_nodes(stmt.target)}
    taken: list = []
    made: set = set()
    for at, stmt in enumerate(loop.body):
        if not _item_read(stmt):
            continue
        target, value = stmt.targets[0].id, stmt.value
        operands = {n.id for n in S.name_nodes(value)}
        if defs.get(target) != 1 or defs.get(value.value.id) != 1:
            continue
        if any(n in changed and n not in counters and n not in made for n in operands):
            continue
        after = {id(s) for later in loop.body[at + 1 :] for s in _statements_in(later)}
        if not reads.get(target, set()) <= after:
            continue
        taken.append(stmt)
        made.add(target)
    return taken


def _item_read(stmt) -> bool:
    """Whether ``stmt`` is ``t = c[i]``: names, ``i`` a name or a constant."""
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1):
        return False
    target, value = stmt.targets[0], stmt.value
    return (
        isinstance(target, gast.Name)
        and isinstance(value, gast.Subscript)
        and isinstance(value.value, gast.Name)
        and isinstance(value.slice, (gast.Name, gast.Constant))
    )


def _statements_in(stmt):
    yield stmt
    for attr in ("body", "orelse"):
        yield from walk_statements(getattr(stmt, attr, None) or [])


def drop_read_elsewhere(adjoint: list, recomputed: dict, loops: dict) -> None:
    """Of the reads made again at the top of each reversed loop (``loops``: id(for loop) ->
    its reversed loop's body, which starts with clones of ``recomputed``'s statements),
    keep those whose target the adjoint sweep reads only in that body before the tape pop of
    the statement it repeats (where the pop restored the value before it: the adjoint resets
    ``dx = zero_adjoint(x)`` at the end of an iteration read that); the others go back on
    the tape (removed from ``recomputed`` and from the reversed body)."""
    for key, taken in recomputed.items():
        body = loops.get(key)
        if body is None:
            taken.clear()
            continue
        clones = body[: len(taken)]
        for stmt, clone in zip(list(taken), clones):
            target = stmt.targets[0].id
            at = next(
                (i for i, s in enumerate(body) if (get_fact(s, "pop") or (0, 0))[1] is stmt),
                None,
            )
            allowed = {
                id(n) for s in body[: len(body) if at is None else at] for n in S.name_nodes(s)
            }
            reads = [
                n
                for s in adjoint
                for n in S.name_nodes(s)
                if n.id == target and isinstance(n.ctx, gast.Load)
            ]
            if at is None or any(id(n) not in allowed for n in reads):
                taken.remove(stmt)
                body.remove(clone)
