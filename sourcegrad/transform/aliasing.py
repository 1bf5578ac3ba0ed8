"""Which names may share memory with a name written into (``y = x``, ``y = x[1:]``,
``y = x.T``, ``for y in x``, ``ys.append(x)``, ``ys = [x]``, ``d["k"] = x``): sourcegrad writes into a copy, so a write
through one of them is refused unless the other turns out to be a number."""

from __future__ import annotations

import gast

from . import syntax as S
from .fresh_values import is_fresh
from .node_facts import get_fact
from .value_sources import (
    DISPLAYS,
    ITEMS_OF_ARGUMENT,
    display_items,
    is_element,
    items_source,
    source_name,
    value_sources,
)


def aliases_of_written(
    fn, written: set | None = None, viewed_argument=None, containers=None, lists=frozenset()
) -> dict:
    """For each name written into (``x[k] = v``; or each name of ``written``), the names that
    may share its memory (``y = x``, ``y = x[1:]``, ``y = x.T``, ``for y in x``,
    ``ys.append(x)``): ``(name, line, element)``, ``element`` when it is a plain index or
    iteration, which shares memory only if it leaves more than a number.
    ``viewed_argument(call)``: the argument whose memory the result of a call of the user's
    function may share (``v = first_rows(y)``), or None. An item read out of a name that
    holds a dict or a list (every assignment makes one) is no link (``h = hs[t - 1]``, then
    ``hs[t] = ...``): a new item put into the container leaves the item read before as it
    was; not where an item is updated (``hs[k] += v`` changes an array item in place).
    A slice of a name of ``lists`` (names known to hold lists) is a new list, no link either
    (``a = hs[:]``, then ``a[0] = v``). :func:`item_aliases` gives the links of a write into
    an item of an item."""
    if written is None:
        written = {
            n.value.id
            for n in S.walk(fn)
            if isinstance(n, gast.Subscript)
            and isinstance(n.ctx, gast.Store)
            and isinstance(n.value, gast.Name)
        }
    if not written:
        return {}  # (every link found below is one of a name written into)
    out: dict = {}
    dicts = _dict_names(fn)
    updated = _updated_items(fn)
    if containers is None:
        containers = _dict_names(fn, _makes_container) - updated
    known = (containers, set(lists) - updated, updated)
    for node in S.walk(fn):
        if isinstance(node, gast.Assign) and _followed(node):
            continue  # the item written into and put back: no other name holds it
        if isinstance(node, gast.Assign):
            for target, value in _assigned_pairs(node.targets, node.value):
                link = (target, value, node.lineno)
                _assignment_aliases(link, written, out, viewed_argument, known)
            _chained_aliases(node, written, out)
        elif isinstance(node, gast.NamedExpr) and getattr(node, "lineno", None) is not None:
            # (one sourcegrad made has no line: `(f_1 := layer.f)(h)` names a callee)
            link = (node.target, node.value, node.lineno)
            _assignment_aliases(link, written, out, viewed_argument, known)
        elif isinstance(node, gast.For) and getattr(node.iter, "id", None) not in dicts:
            _iteration_aliases(node, written, out)  # (a loop over a dict's keys shares nothing)
        elif (
            isinstance(node, gast.Call)
            and isinstance(node.func, gast.Attribute)
            and node.func.attr == "append"
            and node.args
        ):
            holder, item = node.func.value, node.args[0]
            if isinstance(item, gast.Name) and item.id in written:
                _add(out, item.id, S.text(holder), node.lineno)
            _held_pieces(gast.List(elts=[item], ctx=gast.Load()), holder, node.lineno,
                         written - containers, out)  # fmt: skip
    _self_item_aliases(fn, written, out)
    return out


def _followed(node) -> bool:
    """Whether an assignment's sharing is followed where it is written through: the item
    of ``xs[t][k] = v`` put back (``item_write``), ``w = z[idx]`` whose writes go into ``z``
    too (``shared_link``)."""
    return get_fact(node, "item_write") is not None or get_fact(node, "shared_link") is not None


