"""A hoisted accumulation's operand computed into its stack's row (for :mod:`.hoist`).

Where a step of the reversed loop makes the operand an accumulation reads (``dc = z * dh``,
changed in place up to the accumulation: ``dc_7 = np.multiply(dc, e, out=dc)``, ``dc_6 =
dc_7``), the statement that makes it computes into the stack's row of the step instead of a
new array, so that no step copies it into the row (a hand-written BPTT keeps such arrays in
preallocated ``(T, ...)`` arrays)::

    dc = np.multiply(z, dh, out=dc_6_steps[t])      # was: dc = z * dh ... dc_6_steps[t] = dc_6

An ``unindex_shaped(g, shape, dtype, np.s_[idx])`` of basic indices becomes the row itself,
zeroed, with ``g`` at ``idx``: ``da = da_steps[t]; da[...] = 0; da[:, k:] = dc``.

Guarantees: the row holds, after the step, what a copy of the operand at the accumulation
would hold, or nothing changes: every name bound to the array in the step is read only as
an operand of arithmetic, of a ufunc or of ``np.dot``/``np.matmul`` (never kept, viewed,
passed elsewhere or pushed), written into only between the statement making it and the
accumulation, and mentioned by no statement after the loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gast
import numpy as np

from .. import syntax as S
from ..node_facts import copy_all_facts
from .common import np_call, ufunc_call


@dataclass
class RowContext:
    """What :func:`compute_into_row` needs of the function: NumPy's name, the statements
    after the loop, the names the code calls ``unindex_shaped`` (or None) and the helpers
    whose result holds none of their arguments by, and the statements of the loop that
    leave it (accumulations, read where they were)."""

    np_name: str
    after: list
    unindex_shaped: str | None = None
    copying: frozenset = frozenset()
    moved: list = field(default_factory=list)


#: operators computed by a ufunc into an ``out`` array with the operator's own result
_BINOPS = {gast.Add: np.add, gast.Sub: np.subtract, gast.Mult: np.multiply, gast.Div: np.divide}


def compute_into_row(stmts, name, at, row, context) -> bool:
    """Rewrite the loop body ``stmts`` so that the statement making the array ``name`` holds
    at ``stmts[at]`` computes it into ``row`` (an expression: the stack's row of the step),
    where the module's guarantees hold. ``context``: a :class:`RowContext`. Whether it did."""
    np_name, after = context.np_name, context.after
    found = _origin(stmts, name, at, np_name)
    if found is None:
        return False
    origin, held = found
    made = _into(stmts[origin].value, row, np_name, context.unindex_shaped)
    if made is None:
        return False
    if any(held & S.names_in(s) for s in after):
        return False
    uses = _Uses(held, np_name, context.copying)
    for i, s in enumerate(stmts):
        uses.may_write = origin < i < at
        if i != origin and not any(s is m for m in context.moved) and not uses.allowed(s):
            return False
    if isinstance(made, list):
        _unindexed_row(stmts, origin, row, *made)
    else:
        stmts[origin].value = made
    return True


def _unindexed_row(stmts, origin, row, g, index) -> None:
    """``x = unindex_shaped(g, ...)`` (``stmts[origin]``) as the row itself: zeroed, then
    ``g`` at ``index``; where the next statement mentioning ``x`` adds into the rest of it
    (``x[rest] += v``), that writes ``v`` there and the row is not zeroed."""
    made = stmts[origin]
    target = made.targets[0].id
    new = [S.assign(target, row), _store(target, index, g)]
    later = next((s for s in stmts[origin + 1 :] if target in S.names_in(s)), None)
    rest = _rest_added(later, target, index)
    between = stmts[origin + 1 : stmts.index(later)] if later is not None else []
    if rest is not None and not any(S.names_in(index) & _bound(s) for s in between):
        at = stmts.index(later)
        stmts[at] = _like(_store(target, rest, later.value), later)
    else:
        new.insert(1, _store(target, gast.Constant(value=Ellipsis, kind=None), S.const(0)))
    stmts[origin : origin + 1] = [_like(s, made) for s in new]


def _rest_added(stmt, target, index):
    """The index of ``stmt`` where it is ``target[rest] += v``, ``rest`` and ``index`` cut
    one axis at the same bound (``[:, k:]`` and ``[:, :k]``) and are whole on the others,
    and ``v`` does not read ``target``; else None."""
    if not (
        isinstance(stmt, gast.AugAssign)
        and isinstance(stmt.op, gast.Add)
        and isinstance(stmt.target, gast.Subscript)
        and isinstance(stmt.target.value, gast.Name)
        and stmt.target.value.id == target
        and target not in S.names_in(stmt.value)
    ):
        return None
    rest = stmt.target.slice
    mine = index.elts if isinstance(index, gast.Tuple) else [index]
    theirs = rest.elts if isinstance(rest, gast.Tuple) else [rest]
    if len(mine) != len(theirs) or not all(isinstance(p, gast.Slice) for p in mine + theirs):
        return None
    cut = [(a, b) for a, b in zip(mine, theirs) if not (_whole(a) and _whole(b))]
    if len(cut) != 1 or any(p.step is not None for p in cut[0]):
        return None
    a, b = cut[0]
    if _split(a, b) or _split(b, a):
        return S.clone(rest)
    return None


def _whole(part) -> bool:
    return part.lower is None and part.upper is None and part.step is None


def _split(head, tail) -> bool:
    """Whether ``head`` is ``[:k]`` and ``tail`` is ``[k:]`` for one expression ``k``."""
    if head.lower is not None or tail.upper is not None or head.upper is None:
        return False
    return tail.lower is not None and gast.dump(head.upper) == gast.dump(tail.lower)


def _origin(stmts, name, at, np_name):
    """``(index, names)``: the statement before ``stmts[at]`` making the array ``name`` holds
    there (through plain copies and ufuncs computing into it), and every name bound to that
    array from there to ``at``; None where that is not certain."""
    cur = name
    for i in range(at - 1, -1, -1):
        s = stmts[i]
        if not isinstance(s, (gast.Assign, gast.AugAssign, gast.Expr)):
            return None
        if cur not in _bound(s):
            continue
        if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)):
            return None
        into = _same_array_source(s.value)
        if into is None:
            return i, _held(stmts, i, at, np_name)
        cur = into
    return None


