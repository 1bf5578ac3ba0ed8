"""``map``, ``filter`` and ``functools.reduce`` as comprehensions and loops (part of normalize).

Entered through :func:`lower_iterator_calls`, which rewrites a user function's syntax tree in
place, before its jumps are lowered, into forms the later passes differentiate:

* ``map(f, xs)`` -> ``[f(x) for x in xs]``; ``map(f, xs, ys)`` -> ``[f(x, y) for x, y in
  zip(xs, ys)]``; with ``f`` a lambda, its body is the comprehension's element and its
  parameters the loop's targets (``map(lambda p: p * 2, ps)`` -> ``[p * 2 for p in ps]``);
* ``filter(f, xs)`` -> ``[x for x in xs if f(x)]`` (``filter(None, xs)`` tests ``x`` itself);
* ``acc = functools.reduce(f, xs, init)`` -> ``acc = init`` then ``for x in xs: acc = f(acc,
  x)``, the lambda's body written out as the step; without ``init`` the first item starts.

A call is lowered only where its function is a name, an attribute chain or a lambda (so that
writing it once per item evaluates the same thing), and ``map``/``filter``/``reduce`` are the
builtins and ``functools``' own. The lists are built eagerly where Python builds an iterator;
a program that reads the iterator lazily (``next(m)``) is the one case that differs, and it
reads a differentiated value through ``next``, which has no rule (refused).
"""

from __future__ import annotations

import builtins
import functools

import gast

from . import syntax as S
from .walk import rewrite_blocks


def lower_iterator_calls(fn: gast.FunctionDef, resolve, names: S.NameGen) -> None:
    """Rewrite ``fn`` in place per the module's rules. ``resolve(expr)`` is the live object a
    name or attribute chain of the function's globals refers to (or anything else)."""
    if not any(isinstance(n, gast.Call) and _kind(n, resolve) for n in S.walk(fn)):
        return
    lowering = _Lowering(resolve, names)
    fn.body = rewrite_blocks(fn.body, lowering.statement)


_KINDS = {builtins.map: "map", builtins.filter: "filter", functools.reduce: "reduce"}
_SHORT_CIRCUIT = (gast.BoolOp, gast.IfExp, gast.Lambda, gast.ListComp, gast.SetComp,
                  gast.DictComp, gast.GeneratorExp)  # fmt: skip


def _kind(call: gast.Call, resolve) -> str | None:
    """ "map", "filter" or "reduce" where ``call`` is one this module lowers, else None."""
    if not isinstance(call.func, (gast.Name, gast.Attribute)) or call.keywords:
        return None
    try:
        kind = _KINDS.get(resolve(call.func))
    except TypeError:  # an unhashable object
        return None
    if kind is None or not call.args or not _repeatable(call.args[0]):
        return None
    if (
        kind == "map"
        and len(call.args) >= 2
        and not any(isinstance(a, gast.Starred) for a in call.args)
    ):
        return kind
    if kind == "filter" and len(call.args) == 2:
        return kind
    if kind == "reduce" and len(call.args) in (2, 3):
        return kind
    return None


def _repeatable(f) -> bool:
    """Whether ``f`` may be written once per item: evaluating it again gives the same thing."""
    if isinstance(f, gast.Lambda):
        a = f.args
        plain = not (a.vararg or a.kwarg or a.kwonlyargs or a.defaults or a.posonlyargs)
        return plain and all(isinstance(p, gast.Name) for p in a.args)
    return S.is_none(f) or S.dotted(f) is not None


