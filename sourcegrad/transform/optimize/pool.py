"""Pass 5c — buffers: where the arrays of a shape-specialised derivative live.

Rewrites over *buffer groups*: the names that reach one new array's memory (the name that
made it, results written into it with ``out=``, its views), made by a top-level statement of
the function body or by a statement of a top-level ``for`` loop's straight-line body.

* :func:`plan_pool` / :func:`apply_pool`: a group whose memory never leaves the call (every
  read of its names is an operand of arithmetic, of a NumPy function that makes a new array,
  an index, a copy into another array, a push on the function's own tape read back into the
  same name, or a view read in one of those ways; never returned, stored in a container,
  captured or passed to another function) is computed into a buffer of a *pool* kept from one
  call to the next: ``h1_1 = np.dot(x, W0, buffers[0])`` (top-level arrays up to
  :data:`POOLED_BYTES`). A loop body's group read only within its iteration gets one buffer
  for all iterations; one read by a later iteration, after the loop or from the tape goes,
  where the argument shapes decide the loop's count, to its iteration's part of one
  ``(count, ...)`` buffer: ``h_7 = np.dot(h_6, W_x, buffers[0][t])`` (a preallocated tape).
  The buffers are views of a few memory blocks: arrays whose lifetimes do not overlap share
  one, whatever their shapes and dtypes. A pool (:class:`~sourcegrad.runtime.buffers.BufferPool`) holds each thread's spare
  buffer sets: a call takes one (or makes one, when the thread's are in use: the same
  derivative reached again from inside itself) and puts it back right before it returns, so
  no two running calls ever share a buffer. One pool per build: a build for a shape pattern
  has symbolic buffers, sized for each call's free lengths (``pool.take(spare, lengths)``).
* :func:`release_dead`: ``del`` the names of a top-level group not pooled after its last use.

Guarantees: the values computed are those of the code before (a buffer is written only
where the array the code made there would have been new, and every name reaching it is
dead before the next write); nothing a call returns, or lets another function see, is a
pooled buffer.
"""

from __future__ import annotations

import gast
import numpy as np

from .. import syntax as S
from ..node_facts import get_fact, set_fact
from ..shapes import ARRAY_BINOPS
from ..walk import assigned_names, walk_statements
from .escape import escaping, pushed, reads_transposed, tape_stacks, transposed_names
from .groups import buffer_groups, group_layout, loop_groups, nbytes
from .step_arrays import may_write, taped_definition

#: arrays at least this large are released (``del``) after their last use
RELEASED_BYTES = 4096


#: arrays made by top-level statements are pooled up to this size; larger ones are released
#: after their last use, so that their memory can serve what the call returns (which a pooled
#: buffer cannot: the caller owns it). A warm allocator hands a large block back without page
#: faults, and its cost is small next to the work on it; a loop's buffers are pooled at any
#: size (their arrays are made once per iteration, and the tape keeps them all anyway)
POOLED_BYTES = 16384


def release_dead(body, owner, pooled=frozenset(), split=False) -> None:
    """``del h1_1, h1_2, h1`` after the last statement of the function body that mentions
    any name of a new array's buffer of at least :data:`RELEASED_BYTES`, so that its memory
    is free for what comes later: a hand-written gradient's locals live until it returns,
    these do not. Not for groups a branch or loop assigns, a nested function reads, that the
    statement just before the return reads, or whose array is pooled (``pooled``: the names
    of the statements that made them). With ``split`` (a vjp, whose adjoint sweep may run as
    a half of its own, handed the forward sweep's names: :mod:`sourcegrad.kept`), the adjoint
    sweep deletes none of the names the forward sweep assigns."""
    captured = S.captured_names(gast.Module(body=body, type_ignores=[]))
    sweep = next((i for i, st in enumerate(body) if get_fact(st, "sweep", False)), len(body))
    forward = {n for st in walk_statements(body[:sweep]) for n in assigned_names(st)}
    released: dict = {}
    for g in buffer_groups(body, owner):
        if g.dropped or g.end >= len(body) - 2 or captured.intersection(g.names):
            continue
        if g.names[0] in pooled:
            continue
        layout = group_layout(g, owner)
        if layout is not None and nbytes(layout) >= RELEASED_BYTES:
            names = [n for n in g.names if g.end < sweep or not split or n not in forward]
            released.setdefault(g.end, []).extend(names)
    released = {i: names for i, names in released.items() if names}
    for i in sorted(released, reverse=True):
        targets = [S.name(n) for n in released[i]]
        for target in targets:
            target.ctx = gast.Del()
        node = gast.Delete(targets=targets)
        node.lineno = getattr(body[i], "lineno", None)
        set_fact(node, "adjoint", get_fact(body[i], "adjoint", False))
        body.insert(i + 1, node)


