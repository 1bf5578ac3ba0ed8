"""Lowering loops to core form: every ``for`` becomes a loop over ``range`` (a loop over a
sequence, ``zip`` or ``enumerate`` reads elements by position), and comprehensions and
generator expressions become the loops that fill their list or dict (a mixin of the
normalize pass's builder)."""

from __future__ import annotations

import itertools

import gast
import numpy as np

from . import syntax as S
from .parse import resolve
from .walk import rebound_names


class LoopLowering:
    """Loops and comprehensions. Expects of the builder: ``p`` (the parsed function),
    ``fn``, ``names``, ``env``, ``local_names``, ``unversioned``, ``lineno``, and the
    methods ``refuse``, ``emit``, ``atom``, ``block``, ``bind``, ``statement``, ``is_dict``,
    ``may_be_dict`` and ``note_loop_item``."""

    def for_(self, stmt):
        if stmt.orelse:
            self.refuse(
                "the `else` of this `for` loop breaks out of (or continues) the enclosing loop, "
                "which is not supported; set a flag in it and test the flag after the loop",
                stmt,
            )
        assigned = rebound_names(stmt.body) | S.names_in(stmt.target)
        it = _reversed_range(self, stmt.iter) or stmt.iter
        if _is_range(self, it):
            args = []
            for a in it.args:
                atom = self.atom(a, "n")
                if isinstance(atom, gast.Name) and atom.id in assigned:
                    t = self.names.fresh(atom.id + "_start")
                    self.emit(S.assign(t, atom), temp=True)
                    atom = S.name(t)
                args.append(atom)
            if not isinstance(stmt.target, gast.Name):
                self.refuse("iterate over range() with a single loop variable", stmt)
            target = stmt.target.id
            header = S.call(S.name("range"), args)
            if _bound_otherwise(self.fn, target):
                # the name also holds other values (a dict's keys in an earlier loop, ...): the
                # counter gets a name of its own and is copied in, so that the copy, like any
                # assignment, is saved where the adjoint needs the value it overwrites
                counter = self.names.fresh(target + "_i")
                self.names.reserve(counter)
                copy = gast.Assign(
                    targets=[S.name(target, store=True)], value=S.name(counter), type_comment=None
                )
                copy.lineno = stmt.lineno
                body = self.block([copy, *stmt.body])
                target = counter
            else:
                self.env[target] = target
                self.item_examples.pop(target, None)
                body = self.block(stmt.body)
        else:
            # `for x in xs`, `zip`, `enumerate`: iterate over positions, read elements
            length, getters = self.iteration(it, stmt.target)
            target = self.names.fresh("k")
            header = S.call(S.name("range"), [length])
            body_stmts = [
                gast.Assign(targets=[tgt], value=get(S.name(target)), type_comment=None)
                for tgt, get in getters
            ]
            for b in body_stmts:
                b.lineno = stmt.lineno
                if isinstance(b.targets[0], gast.Name):  # the loop's own binding of an item
                    self.loop_getters[id(b.value)] = b.targets[0].id
            body = self.block(body_stmts + list(stmt.body))
        loop = gast.For(
            target=S.name(target, store=True),
            iter=header,
            body=body or [gast.Pass()],
            orelse=[],
            type_comment=None,
        )
        self.emit(loop, temp=False)

    def sorted_items_as_keys(self, stmt):
        """``for k, v in sorted(d.items()):`` of a dict ``d`` (an argument's, or one the function
        builds) as ``for k in sorted(d):`` with
        ``v = d[k]`` first in the body: the same pairs in the same order (a dict's keys are
        distinct, so the values are never compared), read by key."""
        it, target = stmt.iter, stmt.target
        if not (
            isinstance(it, gast.Call)
            and len(it.args) == 1
            and all(k.arg == "reverse" for k in it.keywords)
            and resolve(self.p, it.func, self.local_names) is sorted
            and isinstance(target, gast.Tuple)
            and len(target.elts) == 2
            and all(isinstance(e, gast.Name) for e in target.elts)
        ):
            return stmt
        view = it.args[0]
        if not (
            isinstance(view, gast.Call)
            and isinstance(view.func, gast.Attribute)
            and view.func.attr == "items"
            and not view.args
            and (self.is_dict(view.func.value) or self.may_be_dict(view.func.value))
        ):
            return stmt
        d = view.func.value
        key, value = target.elts
        read = gast.Subscript(value=S.clone(d), slice=S.name(key.id), ctx=gast.Load())
        first = gast.Assign(targets=[S.name(value.id, store=True)], value=read, type_comment=None)
        first.lineno = stmt.lineno
        names = gast.Call(
            func=gast.Attribute(value=S.clone(d), attr="keys", ctx=gast.Load()),
            args=[],
            keywords=[],
        )  # (the keys: no derivative flows through them, at any order)
        keys = gast.Call(func=it.func, args=[names], keywords=it.keywords)
        new = gast.For(
            target=S.name(key.id, store=True), iter=keys, body=[first, *stmt.body],
            orelse=stmt.orelse, type_comment=None,
        )  # fmt: skip
        new.lineno = stmt.lineno
        return new

    def iterated(self, it):
        """The sequence a loop over ``it`` reads, where that is plainer: ``reversed(xs)`` as
        ``xs[::-1]``, ``sorted(d)`` of a dict argument as ``sorted(d.keys())``."""
        if (
            _is_reversed_call(self, it)
            and not self.is_dict(it.args[0])
            and not _is_range(self, it.args[0])
        ):  # the same items as the sequence read backwards
            it = gast.Subscript(
                value=it.args[0],
                slice=gast.Slice(lower=None, upper=None, step=S.const(-1)),
                ctx=gast.Load(),
            )
        if (
            isinstance(it, gast.Call)
            and len(it.args) == 1
            and self.is_dict(it.args[0])
            and resolve(self.p, it.func, self.local_names) is sorted
        ):  # a dict's keys, sorted: no derivative flows through them
            keys = gast.Attribute(value=it.args[0], attr="keys", ctx=gast.Load())
            it = gast.Call(
                func=it.func,
                args=[gast.Call(func=keys, args=[], keywords=[])],
                keywords=it.keywords,
            )
        if _makes_iterator(self, it):  # an iterator has no len(): its items, as a list
            if _endless(self, it):
                self.refuse(
                    f"`{S.text(it)}` never ends, so its items cannot be listed; loop over "
                    "`range(n)` (or zip with a list) instead",
                    it,
                )
            it = S.call(S.name("list"), [it])
        return it

    def spliced_zip(self, it):
        """``zip(*layers)`` as ``zip(layers[0], layers[1])`` where the length of ``layers`` is
        known when the derivative is built (:meth:`star_items`); other calls as they are."""
        if not any(isinstance(a, gast.Starred) for a in it.args):
            return it
        spliced = []
        for a in it.args:
            spliced.extend(self.star_items(a.value, it) if isinstance(a, gast.Starred) else [a])
        return gast.Call(func=it.func, args=spliced, keywords=[])

    def iteration(self, it, target):
        """``(length atom, [(target, index -> element expression)])`` for a loop over ``it``."""
        if (
            isinstance(it, gast.Call)
            and isinstance(it.func, gast.Name)
            and it.func.id in ("zip", "enumerate")
            and all(_known_keyword(it.func.id, k) for k in it.keywords)
        ):
            if it.func.id == "enumerate":
                start = [*it.args[1:], *(k.value for k in it.keywords)]
                pair = isinstance(target, gast.Tuple) and len(target.elts) == 2
                if not it.args or len(start) > 1 or not pair:
                    self.refuse("use `for i, x in enumerate(xs)` or `enumerate(xs, start)`", it)
                length, getters = self.iteration(it.args[0], target.elts[1])
                first = self.atom(start[0], "start") if start else None
                return length, [(target.elts[0], lambda k: _counted(k, first))] + getters
            return self.zipped(self.spliced_zip(it), target)
        it = self.iterated(it)
        if isinstance(target, gast.Name):
            self.note_loop_item(target.id, it)
        if self.is_dict(it):  # a dict iterates over its keys, which have no derivative
            it = gast.Call(
                func=gast.Attribute(value=it, attr="keys", ctx=gast.Load()), args=[], keywords=[]
            )
        if _dict_view(it):
            # a dict's keys, values or items as a list, so that positions index it
            it = gast.Call(func=S.name("list"), args=[it], keywords=[])
        elif self.may_be_dict(it):
            # a name of the function's own whose kind shows only when it runs: a dict
            # iterates over its keys (`for k in p` with p a layer's dict of parameters)
            keys = gast.Attribute(value=S.clone(it), attr="keys", ctx=gast.Load())
            listed = gast.Call(
                func=S.name("list"), args=[gast.Call(func=keys, args=[], keywords=[])], keywords=[]
            )
            test = gast.Call(
                func=S.name("isinstance"), args=[S.clone(it), S.name("dict")], keywords=[]
            )
            it = gast.IfExp(test=test, body=listed, orelse=it)
        seq = self.atom(it, "seq")
        if isinstance(seq, gast.Name) and seq.id in self.unversioned:
            t = self.names.fresh(seq.id + "_seq")
            self.emit(S.assign(t, seq), temp=True)
            seq = S.name(t)
        n = self.names.fresh("n")
        self.emit(S.assign(n, S.call(S.name("len"), [seq])), temp=True)
        return S.name(n), [
            (
                target,
                lambda k, seq=seq: gast.Subscript(value=S.clone(seq), slice=k, ctx=gast.Load()),
            )
        ]

    def zipped(self, it, target):
        """:meth:`iteration` over ``zip(...)``, each argument read by position; with
        ``strict=True``, Python's ValueError where their lengths differ, before the loop."""
        if not (isinstance(target, gast.Tuple) and len(target.elts) == len(it.args)):
            self.refuse("unpack zip() into as many names as it has arguments", it)
        parts = [self.iteration(a, t) for a, t in zip(it.args, target.elts)]
        lengths = [p[0] for p in parts]
        if any(k.value.value for k in it.keywords):
            self.statement(_unequal_lengths_raise(lengths, it))
        length = lengths[0]
        if len(lengths) > 1:
            length = self.atom(S.call(S.name("min"), lengths), "n")
        return length, [g for p in parts for g in p[1]]

    def comprehension(self, e) -> str:
        """``[elt for x in xs if c]`` (or a generator expression, which every caller here
        consumes at once) as the loop that builds the list: ``items = []``, then
        ``for x in xs: if c: items.append(elt)``; a dict comprehension likewise with
        ``items = {}`` and ``items[k] = v``. Its variables get names of their own, as they do
        not leak from a comprehension in Python. Returns the name of what it builds."""
        gens = [S.clone(g) for g in e.generators]
        is_dict = isinstance(e, gast.DictComp)
        elt = (
            gast.Tuple(elts=[S.clone(e.key), S.clone(e.value)], ctx=gast.Load())
            if is_dict
            else S.clone(e.elt)
        )
        mapping = {}
        for g in gens:
            for n in S.walk(g.target):
                if isinstance(n, gast.Name):
                    mapping.setdefault(n.id, self.names.fresh(n.id))
                    n.id = mapping[n.id]
        renamed = {old: S.name(new) for old, new in mapping.items()}
        elt = S.rename(elt, renamed)
        for i, g in enumerate(gens):
            g.ifs = [S.rename(c, renamed) for c in g.ifs]
            if i:  # the first iterable is evaluated where the comprehension stands
                g.iter = S.rename(g.iter, renamed)
        items = self.names.fresh("items")
        self.names.reserve(items)
        made = {items, *mapping.values()}
        self.unversioned |= made
        self.local_names |= made
        self.comprehension_targets |= set(mapping.values())
        if is_dict:  # {k: v for ...}: items[k] = v
            key, value = elt.elts
            target = gast.Subscript(value=S.name(items), slice=key, ctx=gast.Store())
            stmt = gast.Assign(targets=[target], value=value, type_comment=None)
        else:
            append = gast.Attribute(value=S.name(items), attr="append", ctx=gast.Load())
            stmt = gast.Expr(value=gast.Call(func=append, args=[elt], keywords=[]))
        for g in reversed(gens):
            for c in reversed(g.ifs):
                stmt = gast.If(test=c, body=[stmt], orelse=[])
            stmt = gast.For(target=g.target, iter=g.iter, body=[stmt], orelse=[], type_comment=None)
        for n in S.walk(stmt):
            if hasattr(n, "lineno") or isinstance(n, gast.stmt):
                n.lineno = self.lineno
        empty = gast.Dict(keys=[], values=[]) if is_dict else gast.List(elts=[], ctx=gast.Load())
        self.bind(items, empty)
        self.statement(stmt)
        return items


