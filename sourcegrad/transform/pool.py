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
  no two running calls ever share a buffer. One pool per shape signature (each signature has
  its own build).
* :func:`release_dead`: ``del`` the names of a top-level group not pooled after its last use.

Guarantees: the values computed are those of the code before (a buffer is written only
where the array the code made there would have been new, and every name reaching it is
dead before the next write); nothing a call returns, or lets another function see, is a
pooled buffer.
"""

from __future__ import annotations

import functools
import inspect

import gast
import numpy as np

from . import syntax as S
from .shapes import ARRAY_BINOPS
from .walk import assigned_names

#: arrays at least this large are released (``del``) after their last use
RELEASED_BYTES = 4096
#: arrays made by top-level statements are pooled up to this size; larger ones are released
#: after their last use, so that their memory can serve what the call returns (which a pooled
#: buffer cannot: the caller owns it). A warm allocator hands a large block back without page
#: faults, and its cost is small next to the work on it; a loop's buffers are pooled at any
#: size (their arrays are made once per iteration, and the tape keeps them all anyway)
POOLED_BYTES = 16384

#: attributes that read an array without keeping (or handing out) its memory
_READ_ATTRIBUTES = {"shape", "dtype", "ndim", "size", "nbytes", "itemsize"}
#: attributes and methods whose result may share the array's memory (views)
_VIEW_ATTRIBUTES = {"T", "reshape", "ravel", "transpose", "squeeze", "real", "imag"}
#: array methods whose result is a new array
FRESH_METHODS = {"copy", "sum", "mean", "prod", "dot", "cumsum", "var", "std", "max", "min"}
#: NumPy functions of arrays whose result is a new array (not ``np.array``: ``copy=False``)
FRESH_FUNCTIONS = {
    "zeros_like", "ones_like", "full_like", "empty_like", "outer", "dot", "matmul", "inner",
    "tensordot", "copy", "concatenate", "stack", "where", "sum", "mean", "prod", "cumsum",
    "var", "std", "max", "min", "amax", "amin", "clip", "vdot",
}  # fmt: skip
#: np.linalg functions whose result is always a new array (matrix_power(a, 1) may be a)
FRESH_LINALG = {
    "inv", "pinv", "solve", "lstsq", "det", "slogdet", "norm", "vector_norm", "matrix_norm",
    "cholesky", "qr", "svd", "svdvals", "eig", "eigh", "eigvals", "eigvalsh", "cond",
    "matrix_rank", "tensorinv", "tensorsolve", "multi_dot", "outer", "cross", "vecdot",
    "matmul", "tensordot", "trace",
}  # fmt: skip
#: NumPy functions whose result may share the memory of an argument
_VIEW_FUNCTIONS = {
    "reshape", "ravel", "transpose", "squeeze", "expand_dims", "asarray", "ascontiguousarray",
    "broadcast_to", "atleast_1d", "atleast_2d", "swapaxes", "moveaxis", "array", "einsum",
}  # fmt: skip


class _Group:
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
    group: dict = {}  # name -> its _Group
    last: dict = {}
    for i, stmt in enumerate(body):
        for n in S.walk(stmt):
            if isinstance(n, gast.Name):
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
            group[t] = _Group(t, i)
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
    return [group[n.id] for n in S.walk(value) if isinstance(n, gast.Name) and n.id in group]


def out_buffer(e):
    """The name of the ``out=`` buffer of the call ``e``, or None."""
    if isinstance(e, gast.Call):
        for k in e.keywords:
            if k.arg == "out" and isinstance(k.value, gast.Name):
                return k.value.id
    return None


def _layout(g, owner, value=None):
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


def release_dead(body, owner, pooled=frozenset()) -> None:
    """``del h1_1, h1_2, h1`` after the last statement of the function body that mentions
    any name of a new array's buffer of at least :data:`RELEASED_BYTES`, so that its memory
    is free for what comes later: a hand-written gradient's locals live until it returns,
    these do not. Not for groups a branch or loop assigns, a nested function reads, that the
    statement just before the return reads, or whose array is pooled (``pooled``: the names
    of the statements that made them)."""
    captured = S.captured_names(gast.Module(body=body, type_ignores=[]))
    released: dict = {}
    for g in buffer_groups(body, owner):
        if g.dropped or g.end >= len(body) - 2 or captured.intersection(g.names):
            continue
        if g.names[0] in pooled:
            continue
        layout = _layout(g, owner)
        if layout is not None and _nbytes(layout) >= RELEASED_BYTES:
            released.setdefault(g.end, []).extend(g.names)
    for i in sorted(released, reverse=True):
        targets = [S.name(n) for n in released[i]]
        for target in targets:
            target.ctx = gast.Del()
        node = gast.Delete(targets=targets)
        node.lineno = getattr(body[i], "lineno", None)
        node.sg_adjoint = getattr(body[i], "sg_adjoint", False)
        body.insert(i + 1, node)


def plan_pool(body, owner, np_name, helpers=frozenset()) -> tuple:
    """The arrays of ``body`` to compute into pooled buffers (see the module docstring):
    ``(buffers, blocks)``, ``buffers`` a list of ``(statement that makes the array, (shape,
    dtype), loop counter indexing a buffer per iteration or None, block)`` and ``blocks`` the
    sizes in bytes of the memory blocks the buffers are views of. Arrays whose lifetimes (over
    the top-level statements) do not overlap share a block, whatever their shapes and dtypes.
    Nothing where the body has a return or ``yield`` before its last statement."""
    if np_name is None or not body or not isinstance(body[-1], gast.Return):
        return [], []
    if any(isinstance(n, (gast.Return, gast.Yield, gast.YieldFrom)) for n in _inner(body)):
        return [], []
    captured = S.captured_names(gast.Module(body=body, type_ignores=[]))

    def layouts(groups, stmts) -> list:
        """``(group, (shape, dtype))`` of the groups whose array could go to a buffer."""
        found = []
        for g in groups:
            made = stmts[g.start]
            if g.dropped or captured.intersection(g.names) or made.targets[0].id != g.names[0]:
                continue
            if _into(made.value, np_name, S.name("_")) is not None:
                layout = _layout(g, owner, made.value)
                if layout is not None:
                    found.append((g, layout))
        return found

    candidates = layouts(buffer_groups(body, owner), body)
    loops = [  # (loop, its groups and their layouts, the number of iterations or None)
        (stmt, layouts(_loop_groups(stmt.body, owner), stmt.body), _iterations(stmt, body, owner))
        for stmt in body
        if isinstance(stmt, gast.For) and _straight(stmt.body) and not getattr(stmt, "sg_blocks", 0)
    ]
    stacks = _stacks(body)
    members: dict = {}
    for g, _ in candidates + [c for _, found, _ in loops for c in found]:
        for n in g.names:
            members.setdefault(n, []).append(g)
    arrays = {n for n, dt in owner.in_place.dtypes.items() if isinstance(dt, np.dtype)}
    unsafe = _escaping(body, members, np_name, helpers, stacks, arrays)
    transposed = _transposed_names(body)
    unsafe |= {n for n, gs in members.items() if len(gs) > 1}  # a name of two groups
    requests = []  # (start, end, bytes, [entries]): memory live over top-level statements
    entries = []  # [statement, (shape, dtype), loop counter or None, request]
    for g, layout in candidates:
        if _nbytes(layout) > POOLED_BYTES:
            continue  # released after its last use instead: see POOLED_BYTES
        if not (unsafe.intersection(g.names) or _reads_transposed(body[g.start].value, transposed)):
            entries.append([body[g.start], layout, None, None])
            requests.append((g.start, g.end, _nbytes(layout), [entries[-1]]))
    for loop, found, count in loops:
        at = body.index(loop)
        outside = _mentioned_outside(body, loop)
        taped = {n for s in loop.body for n in _pushed(s, stacks)}
        local: list = []  # this body's buffers: [bytes, last statement of the body, entries]
        for g, layout in sorted(found, key=lambda c: c[0].start):
            made = loop.body[g.start]
            if unsafe.intersection(g.names) or _reads_transposed(made.value, transposed):
                continue
            if not (g.carried or outside.intersection(g.names) or taped.intersection(g.names)):
                entries.append([made, layout, None, None])  # one iteration's: one buffer
                k = _fit(local, _nbytes(layout), g.start, g.end)
                local[k][2].append(entries[-1])
            elif count is not None:  # a buffer per iteration, indexed by the loop counter
                entries.append([made, ((count,) + layout[0], layout[1]), loop.target.id, None])
                last = max([at] + [i for i, st in enumerate(body) if _mentions(st, g.names)])
                requests.append((at, last, _nbytes(entries[-1][1]), [entries[-1]]))
        requests += [(at, at, size, group) for size, _, group in local]
    memory: list = []  # [bytes, last statement of the current request, ...]
    for start, end, size, group in sorted(requests, key=lambda r: r[0]):
        k = _fit(memory, size, start, end)
        for entry in group:
            entry[3] = k
    return [tuple(e) for e in entries], [m[0] for m in memory]


def _nbytes(layout) -> int:
    shape, dtype = layout
    return int(np.prod(shape)) * dtype.itemsize


def _mentions(stmt, names) -> bool:
    return any(_is_name(n, names) for n in S.walk(stmt))


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


_TRANSPOSING = {"T", "transpose", "swapaxes", "moveaxis", "matrix_transpose", "mT"}


def _transposed_names(body) -> set:
    """Names some statement binds to a value that reads a transposed array (``vt = v.T``),
    directly or through such a name: NumPy lays an elementwise result out like its operands
    (order ``K``), so a C-ordered buffer in its place would change how later sums round."""
    names: set = set()
    assigns = [
        s
        for s in S.walk(gast.Module(body=body, type_ignores=[]))
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
    ]
    while True:
        more = {s.targets[0].id for s in assigns if _reads_transposed(s.value, names)} - names
        if not more:
            return names
        names |= more


def _reads_transposed(e, transposed) -> bool:
    """Whether ``e``, where its result is laid out like its operands (not ``np.dot`` or
    ``np.matmul``: C order), transposes an array or reads a name of ``transposed``."""
    if isinstance(e, gast.Call) and getattr(e.func, "attr", None) in ("dot", "matmul"):
        return False
    for n in S.walk(e):
        if isinstance(n, gast.Attribute) and n.attr in _TRANSPOSING:
            return True
        if isinstance(n, gast.Name) and n.id in transposed:
            return True
    return False


def _straight(stmts) -> bool:
    """Whether ``stmts`` are assignments and expression statements only (no branch, loop,
    ``break`` or ``continue``): each runs once per pass."""
    return all(isinstance(s, (gast.Assign, gast.AugAssign, gast.Expr)) for s in stmts)


def _loop_groups(stmts, owner) -> list:
    """The buffer groups of a loop body's arrays (as :func:`buffer_groups`), each marked
    ``carried`` where a name of it is read in the body before the statement that makes or
    joins it binds it, that statement's own value included (the iteration before's value).
    A name bound twice to different groups, or to a group and something else, drops the
    group (dropped groups are left out)."""
    group: dict = {}
    first: dict = {}  # name -> index of the first statement mentioning it
    for i, stmt in enumerate(stmts):
        for n in S.walk(stmt):
            if isinstance(n, gast.Name):
                first.setdefault(n.id, i)
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
        before = first[t] < i or any(_is_name(n, (t,)) for n in S.walk(value))
        if not reached:
            if owner.fresh(value):
                group[t] = _Group(t, i)
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
        g.end = max(i for i, s in enumerate(stmts) for n in S.walk(s) if _is_name(n, g.names))
    return groups


def _is_name(n, names) -> bool:
    return isinstance(n, gast.Name) and n.id in names


def _mentioned_outside(body, loop) -> set:
    """Names mentioned in ``body`` anywhere but inside ``loop``'s body."""
    inside = {id(n) for s in loop.body for n in S.walk(s)}
    return {
        n.id
        for n in S.walk(gast.Module(body=body, type_ignores=[]))
        if isinstance(n, gast.Name) and id(n) not in inside
    }


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
    defs: dict = {}
    for stmt in S.walk(gast.Module(body=body, type_ignores=[])):
        if isinstance(stmt, (gast.Assign, gast.AugAssign, gast.For)):
            for n in assigned_names(stmt) if not isinstance(stmt, gast.For) else ():
                defs.setdefault(n, []).append(stmt)
            if isinstance(stmt, gast.For):
                for n in S.walk(stmt.target):
                    if isinstance(n, gast.Name):
                        defs.setdefault(n.id, []).append(None)
    n = _known_int(it.args[0], defs, owner, body)
    return n if isinstance(n, int) and n >= 0 else None


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


