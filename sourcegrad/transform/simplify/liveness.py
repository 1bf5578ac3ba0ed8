"""Structured liveness, and the dead code it finds: dead stores, dead tape entries, empty
loops and branches."""

from __future__ import annotations

import gast

from .. import syntax as S
from ..node_facts import get_fact
from ..walk import assigned_names, statement_reads, walk_statements
from .defuse import (
    COMPOUND,
    is_adjoint,
    move_comment,
    simple_target,
)


def _removable(stmt) -> bool:
    return (
        isinstance(stmt, gast.Assign)
        and (is_adjoint(stmt) or get_fact(stmt, "pure", False))
        and not get_fact(stmt, "keep", False)
    )


#: id(statement) -> names it reads, during one liveness analysis (statements do not change
#: while it runs, and loops make it visit them many times)
_READS: dict | None = None


def reads_of(stmt) -> set:
    """The names ``stmt`` reads (cached while a :func:`liveness` analysis runs, and where
    :func:`~sourcegrad.transform.walk.remembered_reads` is on); not to be changed."""
    cache = _READS
    if cache is not None:
        got = cache.get(id(stmt))
        if got is not None:
            return got
    reads = statement_reads(stmt)[1]
    if cache is not None:
        cache[id(stmt)] = reads
    return reads


def liveness(body, **kwargs) -> set:
    """:func:`_live_before` over a whole function body, with the reads of each statement
    computed once."""
    global _READS
    _READS = {}
    try:
        return _live_before(body, set(), **kwargs)
    finally:
        _READS = None


def _live_before(stmts, live, remove=False, dead_pops=None, after=None, strong=False) -> set:
    """Names live before ``stmts`` given those live after (structured liveness); with
    ``remove``, also drop assignments nothing reads afterwards; with ``dead_pops`` (a set),
    collect the tape pops whose restored value nothing reads; with ``after`` (a dict), record
    the names live after each simple statement, by ``id``. With ``strong``, a side-effect-free
    assignment whose value nothing reads makes nothing live (strong liveness): an accumulator
    that only its own updates read in a loop (``tda = tda + t``) is dead too."""
    live = set(live)
    for stmt in reversed(list(stmts)):
        if isinstance(stmt, gast.If):
            body = _live_before(stmt.body, live, remove, dead_pops, after, strong)
            orelse = _live_before(stmt.orelse, live, remove, dead_pops, after, strong)
            live = body | orelse | reads_of(stmt)
            if remove and not stmt.body:
                stmt.body.append(gast.Pass())
        elif isinstance(stmt, (gast.For, gast.While)):
            loop_live = set(live) | reads_of(stmt)  # a while test runs after every iteration
            for _ in range(50):  # the body's start flows back to its end
                start = _live_before(stmt.body, loop_live | live, strong=strong)
                if start <= loop_live:
                    break
                loop_live |= start
            _live_before(stmt.body, loop_live | live, remove, dead_pops, after, strong)
            if remove and not stmt.body:
                stmt.body.append(gast.Pass())
            live = live | loop_live | reads_of(stmt)
        else:
            if after is not None:
                after[id(stmt)] = set(live)
            targets = assigned_names(stmt)
            pair = get_fact(stmt, "tape_pair", None)
            if dead_pops is not None and pair and isinstance(stmt, gast.Assign):
                if not (targets & live):
                    dead_pops.add(pair)
            unread = _removable(stmt) and not (targets & live)
            if remove and unread:
                if get_fact(stmt, "comment", None):
                    move_comment(stmts, stmt)
                stmts.remove(stmt)
                continue
            if strong and unread:
                continue
            if isinstance(stmt, gast.Assign) and not isinstance(stmt.targets[0], gast.Subscript):
                live -= targets
            live |= reads_of(stmt)
    return live


def dead_tape(body) -> bool:
    """Drop each value saved on the tape whose restored copy nothing reads: its push in the
    forward sweep and its pop in the adjoint sweep."""
    if not any(get_fact(s, "tape_pair", None) for s in walk_statements(body)):
        return False  # (no tape: forward mode, or every entry dropped) no liveness to solve
    dead: set = set()
    liveness(body, dead_pops=dead)
    if not dead:
        return False

    def strip(stmts):
        for stmt in list(stmts):
            if get_fact(stmt, "tape_pair", None) in dead:
                stmts.remove(stmt)
            elif isinstance(stmt, COMPOUND):
                strip(stmt.body)
                strip(stmt.orelse)
                if not stmt.body:
                    stmt.body.append(gast.Pass())

    strip(body)
    return True


def dead_stores(body) -> bool:
    """Remove side-effect-free assignments whose value no later statement reads, on any
    path (a structured liveness analysis; loops iterate to a fixed point); returns whether
    the number of statements changed."""
    return prune_dead_stores(body)[0]


def prune_dead_stores(body) -> tuple[bool, bool]:
    """:func:`dead_stores`, and whether it changed ``body`` at all: a branch emptied and
    given ``pass``, or a test negated, can leave the number of statements as it was."""
    before = [id(s) for s in walk_statements(body)]
    liveness(body, remove=True, strong=True)
    _empty_blocks(body, body)
    after = [id(s) for s in walk_statements(body)]
    return len(after) != len(before), after != before


def _empty_blocks(stmts, whole) -> None:
    """Remove ``for i in range(..)`` loops (``reversed`` too) whose body does nothing and whose
    counter nothing else reads: the adjoint loop of a loop with nothing to differentiate; and
    write ``if c: pass else: ...`` as ``if not c: ...``."""
    for stmt in list(stmts):
        if isinstance(stmt, COMPOUND):
            _empty_blocks(stmt.body, whole)
            _empty_blocks(stmt.orelse, whole)
        if isinstance(stmt, gast.If) and isinstance(stmt.test, gast.Name):
            empty = all(isinstance(b, gast.Pass) for b in stmt.body)
            if empty and not all(isinstance(b, gast.Pass) for b in stmt.orelse):
                stmt.test = gast.UnaryOp(op=gast.Not(), operand=stmt.test)
                stmt.body, stmt.orelse = stmt.orelse, []
            elif empty:  # nothing in either branch: the test is a name, nothing to evaluate
                stmts.remove(stmt)
                continue
        if not (
            isinstance(stmt, gast.For)
            and not stmt.orelse
            and all(isinstance(b, gast.Pass) for b in stmt.body)
            and isinstance(stmt.target, gast.Name)
            and _range_call(stmt.iter)
        ):
            continue
        counter = stmt.target.id
        read = any(
            isinstance(n, gast.Name) and n.id == counter and isinstance(n.ctx, gast.Load)
            for other in whole
            for n in S.walk(other)
        )
        if not read:
            stmts.remove(stmt)


def _range_call(it) -> bool:
    if isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "reversed":
        it = it.args[0] if len(it.args) == 1 else None
    return (
        isinstance(it, gast.Call)
        and isinstance(it.func, gast.Name)
        and it.func.id == "range"
        and all(isinstance(a, (gast.Name, gast.Constant)) for a in it.args)
    )


def drop_unused_tape(body):
    """``tape = []`` goes when nothing is pushed any more."""
    first = body[0] if body else None
    if not (
        isinstance(first, gast.Assign)
        and isinstance(first.value, gast.List)
        and not first.value.elts
    ):
        return
    name = simple_target(first)
    used = any(isinstance(n, gast.Name) and n.id == name for stmt in body[1:] for n in S.walk(stmt))
    if not used:
        body.pop(0)
