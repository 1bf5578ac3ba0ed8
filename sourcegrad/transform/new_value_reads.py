"""Reads of names into new values alone (part of :mod:`.held_items`): arithmetic, a comparison,
NumPy's functions that write nowhere, ``len``/``sum``, a test, the keys a loop runs over, a
comprehension over a dict's values making new values, the value returned. Such a read keeps
no reference to the object the name holds, so no other name comes to share it."""

from __future__ import annotations

import gast

from . import syntax as S

__all__ = ["comprehension_own", "consumed", "is_new", "only_read"]

#: builtins whose result is a new value, keeping no reference to what they are given
_READERS = frozenset({"len", "float", "int", "abs", "sum", "print", "bool"})
#: attributes of an array that describe it (a new value of their own)
_FACTS = frozenset({"shape", "ndim", "size", "dtype"})
#: NumPy functions that write into an argument
_WRITERS = frozenset({"copyto", "put", "place", "putmask", "fill_diagonal", "at"})


def is_new(value) -> bool:
    """Whether ``value`` is surely a new object (arithmetic, a NumPy call, a copy, a
    constant)."""
    if isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Constant)):
        return True
    if not isinstance(value, gast.Call):
        return False
    func = value.func
    if isinstance(func, gast.Attribute) and func.attr == "copy" and not value.args:
        return True  # (a copy: a new array, list or dict)
    dotted = S.dotted(func)
    return dotted is not None and dotted.split(".")[0] in ("np", "numpy")


def only_read(stmt, names: set) -> bool:
    """Whether every read of ``names`` in ``stmt`` (nested statements too) is into a new
    value keeping no reference to it, and ``stmt`` binds none of them nor writes into one (a
    comprehension's own variable of the same name is another)."""
    parents = S.parent_map(stmt)
    for node in S.walk(stmt):
        if isinstance(node, (gast.AugAssign, gast.Assign)):
            targets = [node.target] if isinstance(node, gast.AugAssign) else node.targets
            if any(S.names_in(t) & names for t in targets):
                return False
        if not (isinstance(node, gast.Name) and node.id in names):
            continue
        if comprehension_own(node, parents):
            continue
        if not isinstance(node.ctx, gast.Load) or not _consumed(node, parents):
            return False
    return True


def consumed(node, parents: dict) -> bool:
    """Whether the value read at ``node`` (``parents``: :func:`syntax.parent_map`'s of a
    statement around it) flows only into a new value, keeping no reference to it."""
    return _consumed(node, parents)


def comprehension_own(node, parents: dict) -> bool:
    """Whether the name at ``node`` is a variable of a comprehension around it (its own)."""
    up = parents.get(id(node))
    while up is not None:
        if isinstance(up, _COMPREHENSIONS):
            if any(node.id in S.names_in(g.target) for g in up.generators):
                return True
        up = parents.get(id(up))
    return False


_COMPREHENSIONS = (gast.GeneratorExp, gast.ListComp, gast.SetComp, gast.DictComp)


def _consumed(node, parents: dict) -> bool:
    """Whether the value read at ``node`` flows only into a new value (see
    :func:`_only_read`): through items (``e["a"]``) and ``.values()``/``.keys()``/``len``
    into arithmetic, a comparison, a NumPy function that writes nowhere, ``sum``, a test,
    or the keys a loop runs over."""
    while True:
        up = parents.get(id(node))
        if isinstance(up, (gast.BinOp, gast.UnaryOp, gast.Compare)):
            return True
        if isinstance(up, gast.Subscript) and up.value is node:
            node = up  # (an item: read on)
        elif isinstance(up, gast.Attribute) and up.attr in _FACTS:
            return True
        elif isinstance(up, gast.Attribute) and up.attr == "copy":
            call = parents.get(id(up))
            return isinstance(call, gast.Call) and call.func is up and not call.args
        elif isinstance(up, gast.Call) and node in up.args:
            func = S.dotted(up.func) or ""
            head, _, tail = func.partition(".")
            if any(k.arg in ("out", None) for k in up.keywords):
                return False
            return func in _READERS or (head in ("np", "numpy") and tail not in _WRITERS)
        elif isinstance(up, (gast.If, gast.While)) and up.test is node:
            return True
        elif isinstance(up, (gast.Return, gast.Tuple)):
            return _returned(node, parents)
        elif isinstance(up, gast.For) and up.iter is node:
            return isinstance(node, gast.Name)  # (a dict's keys)
        elif isinstance(up, gast.comprehension) and up.iter is node:
            return isinstance(node, gast.Name) and _iterated_into_new(node, parents)
        elif isinstance(up, gast.Attribute) and up.attr in ("values", "keys", "items"):
            call = parents.get(id(up))
            return isinstance(call, gast.Call) and _iterated_into_new(call, parents)
        else:
            return False


def _returned(node, parents: dict) -> bool:
    """Whether ``node`` is the value the function returns, or an item of a tuple returned."""
    up = parents.get(id(node))
    while isinstance(up, gast.Tuple):
        up = parents.get(id(up))
    return isinstance(up, gast.Return)


def _iterated_into_new(call, parents: dict) -> bool:
    """Whether ``d.values()`` or ``d.items()`` (``call``; or a name, its items read as values)
    is the iterable of a comprehension whose items are read only into new values: a list or
    dict of new values (``{k: v.copy() for k, v in d.items()}``), or a generator summed or
    read by NumPy (``sum(np.sum(v) for v in d.values())``: it runs there, not later)."""
    gen = parents.get(id(call))
    if not isinstance(gen, gast.comprehension) or gen.iter is not call:
        return False
    comp = parents.get(id(gen))
    if not isinstance(comp, _COMPREHENSIONS) or comp.generators != [gen]:
        return False
    target, attr = gen.target, call.func.attr if isinstance(call, gast.Call) else "values"
    if attr == "items" and isinstance(target, gast.Tuple) and len(target.elts) == 2:
        target = target.elts[1]  # (the key: a string or number of its own)
    elif attr == "keys":
        return True
    made = [comp.key, comp.value] if isinstance(comp, gast.DictComp) else [comp.elt]
    inner = gast.Expr(value=gast.Tuple(elts=[*made, *gen.ifs], ctx=gast.Load()))
    if not only_read(inner, S.names_in(target)):
        return False
    return not isinstance(comp, gast.GeneratorExp) or _consumed(comp, parents)