def _stacks(body) -> set:
    """Names of lists the function makes (``tape = []`` at its top level) and uses only as a
    stack of its own: ``tape.append(x)`` statements and ``x = tape.pop()``."""
    made = {
        id(s): s.targets[0].id
        for s in body
        if isinstance(s, gast.Assign)
        and isinstance(s.targets[0], gast.Name)
        and isinstance(s.value, gast.List)
        and not s.value.elts
    }
    ok = set(made.values())
    for stmt in S.walk(gast.Module(body=body, type_ignores=[])):
        if not isinstance(stmt, gast.stmt) or isinstance(stmt, (gast.If, gast.For, gast.While)):
            continue
        used = {n.id for n in S.walk(stmt) if isinstance(n, gast.Name)} & ok
        if used and not (id(stmt) in made or _pushed(stmt, used) or _popped(stmt, used)):
            ok -= used
    return ok


def _pushed(stmt, stacks) -> set:
    """``{x}`` where ``stmt`` is ``stack.append(x)`` on one of ``stacks``, else empty."""
    v = getattr(stmt, "value", None)
    if (
        isinstance(stmt, gast.Expr)
        and isinstance(v, gast.Call)
        and isinstance(v.func, gast.Attribute)
        and v.func.attr == "append"
        and isinstance(v.func.value, gast.Name)
        and v.func.value.id in stacks
        and len(v.args) == 1
        and not v.keywords
    ):
        a = v.args[0]
        return (
            {a.id}
            if isinstance(a, gast.Name)
            else set() if isinstance(a, gast.Constant) else {None}
        )
    return set()


