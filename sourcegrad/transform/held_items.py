"""Objects a dict or list display of the function's own holds, and names and shallow copies
hold too, kept in step (part of normalize, before :mod:`.shared_writes`).

A list is followed as a dict keyed by position: ``hs = [z, 0.5 * h]`` holds ``z`` at ``0``,
``list(hs)``, ``hs[:]``, ``[*hs]`` and ``hs.copy()`` are its shallow copies, ``hs.append(v)``
holds ``v`` at the next position, ``hs[-1]`` reads the last; a loop over it is read as its
passes, and any other read of it whole (``hs + [v]``, ``pop``, a loop not so read) leaves the
function as it was.

``d = {"a": z, "b": 0.5 * h}`` holds ``z`` itself; ``e = {**d}`` (``dict(d)``, ``d.copy()``,
``d | {}``, ``{k: v for k, v in d.items()}``) holds the same objects again, ``v = e["a"]``
(``e.get("a")``, ``e.setdefault("a", ...)``, made that read) names one of them, and ``e["c"] =
z`` (``e.update(c=z)``, made that store) puts one in. A write in
place into such an object (``z[0] = v``, ``v *= 0.9`` of an array, ``e["a"] += 0.1`` of an
array, ``e["b"][0] = 0.3``) changes it for every holder, as Python shows. Each write is
followed by a store of the object into every other holder (``d["a"] = v``) and a read of it
into every other name (``z = e["a"]``): in Python each is a store or read of the object
already there, so nothing changes; the derivative, which follows values, sees the new value
everywhere. These and the bindings that make holders carry the ``shared_link`` fact, which
aliasing skips.

The top-level statements are read in order, from the first such display on; a holder or name
given another object leaves it. Only what can be followed is rewritten: a statement that
reads one of these names into anything but a new value (a view, a list, a call of another
function: :mod:`.new_value_reads`), a write in a branch or loop, or a key not known leaves the
whole function as it was, to aliasing's refusals. A loop over a followed dict's values or
items (of a few keys, its body keeping them) is read as its passes, ``v = e["a"]`` and the body
for each key in order; a write in place into an object that may be a number (``e["a"] +=
0.1``) is followed where it turns out to be an array, tested before the update (``if
isinstance(e["a"], np.ndarray):`` the update and the stores, ``else:`` the update alone).
"""

from __future__ import annotations

import gast

from . import syntax as S
from .held_forms import (
    Abandon,
    constant_index,
    copy_source,
    display,
    keeps_keys,
    stepped_body,
    updates_whole,
    whole_list_read,
    write_reads,
    write_root,
)
from .name_kinds import NameKinds
from .new_value_reads import is_new, only_read
from .node_facts import set_fact

__all__ = ["follow_held_items"]


class _Slot:
    """One object: the names bound to it and the ``(dict, key)`` items holding it."""

    def __init__(self, names=(), holders=(), array=False):
        self.names, self.holders, self.array = set(names), set(holders), array


def follow_held_items(fn, params: list, examples, numpy: bool) -> None:
    """Rewrite ``fn``'s top-level statements in place as the module docstring says, or leave
    them all as they were."""
    if not numpy or not any(display(s) for s in fn.body):
        return
    kinds = NameKinds(fn, dict(zip(params, examples or ())), numpy)
    state = _State(fn, set(params), kinds)
    body = stepped_body(fn, state.step)
    if body is None:
        return
    if state.marked:
        for stmt in state.marked:
            set_fact(stmt, "shared_link", "held")
        fn.body = body


