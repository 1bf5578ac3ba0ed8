"""Python list operations as appends (part of normalize).

Entered through :func:`lower_list_operations`, which rewrites a user function's syntax tree in
place, before it is lowered to core form, so that every list it builds grows by
``xs.append(v)`` alone, the one list operation the core language differentiates (as the new
list ``[*xs, v]``):

* ``xs.extend(ys)`` and ``xs += ys``   -> ``for v in ys: xs.append(v)``
* ``zs = xs + ys``                      -> ``zs = xs[:]``, then the loop above over ``ys``
* ``zs = xs * k`` (or ``k * xs``)       -> ``zs = []``, then ``k`` times the loop over ``xs``
* ``xs.insert(i, v)``                   -> ``tail = xs[i:]; xs = xs[:i]; xs.append(v)``, then
  the loop over ``tail``
* ``v = xs.pop(i)`` (``i`` a constant)  -> ``v = xs[i]``, then ``xs`` without item ``i``
* ``xs.reverse()``                      -> ``xs = xs[::-1]``

The rewritten function computes the same lists. Only names known to hold lists are rewritten:
names every assignment of which makes a list (a display, a comprehension, ``list(...)``, a
slice or a sum of lists), and arguments that are lists in the call the derivative is built
for; ``+`` and ``*`` on anything else keep their meaning (arrays add, tuples concatenate).
"""

from __future__ import annotations

import gast

from ..errors import UnsupportedSyntaxError
from . import syntax as S
from .dicts import lower_dict_operations
from .walk import rewrite_blocks


def lower_list_operations(fn: gast.FunctionDef, names: S.NameGen, examples=None) -> set:
    """Rewrite ``fn`` in place so that its lists grow only by ``append``, and its dicts change
    only by item assignment and rebinding (:mod:`.dicts`, first); returns the names known to
    hold lists."""
    lower_dict_operations(fn, names, examples)
    lists = _list_names(fn, examples)
    shared = shared_list(fn, lists)
    if shared is not None:
        stmt, message = shared
        raise UnsupportedSyntaxError(message, None, stmt.lineno)
    if lists:
        fn.body = _Lowering(names, lists).block(fn.body)
    return lists


def _list_names(fn, examples) -> set:
    params = [a.id for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs]
    values: dict = {}
    for node in S.walk(fn):
        if isinstance(node, gast.Assign):
            for t in node.targets:
                if isinstance(t, gast.Name):
                    values.setdefault(t.id, []).append(node.value)
                else:
                    for n in S.walk(t):
                        if isinstance(n, gast.Name):
                            values.setdefault(n.id, []).append(None)  # unknown
        elif isinstance(node, (gast.AugAssign, gast.AnnAssign, gast.For, gast.NamedExpr)):
            target = node.target
            for n in S.walk(target):
                if isinstance(n, gast.Name) and not (
                    isinstance(node, gast.AugAssign) and isinstance(node.op, (gast.Add, gast.Mult))
                ):
                    values.setdefault(n.id, []).append(None)
    list_args = {
        p
        for i, p in enumerate(params)
        if examples is not None and i < len(examples) and type(examples[i]) is list
    }
    known: set = set()
    changed = True
    while changed:  # grows to a fixed point: a list made from lists is a list
        changed = False
        for name in set(values) | list_args:
            if name in known or (name in params and name not in list_args):
                continue
            if all(v is not None and _makes_list(v, known) for v in values.get(name, ())):
                known.add(name)
                changed = True
    return known


def _makes_list(e, lists) -> bool:
    if isinstance(e, (gast.List, gast.ListComp)):
        return True
    if isinstance(e, gast.Name):
        return e.id in lists
    if isinstance(e, gast.Call) and isinstance(e.func, gast.Name) and e.func.id == "list":
        return True
    if isinstance(e, gast.Subscript) and isinstance(e.slice, gast.Slice):
        return _makes_list(e.value, lists)
    if isinstance(e, gast.BinOp) and isinstance(e.op, gast.Add):
        return _makes_list(e.left, lists) or _makes_list(e.right, lists)
    if isinstance(e, gast.BinOp) and isinstance(e.op, gast.Mult):
        return _makes_list(e.left, lists) or _makes_list(e.right, lists)
    return False


