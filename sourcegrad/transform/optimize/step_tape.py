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
the same values; ``c = None`` goes where nothing else reads ``c`` (and where the next
statement to mention ``c`` binds it anew: a value hoisted out of its loop). Loops are taken
where the forward loop and its reversed loop are statements of one block; anything else is
left as it is.
"""

from __future__ import annotations

import gast

from ...runtime.helpers import shape_of
from ...runtime.tangent_helpers import tangent_item, zero_tangent
from .. import syntax as S
from ..forms import Derivative
from ..node_facts import get_fact
from .common import names_reaching

_LOOPS = (gast.For, gast.While)


def tape_at_step_end(node: gast.FunctionDef, der: Derivative) -> None:
    """Move, in place, the tape entries of the values each step of a loop makes afresh to the
    end of the step, and their pops to the top of the reversed step (see the module)."""
    shapes = names_reaching(der.refs, [shape_of])
    pairs = {
        pair: (push, pop)
        for pair, (push, pop) in _tape_pairs(node).items()
        if _pushed_name(push, shapes) is not None
        and _pushed_name(push, shapes) == _popped_name(pop, push)
    }
    for body in S.blocks(node.body) if pairs else ():
        loops = [s for s in body if isinstance(s, _LOOPS)]
        for forward in loops:
            for reverse in loops:
                if reverse is not forward:
                    _move(node, body, forward, reverse, pairs)
    _drop_overwritten(node.body)


def _drop_overwritten(block: list) -> None:
    """Remove ``x = None`` where the statements after it mention ``x`` first in ``x = ...``
    not reading it (a value hoisted out of the loop its placeholder was made for)."""
    for stmt in [s for s in block if isinstance(s, gast.Assign) and S.is_none(s.value)]:
        if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], gast.Name):
            continue
        x = stmt.targets[0].id
        for later in block[block.index(stmt) + 1 :]:
            if x not in S.names_in(later):
                continue
            if isinstance(later, gast.Assign) and _single_target(later, x):
                if x not in S.names_in(later.value):
                    block.remove(stmt)
            break


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
    for _, pop in moved:
        _drop_placeholder(node, block, forward, reverse, pop.targets[0].id)


def _in_body(stmt, loop) -> bool:
    return any(s is stmt for s in loop.body)


def _pushed_name(push, shapes: set = frozenset()) -> str | None:
    """``x`` of ``tape.append(x)`` or ``tape.append(shape_of(x))`` (``shapes``: the names of
    ``shape_of``), else None."""
    call = push.value
    arg = call.args[0] if isinstance(call, gast.Call) and len(call.args) == 1 else None
    if isinstance(arg, gast.Call) and len(arg.args) == 1 and not arg.keywords:
        arg = arg.args[0] if getattr(arg.func, "id", None) in shapes else None
    return arg.id if isinstance(arg, gast.Name) else None


def _popped_name(pop, push) -> str | None:
    """``x`` of ``x = tape.pop()``, the tape ``push`` appends to, else None."""
    value, tape = pop.value, push.value.func
    if not (
        len(pop.targets) == 1
        and isinstance(pop.targets[0], gast.Name)
        and isinstance(value, gast.Call)
        and isinstance(value.func, gast.Attribute)
        and value.func.attr == "pop"
        and not value.args
        and isinstance(tape, gast.Attribute)
        and isinstance(tape.value, gast.Name)
        and isinstance(value.func.value, gast.Name)
        and value.func.value.id == tape.value.id
    ):
        return None
    return pop.targets[0].id


def _movable(node, block, forward, reverse, push, pop) -> bool:
    """Whether ``x`` (pushed by ``push``) is assigned once in ``forward``'s body, at its top
    level, after the push, and read there only after; bound elsewhere only by ``pop`` and
    ``x = None`` in ``block``; and read elsewhere only in ``reverse`` before ``pop`` or
    between the loops."""
    x = pop.targets[0].id
    if x in S.names_in(getattr(forward, "test", None) or forward.iter):
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
    """``stmt`` (an assignment) is ``x = ...``."""
    target = stmt.targets[0]
    return len(stmt.targets) == 1 and isinstance(target, gast.Name) and target.id == x


def _is_placeholder(stmt, x: str) -> bool:
    """``x = None``."""
    return isinstance(stmt, gast.Assign) and _single_target(stmt, x) and S.is_none(stmt.value)


def _drop_placeholder(node, block, forward, reverse, x: str) -> None:
    """Remove ``x = None`` from ``block`` where every read of ``x`` is in the loops' bodies
    (the forward step binds it before reading it, the reversed step pops it first)."""
    inside = {id(n) for loop in (forward, reverse) for s in loop.body for n in S.walk(s)}
    reads = [n for n in S.name_nodes(node) if n.id == x and isinstance(n.ctx, gast.Load)]
    if all(id(n) in inside for n in reads):
        block[:] = [s for s in block if not _is_placeholder(s, x)]


# ------------------------------------------------------------- entries nothing pops to read


def unread_entries(node: gast.FunctionDef, der: Derivative) -> None:
    """Remove, in place, each entry of a list used only as a stack (``ts.append(v)``,
    ``ts.pop()``, ``x = ts[-1]`` before a pop) whose pop reads nothing: its push and its pop.
    A derivative of a derivative keeps the tangent of each tape entry on a tangent tape,
    ``ttape.append(zero_tangent(tape_1))`` for an entry kept only for its shape (None), which
    the reversed loop takes off unread (``ttape.pop()``). Pushes and pops are paired by
    running the function's top-level statements as a stack (a loop of pushes against a loop
    of as many pops); anything else leaves the list as it is."""
    zeros = names_reaching(der.refs, [zero_tangent])
    stacks = _stacks(node, zeros)
    if not stacks:
        return
    helpers = names_reaching(der.refs, [zero_tangent, tangent_item, shape_of])
    for name in stacks:
        events = _events(node.body, name, zeros)
        if events is None:
            continue
        pairs = _paired(events)
        if pairs is None:
            continue
        for push, pop, read in pairs:
            if read is None and _pure_push(push, helpers):
                for block in S.blocks(node.body):
                    block[:] = [s for s in block if s is not push and s is not pop]


def _stacks(node, zeros: set) -> list:
    """The names bound, at the top level, to the zero tangent of a list (``ttape =
    zero_tangent(tape)``)."""
    out = []
    for stmt in node.body:
        if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1):
            continue
        target, v = stmt.targets[0], stmt.value
        if isinstance(target, gast.Name) and isinstance(v, gast.Call):
            if getattr(v.func, "id", None) in zeros and len(v.args) == 1:
                out.append(target.id)
    return out


def _op(stmt, name: str):
    """``("push", stmt)``, ``("pop", stmt)`` or ``("read", stmt)`` of the stack ``name``,
    None for a statement that does not mention it, ``"other"`` for any other use."""
    if name not in S.names_in(stmt):
        return None
    if isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call):
        call = stmt.value
        func = call.func
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name):
            if func.value.id == name and not call.keywords:
                if func.attr == "append" and len(call.args) == 1:
                    if name not in S.names_in(call.args[0]):
                        return "push"
                if func.attr == "pop" and not call.args:
                    return "pop"
    if (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
        and stmt.targets[0].id != name
        and isinstance(stmt.value, gast.Subscript)
        and isinstance(stmt.value.value, gast.Name)
        and stmt.value.value.id == name
        and _minus_one(stmt.value.slice)
    ):
        return "read"
    return "other"


def _minus_one(e) -> bool:
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
        e = e.operand
        return isinstance(e, gast.Constant) and type(e.value) is int and e.value == 1
    return isinstance(e, gast.Constant) and type(e.value) is int and e.value == -1


def _events(body: list, name: str, zeros: set):
    """The stack's operations in ``body``'s top level, a loop's as one ``("loop", kind,
    [(op, stmt)])`` of pushes alone or of pops (and reads) alone at its body's top level;
    None where the list is used any other way (but for its binding, and its zero tangent
    taken before the first push, of the empty list)."""
    events = []
    for stmt in body:
        if isinstance(stmt, _LOOPS):
            if name in S.names_in(getattr(stmt, "test", None) or stmt.iter):
                return None
            inner = []
            for s in stmt.body:
                op = _op(s, name)
                if op == "other" or op is None and name in S.names_in(s):
                    return None
                if op is not None:
                    inner.append((op, s))
            kinds = {op for op, _ in inner} - {"read"}
            if len(kinds) > 1:
                return None
            if inner:
                events.append(("loop", kinds.pop() if kinds else "read", inner))
            continue
        op = _op(stmt, name)
        if op == "other" and not (_binds(stmt, name) or not events and _zero_of(stmt, name, zeros)):
            return None
        if op in ("push", "pop", "read"):
            events.append((op, stmt))
    return events


def _zero_of(stmt, name: str, zeros: set) -> bool:
    """``t = zero_tangent(name)``."""
    v = getattr(stmt, "value", None)
    return (
        isinstance(stmt, gast.Assign)
        and isinstance(v, gast.Call)
        and getattr(v.func, "id", None) in zeros
        and len(v.args) == 1
        and isinstance(v.args[0], gast.Name)
        and v.args[0].id == name
    )


def _binds(stmt, name: str) -> bool:
    """``name = ...`` of a value that does not read ``name``."""
    return (
        isinstance(stmt, gast.Assign)
        and _single_target(stmt, name)
        and name not in S.names_in(stmt.value)
    )


def _paired(events: list):
    """``[(push, pop, read or None)]`` of ``events`` run as a stack, or None where they do
    not pair up (a loop of pops against anything but a loop of as many pushes)."""
    stack: list = []  # a push statement, or ("loop", [push statements])
    out = []
    read = None
    for event in events:
        if event[0] == "push":
            if read is not None:
                return None
            stack.append(event[1])
        elif event[0] == "read":
            read = event[1]
        elif event[0] == "pop":
            if not stack or isinstance(stack[-1], tuple):
                return None
            out.append((stack.pop(), event[1], read))
            read = None
        else:
            _, kind, ops = event
            if kind == "push":
                if read is not None or any(op == "read" for op, _ in ops):
                    return None
                stack.append(("loop", [s for _, s in ops]))
                continue
            pops = _pops_with_reads(ops)
            if pops is None or read is not None or not stack:
                return None
            top = stack.pop()
            if not isinstance(top, tuple) or len(top[1]) != len(pops):
                return None
            out += [(push, pop, r) for push, (pop, r) in zip(reversed(top[1]), pops)]
    return out if not stack and read is None else None


def _pops_with_reads(ops: list):
    """``[(pop, read or None)]`` of a loop's pops, each with the read just before it."""
    out, read = [], None
    for op, s in ops:
        if op == "read":
            if read is not None:
                return None
            read = s
        else:
            out.append((s, read))
            read = None
    return out if read is None else None


def _pure_push(push, helpers: set) -> bool:
    """Whether the pushed value is a name or a call of a runtime helper on names (nothing
    that may raise or change anything where it is removed)."""
    value = push.value.args[0]
    if isinstance(value, gast.Name):
        return True
    return (
        isinstance(value, gast.Call)
        and getattr(value.func, "id", None) in helpers
        and not value.keywords
        and all(isinstance(a, gast.Name) for a in value.args)
    )