def _same_array_source(value):
    """The name whose array ``value`` evaluates to: a name, or a call's ``out=`` name."""
    if isinstance(value, gast.Name):
        return value.id
    return _out_name(value)


def _out_name(e):
    if isinstance(e, gast.Call):
        for k in e.keywords:
            if k.arg == "out" and isinstance(k.value, gast.Name):
                return k.value.id
    return None


def _held(stmts, origin, at, np_name) -> set:
    """Every name bound to the array ``stmts[origin]`` makes, between it and ``stmts[at]``."""
    current = {stmts[origin].targets[0].id}
    held = set(current)
    for s in stmts[origin + 1 : at]:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            source = _same_array_source(s.value)
            target = s.targets[0].id
            if source in current:
                current.add(target)
                held.add(target)
            else:
                current.discard(target)
        else:
            current -= _bound(s)
    return held


def _bound(stmt) -> set:
    """Names ``stmt`` binds (not those it writes into)."""
    if isinstance(stmt, gast.Assign):
        return {n.id for t in stmt.targets for n in S.walk(t) if _stored_name(n, t)}
    if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
        return {stmt.target.id}
    return set()


def _stored_name(n, target) -> bool:
    return isinstance(n, gast.Name) and not isinstance(target, gast.Subscript)


class _Uses:
    """Whether statements use the arrays of the names ``held`` only as operands: of
    arithmetic, of a ufunc, of ``np.dot``/``np.matmul``, of a helper of ``copying`` (whose
    result holds none of its arguments), or copied into another array; and write into them
    (as a ufunc's ``out``, an augmented or indexed assignment) only where ``may_write``."""

    def __init__(self, held: set, np_name: str, copying=frozenset()):
        self.held, self.np_name, self.copying = held, np_name, copying
        self.may_write = False

    def allowed(self, stmt) -> bool:
        held = self.held
        if not held & S.names_in(stmt):
            return True
        if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1:
            t = stmt.targets[0]
            if isinstance(t, gast.Name):
                if isinstance(stmt.value, gast.Name):  # a name for the array: one of `held`
                    return stmt.value.id not in held or t.id in held
                return self._writes(_out_name(stmt.value)) and self.reads(stmt.value)
            if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                return self._indexed(t) and self.operand(stmt.value)
            return False
        if isinstance(stmt, gast.AugAssign):
            t = stmt.target
            if isinstance(t, gast.Name):
                return self._writes(t.id) and self.operand(stmt.value)
            if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                return self._indexed(t) and self.operand(stmt.value)
        return False

    def _writes(self, name) -> bool:
        """Whether writing into the array of ``name`` (or of nothing: None) is allowed."""
        return self.may_write or name not in self.held

    def _indexed(self, target) -> bool:
        return self.held.isdisjoint(S.names_in(target.slice)) and self._writes(target.value.id)

    def reads(self, e) -> bool:
        """Whether ``e`` reads the names of ``held`` only as operands of what makes a new
        array (or, where writing is allowed, as a ufunc's ``out``)."""
        if isinstance(e, gast.Name):
            return e.id not in self.held
        if isinstance(e, gast.Constant):
            return True
        if isinstance(e, gast.BinOp):
            return self.operand(e.left) and self.operand(e.right)
        if isinstance(e, gast.UnaryOp):
            return self.operand(e.operand)
        if isinstance(e, gast.Call):
            operands = self._operands(e)
            if operands is not None:
                return self._writes(_out_name(e)) and all(self.operand(a) for a in operands)
        return self.held.isdisjoint(S.names_in(e))

    def operand(self, e) -> bool:
        if isinstance(e, gast.Name):
            return True
        if isinstance(e, gast.Attribute) and e.attr == "T" and isinstance(e.value, gast.Name):
            return True
        return self.reads(e)

    def _operands(self, call):
        """The operands of a ufunc call (with at most an ``out=`` name), of ``np.dot(a, b)``
        / ``np.matmul(a, b)`` or of a copying helper; None for other calls."""
        keywords, np_name = call.keywords, self.np_name
        if any(k.arg != "out" or not isinstance(k.value, gast.Name) for k in keywords):
            return None
        if ufunc_call(gast.Call(func=call.func, args=call.args, keywords=[]), np_name):
            return call.args
        if keywords:
            return None
        if np_call(call, np_name, "dot", 2) or np_call(call, np_name, "matmul", 2):
            return call.args
        if isinstance(call.func, gast.Name) and call.func.id in self.copying:
            return call.args
        return None


