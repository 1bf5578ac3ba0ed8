"""Buffer groups: the names that reach one new array's memory (see :mod:`.pool`)."""

from __future__ import annotations

import gast
import numpy as np

from .. import syntax as S
from ..walk import assigned_names
from .escape import out_buffer


class BufferGroup:
    """The names that reach one new array's memory, and where it lives (statement indices)."""

    __slots__ = ("names", "start", "end", "dropped", "carried")

    def __init__(self, name, start):
        self.names = [name]
        self.start = start  # index of the statement that made the array
        self.end = start  # index of the last statement mentioning any of its names
        self.dropped = False  # a branch or loop (re)assigns one of its names
        self.carried = False  # (in a loop body) read before it is made: the last iteration's


def buffer_groups(body, owner) -> list:
    """The buffer groups of ``body``'s top-level statements (see the module docstring), each
    with the index of the statement that made its array and of the last one mentioning it."""
    group: dict = {}  # name -> its BufferGroup
    last: dict = {}
    for i, stmt in enumerate(body):
        for n in S.name_nodes(stmt):
            last[n.id] = i
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            for inner in S.walk(stmt):
                for t in assigned_names(inner) if isinstance(inner, gast.Assign) else ():
                    if t in group:
                        group[t].dropped = True
            continue
        if not (isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)):
            continue
        t, value = stmt.targets[0].id, stmt.value
        reached = _reached(value, group, owner)
        if t in group and reached and all(g is group[t] for g in reached):
            continue  # `h = np.maximum(h_7, 0.0, out=h_7)`, h and h_7 in one buffer already
        if t in group or t in last and last[t] < i:  # a name bound before: not followed
            for g in reached + [group.get(t)]:
                if g is not None:
                    g.dropped = True
            continue
        if not reached and owner.fresh(value):
            group[t] = BufferGroup(t, i)
            continue
        if not reached:
            continue
        merged = reached[0]  # a view of, or a result written into, these buffers
        for other in reached[1:]:
            if other is not merged:
                merged.dropped |= other.dropped
                merged.start = min(merged.start, other.start)
                merged.names += [n for n in other.names if n not in merged.names]
                for n in other.names:
                    group[n] = merged
        merged.names.append(t)
        group[t] = merged
    groups = list({id(g): g for g in group.values()}.values())
    for g in groups:
        g.end = max(last[n] for n in g.names)
    return groups


def _reached(value, group: dict, owner) -> list:
    """The groups (of ``group``, name -> group) whose memory the value of ``value`` may be:
    the ``out=`` buffer's, none for a new array, else every group a name of it is in."""
    out = out_buffer(value)
    if out is not None and out in group:
        return [group[out]]
    if owner.fresh(value):
        return []
    return [group[n.id] for n in S.name_nodes(value) if n.id in group]


def group_layout(g, owner, value=None):
    """``(shape, dtype)`` of the array group ``g`` was made with, where both are known and it
    is an array (not a 0-d value); else None. With ``value``, the expression that made it,
    each is inferred both for the name and for the expression, and the two must agree."""
    shape = owner.in_place.shapes_of(g.names[0])
    dtype = owner.in_place.dtypes.get(g.names[0])
    if value is not None:
        if shape != owner.in_place.shape(value) or not _same(dtype, owner.in_place.dtype(value)):
            return None  # unknown, or the two inferences disagree: left to NumPy
    if not isinstance(dtype, np.dtype) or not isinstance(shape, tuple) or not shape:
        return None
    if not all(isinstance(d, int) for d in shape):
        return None
    return shape, dtype


def _same(a, b) -> bool:
    return isinstance(a, np.dtype) and isinstance(b, np.dtype) and a == b


def nbytes(layout) -> int:
    """The size in bytes of an array of ``layout`` (``(shape, dtype)``)."""
    shape, dtype = layout
    return int(np.prod(shape)) * dtype.itemsize


def loop_groups(stmts, owner) -> list:
    """The buffer groups of a loop body's arrays (as :func:`buffer_groups`), each marked
    ``carried`` where a name of it is read in the body before the statement that makes or
    joins it binds it, that statement's own value included (the iteration before's value).
    A name bound twice to different groups, or to a group and something else, drops the
    group (dropped groups are left out)."""
    group: dict = {}
    first: dict = {}  # name -> index of the first statement mentioning it
    last: dict = {}  # name -> index of the last statement mentioning it
    for i, stmt in enumerate(stmts):
        for n in S.name_nodes(stmt):
            first.setdefault(n.id, i)
            last[n.id] = i
        if not (isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)):
            for n in assigned_names(stmt) if isinstance(stmt, gast.AugAssign) else ():
                if n in group:
                    group[n].dropped = True
            continue
        t, value = stmt.targets[0].id, stmt.value
        reached = _reached(value, group, owner)
        if t in group:
            if not (reached and all(g is group[t] for g in reached)):
                group[t].dropped = True
                for g in reached:
                    g.dropped = True
            continue
        # read before it is bound here: the iteration before's value (also in this statement)
        before = first[t] < i or any(n.id == t for n in S.name_nodes(value))
        if not reached:
            if owner.fresh(value):
                group[t] = BufferGroup(t, i)
                group[t].carried = before
            continue
        merged = reached[0]
        for other in reached[1:]:
            if other is not merged:
                merged.dropped = True  # kept simple: one group per result
        merged.names.append(t)
        merged.carried |= before
        group[t] = merged
    groups = [g for g in {id(g): g for g in group.values()}.values() if not g.dropped]
    for g in groups:
        g.end = max(last[n] for n in g.names)
    return groups


def is_name(n, names) -> bool:
    """Whether the node ``n`` is a name of ``names``."""
    return isinstance(n, gast.Name) and n.id in names
