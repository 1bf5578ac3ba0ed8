"""Lists held in an argument's dict, grown through a computed key (part of normalize).

``for k in keys: d[k].append(h)`` with ``d`` an argument, a dict whose values are lists (in
the call the derivative is built for: its keys and the lists' kinds are part of what a build
is specialised to): Python grows, in place, the list the caller's dict holds at ``k``. The
statement becomes ``d[k] = [*d[k], h]`` (``extend([a, b])`` of a display: one such statement
per item, after the items are evaluated;
a key that is not a name or a constant bound to a fresh name first, evaluated once, as Python
does), which the
derivative follows as a value of ``d``; :mod:`.argument_writes` asks :func:`grown_paths` for
what the statement changes, and writes back into each list of the caller's dict, not a new
list in its place: the caller's lists hold afterwards the items Python appended.
"""

from __future__ import annotations

import gast

from . import syntax as S
from .walk import rewrite_blocks

__all__ = ["grown_paths", "lower_grown_items"]


def lower_grown_items(fn, params: list, examples, names: S.NameGen) -> None:
    """Rewrite, in place, each statement ``d[k].append(v)`` / ``d[k].extend(vs)`` of ``fn``
    (``k`` not a constant) of an argument ``d`` that ``fn`` never binds anew and whose
    example is a dict of lists (see the module)."""
    given = dict(zip(params, examples or ()))
    rebound = {n.id for n in S.name_nodes(fn) if isinstance(n.ctx, (gast.Store, gast.Del))}
    held = {p for p, v in given.items() if _holds_lists(v) and p not in rebound}
    if held:
        fn.body = rewrite_blocks(fn.body, lambda s: _grown(s, held, names))


def grown_paths(node, path: tuple, example) -> list:
    """The paths of the objects ``node`` changes in place in an argument (``example`` as
    the call gives it), where :func:`~.argument_writes._changed` found ``path``: each key of
    the dict for ``d[k].append(v)`` that :func:`lower_grown_items` rewrites; else
    ``[path]``."""
    grown = _grown_item(node)
    if path != (None,) or grown is None or not _holds_lists(example):
        return [path]
    return [(k,) for k in example]


def _holds_lists(example) -> bool:
    return (
        type(example) is dict and bool(example) and all(type(x) is list for x in example.values())
    )


def _grown_item(call):
    """``d[k]`` of the call ``d[k].append(v)`` / ``d[k].extend(vs)``, ``d`` a name and ``k``
    not a constant; else None."""
    if S.list_growth(call) is None:
        return None
    item = call.func.value
    if not (
        isinstance(item, gast.Subscript)
        and isinstance(item.value, gast.Name)
        and not isinstance(item.slice, (gast.Constant, gast.Slice))
    ):
        return None
    return item


def _grown(stmt, held: set, names: S.NameGen) -> list:
    call = stmt.value if isinstance(stmt, gast.Expr) else None
    item = _grown_item(call)
    if item is None or item.value.id not in held:
        return [stmt]
    if call.func.attr == "extend" and not isinstance(call.args[0], (gast.List, gast.Tuple)):
        return [stmt]  # (a list not displayed: as written, refused where it is differentiated)
    out, key = [], item.slice
    if not isinstance(key, gast.Name):
        bound = names.fresh("key")
        out.append(S.assign(bound, key, stmt.lineno))
        key = S.name(bound)
    d = item.value.id
    added = call.args if call.func.attr == "append" else list(call.args[0].elts)
    if len(added) > 1:  # (the display is made first, then each item appended)
        for i, value in enumerate(added):
            if not isinstance(value, (gast.Name, gast.Constant)):
                held_item = names.fresh(f"{d}_item")
                out.append(S.assign(held_item, value, stmt.lineno))
                added[i] = S.name(held_item)
    for value in added:
        grown = gast.List(
            elts=[gast.Starred(value=_item(d, key), ctx=gast.Load()), value], ctx=gast.Load()
        )
        target = gast.Subscript(value=S.name(d), slice=S.clone(key), ctx=gast.Store())
        new = gast.Assign(targets=[target], value=grown, type_comment=None)
        for node in S.walk(new):
            gast.copy_location(node, stmt)
        out.append(gast.copy_location(new, stmt))
    return out


def _item(d: str, key):
    return gast.Subscript(value=S.name(d), slice=S.clone(key), ctx=gast.Load())
