"""The forms :mod:`.held_items` reads: a dict or list display, a shallow copy, a loop body
keeping a dict's keys, a write in place and what it reads."""

from __future__ import annotations

import gast

from . import syntax as S

__all__ = [
    "constant_index",
    "copy_source",
    "display",
    "keeps_keys",
    "updates_whole",
    "whole_list_read",
    "write_reads",
    "write_root",
]


def display(stmt):
    """``(d, {key: value})`` of ``d = {"a": ..., ...}`` with constant keys, or of ``hs = [a,
    b]`` by position; else None."""
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1):
        return None
    target, value = stmt.targets[0], stmt.value
    if not isinstance(target, gast.Name):
        return None
    if isinstance(value, gast.List) and value.elts:
        if any(isinstance(e, gast.Starred) for e in value.elts):
            return None
        return target.id, dict(enumerate(value.elts))
    if not (isinstance(value, gast.Dict) and value.keys):
        return None
    if not all(isinstance(k, gast.Constant) and type(k.value) in (str, int) for k in value.keys):
        return None
    return target.id, {k.value: v for k, v in zip(value.keys, value.values)}


def copy_source(value) -> tuple | None:
    """``(name, kind)`` of the name ``value`` makes a shallow copy of and what it must hold
    ("dict", "list" or "any"): ``{**d}``, ``dict(d)``, ``d | {}``; ``list(hs)``, ``hs[:]``,
    ``[*hs]``; ``d.copy()``; else None."""
    kind = "dict"
    if isinstance(value, gast.Dict) and value.keys == [None]:
        inner = value.values[0]
    elif isinstance(value, gast.List) and [type(e) for e in value.elts] == [gast.Starred]:
        inner, kind = value.elts[0].value, "list"
    elif isinstance(value, gast.Subscript) and whole_slice(value.slice):
        inner, kind = value.value, "list"
    elif isinstance(value, gast.Call) and not value.keywords:
        func = value.func
        if getattr(func, "id", None) in ("dict", "list") and len(value.args) == 1:
            inner, kind = value.args[0], func.id
        elif isinstance(func, gast.Attribute) and func.attr == "copy" and not value.args:
            inner, kind = func.value, "any"
        else:
            return None
    elif isinstance(value, gast.BinOp) and isinstance(value.op, gast.BitOr):
        right = value.right
        inner = value.left if isinstance(right, gast.Dict) and not right.keys else None
    else:
        return None
    return (inner.id, kind) if isinstance(inner, gast.Name) else None


def constant_index(index) -> tuple | None:
    """``(key,)`` of an index written as a constant (``"a"``, ``0``, ``-1``); else None."""
    if isinstance(index, gast.Constant):
        return (index.value,)
    if isinstance(index, gast.UnaryOp) and isinstance(index.op, gast.USub):
        inner = index.operand
        if isinstance(inner, gast.Constant) and type(inner.value) is int:
            return (-inner.value,)
    return None


def whole_slice(index) -> bool:
    """Whether ``index`` is ``:`` (a list's shallow copy)."""
    return isinstance(index, gast.Slice) and index.lower is index.upper is index.step is None


def whole_list_read(stmt, lists: set) -> bool:
    """Whether ``stmt`` reads a followed list whole where its items may be held again: a loop
    over it (not read as its passes), ``+`` or ``*`` of it."""
    parents = S.parent_map(stmt)
    for node in S.walk(stmt):
        if isinstance(node, gast.Name) and node.id in lists:
            up = parents.get(id(node))
            if isinstance(up, gast.BinOp) or isinstance(up, gast.For) and up.iter is node:
                return True
    return False


def keeps_keys(body: list, name: str, key_name) -> bool:
    """Whether ``body`` (a loop's over the dict ``name``) leaves its keys as they are: it
    stores into it only by the loop's key ``key_name``, calls none of its methods, binds
    neither name, and holds no nested loop or function."""
    for node in (n for stmt in body for n in S.walk(stmt)):
        if isinstance(node, (gast.For, gast.While, gast.FunctionDef, gast.Lambda)):
            return False
        if isinstance(node, gast.Name) and node.id in (name, key_name):
            if not isinstance(node.ctx, gast.Load):
                return False
        if isinstance(node, gast.Attribute) and getattr(node.value, "id", None) == name:
            return False
        if isinstance(node, gast.Subscript) and getattr(node.value, "id", None) == name:
            if not isinstance(node.ctx, gast.Load):
                if key_name is None or getattr(node.slice, "id", None) != key_name:
                    return False
    return True


def write_root(stmt):
    """What ``stmt`` writes into in place: ``w`` of ``w[k] = v``, ``w[k] += v``, ``w += v``;
    ``e["a"]`` of ``e["a"][k] = v`` and ``e["a"] += v``; else None."""
    if isinstance(stmt, gast.AugAssign):
        target = stmt.target
        if isinstance(target, gast.Subscript) and isinstance(target.value, gast.Subscript):
            return target.value
        return target if isinstance(target, (gast.Name, gast.Subscript)) else None
    if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
        if isinstance(target, gast.Subscript):
            return target.value if isinstance(target.value, (gast.Name, gast.Subscript)) else None
    return None


def updates_whole(stmt) -> bool:
    """Whether ``stmt`` is ``w += v`` or ``e["a"] += v``: an update of the object itself."""
    if not isinstance(stmt, gast.AugAssign):
        return False
    target = stmt.target
    return isinstance(target, gast.Name) or not isinstance(target.value, gast.Subscript)


def write_reads(stmt):
    """The expressions a write reads besides what it writes into: its value and index."""
    target = stmt.target if isinstance(stmt, gast.AugAssign) else stmt.targets[0]
    parts = [stmt.value]
    if isinstance(target, gast.Subscript):
        parts.append(target.slice)
    return gast.Expr(value=gast.Tuple(elts=parts, ctx=gast.Load()))


class Abandon(Exception):
    """A statement that cannot be followed: the function is left as it was."""


def stepped_body(fn, step) -> list | None:
    """``fn``'s top-level statements, each replaced by the statements ``step(stmt)`` gives;
    None where one of them cannot be followed (``step`` raised :class:`Abandon`)."""
    try:
        return [new for stmt in fn.body for new in step(stmt)]
    except Abandon:
        return None