def poolable(body) -> bool:
    """Whether :func:`plan_pool` gives ``body``'s arrays buffers: it ends in its one
    ``return`` and has no ``yield``."""
    if not body or not isinstance(body[-1], gast.Return):
        return False
    exits = (gast.Return, gast.Yield, gast.YieldFrom)
    return not any(S.nodes_of(stmt, exits) for stmt in body[:-1])


def plan_pool(body, owner, np_name, helpers=frozenset(), steps=()) -> tuple:
    """The arrays of ``body`` to compute into pooled buffers (see the module docstring):
    ``(buffers, blocks, sizes)``, ``buffers`` a list of ``(statement that makes the array, (shape,
    dtype), loop counter indexing a buffer per iteration or None, block)`` and ``blocks`` the
    sizes in bytes of the memory blocks the buffers are views of. Arrays whose lifetimes (over
    the top-level statements) do not overlap share a block, whatever their shapes and dtypes.
    ``sizes``: the free lengths of a build for a shape pattern
    (:class:`~sourcegrad.transform.shapes.Sizes`), or None. ``steps``: ``(statement, (shape,
    dtype))`` of top-level statements ``name = np.empty(shape, dtype)`` whose array never
    leaves the call (:mod:`.hoist`), each given a buffer at any size, or, where its one write
    ``stack[t] = p`` copies a row the forward loop computed ``p`` into and nothing writes
    into after, that buffer itself (:meth:`_Requests.shared_stack`). Fourth in the plan:
    ``(stack statement, the index of its rows' entry, reversed loop, the copy dropped)``.
    Nothing where the body is not :func:`poolable`."""
    if np_name is None or not poolable(body):
        return [], [], None, []
    captured = S.captured_names(gast.Module(body=body, type_ignores=[]))
    candidates = _layouts(buffer_groups(body, owner), body, captured, owner, np_name)
    loops = [  # (loop, its groups and their layouts, the number of iterations or None)
        (
            stmt,
            _layouts(loop_groups(stmt.body, owner), stmt.body, captured, owner, np_name),
            _iterations(stmt, body, owner),
        )
        for stmt in body
        if isinstance(stmt, gast.For) and _straight(stmt.body) and not get_fact(stmt, "blocks", 0)
    ]
    stacks = tape_stacks(body)
    members: dict = {}
    for g, _ in candidates + [c for _, found, _ in loops for c in found]:
        for n in g.names:
            members.setdefault(n, []).append(g)
    arrays = {n for n, dt in owner.in_place.dtypes.items() if isinstance(dt, np.dtype)}
    arrays |= {stmt.targets[0].id for stmt, _ in steps}  # a copy into a row stays a copy
    unsafe = escaping(body, members, np_name, helpers, stacks, arrays)
    unsafe |= {n for n, gs in members.items() if len(gs) > 1}  # a name of two groups
    plan = _Requests(body, unsafe, transposed_names(body), stacks)
    plan.owner = owner
    for g, layout in candidates:
        plan.top_level(g, layout)
    for loop, found, count in loops:
        plan.loop(loop, found, count)
    for stmt, layout in steps:
        if not plan.shared_stack(stmt, layout):
            plan.stack(stmt, layout)
    memory: list = []  # [bytes, last statement of the current request, ...]
    for start, end, size, group in sorted(plan.requests, key=lambda r: r[0]):
        k = _fit(memory, size, start, end)
        for entry in group:
            entry[3] = k
    sizes = getattr(getattr(owner.in_place, "shapes", None), "sizes", None)
    entries = [tuple(e) for e in plan.entries]
    index = {id(e): k for k, e in enumerate(plan.entries)}
    shared = [(stmt, index[id(e)], loop, copy) for stmt, e, loop, copy in plan.shared]
    return entries, [m[0] for m in memory], sizes, shared


