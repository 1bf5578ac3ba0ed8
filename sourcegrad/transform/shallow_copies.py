"""Writes in place into the items of a shallow copy of an argument (``q = dict(params)``,
then ``q["b"] *= 0.9``): the copy is a new container, but its items are the caller's objects,
so Python changes the caller's array. The derivative follows values and would leave it as it
was: refused, with the way out of a new value for the item."""

from __future__ import annotations

import gast
import numpy as np

from ..errors import UnsupportedSyntaxError
from . import syntax as S

#: functions whose call of a container makes a new container holding the same items
_SHALLOW_CALLS = frozenset({"dict", "list", "copy"})


def refuse_shared_item_writes(parsed, given: dict) -> None:
    """Refuse an item of a shallow copy of a container argument (``given``: parameter ->
    example) written into in place, where the argument's item there is an array, list or
    dict: ``q[k] op= v`` or ``q[k][i] = v``. An item the function gave a new value first
    (``q[k] = q[k] * 2.0`` on an earlier line) is its own."""
    fn = parsed.node
    copies = _shallow_copies(fn, given)
    if not copies:
        return
    replaced = {
        (t.value.id, _key(t.slice)): n.lineno
        for n in S.walk(fn)
        if isinstance(n, gast.Assign)
        for t in n.targets
        if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name)
    }
    for node in S.walk(fn):
        item = _item_changed(node)
        if item is None or not isinstance(item.value, gast.Name) or item.value.id not in copies:
            continue
        name, key = item.value.id, _key(item.slice)
        made = [c for c in copies[name] if c[1] < node.lineno]
        if not made:
            continue
        param, line = max(made, key=lambda c: c[1])
        if replaced.get((name, key), node.lineno) < node.lineno and key is not None:
            continue
        if not _mutable_item(given[param], key):
            continue
        shown = f"{name}[{key!r}]" if key is not None else f"an item of {name}"
        raise UnsupportedSyntaxError(
            f"`{S.text(node)}` changes {shown} in place, an object of the argument "
            f"`{param}` (`{name}` is a shallow copy of it, line {line}, holding the same "
            f"items): Python changes the caller's {_kind(given[param], key)} too, which "
            f"the derivative would leave as it was; give the item a new value "
            f"(`{S.text(item)} = {S.text(item)} * ...`), or copy it first",
            parsed.filename,
            node.lineno,
        )


def _shallow_copies(fn, given: dict) -> dict:
    """name -> the ``(parameter, line)`` of each binding of the name to a shallow copy of a
    container parameter: ``dict(p)``, ``list(p)``, ``copy.copy(p)``, ``p.copy()``, ``{**p}``,
    ``p[:]``."""
    out: dict = {}
    for node in S.walk(fn):
        if not (
            isinstance(node, gast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], gast.Name)
        ):
            continue
        source = _copied(node.value)
        if source in given and isinstance(given[source], (dict, list)):
            out.setdefault(node.targets[0].id, []).append((source, node.lineno))
    return out


def _copied(value) -> str | None:
    """The name ``value`` makes a shallow copy of, or None."""
    if isinstance(value, gast.Call) and len(value.args) == 1 and not value.keywords:
        func, arg = value.func, value.args[0]
        name = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", None)
        if name in _SHALLOW_CALLS and isinstance(arg, gast.Name):
            return arg.id
    if isinstance(value, gast.Call) and not value.args and not value.keywords:
        func = value.func
        if isinstance(func, gast.Attribute) and func.attr == "copy":
            return getattr(func.value, "id", None)
    if isinstance(value, gast.Dict) and len(value.keys) == 1 and value.keys[0] is None:
        return getattr(value.values[0], "id", None)  # {**p}
    if isinstance(value, gast.Subscript) and isinstance(value.slice, gast.Slice):
        s = value.slice
        if s.lower is None and s.upper is None and s.step is None:
            return getattr(value.value, "id", None)  # p[:]
    return None


def _item_changed(node):
    """The item ``q[k]`` that ``node`` changes in place: ``q[k] op= v``, ``q[k][i] = v``."""
    if isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Subscript):
        return node.target
    if isinstance(node, gast.Assign):
        for t in node.targets:
            if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Subscript):
                return t.value
    return None


def _key(node):
    if isinstance(node, gast.Constant) and isinstance(node.value, (str, int)):
        return node.value
    return None


def _mutable_item(example, key) -> bool:
    """Whether the item at ``key`` of ``example`` (any item, for a key not constant) is an
    object a write changes in place."""
    mutable = (np.ndarray, list, dict)
    items = example.values() if isinstance(example, dict) else example
    if key is None:
        return any(isinstance(v, mutable) for v in items)
    try:
        return isinstance(example[key], mutable)
    except (KeyError, IndexError, TypeError):
        return False


def _kind(example, key) -> str:
    """The type's name of the item at ``key`` of ``example`` (``object`` where unknown)."""
    try:
        return type(example[key]).__name__ if key is not None else "object"
    except (KeyError, IndexError, TypeError):
        return "object"