def _self_item_aliases(fn, written: set, out: dict) -> None:
    """``w = [z]`` then ``w = w[0]``: the name now holds an item it held before, so a write
    into it is linked to every name it was given as an item (``z``)."""
    for node in S.walk(fn):
        if not (isinstance(node, gast.Assign) and len(node.targets) == 1):
            continue
        name = getattr(node.targets[0], "id", None)
        if name not in written or name not in value_sources(node.value):
            continue
        for other in S.walk(fn):
            if isinstance(other, gast.Assign) and getattr(other.targets[0], "id", None) == name:
                for stored in _stored_names(other.value, whole=False) - {name}:
                    _add(out, name, stored, other.lineno)


def _dict_names(fn, makes=None) -> set:
    """Names every assignment of which makes a dict (a display, a comprehension, ``dict(...)``):
    a loop over one of them runs over its keys. With ``makes(value)``: the names every
    assignment of which makes what ``makes`` says."""
    makes = makes or _makes_dict
    made: dict = {}
    for node in S.nodes_of(fn, _BINDINGS):
        targets = node.targets if isinstance(node, gast.Assign) else []
        for target in targets:
            for n in S.walk(target):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                    value = node.value if target is n else None
                    made.setdefault(n.id, []).append(makes(value))
        if isinstance(node, (gast.For, gast.AugAssign, gast.AnnAssign, gast.NamedExpr)):
            for n in S.walk(node.target):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                    made.setdefault(n.id, []).append(False)
    return {name for name, kinds in made.items() if all(kinds)}


#: the statements and expressions that bind names (what :func:`_dict_names` reads)
_BINDINGS = (gast.Assign, gast.For, gast.AugAssign, gast.AnnAssign, gast.NamedExpr)


def _makes_dict(value) -> bool:
    if isinstance(value, (gast.Dict, gast.DictComp)):
        return True
    if isinstance(value, gast.BinOp) and isinstance(value.op, gast.BitOr):  # `p | {"b": v}`
        return isinstance(value.left, gast.Dict) or isinstance(value.right, gast.Dict)
    return isinstance(value, gast.Call) and getattr(value.func, "id", None) == "dict"


def item_aliases(fn, viewed_argument=None, containers=frozenset()) -> dict:
    """For each name written into through an item (``xs[t][k] = v``, lowered with the
    ``item_write`` fact): the names that may share the memory of its items, which Python's
    write changes too (``h = xs[t]``, ``for h in xs``; ``xs[t] = h``, ``xs = [h]``,
    ``xs.append(h)``, ``xs = dict(p)``, :func:`_held_items`), as :func:`aliases_of_written`
    gives them. A container updated through an item (``hs[k] += v``, ``hs`` one of
    ``containers`` or made a list or dict by every assignment) changes its item in place too."""
    deep = {get_fact(n, "item_write") for n in S.nodes_of(fn, (gast.Assign,))}
    deep.discard(None)
    updated = _updated_items(fn)
    if updated:
        known = set(containers) | _dict_names(fn, _makes_container)
        copies = _dict_names(fn, lambda v: _copied(v) and v.func.value.id in known)  # `hs.copy()`
        deep |= updated & (known | copies)
    if not deep:
        return {}
    out = aliases_of_written(fn, deep, viewed_argument, containers=set())
    for name in deep:
        _held_items(fn, name, out)
    return out


def _held_items(fn, name: str, out: dict) -> None:
    """Link ``name``, written into through an item, to each value it is given as an item that
    may be another name's memory (``xs[t] = h``, ``xs = [h]``, ``xs.append(h)``, ``xs =
    dict(p)``): only new objects may be its items (``np.zeros(...)``, arithmetic, a copy)."""
    for node in S.walk(fn):
        if isinstance(node, gast.Assign) and not _followed(node):
            for target in node.targets:
                for value in _bound_values(target, node.value, name):
                    if value is not None and (not _new_value(value) or _copied(value)):
                        _add(out, name, S.text(value), node.lineno)
        elif isinstance(node, (gast.AugAssign, gast.AnnAssign, gast.For, gast.NamedExpr)):
            if name in S.names_in(node.target) and not isinstance(node.target, gast.Subscript):
                _add(out, name, S.text(node), node.lineno)
        elif (
            isinstance(node, gast.Call)
            and isinstance(node.func, gast.Attribute)
            and isinstance(node.func.value, gast.Name)
            and node.func.value.id == name
            and node.func.attr in ("append", "insert", "extend", "update", "setdefault")
            and not (node.func.attr == "append" and all(_new_value(a) for a in node.args))
        ):
            _add(out, name, S.text(node), node.lineno)