class _State:
    """The dicts followed (name -> {key: slot}) and the names bound to their objects."""

    def __init__(self, fn, params: set, kinds: NameKinds):
        self.dicts: dict = {}  # (lists too: by position)
        self.lists: set = set()  # the followed containers that are lists
        self.names: dict = {}  # name -> slot
        self.marked: list = []
        self.kinds = kinds
        self.closed = params | S.captured_names(fn) | _declared(fn)
        self.tainted: set = set()  # names a loop may have rebound: not followed, not written

    def tracked(self) -> set:
        return set(self.dicts) | set(self.names)

    def step(self, stmt) -> list:
        """``stmt`` and what keeps the holders and names of what it writes in step."""
        mentioned = S.names_in(stmt)
        if not mentioned & (self.tracked() | self.tainted | _made_names(stmt)):
            return [stmt]
        if isinstance(stmt, gast.Assign):
            self.tainted -= {t.id for t in stmt.targets if isinstance(t, gast.Name)}
        if mentioned & self.tainted and not only_read(stmt, self.tainted):
            raise Abandon
        unrolled = self.unrolled(stmt)
        if unrolled is None:
            unrolled = self.decided(stmt)
        if unrolled is not None:
            return [made for inner in unrolled for made in self.step(inner)]
        if whole_list_read(stmt, self.lists):
            raise Abandon
        for read in (self.made, self.bound, self.stored, self.appended, self.written, self.rebound):
            out = read(stmt)
            if out is not None:
                return out
        if isinstance(stmt, gast.For) and self.loop_rebinds(stmt):
            return [stmt]
        if not only_read(stmt, self.tracked()):
            raise Abandon
        return [stmt]

    def unrolled(self, loop):
        """``for v in d.values()`` (``for k, v in d.items()``, ``for v in hs`` of a list)
        over a followed dict of a few keys, as its passes: ``k = "a"; v = d["a"]`` and the
        body with ``k`` read as ``"a"``, for each key in order; None where the body may change
        the dict's keys (a store by another key, a method), or the loop is another."""
        over = self.loop_over(loop)
        if over is None:
            return None
        name, parts = over
        if not all(p is None or isinstance(p, gast.Name) for p in parts) or parts[1] is None:
            return None
        keys = list(self.dicts[name])
        key_name = parts[0].id if parts[0] is not None else None
        if len(keys) > 8 or not keeps_keys(loop.body, name, key_name):
            return None
        out = []
        for key in keys:
            if key_name is not None:
                out.append(_placed(S.assign(key_name, S.const(key), loop.lineno), loop))
            read = gast.Subscript(value=S.name(name), slice=S.const(key), ctx=gast.Load())
            out.append(_placed(S.assign(parts[1].id, read, loop.lineno), loop))
            for stmt in loop.body:
                stmt = S.clone(stmt)
                if key_name is not None:
                    stmt = S.rename(stmt, {key_name: S.const(key)})
                out.append(stmt)
        return out

    def decided(self, branch):
        """The statements of ``if "k" not in d:`` (``in``) that run, where ``d`` is a
        followed dict, whose keys are known here (``d.setdefault("k", v)`` is lowered to such a
        branch storing ``v``); None for another statement."""
        test = branch.test if isinstance(branch, gast.If) else None
        if not (
            isinstance(test, gast.Compare)
            and len(test.ops) == 1
            and isinstance(test.ops[0], (gast.In, gast.NotIn))
            and isinstance(test.left, gast.Constant)
            and getattr(test.comparators[0], "id", None) in set(self.dicts) - self.lists
        ):
            return None
        held = test.left.value in self.dicts[test.comparators[0].id]
        return branch.body if held == isinstance(test.ops[0], gast.In) else branch.orelse

    def loop_over(self, loop):
        """``(dict, [key target or None, value target])`` of a loop over a followed dict's
        values or items, or a followed list's items; else None."""
        call = loop.iter if isinstance(loop, gast.For) and not loop.orelse else None
        if isinstance(call, gast.Name) and call.id in self.lists:
            return call.id, [None, loop.target]
        if not (
            isinstance(call, gast.Call)
            and isinstance(call.func, gast.Attribute)
            and call.func.attr in ("values", "items")
            and getattr(call.func.value, "id", None) in set(self.dicts) - self.lists
            and not call.args
        ):
            return None
        target = loop.target
        parts = target.elts if isinstance(target, gast.Tuple) else [None, target]
        if len(parts) != 2 or call.func.attr == "values" and parts[0] is not None:
            return None
        return call.func.value.id, parts

    def loop_rebinds(self, loop) -> bool:
        """Whether ``loop`` binds followed names as its variable alone and otherwise only
        reads followed names into new values: they leave their objects (tainted: a loop that
        runs no times leaves them as they were)."""
        bound = S.names_in(loop.target) & set(self.names)
        if not bound or S.names_in(loop.target) & set(self.dicts):
            return False
        rest = self.tracked() - bound
        if not only_read(gast.Expr(value=loop.iter), self.tracked()):
            return False
        if not all(only_read(s, rest) for s in loop.body + loop.orelse):
            return False
        self.leave(bound)
        self.tainted |= bound
        return True

    def leave(self, names: set) -> None:
        """The ``names`` no longer name their objects (a dict's name: the dict is dropped)."""
        for name in names & set(self.names):
            self.names.pop(name).names.discard(name)
        for name in names & set(self.dicts):
            for key, slot in self.dicts.pop(name).items():
                slot.holders.discard((name, key))
        self.lists -= names

    def fresh_name(self, name: str) -> bool:
        """Whether ``name`` may become a name followed here: a local of the function's own."""
        return name not in self.closed

    def made(self, stmt):
        """``d = {...}``, ``e = {**d}`` or ``e = {k: v.copy() for k, v in d.items()}``: a new
        dict of the objects given (or of new ones)."""
        shape = display(stmt)
        if shape is None:
            if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1):
                return None
            items = self.copied_items(stmt.value)
            if items is None or not isinstance(stmt.targets[0], gast.Name):
                return None
            name = stmt.targets[0].id
            source = copy_source(stmt.value)  # (None of a comprehension: a dict)
            listed = source is not None and source[0] in self.lists
        else:
            name, values = shape
            listed = isinstance(stmt.value, gast.List)
            if not all(self.holdable(v) for v in values.values()):
                if S.names_in(stmt.value) & self.tracked():
                    raise Abandon
                return [stmt]  # (a dict not followed, holding no object followed)
            items = {k: self.item_slot(v) for k, v in values.items()}
        if not self.fresh_name(name):
            raise Abandon
        self.leave({name})
        self.dicts[name] = items
        if listed:
            self.lists.add(name)
        for key, slot in items.items():
            slot.holders.add((name, key))
        self.marked.append(stmt)
        return [stmt]

    def copied_items(self, value):
        """``{key: slot}`` of the dict ``value`` makes out of a followed one: a shallow copy
        (the same objects), or a comprehension over its items making a new value of each
        (``{k: v.copy() for k, v in d.items()}``); else None."""
        source = copy_source(value)
        if source is not None:
            name, kind = source
            if name not in self.dicts or kind != "any" and (kind == "list") != (name in self.lists):
                return None
            return dict(self.dicts[name])
        if not (isinstance(value, gast.DictComp) and len(value.generators) == 1):
            return None
        gen = value.generators[0]
        call, target = gen.iter, gen.target
        if not (
            isinstance(call, gast.Call)
            and isinstance(call.func, gast.Attribute)
            and call.func.attr == "items"
            and getattr(call.func.value, "id", None) in set(self.dicts) - self.lists
            and not call.args
            and not gen.ifs
            and isinstance(target, gast.Tuple)
            and [type(t) for t in target.elts] == [gast.Name, gast.Name]
            and isinstance(value.key, gast.Name)
            and value.key.id == target.elts[0].id
        ):
            return None
        held, item = self.dicts[call.func.value.id], target.elts[1].id
        if isinstance(value.value, gast.Name) and value.value.id == item:
            return dict(held)  # (the same objects)
        if is_new(value.value) and only_read(gast.Expr(value=value.value), {item}):
            return {key: _Slot() for key in held}
        return None

    def holdable(self, value) -> bool:
        """Whether a dict's item ``value`` can be followed: a local name (not a dict
        followed), or a new object."""
        if isinstance(value, gast.Name):
            return value.id not in self.closed and value.id not in self.dicts
        return is_new(value) and only_read(gast.Expr(value=value), self.tracked())

    def item_slot(self, value) -> _Slot:
        """The object a dict's item ``value`` is: a followed name's, or a new one (a name
        bound again later leaves it then)."""
        if not self.holdable(value):
            raise Abandon
        if not isinstance(value, gast.Name):
            return _Slot(array=self.kinds.value_ndim(None, value) >= 1)
        if value.id not in self.names:
            array = self.kinds.ndims.get(value.id, 0) >= 1
            self.names[value.id] = _Slot([value.id], array=array)
        return self.names[value.id]

    def bound(self, stmt):
        """``v = e["a"]`` (``get`` or ``setdefault`` of a key held, or ``v = z``): another
        name of the object. ``get`` and ``setdefault`` become the read they make (``v =
        e["a"]``; of a key ``e`` lacks, ``v = z`` of the default, and ``e["c"] = v``)."""
        if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1):
            return None
        target = stmt.targets[0]
        if not isinstance(target, gast.Name):
            return None
        read = self.read_item(stmt.value)
        if read is None:
            return None
        slot, value, stored = read
        if not self.fresh_name(target.id) or (stored and stored[0] == target.id):
            raise Abandon
        self.leave({target.id})
        slot.names.add(target.id)
        self.names[target.id] = slot
        if value is not None:  # (a new statement: the function is left as it was if abandoned)
            made = gast.Assign(targets=[S.clone(target)], value=value, type_comment=None)
            stmt = _placed(gast.copy_location(made, stmt), stmt)
        self.marked.append(stmt)
        if stored is None:
            return [stmt]
        into = gast.Subscript(value=S.name(stored[0]), slice=S.const(stored[1]), ctx=gast.Store())
        store = _placed(
            gast.Assign(targets=[into], value=S.name(target.id), type_comment=None), stmt
        )
        return [stmt, *self.stored(store)]

    def read_item(self, value):
        """``(object, value read instead, (dict, key) to store it into)`` of ``value``, a
        read out of a followed dict by a key (``get`` and ``setdefault``: their default where
        the key is lacking, ``setdefault`` storing it), or of a followed name; else None."""
        if isinstance(value, gast.Name) and value.id in self.names:
            return self.names[value.id], None, None
        method = None
        if isinstance(value, gast.Subscript) and constant_index(value.slice) is not None:
            holder, key = value.value, constant_index(value.slice)[0]
        elif (
            isinstance(value, gast.Call)
            and isinstance(value.func, gast.Attribute)
            and value.func.attr in ("get", "setdefault")
            and len(value.args) in (1, 2)
            and not value.keywords
            and isinstance(value.args[0], gast.Constant)
        ):
            holder, key, method = value.func.value, value.args[0].value, value.func.attr
            default = value.args[-1]
            if len(value.args) == 2 and not isinstance(default, (gast.Name, gast.Constant)):
                if not self.holdable(default):
                    raise Abandon  # (evaluated even where unused)
        else:
            return None
        held = self.dicts.get(getattr(holder, "id", None))
        if held is None:
            return None
        if method is not None and holder.id in self.lists:
            raise Abandon  # (a list has no `get`)
        key = self.position(holder.id, key)
        if key in held:
            read = gast.Subscript(value=S.name(holder.id), slice=S.const(key), ctx=gast.Load())
            return held[key], (read if method else None), None
        if method is None or len(value.args) == 1:
            raise Abandon  # (Python's KeyError, or None)
        stored = (holder.id, key) if method == "setdefault" else None
        return self.item_slot(default), default, stored

    def written(self, stmt):
        """A write in place into a followed object, through a name or a dict's item, and
        what keeps its other holders and names in step."""
        through = write_root(stmt)
        if through is None:
            return None
        slot, whole = self.slot_of(through), updates_whole(stmt)
        if slot is None:
            return None
        if not only_read(write_reads(stmt), self.tracked()):
            raise Abandon
        source = through
        made = [
            _marked(_placed(S.assign(n, S.clone(source), stmt.lineno), stmt), self.marked)
            for n in sorted(slot.names)
            if S.text(source) != n
        ]
        for holder, key in sorted(slot.holders, key=str):
            target = gast.Subscript(value=S.name(holder), slice=S.const(key), ctx=gast.Store())
            if S.text(source) != S.text(target):
                store = gast.Assign(targets=[target], value=S.clone(source), type_comment=None)
                made.append(_marked(_placed(store, stmt), self.marked))
        if whole and not slot.array and made:  # (a number is rebound: nothing else changes)
            # (tested before the update, which makes a number's holder an array's)
            test = S.call(S.name("isinstance"), [S.clone(source), S.attr_chain("np.ndarray")])
            return [_placed(gast.If(test=test, body=[stmt, *made], orelse=[S.clone(stmt)]), stmt)]
        return [stmt, *made]

    def slot_of(self, node):
        """The followed object ``node`` (a name, or a dict's item by a constant key) is."""
        if isinstance(node, gast.Name):
            if node.id in self.dicts:
                raise Abandon  # (the dict itself written into)
            return self.names.get(node.id)
        held = self.dicts.get(getattr(node.value, "id", None))
        if held is None:
            return None
        if constant_index(node.slice) is None:
            raise Abandon
        key = self.position(node.value.id, constant_index(node.slice)[0])
        if key not in held:
            raise Abandon
        return held[key]

    def position(self, name: str, key):
        """``key`` of the followed dict ``name``; of a list, a position from the end made one
        from the start."""
        if name in self.lists and type(key) is int and key < 0:
            return key + len(self.dicts[name])
        return key

    def stored(self, stmt):
        """``e["c"] = v`` (or ``e.update(c=v)``, made such stores): a followed dict's item
        given another object."""
        updated = self.updated(stmt)
        if updated is not None:
            return [made for store in updated for made in self.stored(store)]
        if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1):
            return None
        target = stmt.targets[0]
        if not (
            isinstance(target, gast.Subscript) and getattr(target.value, "id", None) in self.dicts
        ):
            return None
        if constant_index(target.slice) is None:
            raise Abandon
        name = target.value.id
        key = self.position(name, constant_index(target.slice)[0])
        if name in self.lists and key not in self.dicts[name]:
            raise Abandon  # (Python's IndexError)
        slot = self.item_slot(stmt.value)
        old = self.dicts[name].get(key)
        if slot is old:  # (the object there already, kept in step by every write into it)
            return []
        if old is not None:
            old.holders.discard((name, key))
        self.dicts[name][key] = slot
        slot.holders.add((name, key))
        self.marked.append(stmt)
        return [stmt]

    def appended(self, stmt):
        """``hs.append(v)`` of a followed list: a new last item."""
        call = stmt.value if isinstance(stmt, gast.Expr) else None
        if not (
            isinstance(call, gast.Call)
            and isinstance(call.func, gast.Attribute)
            and call.func.attr == "append"
            and getattr(call.func.value, "id", None) in self.lists
        ):
            return None
        if len(call.args) != 1 or call.keywords:
            raise Abandon
        name = call.func.value.id
        slot = self.item_slot(call.args[0])
        key = len(self.dicts[name])
        self.dicts[name][key] = slot
        slot.holders.add((name, key))
        self.marked.append(stmt)
        return [stmt]

    def updated(self, stmt):
        """``e["b"] = v`` for each keyword of ``e.update(b=v)`` (a followed dict, values
        that do not read it); else None."""
        call = stmt.value if isinstance(stmt, gast.Expr) else None
        if not (
            isinstance(call, gast.Call)
            and isinstance(call.func, gast.Attribute)
            and call.func.attr == "update"
            and getattr(call.func.value, "id", None) in set(self.dicts) - self.lists
        ):
            return None
        name = call.func.value.id
        if call.args or any(k.arg is None or name in S.names_in(k.value) for k in call.keywords):
            raise Abandon
        out = []
        for k in call.keywords:
            target = gast.Subscript(value=S.name(name), slice=S.const(k.arg), ctx=gast.Store())
            out.append(
                _placed(gast.Assign(targets=[target], value=k.value, type_comment=None), stmt)
            )
        return out

    def rebound(self, stmt):
        """A followed name given a new value: it leaves its object."""
        bound = {t.id for t in getattr(stmt, "targets", ()) if isinstance(t, gast.Name)}
        if not (isinstance(stmt, gast.Assign) and bound & self.tracked()):
            return None
        if not only_read(gast.Expr(value=stmt.value), self.tracked()):
            raise Abandon
        self.leave(bound)
        return [stmt]


def _declared(fn) -> set:
    """The names a ``global`` or ``nonlocal`` statement declares."""
    return {n for s in S.walk(fn) if isinstance(s, (gast.Global, gast.Nonlocal)) for n in s.names}


def _placed(made, stmt):
    """``made`` with ``stmt``'s line on each of its nodes that has none."""
    for node in S.walk(made):
        if isinstance(node, (gast.stmt, gast.expr)) and getattr(node, "lineno", None) is None:
            gast.copy_location(node, stmt)
    return made


def _marked(stmt, marked: list):
    marked.append(stmt)
    return stmt


def _made_names(stmt) -> set:
    """The names ``stmt`` binds to a new dict display (where following starts)."""
    shape = display(stmt)
    return {shape[0]} if shape is not None else set()
