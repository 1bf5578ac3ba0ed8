"""The user's source as a gast tree: ``ast.parse`` converted to gast directly.

Guarantees: :func:`parse_gast` gives the tree ``gast.parse`` gives (the same classes, fields,
field order and positions), converting each ``ast`` node by one copy of its fields instead of
gast's generic ``NodeTransformer`` (several times faster).
"""

from __future__ import annotations

import ast

import gast


def parse_gast(text: str) -> gast.Module:
    """``gast.parse(text)``: the same tree (the same classes, fields, field order and
    positions), converted from ``ast.parse`` several times faster than gast's own converter,
    which visits every node through a generic ``NodeTransformer``."""
    return _to_gast(ast.parse(text))


def _to_gast(node):
    """The gast tree of the ``ast`` tree ``node`` (see :func:`parse_gast`)."""
    made = _GAST_CLASSES.get(type(node))
    if made is None:
        made = _GAST_CLASSES[type(node)] = _gast_class(type(node))
    cls, fields, attributes = made
    if cls is None:  # a class this conversion does not know: gast's own converts it
        return gast.ast_to_gast(node)
    new = cls.__new__(cls)
    d = new.__dict__
    if cls is gast.Name:  # a name, or a parameter (``ast.arg``): gast's four fields
        param = type(node) is ast.arg
        d["id"] = node.arg if param else node.id
        d["ctx"] = gast.Param() if param else _to_gast(node.ctx)
        d["annotation"] = _to_gast(node.annotation) if param and node.annotation else None
        d["type_comment"] = node.type_comment if param else None
    elif fields is None:  # an ``except E as name``: the name a Name node
        d["type"] = _to_gast(node.type) if node.type is not None else None
        d["name"] = gast.Name(node.name, gast.Store(), None, None) if node.name else None
        d["body"] = [_to_gast(x) for x in node.body]
    else:
        for f in fields:
            v = getattr(node, f, _ABSENT)
            if type(v) is list:
                d[f] = [_to_gast(x) if isinstance(x, ast.AST) else x for x in v]
            elif isinstance(v, ast.AST):
                d[f] = _to_gast(v)
            elif v is not _ABSENT:
                d[f] = v
        if "type_params" in cls._fields and "type_params" not in d:
            d["type_params"] = []  # (gast's field where ``ast`` has none: no type parameters)
    for a in attributes:
        v = getattr(node, a, _ABSENT)
        if v is not _ABSENT:
            d[a] = v
    return new


def _gast_class(ast_class) -> tuple:
    """``(gast class, the fields to convert or None for a named handler, position
    attributes)`` of an ``ast`` class; the class None where gast's class of that name has
    fields ``ast``'s lacks (but ``type_params``), or there is none."""
    if ast_class is ast.arg:
        return gast.Name, (), ast_class._attributes
    cls = getattr(gast, ast_class.__name__, None)
    own = set(getattr(cls, "_fields", ())) - {"type_params"}
    if cls is None or (cls is not gast.Name and not own <= set(ast_class._fields)):
        return None, (), ()
    fields = None if ast_class is ast.ExceptHandler else ast_class._fields
    return cls, fields, ast_class._attributes


_GAST_CLASSES: dict = {}
_ABSENT = object()
