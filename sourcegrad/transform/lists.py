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
import numpy as np

from ..errors import UnsupportedSyntaxError
from . import syntax as S
from .dicts import lower_dict_operations
from .list_kinds import list_names, makes_list
from .walk import rewrite_blocks


def lower_list_operations(fn: gast.FunctionDef, names: S.NameGen, examples=None, builds=None):
    """Rewrite ``fn`` in place so that its lists grow only by ``append``, and its dicts change
    only by item assignment and rebinding (:mod:`.dicts`, first); returns the names known to
    hold lists. ``builds(func)``: whether a call of ``func`` makes an object of a class (which
    may hold the lists handed to it)."""
    lower_dict_operations(fn, names, examples)
    lists, kinds = list_names(fn, examples)
    shared = shared_list(fn, lists, builds)
    if shared is not None:
        stmt, message = shared
        raise UnsupportedSyntaxError(message, None, stmt.lineno)
    if lists:
        fn.body = _Lowering(names, lists, kinds).block(fn.body)
    params = [a.id for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs]
    tuples = {p for p, v in zip(params, examples or ()) if type(v) is tuple}
    if lists or tuples:
        _operands_as_arrays(fn, lists | tuples)
    return lists


def _operands_as_arrays(fn, lists: set) -> None:
    """``np.square(xs)`` with ``xs`` a list (or a tuple argument) as
    ``np.square(np.asarray(xs))``, in place: the same value (NumPy converts an array-like
    operand so), and the rules' adjoints and tangents compute with an array (``2.0 * xs`` of
    a list is an error, not a product). Every operand of a ufunc, and the first of other NumPy
    functions, except those that take a sequence of arrays (``np.stack(xs)``)."""
    for node in S.walk(fn):
        if not (S.calls_module(node) and isinstance(node.func, gast.Attribute)):
            continue
        if node.func.attr in _SEQUENCE_TAKERS:
            continue
        every = isinstance(getattr(np, node.func.attr, None), np.ufunc)
        module = S.dotted(node.func).split(".")[0]  # `np` of `np.linalg.norm`
        node.args = [
            (
                S.call(gast.Attribute(value=S.name(module), attr="asarray", ctx=gast.Load()), [a])
                if isinstance(a, gast.Name) and a.id in lists and (every or k == 0)
                else a
            )
            for k, a in enumerate(node.args)
        ]


#: NumPy functions whose first argument is a sequence of arrays (or made into one as it is)
_SEQUENCE_TAKERS = frozenset(
    {"concatenate", "stack", "vstack", "hstack", "dstack", "column_stack", "row_stack",
     "block", "array", "asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "select",
     "piecewise", "multi_dot", "broadcast_arrays", "meshgrid", "ix_", "einsum", "append",
     "unique", "sort", "copy", "zeros", "ones", "empty", "full", "eye", "identity", "arange",
     "linspace", "logspace", "random", "fft"}
)  # fmt: skip


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
            if isinstance(owner, gast.Name) and n.func.attr in _CONTAINER_MUTATORS:
                by_method.setdefault(owner.id, []).append(n.lineno)
        elif isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name):
            changes.setdefault(n.target.id, []).append(n.lineno)
            if n.target.id in lists:  # a list's `+=` and `*=` change it in place
                by_method.setdefault(n.target.id, []).append(n.lineno)
        elif isinstance(n, (gast.For, gast.While)):
            loops.append(n)
        elif isinstance(n, gast.Assign):
            assigns.append(n)
    bound: dict = {}  # name -> lines where it is assigned
    for n in assigns:
        for t in n.targets:
            if isinstance(t, gast.Name):
                bound.setdefault(t.id, []).append(n.lineno)
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


#: the methods of a list or dict that change it in place (not an array's: `sort` is both)
_CONTAINER_MUTATORS = frozenset(
    {"append", "extend", "insert", "pop", "reverse", "remove", "clear", "update", "popitem",
     "setdefault"}
)  # fmt: skip


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


def _shared_by(assign, lists: set, builds=None) -> list:
    """``[(list name, text)]``: the lists an assignment gives another reference to, as the
    value itself (``first = hs``), an item of a display (``pair = (hs, x)``) or an argument of
    a class building an object (``net = Seq(hs)``)."""
    value = assign.value
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


