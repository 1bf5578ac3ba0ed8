"""Objects of a dataclass of the user's made in the function, the lists and names holding
them and the names of what their fields hold, kept in step (part of normalize, before the
methods are inlined).

``boxes = [Box(z, []), Box(0.5 * h, [h * h])]`` makes two objects, the first holding ``z``
itself in its field ``v``; ``first = boxes[0]`` names one of them, ``w = boxes[0].v`` names
what a field holds. A change in place, through a method writing into its fields
(``boxes[0].push(h)`` running ``self.hs.append(u)``, ``bx.scale(0.5)`` running ``self.v *=
s``), through a field (``first.hs.append(v)``, ``boxes[1].v *= 0.5``) or through a name of
what a field holds (``w *= 0.5``, ``hs.append(v)``), is written as the new object built from
the new value (``boxes[0] = Box(boxes[0].v, [*boxes[0].hs, h])``), then stored into every
other holder and name of the object (``first = boxes[0]``), and read into every other name
and field holding the object changed in place (``z = boxes[0].v``; guarded by
``isinstance(..., np.ndarray)`` where that may be a number, which ``*=`` rebinds rather than
changes). Python's objects hold those values after the change: the derivative, which
follows values, sees them everywhere. These and the bindings carry the ``shared_link`` fact,
which aliasing skips.

The top-level statements are read in order, from the first such object on; a loop over a
list of them (``for bx in boxes``, its body binding neither name) is read as its passes. A
statement reading a followed name into anything but a new value (the new-value reads of
:mod:`.new_value_reads`, a field read into one, a method returning a new value made of its
fields) leaves the whole function as it was, to the refusals that say why.
"""

from __future__ import annotations

import gast

from . import syntax as S
from .held_forms import Abandon, stepped_body
from .name_kinds import NameKinds
from .new_value_reads import comprehension_own, consumed, is_new
from .node_facts import set_fact
from .object_methods import field_names, inlined_call, reads_only

__all__ = ["follow_held_objects"]


class _Obj:
    """One object: its class, ``{field: _Slot}``, the ``(list, index)`` items and names
    holding it."""

    def __init__(self, cls, fields: dict):
        self.cls, self.fields = cls, fields
        self.holders: list = []
        self.names: set = set()


class _Slot:
    """What one field holds: the names bound to it, whether it is surely an array."""

    def __init__(self, names=(), array=False):
        self.names, self.array = set(names), array


def follow_held_objects(fn, parsed, params: list, examples, numpy: bool, names) -> None:
    """Rewrite ``fn``'s top-level statements in place as the module docstring says, or leave
    them all as they were (``names``: a :class:`fresh_names.NameGen` for new names)."""
    if not numpy:
        return
    state = _State(fn, parsed, set(params), names.fresh)
    if not any(state.made_objects(s) for s in fn.body):
        return
    state.kinds = NameKinds(fn, dict(zip(params, examples or ())), numpy)
    body = stepped_body(fn, state.step)
    if body is None:
        return
    if state.changed:
        for stmt in state.marked:
            set_fact(stmt, "shared_link", "held")
        fn.body = body


