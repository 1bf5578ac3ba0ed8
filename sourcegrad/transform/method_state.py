"""Methods called for their effect that keep a differentiated value in ``self`` (part of the
analysis pass).

``c.add(v)`` as a statement, where ``add`` does ``self.n += v``: the call's result is dropped,
so the derivative does not differentiate it; Python keeps ``v`` in ``c.n``, and a later read
of ``c.n`` would be a constant to the derivative (a silent zero gradient). Such a call is
refused where a differentiated value is passed and the caller reads the object after it.
The object's class is known from the argument it was passed as, or from the call that made it
(``c = Counter()``).
"""

from __future__ import annotations

import inspect
import os
import types

import gast

from ..errors import SourcegradError, UnsupportedSyntaxError
from . import syntax as S
from .calls import example_value
from .cfg import solve_backward
from .mutations import _liveness
from .parse import UNRESOLVED, parse
from .walk import walk_statements


def refuse_method_state(core, ops: dict, varied: dict, cfg) -> None:
    """Refuse a statement ``obj.method(...)`` given a differentiated value, where ``method``
    stores into an attribute of ``self`` and ``obj`` is read after the call."""
    if core.parsed.filename.startswith("<sourcegrad"):
        return
    live: list = []
    for stmt in walk_statements(core.node.body):
        call = stmt.value if isinstance(stmt, gast.Expr) else None
        if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute)):
            continue
        receiver = call.func.value
        if not isinstance(receiver, gast.Name):
            continue
        operands = [*call.args, *(k.value for k in call.keywords)]
        before = varied.get(("in", id(stmt)), set())
        if not any(S.names_in(a) & before for a in operands):
            continue
        stored = _self_store(_class_of(core, ops, receiver.id), call.func.attr)
        if stored is None:
            continue
        if not live:
            live.append(solve_backward(cfg, set(), _liveness))
        if receiver.id in live[0].get(id(stmt), ()):
            attr, where = stored
            method = call.func.attr
            raise UnsupportedSyntaxError(
                f"`{core.parsed.line_text(stmt.lineno)}` is called for its effect: {method}() "
                f"keeps a differentiated value in `self.{attr}` ({where}), which is read after "
                "the call; sourcegrad follows values, not the state an object keeps: keep the "
                f"value in a local variable of the loss (`{attr} = {attr} + v`), or make "
                f"{method}() return it and use what it returns",
                core.parsed.filename,
                stmt.lineno,
            )


def _class_of(core, ops: dict, name: str):
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


def _self_store(cls, method: str):
    """``(attribute, "file:line")`` of the first store into ``self.<attribute>`` (``=``, ``+=``, an
    item of it) in the method ``method`` of ``cls``; None where it has none or no source."""
    if cls is None:
        return None
    fn = inspect.getattr_static(cls, method, None)
    if not isinstance(fn, types.FunctionType):
        return None
    try:
        parsed = parse(fn)
    except SourcegradError:
        return None
    node = parsed.node
    args = node.args.posonlyargs + node.args.args
    if not args:
        return None
    this = args[0].id
    for n in S.walk(node):
        target = n.target if isinstance(n, gast.AugAssign) else None
        targets = n.targets if isinstance(n, gast.Assign) else [target] if target else []
        for t in targets:
            while isinstance(t, gast.Subscript):
                t = t.value
            if isinstance(t, gast.Attribute) and isinstance(t.value, gast.Name):
                if t.value.id == this:
                    return t.attr, f"{os.path.basename(parsed.filename)}:{n.lineno}"
    return None