def _bound_otherwise(fn, name: str) -> bool:
    """Whether ``name`` is bound in ``fn`` by anything but ``for name in range(...)`` (or
    ``reversed(range(...))``)."""
    counters = {id(n.target) for n in S.nodes_of(fn, (gast.For,)) if _counts(n.iter)}
    return any(
        isinstance(n.ctx, gast.Store) and n.id == name and id(n) not in counters
        for n in S.name_nodes(fn)
    )


def _counts(it) -> bool:
    """``range(...)`` or ``reversed(range(...))``."""
    if isinstance(it, gast.Call) and getattr(it.func, "id", None) == "reversed" and it.args:
        it = it.args[0]
    return isinstance(it, gast.Call) and getattr(it.func, "id", None) == "range"


def _makes_iterator(lowering, it) -> bool:
    """A call of an ``itertools`` function or of ``np.ndindex`` / ``np.ndenumerate``: an
    iterator, which has no ``len()``, where ``list`` is the builtin."""
    if not isinstance(it, gast.Call):
        return False
    fn = resolve(lowering.p, it.func, lowering.local_names)
    iterates = fn in (np.ndindex, np.ndenumerate) or getattr(fn, "__module__", None) == "itertools"
    return iterates and resolve(lowering.p, S.name("list"), lowering.local_names) is list


