"""Lists a dict made empty gathers through ``setdefault``, as names (part of the lowering of
lists, before the lowering of dicts).

``d = {}`` then, in loops, ``d.setdefault("hs", []).append(h)``: the lowering of dicts makes
each ``setdefault`` a read of the list ``d`` holds and a store of it grown, a new list and a
new dict per step. Where, from ``d = {}`` (a top-level statement) to the top-level statement
of its last such growth, ``d`` is used only as ``d.setdefault(k, [])`` grown (``k`` a string,
the default an empty list display) or as ``d[k]`` read after a growth at ``k`` in its block
or one around it (the key is there: the read is the key's list, now a name), and is bound
nowhere else, :func:`named_set_default_lists` gives each key a list of its own name that grows
as a name's list does (in place in the running code), ``d`` marking only where its key goes
in its order, and puts the lists in ``d`` after that last growth::

    d = {}                          d = {}
                                    d_hs = []
    for x in xs:                    for x in xs:
        d.setdefault("hs", [])  ->      if "hs" not in d:
          .append(x)                        d["hs"] = []
                                        d_hs.append(x)
                                    if "hs" in d:
                                        d["hs"] = d_hs

The function computes the same dict: the same keys in the same order, each holding the items
Python's ``setdefault`` gathers (nothing else can see ``d`` or its lists before the end).
"""

from __future__ import annotations

import gast

from . import syntax as S

__all__ = ["named_set_default_lists"]

#: the list methods a growth through ``setdefault`` may call


def named_set_default_lists(fn: gast.FunctionDef, names: S.NameGen) -> None:
    """Rewrite, in place, each dict of ``fn`` made empty and grown only through
    ``setdefault(k, [])`` until its last growth as a name per key (see the module); every
    other dict is left."""
    if not any(isinstance(n, gast.Attribute) and n.attr == "setdefault" for n in S.walk(fn)):
        return
    if any(isinstance(n, (gast.Global, gast.Nonlocal)) for n in S.walk(fn)):
        return
    captured = S.captured_names(fn)
    for top, stmt in enumerate(fn.body):
        d = _made_empty(stmt)
        if d is None or d in captured or _bound_elsewhere(fn, d, stmt):
            continue
        last = _last_growth_at(fn, d)
        if last is None or last <= top:
            continue
        span = fn.body[top + 1 : last + 1]
        reads = _reads_after_growth(span, d)
        if not _only_grown(span, d, len(reads)):
            continue
        keys: dict = {}
        for body in list(S.blocks(span)):
            for i in reversed(range(len(body))):
                if (found := _growth(body[i], d)) is not None:
                    key, method, item = found
                    local = keys.get(key) or names.fresh(f"{d}_{key}" if key.isidentifier() else d)
                    keys[key] = local
                    body[i : i + 1] = _named_growth(body[i], d, key, local, method, item)
        for parent, read in reads:
            _replace_child(parent, read, gast.copy_location(S.name(keys[read.slice.value]), read))
        made = [_at(S.assign(local, _empty_list()), stmt) for local in keys.values()]
        back = [_put_back(d, key, local, fn.body[last]) for key, local in keys.items()]
        fn.body[top : last + 1] = [stmt, *made, *span, *back]
        return named_set_default_lists(fn, names)  # (positions moved: look again)


def _made_empty(stmt) -> str | None:
    """``d`` of ``d = {}``, else None."""
    if (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
        and isinstance(stmt.value, gast.Dict)
        and not stmt.value.keys
    ):
        return stmt.targets[0].id
    return None


def _bound_elsewhere(fn, name: str, made) -> bool:
    """Whether ``name`` is a parameter of ``fn`` or bound in it other than by ``made``."""
    return any(
        (isinstance(n.ctx, (gast.Store, gast.Del)) and n is not made.targets[0])
        or isinstance(n.ctx, gast.Param)
        for n in S.name_nodes(fn)
        if n.id == name
    )


def _growth(stmt, d: str) -> tuple | None:
    """``(key, method, item)`` where ``stmt`` is ``d.setdefault(key, []).method(item)``
    (``key`` a string, ``method`` growing the list), else None."""
    call = S.list_growth(stmt.value) if isinstance(stmt, gast.Expr) else None
    if call is None:
        return None
    inner = call.func.value
    if not (
        isinstance(inner, gast.Call)
        and isinstance(inner.func, gast.Attribute)
        and inner.func.attr == "setdefault"
        and isinstance(inner.func.value, gast.Name)
        and inner.func.value.id == d
        and len(inner.args) == 2
        and not inner.keywords
    ):
        return None
    key, default = inner.args
    if not (isinstance(key, gast.Constant) and isinstance(key.value, str)):
        return None
    if not (isinstance(default, gast.List) and not default.elts):
        return None
    return key.value, call.func.attr, call.args[0]