def _layouts(groups, stmts, captured, owner, np_name) -> list:
    """``(group, (shape, dtype))`` of the groups whose array could go to a buffer."""
    found = []
    for g in groups:
        made = stmts[g.start]
        if g.dropped or captured.intersection(g.names) or made.targets[0].id != g.names[0]:
            continue
        if _into(made.value, np_name, S.name("_")) is not None:
            layout = group_layout(g, owner, made.value)
            if layout is not None:
                found.append((g, layout))
    return found


class _Requests:
    """The buffers of a plan: ``entries`` (``[statement, (shape, dtype), loop counter or
    None, block]``) and ``requests`` (``(start, end, bytes, [entries])``: memory live over
    top-level statements), for groups none of whose names is ``unsafe`` and whose array
    does not read a ``transposed`` layout."""

    def __init__(self, body, unsafe: set, transposed: set, stacks: set):
        self.body, self.unsafe, self.transposed, self.stacks = body, unsafe, transposed, stacks
        self.entries: list = []
        self.requests: list = []
        self.rows: dict = {}  # id(statement) -> (entry, group, request index): per-step rows
        self.shared: list = []  # (stack statement, entry of its rows, loop, copy dropped)
        self.owner = None
        self.mentioned = [S.names_in(st) for st in body]  # per top-level statement

    def last_mention(self, names, at: int) -> int:
        """The index of the last top-level statement that mentions a name of ``names``, or
        ``at`` where none after it does."""
        hits = [i for i, seen in enumerate(self.mentioned) if not seen.isdisjoint(names)]
        return max([at] + hits)

    def skipped(self, g, made) -> bool:
        return bool(self.unsafe.intersection(g.names)) or reads_transposed(
            made.value, self.transposed
        )

    def top_level(self, g, layout) -> None:
        """A top-level statement's group: a buffer over its lifetime, up to POOLED_BYTES."""
        if nbytes(layout) > POOLED_BYTES:
            return  # released after its last use instead: see POOLED_BYTES
        if not self.skipped(g, self.body[g.start]):
            self.entries.append([self.body[g.start], layout, None, None])
            self.requests.append((g.start, g.end, nbytes(layout), [self.entries[-1]]))

    def stack(self, stmt, layout) -> None:
        """A top-level statement's array known never to leave the call: a buffer over its
        lifetime, at any size."""
        body = self.body
        at = body.index(stmt)
        last = self.last_mention((stmt.targets[0].id,), at)
        self.entries.append([stmt, layout, None, None])
        self.requests.append((at, last, nbytes(layout), [self.entries[-1]]))

    def shared_stack(self, stmt, layout) -> bool:
        """Give the stack ``stmt`` makes the per-step buffer of the rows it copies, where
        that holds the same values when the stack is read: the reversed loop after ``stmt``
        mentions the stack once, in ``stack[t] = p``; ``p`` holds the array the forward loop
        made in step ``t`` (:func:`~.step_arrays.taped_definition`) in its iteration's row of
        a buffer of the stack's layout, which the next iteration only pushes on the tape; and
        no statement of the reversed loop, nor one after it that reads the stack, may write into an array
        a name of ``p``'s group (or one bound to it in the loop) holds. Whether it did."""
        name, at = stmt.targets[0].id, self.body.index(stmt)
        loop = next((s for s in self.body[at + 1 :] if name in S.names_in(s)), None)
        if not isinstance(loop, gast.For) or not isinstance(loop.target, gast.Name):
            return False
        copy = _copy_into(loop, name)
        if copy is None:
            return False
        found = taped_definition(self.body, loop, copy.value.id, copy)
        row = self.rows.get(id(found[1])) if found is not None else None
        if row is None:
            return False
        entry, g, r = row
        forward, made = found
        if made.targets[0].id != copy.value.id or entry[1] != layout:
            return False
        names = set(g.names)
        before = forward.body[: forward.body.index(made)]
        if any(names & S.names_in(s) - pushed(s, self.stacks) for s in before):
            return False  # the last iteration's row read otherwise than pushed on the tape
        end = self.last_mention((name,), at)
        after = self.body[self.body.index(loop) + 1 : end + 1]
        if not _unwritten(loop.body, copy, set(g.names), after, self.owner):
            return False
        start, last, size, group = self.requests[r]
        self.requests[r] = (start, max(last, end), size, group)
        self.shared.append((stmt, entry, loop, copy))
        return True

    def loop(self, loop, found, count) -> None:
        """A loop body's groups (``found``, with layouts; ``count`` iterations or None): one
        buffer for a group read only within its iteration, one per iteration (where the
        count is known) for one read by a later iteration, after the loop or from the tape."""
        body = self.body
        at = body.index(loop)
        outside = _mentioned_outside(body, loop)
        taped = {n for s in loop.body for n in pushed(s, self.stacks)}
        local: list = []  # this body's buffers: [bytes, last statement of the body, entries]
        for g, layout in sorted(found, key=lambda c: c[0].start):
            made = loop.body[g.start]
            if self.skipped(g, made):
                continue
            if not (g.carried or outside.intersection(g.names) or taped.intersection(g.names)):
                self.entries.append([made, layout, None, None])  # one iteration's: one buffer
                k = _fit(local, nbytes(layout), g.start, g.end)
                local[k][2].append(self.entries[-1])
            elif count is not None:  # a buffer per iteration, indexed by the loop counter
                entry = [made, ((count,) + layout[0], layout[1]), loop.target.id, None]
                self.entries.append(entry)
                last = self.last_mention(g.names, at)
                self.rows[id(made)] = (entry, g, len(self.requests))
                self.requests.append((at, last, nbytes(entry[1]), [entry]))
        self.requests += [(at, at, size, group) for size, _, group in local]


