"""Ranks: the number of dimensions of each name, where the argument signature fixes it
(part of the analysis pass)."""

from __future__ import annotations

import gast
import numpy as np

from ..rules.facts import rank_of
from . import syntax as S
from .forms import Core
from .node_facts import get_fact
from .walk import walk_statements, written_names


def _example_rank(value):
    if isinstance(value, (float, int, complex, np.number)):
        return 0
    nd = getattr(value, "ndim", None)
    return nd if isinstance(nd, int) else None


def infer_ranks(
    core: Core, ops: dict, example_args, through_items: bool = False, returned=None
) -> dict:
    """Ranks of names, where the example arguments' ranks determine them; ``through_items``:
    also the rank of an item read out of a dict, list or tuple all of whose items have one
    rank (``d = {"a": p, "b": q}``, then ``for v in d.values()``); ``returned(op, ranks)``:
    the rank of what a call of the user's function returns, or None."""
    ranks: dict = {}
    items: dict | None = None
    if through_items:
        items = {_CHANGED: _changed_in_place(core)}
    if example_args is not None:
        for name, value in zip(core.params, example_args):
            ranks[name] = _example_rank(value)
            if items is not None:
                items[name] = _example_items(value)
    # until nothing changes: in a loop, a value assigned late in the body reaches the
    # statements before it on the next iteration (a rank only ever becomes unknown)
    for _ in range(20):
        before = (dict(ranks), dict(items or {}))
        _rank_sweep(core, (ops, items, returned), example_args, ranks)
        if (ranks, items or {}) == before:
            break
    return ranks


def _rank_sweep(core: Core, ops_items: tuple, example_args, ranks: dict) -> None:
    ops, items, returned = ops_items
    for stmt in walk_statements(core.node.body):
        if isinstance(stmt, gast.For) and isinstance(stmt.target, gast.Name):
            is_range = (
                isinstance(stmt.iter, gast.Call) and getattr(stmt.iter.func, "id", "") == "range"
            )
            ranks[stmt.target.id] = 0 if is_range else None
            if items is not None:
                items[stmt.target.id] = None
            continue
        if not isinstance(stmt, gast.Assign):
            continue
        op = ops[id(stmt)]
        targets = written_names(stmt)
        if len(targets) != 1:
            for t in targets if items is not None else ():
                items[t] = None  # (unpacked: its items not followed)
            continue
        (t,) = targets
        r = None
        if op.key == "path" and example_args is not None:
            r = _example_rank(follow_path(core, stmt, example_args))
        else:
            r = rank_of(op, ranks)
            if r is None and op.user_call and returned is not None:
                r = returned(op, ranks)
        if items is not None:
            r = _item_facts(core, stmt, (items, ranks, example_args), r)
        if t in ranks and ranks[t] != r:
            r = None  # a name assigned twice (in branches, in a loop) with different ranks
        ranks[t] = r


#: key of :func:`infer_ranks`'s item facts holding the names changed in place by a method
_CHANGED = object()
#: methods of a dict or list that leave it as it was
_READ_ONLY = frozenset({"values", "items", "keys", "copy", "get", "index", "count"})


def _changed_in_place(core: Core) -> set:
    """Names whose method (other than a reading one) the core calls: their items may change
    in ways the item facts do not follow."""
    return {
        n.func.value.id
        for n in S.walk(core.node)
        if isinstance(n, gast.Call)
        and isinstance(n.func, gast.Attribute)
        and isinstance(n.func.value, gast.Name)
        and n.func.attr not in _READ_ONLY
    }


def _example_items(value):
    """The rank every item (a dict's every value) of the example ``value`` has, or None."""
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, (list, tuple)) or not value:
        return None
    found = {_example_rank(v) for v in value}
    return found.pop() if len(found) == 1 else None


