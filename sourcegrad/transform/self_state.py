"""What a method keeps in its object from call to call, and the helpers that make such a
call on what they are given (part of the lowering of Python's forms; :mod:`.inline_methods`
asks).

A method keeps state where it updates an attribute of ``self`` from its value before the
call (``self.calls += 1``, ``self.h = np.tanh(W @ x + self.h)``). A helper of the user's,
``def apply(layer, h): return layer(h)``, keeps state through what it is given where it
calls such a method on a parameter (``layer(h)``, ``layer.step(h)``) or on a global object
of its module: inlined at the call, the method's call becomes the caller's own, whose state
the caller follows.
"""

from __future__ import annotations

import inspect
import types

import gast

from ..errors import SourcegradError
from . import syntax as S
from .parse import parse

__all__ = ["accumulates", "helper_keeping_state", "keeps_state_between_calls"]
__all__ += ["self_attributes"]


_SCANNED: dict = {}


def self_attributes(method) -> tuple:
    """``(attributes it stores in self, attributes of self it reads)``, a store of a
    constant not counted; ``(None, None)`` where its source is not read."""
    code = method.__code__
    if code in _SCANNED:
        return _SCANNED[code]
    try:
        node = parse(method).node
    except (SourcegradError, OSError, TypeError):
        _SCANNED[code] = (None, None)
        return None, None
    args = node.args.posonlyargs + node.args.args
    me = args[0].id if args else None
    constant = {
        id(t)
        for n in S.walk(node)
        if isinstance(n, gast.Assign) and isinstance(n.value, gast.Constant)
        for t in n.targets
    }
    stores, reads = set(), set()
    for n in S.walk(node):
        if isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and n.value.id == me:
            if isinstance(n.ctx, gast.Store) and id(n) not in constant:
                stores.add(n.attr)
            elif isinstance(n.ctx, gast.Load):
                reads.add(n.attr)
    found = (stores, reads) if me is not None else (None, None)
    _SCANNED[code] = found
    return found


def accumulates(method) -> bool:
    """Whether ``method`` updates an attribute of ``self`` from its value before the call
    (``self.n += v``, ``self.total = self.total + v``, a read before its first store)."""
    node = parse(method).node
    me = node.args.args[0].id if node.args.args else None
    first: dict = {}
    reads = []
    for n in S.walk(node):
        if isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Attribute):
            if getattr(n.target.value, "id", None) == me:
                return True
        if isinstance(n, gast.Attribute) and getattr(n.value, "id", None) == me:
            if isinstance(n.ctx, gast.Store):
                first[n.attr] = min(first.get(n.attr, n.lineno), n.lineno)
            else:
                reads.append((n.attr, n.lineno))
    return any(a in first and line <= first[a] for a, line in reads)


def keeps_state_between_calls(cls) -> bool:
    """Whether a method of ``cls`` (not ``__init__``) updates what ``self`` held before."""
    methods = [m for k, m in vars(cls).items() if k != "__init__"]
    methods = [m for m in methods if isinstance(m, types.FunctionType)]
    return any(self_attributes(m)[0] is not None and accumulates(m) for m in methods)


def helper_keeping_state(function, call, class_of) -> bool:
    """Whether ``function`` (a helper of the user's, given ``call``'s arguments) calls, in
    its own scope, a method keeping state (:func:`accumulates`) on a parameter (its class
    ``class_of(argument node)``, the argument the call gives it) or on a global object of
    its module."""
    try:
        node = parse(function).node
    except (SourcegradError, OSError, TypeError):
        return False
    params = [a.id for a in node.args.posonlyargs + node.args.args]
    given = dict(zip(params, call.args)) | {k.arg: k.value for k in call.keywords if k.arg}
    local = S.bound_names(node)
    for inner in S.own_scope_nodes(node):
        if not isinstance(inner, gast.Call):
            continue
        receiver = inner.func.value if isinstance(inner.func, gast.Attribute) else inner.func
        if not isinstance(receiver, gast.Name):
            continue
        if receiver.id in given and receiver.id not in local - set(params):
            cls = class_of(given[receiver.id])
        elif receiver.id not in local:
            cls = _global_users_class(function, receiver.id)
        else:
            continue
        name = inner.func.attr if isinstance(inner.func, gast.Attribute) else "__call__"
        method = inspect.getattr_static(cls, name, None) if cls is not None else None
        if isinstance(method, types.FunctionType) and self_attributes(method)[0] is not None:
            if accumulates(method):
                return True
    return False


def _global_users_class(function, name: str):
    """The class of the global object ``name`` of ``function``'s module, where it is a class
    of that module (not a function, class or module itself); else None."""
    found = function.__globals__.get(name)
    if found is None or isinstance(found, (type, types.FunctionType, types.ModuleType)):
        return None
    cls = type(found)
    return cls if cls.__module__ == function.__module__ else None