def _copy_into(loop, name):
    """The statement ``name[t] = p`` (``t`` the loop's counter, ``p`` a name) of ``loop``'s
    top level, where it is the loop's only mention of ``name``, else None."""
    if sum(1 for n in S.name_nodes(loop) if n.id == name) != 1:
        return None
    for s in loop.body:
        t = s.targets[0] if isinstance(s, gast.Assign) and len(s.targets) == 1 else None
        if (
            isinstance(t, gast.Subscript)
            and isinstance(t.value, gast.Name)
            and t.value.id == name
            and isinstance(t.slice, gast.Name)
            and t.slice.id == loop.target.id
            and isinstance(s.value, gast.Name)
        ):
            return s
    return None


def _unwritten(stmts, copy, held: set, after, owner) -> bool:
    """Whether no statement of the loop body ``stmts`` but ``copy``, nor of ``after``, may
    write into an array of the names ``held`` or of a name bound to one of them in the loop
    by a value that is not a new array."""
    held = set(held)
    for _ in range(2):  # twice: a name bound late in one iteration is read in the next
        for s in stmts:
            if (
                isinstance(s, gast.Assign)
                and isinstance(s.targets[0], gast.Name)
                and held & S.names_in(s.value)
                and not owner.fresh(s.value)
            ):
                held.add(s.targets[0].id)
    return not any(may_write(s, held) for s in [*stmts, *after] if s is not copy)


def _fit(memory, size, start, end) -> int:
    """The index of a block of ``memory`` (``[bytes, end, ...]``) free before ``start``, made
    at least ``size`` bytes (a new one if none is free), now taken until ``end``."""
    free = [k for k, m in enumerate(memory) if m[1] < start]
    if free:  # the smallest one large enough, else the largest (grown)
        fits = [k for k in free if memory[k][0] >= size]
        k = min(fits, key=lambda k: memory[k][0]) if fits else max(free, key=lambda k: memory[k][0])
        memory[k][0] = max(memory[k][0], size)
    else:
        k = len(memory)
        memory.append([size, None, []])
    memory[k][1] = end
    return k


def _straight(stmts) -> bool:
    """Whether ``stmts`` are assignments and expression statements only (no branch, loop,
    ``break`` or ``continue``): each runs once per pass."""
    return all(isinstance(s, (gast.Assign, gast.AugAssign, gast.Expr)) for s in stmts)


