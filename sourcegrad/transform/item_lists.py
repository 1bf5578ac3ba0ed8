"""Lists a dict of the function's own holds, grown in place (part of the lowering of writes).

``cache = {"k": [], "v": []}`` then ``cache["k"].append(k)`` changes the list the dict holds.
Where no other name, container or call can hold one of the dict's lists (each of its items
is a new list, and each read of one, ``cache["k"]``, is copied or read through at once:
``np.stack(cache["k"])``, ``[*cache["k"], v]``, ``cache["k"][-1]``, ``len(cache["k"])``),
the change shows nowhere else, so :func:`rebuilt_item_lists` rewrites it as a new list in
its place, ``cache["k"] = [*cache["k"], k]`` (``extend([a, b])``: ``[*cache["k"], a, b]``),
which the lowering follows as a value. Any other dict is left to the refusal of
``writes._refuse_held_container_change``.
"""

from __future__ import annotations

import gast

from . import syntax as S
from .walk import replace_statement

__all__ = ["rebuilt_item_lists"]

#: the methods rewritten, and the items each adds to the list (``extend`` of a display)
_GROWING = {"append": lambda v: [v], "extend": lambda v: list(v.elts)}
#: builtins reading a list they are given, keeping no reference to it
_READERS = frozenset(
    {"len", "sum", "list", "tuple", "sorted", "reversed", "min", "max", "any", "all"}
)  # (`reversed` steps down from the length it was made at: items added later are not seen)


def rebuilt_item_lists(fn: gast.FunctionDef) -> None:
    """Rewrite, in place, ``d[k].append(v)`` and ``d[k].extend([...])`` statements of ``fn``'s
    own body as ``d[k] = [*d[k], v]`` where ``d`` is a dict of the function's own whose
    lists nothing else may hold (see the module)."""
    parents = S.parent_map(fn)
    for name in _private_dicts(fn, parents):
        for stmt in [s for s in _statements(fn) if _growth(s, name)]:
            call = stmt.value
            item = call.func.value
            grown = gast.List(
                elts=[
                    gast.Starred(value=S.clone(item), ctx=gast.Load()),
                    *_GROWING[call.func.attr](call.args[0]),
                ],
                ctx=gast.Load(),
            )
            target = gast.Subscript(
                value=S.clone(item.value), slice=S.clone(item.slice), ctx=gast.Store()
            )
            new = gast.Assign(targets=[target], value=grown, type_comment=None)
            replace_statement(fn, stmt, gast.copy_location(new, stmt))


def _statements(fn):
    """The statements of ``fn``'s own body, any nesting of blocks (not nested functions)."""
    for body in S.blocks(fn.body):
        yield from body


def _grown_name(stmt) -> str | None:
    """``d`` of a statement ``d[k].append(v)`` (or ``extend``), else None."""
    call = stmt.value if isinstance(stmt, gast.Expr) else None
    func = getattr(call, "func", None)
    item = getattr(func, "value", None)
    name = getattr(item, "value", None)
    return name.id if isinstance(name, gast.Name) and _growth(stmt, name.id) else None


def _growth(stmt, name: str) -> bool:
    """Whether ``stmt`` is ``name[k].append(v)`` or ``name[k].extend([...])``, ``k`` a
    constant or a name."""
    call = stmt.value if isinstance(stmt, gast.Expr) else None
    return (
        isinstance(call, gast.Call)
        and isinstance(call.func, gast.Attribute)
        and call.func.attr in _GROWING
        and len(call.args) == 1
        and not call.keywords
        and not isinstance(call.args[0], gast.Starred)
        and (call.func.attr == "append" or isinstance(call.args[0], (gast.List, gast.Tuple)))
        and _item_of(call.func.value, name)
    )


def _item_of(node, name: str) -> bool:
    return (
        isinstance(node, gast.Subscript)
        and isinstance(node.value, gast.Name)
        and node.value.id == name
        and isinstance(node.slice, (gast.Constant, gast.Name))
    )


