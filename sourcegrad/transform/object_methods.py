"""The methods of a dataclass of the user's that :mod:`.held_objects` reads through: one
writing into its fields alone (``self.hs.append(u)``, ``self.v *= s``), put in place of its
call, and one reading its fields into a new value alone (``return np.sum(self.v)``)."""

from __future__ import annotations

import dataclasses
import inspect
import types

import gast

from ..errors import SourcegradError
from . import syntax as S
from .new_value_reads import is_new
from .parse import parse

__all__ = ["field_names", "inlined_call", "reads_only"]


def field_names(cls) -> list | None:
    """The fields of ``cls`` in the order its generated ``__init__`` takes them, where it is
    a dataclass of the user's made by that ``__init__`` alone (not frozen, no
    ``__post_init__``); else None."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        return None
    params = cls.__dataclass_params__
    if params.frozen or not params.init or hasattr(cls, "__post_init__"):
        return None
    if any(_own_method(c, "__init__") or _own_method(c, "__new__") for c in cls.__mro__[:-1]):
        return None  # (an `__init__` of the user's, which the dataclass keeps)
    fields = dataclasses.fields(cls)
    if not all(f.init for f in fields):
        return None
    return [f.name for f in fields]


def _own_method(cls, name: str) -> bool:
    """Whether ``cls`` itself defines ``name`` in a file (not the dataclass's, made from a
    string)."""
    code = getattr(cls.__dict__.get(name), "__code__", None)
    return code is not None and not code.co_filename.startswith("<")


def _method_node(cls, name: str):
    """The parsed ``def`` of the plain method ``name`` of ``cls``; else None."""
    method = inspect.getattr_static(cls, name, None)
    if not isinstance(method, types.FunctionType):
        return None
    try:
        node = parse(method).node
    except SourcegradError:
        return None
    args = node.args
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs or not args.args:
        return None
    return node


def inlined_call(cls, call, fields: list, fresh, module: dict):
    """The statements of ``call`` (``R.m(args)``) with ``self`` read as ``R`` and each
    parameter as its argument (a name or a constant; another bound first to ``fresh(the
    parameter)``, a new name), where ``m``, of the module whose globals are ``module``,
    writes into its fields alone: ``self.F.append(u)`` and ``self.F op= u``, ``u`` reading
    its parameters alone; else None."""
    method = inspect.getattr_static(cls, call.func.attr, None)
    if getattr(method, "__globals__", None) is not module:
        return None  # (its globals are another module's)
    node = _method_node(cls, call.func.attr)
    if node is None or call.keywords or any(isinstance(a, gast.Starred) for a in call.args):
        return None
    params = [a.id for a in node.args.args]
    defaults = node.args.defaults
    given = list(call.args)
    missing = len(params) - 1 - len(given)
    if missing < 0 or missing > len(defaults):
        return None
    given += defaults[len(defaults) - missing :] if missing else []
    if not all(isinstance(a, gast.Constant) for a in given[len(call.args) :]):
        return None
    body = node.body
    if body and isinstance(body[0], gast.Expr) and isinstance(body[0].value, gast.Constant):
        body = body[1:]  # (its docstring)
    if not body or not all(_field_write(s, params[0], fields) for s in body):
        return None
    out = []
    for i, (param, arg) in enumerate(zip(params[1:], given)):
        if not isinstance(arg, (gast.Name, gast.Constant)):  # (evaluated once, in order)
            held = fresh(param)
            out.append(gast.copy_location(S.assign(held, arg, call.lineno), call))
            given[i] = S.name(held)
    mapping = {params[0]: call.func.value, **dict(zip(params[1:], given))}
    for stmt in body:
        stmt = S.rename(S.clone(stmt), mapping)
        for n in S.walk(stmt):
            if hasattr(n, "lineno"):
                n.lineno = n.end_lineno = call.lineno
        out.append(stmt)
    return out


def _field_write(stmt, self_name: str, fields: list) -> bool:
    """Whether ``stmt`` is ``self.F.append(u)`` or ``self.F op= u``, ``u`` not reading
    ``self``."""
    if isinstance(stmt, gast.AugAssign):
        target, value = stmt.target, stmt.value
    elif isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call):
        call = stmt.value
        func = call.func
        if not (isinstance(func, gast.Attribute) and func.attr == "append"):
            return False
        if len(call.args) != 1 or call.keywords:
            return False
        target, value = func.value, call.args[0]
    else:
        return False
    return (
        isinstance(target, gast.Attribute)
        and getattr(target.value, "id", None) == self_name
        and target.attr in fields
        and self_name not in S.names_in(value)
        and not any(isinstance(n, (gast.NamedExpr, gast.Lambda)) for n in S.walk(value))
    )


def reads_only(cls, name: str) -> bool:
    """Whether the method ``name`` of ``cls`` takes ``self`` alone and returns a new value
    made of its fields, storing nothing and calling nothing for its effect: its call keeps
    no reference to the object or what it holds."""
    node = _method_node(cls, name)
    if node is None or len(node.args.args) != 1:
        return False
    body = node.body
    if body and isinstance(body[0], gast.Expr) and isinstance(body[0].value, gast.Constant):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], gast.Return) or body[0].value is None:
        return False
    value = body[0].value
    bad = (gast.NamedExpr, gast.Lambda, gast.Yield, gast.YieldFrom, gast.Await)
    if not is_new(value) or any(isinstance(n, bad) for n in S.walk(value)):
        return False
    for call in S.nodes_of(value, (gast.Call,)):
        dotted = S.dotted(call.func) or ""
        if dotted.split(".")[0] not in ("np", "numpy", "sum", "len", "float", "abs"):
            return False
        if any(k.arg in ("out", None) for k in call.keywords):
            return False
    return True