def _copied(value) -> bool:
    """``xs.copy()`` of a name: a list's or dict's copy holds the same items."""
    return (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Attribute)
        and value.func.attr == "copy"
        and isinstance(value.func.value, gast.Name)
    )


def bound_values(fn, name: str) -> list:
    """Every value ``fn`` assigns to ``name`` (a part of a display unpacked into names; the
    whole value where the part is not known)."""
    return [
        v
        for node in S.walk(fn)
        if isinstance(node, gast.Assign)
        for t in node.targets
        if not isinstance(t, gast.Subscript)
        for v in _bound_values(t, node.value, name)
    ]


def _bound_values(target, value, name: str) -> list:
    """The values an assignment of ``value`` to ``target`` gives ``name``, as a whole or as
    an item (``name[k] = value``); the whole ``value`` where the part is not known."""
    if isinstance(target, gast.Name):
        return [value] if target.id == name else []
    if isinstance(target, gast.Subscript):
        return [value] if getattr(target.value, "id", None) == name else []
    if isinstance(target, (gast.Tuple, gast.List)) and name in S.names_in(target):
        if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(target.elts):
            return [v for t, e in zip(target.elts, value.elts) for v in _bound_values(t, e, name)]
        return [value]
    return []


def _new_value(value) -> bool:
    """Whether ``value`` is a new object none of whose parts another name may hold: a new
    array (:func:`~.fresh_values.is_fresh`), or a display, comprehension, ``dict()``, ``[0.0] * n`` or
    ``[a] + [b]`` of such."""
    if isinstance(value, (gast.List, gast.Tuple, gast.Set)):
        return all(_new_value(e) for e in value.elts)
    if isinstance(value, gast.Dict):
        return all(v is not None and _new_value(v) for v in value.values)
    if isinstance(value, (gast.ListComp, gast.SetComp)):
        return _new_value(value.elt)
    if isinstance(value, gast.DictComp):
        return _new_value(value.value)
    if isinstance(value, gast.BinOp) and isinstance(value.left, DISPLAYS + (gast.BinOp,)):
        if isinstance(value.op, gast.Mult):  # `[0.0] * n` holds one object n times
            return all(isinstance(e, gast.Constant) for e in getattr(value.left, "elts", [None]))
        return _new_value(value.left) and _new_value(value.right)
    if isinstance(value, gast.BinOp) and isinstance(value.right, DISPLAYS):
        return _new_value(gast.BinOp(left=value.right, op=value.op, right=value.left))
    if isinstance(value, gast.Call) and not value.args:
        if getattr(value.func, "id", None) in ("dict", "list"):  # `dict(cache=[])` too
            return all(k.arg is not None and _new_value(k.value) for k in value.keywords)
    return is_fresh(value)


def _updated_items(fn) -> set:
    """Names whose items an augmented assignment updates (``hs[k] += v``)."""
    return {
        n.target.value.id
        for n in S.nodes_of(fn, (gast.AugAssign,))
        if isinstance(n.target, gast.Subscript) and isinstance(n.target.value, gast.Name)
    }


def _makes_container(value) -> bool:
    """Whether ``value`` makes a new dict or list: a display, a comprehension, ``dict(...)``,
    ``list(...)``, ``[...] * n``."""
    if _makes_dict(value) or isinstance(value, (gast.List, gast.ListComp)):
        return True
    if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Mult):
        return isinstance(value.left, gast.List) or isinstance(value.right, gast.List)
    return isinstance(value, gast.Call) and getattr(value.func, "id", None) == "list"


def _add(out: dict, name, other, line, element=False) -> None:
    out.setdefault(name, []).append((other, line, element))


def _assigned_pairs(targets, value) -> list:
    """``(target, value)`` for each target of an assignment, a tuple target matched item by
    item with a tuple display of the same length (``b, c = a, np.cos(x)``)."""
    pairs = []
    for target in targets:
        if (
            isinstance(target, (gast.Tuple, gast.List))
            and isinstance(value, (gast.Tuple, gast.List))
            and len(target.elts) == len(value.elts)
            and not any(isinstance(e, gast.Starred) for e in [*target.elts, *value.elts])
        ):
            for t, v in zip(target.elts, value.elts):
                pairs.extend(_assigned_pairs([t], v))
        else:
            pairs.append((target, value))
    return pairs


