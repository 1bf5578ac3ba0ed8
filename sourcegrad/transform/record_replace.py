"""``dataclasses.replace(p, W=v)`` and a namedtuple's ``p._replace(W=v)`` lowered to the
construction they stand for (part of normalize, before :mod:`.iterator_calls`):
``Params(W=v, b=p.b)``, every field not given read from ``p``; a namedtuple's ``p._asdict()``
to the dict of its fields, ``{"W": p.W, "b": p.b}``.

Lowered where ``p`` is a name whose class is known when the derivative is built (an
argument, possibly rebound only by such replaces of itself, the variable of a loop over an
argument whose items share a class, or a name bound once to a call of the class), the class
is reachable from the function by its own name (a module-level class), its objects are built
by the ``__init__`` that ``dataclasses`` or ``namedtuple`` writes (every field an ``__init__``
parameter, no ``__post_init__``), and the call passes keywords naming fields. Elsewhere the
call stays, and is refused at its line where a differentiated value flows through it, with
the way out of building the object anew.
"""

from __future__ import annotations

import dataclasses

import gast

from . import syntax as S
from .walk import OwnNodes


def lower_record_replaces(fn: gast.FunctionDef, class_of, module_globals: dict) -> bool:
    """Rewrite ``fn`` in place per the module's rules; ``class_of(name)`` is the class the
    object ``name`` holds where known, else None. Whether it rewrote any call."""
    calls = [c for c in S.nodes_of(fn, (gast.Call,)) if _replaced(c, module_globals) is not None]
    if not calls:
        return False
    known = {}
    for call in calls:
        obj, kind = _replaced(call, module_globals)
        cls = class_of(obj) or _made_then_replaced(fn, obj, module_globals)
        fields = _init_fields(cls)
        given = [k.arg for k in call.keywords]
        if fields is None or module_globals.get(cls.__name__) is not cls:
            continue
        if kind == "_asdict" and not issubclass(cls, tuple):
            continue
        if all(k in fields for k in given) and len(set(given)) == len(given):
            known[id(call)] = (obj, cls, fields, kind)

    def built(node):
        found = known.get(id(node))
        if found is None:
            return node
        obj, cls, fields, kind = found
        if kind == "_asdict":
            reads = [gast.Attribute(S.name(obj), f, gast.Load()) for f in fields]
            return gast.Dict(keys=[S.const(f) for f in fields], values=reads)
        given = {k.arg: k.value for k in node.keywords}
        keywords = {f: given.get(f) or gast.Attribute(S.name(obj), f, gast.Load()) for f in fields}
        return S.call(S.name(cls.__name__), [], keywords)

    if known:
        OwnNodes(fn).rewrite(built)
    return bool(known)


def _replaced(call: gast.Call, module_globals: dict):
    """``(name, "replace" | "_replace" | "_asdict")`` where ``call`` is
    ``dataclasses.replace(name, ...)`` or ``name._replace(...)`` with keywords only, or
    ``name._asdict()``; else None."""
    if call.args and any(k.arg is None for k in call.keywords):
        return None
    func = call.func
    if isinstance(func, gast.Attribute) and func.attr in ("_replace", "_asdict"):
        plain = not call.args and (func.attr == "_replace" or not call.keywords)
        return (func.value.id, func.attr) if plain and isinstance(func.value, gast.Name) else None
    if len(call.args) != 1 or not isinstance(call.args[0], gast.Name):
        return None
    dotted = S.dotted(func)
    target = module_globals.get(dotted.split(".")[0]) if dotted else None
    if dotted == "dataclasses.replace" and target is dataclasses:
        return call.args[0].id, "replace"
    if dotted == "replace" and target is dataclasses.replace:
        return call.args[0].id, "replace"
    return None


def _replacing(call: gast.Call, module_globals: dict) -> str | None:
    """The name whose fields ``call`` replaces (an object of the same class), else None."""
    replaced = _replaced(call, module_globals)
    return replaced[0] if replaced and replaced[1] != "_asdict" else None


def _init_fields(cls) -> tuple | None:
    """The fields ``cls(...)`` takes, in order, where its ``__init__`` is the one
    ``dataclasses`` or ``namedtuple`` writes; None for any other class."""
    if not isinstance(cls, type):
        return None
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return tuple(cls._fields)
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
        return None
    fields = dataclasses.fields(cls)
    if not all(f.init for f in fields):
        return None
    return tuple(f.name for f in fields)


def _made_then_replaced(fn: gast.FunctionDef, name: str, module_globals: dict):
    """The class of ``name`` where it is bound once to a call of a module-level class by its
    name (``q = Params(W, b)``) and otherwise only to replaces of itself; else None."""
    stored = sum(isinstance(n.ctx, gast.Store) and n.id == name for n in S.name_nodes(fn))
    made, replaced = [], 0
    for stmt in S.nodes_of(fn, (gast.Assign,)):
        target, value = stmt.targets[0], stmt.value
        if not (len(stmt.targets) == 1 and isinstance(target, gast.Name) and target.id == name):
            continue
        if isinstance(value, gast.Call) and _replacing(value, module_globals) == name:
            replaced += 1
        elif isinstance(value, gast.Call) and isinstance(value.func, gast.Name):
            made.append(module_globals.get(value.func.id))
    if len(made) == 1 and isinstance(made[0], type) and stored == replaced + 1:
        return made[0]
    return None


def replaced_names(fn: gast.FunctionDef, module_globals: dict) -> set:
    """Names every binding of which replaces fields of the name itself
    (``p = dataclasses.replace(p, W=v)``): they keep the class of what they held."""
    replacing: dict = {}
    for stmt in S.nodes_of(fn, (gast.Assign,)):
        target, value = stmt.targets[0], stmt.value
        if (
            len(stmt.targets) == 1
            and isinstance(target, gast.Name)
            and isinstance(value, gast.Call)
        ):
            if _replacing(value, module_globals) == target.id:
                replacing[target.id] = replacing.get(target.id, 0) + 1
    if not replacing:
        return set()
    stored: dict = {}
    for n in S.name_nodes(fn):
        if isinstance(n.ctx, gast.Store):
            stored[n.id] = stored.get(n.id, 0) + 1
    return {name for name, count in replacing.items() if stored.get(name) == count}
