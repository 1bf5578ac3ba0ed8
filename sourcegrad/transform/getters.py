"""``operator.itemgetter`` and ``operator.attrgetter`` calls lowered to the reads they make
(part of normalize, before :mod:`.iterator_calls`):

* ``operator.itemgetter("W")(p)`` -> ``p["W"]``; ``itemgetter("W", "b")(p)`` -> ``(p["W"],
  p["b"])`` (``p`` a name or attribute chain, read once per key);
* ``operator.attrgetter("w")(layer)`` -> ``layer.w``; ``attrgetter("enc.w")`` ->
  ``layer.enc.w``;
* a name bound once to such a getter (``get_w = operator.itemgetter(0)``, also ``get_w, get_b
  = itemgetter(0), itemgetter(1)``), called with one argument (``get_w(layer)``) -> the read
  at the call.

The keys and attribute names must be constants. A getter handed on (``sorted(xs,
key=itemgetter(1))``) or bound more than once stays as it is (refused at its call where a
differentiated value flows through it, with the way out of indexing at the call).
"""

from __future__ import annotations

import operator

import gast

from . import syntax as S
from .walk import OwnNodes


def lower_getters(fn: gast.FunctionDef, resolve) -> None:
    """Rewrite ``fn`` in place per the module's rules; ``resolve(expr)`` is the live object a
    name or attribute chain of the function's globals refers to (or anything else)."""
    made = [c for c in S.nodes_of(fn, (gast.Call,)) if _getter(c, resolve)]
    if not made:
        return
    stores: dict = {}
    for n in S.name_nodes(fn):
        if not isinstance(n.ctx, gast.Load):
            stores[n.id] = stores.get(n.id, 0) + 1
    named = {
        target.id: value
        for s in S.nodes_of(fn, (gast.Assign,))
        if len(s.targets) == 1
        for target, value in _pairs(s.targets[0], s.value)
        if stores.get(target.id) == 1 and _getter(value, resolve)
    }

    def lowered(node):
        if not (
            isinstance(node, gast.Call)
            and len(node.args) == 1
            and not node.keywords
            and not isinstance(node.args[0], gast.Starred)
        ):
            return node
        getter = node.func if _getter(node.func, resolve) else None
        if getter is None and isinstance(node.func, gast.Name):
            getter = named.get(node.func.id)
        if getter is None:
            return node
        kind = _getter(getter, resolve)
        reads = [_read(kind, S.clone(node.args[0]), key.value) for key in getter.args]
        if len(reads) == 1:
            return reads[0]
        if S.dotted(node.args[0]) is None:
            return node  # (an expression read once per key would be evaluated again)
        return gast.Tuple(elts=reads, ctx=gast.Load())

    OwnNodes(fn).rewrite(lowered)


def _pairs(target, value) -> list:
    """``(name, value)`` of an assignment to a name (``g = v``) or of a tuple of values to a
    tuple of names (``g, h = v, w``)."""
    if isinstance(target, gast.Name):
        return [(target, value)]
    if isinstance(target, gast.Tuple) and isinstance(value, gast.Tuple):
        if len(target.elts) == len(value.elts):
            return [(t, v) for t, v in zip(target.elts, value.elts) if isinstance(t, gast.Name)]
    return []


def _getter(call, resolve) -> str | None:
    """ "item" or "attr" where ``call`` makes an ``itemgetter``/``attrgetter`` of constant
    keys, else None."""
    if not (isinstance(call, gast.Call) and call.args and not call.keywords):
        return None
    if not all(isinstance(a, gast.Constant) for a in call.args):
        return None
    try:
        made = resolve(call.func)
    except TypeError:  # an unhashable object
        return None
    if made is operator.attrgetter and all(type(a.value) is str for a in call.args):
        return "attr"
    return "item" if made is operator.itemgetter else None


def _read(kind: str, value, key):
    if kind == "attr":
        for part in key.split("."):
            value = gast.Attribute(value=value, attr=part, ctx=gast.Load())
        return value
    return gast.Subscript(value=value, slice=S.const(key), ctx=gast.Load())
