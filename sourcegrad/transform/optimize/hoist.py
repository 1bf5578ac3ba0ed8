"""Weight gradients of all time steps as one product after the reversed loop.

The adjoint of a loop over time steps adds each step's weight gradient into an accumulator:
``dW_x += np.dot(a_1.T, da)``, ``db += sum_leading(da, 1)``: ``T`` small products, none of
which runs at BLAS speed. :func:`hoist_accumulations` writes each step's operands into
*stacks* (``(T, ...)`` buffers, pooled by :mod:`.pool`) at the point the step read them, and
accumulates one product over the flattened stacks after the loop, as a hand-written gradient
does::

    for t in reversed(range(n)):
        ...
        stack_da[t] = da
    dW_x += np.dot(xs[:n].reshape(-1, xs.shape[-1]).T, stack_da.reshape(-1, ...))
    db += sum_leading(stack_da, 2)

A left operand that is already a row of a stacked array (``a_1``, restored from the tape,
was ``xs[t]`` in the forward loop of the same count) is read from that array instead; where
the forward loop computed the operand into its step's row of a pooled buffer, the pool plan
makes that buffer the stack and drops the copy (:meth:`.pool._Requests.shared_stack`).

Where it is done: a top-level ``for t in reversed(range(n))`` whose count the argument shapes
decide; an accumulation ``acc += e`` or ``acc[k] += e`` (the in-place form, so ``acc`` is
owned: nothing else reaches its array) at the top level of the body, with ``e`` one of
``np.dot(P.T, Q)``, ``P.T @ Q`` (``P``, ``Q`` matrices), ``np.outer(Q, P)`` (vectors),
``sum_leading(Q, k)``, ``np.sum(Q, axis=0)``, or a call ``f(A, B, ...)`` of a function
declared to sum over its operands' leading axes (``sums_leading``, in
:mod:`sourcegrad.rules.facts`: ``linear_weight_grad(dz, h)`` becomes one
``linear_weight_grad(stack_dz, stack_h)`` after the loop), of names whose shapes and dtypes
are known;
``acc`` mentioned nowhere else in the loop, ``k`` not changed by it. A ``while`` loop, a
nested loop and an accumulation in a branch are left as they are.

Guarantees: the same results up to rounding (the order of summation): each stack row is a
copy of the operand at the point the accumulation read it, so a later change of the operand
in the iteration is not seen; a loop that runs zero times adds zeros.
"""

from __future__ import annotations

import gast
import numpy as np

from ...rules.facts import sums_leading
from ...runtime.facts import helper_functions_where
from ...runtime.helpers import sum_leading, unindex_shaped
from .. import syntax as S
from ..node_facts import get_fact, set_fact
from .pool import known_count
from .stack_rows import RowContext, compute_into_row
from .step_arrays import (
    call_of,
    same_array,
    stacked_rows,
    stored,
)

#: runtime helpers whose result holds none of their arguments
_COPYING = helper_functions_where(allocates="new")


class _Accumulation:
    """One ``acc += e`` statement that may move: its form (``dot``, ``outer``, ``leading``
    with ``k``, ``sum0``, ``declared``), its left operand ``p`` (or None) and right operand
    ``q``; for ``declared``, ``e``'s operands in order (``q`` the first, ``p`` None)."""

    def __init__(self, stmt, form, p, q, k=None, operands=()):
        self.stmt, self.form, self.p, self.q, self.k = stmt, form, p, q, k
        self.operands = tuple(operands) or ((q,) if p is None else (q, p))

    @property
    def base(self) -> str:
        t = self.stmt.target
        return t.id if isinstance(t, gast.Name) else t.value.id