def _mentioned_outside(body, loop) -> set:
    """Names mentioned in ``body`` anywhere but inside ``loop``'s body."""
    inside = {id(n) for s in loop.body for n in S.name_nodes(s)}
    return {
        n.id for n in S.name_nodes(gast.Module(body=body, type_ignores=[])) if id(n) not in inside
    }


def known_count(e, body, owner):
    """The value of the int expression ``e`` of ``body`` (a loop's count: ``n`` where ``n =
    xs.shape[0]`` is assigned once) where the argument shapes decide it and it is not
    negative, else None."""
    defs: dict = {}
    binding = (gast.Assign, gast.AugAssign, gast.For)
    for stmt in S.nodes_of(gast.Module(body=body, type_ignores=[]), binding):
        if isinstance(stmt, gast.For):
            for n in S.name_nodes(stmt.target):
                defs.setdefault(n.id, []).append(None)
        else:
            for n in assigned_names(stmt):
                defs.setdefault(n, []).append(stmt)
    n = _known_int(e, defs, owner, body)
    return n if isinstance(n, int) and n >= 0 else None


def _iterations(loop, body, owner):
    """The number of times ``for t in range(n)`` runs where the argument shapes decide it
    (``n = xs.shape[0]``, assigned once), else None."""
    it = loop.iter
    if not (
        isinstance(loop.target, gast.Name)
        and isinstance(it, gast.Call)
        and isinstance(it.func, gast.Name)
        and it.func.id == "range"
        and len(it.args) == 1
        and not it.keywords
    ):
        return None
    stored = {
        n.id
        for s in loop.body
        for n in S.walk(s)
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)
    }
    if loop.target.id in stored:
        return None  # the counter changed in the body: not the iteration's index
    return known_count(it.args[0], body, owner)


def _known_int(e, defs, owner, body, depth=0):
    """The value of the int expression ``e`` where the argument shapes decide it, or None."""
    if depth > 20:
        return None
    if isinstance(e, gast.Constant):
        return e.value if type(e.value) is int else None
    if isinstance(e, gast.Name):
        assigned = defs.get(e.id, [])
        if (
            len(assigned) != 1
            or assigned[0] not in body
            or not isinstance(assigned[0], gast.Assign)
        ):
            return None
        return _known_int(assigned[0].value, defs, owner, body, depth + 1)
    if (
        isinstance(e, gast.Subscript)
        and isinstance(e.value, gast.Attribute)
        and e.value.attr == "shape"
        and isinstance(e.value.value, gast.Name)
        and isinstance(e.slice, gast.Constant)
        and type(e.slice.value) is int
    ):
        shape = owner.in_place.shapes_of(e.value.value.id)
        if isinstance(shape, tuple) and -len(shape) <= e.slice.value < len(shape):
            d = shape[e.slice.value]
            return d if isinstance(d, int) else None
        return None
    if isinstance(e, gast.BinOp) and isinstance(e.op, (gast.Add, gast.Sub, gast.Mult)):
        a = _known_int(e.left, defs, owner, body, depth + 1)
        b = _known_int(e.right, defs, owner, body, depth + 1)
        if a is None or b is None:
            return None
        return (
            a + b if isinstance(e.op, gast.Add) else a - b if isinstance(e.op, gast.Sub) else a * b
        )
    return None