class _State:
    """The lists of objects, the names of objects and of what their fields hold."""

    def __init__(self, fn, parsed, params: set, fresh):
        self.parsed, self.kinds, self.fresh = parsed, None, fresh
        self.lists: dict = {}  # name -> [_Obj]
        self.objects: dict = {}  # name -> _Obj
        self.slots: dict = {}  # name -> _Slot
        self.marked: list = []
        self.changed = False
        self.closed = params | S.captured_names(fn) | _declared(fn)
        self.local = S.bound_names(fn) | set(parsed.closure) | params
        seen = set(parsed.globals) | self.local
        self.shadowed = {"getattr", "vars"} & seen

    def tracked(self) -> set:
        return set(self.lists) | set(self.objects) | set(self.slots)

    def made_objects(self, stmt):
        """``[_Obj]`` of ``L = [C(...), ...]`` or ``n = C(...)``, the class a followed one;
        else None (nothing is recorded)."""
        if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1):
            return None
        value = stmt.value
        calls = value.elts if isinstance(value, gast.List) else [value]
        if not calls or not all(isinstance(c, gast.Call) for c in calls):
            return None
        names = [getattr(c.func, "id", None) for c in calls]
        if set(names) & self.local:
            return None
        classes = [self.parsed.globals.get(n) for n in names]
        if not all(field_names(cls) for cls in classes):
            return None
        return classes

    def step(self, stmt) -> list:
        """``stmt`` and what keeps the holders and names of what it changes in step."""
        made = self.made_objects(stmt)
        if made is not None:
            return self.made(stmt, made)
        if not S.names_in(stmt) & self.tracked():
            return [stmt]
        unrolled = self.unrolled(stmt)
        if unrolled is not None:
            return [out for inner in unrolled for out in self.step(inner)]
        stmt = _whole_write(stmt, set(self.slots)) or stmt
        for read in (self.bound, self.called, self.field_written, self.slot_written):
            out = read(stmt)
            if out is not None:
                return out
        if isinstance(stmt, gast.Assign) and all(isinstance(t, gast.Name) for t in stmt.targets):
            if not self.reads_only(gast.Expr(value=stmt.value)):
                raise Abandon
            self.leave({t.id for t in stmt.targets})
            return [stmt]
        if not self.reads_only(stmt):
            raise Abandon
        return [stmt]

    def leave(self, names: set) -> None:
        """The ``names`` no longer name what they named (a list's: its objects leave it)."""
        for name in names & set(self.objects):
            self.objects.pop(name).names.discard(name)
        for name in names & set(self.slots):
            self.slots.pop(name).names.discard(name)
        for name in names & set(self.lists):
            for obj in self.lists.pop(name):
                obj.holders = [h for h in obj.holders if h[0] != name]

    def made(self, stmt, classes) -> list:
        """New objects, each field holding a local name's object or a new one."""
        target = stmt.targets[0]
        calls = stmt.value.elts if isinstance(stmt.value, gast.List) else [stmt.value]
        if not isinstance(target, gast.Name) or target.id in self.closed:
            raise Abandon
        objs = [self.new_object(c, cls) for c, cls in zip(calls, classes)]
        self.leave({target.id})
        if isinstance(stmt.value, gast.List):
            self.lists[target.id] = objs
            for i, obj in enumerate(objs):
                obj.holders.append((target.id, i))
        else:
            objs[0].names.add(target.id)
            self.objects[target.id] = objs[0]
        self.marked.append(stmt)
        return [stmt]

    def new_object(self, call, cls) -> _Obj:
        """The object ``C(args)`` makes, its fields' values given positionally or by name."""
        fields = field_names(cls)
        if any(isinstance(a, gast.Starred) for a in call.args) or len(call.args) > len(fields):
            raise Abandon
        given = dict(zip(fields, call.args))
        for k in call.keywords:
            if k.arg is None or k.arg in given or k.arg not in fields:
                raise Abandon
            given[k.arg] = k.value
        if set(given) != set(fields):
            raise Abandon  # (a default: shared between objects where mutable)
        return _Obj(cls, {f: self.held_slot(v) for f, v in given.items()})

    def held_slot(self, value) -> _Slot:
        """What a field given ``value`` holds: a local name's object, or a new one."""
        if isinstance(value, gast.Name):
            if value.id in self.closed or value.id in set(self.lists) | set(self.objects):
                raise Abandon
            if value.id not in self.slots:
                array = self.kinds is not None and self.kinds.ndims.get(value.id, 0) >= 1
                self.slots[value.id] = _Slot([value.id], array)
            return self.slots[value.id]
        if isinstance(value, gast.List) and not any(
            isinstance(e, gast.Starred) for e in value.elts
        ):
            if all(is_new(e) and self.reads_only(gast.Expr(value=e)) for e in value.elts):
                return _Slot()
            raise Abandon
        if is_new(value) and self.reads_only(gast.Expr(value=value)):
            return _Slot()
        raise Abandon

    def object_at(self, node):
        """The object ``node`` (``L[i]`` of a constant ``i``, or a name) is; else None."""
        if isinstance(node, gast.Name):
            if node.id in self.lists:
                raise Abandon  # (the list itself changed)
            return self.objects.get(node.id)
        if (
            not isinstance(node, gast.Subscript)
            or getattr(node.value, "id", None) not in self.lists
        ):
            return None
        objs = self.lists[node.value.id]
        index = node.slice.value if isinstance(node.slice, gast.Constant) else None
        if type(index) is not int or not -len(objs) <= index < len(objs):
            raise Abandon
        return objs[index]

    def bound(self, stmt):
        """``n = L[i]`` or ``n = m`` (another name of an object), ``w = R.F`` (a name of what
        a field holds)."""
        if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1):
            return None
        target, value = stmt.targets[0], _spelled_field(stmt.value)
        if not isinstance(target, gast.Name):
            return None
        if value is not stmt.value:  # (`getattr(R, "F")`, `vars(R)["F"]`: read as `R.F`)
            if self.shadowed:
                raise Abandon
            stmt = gast.copy_location(S.assign(target.id, value, stmt.lineno), stmt)
        obj = self.object_at(value) if not isinstance(value, gast.Attribute) else None
        slot = None
        if isinstance(value, gast.Attribute):
            holder = self.object_at(value.value)
            if holder is None or value.attr not in holder.fields:
                return None
            slot = holder.fields[value.attr]
        elif obj is None:
            if isinstance(value, gast.Name) and value.id in self.slots:
                slot = self.slots[value.id]
            else:
                return None
        if target.id in self.closed:
            raise Abandon
        self.leave({target.id})
        if slot is not None:
            slot.names.add(target.id)
            self.slots[target.id] = slot
        else:
            obj.names.add(target.id)
            self.objects[target.id] = obj
        self.marked.append(stmt)
        return [stmt]

    def called(self, stmt):
        """``R.m(args)`` of a method writing into its fields alone: its statements, with
        ``self`` read as ``R``, followed one by one."""
        call = stmt.value if isinstance(stmt, gast.Expr) else None
        if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute)):
            return None
        obj = self.object_at(call.func.value)
        if obj is None or call.func.attr == "append":
            return None
        fields = list(obj.fields)
        inlined = inlined_call(obj.cls, call, fields, self.fresh, self.parsed.globals)
        if inlined is None:
            raise Abandon
        return [out for inner in inlined for out in self.step(inner)]

    def field_written(self, stmt):
        """``R.F.append(u)`` or ``R.F op= u``: the object built anew from the new value."""
        target, value = _field_change(stmt)
        if target is None:
            return None
        obj = self.object_at(target.value)
        if obj is None or target.attr not in obj.fields:
            raise Abandon
        if not self.reads_only(gast.Expr(value=value)):
            raise Abandon
        read = gast.Attribute(value=S.clone(target.value), attr=target.attr, ctx=gast.Load())
        if isinstance(stmt, gast.AugAssign):
            new = gast.BinOp(left=read, op=stmt.op, right=value)
        else:
            new = gast.List(
                elts=[gast.Starred(value=read, ctx=gast.Load()), value], ctx=gast.Load()
            )
        slot = obj.fields[target.attr]
        out = self.rebuilt(obj, target.value, {target.attr: new}, stmt)
        field = gast.Attribute(value=S.clone(target.value), attr=target.attr, ctx=gast.Load())
        after = self.slot_stores(slot, field, obj, stmt)
        whole = isinstance(stmt, gast.AugAssign)
        return out + self.guarded(after, field, whole and not slot.array, stmt)

    def slot_written(self, stmt):
        """A change in place through a name of what a field holds (``w[k] = v``, ``w op= v``,
        ``w.append(v)``, made ``w = [*w, v]``): every object holding it built anew."""
        name, whole = _slot_change(stmt, set(self.slots))
        if name is None:
            return None
        reads = _change_reads(stmt)
        if not self.reads_only(reads):
            raise Abandon
        slot = self.slots[name]
        if isinstance(stmt, gast.Expr):  # (`w.append(v)`: a list, the same object)
            grown = gast.List(
                elts=[gast.Starred(value=S.name(name), ctx=gast.Load()), stmt.value.args[0]],
                ctx=gast.Load(),
            )
            stmt = _placed(S.assign(name, grown, stmt.lineno), stmt)
            self.marked.append(stmt)
        after = self.slot_stores(slot, S.name(name), None, stmt)
        return [stmt, *self.guarded(after, S.name(name), whole and not slot.array, stmt)]

    def holders_of(self, slot) -> list:
        """``(object, field)`` of each field holding ``slot``."""
        objs = {id(o): o for o in self.objects.values()}
        for objs_ in self.lists.values():
            objs.update((id(o), o) for o in objs_)
        return [(o, f) for o in objs.values() for f, s in o.fields.items() if s is slot]

    def slot_stores(self, slot, source, changed, stmt) -> list:
        """What keeps ``slot``'s other names and holders in step with ``source``, its new
        value (``changed``: the object already built from it)."""
        out = [
            self.mark(_placed(S.assign(n, S.clone(source), stmt.lineno), stmt))
            for n in sorted(slot.names)
            if S.text(source) != n
        ]
        for obj, field in self.holders_of(slot):
            if obj is not changed:
                path = self.path_of(obj)
                out += self.rebuilt(obj, path, {field: S.clone(source)}, stmt)
        return out

    def path_of(self, obj):
        """An expression reading ``obj``: its first holder's item, or a name."""
        if obj.holders:
            name, index = obj.holders[0]
            return gast.Subscript(value=S.name(name), slice=S.const(index), ctx=gast.Load())
        if obj.names:
            return S.name(sorted(obj.names)[0])
        raise Abandon

    def rebuilt(self, obj, path, values: dict, stmt) -> list:
        """``path = C(...)`` of ``obj``'s fields, ``values`` in place of some, then stored
        into its other holders and names."""
        args = [
            values.get(f) or gast.Attribute(value=S.clone(path), attr=f, ctx=gast.Load())
            for f in obj.fields
        ]
        made = S.call(S.name(obj.cls.__name__), args)
        if self.parsed.globals.get(obj.cls.__name__) is not obj.cls:
            raise Abandon
        out = [self.mark(_placed(_store(S.clone(path), made), stmt))]
        places = [
            gast.Subscript(value=S.name(n), slice=S.const(i), ctx=gast.Load())
            for n, i in obj.holders
        ] + [S.name(n) for n in sorted(obj.names)]
        for place in places:
            if S.text(place) != S.text(path):
                out.append(self.mark(_placed(_store(place, S.clone(path)), stmt)))
        self.changed = True
        return out

    def guarded(self, stmts: list, value, may_be_number: bool, stmt) -> list:
        """``stmts`` run where ``value`` is an array (a number is rebound, not changed)."""
        if not (may_be_number and stmts):
            return stmts
        test = S.call(S.name("isinstance"), [S.clone(value), S.attr_chain("np.ndarray")])
        return [_placed(gast.If(test=test, body=stmts, orelse=[]), stmt)]

    def mark(self, stmt):
        self.marked.append(stmt)
        return stmt

    def unrolled(self, loop):
        """``for bx in boxes`` over a followed list, as its passes (``bx = boxes[0]`` and the
        body, for each item); None where the body binds either name or holds a jump, a
        nested loop or function."""
        if not (isinstance(loop, gast.For) and not loop.orelse):
            return None
        name = getattr(loop.iter, "id", None)
        if name not in self.lists or not isinstance(loop.target, gast.Name):
            return None
        var, count = loop.target.id, len(self.lists[name])
        stop = (gast.For, gast.While, gast.Break, gast.Continue, gast.FunctionDef, gast.Return)
        for node in (n for s in loop.body for n in S.walk(s)):
            if isinstance(node, stop) or isinstance(node, gast.Lambda):
                raise Abandon
            if isinstance(node, gast.Name) and node.id in (name, var):
                if not isinstance(node.ctx, gast.Load):
                    raise Abandon
        if count > 8 or var in self.closed:
            raise Abandon
        out = []
        for i in range(count):
            read = gast.Subscript(value=S.name(name), slice=S.const(i), ctx=gast.Load())
            out.append(_placed(S.assign(var, read, loop.lineno), loop))
            out.extend(S.clone(s) for s in loop.body)
        return out

    def reads_only(self, stmt) -> bool:
        """Whether every read of a followed name in ``stmt`` is into a new value: through a
        field or a method returning a new value, then into arithmetic, NumPy, ``sum``..."""
        parents = S.parent_map(stmt)
        for node in S.walk(stmt):
            if isinstance(node, (gast.AugAssign, gast.Assign)):
                targets = [node.target] if isinstance(node, gast.AugAssign) else node.targets
                if any(S.names_in(t) & self.tracked() for t in targets):
                    return False
            if isinstance(node, gast.Name) and node.id in self.tracked():
                if comprehension_own(node, parents):
                    continue
                if not (isinstance(node.ctx, gast.Load) and self.read_into_new(node, parents)):
                    return False
        return True

    def read_into_new(self, node, parents) -> bool:
        """Whether the read ``node`` of a followed name flows into a new value alone."""
        if node.id in self.slots:
            return consumed(node, parents)
        objs = self.lists.get(node.id)
        if objs is not None:
            up = parents.get(id(node))
            if isinstance(up, gast.comprehension) and up.iter is node:
                return self.iterated(up, objs, parents)
            if not (isinstance(up, gast.Subscript) and up.value is node):
                return consumed(node, parents)  # (`len(boxes)`)
            obj = self.object_at(up)
            node, objs = up, [obj]
        else:
            objs = [self.objects[node.id]]
        return self.object_read(node, objs, parents)

    def object_read(self, node, objs: list, parents, into=None) -> bool:
        """Whether the read ``node`` of one of ``objs`` is a field or a method returning a
        new value, read into a new value (or is ``into``, a comprehension's item)."""
        up = parents.get(id(node))
        if not (isinstance(up, gast.Attribute) and up.value is node):
            return False
        if all(up.attr in o.fields for o in objs):
            return up is into or consumed(up, parents)
        call = parents.get(id(up))
        if not (isinstance(call, gast.Call) and call.func is up and not call.args):
            return False
        if not all(reads_only(o.cls, up.attr) for o in objs) or call.keywords:
            return False
        return call is into or consumed(call, parents)

    def iterated(self, gen, objs: list, parents) -> bool:
        """Whether a comprehension over a list of objects reads each into a new value alone
        (``sum(bx.total() for bx in boxes)``)."""
        comp = parents.get(id(gen))
        if not isinstance(comp, (gast.GeneratorExp, gast.ListComp)) or len(comp.generators) != 1:
            return False
        if not isinstance(gen.target, gast.Name) or gen.ifs:
            return False
        var = gen.target.id
        for n in S.walk(comp.elt):
            if isinstance(n, gast.Name) and n.id == var:
                if not self.object_read(n, objs, parents, into=comp.elt):
                    return False
        return consumed(comp, parents)