class _Hoist:
    """The rewrite of one function body (see the module docstring)."""

    def __init__(self, body, owner, np_name, helpers, fresh, refs):
        self.body, self.owner, self.np_name = body, owner, np_name
        self.sum_leading = helpers.get(sum_leading)
        self.fresh = fresh
        self.refs = refs
        self.stacks: list = []  # (statement making a stack, its layout), for the pool
        self._layouts: dict = {}  # stack name -> (shape, dtype), of the loop being rewritten
        self._moving: list = []  # the accumulations of that loop that move

    def run(self) -> list:
        for loop in [s for s in self.body if isinstance(s, gast.For)]:
            count = self._count(loop)
            if count is not None:
                self._loop(loop, count)
        return self.stacks

    def _count(self, loop):
        """The trip count of ``for t in reversed(range(n))`` where the shapes decide it."""
        it = loop.iter
        if not (
            isinstance(loop.target, gast.Name)
            and call_of(it, "reversed", 1)
            and call_of(it.args[0], "range", 1)
        ):
            return None
        if loop.target.id in {n for s in loop.body for n in stored(s)}:
            return None
        bound = it.args[0].args[0]
        found = known_count(bound, self.body, self.owner)
        return found if found is not None else self._length(bound)

    def _length(self, bound):
        """``len(X)`` of a ``bound`` assigned once as ``n = len(X)`` at the top level, where
        the shape of ``X`` is known."""
        if not isinstance(bound, gast.Name):
            return None
        defs = [
            s for s in S.walk(gast.Module(body=self.body, type_ignores=[])) if bound.id in _bound(s)
        ]
        if len(defs) != 1 or defs[0] not in self.body or not isinstance(defs[0], gast.Assign):
            return None
        v = defs[0].value
        if not (call_of(v, "len", 1) and isinstance(v.args[0], gast.Name)):
            return None
        shape = self.owner.in_place.shapes_of(v.args[0].id)
        return (
            shape[0] if isinstance(shape, tuple) and shape and isinstance(shape[0], int) else None
        )

    def _loop(self, loop, count) -> None:
        found = [a for a in (self._match(s) for s in loop.body) if a is not None]
        found = self._legal(loop, found)
        if not found:
            return
        at = self.body.index(loop)
        stacks: dict = {}  # (operand name, index in the body) -> stack name
        self._layouts, self._moving = {}, found
        after = []
        for acc in found:
            if acc.form == "declared":
                stacked = [self._left(loop, n, acc.stmt, count, stacks) for n in acc.operands]
                after.append(self._after_declared(acc, stacked))
                continue
            q = self._stack(loop, acc.q, acc.stmt, count, stacks)
            p = None if acc.p is None else self._left(loop, acc.p, acc.stmt, count, stacks)
            after.append(self._after(acc, p, q))
        made = [self._made(name, layout, loop) for name, layout in self._layouts.items()]
        self.stacks += zip(made, self._layouts.values())
        for acc in found:
            loop.body.remove(acc.stmt)
        self.body[at + 1 : at + 1] = after
        self.body[at:at] = made
        _drop_unread_again(loop, self.body)

    # -- what may move
    def _match(self, stmt):
        """The accumulation ``stmt`` is, where it has a form that may move."""
        if not (isinstance(stmt, gast.AugAssign) and isinstance(stmt.op, gast.Add)):
            return None
        t = stmt.target
        if not (
            isinstance(t, gast.Name)
            or isinstance(t, gast.Subscript)
            and isinstance(t.value, gast.Name)
        ):
            return None
        return _form(stmt, self.np_name, self.sum_leading) or self._declared(stmt)

    def _declared(self, stmt):
        """The accumulation ``stmt`` is where its value calls a function declared to sum over
        its operands' leading axes, with names for operands."""
        e = stmt.value
        if not (
            isinstance(e, gast.Call)
            and isinstance(e.func, gast.Name)
            and e.args
            and not e.keywords
            and all(isinstance(a, gast.Name) for a in e.args)
        ):
            return None
        name, refs = e.func.id, self.refs
        if refs is None:
            return None
        fn = refs.injected.get(name)
        if fn is None and name not in refs.local:
            fn = refs.user_globals.get(name)
        if fn is None or not callable(fn) or not sums_leading(fn):
            return None
        names = [a.id for a in e.args]
        return _Accumulation(stmt, "declared", None, names[0], operands=names)

    def _legal(self, loop, found) -> list:
        """The accumulations of ``found`` whose accumulator the loop mentions nowhere else,
        whose index the loop does not change, and whose operands have known layouts."""
        ids = {id(n) for a in found for n in S.walk(a.stmt)}
        elsewhere = {
            n.id
            for s in loop.body
            for n in S.walk(s)
            if isinstance(n, gast.Name) and id(n) not in ids
        }
        changed = {n for s in loop.body for n in stored(s)} | {loop.target.id}
        ok = []
        for a in found:
            index = S.names_in(a.stmt.target.slice) if a.base != S.dotted(a.stmt.target) else set()
            operands = set(a.operands)
            if a.base in elsewhere or a.base in operands or index & changed:
                continue
            if not self._owned_before(loop, a.base):
                continue
            if any(a.base == b.base and b.stmt is not a.stmt and _reads(b, a.base) for b in found):
                continue
            if self._shapes_fit(a):
                ok.append(a)
        return ok

    def _owned_before(self, loop, base) -> bool:
        """Whether ``base`` holds a new array made by a top-level statement before ``loop``,
        which no statement between reads other than by adding into it (so that no alias
        of it exists, to be read in the loop)."""
        at = self.body.index(loop)
        for s in reversed(self.body[:at]):
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                if s.targets[0].id == base:
                    return self.owner.fresh(s.value) and base not in S.names_in(s.value)
            if base not in S.names_in(s):
                continue
            t = s.target if isinstance(s, gast.AugAssign) else None
            t = t.value if isinstance(t, gast.Subscript) else t
            if not (isinstance(t, gast.Name) and t.id == base):
                return False
            if base in S.names_in(s.value):
                return False
        return False

    def _layout(self, name):
        shape = self.owner.in_place.shapes_of(name)
        dtype = self.owner.in_place.dtypes.get(name)
        if not isinstance(dtype, np.dtype) or not isinstance(shape, tuple):
            return None
        if not all(isinstance(d, int) for d in shape):
            return None
        return shape, dtype

    def _shapes_fit(self, a) -> bool:
        if a.form == "declared":
            return all(self._layout(n) is not None for n in a.operands)
        q = self._layout(a.q)
        p = self._layout(a.p) if a.p else None
        if q is None or (a.p and p is None):
            return False
        qs, ps = q[0], p[0] if p else None
        if a.form == "dot":
            return len(qs) == 2 and len(ps) == 2 and ps[0] == qs[0]
        if a.form == "outer":
            return len(qs) == 1 and len(ps) == 1
        if a.form == "leading":
            return len(qs) > a.k
        return len(qs) >= 1  # sum0

    # -- the stacks
    def _stack(self, loop, name, stmt, count, stacks) -> str:
        """The stack holding ``name`` as ``stmt`` reads it; the copy into it goes right
        before ``stmt`` (shared with an earlier copy of the same array, unchanged since)."""
        at = loop.body.index(stmt)
        moving = {id(a.stmt) for a in self._moving}
        for copied, stack in stacks.items():
            if same_array(loop.body, copied, name, at, moving):
                return stack
        rows = self._zeroed_rows(loop, name, at, count, moving)
        if rows is not None:
            return rows
        stack = self.fresh(f"{name}_steps")
        shape, dtype = self._layout(name)
        self._layouts[stack] = ((count, *shape), dtype)
        row = gast.Subscript(value=S.name(stack), slice=S.name(loop.target.id), ctx=gast.Load())
        if compute_into_row(loop.body, name, at, row, self._row_context(loop, moving)):
            stacks[(name, loop.body.index(stmt))] = stack
            return stack
        stacks[(name, at)] = stack
        target = gast.Subscript(value=S.name(stack), slice=S.name(loop.target.id), ctx=gast.Store())
        copy = gast.Assign(targets=[target], value=S.name(name), type_comment=None)
        copy.lineno = getattr(stmt, "lineno", None)
        set_fact(copy, "adjoint", get_fact(stmt, "adjoint", False))
        loop.body.insert(at, copy)
        return stack

    def _row_context(self, loop, moving) -> RowContext:
        refs = self.refs
        return RowContext(
            self.np_name,
            self.body[self.body.index(loop) + 1 :],
            refs.name_of(unindex_shaped) if refs is not None else None,
            frozenset(refs.names_of(_COPYING)) if refs is not None else frozenset(),
            [s for s in loop.body if id(s) in moving],
        )

    def _zeroed_rows(self, loop, name, at, count, moving):
        """An array ``X`` that holds, after the loop, the stack of ``name`` as the loop's
        statement ``at`` reads it: ``X`` is made of zeros before the loop, ``(count, ...)``
        of ``name``'s layout, and the loop mentions it only in one ``X[t] += q`` (``t`` its
        counter, ``q`` the same array as ``name`` at ``at``, unchanged in between): each row
        is added into once, so it holds ``q`` of its step. None where there is none."""
        layout = self._layout(name)
        for j, s in enumerate(loop.body):
            if not (
                isinstance(s, gast.AugAssign)
                and isinstance(s.op, gast.Add)
                and isinstance(s.target, gast.Subscript)
                and isinstance(s.target.value, gast.Name)
                and isinstance(s.target.slice, gast.Name)
                and s.target.slice.id == loop.target.id
                and isinstance(s.value, gast.Name)
            ):
                continue
            rows = s.target.value.id
            if self._layout(rows) != ((count, *layout[0]), layout[1]):
                continue
            mentions = [x for x in loop.body if rows in S.names_in(x)]
            if mentions != [s] or not self._zeros_before(loop, rows):
                continue
            same = (
                same_array(loop.body, (name, at), s.value.id, j, moving)
                if at < j
                else same_array(loop.body, (s.value.id, j), name, at, moving)
            )
            if same:
                return rows
        return None

    def _zeros_before(self, loop, name) -> bool:
        """Whether ``name`` is made of zeros (``np.zeros``, ``np.zeros_like``) by a top-level
        statement before ``loop``, and mentioned nowhere between."""
        at = self.body.index(loop)
        for s in reversed(self.body[:at]):
            if name not in S.names_in(s) and name not in stored(s):
                continue
            v = s.value if isinstance(s, gast.Assign) else None
            return (
                isinstance(s, gast.Assign)
                and isinstance(s.targets[0], gast.Name)
                and s.targets[0].id == name
                and isinstance(v, gast.Call)
                and isinstance(v.func, gast.Attribute)
                and v.func.attr in ("zeros", "zeros_like")
                and S.dotted(v.func.value) == self.np_name
                and name not in S.names_in(v)
            )
        return False

    def _left(self, loop, name, stmt, count, stacks):
        """The stacked operand ``name`` of ``stmt``: the array the forward loop read rows of,
        or a stack."""
        rows = stacked_rows(self.body, loop, name, stmt)
        if rows is None:
            return S.name(self._stack(loop, name, stmt, count, stacks))
        shape = self.owner.in_place.shapes_of(rows)
        whole = isinstance(shape, tuple) and shape and shape[0] == count
        if whole:
            return S.name(rows)
        bound = loop.iter.args[0].args[0]
        cut = gast.Slice(lower=None, upper=S.clone(bound), step=None)
        return gast.Subscript(value=S.name(rows), slice=cut, ctx=gast.Load())

    def _made(self, name, layout, loop):
        shape, dtype = layout
        np_ = S.name(self.np_name)
        value = S.call(
            gast.Attribute(value=np_, attr="empty", ctx=gast.Load()),
            [_tuple(shape), S.const(dtype.name)],
        )
        stmt = S.assign(name, value, getattr(loop, "lineno", None))
        set_fact(stmt, "adjoint", get_fact(loop, "adjoint", False))
        return stmt

    def _after_declared(self, acc, stacked):
        """``acc += f(<the stacked operands>)`` for after the loop."""
        e = S.call(S.clone(acc.stmt.value.func), stacked)
        stmt = gast.AugAssign(target=S.clone(acc.stmt.target), op=gast.Add(), value=e)
        stmt.lineno = getattr(acc.stmt, "lineno", None)
        set_fact(stmt, "adjoint", get_fact(acc.stmt, "adjoint", False))
        return stmt

    def _after(self, acc, p, q: str):
        """``acc += <one product over the stacks>`` for after the loop."""
        np_ = self.np_name
        if acc.form == "dot":
            e = _np(np_, "dot", [_attr(_flat(p), "T"), _flat(S.name(q))])
        elif acc.form == "outer":
            e = _np(np_, "dot", [_attr(S.name(q), "T"), p])
        elif acc.form == "leading":
            e = S.call(S.name(self.sum_leading), [S.name(q), S.const(acc.k + 1)])
            set_fact(e, "leading_summed", acc.k + 1)
        else:
            e = _np(np_, "sum", [S.name(q)])
            e.keywords = [gast.keyword(arg="axis", value=_tuple((0, 1)))]
        stmt = gast.AugAssign(target=S.clone(acc.stmt.target), op=gast.Add(), value=e)
        stmt.lineno = getattr(acc.stmt, "lineno", None)
        set_fact(stmt, "adjoint", get_fact(acc.stmt, "adjoint", False))
        return stmt