def _chained_aliases(node, written: set, out: dict) -> None:
    """``a = b = np.zeros(3)``: the names bound hold one object."""
    names = [t.id for t in node.targets if isinstance(t, gast.Name)]
    for name in names:
        for other in names:
            if name in written and other != name:
                _add(out, name, other, node.lineno)


def _assignment_aliases(link, written: set, out: dict, viewed, known: tuple) -> None:
    """The links that ``target = value`` at ``line`` (``link``) makes (see
    :func:`aliases_of_written`); ``known``: the names that always hold a dict or list, and
    the names known to hold lists none of whose items is updated in place, and the names
    whose items are updated in place (``hs[k] += v``)."""
    target, value, line = link
    containers, lists, updated = known
    if _slice_of(value, lists) and isinstance(target, gast.Name) and target.id not in updated:
        return  # `a = hs[:]`: a new list (its items are shared: a loop over it is a link)
    holder = target.value if isinstance(target, gast.Subscript) else target
    for name in _stored_names(value, whole=isinstance(target, gast.Subscript)):
        if name in written and S.text(holder) != name:
            # `hs = [h]`, `d["h"] = h`: the container holds h itself, not a copy
            _add(out, name, S.text(holder), line)
    _held_pieces(value, holder, line, written - containers, out)
    sources = value_sources(value)
    if (
        not sources
        and viewed is not None
        and isinstance(value, gast.Call)
        and (S.names_in(target) | S.names_in(value)) & written  # a link could matter
    ):
        argument = viewed(value)
        sources = set() if argument is None else value_sources(argument)
    for src in sorted(sources):
        # `y = d["a"]`, then `d["a"] = ...` puts a new item in the dict: y keeps the old one
        item_of_container = src in containers and is_element(value)
        _link(target, value, src, line, written - {src} if item_of_container else written, out)


def _held_pieces(value, holder, line, written: set, out: dict) -> None:
    """Link ``holder`` (a node) with each name of ``written`` an item of the display
    ``value`` is a piece of (``keep = [d["a"]]``, ``(hs[0], 1)``, ``{"k": d["a"].T}``): a
    write into that piece (``d["a"][0] = v``) changes the item ``holder`` holds too. (An
    item replaced whole, ``d["a"] = v``, leaves the old one: ``written`` leaves out such
    containers.)"""
    for item in display_items(value):
        if isinstance(item, gast.Name):
            continue  # (the name itself, stored whole: `_stored_names`)
        for src in value_sources(item) & written:
            text = S.text(holder)
            if src != text:
                _add(out, src, text, line)


def _link(target, value, src: str, line, written: set, out: dict) -> None:
    """Link the names ``target`` binds with ``src``, whose memory ``value`` may share."""
    if isinstance(target, (gast.Tuple, gast.List)):
        for n in S.walk(target):  # `a, b = np.split(y, 2)`: each part a view of y
            if isinstance(n, gast.Name) and n.id != src:
                if src in written:
                    _add(out, src, n.id, line)
                if n.id in written:
                    _add(out, n.id, src, line)
    if not isinstance(target, gast.Name) or target.id == src:
        return
    if src in written:
        # `a = y[0]` is a view only when y has more than one axis: decided with ranks
        _add(out, src, target.id, line, is_element(value))
    if target.id in written:
        # `z = y` (or a view of y), then `z[k] = v`: Python would change y too
        _add(out, target.id, src, line)


def _slice_of(value, lists: set) -> bool:
    """Whether ``value`` is a slice of a name in ``lists`` (``hs[1:]``)."""
    return (
        isinstance(value, gast.Subscript)
        and isinstance(value.slice, gast.Slice)
        and getattr(value.value, "id", None) in lists
    )


