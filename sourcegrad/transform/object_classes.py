"""The class of an object a function holds, and what a method of it stores into ``self``
(read by the analysis pass's checks of methods called for their effect)."""

from __future__ import annotations

import inspect
import os
import types

import gast

from ..errors import SourcegradError
from . import syntax as S
from .calls import example_value
from .in_place import MUTATORS
from .parse import UNRESOLVED, parse
from .walk import walk_statements


def class_of(core, ops: dict, name: str):
    """The class of the object ``name`` holds: an argument's, or the class whose call made it
    in the function; None where not known."""
    example = example_value(core, name)
    if example is not UNRESOLVED and _user_class(type(example)):
        return type(example)
    for stmt in walk_statements(core.node.body):
        if isinstance(stmt, gast.Assign) and [S.text(t) for t in stmt.targets] == [name]:
            op = ops.get(id(stmt))
            key = getattr(op, "key", None)
            key = getattr(key, "__sourcegrad_makes__", (key,))[0]  # a plain class's maker
            if isinstance(key, type) and _user_class(key):
                return key
    return None


def _user_class(cls) -> bool:
    return isinstance(cls, type) and cls.__module__.split(".")[0] not in _LIBRARIES


_LIBRARIES = {"builtins", "numpy", "sourcegrad", "scipy", "cupy", "collections", "types"}


def method_node(cls, method: str):
    """``(parsed, def node)`` of the method ``method`` of ``cls``, where it is a plain function
    whose source sourcegrad reads; else None."""
    fn = inspect.getattr_static(cls, method, None) if cls is not None else None
    if not isinstance(fn, types.FunctionType):
        return None
    try:
        parsed = parse(fn)
    except SourcegradError:
        return None
    return parsed, parsed.node


def self_store(found) -> tuple | None:
    """``(attribute, "file:line")`` of the first change the method ``found`` (from
    :func:`method_node`) makes to ``self``: a store into ``self.<attribute>`` (``=``, ``+=``,
    an item of it), a list's or dict's method changing it in place, or a call of another
    method of ``self`` (which may store: its attribute shown as ``...``); None where none."""
    parsed, node = found
    args = node.args.posonlyargs + node.args.args
    if not args:
        return None
    this = args[0].id
    for n in S.walk(node):
        target = n.target if isinstance(n, gast.AugAssign) else None
        targets = n.targets if isinstance(n, gast.Assign) else [target] if target else []
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute):
            owner = n.func.value
            if isinstance(owner, gast.Name) and owner.id == this:
                return "...", f"{os.path.basename(parsed.filename)}:{n.lineno}"
            if n.func.attr in MUTATORS:
                targets = [owner]
        for t in targets:
            while isinstance(t, gast.Subscript):
                t = t.value
            if isinstance(t, gast.Attribute) and isinstance(t.value, gast.Name):
                if t.value.id == this:
                    return t.attr, f"{os.path.basename(parsed.filename)}:{n.lineno}"
    return None