def hoist_accumulations(body, owner, np_name, helpers: dict, fresh, refs=None) -> list:
    """Rewrite the accumulations of ``body``'s reversed loops as one product after each loop
    (see the module docstring); returns ``(statement, (shape, dtype))`` of the statements
    making the stacks (``name = np.empty(shape, dtype)``), for :func:`~.pool.plan_pool` to
    give them buffers where it pools.
    ``helpers``: the name the derivative calls the runtime helper ``sum_leading`` by
    (function -> name, or None); ``fresh``: makes a new name from a stem; ``refs``: the
    derivative's references, what the functions it calls by name are (without them, calls of
    functions declared ``sums_leading`` stay in the loop)."""
    if np_name is None:
        return []
    return _Hoist(body, owner, np_name, helpers, fresh, refs).run()


def _form(stmt, np_name, sum_leading):
    """The :class:`_Accumulation` ``stmt`` (``acc += e``) is, from the form of ``e``."""
    e = stmt.value
    if isinstance(e, gast.BinOp) and isinstance(e.op, gast.MatMult):
        left, right = e.left, e.right
        if _transposed(left) and isinstance(right, gast.Name):
            return _Accumulation(stmt, "dot", left.value.id, right.id)
        return None
    if not isinstance(e, gast.Call) or e.keywords and not _axis0(e):
        return None
    args = e.args
    if _np_call(e, np_name, "dot", 2) and _transposed(args[0]) and isinstance(args[1], gast.Name):
        return _Accumulation(stmt, "dot", args[0].value.id, args[1].id)
    if _np_call(e, np_name, "outer", 2) and all(isinstance(a, gast.Name) for a in args):
        return _Accumulation(stmt, "outer", args[1].id, args[0].id)
    if _np_call(e, np_name, "sum", 1) and _axis0(e) and isinstance(args[0], gast.Name):
        return _Accumulation(stmt, "sum0", None, args[0].id)
    if (
        sum_leading is not None
        and isinstance(e.func, gast.Name)
        and e.func.id == sum_leading
        and len(args) == 2
        and isinstance(args[0], gast.Name)
        and isinstance(args[1], gast.Constant)
        and type(args[1].value) is int
        and args[1].value >= 1
        and not e.keywords
    ):
        return _Accumulation(stmt, "leading", None, args[0].id, args[1].value)
    return None