def _popped(stmt, stacks) -> bool:
    """Whether ``stmt`` is ``x = stack.pop()`` on one of ``stacks``."""
    v = getattr(stmt, "value", None)
    return (
        isinstance(stmt, gast.Assign)
        and isinstance(stmt.targets[0], gast.Name)
        and isinstance(v, gast.Call)
        and isinstance(v.func, gast.Attribute)
        and v.func.attr == "pop"
        and isinstance(v.func.value, gast.Name)
        and v.func.value.id in stacks
        and not v.args
        and not v.keywords
    )


def apply_pool(body, plan, refs, np_name, make_pool) -> None:
    """Rewrite the statements of ``plan`` (:func:`plan_pool`) to compute into the buffers of
    a pool made by ``make_pool(blocks, [(block, shape, dtype), ...])``: the body takes this
    thread's spare set (or a new one) first and gives it back right before its return."""
    entries, blocks = plan
    if not entries:
        return
    views = [(block, shape, dtype) for _, (shape, dtype), _, block in entries]
    pool = refs.ref(make_pool(blocks, views), "pool")
    spare, buffers = refs.names.fresh("spare"), refs.names.fresh("buffers")
    for k, (stmt, _, index, _) in enumerate(entries):
        slot = gast.Subscript(
            value=S.name(buffers), slice=gast.Constant(value=k, kind=None), ctx=gast.Load()
        )
        if index is not None:  # this iteration's part of a buffer for every iteration
            slot = gast.Subscript(value=slot, slice=S.name(index), ctx=gast.Load())
        stmt.value = _into(stmt.value, np_name, slot)

    def method(obj, attr, args):
        return S.call(gast.Attribute(value=S.name(obj), attr=attr, ctx=gast.Load()), args)

    line = getattr(body[0], "lineno", None)
    take = [
        S.assign(spare, gast.Attribute(value=S.name(pool), attr="spare", ctx=gast.Load()), line),
        S.assign(
            buffers,
            gast.IfExp(
                test=S.name(spare), body=method(spare, "pop", []), orelse=method(pool, "new", [])
            ),
            line,
        ),
    ]
    give = gast.Expr(value=method(spare, "append", [S.name(buffers)]))
    give.lineno = getattr(body[-1], "lineno", None)
    body.insert(len(body) - 1, give)
    body[:0] = take


