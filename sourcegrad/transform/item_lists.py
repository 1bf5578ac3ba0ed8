"""Lists a container of the function's own holds, grown in place (part of the lowering of
writes, and of lists: :func:`indexed_item_loops`, :func:`named_item_lists`).

``cache = {"k": [], "v": []}`` then ``cache["k"].append(k)`` changes the list the dict holds;
so do ``cache["k"].extend([a, b])``, ``cache["k"] += [a]``, and a path deeper in
(``layers = [{"cache": []}, ...]``, ``layers[i]["cache"].append(h)``). Where no other name,
container or call can hold one of those lists while they grow (each container on the path is
a new one: a display, a comprehension, ``defaultdict(list)``, an item stored a new one; and
each read of one before the last growth, ``cache["k"]``, is copied or read through at once:
``np.stack(cache["k"])``, ``[*cache["k"], v]``, ``cache["k"][-1]``, ``len(cache["k"])``; a
read after the last growth is free), the change shows nowhere else, so
:func:`rebuilt_item_lists` rewrites it as a new list in its place, ``cache["k"] =
[*cache["k"], k]`` (one such statement per item of an ``extend``), which the lowering follows
as a value. An argument's lists grown by constant keys (``d["hs"].append(h)``) are rebuilt
alike: the derivative's write back leaves the caller's lists, the same objects, holding what
Python's call leaves. Any other container is left to the refusal of
``writes._refuse_held_container_change``.

:func:`indexed_item_loops` reads a loop over such a container whose variable is grown
(``for r in rows: r.append(v)``, ``for layer in layers: layer["cache"].append(h)``) by
position, ``for i in range(len(rows)): rows[i].append(v)``, where the variable is not bound
in the body nor read after the loop and the body does not mention the container.
:func:`named_item_lists` (both before :mod:`.lists`) makes such a dict read only by constant
keys until its last growth a name per key (``cache_k = []; cache_k.append(k)``), the dict
built again after that growth's top-level statement: no dict copied at every step.
"""

from __future__ import annotations

import gast

from . import syntax as S
from .walk import replace_statement

__all__ = ["indexed_item_loops", "named_item_lists", "rebuilt_item_lists"]

#: the methods rewritten, and the items each adds to the list (``extend`` of a display)
_GROWING = {"append": lambda v: [v], "extend": lambda v: list(v.elts)}
#: builtins reading a list they are given, keeping no reference to it
_READERS = frozenset(
    {"len", "sum", "list", "tuple", "sorted", "reversed", "min", "max", "any", "all"}
)  # (`reversed` steps down from the length it was made at: items added later are not seen)
_COMPREHENSIONS = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)


def rebuilt_item_lists(fn: gast.FunctionDef, names: S.NameGen) -> None:
    """Rewrite, in place, the growth statements of ``fn``'s own body (``d[k].append(v)``,
    ``d[k].extend([...])``, ``d[k] += [...]``, deeper paths too) as ``d[k] = [*d[k], v]``
    where ``d`` is a container of the function's own whose lists nothing else may hold (see
    the module)."""
    for name in _private_names(fn):
        for stmt in [s for s in _statements(fn) if _growth(s, name)]:
            path, items = _growth(stmt, name)
            first = []
            if len(items) > 1 and any(name in S.names_in(v) for v in items):
                # every item is evaluated before the list grows, as `extend` does
                temps = [names.fresh("item") for _ in items]
                first = [gast.copy_location(S.assign(t, v), stmt) for t, v in zip(temps, items)]
                items = [S.name(t) for t in temps]
            rebuilt = first + [gast.copy_location(_grown(path, v), stmt) for v in items]
            if not rebuilt:
                continue
            _replace_by(fn, stmt, rebuilt)


def _grown(path, item):
    """``path = [*path, item]``."""
    grown = gast.List(
        elts=[gast.Starred(value=S.clone(path), ctx=gast.Load()), S.clone(item)], ctx=gast.Load()
    )
    target = S.clone(path)
    target.ctx = gast.Store()
    return gast.Assign(targets=[target], value=grown, type_comment=None)


def _replace_by(fn, old, new: list) -> None:
    for body in S.blocks(fn.body):
        for i, stmt in enumerate(body):
            if stmt is old:
                body[i : i + 1] = new
                return


def _statements(fn):
    """The statements of ``fn``'s own body, any nesting of blocks (not nested functions)."""
    for body in S.blocks(fn.body):
        yield from body