def _into(value, row, np_name, unindex_shaped):
    """``value`` computed into ``row``: a call, or ``[g, index]`` for an ``unindex_shaped``
    of basic indices; None where it cannot be."""
    if isinstance(value, gast.BinOp) and type(value.op) in _BINOPS:
        ufunc, args = _BINOPS[type(value.op)], [value.left, value.right]
    elif isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.USub):
        ufunc, args = np.negative, [value.operand]
    elif isinstance(value, gast.Call) and ufunc_call(value, np_name) is not None:
        ufunc, args = ufunc_call(value, np_name), list(value.args)
    elif np_call(value, np_name, "dot", 2):
        return S.call(S.clone(value.func), [*value.args, row])
    elif (
        unindex_shaped is not None
        and isinstance(value, gast.Call)
        and isinstance(value.func, gast.Name)
        and value.func.id == unindex_shaped
        and len(value.args) == 4
        and not value.keywords
    ):
        index = _basic_index(value.args[3], np_name)
        return None if index is None else [value.args[0], index]
    else:
        return None
    func = gast.Attribute(value=S.name(np_name), attr=ufunc.__name__, ctx=gast.Load())
    return S.call(func, args, {"out": row})


def _basic_index(e, np_name):
    """The index of ``np.s_[index]`` where it is made of slices and ``...`` only."""
    if not (
        isinstance(e, gast.Subscript)
        and isinstance(e.value, gast.Attribute)
        and e.value.attr == "s_"
        and S.dotted(e.value.value) == np_name
    ):
        return None
    parts = e.slice.elts if isinstance(e.slice, gast.Tuple) else [e.slice]
    ok = all(
        isinstance(p, gast.Slice) or isinstance(p, gast.Constant) and p.value is Ellipsis
        for p in parts
    )
    return S.clone(e.slice) if ok else None


def _store(target, index, value):
    sub = gast.Subscript(value=S.name(target), slice=index, ctx=gast.Store())
    return gast.Assign(targets=[sub], value=value, type_comment=None)


def _like(stmt, model):
    """``stmt`` with the line (and adjoint fact) of ``model``."""
    stmt.lineno = getattr(model, "lineno", None)
    copy_all_facts(model, stmt)
    return stmt