def _endless(lowering, it) -> bool:
    """``itertools.count(...)``, ``cycle(...)`` or ``repeat(x)`` without a count."""
    fn = resolve(lowering.p, it.func, lowering.local_names)
    if fn is itertools.repeat:
        return len(it.args) < 2 and not it.keywords
    return fn in (itertools.count, itertools.cycle)


def _dict_view(it) -> bool:
    """``x.items()``, ``x.values()`` or ``x.keys()``."""
    return (
        isinstance(it, gast.Call)
        and isinstance(it.func, gast.Attribute)
        and it.func.attr in ("items", "values", "keys")
        and not it.args
        and not it.keywords
    )


def _reversed_range(lowering, it):
    """``range(b - 1, a - 1, -1)`` for ``reversed(range(a, b))``; ``range(a, b, s)[::-1]`` (a
    range too, any step) for ``reversed(range(a, b, s))``; else None."""
    if not (_is_reversed_call(lowering, it) and _is_range(lowering, it.args[0])):
        return None
    if len(it.args[0].args) == 3:
        back = gast.Slice(lower=None, upper=None, step=S.const(-1))
        return gast.Subscript(value=S.clone(it.args[0]), slice=back, ctx=gast.Load())
    bounds = it.args[0].args
    start, stop = (S.const(0), bounds[0]) if len(bounds) == 1 else bounds

    def minus_one(e):
        if isinstance(e, gast.Constant) and isinstance(e.value, int):
            return S.const(e.value - 1)
        return gast.BinOp(left=S.clone(e), op=gast.Sub(), right=S.const(1))

    return S.call(S.name("range"), [minus_one(stop), minus_one(start), S.const(-1)])