def _declared(fn) -> set:
    """The names a ``global`` or ``nonlocal`` statement declares."""
    return {n for s in S.walk(fn) if isinstance(s, (gast.Global, gast.Nonlocal)) for n in s.names}


def _spelled_field(value):
    """``R.F`` for ``getattr(R, "F")`` and ``vars(R)["F"]``; else ``value``."""
    if isinstance(value, gast.Subscript) and isinstance(value.slice, gast.Constant):
        call, attr = value.value, value.slice.value
        if not (isinstance(call, gast.Call) and getattr(call.func, "id", None) == "vars"):
            return value
        args = call.args if len(call.args) == 1 else ()
    elif isinstance(value, gast.Call) and getattr(value.func, "id", None) == "getattr":
        call, args = value, value.args[:1] if len(value.args) == 2 else ()
        attr = getattr(value.args[-1], "value", None)
    else:
        return value
    if not args or call.keywords or not isinstance(attr, str):
        return value
    return gast.Attribute(value=args[0], attr=attr, ctx=gast.Load())


def _field_change(stmt):
    """``(R.F, u)`` of ``R.F.append(u)`` or ``R.F op= u``; else ``(None, None)``."""
    if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Attribute):
        return stmt.target, stmt.value
    call = stmt.value if isinstance(stmt, gast.Expr) else None
    if isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute):
        inner = call.func.value
        if call.func.attr == "append" and isinstance(inner, gast.Attribute):
            if len(call.args) == 1 and not call.keywords:
                return inner, call.args[0]
    return None, None