def _path(node) -> tuple | None:
    """``(name, keys)`` of ``name[k1][k2]...`` (keys constants or names), else None."""
    keys = []
    while isinstance(node, gast.Subscript) and isinstance(node.slice, (gast.Constant, gast.Name)):
        keys.append(node.slice)
        node = node.value
    if not isinstance(node, gast.Name) or not keys:
        return None
    return node.id, keys[::-1]


def _growth(stmt, name: str | None = None) -> tuple | None:
    """``(path, items)`` where ``stmt`` grows the list at ``path``, an item path of ``name``
    (any name where None): ``path.append(v)``, ``path.extend([...])``, ``path += [...]``."""
    if isinstance(stmt, gast.AugAssign) and isinstance(stmt.op, gast.Add):
        path, value = stmt.target, stmt.value
        if not isinstance(value, (gast.List, gast.Tuple)):
            return None
        items = list(value.elts)
    else:
        call = stmt.value if isinstance(stmt, gast.Expr) else None
        if not (
            isinstance(call, gast.Call)
            and isinstance(call.func, gast.Attribute)
            and call.func.attr in _GROWING
            and len(call.args) == 1
            and not call.keywords
        ):
            return None
        value = call.args[0]
        if call.func.attr == "extend" and not isinstance(value, (gast.List, gast.Tuple)):
            return None
        path, items = call.func.value, _GROWING[call.func.attr](value)
    if any(isinstance(v, gast.Starred) for v in items):
        return None
    found = _path(path)
    if found is None or (name is not None and found[0] != name):
        return None
    return path, items


def _growth_keys(fn, name: str) -> list:
    """The key paths at which ``fn`` grows a list of ``name``."""
    return [_path(g[0])[1] for s in _statements(fn) for g in [_growth(s, name)] if g]


def _private_names(fn) -> list:
    """The names of ``fn`` whose grown lists nothing else may hold (see the module)."""
    params = {a.id for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    grown = {_path(g[0])[0] for s in _statements(fn) for g in [_growth(s)] if g}
    parents = S.parent_map(fn)
    out = []
    for name in sorted(grown - S.captured_names(fn)):
        paths = _growth_keys(fn, name)
        argument = name in params  # (by constant keys: the caller's lists are written back)
        if argument and not all(isinstance(k, gast.Constant) for p in paths for k in p):
            continue
        if len({len(p) for p in paths}) == 1 and _made_new(fn, name, paths, argument):
            if _reads_copy(fn, name, paths, parents):
                out.append(name)
    return out


def _may_match(keys: list, paths: list) -> bool:
    """Whether the key path ``keys`` may lead to (or into) a grown list: some growth path
    whose constant keys agree with ``keys``'s constants position by position."""

    def agree(a, b):
        both = isinstance(a, gast.Constant) and isinstance(b, gast.Constant)
        return not both or a.value == b.value

    return any(all(agree(a, b) for a, b in zip(keys, p)) for p in paths)


def _made_new(fn, name: str, paths: list, argument: bool = False) -> bool:
    """Whether every binding of ``name`` makes new containers down to the grown lists, every
    item stored on a path that may lead to one a new one, and ``name`` bound by nothing else
    (an ``argument`` by nothing at all)."""
    depth, made = len(paths[0]), argument
    for node in S.walk(fn):
        if isinstance(node, (gast.For, gast.NamedExpr, gast.AnnAssign, gast.comprehension)):
            if name in S.names_in(node.target):
                return False
        if isinstance(node, gast.AugAssign) and name in S.names_in(node.target):
            if not _growth(node, name):
                found = _path(node.target)
                if found is None or len(found[1]) <= depth and _may_match(found[1], paths):
                    return False
        if not isinstance(node, gast.Assign):
            continue
        for target in node.targets:
            if isinstance(target, gast.Name) and target.id == name:
                if argument or not _new_tree(node.value, depth, paths, 0):
                    return False
                made = True
                continue
            found = _path(target)
            if found is not None and found[0] == name:
                level = len(found[1])
                if level <= depth and _may_match(found[1], paths):
                    if not _new_tree(node.value, depth - level, paths, level):
                        return False
            elif name in S.names_in(target):
                return False
    return made


def _new_tree(value, depth: int, paths: list, level: int) -> bool:
    """Whether ``value`` makes new containers ``depth`` levels down to new lists (those at
    constant keys no growth path at ``level`` names may hold anything)."""
    if depth == 0:
        return _new_list(value)
    below = (depth - 1, paths, level + 1)
    if (
        isinstance(value, gast.Call)
        and getattr(value.func, "id", None) == "dict"
        and not value.args
        and all(k.arg is not None for k in value.keywords)
    ):  # `dict(cache=[])`: the display `{"cache": []}`
        keys = [S.const(k.arg) for k in value.keywords]
        value = gast.Dict(keys=keys, values=[k.value for k in value.keywords])
    if isinstance(value, gast.Call) and not value.keywords:
        func = getattr(value.func, "id", None) or getattr(value.func, "attr", None)
        return (
            depth == 1
            and func == "defaultdict"
            and [getattr(a, "id", None) for a in value.args] == ["list"]
        )
    if isinstance(value, gast.Dict):
        return None not in value.keys and all(
            _new_tree(v, *below) or not _may_match_at(k, paths, level)
            for k, v in zip(value.keys, value.values)
        )
    if isinstance(value, gast.List):
        return all(not isinstance(v, gast.Starred) and _new_tree(v, *below) for v in value.elts)
    if isinstance(value, gast.DictComp):
        return _new_tree(value.value, *below)
    return isinstance(value, gast.ListComp) and _new_tree(value.elt, *below)


def _may_match_at(key, paths: list, level: int) -> bool:
    if not isinstance(key, gast.Constant):
        return True
    return any(
        not isinstance(p[level], gast.Constant) or p[level].value == key.value for p in paths
    )


def _new_list(value) -> bool:
    """A list made here: a display, a comprehension, ``list(...)``, or a sum of lists."""
    if isinstance(value, (gast.List, gast.ListComp)):
        return True
    if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add):
        return _new_list(value.left) or _new_list(value.right)
    return isinstance(value, gast.Call) and getattr(value.func, "id", None) == "list"