def apply_pool(body, plan, refs, np_name, make_pool) -> None:
    """Rewrite the statements of ``plan`` (:func:`plan_pool`) to compute into the buffers of
    a pool made by ``make_pool(blocks, [(block, shape, dtype), ...])``: the body takes this
    thread's spare set (or a new one) first and gives it back right before its return.
    Where the plan has free lengths, the buffers' shapes are symbolic and the set is sized
    for the lengths of the call: ``buffers = pool.take(spare, (xs.shape[0],))``."""
    entries, blocks, sizes, shared = (*plan, None, [])[:4] if len(plan) < 4 else plan
    if not entries:
        return
    views = [(block, shape, dtype) for _, (shape, dtype), _, block in entries]
    if sizes is not None and sizes.reads:
        views = [(block, sizes.symbolic(shape), dtype) for block, shape, dtype in views]
        blocks = [0] * len(blocks)  # sized for each call's lengths
    else:
        sizes = None
    pool = refs.ref(make_pool(blocks, views), "pool")
    spare, buffers = refs.names.fresh("spare"), refs.names.fresh("buffers")
    for k, (stmt, _, index, _) in enumerate(entries):
        slot = gast.Subscript(
            value=S.name(buffers), slice=gast.Constant(value=k, kind=None), ctx=gast.Load()
        )
        if index is not None:  # this iteration's part of a buffer for every iteration
            slot = gast.Subscript(value=slot, slice=S.name(index), ctx=gast.Load())
        stmt.value = _into(stmt.value, np_name, slot) or _empty_into(stmt.value, np_name, slot)
    for stmt, k, loop, copy in shared:
        stmt.value = gast.Subscript(
            value=S.name(buffers), slice=gast.Constant(value=k, kind=None), ctx=gast.Load()
        )
        loop.body.remove(copy)

    def method(obj, attr, args):
        return S.call(gast.Attribute(value=S.name(obj), attr=attr, ctx=gast.Load()), args)

    line = getattr(body[0], "lineno", None)
    if sizes is None:
        taken = gast.IfExp(
            test=S.name(spare), body=method(spare, "pop", []), orelse=method(pool, "new", [])
        )
    else:
        taken = method(pool, "take", [S.name(spare), sizes.all_read()])
    take = [
        S.assign(spare, gast.Attribute(value=S.name(pool), attr="spare", ctx=gast.Load()), line),
        S.assign(buffers, taken, line),
    ]
    give = gast.Expr(value=method(spare, "append", [S.name(buffers)]))
    give.lineno = getattr(body[-1], "lineno", None)
    body.insert(len(body) - 1, give)
    body[:0] = take


def _empty_into(value, np_name, slot):
    """``slot`` where ``value`` is ``np.empty(...)`` (a stack of :mod:`.hoist`), else None."""
    f = getattr(value, "func", None)
    if isinstance(f, gast.Attribute) and f.attr == "empty" and S.dotted(f.value) == np_name:
        return slot
    return None


def _into(value, np_name, slot):
    """``value`` (a new array) computed into ``slot``, or None where it cannot be: a NumPy
    ufunc call or an operator on arrays (``out`` by position), ``np.dot``/``np.matmul`` of two
    operands, ``np.<ufunc>.reduce(e, axis)``."""
    f = getattr(value, "func", None)
    if isinstance(value, gast.BinOp) and type(value.op) in ARRAY_BINOPS:
        ufunc = ARRAY_BINOPS[type(value.op)]
        if ufunc is np.power:
            return None  # `x ** 2` takes NumPy's fast path for squares; np.power does not
        args = [value.left, value.right]
    elif isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.USub):
        ufunc, args = np.negative, [value.operand]
    elif (
        isinstance(value, gast.Call)
        and isinstance(f, gast.Attribute)
        and not value.keywords
        and S.dotted(f.value) == np_name
    ):
        ufunc = getattr(np, f.attr, None)
        if f.attr == "dot" and len(value.args) == 2:
            return S.call(S.clone(f), [*value.args, slot])
        if not isinstance(ufunc, np.ufunc) or ufunc.nout != 1 or len(value.args) != ufunc.nin:
            return None
        args = list(value.args)
    elif (
        isinstance(value, gast.Call)
        and isinstance(f, gast.Attribute)
        and f.attr == "reduce"
        and not value.keywords
        and len(value.args) == 2
        and isinstance(f.value, gast.Attribute)
        and S.dotted(f.value.value) == np_name
        and isinstance(getattr(np, f.value.attr, None), np.ufunc)
        and not S.is_none(value.args[1])
    ):
        return S.call(S.clone(f), [*value.args, gast.Constant(value=None, kind=None), slot])
    else:
        return None
    func = gast.Attribute(value=S.name(np_name), attr=ufunc.__name__, ctx=gast.Load())
    if ufunc in (np.maximum, np.minimum):  # NumPy deprecates their `out` by position
        call = S.call(func, args)
        call.keywords = [gast.keyword(arg="out", value=slot)]
        return call
    return S.call(func, [*args, slot])
