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
* ``v = xs.pop(j)``, ``del xs[j]``      -> the same at ``k = range(len(xs))[j]``
* ``xs.remove(v)``                      -> the same at ``k = xs.index(v)``
* ``xs.reverse()``                      -> ``xs = xs[::-1]``
* ``xs.sort(...)``, ``xs.clear()``      -> ``xs = sorted(xs, ...)``, ``xs = []``

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
from .grown_items import lower_grown_items
from .item_lists import indexed_item_loops, named_item_lists
from .list_kinds import list_names, makes_list
from .set_default_lists import named_set_default_lists
from .shared_lists import shared_list
from .walk import rewrite_blocks


def lower_list_operations(fn: gast.FunctionDef, names: S.NameGen, examples=None, builds=None):
    """Rewrite ``fn`` in place so that its lists grow only by ``append``, and its dicts change
    only by item assignment and rebinding (:mod:`.dicts`, first); returns the names known to
    hold lists. ``builds(func)``: whether a call of ``func`` makes an object of a class (which
    may hold the lists handed to it)."""
    named_set_default_lists(fn, names)
    lower_dict_operations(fn, names, examples)
    params = [a.id for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs]
    lower_grown_items(fn, params, examples, names)
    _split_list_rebindings(fn, names)
    named_item_lists(fn, names)
    indexed_item_loops(fn, names)
    lists, kinds = list_names(fn, examples)
    shared = shared_list(fn, lists, builds)
    if shared is not None:
        stmt, message = shared
        raise UnsupportedSyntaxError(message, None, stmt.lineno)
    if lists:
        fn.body = _Lowering(names, lists, kinds).block(fn.body)
    tuples = {p for p, v in zip(params, examples or ()) if type(v) is tuple}
    _operands_as_arrays(fn, lists | tuples)
    return lists


def _split_list_rebindings(fn, names: S.NameGen) -> None:
    """A name built as a list and then bound, at the top of the body, to something else
    (``returns = np.array(returns)`` after ``returns.insert(0, G)`` in a loop) becomes a
    fresh name from that binding on, in place, so that the list keeps one kind (as Python
    runs it: the statements after read the new value). Not where a nested function or lambda
    made before may read the name, nor with ``global``/``nonlocal``."""
    if any(isinstance(n, (gast.Global, gast.Nonlocal)) for n in S.walk(fn)):
        return
    built: set = set()
    for i, stmt in enumerate(fn.body):
        target = stmt.targets[0] if isinstance(stmt, gast.Assign) else None
        rebinds = isinstance(target, gast.Name) and len(stmt.targets) == 1
        if rebinds and target.id in built and not makes_list(stmt.value, built):
            earlier = [n for s in fn.body[:i] for n in S.walk(s)]
            if not any(
                isinstance(n, (gast.FunctionDef, gast.Lambda)) and target.id in S.names_in(n)
                for n in earlier
            ):
                fresh = names.fresh(target.id)
                for later in fn.body[i + 1 :]:
                    for n in S.walk(later):
                        if isinstance(n, gast.Name) and n.id == target.id:
                            n.id = fresh
                target.id = fresh
                continue
        for n in S.walk(stmt):
            if not (isinstance(n, gast.Assign) and len(n.targets) == 1):
                continue
            pairs = [(n.targets[0], n.value)]
            if isinstance(n.targets[0], gast.Tuple) and isinstance(n.value, gast.Tuple):
                pairs = list(zip(n.targets[0].elts, n.value.elts))  # `G, returns = 0.0, []`
            for t, v in pairs:
                if isinstance(t, gast.Name) and makes_list(v, built):
                    built.add(t.id)


