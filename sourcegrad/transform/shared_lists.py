"""Lists and dicts that two names, or a name and a container, hold at once and that then
change in place (part of normalize, checked by :mod:`.lists` before it rewrites list
operations): Python shows the change through both, the derivative follows values, so such
a function is refused with the user's line."""

from __future__ import annotations

import gast

from . import syntax as S
from .list_kinds import makes_list

#: the list methods that change the list in place
_MUTATORS = frozenset({"append", "extend", "insert", "pop", "reverse", "remove", "clear", "sort"})


def shared_list(fn: gast.FunctionDef, lists: set, builds=None):
    """``(statement, message)`` for the first name bound to a list that the function changes
    in place afterwards (``first = hs``, then ``hs.append(h)``): Python changes both, while
    the derivative follows values (the list each name was given); None where there is none."""
    changes: dict = {}  # list name -> lines where it changes in place
    by_method: dict = {}  # the same, by a list's or dict's method alone
    loops, assigns = [], []
    for n in S.walk(fn):
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute):
            owner = n.func.value
            if isinstance(owner, gast.Name) and n.func.attr in _MUTATORS:
                changes.setdefault(owner.id, []).append(n.lineno)
            if isinstance(owner, gast.Name) and n.func.attr in S.CONTAINER_MUTATORS:
                by_method.setdefault(owner.id, []).append(n.lineno)
        elif isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name):
            changes.setdefault(n.target.id, []).append(n.lineno)
            if n.target.id in lists:  # a list's `+=` and `*=` change it in place
                by_method.setdefault(n.target.id, []).append(n.lineno)
        elif isinstance(n, (gast.For, gast.While)):
            loops.append(n)
        elif isinstance(n, gast.Assign):
            assigns.append(n)
    if not changes and not by_method:
        return None  # (every refusal below is of a change in place, all listed above)
    bound: dict = {}  # name -> lines where it is assigned
    for n in assigns:
        for t in n.targets:
            if isinstance(t, gast.Name):
                bound.setdefault(t.id, []).append(n.lineno)
    for loop in loops:
        message = _loop_item_changed(loop, by_method)
        if message is not None:
            return loop, message
    for n in assigns:
        held = _held_item_changed(n, (by_method, bound), loops, lists)
        if held is not None:
            return n, held
        for src, shown in _shared_by(n, lists, builds):
            for name in (src, *[t.id for t in n.targets if isinstance(t, gast.Name)]):
                later = any(line > n.lineno for line in changes.get(name, ()))
                looped = any(
                    n in S.walk(loop) and _changes_in(loop, name, n.lineno) for loop in loops
                )
                if later or looped:
                    return n, (
                        f"`{shown}` makes a second reference to the list `{src}`, and the list "
                        f"then changes in place (`{name}.append(...)` or similar); sourcegrad "
                        "follows values, not shared lists: copy it (`list("
                        f"{src})`) or build the second list apart"
                    )
    return None


def _held_item_changed(assign, lines: tuple, loops: list, lists: set):
    """The message for ``hs = d["hs"]`` (or ``hs = self.hs``) followed by ``hs.append(...)``
    (a list's or dict's method that changes it in place) before ``hs`` is bound again: Python
    changes the container's item too, the derivative only the name's value. None where
    ``assign`` is not such a read, or reads a slice of one of the ``lists`` (``a = hs[:]``: a
    new list). ``lines``: name -> lines of such changes, name -> lines where it is assigned."""
    by_method, bound = lines
    value = assign.value
    if not (isinstance(value, (gast.Subscript, gast.Attribute)) and S.names_in(value)):
        return None
    if isinstance(value, gast.Subscript) and isinstance(value.slice, gast.Slice):
        if makes_list(value, lists):
            return None  # a slice of a list is a new list
    for t in assign.targets:
        if not isinstance(t, gast.Name):
            continue
        later = any(
            line > assign.lineno and not any(assign.lineno < b < line for b in bound.get(t.id, ()))
            for line in by_method.get(t.id, ())
        )
        looped = any(
            assign in S.walk(loop) and _changes_in(loop, t.id, assign.lineno) for loop in loops
        )
        if later or looped:
            held = S.text(value)
            return (
                f"`{S.text(assign).strip()}` names a container that `{held}` holds, and it then "
                f"changes in place (`{t.id}.append(...)` or similar), which Python shows "
                "through both; sourcegrad follows values, not shared containers: copy it "
                f"(`{t.id} = {held}.copy()`) and store it back when it is complete "
                f"(`{held} = {t.id}`)"
            )
    return None