def _inner(body):
    """Every node of ``body`` but its last statement (the return) and nested scopes."""
    for stmt in body[:-1]:
        yield from S.walk(stmt)


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


def _escaping(body, members: dict, np_name, helpers, stacks, arrays) -> set:
    """The names of ``members`` (name -> its groups) read anywhere in ``body`` where the memory
    may be kept or handed out: anything but an operand of arithmetic or of a NumPy function
    making a new array, an index, a value written into another array (``y[k] = h``), a
    binding of a name of the same group, or a view read in one of those ways. ``y[k] = h``
    copies only where ``y`` is one of ``arrays`` (a list keeps ``h``). A name pushed
    on one of ``stacks`` (the tape) is read where it is popped into the same name."""
    unsafe = set()
    for stmt in body:
        parents = {}
        for parent in S.walk(stmt):
            for child in gast.iter_child_nodes(parent):
                parents[id(child)] = parent
        for n in S.walk(stmt):
            if isinstance(n, gast.Name) and n.id in members:
                parent = parents.get(id(n))
                if isinstance(n.ctx, gast.Load):
                    statement = parents.get(id(parent)) if parent is not None else None
                    if isinstance(statement, gast.Expr) and _pushed(statement, stacks) == {n.id}:
                        continue  # kept on the function's own tape, popped into the name
                    if not _kept_inside(n, parents, members, np_name, helpers, arrays):
                        unsafe.add(n.id)
                elif isinstance(n.ctx, gast.Store) and not (
                    isinstance(parent, gast.Assign) and parent.targets[0] is n
                ):
                    unsafe.add(n.id)  # bound by unpacking, a loop header, ...
    return unsafe


