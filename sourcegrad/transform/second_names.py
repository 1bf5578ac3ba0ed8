"""Second names of one object, read as the first (part of normalize, before list operations
are lowered): ``ls = hs`` at the top of the function's body, where neither name is bound again
while ``ls`` is used, makes ``ls`` the very object ``hs`` is, whatever it holds, so every use
of ``ls`` after it is a use of ``hs``. The binding goes and ``ls`` is read as ``hs``: a change
through either (``ls.append(v)``, ``ls[0][1] = v``, ``ls += [v]``) is then a change of the
one name that Python shows it through, which the passes after follow like any other.

``ls = hs or [h]`` hands ``hs`` on where ``hs`` surely holds a non-empty list or dict (bound
once, to a display with items, never emptied). ``ls = ms = hs`` is split first."""

from __future__ import annotations

import gast

from . import syntax as S
from .link_shapes import split_chained_links

__all__ = ["merge_second_names"]

#: the methods that may leave a list or dict empty
_EMPTYING = frozenset({"pop", "clear", "remove", "popitem"})


def merge_second_names(fn: gast.FunctionDef, params: list) -> None:
    """Rewrite ``fn`` in place: each top-level ``a = b`` whose ``a`` is a second name of the
    local ``b``'s object for as long as ``a`` is used (see the module docstring) is dropped,
    and ``a`` read (and updated in place) as ``b`` after it."""
    split_chained_links(fn.body)
    while True:
        for pos, stmt in enumerate(fn.body):
            pair = _second_name(fn, stmt)
            if pair is not None and _mergeable(fn, pos, *pair, set(params)):
                _merge(fn.body, pos, *pair)
                break
        else:
            return


def _second_name(fn, stmt):
    """``(a, b)`` of ``a = b`` (or ``a = b or ...`` where ``b`` is surely truthy); else None."""
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1):
        return None
    target, value = stmt.targets[0], stmt.value
    if not isinstance(target, gast.Name):
        return None
    if isinstance(value, gast.BoolOp) and isinstance(value.op, gast.Or):
        first = value.values[0]
        if isinstance(first, gast.Name) and _surely_truthy(fn, first.id):
            value = first
    if isinstance(value, gast.Name) and value.id != target.id:
        return target.id, value.id
    return None


def _surely_truthy(fn, name: str) -> bool:
    """Whether ``name`` is bound once, to a list or dict display with an item, and nothing
    may take its items out."""
    values = _bindings(fn).get(name, [])
    if len(values) != 1 or not isinstance(values[0], (gast.List, gast.Dict)):
        return False
    display = values[0]
    items = display.elts if isinstance(display, gast.List) else display.keys
    if not items or any(isinstance(e, gast.Starred) or e is None for e in items):
        return False
    for node in S.walk(fn):
        if (
            isinstance(node, gast.Call)
            and isinstance(node.func, gast.Attribute)
            and node.func.attr in _EMPTYING
            and S.names_in(node.func.value) & {name}
        ):
            return False
        if isinstance(node, gast.Subscript) and isinstance(node.ctx, (gast.Store, gast.Del)):
            if getattr(node.value, "id", None) == name and isinstance(node.slice, gast.Slice):
                return False  # `hs[:] = []`
    return True


def _mergeable(fn, pos: int, a: str, b: str, params: set) -> bool:
    """Whether ``a = b`` at ``fn.body[pos]`` makes ``a`` a second name of ``b``'s object
    for every use of ``a``: both locals (not arguments, nor seen by nested functions or
    declared global), ``a`` bound there alone and used only after it (or not at all: the
    binding is dropped), ``b`` bound before it and not again while ``a`` is used (an in-place
    ``+=`` of a list keeps the list)."""
    body = fn.body
    if {a, b} & (params | S.captured_names(fn) | _declared(fn)):
        return False
    bindings = _bindings(fn)
    if len(bindings.get(a, [])) != 1 or not bindings.get(b):
        return False
    if any(a in S.names_in(s) for s in body[:pos]):
        return False
    uses = [k for k in range(pos + 1, len(body)) if a in S.names_in(body[k])] or [pos]
    if not any(b in S.bound_names(s) for s in body[:pos]):
        return False  # (bound in a branch or loop before, or not at all)
    a_list = _surely_list(bindings[b])
    for stmt in body[pos + 1 : uses[-1] + 1]:
        for node in S.walk(stmt):
            if isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name):
                if node.target.id in (a, b) and not (a_list and _keeps(node)):
                    return False
            elif isinstance(node, gast.Name) and node.id == b:
                if isinstance(node.ctx, (gast.Store, gast.Del)):
                    return False
            elif isinstance(node, (gast.Import, gast.ImportFrom)):
                if {(al.asname or al.name).split(".")[0] for al in node.names} & {a, b}:
                    return False
    return True


def _surely_list(values: list) -> bool:
    """Whether every value a name is bound to makes a list."""
    return all(
        isinstance(v, (gast.List, gast.ListComp))
        or (isinstance(v, gast.Call) and getattr(v.func, "id", None) == "list")
        for v in values
    )


def _keeps(node) -> bool:
    """Whether an augmented assignment of a list changes it in place (``+=``, ``*=``)."""
    return isinstance(node.op, (gast.Add, gast.Mult))


def _bindings(fn) -> dict:
    """name -> the value of each binding of it in ``fn`` (None where not a plain
    ``name = value``: a loop's target, ``del``, a nested ``def``; an augmented assignment is
    left out)."""
    out: dict = {}
    plain: set = set()  # (the targets of `name = value`, counted with their values)
    for node in S.walk(fn):
        if isinstance(node, gast.Assign) and len(node.targets) == 1:
            if isinstance(node.targets[0], gast.Name):
                out.setdefault(node.targets[0].id, []).append(node.value)
                plain.add(id(node.targets[0]))
        elif isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name):
            plain.add(id(node.target))  # (checked where the second name is used)
        elif id(node) in plain:
            continue
        elif isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
            out.setdefault(node.id, []).append(None)
        elif isinstance(node, gast.FunctionDef) and node is not fn:
            out.setdefault(node.name, []).append(None)
    return out


def _declared(fn) -> set:
    """The names a ``global`` or ``nonlocal`` statement declares."""
    return {n for s in S.walk(fn) if isinstance(s, (gast.Global, gast.Nonlocal)) for n in s.names}


def _merge(body: list, pos: int, a: str, b: str) -> None:
    """Drop ``body[pos]`` (``a = b``) and name ``b`` wherever the statements after it
    name ``a``."""
    for stmt in body[pos + 1 :]:
        for node in S.name_nodes(stmt):
            if node.id == a:
                node.id = b
    del body[pos]