def _item_facts(core: Core, stmt, known: tuple, r):
    """The rank of ``stmt``'s target, ``r`` or, where that is None, the rank of the item it
    reads out of a container whose items all have one rank; records the rank the target's
    own items all have (an int; ``("pair", r)`` for the pairs of ``d.items()``; None)."""
    items, ranks, example_args = known
    (t,) = written_names(stmt)
    value, target = stmt.value, stmt.targets[0]
    own = None
    if isinstance(target, gast.Subscript):  # `d[k] = v`: one more item of v's rank
        own = _merged(items.get(t), ranks.get(getattr(value, "id", None), _rank_of_atom(value)))
    elif get_fact(stmt, "path") is not None and example_args is not None:
        own = _example_items(follow_path(core, stmt, example_args))
    elif isinstance(value, (gast.List, gast.Tuple, gast.Dict, gast.Set)):
        parts = value.values if isinstance(value, gast.Dict) else value.elts
        found = {
            (
                items.get(p.value.id)
                if isinstance(p, gast.Starred)
                else ranks.get(getattr(p, "id", None), _rank_of_atom(p))
            )
            for p in parts
        }
        own = found.pop() if len(found) == 1 and None not in found else None
    else:
        source = _items_source(value)
        if source is not None:
            own = items.get(source[0])
            if source[1] == "pairs":  # `d.items()`: (key, item) pairs
                own = ("pairs", own) if isinstance(own, int) else None
            elif source[1] == "item":
                r, own = _item_read(value, own, r)
    if t in items.get(_CHANGED, ()):
        own = None
    if t in items and items[t] != own:
        own = None
    items[t] = own
    return r


def _item_read(value, container, r) -> tuple:
    """``(rank, item facts)`` of ``value``, an item read out of a name whose item facts are
    ``container`` (``r``: its rank as the operation's rule gives it, kept where known)."""
    if container is None or r is not None:
        return r, None
    if isinstance(container, int):
        return container, None
    if container[0] == "pairs":  # `kv = seq[k]`: one pair
        return None, ("pair", container[1])
    if container[0] == "pair":  # `v = kv[1]`: the item; `kv[0]`, the key
        key = getattr(value.slice, "value", None)
        return (container[1] if key == 1 else None), None
    return None, None


def _merged(a, b):
    return a if a == b else None


def _rank_of_atom(atom):
    """The rank of a constant atom (a number: 0), else None."""
    if isinstance(atom, gast.Constant) and isinstance(atom.value, (int, float, complex)):
        return 0
    return None


def _items_source(value):
    """``(name, how)`` where ``value`` reads a container ``name``'s items: ``"same"`` (a copy,
    a slice, ``list(c)``, ``c.values()``), ``"pairs"`` (``c.items()``), ``"item"`` (``c[k]``,
    one item); else None."""
    if isinstance(value, gast.Name):
        return value.id, "same"
    if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name):
        how = "same" if isinstance(value.slice, gast.Slice) else "item"
        return value.value.id, how
    if not (isinstance(value, gast.Call) and len(value.args) <= 1):
        return None
    func = value.func
    if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and not value.args:
        how = {"values": "same", "copy": "same", "items": "pairs"}.get(func.attr)
        return None if how is None else (func.value.id, how)
    if (
        isinstance(func, gast.Name)
        and func.id in ("list", "tuple", "sorted", "reversed")
        and value.args
        and isinstance(value.args[0], gast.Name)
        and not value.keywords
    ):
        return value.args[0].id, "same"
    return None


def follow_path(core, stmt, example_args):
    """The example value a path read reads; None where the argument lacks it (a read under
    a branch the call does not take)."""
    root, keys = get_fact(stmt, "path")
    i = core.params.index(root)
    if i >= len(example_args):
        return None
    value = example_args[i]
    for k in keys:
        try:
            if isinstance(value, (dict, list, tuple)) and not (
                isinstance(k, str) and hasattr(type(value), "_fields")
            ):
                value = value[k]
            elif isinstance(k, str) and hasattr(type(value), "_fields"):
                value = getattr(value, k)
            elif isinstance(k, int) and getattr(value, "ndim", 0) > 0:
                value = value[k]
            elif isinstance(k, str) and not isinstance(value, dict):
                value = getattr(value, k)  # an attribute of one of the user's objects
            else:
                return None  # an array read by index: its rank is worked out elsewhere
        except (KeyError, IndexError, AttributeError, TypeError):
            # (a read on every path is refused by path_reads: this one is guarded, `if
            # hasattr(net, "scale"):`, and raises as Python does where it runs)
            return None
    return value