def _stored_names(value, whole: bool) -> set:
    """The names a container display stores as they are (``[h, (g, 1)]``, ``{"h": h}``), and
    with ``whole`` the value itself where it is a name (stored into a container)."""
    if isinstance(value, gast.Name):
        return {value.id} if whole else set()
    if isinstance(value, gast.IfExp):  # `[z] if c else []`, `[] or [z]`: either container
        return _stored_names(value.body, whole) | _stored_names(value.orelse, whole)
    if isinstance(value, gast.BoolOp):
        return set().union(*(_stored_names(v, whole) for v in value.values))
    if isinstance(value, gast.Starred):
        return _stored_names(value.value, whole)
    if _hands_on_items(value):  # `list([z, x])`, `sorted((a, b))`: the display's items
        return _stored_names(value.args[0], False)
    if isinstance(value, (gast.List, gast.Tuple, gast.Set)):
        items = value.elts
    elif isinstance(value, gast.Dict):  # `{**d}` holds d's items, not d: not stored whole
        items = [v for k, v in zip(value.keys, value.values) if k is not None]
    else:
        return set()
    return set().union(*(_stored_names(item, True) for item in items))


def _hands_on_items(value) -> bool:
    """Whether ``value`` is a call such as ``list(xs)`` whose result holds its first
    argument's items themselves."""
    return (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Name)
        and value.func.id in ITEMS_OF_ARGUMENT
        and bool(value.args)
    )


def _iteration_aliases(node, written: set, out: dict) -> None:
    for name, source in _loop_items(node.target, node.iter):
        if name in written and source is not None and source != name:
            # `for row in y: row *= 2` changes y's rows: the loop variable is a view of y
            _add(out, name, source, node.lineno)
    src = source_name(node.iter)
    if src in written:
        # a write inside the loop would change the elements still to come: never allowed
        inside = any(
            isinstance(n, gast.Subscript)
            and isinstance(n.ctx, gast.Store)
            and isinstance(n.value, gast.Name)
            and n.value.id == src
            for n in S.walk(node)
        )
        element = (
            isinstance(node.iter, gast.Name) and isinstance(node.target, gast.Name) and not inside
        )
        _add(out, src, S.text(node.target), node.lineno, element)


def _loop_items(target, iterated) -> list:
    """``(loop variable, the name whose memory it may share)`` for the names a ``for``
    target binds: ``for row in y``, ``for i, row in enumerate(y)``, ``for a, b in zip(y, z)``,
    ``for v in d.values()``, ``for k, v in d.items()`` (None where the item is not taken from
    a name's memory)."""
    iterated = items_source(iterated)
    if isinstance(target, gast.Name):
        return [(target.id, source_name(iterated))]
    if not isinstance(target, (gast.Tuple, gast.List)):
        return []
    call = iterated if isinstance(iterated, gast.Call) else None
    name = getattr(call.func, "id", None) if call is not None else None
    if name == "enumerate" and call.args and len(target.elts) == 2:
        return _loop_items(target.elts[1], call.args[0])
    if name == "zip" and len(call.args) == len(target.elts):
        return [item for t, a in zip(target.elts, call.args) for item in _loop_items(t, a)]
    src = source_name(iterated)  # `for a, b in pairs`: parts of each item of pairs
    return [(n.id, src) for n in S.walk(target) if isinstance(n, gast.Name)]


def returned_parameter(fn) -> str | None:
    """The parameter of the function ``fn`` whose memory its return value may share
    (``return a``, ``return a[:2]``, ``v = a.T; return v``), or None."""
    params = {a.id for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    links: dict = {}  # local name -> the names it may have been made from as a view
    for node in S.walk(fn):
        if isinstance(node, gast.Assign) and len(node.targets) == 1:
            src = source_name(node.value)
            if src is not None and isinstance(node.targets[0], gast.Name):
                links.setdefault(node.targets[0].id, set()).add(src)
    for node in S.walk(fn):
        if isinstance(node, gast.Return) and node.value is not None:
            seen, todo = set(), [source_name(node.value)]
            while todo:
                name = todo.pop()
                if name is None or name in seen:
                    continue
                if name in params:
                    return name
                seen.add(name)
                todo.extend(links.get(name, ()))
    return None


def augmented_names(fn) -> set:
    """Names updated by an augmented assignment (``z += v``), which changes an array in place
    (and every other name of its memory with it)."""
    return {
        n.target.id
        for n in S.walk(fn)
        if isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name)
    }
