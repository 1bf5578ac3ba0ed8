"""Indexing and iteration of an object of the user's own container class (a list of layers
with ``__getitem__``, ``__iter__`` and ``__len__``) lowered to calls of its methods (part of
normalize, before :mod:`.iterator_calls`):

* ``layers[i]`` -> ``LayerList.__getitem__(layers, i)`` (``layers[1:]`` passes ``slice(1,
  None, None)``, as Python does);
* ``for layer in layers`` (a loop or a comprehension; also over ``LayerList(...)`` made
  there) -> ``for layer in layers._layers``
  where ``__iter__`` is ``return iter(self._layers)``, else ``for layer in
  LayerList.__iter__(layers)`` where ``__iter__`` is a generator function (then listed as
  every generator a function calls);
* ``W, b = layer`` (unpacking) -> ``W, b = layer._items`` or ``W, b = Layer.__iter__(layer)``
  likewise.

Lowered where the object's class is known when the derivative is built (an argument, or a
name bound once to a call of the class), the class is reachable by its own name from the
function, and the method is a plain function of the user's. Elsewhere the read stays, and is
refused where a differentiated value flows through it.
"""

from __future__ import annotations

import inspect
import types

import gast

from ..errors import SourcegradError
from . import syntax as S
from .parse import is_installed, parse
from .walk import OwnNodes


def lower_container_protocol(fn: gast.FunctionDef, class_of, module_globals: dict) -> bool:
    """Rewrite ``fn`` in place per the module's rules; ``class_of(name)`` is the class the
    object ``name`` holds where known, else None. Whether it rewrote anything."""
    nodes = S.nodes_of(fn, (gast.Subscript, gast.For, gast.comprehension, gast.Assign))
    if not nodes:
        return False

    def own(name, method):
        cls = class_of(name)
        if cls is None or module_globals.get(cls.__name__) is not cls:
            return None, None
        fn_ = inspect.getattr_static(cls, method, None)
        if isinstance(fn_, types.FunctionType) and not is_installed(fn_):
            return cls, fn_
        return None, None

    read = {}  # id of `layers[i]` -> the class whose __getitem__ it calls
    iterated = False
    for node in nodes:
        if isinstance(node, gast.Subscript):
            if isinstance(node.ctx, gast.Load) and isinstance(node.value, gast.Name):
                cls, _ = own(node.value.id, "__getitem__")
                if cls is not None:
                    read[id(node)] = cls
        elif isinstance(node, gast.Assign):
            iterated |= _unpack(node, own)
        elif isinstance(node.iter, gast.Name):
            iterated |= _iterate(node, *own(node.iter.id, "__iter__"))
        elif isinstance(node.iter, gast.Call) and isinstance(node.iter.func, gast.Name):
            # `for W, b in Pairs(Ws, bs)`: an object made to be iterated
            cls = module_globals.get(node.iter.func.id)
            method = (
                inspect.getattr_static(cls, "__iter__", None) if isinstance(cls, type) else None
            )
            if isinstance(method, types.FunctionType) and not is_installed(method):
                iterated |= _iterate(node, cls, method)

    def called(node):
        cls = read.get(id(node))
        if cls is None:
            return node
        method = gast.Attribute(S.name(cls.__name__), "__getitem__", gast.Load())
        return S.call(method, [S.name(node.value.id), _index(node.slice)])

    if read:
        OwnNodes(fn).rewrite(called)
    return bool(read) or iterated


def _iterate(loop, cls, method) -> bool:
    """Make ``loop`` (a ``for`` or a comprehension's generator) run over what ``cls``'s
    ``__iter__`` iterates, where :func:`_iterated` knows it; whether it did."""
    if cls is None:
        return False
    over = _iterated(loop.iter, cls, method)
    if over is not None:
        loop.iter = over
    return over is not None


def _unpack(stmt: gast.Assign, own) -> bool:
    """Make ``a, b = obj`` unpack what ``obj``'s own ``__iter__`` iterates (as
    :func:`_iterate`); whether it did."""
    target = stmt.targets[0]
    if len(stmt.targets) != 1 or not isinstance(target, (gast.Tuple, gast.List)):
        return False
    if not isinstance(stmt.value, gast.Name):
        return False
    cls, method = own(stmt.value.id, "__iter__")
    over = _iterated(stmt.value, cls, method) if cls is not None else None
    if over is not None:
        stmt.value = over
    return over is not None


def _index(e):
    """The value Python passes to ``__getitem__`` for the subscript ``e``."""
    if isinstance(e, gast.Slice):
        parts = [e.lower, e.upper, e.step]
        return S.call(S.name("slice"), [p if p is not None else S.const(None) for p in parts])
    if isinstance(e, gast.Tuple):
        return gast.Tuple([_index(v) for v in e.elts], gast.Load())
    return e


def _iterated(obj, cls, method):
    """What ``for v in obj`` runs over: ``obj.attr`` where ``__iter__`` is ``return
    iter(self.attr)``, ``Cls.__iter__(obj)`` where it is a generator function; else None."""
    if inspect.isgeneratorfunction(method):
        func = gast.Attribute(S.name(cls.__name__), "__iter__", gast.Load())
        return S.call(func, [obj])
    try:
        node = parse(method).node
    except SourcegradError:  # no source: left as it is
        return None
    body = [s for s in node.body if not isinstance(s, gast.Expr)]  # (a docstring)
    self_name = node.args.args[0].id if node.args.args else None
    if len(body) != 1 or not isinstance(body[0], gast.Return):
        return None
    value = body[0].value
    if not (
        isinstance(value, gast.Call)
        and S.dotted(value.func) == "iter"
        and len(value.args) == 1
        and isinstance(value.args[0], gast.Attribute)
        and isinstance(value.args[0].value, gast.Name)
        and value.args[0].value.id == self_name
    ):
        return None
    return gast.Attribute(obj, value.args[0].attr, gast.Load())