class _Lowering:
    def __init__(self, resolve, names: S.NameGen):
        self.resolve = resolve
        self.names = names

    def statement(self, s) -> list:
        """``s`` with its map/filter calls as comprehensions, after the loops of its reduces."""
        before: list = []
        if isinstance(s, (gast.FunctionDef, gast.ClassDef)):
            return [s]
        for field in ("value", "test", "iter", "targets", "target", "msg"):
            child = getattr(s, field, None)
            eager = not (isinstance(s, gast.While) and field == "test")  # tested every turn
            if isinstance(child, list):
                setattr(s, field, [self.expression(c, before, eager) for c in child])
            elif isinstance(child, gast.AST):
                setattr(s, field, self.expression(child, before, eager))
        for new in before:
            for n in S.walk(new):
                if isinstance(n, (gast.stmt, gast.expr)) and getattr(n, "lineno", None) is None:
                    n.lineno = s.lineno
        return before + [s]

    def expression(self, e, before: list, eager: bool = True):
        """``e`` lowered; reduces met where they are always evaluated (not under a lambda,
        comprehension, short-circuit or conditional expression) become loops in ``before``."""
        if isinstance(e, gast.Call):
            e.func = self.expression(e.func, before, eager)
            e.args = [self.expression(a, before, eager) for a in e.args]
            for k in e.keywords:
                k.value = self.expression(k.value, before, eager)
            kind = _kind(e, self.resolve)
            if kind == "map":
                return _map(e, self.names)
            if kind == "filter":
                return _filter(e, self.names)
            if kind == "reduce" and eager:
                return self._reduce(e, before)
            return e
        inner_eager = eager and not isinstance(e, _SHORT_CIRCUIT)
        for field, value in gast.iter_fields(e):
            if isinstance(value, gast.AST) and not isinstance(value, gast.expr_context):
                setattr(e, field, self.expression(value, before, inner_eager))
            elif isinstance(value, list):
                setattr(
                    e,
                    field,
                    [
                        self.expression(v, before, inner_eager) if isinstance(v, gast.AST) else v
                        for v in value
                    ],
                )
        return e

    def _reduce(self, call: gast.Call, before: list) -> gast.Name:
        """The loop computing ``reduce(f, xs[, init])`` into a fresh name, added to ``before``."""
        f, items = call.args[0], call.args[1]
        acc = self.names.fresh("acc")
        item = self.names.fresh("item")
        if len(call.args) == 3:
            before.append(S.assign(acc, call.args[2]))
        else:
            listed = self.names.fresh("items")
            before.append(S.assign(listed, S.call(S.name("list"), [items])))
            before.append(S.assign(acc, _index(listed, 0)))
            items = gast.Subscript(
                value=S.name(listed),
                slice=gast.Slice(lower=S.const(1), upper=None, step=None),
                ctx=gast.Load(),
            )
        step = _applied(f, [S.name(acc), S.name(item)])
        loop = gast.For(
            target=S.name(item, store=True),
            iter=items,
            body=[S.assign(acc, step)],
            orelse=[],
            type_comment=None,
        )
        before.append(loop)
        return S.name(acc)


def _index(name: str, i: int) -> gast.Subscript:
    return gast.Subscript(value=S.name(name), slice=S.const(i), ctx=gast.Load())


def _applied(f, args: list):
    """``f(*args)`` as an expression: a lambda's body with its parameters replaced."""
    if isinstance(f, gast.Lambda):
        params = [p.id for p in f.args.args]
        return S.rename(S.clone(f.body), dict(zip(params, args, strict=True)))
    return S.call(S.clone(f), args)


def _comprehension(targets: list, iters: list, ifs: list) -> gast.comprehension:
    if len(iters) == 1:
        target, it = targets[0], iters[0]
    else:
        target = gast.Tuple(elts=targets, ctx=gast.Store())
        it = S.call(S.name("zip"), iters)
    return gast.comprehension(target=target, iter=it, ifs=ifs, is_async=0)


def _loop_targets(f, count: int, names: S.NameGen) -> tuple[list, list]:
    """(store targets, load names) of the items a lambda ``f`` (or a function) is applied to."""
    if isinstance(f, gast.Lambda):
        ids = [p.id for p in f.args.args]
    else:
        ids = [names.fresh("item") for _ in range(count)]
    return [S.name(i, store=True) for i in ids], [S.name(i) for i in ids]


def _map(call: gast.Call, names: S.NameGen):
    f, iters = call.args[0], call.args[1:]
    if isinstance(f, gast.Lambda) and len(f.args.args) != len(iters):
        return call  # Python's TypeError, when it runs
    targets, loads = _loop_targets(f, len(iters), names)
    elt = f.body if isinstance(f, gast.Lambda) else S.call(f, loads)
    return gast.ListComp(elt=elt, generators=[_comprehension(targets, iters, [])])


def _filter(call: gast.Call, names: S.NameGen):
    f, items = call.args
    if isinstance(f, gast.Lambda) and len(f.args.args) != 1:
        return call
    targets, loads = _loop_targets(f, 1, names)
    if S.is_none(f):
        test = loads[0]
    else:
        test = f.body if isinstance(f, gast.Lambda) else S.call(f, loads)
    return gast.ListComp(
        elt=S.clone(loads[0]), generators=[_comprehension(targets, [items], [test])]
    )