def _last_growth_at(fn, d: str) -> int | None:
    """The position in ``fn.body`` of the last top-level statement holding a growth of a list
    of ``d`` through ``setdefault``; None where there is none."""
    found = [
        i
        for i, top in enumerate(fn.body)
        for s in S.walk(top)
        if isinstance(s, gast.stmt) and _growth(s, d) is not None
    ]
    return found[-1] if found else None


def _reads_after_growth(span: list, d: str) -> list:
    """``(parent, node)`` of each ``d[k]`` read in ``span`` after a growth of ``d[k]`` in its
    block or a block around it (so the key is there and holds the list grown)."""
    parents = S.parent_map(gast.Module(body=span, type_ignores=[]))
    found: dict = {}
    for body in S.blocks(span):
        grown: set = set()
        for stmt in body:
            if (growth := _growth(stmt, d)) is not None:
                grown.add(growth[0])
                continue
            for n in S.nodes_of(stmt, (gast.Subscript,)):
                if (
                    isinstance(n.ctx, gast.Load)
                    and isinstance(n.value, gast.Name)
                    and n.value.id == d
                    and isinstance(n.slice, gast.Constant)
                    and n.slice.value in grown
                ):
                    found[id(n)] = (parents[id(n)], n)
    return list(found.values())


def _only_grown(span: list, d: str, reads: int) -> bool:
    """Whether every mention of ``d`` in ``span`` is the ``d`` of a growth through
    ``setdefault`` in a block :func:`S.blocks` reaches (so that it can be rewritten) or of one
    of ``reads`` reads after a growth."""
    grown = [s for body in S.blocks(span) for s in body if _growth(s, d) is not None]
    mentions = sum(1 for s in span for n in S.name_nodes(s) if n.id == d)
    return mentions == len(grown) + reads


def _replace_child(parent, old, new) -> None:
    for field, value in gast.iter_fields(parent):
        if value is old:
            setattr(parent, field, new)
        elif isinstance(value, list):
            value[:] = [new if v is old else v for v in value]


def _named_growth(stmt, d: str, key: str, local: str, method: str, item) -> list:
    """``if key not in d: d[key] = []`` (the key's place, as ``setdefault`` makes it) and
    ``local.method(item)`` (an ``append`` per item of a display extended by), at ``stmt``'s
    line."""
    placed = gast.If(
        test=gast.Compare(left=S.const(key), ops=[gast.NotIn()], comparators=[S.name(d)]),
        body=[_store(d, key, _empty_list())],
        orelse=[],
    )
    if method == "extend" and isinstance(item, (gast.List, gast.Tuple)):
        method, items = "append", item.elts  # (one append each: no list made to extend by)
    else:
        items = [item]
    grown = [
        gast.Expr(value=S.call(gast.Attribute(S.name(local), method, gast.Load()), [v]))
        for v in items
    ]
    return [_at(placed, stmt), *(_at(g, stmt) for g in grown)]


def _put_back(d: str, key: str, local: str, last):
    """``if key in d: d[key] = local`` after the statement ``last``."""
    back = gast.If(
        test=gast.Compare(left=S.const(key), ops=[gast.In()], comparators=[S.name(d)]),
        body=[_store(d, key, S.name(local))],
        orelse=[],
    )
    return _at(back, last, getattr(last, "end_lineno", None) or last.lineno)


def _at(new, old, lineno: int | None = None):
    """``new``, each node under it made without a place given ``old``'s (``lineno`` for its
    line where given)."""
    for node in S.walk(new):
        if isinstance(node, (gast.expr, gast.stmt)) and not hasattr(node, "lineno"):
            gast.copy_location(node, old)
            if lineno is not None:
                node.lineno = node.end_lineno = lineno
    return new


def _store(d: str, key: str, value):
    target = gast.Subscript(value=S.name(d), slice=S.const(key), ctx=gast.Store())
    return gast.Assign(targets=[target], value=value, type_comment=None)


def _empty_list():
    return gast.List(elts=[], ctx=gast.Load())
