"""The rewrite of the writes through names linked by :mod:`.shared_writes` (part of
normalize): each write through a followed link's name, or its base, followed by what keeps
the linked names in step, as that module's docstring says."""

from __future__ import annotations

from dataclasses import dataclass, field

import gast

from . import syntax as S
from .link_shapes import written_root
from .node_facts import get_fact, set_fact

__all__ = ["Link", "rewritten"]


@dataclass
class Link:
    """``name = base`` (``index`` None) or ``name = base[index]`` at ``stmt``, followed
    through the statements of its block up to position ``last``."""

    stmt: gast.Assign
    name: str
    base: str
    index: object
    last: int
    container: bool = False  # the base is an argument given a dict, list or tuple
    item: bool = True  # the base may be a container (not surely an array)
    writes: list = field(default_factory=list)  # (statement, through the name, whole)
    block: list = field(default_factory=list)  # the statements it is bound among
    pos: int = 0  # its binding's position there
    others: set = field(default_factory=set)  # (name, line): links of names bound to it
    guarded: bool = False  # its name may be a number: a write updating it whole is followed
    # only where it is an array (`if isinstance(w, np.ndarray): z[...] = w`)
    #: `w = z if c else z[::-1]`: (the name the test is kept in, what each branch binds:
    #: None for `z`, an index for `z[idx]`, False for a new array)
    branches: tuple | None = None


def rewritten(block: list, live: dict, links: dict, writes: list) -> list:
    """``block`` with each write through a name of ``live`` (``name -> Link``), or of a
    link bound in it, followed by the writes and reads that keep its names in step (each
    write into a base, as Python makes it, appended to ``writes``)."""
    live, ends, out = dict(live), {}, []
    for pos, stmt in enumerate(block):
        if not isinstance(stmt, gast.FunctionDef):
            for attr in ("body", "orelse"):
                inner = getattr(stmt, attr, None)
                if inner and isinstance(inner[0], gast.stmt):
                    setattr(stmt, attr, rewritten(inner, live, links, writes))
        link = links.get(id(stmt))
        if link is not None and link.branches is not None:  # (its test is kept for the writes)
            kept = S.assign(link.branches[0], stmt.value.test, stmt.lineno)
            out.append(gast.copy_location(kept, stmt))
            stmt.value.test = gast.copy_location(S.name(link.branches[0]), stmt.value.test)
        out.extend(_followed(stmt, live, writes))
        if link is not None:
            live[link.name] = link
            ends.setdefault(link.last, []).append(link.name)
        for name in ends.pop(pos, ()):
            live.pop(name, None)
    return out


def _followed(stmt, live: dict, writes: list) -> list:
    """``stmt`` and, where it writes through a name of ``live`` or its base, what keeps the
    linked names in step; appends the write into the base to ``writes``. A write through a
    name linked to a linked name (``v = w`` after ``w = z``) goes on into ``z`` the same way,
    and every name linked to ``z``, directly or not, is read again after it."""
    written = written_root(stmt)
    if written is None:
        return [stmt]
    if written in live and live[written].branches is not None:
        return [stmt, _branched(live[written], stmt, live, writes, back=True)]
    if written in live and live[written].guarded and isinstance(stmt, gast.AugAssign):
        if isinstance(stmt.target, gast.Name):
            return [stmt, _guarded_back(live[written], stmt, live, writes)]
    out, current, name, current_values = [stmt], stmt, written, set()
    while name in live and name not in current_values:
        own = live[name]
        if own.index is None:  # `w = z`: write through z, then read it again
            _redirect(current, own.base)
            writes.append(_placed(S.clone(current), stmt))
        else:  # `w = z[idx]`: what the write changed in z
            current_values.add(name)
            current = _written_back(own, stmt, writes)
            out.append(current)
        name = own.base
    return out + _read_again(name, live, current_values, stmt)


def _guarded_back(own: Link, stmt, live: dict, writes: list):
    """``if isinstance(w, np.ndarray): z[...] = w`` (``z[idx] = w`` of ``w = z[idx]``) after
    ``stmt``, the write updating ``own``'s name ``w`` whole, with what keeps the other names
    linked to ``z`` in step: where ``w`` is a number, Python rebinds it and leaves ``z``."""
    if own.index is None:
        into = gast.Subscript(value=S.name(own.base), slice=S.const(Ellipsis), ctx=gast.Store())
        back = gast.Assign(targets=[into], value=S.name(own.name), type_comment=None)
        back = _placed(back, stmt)
        set_fact(back, "shared_link", own.base)  # (`z` holds what `w` does: no new link)
    else:
        back = _written_back(own, stmt, [])  # (a write Python makes only for an array)
    others = {name: link for name, link in live.items() if link is not own}
    test = S.call(S.name("isinstance"), [S.name(own.name), S.attr_chain("np.ndarray")])
    guard = gast.If(test=test, body=_followed(back, others, writes), orelse=[])
    return _placed(guard, stmt)