def _bound(node) -> set:
    """The names the statement ``node`` binds (none for other nodes)."""
    if isinstance(node, (gast.Assign, gast.AugAssign, gast.For)):
        return stored(node)
    return set()


def _axis0(call) -> bool:
    return (
        len(call.keywords) == 1
        and call.keywords[0].arg == "axis"
        and isinstance(call.keywords[0].value, gast.Constant)
        and call.keywords[0].value.value == 0
        and type(call.keywords[0].value.value) is int
    )


def _transposed(e) -> bool:
    return isinstance(e, gast.Attribute) and e.attr == "T" and isinstance(e.value, gast.Name)


def _np_call(e, np_name, attr, nargs) -> bool:
    f = e.func
    return (
        isinstance(f, gast.Attribute)
        and f.attr == attr
        and S.dotted(f.value) == np_name
        and len(e.args) == nargs
    )


def _reads(acc, name) -> bool:
    """Whether the accumulation ``acc`` reads ``name`` in its value."""
    return name in S.names_in(acc.stmt.value)


def _np(np_name, attr, args):
    return S.call(gast.Attribute(value=S.name(np_name), attr=attr, ctx=gast.Load()), args)


def _attr(e, attr):
    return gast.Attribute(value=e, attr=attr, ctx=gast.Load())


def _flat(e):
    """``e.reshape(-1, e.shape[-1])``: a stack of matrices as one matrix."""
    last = gast.Subscript(value=_attr(S.clone(e), "shape"), slice=S.const(-1), ctx=gast.Load())
    return S.call(_attr(e, "reshape"), [S.const(-1), last])


def _tuple(values):
    return gast.Tuple(elts=[S.const(v) for v in values], ctx=gast.Load())


def _drop_unread_again(loop, body) -> None:
    """The rows ``a_1 = xs[t]`` the reversed ``loop`` read again for a product now made
    after it from ``xs`` itself go where nothing reads them any more."""
    for stmt in [s for s in loop.body if get_fact(s, "made_again", False)]:
        name = stmt.targets[0].id
        rest = gast.Module(body=body[body.index(loop) :], type_ignores=[])
        if not any(n.id == name and isinstance(n.ctx, gast.Load) for n in S.name_nodes(rest)):
            loop.body.remove(stmt)