def _is_reversed_call(lowering, it) -> bool:
    """``reversed(xs)``: Python's own ``reversed`` of one sequence."""
    return (
        isinstance(it, gast.Call)
        and isinstance(it.func, gast.Name)
        and it.func.id == "reversed"
        and len(it.args) == 1
        and not it.keywords
        and resolve(lowering.p, it.func, lowering.local_names) is reversed
    )


def _is_range(lowering, it) -> bool:
    if not (isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "range"):
        return False
    return resolve(lowering.p, it.func, lowering.local_names) is range and not it.keywords


def _counted(k, start):
    """The count of position ``k`` in ``enumerate(xs, start)``."""
    if start is None:
        return k
    return gast.BinOp(left=k, op=gast.Add(), right=S.clone(start))


def _known_keyword(func: str, keyword) -> bool:
    """``enumerate(xs, start=k)``, or ``zip(..., strict=True)`` (or False) written as a
    literal."""
    if func == "enumerate":
        return keyword.arg == "start"
    return (
        keyword.arg == "strict"
        and isinstance(keyword.value, gast.Constant)
        and type(keyword.value.value) is bool
    )


def _unequal_lengths_raise(lengths: list, at):
    """``if len(a) != len(b) ...: raise ValueError(...)``, the error of ``zip(a, b,
    strict=True)`` where its arguments differ in length, raised before the loop runs."""
    tests = [
        gast.Compare(left=S.clone(lengths[0]), ops=[gast.NotEq()], comparators=[S.clone(n)])
        for n in lengths[1:]
    ]
    test = tests[0] if len(tests) == 1 else gast.BoolOp(op=gast.Or(), values=tests)
    error = S.call(S.name("ValueError"), [S.const("zip() arguments have different lengths")])
    node = gast.If(test=test, body=[gast.Raise(exc=error, cause=None)], orelse=[])
    for n in S.walk(node):
        gast.copy_location(n, at)
    return node