def _branched(own: Link, stmt, live: dict, writes: list, back: bool):
    """``if c: z[...] = w else: z[::-1] = w`` (with ``back``: after ``stmt``, a write through
    ``own``'s name ``w`` bound ``w = z if c else z[::-1]``, with what keeps the other names
    linked to ``z`` in step), or ``if c: w = z else: w = z[::-1]`` (a read again after a
    write into ``z``); nothing on a branch that binds a new array."""
    kept, *choices = own.branches
    others = {name: link for name, link in live.items() if link is not own}
    bodies = []
    for index in choices:
        if index is False:
            bodies.append([])
            continue
        view = S.name(own.base)
        if back:
            into = gast.Subscript(value=view, slice=S.const(Ellipsis), ctx=gast.Store())
            if index is not None:
                into = gast.Subscript(value=view, slice=S.clone(index), ctx=gast.Store())
            made = gast.Assign(targets=[into], value=S.name(own.name), type_comment=None)
            set_fact(made, "shared_link", own.base)  # (`z` holds what `w` does: no new link)
            bodies.append(_followed(_placed(made, stmt), others, writes))
            continue
        if index is not None:
            view = gast.Subscript(value=view, slice=S.clone(index), ctx=gast.Load())
        read = S.assign(own.name, view, stmt.lineno)
        set_fact(read, "shared_link", own.base)
        bodies.append([_placed(read, stmt)])
    test = S.name(kept)
    if not bodies[0]:
        test, bodies = gast.UnaryOp(op=gast.Not(), operand=test), bodies[::-1]
    return _placed(gast.If(test=test, body=bodies[0], orelse=bodies[1]), stmt)


def _written_back(own: Link, stmt, writes: list):
    """``z[idx] = w`` of ``own`` (``w = z[idx]``), placed at ``stmt``; the write into ``z``
    as Python makes it appended to ``writes``."""
    item = S.name(own.base)  # (an array changes in place; a container's item)
    if own.container:
        item = gast.Subscript(value=item, slice=S.clone(own.index), ctx=gast.Load())
    into = gast.Subscript(value=item, slice=S.const(Ellipsis), ctx=gast.Store())
    made = gast.Assign(targets=[into], value=_as_base(own), type_comment=None)
    writes.append(_placed(made, stmt))
    target = gast.Subscript(value=S.name(own.base), slice=S.clone(own.index), ctx=gast.Store())
    back = gast.Assign(targets=[target], value=_as_base(own), type_comment=None)
    # (into a container, its item changed in place, which other names may hold)
    set_fact(back, "item_write" if own.item else "shared_link", own.base)
    return gast.copy_location(back, stmt)


def _as_base(own: Link):
    """``w``, the name of ``own``, as its base's part holds it: ``w.T`` where ``w = z.T``."""
    if get_fact(own.index, "view_of") is not None:
        return gast.Attribute(value=S.name(own.name), attr="T", ctx=gast.Load())
    return S.name(own.name)


def _read_again(base: str, live: dict, current_values: set, stmt) -> list:
    """``w = z[idx]`` (or ``w = z``) again for each name of ``live`` linked to ``base``,
    directly or through another (bases first), but those of ``current_values``."""
    out, frontier, seen = [], [base], {base}
    while frontier:
        changed = frontier.pop(0)
        for link in live.values():
            if link.base != changed or link.name in seen:
                continue
            seen.add(link.name)
            frontier.append(link.name)
            if link.name in current_values:
                continue
            if link.branches is not None:
                out.append(_branched(link, stmt, live, [], back=False))
                continue
            value = S.name(changed)
            if get_fact(link.index, "view_of") is not None:  # `w = z.T`
                value = gast.Attribute(value=value, attr="T", ctx=gast.Load())
            elif link.index is not None:
                value = gast.Subscript(value=value, slice=S.clone(link.index), ctx=gast.Load())
            read = S.assign(link.name, value, stmt.lineno)
            set_fact(read, "shared_link", changed)
            out.append(gast.copy_location(read, stmt))
    return out


def _placed(made, stmt):
    """``made`` with ``stmt``'s line on every node in it."""
    for node in S.walk(made):
        if isinstance(node, (gast.stmt, gast.expr)):
            gast.copy_location(node, stmt)
    return made


def _redirect(stmt, base: str) -> None:
    """Make ``stmt``'s write go into ``base`` (its target's own name replaced; a write back
    made here names ``base`` in its fact)."""
    target = stmt.targets[0] if isinstance(stmt, gast.Assign) else stmt.target
    if isinstance(target, gast.Name):
        stmt.target = S.name(base, store=True)
    else:
        target.value = S.name(base)
    for fact in ("item_write", "shared_link"):
        if get_fact(stmt, fact) is not None:
            set_fact(stmt, fact, base)
