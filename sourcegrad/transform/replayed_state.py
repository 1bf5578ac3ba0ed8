"""State that objects keep, stored again by the adjoint sweep (part of the reverse pass).

The pure derivative calls the vjp of each of the user's functions it called in its adjoint
sweep, and that vjp runs the function's forward again: a layer's ``self.cache = x`` is stored
once more, in the reverse order of the calls. Where one object may be stored into by two
calls (a layer called twice, or in a loop), it would be left holding what the first call
stored, where Python leaves the last. The derivative then takes what such objects hold at the
end of its forward sweep and gives it back after its adjoint sweep
(:func:`~sourcegrad.runtime.object_state.held_state`); a function calling each stateful
object once gets no such statement (the second store of a value is the same store).

The objects are those a call is given (its receiver included: ``layer.forward(x)``) and the
user's global objects the callee reads, where the callee (or a function or method it calls,
by name) stores into an attribute; a function value whose class is not known (``for layer in
layers: h = layer(h)``) is not followed.
"""

from __future__ import annotations

import inspect
import types
import weakref

import gast

from ..errors import SourcegradError
from ..runtime.object_state import held_state, put_back_state
from . import syntax as S
from .attribute_state import is_users_module, user_classes
from .node_facts import set_fact
from .object_classes import class_of
from .parse import parse
from .rule_binding import local_names

#: a function -> (whether it, or what it calls, stores into an attribute; {global name: the
#: user's object it reads})
_STATE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_DEPTH = 4


def state_statements(analysis, refs, names) -> tuple[list, list, list]:
    """``([obj = None, ...], [held = held_state(objects...)], [put_back_state(held)])``: the
    statements starting the forward sweep (for an object bound on some paths only, so that
    the end of the forward sweep can name it), ending it and ending the adjoint sweep, where
    a call the adjoint sweep runs again may store into an object that another (or the same,
    in a loop) call stores into; else ``([], [], [])``."""
    core = analysis.core
    counts: dict = {}  # key -> [times stored, (variable name, object), callee name]
    # (an array or a number, or a name a loop binds anew, is no object the end can name)
    unnamed = _bound_in_loops(core.node.body) | {
        name for name, rank in analysis.ranks.items() if isinstance(rank, int)
    }
    for stmt, looped in _statements(core.node.body, False):
        for key, named, label in _stored_objects(core, analysis.ops, stmt, unnamed):
            entry = counts.setdefault(key, [0, named, label])
            entry[0] += 2 if looped else 1
    held = [(named, label) for times, named, label in counts.values() if times > 1]
    if not held:
        return [], [], []
    line = core.node.lineno
    name = names.fresh("held")
    # (a global object of a callee's module by the name generated code reaches it)
    objects = [S.name(var if obj is None else refs.ref(obj, var)) for (var, obj), _ in held]
    call = S.call(S.name(refs.helper(held_state)), objects)
    take = _kept(S.assign(name, call, line))
    labels = ", ".join(sorted({f"{label}()" for _, label in held}))
    comment = f"the adjoint sweep calls {labels} again: what the objects hold is put back"
    set_fact(take, "comment", comment)
    put = S.call(S.name(refs.helper(put_back_state)), [S.name(name)])
    always = set(core.params) | {
        n.id for stmt in core.node.body if isinstance(stmt, gast.Assign) for n in stmt.targets
        if isinstance(n, gast.Name)
    }  # fmt: skip
    starts = [
        _kept(S.assign(var, S.const(None), line))
        for (var, obj), _ in held
        if obj is None and var not in always
    ]
    return starts, [take], [_kept(gast.Expr(value=put), line)]


def _kept(stmt, line: int | None = None):
    if line is not None:
        stmt.lineno = line
    set_fact(stmt, "pure", False)
    set_fact(stmt, "keep", True)
    return stmt


def _statements(body: list, looped: bool):
    for stmt in body:
        if isinstance(stmt, (gast.For, gast.While)):
            yield from _statements(stmt.body + stmt.orelse, True)
        elif isinstance(stmt, gast.If):
            yield from _statements(stmt.body + stmt.orelse, looped)
        else:
            yield stmt, looped


def _bound_in_loops(body: list) -> set:
    return {
        n.id
        for stmt in body
        if isinstance(stmt, (gast.For, gast.While))
        for n in S.walk(stmt)
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
    }