#: the list methods that change the list in place
_MUTATORS = frozenset({"append", "extend", "insert", "pop", "reverse", "remove", "clear", "sort"})


def shared_list(fn: gast.FunctionDef, lists: set):
    """``(statement, message)`` for the first name bound to a list that the function changes
    in place afterwards (``first = hs``, then ``hs.append(h)``): Python changes both, while
    the derivative follows values (the list each name was given); None where there is none."""
    changes: dict = {}  # list name -> lines where it changes in place
    loops, assigns = [], []
    for n in S.walk(fn):
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute):
            owner = n.func.value
            if isinstance(owner, gast.Name) and n.func.attr in _MUTATORS:
                changes.setdefault(owner.id, []).append(n.lineno)
        elif isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name):
            changes.setdefault(n.target.id, []).append(n.lineno)
        elif isinstance(n, (gast.For, gast.While)):
            loops.append(n)
        elif isinstance(n, gast.Assign):
            assigns.append(n)
    for n in assigns:
        for src, shown in _shared_by(n, lists):
            for name in (src, *[t.id for t in n.targets if isinstance(t, gast.Name)]):
                later = any(line > n.lineno for line in changes.get(name, ()))
                looped = any(n in S.walk(loop) and _changes_in(loop, name) for loop in loops)
                if later or looped:
                    return n, (
                        f"`{shown}` makes a second reference to the list `{src}`, and the list "
                        f"then changes in place (`{name}.append(...)` or similar); sourcegrad "
                        "follows values, not shared lists: copy it (`list("
                        f"{src})`) or build the second list apart"
                    )
    return None


def _shared_by(assign, lists: set) -> list:
    """``[(list name, text)]``: the lists an assignment gives another reference to, as the
    value itself (``first = hs``) or an item of a display (``pair = (hs, x)``)."""
    value = assign.value
    if isinstance(value, gast.Name):
        named = [t for t in assign.targets if isinstance(t, gast.Name) and t.id != value.id]
        items = [value] if named else []
    elif isinstance(value, (gast.List, gast.Tuple, gast.Set)):
        items = [e for e in value.elts if isinstance(e, gast.Name)]
    elif isinstance(value, gast.Dict):
        items = [e for e in value.values if isinstance(e, gast.Name)]
    else:
        items = []
    shared = [e.id for e in items if e.id in lists]
    if not shared:
        return []
    text = S.text(assign).strip()
    return [(name, text) for name in shared]


def _changes_in(loop, name: str) -> bool:
    return any(
        isinstance(n, gast.Call)
        and isinstance(n.func, gast.Attribute)
        and isinstance(n.func.value, gast.Name)
        and n.func.value.id == name
        and n.func.attr in _MUTATORS
        for n in S.walk(loop)
    )