def _last_growth(fn, name: str) -> int:
    """The position in ``fn.body`` of the last top-level statement growing a list of
    ``name``."""
    return max(
        i
        for i, top in enumerate(fn.body)
        for s in S.walk(top)
        if isinstance(s, gast.stmt) and _growth(s, name)
    )


def _reads_copy(fn, name: str, paths: list, parents: dict) -> bool:
    """Whether every read of ``name`` before its last growth is ``len(name)``, ``k in
    name``, a growth's receiver, an item stored into, or an item read on a path to a grown
    list that copies the list or reads through it at once (:func:`_item_read_copies`)."""
    last = _last_growth(fn, name)
    for top in fn.body[: last + 1]:
        for node in S.name_nodes(top):
            if node.id != name or isinstance(node.ctx, gast.Store):
                continue
            if not _read_copies(node, paths, parents):
                return False
    return True


def _read_copies(node, paths: list, parents: dict) -> bool:
    """Whether the read ``node`` of a private name leaves no other holder of a grown list."""
    parent = parents.get(id(node))
    if isinstance(parent, gast.Call) and getattr(parent.func, "id", None) == "len":
        return True
    if isinstance(parent, gast.Compare) and node in parent.comparators:
        return True
    top, keys = node, []
    while True:
        up = parents.get(id(top))
        if not (isinstance(up, gast.Subscript) and up.value is top):
            break
        keys.append(up.slice)
        top = up
    depth = len(paths[0])
    if not keys:
        return False
    if len(keys) > depth or not _may_match(keys, paths):
        return True  # (an item of a grown list, or a container no growth reaches)
    if isinstance(top.ctx, gast.Store):
        return True  # (checked by _made_new)
    if len(keys) < depth:
        up = parents.get(id(top))
        return isinstance(up, gast.Compare) or (
            isinstance(up, gast.Call) and getattr(up.func, "id", None) == "len"
        )
    return _item_read_copies(top, parents)


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
    if isinstance(parent, gast.AugAssign) and parent.target is item:
        return True  # (a growth: checked by _made_new)
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


# ---------------------------------------------------------------- loops over the items


def indexed_item_loops(fn: gast.FunctionDef, names: S.NameGen) -> None:
    """Rewrite, in place, ``for r in rows:`` whose body grows a list through ``r`` as a loop
    over the positions reading ``rows[i]`` for ``r`` (see the module), where ``rows`` then
    is a container whose grown lists nothing else may hold; other loops are left."""
    done = []
    for loop in [n for n in S.own_scope_nodes(fn) if isinstance(n, gast.For)]:
        if _indexable(fn, loop):
            index = names.fresh("i")
            new = _indexed(loop, index)
            replace_statement(fn, loop, new)
            done.append((loop, new))
    if not done:
        return
    private = set(_private_names(fn))
    for loop, new in done:
        if loop.iter.id not in private:
            replace_statement(fn, new, loop)