def _slot_change(stmt, names: set):
    """``(w, whether whole)`` of ``w[k] = v``, ``w[k] op= v``, ``w op= v``, ``w.append(v)`` of
    a name in ``names``; else ``(None, False)``."""
    if isinstance(stmt, gast.AugAssign):
        target = stmt.target
        if isinstance(target, gast.Name) and target.id in names:
            return target.id, True
    elif isinstance(stmt, gast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
    elif isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call):
        func = stmt.value.func
        if isinstance(func, gast.Attribute) and func.attr == "append":
            if getattr(func.value, "id", None) in names and len(stmt.value.args) == 1:
                return func.value.id, False
        return None, False
    else:
        return None, False
    if isinstance(target, gast.Subscript) and getattr(target.value, "id", None) in names:
        return target.value.id, False
    return None, False


def _whole_write(stmt, names: set):
    """``w[...] = v`` for ``np.copyto(w, v)`` and ``w[...] = np.f(a)`` for ``np.f(a,
    out=w)``, ``w`` a name in ``names``; else None."""
    call = stmt.value if isinstance(stmt, gast.Expr) else None
    if not isinstance(call, gast.Call) or (S.dotted(call.func) or "").split(".")[0] != "np":
        return None
    if S.dotted(call.func) == "np.copyto" and len(call.args) == 2 and not call.keywords:
        into, value = call.args
    elif [k.arg for k in call.keywords] == ["out"] and call.args:
        into = call.keywords[0].value
        value = gast.Call(func=call.func, args=call.args, keywords=[])
    else:
        return None
    if not (isinstance(into, gast.Name) and into.id in names):
        return None
    whole = gast.Subscript(value=S.name(into.id), slice=S.const(...), ctx=gast.Store())
    made = gast.Assign(targets=[whole], value=value, type_comment=None)
    return _placed(gast.copy_location(made, stmt), stmt)


def _change_reads(stmt):
    """The expressions a change in place reads besides what it changes: value and index."""
    if isinstance(stmt, gast.Expr):
        parts = list(stmt.value.args)
    else:
        target = stmt.target if isinstance(stmt, gast.AugAssign) else stmt.targets[0]
        parts = [stmt.value] + ([target.slice] if isinstance(target, gast.Subscript) else [])
    return gast.Expr(value=gast.Tuple(elts=parts, ctx=gast.Load()))


def _store(place, value):
    """``place = value`` (``place`` a name or an item, made a store)."""
    place = S.clone(place)
    place.ctx = gast.Store()
    return gast.Assign(targets=[place], value=value, type_comment=None)


def _placed(made, stmt):
    """``made`` with ``stmt``'s line on each of its nodes that has none."""
    for node in S.walk(made):
        if isinstance(node, (gast.stmt, gast.expr)) and getattr(node, "lineno", None) is None:
            gast.copy_location(node, stmt)
    return made
