"""Property reads as calls of their getters (part of normalize, through
:mod:`.iterator_calls`): ``p.attr`` where ``attr`` is a ``property`` or a
``functools.cached_property`` of the class of ``p`` (an argument, the items of an argument a
loop runs over, or an object built in the function) -> ``type(p).attr.fget(p)`` (``.func`` of
a cached property): a field of that name does not exist, so an adjoint for it would reach
nothing. A cached property's getter runs on each read (the same value: the getter of the
object's own fields), and its cache is not filled.
"""

from __future__ import annotations

import functools

import gast

from . import syntax as S
from .walk import OwnNodes

#: the descriptor classes whose reads call a getter, and the attribute holding it
GETTERS = {property: "fget", functools.cached_property: "func"}


def call_property_getters(own: OwnNodes, resolve) -> None:
    """Replace each read ``p.attr`` of a property (``p`` a name ``resolve`` knows the class
    of) by the call of its getter, ``type(p).attr.fget(p)``."""

    def called(node):
        if not (
            isinstance(node, gast.Attribute)
            and isinstance(node.ctx, gast.Load)
            and isinstance(node.value, gast.Name)
        ):
            return node
        getter = GETTERS.get(type(resolve(node)))
        if getter is None:
            return node
        of_class = S.call(S.name("type"), [S.name(node.value.id)])
        at_class = gast.Attribute(value=of_class, attr=node.attr, ctx=gast.Load())
        function = gast.Attribute(value=at_class, attr=getter, ctx=gast.Load())
        computed = S.call(function, [S.name(node.value.id)])
        if getter == "fget":
            return computed
        return _cache_or(node.value.id, node.attr, computed)

    own.rewrite(called)


def _cache_or(obj: str, attr: str, computed: gast.expr) -> gast.expr:
    """``getattr(obj, "attr") if "attr" in vars(obj) else computed``: a filled cache is read."""
    cached = S.call(S.name("getattr"), [S.name(obj), gast.Constant(value=attr, kind=None)])
    filled = gast.Compare(
        left=gast.Constant(value=attr, kind=None),
        ops=[gast.In()],
        comparators=[S.call(S.name("vars"), [S.name(obj)])],
    )
    return gast.IfExp(test=filled, body=cached, orelse=computed)
