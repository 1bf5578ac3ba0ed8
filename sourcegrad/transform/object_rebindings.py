"""A name given an object of the user's class after it held something else (part of the
lowering of Python's forms).

``a, c = np.tanh(h), np.sin(h)`` ... then ``c = Cache(w); h = c.forward(h); c.out``: from
the binding ``c = Cache(w)`` on, ``c`` is the object alone, and the passes that follow an
object the function makes (its methods inlined, what they store read as values) ask for a
name bound once. :func:`split_object_rebindings` gives the name a fresh name from that
binding on, in place, as Python runs it: the statements after read the object.
"""

from __future__ import annotations

import gast

from . import syntax as S
from .parse import resolve

__all__ = ["split_object_rebindings"]


def split_object_rebindings(fn, parsed, names: S.NameGen, users_class) -> None:
    """Rename, in place, each name of ``fn`` bound at the top level of its body to a call of
    a class of the user's (``users_class(cls)``) after it was bound before, where nothing
    after binds it again and no nested function, lambda or comprehension names it: its
    uses from that binding on read a fresh name."""
    if any(isinstance(n, (gast.Global, gast.Nonlocal)) for n in S.walk(fn)):
        return
    nested = [n for n in S.walk(fn) if n is not fn and isinstance(n, S.NESTED_SCOPES)]
    inner = {n.id for d in nested for n in S.walk(d) if isinstance(n, gast.Name)}
    local = S.bound_names(fn)
    for i, stmt in enumerate(fn.body):
        target = stmt.targets[0] if isinstance(stmt, gast.Assign) else None
        if not (isinstance(target, gast.Name) and len(stmt.targets) == 1):
            continue
        if not isinstance(stmt.value, gast.Call) or target.id in inner:
            continue
        if not users_class(resolve(parsed, stmt.value.func, local)):
            continue
        before = [n for s in fn.body[:i] for n in S.name_nodes(s) if n.id == target.id]
        after = [n for s in fn.body[i + 1 :] for n in S.name_nodes(s) if n.id == target.id]
        if not any(isinstance(n.ctx, gast.Store) for n in before):
            continue
        if any(not isinstance(n.ctx, gast.Load) for n in after):
            continue
        if any(target.id in S.names_in(a) for a in stmt.value.args + stmt.value.keywords):
            continue  # (`c = Cache(c)`: its argument is the name's old value)
        fresh = names.fresh(target.id)
        target.id = fresh
        for n in after:
            n.id = fresh