def _kept_inside(n, parents, members, np_name, helpers, arrays) -> bool:
    """Whether the value read at ``n`` (or a view of it) cannot outlive the statement except
    through a name of its own group."""
    group = members[n.id][0]
    child, node = n, parents.get(id(n))
    while node is not None:
        if isinstance(node, (gast.BinOp, gast.UnaryOp, gast.Compare)):
            return True
        if isinstance(node, gast.Subscript):
            if child is not node.value:
                return True  # an index
        elif isinstance(node, gast.Attribute):
            if node.attr in _READ_ATTRIBUTES:
                return True
            call = parents.get(id(node))
            method = isinstance(call, gast.Call) and call.func is node
            if method and node.attr in FRESH_METHODS:
                return True
            if node.attr not in _VIEW_ATTRIBUTES:
                return False
            if method:
                node = call  # the method's result: a view
        elif isinstance(node, gast.Call):
            if child is node.func:
                return False
            if out_buffer(node) is not None or _positional_out(node, np_name):
                if not _is_out(child, node, np_name):
                    return True  # an input of a NumPy call that writes into another array
            elif isinstance(node.func, gast.Name) and node.func.id in helpers:
                return True  # a runtime helper making a new array of its arguments' values
            elif _makes_new_array(node.func, np_name):
                return True
            elif not _numpy_function(node.func, np_name, _VIEW_FUNCTIONS):
                return False
        elif isinstance(node, gast.keyword):
            pass
        elif isinstance(node, gast.Assign):
            target = node.targets[0]
            if child is not node.value:
                return True
            if isinstance(target, gast.Subscript):  # copied into another array, or kept
                return isinstance(target.value, gast.Name) and target.value.id in arrays
            return isinstance(target, gast.Name) and group in members.get(target.id, ())
        elif isinstance(node, gast.AugAssign):
            return child is node.value or isinstance(node.target, gast.Name)
        else:
            return False  # a container, a return, a call of anything else, ...
        child, node = node, parents.get(id(node))
    return False