class _Lowering:
    def __init__(self, names: S.NameGen, lists: set, kinds: tuple):
        self.names = names
        self.lists = lists
        self.kinds = kinds

    def block(self, stmts) -> list:
        return rewrite_blocks(stmts, self.statement)

    def is_list(self, e) -> bool:
        return makes_list(e, self.lists, self.kinds)

    def statement(self, s) -> list:
        popped = self.hoisted_pop(s)
        if popped is not None:
            return self.statement(popped) + self.statement(s)
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
            if isinstance(target, (gast.Subscript, gast.Attribute)) and self.is_list(value):
                if isinstance(value, gast.BinOp):  # `d["hs"] = hs + [h]`: a new list put in
                    joined = self.names.fresh("joined")
                    stored = gast.Assign(targets=[target], value=S.name(joined), type_comment=None)
                    return [*self.statement(_assign(joined, value)), stored]
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

    def hoisted_pop(self, s):
        """``v = xs.pop(...)`` for a pop of a list nested in ``s``'s expression, which then
        reads ``v`` in its place (``total = total + np.sum(xs.pop() ** 2)``); None where there
        is none or moving it first could change what runs: the pop under a branch of the
        expression (``and``, ``or``, ``if``-``else``, a lambda or comprehension) or ``xs``
        read elsewhere in the statement."""
        if isinstance(s, gast.Assign) and popped_list(s.value) is not None:
            return None  # already its own statement
        for expr in _evaluated_first(s):
            found = _pop_call(expr, self.lists)
            if found is None:
                continue
            call, xs = found
            reads = [n for n in S.walk(expr) if isinstance(n, gast.Name) and n.id == xs]
            if len(reads) != 1 or _under_branch(expr, call):
                return None
            v = self.names.fresh(xs + "_item")
            _replace(s, call, S.name(v))
            return _assign(v, call)
        return None

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
        out = self.statement(_assign(head, left))  # read before zs is bound: `xs = ys + xs`
        tail = right
        if isinstance(right, gast.Name) and right.id == zs or isinstance(right, gast.BinOp):
            tail_name = self.names.fresh("tail")
            out += self.statement(_assign(tail_name, right))  # `[h] * 2` repeated first
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
            *self.statement(_assign(items, seq)),
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


def popped_list(value, most_args: int = 1):
    """``xs`` for ``xs.pop()`` (or ``xs.pop(i)`` where ``most_args`` is 1; no keywords),
    else None."""
    if (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Attribute)
        and value.func.attr == "pop"
        and isinstance(value.func.value, gast.Name)
        and len(value.args) <= most_args
        and not value.keywords
    ):
        return value.func.value.id
    return None


def _evaluated_first(s) -> list:
    """The expressions a simple statement (or a compound one's header) evaluates before
    anything else of it runs."""
    if isinstance(s, (gast.Assign, gast.AugAssign, gast.Expr, gast.Return)):
        return [s.value] if s.value is not None else []
    if isinstance(s, gast.If):
        return [s.test]
    if isinstance(s, gast.For):
        return [s.iter]
    return []


def _pop_call(expr, lists: set):
    """``(call, xs)`` for the first ``xs.pop(...)`` of a list in ``expr``, else None."""
    for n in S.walk(expr):
        xs = popped_list(n)
        if xs is not None and xs in lists:
            return n, xs
    return None


_BRANCHING = (gast.BoolOp, gast.IfExp, gast.Lambda, gast.ListComp, gast.SetComp, gast.DictComp,
              gast.GeneratorExp)  # fmt: skip


def _under_branch(expr, call) -> bool:
    """Whether ``call`` is inside a part of ``expr`` that may run zero or many times."""
    return any(call in S.walk(n) for n in S.walk(expr) if isinstance(n, _BRANCHING))


def _replace(s, old, new) -> None:
    """Put ``new`` where ``old`` is in the expressions :func:`_evaluated_first` of ``s``."""
    for n in [s, *[e for expr in _evaluated_first(s) for e in S.walk(expr)]]:
        for field, value in gast.iter_fields(n):
            if value is old:
                setattr(n, field, new)
            elif isinstance(value, list):
                value[:] = [new if v is old else v for v in value]


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