def _indexable(fn, loop) -> bool:
    """Whether ``loop`` is ``for r in rows:`` (no ``else``) whose body grows a list through
    ``r``, binds ``r`` nowhere, does not mention ``rows`` (bound to lists alone), and ``r``
    is read nowhere else."""
    if not (
        isinstance(loop.target, gast.Name)
        and isinstance(loop.iter, gast.Name)
        and not loop.orelse
        and loop.target.id != loop.iter.id
    ):
        return False
    var, rows = loop.target.id, loop.iter.id
    if not all(  # (a loop over a dict runs over its keys)
        isinstance(n.value, (gast.List, gast.ListComp))
        for n in S.nodes_of(fn, (gast.Assign,))
        if any(isinstance(t, gast.Name) and t.id == rows for t in n.targets)
    ):
        return False
    body = gast.Module(body=loop.body, type_ignores=[])
    grows = False
    for s in S.walk(body):
        if isinstance(s, (gast.FunctionDef, gast.Lambda, gast.ClassDef)):
            return False
        if isinstance(s, gast.AugAssign) and isinstance(s.target, gast.Name):
            if s.target.id == var and not _growth_of_var(s, var):
                return False
        if isinstance(s, gast.stmt) and _growth_of_var(s, var):
            grows = True
    stores = {n.id for n in S.name_nodes(body) if isinstance(n.ctx, gast.Store)}
    aug = {
        s.target.id
        for s in S.walk(body)
        if isinstance(s, gast.AugAssign) and isinstance(s.target, gast.Name)
    }
    if not grows or rows in S.names_in(body) or var in stores - aug:
        return False
    return not _mentioned_outside(fn, loop, var)


def _growth_of_var(stmt, var: str) -> bool:
    """Whether ``stmt`` grows ``var`` or a list on an item path of it."""
    probe = S.clone(stmt)
    for n in S.name_nodes(probe):
        if n.id == var:
            n.id = "__probe__"
    holder = gast.Subscript(value=S.name("__rows__"), slice=S.name("__i__"), ctx=gast.Load())
    _substituted(probe, "__probe__", holder)
    return _growth(probe, "__rows__") is not None


def _mentioned_outside(fn, loop, var: str) -> bool:
    """Whether ``var`` is mentioned in ``fn`` outside ``loop`` (a comprehension's own
    variable of that name aside)."""
    inside = {id(n) for n in S.walk(loop)}
    hidden = set()
    for n in S.walk(fn):
        if isinstance(n, _COMPREHENSIONS) and any(
            var in S.names_in(g.target) for g in n.generators
        ):
            hidden |= {id(m) for m in S.walk(n)}
    return any(
        n.id == var and id(n) not in inside and id(n) not in hidden for n in S.name_nodes(fn)
    )


def _indexed(loop, index: str):
    """``for index in range(len(rows)):`` and the body with ``rows[index]`` for ``r``."""
    rows, var = loop.iter.id, loop.target.id
    body = S.clone(loop.body)
    holder = gast.Subscript(value=S.name(rows), slice=S.name(index), ctx=gast.Load())
    for stmt in body:
        _substituted(stmt, var, holder)
    length = S.call(S.name("len"), [S.name(rows)])
    new = gast.For(
        target=S.name(index, store=True),
        iter=S.call(S.name("range"), [length]),
        body=body,
        orelse=[],
        type_comment=None,
    )
    return gast.copy_location(new, loop)


def _substituted(node, var: str, holder) -> None:
    """Replace, in place, every ``var`` under ``node`` by a copy of ``holder`` (a store
    context kept)."""
    for parent in S.walk(node):
        for field, value in gast.iter_fields(parent):
            if isinstance(value, gast.Name) and value.id == var:
                setattr(parent, field, _holder_for(value, holder))
            elif isinstance(value, list):
                value[:] = [
                    _holder_for(v, holder) if isinstance(v, gast.Name) and v.id == var else v
                    for v in value
                ]


def _holder_for(name, holder):
    new = S.clone(holder)
    new.ctx = type(name.ctx)()
    return gast.copy_location(new, name) if hasattr(name, "lineno") else new


# ---------------------------------------------------------------- a dict's items as names