def _stored_objects(core, ops: dict, stmt, unnamed: set) -> list:
    """``(key, (variable, global object or None), callee name)`` of each object the call of
    ``stmt`` (a call whose vjp the adjoint sweep runs) may store into, where the end of the
    forward sweep can name it."""
    op = ops.get(id(stmt))
    if op is None or not op.differentiable:
        return []
    if op.user_call:
        fn, args, kwargs = op.user_call
        given = [*args, *kwargs.values()]
    elif op.key == "dynamic":
        fn, given = _dynamic_callee(core, ops, op.bound.get("fn")), list(op.operands)
    else:
        return []
    fn = inspect.unwrap(getattr(fn, "__func__", fn))
    if not isinstance(fn, types.FunctionType) or hasattr(fn, "__sourcegrad_makes__"):
        return []
    stores, objects = _state_of(fn, _DEPTH)
    if not stores:
        return []
    label = fn.__qualname__
    found = []
    for atom in given:
        for n in S.walk(atom):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id not in unnamed:
                outer = None if n.id in local_names(core) else core.parsed.globals.get(n.id)
                if _user_object(outer):  # (one key with a callee's reads of it)
                    found.append((("object", id(outer)), (n.id, outer), label))
                else:
                    found.append((("name", n.id), (n.id, None), label))
    for gname, obj in objects.items():
        found.append((("object", id(obj)), (gname, obj), label))
    return found


def _dynamic_callee(core, ops: dict, func):
    """The function a call of a function value runs, where the value's class is known
    (``layer.forward(x)``, ``layer(x)``); else None."""
    if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name):
        name, method = func.value.id, func.attr
    elif isinstance(func, gast.Name):
        name, method = func.id, "__call__"
    else:
        return None
    cls = class_of(core, ops, name)
    return inspect.getattr_static(cls, method, None) if cls is not None else None


def _state_of(fn: types.FunctionType, depth: int) -> tuple[bool, dict]:
    """``(stores, objects)``: whether ``fn``, or a function or method it calls (by name, up
    to ``depth`` deep), stores into an attribute; the user's global objects they read."""
    found = _STATE.get(fn)
    if found is None:
        found = _STATE[fn] = _scan(fn, depth)
    return found


def _scan(fn: types.FunctionType, depth: int) -> tuple[bool, dict]:
    try:
        node = parse(fn).node
    except (SourcegradError, OSError, TypeError, SyntaxError):
        return False, {}
    local = {n.id for n in S.walk(node) if isinstance(n, gast.Name) and not _loads(n)}
    stores, objects = False, {}
    classes: list = []  # the user's classes fn's module reaches, found at its first method call
    for n in S.walk(node):
        if isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Store):
            stores = True
        elif isinstance(n, gast.Name) and _loads(n) and n.id not in local:
            value = fn.__globals__.get(n.id)
            if _user_object(value):
                objects[n.id] = value
        if depth and isinstance(n, gast.Call):
            for callee in _callees(fn, n.func, local, classes):
                if callee is not fn:
                    more, reached = _state_of(callee, depth - 1)
                    stores = stores or more
                    objects.update(reached)
        stores = stores or (isinstance(n, gast.Call) and S.dotted(n.func) == "setattr")
    return stores, objects


def _loads(n) -> bool:
    return isinstance(n.ctx, gast.Load)


def _user_object(value) -> bool:
    cls = type(value)
    return (
        not isinstance(value, (type, types.ModuleType, types.FunctionType))
        and type(getattr(value, "__dict__", None)) is dict
        and is_users_module(getattr(cls, "__module__", None))
    )


def _callees(fn: types.FunctionType, func, local: set, classes: list) -> list:
    """The user's functions a call of ``func`` in ``fn`` may run: a global function, or the
    methods of that name of the user's classes ``fn``'s module reaches (``classes``, filled
    on the first call of a method)."""
    if isinstance(func, gast.Name) and func.id not in local:
        value = fn.__globals__.get(func.id)
        if isinstance(value, types.FunctionType) and is_users_module(value.__module__):
            return [value]
        return []
    if not isinstance(func, gast.Attribute):
        return []
    if not classes:
        classes.extend(user_classes(fn.__globals__))
    methods = (vars(cls).get(func.attr) for cls in classes)
    return [m for m in methods if isinstance(m, types.FunctionType)]
