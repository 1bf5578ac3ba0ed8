"""Loops whose variable is written into in place, made loops over positions or keys, so that
:mod:`.shared_writes` follows the writes as it follows ``w = z[idx]`` (part of normalize).

Where ``for v in hs`` runs over a list a display made (``hs = [np.tanh(h), 0.5 * h]``, bound
once), or ``for v in d.values()`` / ``for k, v in d.items()`` over a dict one made, and its
body writes into ``v`` in place (``v += 0.1``, ``v[0] = 0.3``) without naming the container,
the loop becomes ``for i in range(len(hs)): v = hs[i]`` (``for k in d: v = d[k]``), which
runs the same items in the same order and leaves ``v`` bound to the last as Python does.
:func:`index_loops` returns what :func:`restore_loops` needs to put back the loops whose
binding is not followed after all."""

from __future__ import annotations

from dataclasses import dataclass

import gast

from . import syntax as S
from .link_shapes import written_root

__all__ = ["display_names", "index_loops", "restore_loops"]


@dataclass
class IndexedLoop:
    """A loop made a loop over positions (or keys): the statement, what it was, the
    binding of its variable it starts with, and ``(key name, dict)`` for a dict's."""

    loop: gast.For
    was: tuple  # (target, iter, body)
    binding: gast.Assign
    key: tuple | None


def display_names(fn) -> dict:
    """``{name: "list" or "dict"}`` of the names bound once, by a list or dict display."""
    bound: dict = {}
    for node in S.walk(fn):
        if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
            bound[node.id] = bound.get(node.id, 0) + 1
    out = {}
    for node in S.nodes_of(fn, (gast.Assign,)):
        target = node.targets[0]
        if len(node.targets) == 1 and isinstance(target, gast.Name) and bound[target.id] == 1:
            if isinstance(node.value, gast.List) and not _starred(node.value.elts):
                out[target.id] = "list"
            elif isinstance(node.value, gast.Dict) and None not in node.value.keys:
                out[target.id] = "dict"
    return out


def _starred(elts) -> bool:
    return any(isinstance(e, gast.Starred) for e in elts)


def index_loops(fn, names: S.NameGen) -> list:
    """Make, in place, each loop of ``fn`` of the kind the module docstring names a loop
    over positions or keys; ``[IndexedLoop]`` of those made."""
    displays = display_names(fn)
    if {"len", "range"} & {n.id for n in S.name_nodes(fn) if isinstance(n.ctx, gast.Store)}:
        return []  # (a builtin the loops over positions call, shadowed)
    made = []
    for loop in list(S.nodes_of(fn, (gast.For,))):
        shape = _loop_shape(loop, displays)
        if shape is None or not _body_writes_into(loop, shape[0], shape[1]):
            continue
        if not _read_only_inside(fn, loop, shape[0]):
            continue
        outside = sum(1 for n in S.name_nodes(fn) if n.id == shape[0])
        renamed = outside > sum(1 for n in S.name_nodes(loop) if n.id == shape[0])
        made.append(_indexed(loop, shape, names, renamed))
    return made


def _loop_shape(loop: gast.For, displays: dict):
    """``(variable, container, kind, key)`` of ``for v in hs`` (kind ``"list"``), ``for v in
    d.values()`` (``"dict"``, key None) or ``for k, v in d.items()`` (key ``k``), over a
    display's name; else None."""
    if loop.orelse:
        return None
    target, over = loop.target, loop.iter
    if isinstance(over, gast.Name) and displays.get(over.id) == "list":
        return (target.id, over.id, "list", None) if isinstance(target, gast.Name) else None
    if not (
        isinstance(over, gast.Call)
        and isinstance(over.func, gast.Attribute)
        and isinstance(over.func.value, gast.Name)
        and displays.get(over.func.value.id) == "dict"
        and not over.args
        and not over.keywords
    ):
        return None
    container = over.func.value.id
    if over.func.attr == "values" and isinstance(target, gast.Name):
        return target.id, container, "dict", None
    if (
        over.func.attr == "items"
        and isinstance(target, gast.Tuple)
        and len(target.elts) == 2
        and all(isinstance(e, gast.Name) for e in target.elts)
        and target.elts[0].id != target.elts[1].id
    ):
        return target.elts[1].id, container, "dict", target.elts[0].id
    return None


def _body_writes_into(loop: gast.For, name: str, container: str) -> bool:
    """Whether the loop's body writes into ``name`` in place and never names ``container``."""
    if any(container in S.names_in(stmt) for stmt in loop.body):
        return False
    return any(written_root(s) == name for top in loop.body for s in _statements(top))


def _statements(stmt):
    yield stmt
    if not isinstance(stmt, gast.FunctionDef):
        for attr in ("body", "orelse", "finalbody"):
            for inner in getattr(stmt, attr, None) or ():
                if isinstance(inner, gast.stmt):
                    yield from _statements(inner)


def _read_only_inside(fn, loop: gast.For, name: str) -> bool:
    """Whether every use of ``name`` outside ``loop`` is inside another loop or
    comprehension that binds it (so none reads the item the loop leaves in it)."""
    inside = {id(n) for n in S.walk(loop)}
    for node in S.walk(fn):
        scopes = []
        if isinstance(node, gast.For) and node is not loop and name in S.names_in(node.target):
            scopes = [node]
        elif isinstance(node, (gast.GeneratorExp, gast.ListComp, gast.SetComp, gast.DictComp)):
            if any(name in S.names_in(g.target) for g in node.generators):
                scopes = [node]
        for scope in scopes:
            inside |= {id(n) for n in S.walk(scope)}
    return all(id(n) in inside for n in S.name_nodes(fn) if n.id == name)


def _indexed(loop: gast.For, shape, names: S.NameGen, renamed: bool) -> IndexedLoop:
    """Make ``loop`` a loop over positions (or keys) binding its variable first (a fresh
    name for it where ``renamed``: another loop or comprehension binds it too)."""
    name, container, kind, key = shape
    was, user = (loop.target, loop.iter, loop.body), name
    if renamed:
        own, body = names.fresh(f"{name}_item"), S.clone(loop.body)
        for node in (n for stmt in body for n in S.name_nodes(stmt)):
            if node.id == name:
                node.id = own
        loop.body, name = body, own
    if kind == "list":
        position = names.fresh(f"i_{user}")
        size = S.call(S.name("len"), [S.name(container)])
        loop.iter = S.call(S.name("range"), [size])
    else:
        position = key or names.fresh(f"key_{user}")
        loop.iter = S.name(container)
    loop.target = S.name(position, store=True)
    item = gast.Subscript(value=S.name(container), slice=S.name(position), ctx=gast.Load())
    binding = gast.copy_location(S.assign(name, item, loop.lineno), loop)
    for node in S.walk(binding):
        if isinstance(node, (gast.expr, gast.stmt)):
            gast.copy_location(node, loop)
    loop.body = [binding, *loop.body]
    return IndexedLoop(loop, was, binding, (position, container) if kind == "dict" else None)


def restore_loops(made: list, kept: set) -> None:
    """Put back each loop of ``made`` whose binding is not among ``kept`` (ids)."""
    for indexed in made:
        if id(indexed.binding) not in kept:
            indexed.loop.target, indexed.loop.iter, indexed.loop.body = indexed.was