def _private_dicts(fn, parents: dict) -> list:
    """The names of ``fn`` bound only to dicts of new lists (a display or comprehension), read
    only where the lists they hold are copied or read through at once, grown in place by
    :func:`_growth` statements outside any loop over one of them."""
    params = {a.id for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    captured = S.captured_names(fn)
    grown = {_grown_name(s) for s in _statements(fn)} - {None}
    return sorted(
        name
        for name in grown - params - captured
        if _made_of_new_lists(fn, name) and _reads_copy(fn, name, parents)
    )


def _made_of_new_lists(fn, name: str) -> bool:
    """Whether every binding of ``name`` in ``fn`` is ``name = {k: [...], ...}`` (or a dict
    comprehension of new lists, or ``defaultdict(list)``), and every item stored into it a
    new list."""
    made = False
    for node in S.walk(fn):
        if isinstance(node, (gast.For, gast.AugAssign, gast.NamedExpr, gast.AnnAssign)):
            if name in S.names_in(node.target):
                return False
        if isinstance(node, (gast.comprehension,)) and name in S.names_in(node.target):
            return False
        if not isinstance(node, gast.Assign):
            continue
        for target in node.targets:
            if isinstance(target, gast.Name) and target.id == name:
                if not _new_dict_of_lists(node.value):
                    return False
                made = True
            elif _item_of(target, name) and not _new_list(node.value):
                return False
            elif not isinstance(target, (gast.Name, gast.Subscript)) and name in S.names_in(target):
                return False
    return made


def _new_dict_of_lists(value) -> bool:
    """A display or comprehension of new lists, or ``defaultdict(list)`` (each item it makes
    a new list)."""
    if isinstance(value, gast.Call) and not value.keywords:
        func = getattr(value.func, "id", None) or getattr(value.func, "attr", None)
        return func == "defaultdict" and [getattr(a, "id", None) for a in value.args] == ["list"]
    if isinstance(value, gast.Dict):
        return None not in value.keys and all(_new_list(v) for v in value.values)
    return isinstance(value, gast.DictComp) and _new_list(value.value)


def _new_list(value) -> bool:
    """A list made here: a display, a comprehension, ``list(...)``, or a sum of lists."""
    if isinstance(value, (gast.List, gast.ListComp)):
        return True
    if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add):
        return _new_list(value.left) or _new_list(value.right)
    return isinstance(value, gast.Call) and getattr(value.func, "id", None) == "list"


def _reads_copy(fn, name: str, parents: dict) -> bool:
    """Whether every read of ``name`` is ``len(name)``, ``k in name``, a growth statement's
    receiver, an item stored into, or an item read that copies the list or reads through it
    at once (:func:`_item_read_copies`)."""
    for node in S.name_nodes(fn):
        if node.id != name:
            continue
        parent = parents.get(id(node))
        if isinstance(node.ctx, gast.Store):
            continue
        if isinstance(parent, gast.Call) and getattr(parent.func, "id", None) == "len":
            continue
        if isinstance(parent, gast.Compare) and node in parent.comparators:
            continue
        if not (isinstance(parent, gast.Subscript) and parent.value is node):
            return False
        if isinstance(parent.ctx, gast.Store):
            continue
        if not _item_read_copies(parent, parents):
            return False
    return True


def _item_read_copies(item, parents: dict) -> bool:
    """Whether the list ``item`` reads (``d[k]``) is copied or read through where it is read:
    unpacked into a display, indexed, the receiver of a growth, compared, run over by a
    comprehension, or given to a NumPy function or a builtin that keeps no reference to it."""
    parent = parents.get(id(item))
    if isinstance(parent, gast.Starred):
        return isinstance(parents.get(id(parent)), (gast.List, gast.Tuple, gast.Call))
    if isinstance(parent, gast.Subscript) and parent.value is item:
        return True
    if isinstance(parent, gast.Attribute) and parent.attr in _GROWING:
        return isinstance(parents.get(id(parents.get(id(parent)))), gast.Expr)
    if isinstance(parent, gast.Compare):
        return True
    if isinstance(parent, gast.comprehension) and parent.iter is item:
        return True  # (a comprehension runs over it at once; it cannot grow the list)
    if isinstance(parent, gast.Call) and item in parent.args:
        func = parent.func
        if isinstance(func, gast.Name):
            return func.id in _READERS
        return isinstance(func, gast.Attribute) and getattr(func.value, "id", None) in (
            "np",
            "numpy",
        )
    return False