def _numpy_function(func, np_name, names) -> bool:
    """Whether ``func`` is ``np.<name>`` for one of ``names``."""
    return (
        isinstance(func, gast.Attribute) and func.attr in names and S.dotted(func.value) == np_name
    )


def _makes_new_array(func, np_name) -> bool:
    """Whether ``func`` is a NumPy function whose result never shares an argument's memory:
    a ufunc or a ufunc's ``reduce``, one of :data:`FRESH_FUNCTIONS`, or ``np.linalg``'s."""
    if not isinstance(func, gast.Attribute):
        return False
    base = S.dotted(func.value)
    if base == np_name:
        return func.attr in FRESH_FUNCTIONS or isinstance(getattr(np, func.attr, None), np.ufunc)
    if base == f"{np_name}.linalg":
        return func.attr in FRESH_LINALG
    if isinstance(func.value, gast.Attribute) and S.dotted(func.value.value) == np_name:
        return func.attr == "reduce" and isinstance(getattr(np, func.value.attr, None), np.ufunc)
    return False


def _is_out(child, call, np_name) -> bool:
    """Whether ``child`` is the ``out`` argument of ``call`` (by keyword or position)."""
    if isinstance(child, gast.keyword):
        return child.arg == "out"
    at = out_position(call, np_name)
    return at is not None and child in call.args and call.args.index(child) >= at


def _positional_out(call, np_name) -> bool:
    """Whether the call writes into an ``out`` array passed by position."""
    at = out_position(call, np_name)
    return at is not None and len(call.args) > at


#: where array methods take ``out`` by position (``a.sum(axis, dtype, out)``)
_METHOD_OUT = {"sum": 2, "mean": 2, "prod": 2, "cumsum": 2, "std": 2, "var": 2, "max": 1, "min": 1}
_METHOD_OUT.update(dot=1, clip=2, cumprod=2, round=1, take=2, choose=1, trace=4, any=1, all=1)


def out_position(call, np_name):
    """The position of ``call``'s ``out`` argument, where it is a NumPy ufunc, ufunc method,
    function or an array method that has one (0 for a NumPy function whose signature cannot
    be read: any positional argument may be where its result goes); None where it has none."""
    f = call.func
    if not isinstance(f, gast.Attribute):
        return None
    base = S.dotted(f.value)
    if base == np_name:
        return _numpy_out_position(f.attr)
    if (
        isinstance(f.value, gast.Attribute)
        and S.dotted(f.value.value) == np_name
        and isinstance(getattr(np, f.value.attr, None), np.ufunc)
    ):
        return {"reduce": 3, "accumulate": 3, "reduceat": 4, "outer": 2}.get(f.attr, 0)
    if base == f"{np_name}.linalg":
        return None
    return _METHOD_OUT.get(f.attr)


@functools.cache
def _numpy_out_position(attr):
    fn = getattr(np, attr, None)
    if isinstance(fn, np.ufunc):
        return fn.nin
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return 0  # unknown: any positional argument may be an out
    for k, param in enumerate(params):
        if param.kind not in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            return None  # *operands (einsum), then keyword-only: none by position
        if param.name == "out":
            return k
    return None