def _loop_item_changed(loop, by_method: dict):
    """The message for ``for r in rows: r.append(v)``: a loop variable bound to the items of
    a container, changed in place by a list's or dict's method in the loop's body (Python
    changes the container's item); None where there is none."""
    if not isinstance(loop, gast.For) or S.calls_module(loop.iter, ("range",)):
        return None
    inside = {n.lineno for n in S.walk(loop) if getattr(n, "lineno", None) is not None}
    for name in sorted(S.names_in(loop.target)):
        if any(line in inside and line > loop.lineno for line in by_method.get(name, ())):
            return (
                f"`for {S.text(loop.target)} in {S.text(loop.iter)}` binds `{name}` to an "
                f"item of a container, which `{name}.append(...)` (or a similar method) then "
                "changes in place, as Python shows through the container; sourcegrad follows "
                f"values, not shared containers: build the new items and the new container "
                f"(`rows = [[*r, v] for r in rows]`)"
            )
    return None


def _shared_by(assign, lists: set, builds=None) -> list:
    """``[(list name, text)]``: the lists an assignment gives another reference to, as the
    value itself (``first = hs``), an item of a display (``pair = (hs, x)``) or an argument of
    a class building an object (``net = Seq(hs)``)."""
    value = assign.value
    if isinstance(value, gast.IfExp):  # `ls = hs if c else []`, `ls = hs or [h]`: either
        parts = [value.body, value.orelse]
    else:
        parts = value.values if isinstance(value, gast.BoolOp) else []
    named = [t for t in assign.targets if isinstance(t, gast.Name)]
    if named and any(isinstance(p, gast.Name) for p in parts):
        value = [p for p in parts if isinstance(p, gast.Name)][0]
    if isinstance(value, gast.Name):
        named = [t for t in assign.targets if isinstance(t, gast.Name) and t.id != value.id]
        items = [value] if named else []
    elif isinstance(value, (gast.List, gast.Tuple, gast.Set)):
        items = [e for e in value.elts if isinstance(e, gast.Name)]
    elif isinstance(value, gast.Dict):
        items = [e for e in value.values if isinstance(e, gast.Name)]
    elif isinstance(value, gast.Call) and builds is not None and builds(value.func):
        items = [e for e in [*value.args, *(k.value for k in value.keywords)]]
        items = [e for e in items if isinstance(e, gast.Name)]
    else:
        items = []
    shared = [e.id for e in items if e.id in lists]
    if not shared:
        return []
    text = S.text(assign).strip()
    return [(name, text) for name in shared]


def _changes_in(loop, name: str, alias_line: int) -> bool:
    """Whether the loop changes in place a list ``name`` refers to that the alias made at
    ``alias_line`` may share: not where each pass first gives ``name`` a new list (a
    statement of the loop's own body, ``new = []``) and changes only that, the alias made
    after the changes or before the new list (``alpha = new`` at the end of a pass)."""
    lines = [
        n.lineno
        for n in S.walk(loop)
        if isinstance(n, gast.Call)
        and isinstance(n.func, gast.Attribute)
        and isinstance(n.func.value, gast.Name)
        and n.func.value.id == name
        and n.func.attr in _MUTATORS
    ]
    if not lines:
        return False
    fresh = [
        s.lineno
        for s in loop.body
        if isinstance(s, gast.Assign)
        and len(s.targets) == 1
        and isinstance(s.targets[0], gast.Name)
        and s.targets[0].id == name
        and _new_list(s.value)
    ]
    if not fresh:
        return True
    first = min(fresh)
    return not (min(lines) > first and (alias_line > max(lines) or alias_line < first))


def _new_list(e) -> bool:
    """Whether ``e`` makes a list no other name refers to."""
    return isinstance(e, (gast.List, gast.ListComp)) or (
        isinstance(e, gast.Call) and isinstance(e.func, gast.Name) and e.func.id == "list"
    )