class _Lowering:
    def __init__(self, names: S.NameGen, lists: set):
        self.names = names
        self.lists = lists

    def block(self, stmts) -> list:
        return rewrite_blocks(stmts, self.statement)

    def is_list(self, e) -> bool:
        return _makes_list(e, self.lists)

    def statement(self, s) -> list:
        call = s.value if isinstance(s, gast.Expr) else None
        if isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute):
            owner = call.func.value
            method = call.func.attr
            if isinstance(owner, gast.Name) and owner.id in self.lists and not call.keywords:
                xs = owner.id
                if method == "extend" and len(call.args) == 1:
                    return [self.append_all(xs, call.args[0])]
                if method == "reverse" and not call.args:
                    return [_assign(xs, _slice(S.name(xs), step=S.const(-1)))]
                if method == "insert" and len(call.args) == 2:
                    i, v = call.args
                    index = self.names.fresh("i")
                    item = self.names.fresh("item")
                    tail = self.names.fresh(xs + "_tail")
                    return [  # the arguments are evaluated first, as in the call
                        _assign(index, i),
                        _assign(item, v),
                        _assign(tail, _slice(S.name(xs), lower=S.name(index))),
                        _assign(xs, _slice(S.name(xs), upper=S.name(index))),
                        _append(xs, S.name(item)),
                        self.append_all(xs, S.name(tail)),
                    ]
        if isinstance(s, gast.AugAssign) and isinstance(s.target, gast.Name):
            xs = s.target.id
            if xs in self.lists and isinstance(s.op, gast.Add):
                return [self.append_all(xs, s.value)]
            if xs in self.lists and isinstance(s.op, gast.Mult):
                return self.repeated(xs, S.name(xs), s.value)
        if isinstance(s, gast.Assign) and len(s.targets) == 1:
            target, value = s.targets[0], s.value
            popped = _popped_at(value)
            if popped is not None and popped[0] in self.lists and isinstance(target, gast.Name):
                return self.pop(target, *popped)
            if isinstance(target, gast.Name) and isinstance(value, gast.BinOp):
                if isinstance(value.op, gast.Add) and self.is_list(value):
                    return self.concatenated(target.id, value.left, value.right)
                if isinstance(value.op, gast.Mult) and self.is_list(value):
                    left_list = self.is_list(value.left)
                    seq, count = (
                        (value.left, value.right) if left_list else (value.right, value.left)
                    )
                    return self.repeated(target.id, seq, count)
        return [s]

    def append_all(self, xs: str, ys):
        v = self.names.fresh("item")
        return gast.For(
            target=S.name(v, store=True),
            iter=ys,
            body=[_append(xs, S.name(v))],
            orelse=[],
            type_comment=None,
        )

    def concatenated(self, zs: str, left, right) -> list:
        head = self.names.fresh("head")
        out = [_assign(head, left)]  # read before zs is bound: `xs = ys + xs`
        tail = right
        if isinstance(right, gast.Name) and right.id == zs:
            tail_name = self.names.fresh("tail")
            out.append(_assign(tail_name, right))
            tail = S.name(tail_name)
        out.append(_assign(zs, _slice(S.name(head))))
        out.append(self.append_all(zs, tail))
        return out

    def repeated(self, zs: str, seq, count) -> list:
        items = self.names.fresh("items")
        times = self.names.fresh("times")
        loop = gast.For(
            target=S.name(self.names.fresh("_"), store=True),
            iter=S.call(S.name("range"), [S.name(times)]),
            body=[self.append_all(zs, S.name(items))],
            orelse=[],
            type_comment=None,
        )
        return [
            _assign(items, seq),
            _assign(times, count),
            _assign(zs, gast.List(elts=[], ctx=gast.Load())),
            loop,
        ]

    def pop(self, target, xs: str, index: int) -> list:
        out = [
            _assign(
                target.id, gast.Subscript(value=S.name(xs), slice=S.const(index), ctx=gast.Load())
            )
        ]
        if index == -1:
            return out + [_assign(xs, _slice(S.name(xs), upper=S.const(-1)))]
        tail = self.names.fresh(xs + "_tail")
        after = None if index + 1 == 0 else S.const(index + 1)
        return out + [
            _assign(tail, _slice(S.name(xs), lower=after)),
            _assign(xs, _slice(S.name(xs), upper=S.const(index))),
            self.append_all(xs, S.name(tail)),
        ]


def _popped_at(value):
    """``(xs, i)`` for ``xs.pop(i)`` with a constant integer ``i``, else None."""
    if (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Attribute)
        and value.func.attr == "pop"
        and isinstance(value.func.value, gast.Name)
        and len(value.args) == 1
        and not value.keywords
    ):
        i = value.args[0]
        if isinstance(i, gast.UnaryOp) and isinstance(i.op, gast.USub):
            i = i.operand
            if isinstance(i, gast.Constant) and type(i.value) is int:
                return value.func.value.id, -i.value
        if isinstance(i, gast.Constant) and type(i.value) is int:
            return value.func.value.id, i.value
    return None


def _assign(name: str, value):
    return gast.Assign(targets=[S.name(name, store=True)], value=value, type_comment=None)


def _append(xs: str, v):
    method = gast.Attribute(value=S.name(xs), attr="append", ctx=gast.Load())
    return gast.Expr(value=gast.Call(func=method, args=[v], keywords=[]))


def _slice(value, lower=None, upper=None, step=None):
    return gast.Subscript(
        value=value, slice=gast.Slice(lower=lower, upper=upper, step=step), ctx=gast.Load()
    )