def _operands_as_arrays(fn, lists: set) -> None:
    """``np.square(xs)`` with ``xs`` a list (or a tuple argument, a list display or
    comprehension: ``np.linalg.norm([a, b])``) as ``np.square(np.asarray(xs))``, in place: the same value (NumPy converts an array-like
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
                if (every or k == 0)
                and (
                    isinstance(a, gast.Name)
                    and a.id in lists
                    or isinstance(a, (gast.List, gast.ListComp))
                )
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
        joined = self.hoisted_join(s)
        if joined is not None:
            return self.statement(joined) + self.statement(s)
        call = s.value if isinstance(s, gast.Expr) else None
        if isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute):
            owner = call.func.value
            if isinstance(owner, gast.Name) and owner.id in self.lists:
                lowered = self.method_call(owner.id, call)
                if lowered is not None:
                    return lowered
        deleted = _deleted_item(s)
        if deleted is not None and deleted.value.id in self.lists:
            xs, index = deleted.value.id, self.names.fresh("i")
            return [_position(index, xs, deleted.slice), *self.without(xs, index)]
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
            xs = popped_list(value)
            if xs in self.lists and value.args and isinstance(target, gast.Name):
                return self.pop_at(target.id, xs, value.args[0])
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

    def method_call(self, xs: str, call):
        """The statements for ``xs.method(...)`` called for its effect on the list ``xs``,
        rebinding ``xs`` to the list Python leaves there; None for other calls."""
        method, args = call.func.attr, call.args
        if method == "sort" and not args:  # `xs.sort(key=..., reverse=True)`
            ordered = gast.Call(func=S.name("sorted"), args=[S.name(xs)], keywords=call.keywords)
            return [_assign(xs, ordered)]
        if call.keywords:
            return None
        if method == "extend" and len(args) == 1:
            return [self.append_all(xs, args[0])]
        if method == "reverse" and not args:
            return [_assign(xs, _slice(S.name(xs), step=S.const(-1)))]
        if method == "clear" and not args:
            return [_assign(xs, gast.List(elts=[], ctx=gast.Load()))]
        if method == "remove" and len(args) == 1:  # the first item equal to it, or ValueError
            index = self.names.fresh("i")
            found = S.call(gast.Attribute(value=S.name(xs), attr="index", ctx=gast.Load()), args)
            return [_assign(index, found), *self.without(xs, index)]
        if method == "insert" and len(args) == 2:
            i, v = args
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
        return None

    def pop_at(self, target: str, xs: str, i) -> list:
        """``target = xs.pop(i)`` for an index ``i`` known only when it runs."""
        index = self.names.fresh("i")
        item = gast.Subscript(value=S.name(xs), slice=S.name(index), ctx=gast.Load())
        return [
            _position(index, xs, i),
            _assign(target, item),
            *self.without(xs, index),
        ]

    def without(self, xs: str, index: str) -> list:
        """``xs`` rebound to the list without its item at position ``index`` (a name)."""
        tail = self.names.fresh(xs + "_tail")
        after = gast.BinOp(left=S.name(index), op=gast.Add(), right=S.const(1))
        return [
            _assign(tail, _slice(S.name(xs), lower=after)),
            _assign(xs, _slice(S.name(xs), upper=S.name(index))),
            self.append_all(xs, S.name(tail)),
        ]

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

    def hoisted_join(self, s):
        """``joined = a + b`` for a join of lists nested in ``s``'s expression, of names
        and displays alone (``np.stack([h] + embs, axis=1)``), which then reads ``joined``
        in its place; None where there is none, or where it is under a branch of the
        expression."""
        top = s.value if isinstance(s, gast.Assign) else None
        for expr in _evaluated_first(s):
            for n in S.walk(expr):
                if n is top or not (isinstance(n, gast.BinOp) and isinstance(n.op, gast.Add)):
                    continue
                plain = all(isinstance(x, (gast.Name, gast.List)) for x in (n.left, n.right))
                if plain and self.is_list(n) and not _under_branch(expr, n):
                    joined = self.names.fresh("joined")
                    _replace(s, n, S.name(joined))
                    return _assign(joined, n)
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


def _position(index: str, xs: str, i):
    """``index = range(len(xs))[i]``: the position of item ``i`` of the list ``xs``, counted
    from the end where ``i`` is negative, with IndexError where ``xs`` has no such item."""
    positions = S.call(S.name("range"), [S.call(S.name("len"), [S.name(xs)])])
    return _assign(index, gast.Subscript(value=positions, slice=i, ctx=gast.Load()))


def _deleted_item(s):
    """The target ``xs[i]`` of ``del xs[i]`` (one item, not a slice), else None."""
    if isinstance(s, gast.Delete) and len(s.targets) == 1:
        target = s.targets[0]
        if (
            isinstance(target, gast.Subscript)
            and isinstance(target.value, gast.Name)
            and not isinstance(target.slice, (gast.Slice, gast.Tuple))
        ):
            return target
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