def named_item_lists(fn: gast.FunctionDef, names: S.NameGen) -> None:
    """Rewrite, in place, a dict of the function's own read and written only through constant
    keys until its last list growth (``cache = {"h": [], "n": 0}``, ``cache["h"].append(h)``,
    ``cache["n"] += 1``) as a name per key (``cache_h = []``, ``cache_h.append(h)``), and the
    dict built again from them after the top-level statement of that growth (``cache =
    {"h": cache_h, "n": cache_n}``): its lists then grow as a name's do, in place in the
    running code. Every other dict is left."""
    private = set(_private_names(fn))  # (no other name can hold one of its lists)
    for top, stmt in enumerate(list(fn.body)):
        found = _keyed_dict(stmt)
        if found not in private:
            continue
        last = _last_growth_at(fn, found)
        if last is None or last <= top:
            continue
        keys = [k.value for k in stmt.value.keys]
        span = fn.body[top : last + 1]
        if not _only_keyed(span, found, set(keys), stmt) or _bound_elsewhere(fn, found, stmt):
            continue
        local = {k: names.fresh(f"{found}_{k}" if k.isidentifier() else found) for k in keys}
        new = [
            gast.copy_location(S.assign(local[k], v), stmt) for k, v in zip(keys, stmt.value.values)
        ]
        for s in span[1:]:
            _keyed_to_names(s, found, local)
        rebuilt = gast.Dict(
            keys=[S.const(k) for k in keys], values=[S.name(local[k]) for k in keys]
        )
        back = gast.copy_location(S.assign(found, rebuilt), fn.body[last])
        back.lineno = getattr(fn.body[last], "end_lineno", None) or back.lineno  # (after it)
        fn.body[top : last + 1] = new + span[1:] + [back]
        return named_item_lists(fn, names)  # (positions moved: look again)


def _keyed_dict(stmt) -> str | None:
    """``d`` of ``d = {"a": ..., ...}`` (string keys, at least one), else None."""
    if not (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
        and isinstance(stmt.value, gast.Dict)
        and stmt.value.keys
    ):
        return None
    keys = stmt.value.keys
    if not all(isinstance(k, gast.Constant) and isinstance(k.value, str) for k in keys):
        return None
    return stmt.targets[0].id if len({k.value for k in keys}) == len(keys) else None


def _last_growth_at(fn, name: str) -> int | None:
    """The position in ``fn.body`` of the last top-level statement growing a list of
    ``name`` through a constant key; None where there is none."""
    found = [
        i
        for i, top in enumerate(fn.body)
        for s in S.walk(top)
        if isinstance(s, gast.stmt)
        and (g := _growth(s, name)) is not None
        and all(isinstance(k, gast.Constant) for k in _path(g[0])[1])
    ]
    return max(found) if found else None


def _only_keyed(span: list, name: str, keys: set, made) -> bool:
    """Whether every use of ``name`` in ``span`` after ``made`` is ``name[k]`` with ``k`` one
    of ``keys`` (read, stored or updated; not deleted), outside nested functions."""
    parents = S.parent_map(gast.Module(body=span, type_ignores=[]))
    for s in span:
        for node in S.name_nodes(s):
            if node.id != name or s is made and node is made.targets[0]:
                continue
            up = parents.get(id(node))
            if not (
                isinstance(up, gast.Subscript)
                and up.value is node
                and isinstance(up.slice, gast.Constant)
                and up.slice.value in keys
                and not isinstance(up.ctx, gast.Del)
            ):
                return False
    return True


def _bound_elsewhere(fn, name: str, made) -> bool:
    """Whether ``name`` is bound in ``fn`` other than by ``made``."""
    return any(
        isinstance(n.ctx, gast.Store) and n is not made.targets[0]
        for n in S.name_nodes(fn)
        if n.id == name
    ) or any(isinstance(n, gast.Global | gast.Nonlocal) for n in S.walk(fn))


def _keyed_to_names(stmt, name: str, local: dict) -> None:
    """Replace, in place, each ``name[k]`` under ``stmt`` by the name ``local[k]``."""
    for parent in S.walk(stmt):
        for field, value in gast.iter_fields(parent):
            items = value if isinstance(value, list) else [value]
            for i, v in enumerate(items):
                if (
                    isinstance(v, gast.Subscript)
                    and isinstance(v.value, gast.Name)
                    and v.value.id == name
                    and isinstance(v.slice, gast.Constant)
                ):
                    new = gast.copy_location(S.name(local[v.slice.value]), v)
                    new.ctx = type(v.ctx)()
                    if isinstance(value, list):
                        value[i] = new
                    else:
                        setattr(parent, field, new)
