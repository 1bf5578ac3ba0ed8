"""Iteration and attribute forms lowered for the later passes (part of normalize): ``map``,
``filter`` and ``functools.reduce`` as comprehensions and loops, generator functions as
functions returning lists, property reads as calls of their getters, calls of held objects
and of ``super()`` methods in forms that carry the object's derivative.

Entered through :func:`lower_iterator_calls`, which rewrites a user function's syntax tree in
place, before its jumps are lowered, into forms the later passes differentiate:

* ``map(f, xs)`` -> ``[f(x) for x in xs]``; ``map(f, xs, ys)`` -> ``[f(x, y) for x, y in
  zip(xs, ys)]``; with ``f`` a lambda, its body is the comprehension's element and its
  parameters the loop's targets (``map(lambda p: p * 2, ps)`` -> ``[p * 2 for p in ps]``);
  ``itertools.starmap(lambda w, v: w * v, pairs)`` -> ``[w * v for (w, v) in pairs]`` (of a
  lambda alone);
* ``filter(f, xs)`` -> ``[x for x in xs if f(x)]`` (``filter(None, xs)`` tests ``x`` itself);
* ``list(zip(xs, ys))`` -> ``[(x, y) for x, y in zip(xs, ys)]``, ``list(enumerate(xs))`` ->
  ``[(i, x) for i, x in enumerate(xs)]`` (the builtins'); ``Ws, bs = zip(*params)`` ->
  ``Ws = tuple([item[0] for item in params])``, then ``bs`` likewise (each item has at
  least as many parts as there are names, or Python's unpacking fails);
* ``acc = functools.reduce(f, xs, init)`` -> ``acc = init`` then ``for x in xs: acc = f(acc,
  x)``, the lambda's body written out as the step; without ``init`` the first item starts;
  ``itertools.accumulate`` likewise, into a list of the partial results
  (:func:`.itertools_calls.accumulated`);
* a generator function (``yield`` in its body) becomes a function returning the list of what
  it yields (``yield v`` -> ``items.append(v)``, ``yield from xs`` -> a loop of appends,
  ``return`` -> ``return list(items)``), and a call of a generator function is made
  ``list(call)`` (but where ``next`` or ``iter`` steps it); a generator function defined in
  the function whose name is only called there returns its list too: both run the generator
  to its end at once, where Python runs it step by step (the same values unless the loop's body
  changes what the generator reads, or breaks out of an endless one);
* ``p.attr`` where ``attr`` is a property of the class of ``p`` -> the getter called
  (:mod:`.property_reads`);
* ``p.attr(...)`` where ``attr`` is an attribute of the instance ``p`` (a dataclass field, or
  no attribute of ``p``'s known class: a layer object held and called, ``self.inner(x)``) ->
  ``(attr_1 := p.attr)(...)``: the callee is a value read from ``p``, its adjoint ``p``'s
  field's, where a method's call gives its adjoint to ``p`` itself;
* ``super(__class__, self).m(...)`` (``super().m(...)``) with ``m`` a plain function of a
  base class -> ``super(__class__, type(self)).m(self, ...)``: the same method, the object
  passed as an argument, so that a differentiated object's derivative flows through it.

A call is lowered only where its function is a name, an attribute chain, a lambda (so that
writing it once per item evaluates the same thing) or ``functools.partial`` of a name or
attribute chain (its bound arguments evaluated once, before the call, as Python does: it
becomes a lambda over the items), and ``map``/``filter``/``reduce`` are the
builtins and ``functools``' own. The lists are built eagerly where Python builds an iterator;
a program that reads the iterator lazily (``next(m)``) is the one case that differs, and it
reads a differentiated value through ``next``, which has no rule (refused).
"""

from __future__ import annotations

import builtins
import functools
import inspect
import itertools
import types

import gast

from ..errors import UnsupportedSyntaxError
from . import syntax as S
from .itertools_calls import accumulated, applied, lowered_later, paired
from .parse import UNRESOLVED
from .property_reads import call_property_getters
from .walk import OwnNodes, rewrite_blocks


def lower_iterator_calls(fn: gast.FunctionDef, resolve, names: S.NameGen) -> None:
    """Rewrite ``fn`` in place per the module's rules. ``resolve(expr)`` is the live object a
    name or attribute chain of the function's globals refers to (or anything else)."""
    if S.nodes_of(fn, (gast.Yield, gast.YieldFrom)):  # (one fast walk finds none in most)
        if _yields(fn):
            _collect_yields(fn, names.fresh("yielded"))
        for nested in _nested_generators_only_called(fn):
            _collect_yields(nested, names.fresh("yielded"))
    own = OwnNodes(fn)  # one walk for the rewrites below while none changes the tree
    _list_generator_calls(own, resolve)
    _list_zips(own, resolve, names)
    call_property_getters(own, resolve)
    _name_called_fields(own, resolve, names)
    _call_super_methods(own, resolve)
    calls = S.nodes_of(fn, (gast.Call,))
    if not any(_kind(n, resolve) or lowered_later(n, resolve) for n in calls):
        return
    lowering = _Lowering(resolve, names)
    fn.body = rewrite_blocks(fn.body, lowering.statement)


def refuse_generator_function(fn: gast.FunctionDef, filename: str) -> None:
    """Refuse ``fn`` where it is a generator function: its value is an iterator (a generator
    function it calls is lowered as the module says)."""
    found = [n for n in S.own_scope_nodes(fn) if isinstance(n, (gast.Yield, gast.YieldFrom))]
    if found:
        raise UnsupportedSyntaxError(
            f"{fn.name}() is a generator function (`yield`): its value is an iterator, which "
            "has no derivative; differentiate a function that returns the values (a list, or "
            "an array: np.stack them); generator functions it calls are fine",
            filename,
            min(n.lineno for n in found),
        )


def _yields(fn: gast.FunctionDef) -> bool:
    """Whether ``fn`` is a generator function whose yields are all statements."""
    yields = [n for n in S.own_scope_nodes(fn) if isinstance(n, (gast.Yield, gast.YieldFrom))]
    statements = {
        id(n.value) for n in S.own_scope_nodes(fn) if isinstance(n, gast.Expr)
    }  # a `x = yield v` (a value sent in) stays, and is refused where it is lowered
    return bool(yields) and all(id(y) in statements for y in yields)


def _nested_generators_only_called(fn: gast.FunctionDef) -> list:
    """The generator functions defined in ``fn`` whose name is only ever called there (not
    stepped by ``next``/``iter``, passed on or bound again): they can return their list."""
    own = list(S.own_scope_nodes(fn))
    defs = [
        c
        for n in own
        for c in gast.iter_child_nodes(n)
        if isinstance(c, gast.FunctionDef) and _yields(c)
    ]
    called = {id(n.func) for n in own if isinstance(n, gast.Call)}
    stepped = {
        id(a.func)
        for n in own
        if isinstance(n, gast.Call) and S.dotted(n.func) in ("next", "iter")
        for a in n.args
        if isinstance(a, gast.Call)
    }
    bound = [d.name for d in defs]
    named = [n for n in own if isinstance(n, gast.Name) and n.id in bound]

    def only_called(d):
        uses = [n for n in named if n.id == d.name]
        return bound.count(d.name) == 1 and all(
            isinstance(n.ctx, gast.Load) and id(n) in called and id(n) not in stepped for n in uses
        )

    return [d for d in defs if only_called(d)]


def _collect_yields(fn: gast.FunctionDef, items: str) -> None:
    """Rewrite generator function ``fn`` in place to return the list of what it yields."""

    def append(v):
        method = gast.Attribute(value=S.name(items), attr="append", ctx=gast.Load())
        return gast.Expr(value=S.call(method, [v if v is not None else S.const(None)]))

    def statement(s):
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Yield):
            return [append(s.value.value)]
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.YieldFrom):
            item, it = items + "_item", s.value.value
            if isinstance(it, gast.Call):  # (a generator, `child.parameters()`: its list)
                it = S.call(S.name("list"), [it])
            loop = gast.For(target=S.name(item, store=True), iter=it,
                            body=[append(S.name(item))], orelse=[], type_comment=None)  # fmt: skip
            return [loop]
        if isinstance(s, gast.Return):  # a copy: the list is not written after it
            return [gast.Return(value=S.call(S.name("list"), [S.name(items)]))]
        return [s]

    early = any(isinstance(n, gast.Return) for n in S.own_scope_nodes(fn))
    fn.body = rewrite_blocks(fn.body, statement)
    fn.body = [S.assign(items, gast.List(elts=[], ctx=gast.Load()))] + fn.body
    fn.body.append(
        statement(gast.Return(value=None))[0] if early else gast.Return(value=S.name(items))
    )
    for n in S.walk(fn):
        if isinstance(n, (gast.stmt, gast.expr)) and getattr(n, "lineno", None) is None:
            n.lineno = fn.lineno


def _list_generator_calls(own: OwnNodes, resolve) -> None:
    """Replace each call ``g(...)`` of a generator function in the function's own scope by
    ``list(g(...))``, but where ``next`` or ``iter`` is called on it."""

    def listed(node):
        if isinstance(node, gast.Call) and S.dotted(node.func) in ("next", "iter"):
            node.args = [a.args[0] if _listed(a, resolve) else a for a in node.args]
        if _listed(node, resolve, inner=_listed):
            return node.args[0]  # `list(list(g()))`: `yield from g()` of a generator
        return S.call(S.name("list"), [node]) if _generator_call(node, resolve) else node

    own.rewrite(listed)


def _list_zips(own: OwnNodes, resolve, names: S.NameGen) -> None:
    """Replace each ``list(zip(xs, ys))`` / ``list(enumerate(xs))`` in the function's own scope by
    the comprehension building the same list of tuples."""

    def listed(node):
        if not (
            isinstance(node, gast.Call)
            and len(node.args) == 1
            and not node.keywords
            and resolve(node.func) is list
            and isinstance(node.args[0], gast.Call)
            and not node.args[0].keywords
        ):
            return node
        inner = node.args[0]
        kind = resolve(inner.func)
        if kind is zip and _spread_display(inner):
            inner.args = list(inner.args[0].value.elts)  # zip(*[a, b]) is zip(a, b)
        if any(isinstance(a, gast.Starred) for a in inner.args) or not inner.args:
            return node
        if kind is zip:
            count = len(inner.args)
        elif kind is enumerate and len(inner.args) <= 2:
            count = 2
        else:
            return node
        parts = [names.fresh("item", always_suffix=True) for _ in range(count)]
        target = gast.Tuple(elts=[S.name(p, store=True) for p in parts], ctx=gast.Store())
        each = gast.comprehension(target=target, iter=inner, ifs=[], is_async=0)
        element = gast.Tuple(elts=[S.name(p) for p in parts], ctx=gast.Load())
        return gast.copy_location(gast.ListComp(elt=element, generators=[each]), node)

    own.rewrite(listed)
    _transposed_zips(own, resolve, names)


def _spread_display(call: gast.Call) -> bool:
    """Whether ``call``'s one argument is ``*[a, b, ...]``, a display without starred items."""
    arg = call.args[0] if len(call.args) == 1 else None
    return (
        isinstance(arg, gast.Starred)
        and isinstance(arg.value, (gast.List, gast.Tuple))
        and not any(isinstance(e, gast.Starred) for e in arg.value.elts)
    )


def _transposed_zips(own: OwnNodes, resolve, names: S.NameGen) -> None:
    """Replace each ``a, b = zip(*rows)`` in the function's blocks by ``a = tuple([item[0] for
    item in rows])`` and so on (see the module docstring)."""

    def transposed(stmt):
        value = stmt.value if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 else None
        target = stmt.targets[0] if value is not None else None
        if not (
            isinstance(target, (gast.Tuple, gast.List))
            and all(isinstance(t, gast.Name) for t in target.elts)
            and isinstance(value, gast.Call)
            and resolve(value.func) is zip
            and len(value.args) == 1
            and isinstance(value.args[0], gast.Starred)
            and isinstance(value.args[0].value, gast.Name)
            and not value.keywords
            and resolve(S.name("tuple")) is tuple
        ):
            return [stmt]
        rows, item = value.args[0].value.id, names.fresh("item", always_suffix=True)
        if rows in S.names_in(target):
            return [stmt]
        out = []
        for k, name in enumerate(target.elts):
            part = gast.Subscript(value=S.name(item), slice=S.const(k), ctx=gast.Load())
            each = gast.comprehension(
                target=S.name(item, store=True), iter=S.name(rows), ifs=[], is_async=0
            )
            column = gast.ListComp(elt=part, generators=[each])
            out.append(S.assign(name.id, S.call(S.name("tuple"), [column]), stmt.lineno))
        own.changed()
        return out

    own.fn.body = rewrite_blocks(own.fn.body, transposed)


def _name_called_fields(own: OwnNodes, resolve, names: S.NameGen) -> None:
    """Replace each call ``p.attr(...)`` of an object an instance holds (``p`` a name
    ``resolve`` knows the class of, ``attr`` a dataclass field or no attribute of that class:
    ``self.inner(x)`` with ``inner`` a layer object) by ``(attr_1 := p.attr)(...)``: the
    callee is a value read from ``p``, whose adjoint belongs to the field ``attr``, not to
    ``p`` as a method's receiver's does."""

    def named(node):
        if not (isinstance(node, gast.Call) and _is_field_read(node.func, resolve)):
            return node
        callee = names.fresh(node.func.attr)
        node.func = gast.NamedExpr(target=S.name(callee, store=True), value=node.func)
        return node

    own.rewrite(named)


def _call_super_methods(own: OwnNodes, resolve) -> None:
    """Replace each ``super(__class__, self).m(...)`` (``super().m(...)`` as normalize writes
    it) by ``super(__class__, type(self)).m(self, ...)``, where ``m`` is a plain function of a
    base class: the same method called, with the object passed as an argument, so that the
    derivative of the object (a record being differentiated) flows through the call."""

    def called(node):
        if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute)):
            return node
        found = node.func.value
        if not (
            isinstance(found, gast.Call)
            and S.dotted(found.func) == "super"
            and len(found.args) == 2
            and not found.keywords
            and isinstance(found.args[0], gast.Name)
            and found.args[0].id == "__class__"
            and isinstance(found.args[1], gast.Name)
        ):
            return node
        cls = resolve(found.args[0])
        if not isinstance(_base_attribute(cls, node.func.attr), types.FunctionType):
            return node
        obj = found.args[1].id
        found.args[1] = S.call(S.name("type"), [S.name(obj)])
        node.args.insert(0, S.name(obj))
        return node

    own.rewrite(called)


def _base_attribute(cls, name: str):
    """``name`` as the first base of ``cls`` in its method order defines it; None if none does."""
    for base in getattr(cls, "__mro__", ())[1:]:
        if name in vars(base):
            return vars(base)[name]
    return None


def _is_field_read(e, resolve) -> bool:
    """Whether ``e`` is ``p.attr`` reading an attribute of the instance ``p`` itself (not of
    its class), ``p``'s class known to ``resolve``."""
    if not (
        isinstance(e, gast.Attribute)
        and isinstance(e.ctx, gast.Load)
        and isinstance(e.value, gast.Name)
        and not e.attr.startswith("__")
    ):
        return False
    if isinstance(resolve(e.value), types.ModuleType):
        return False  # (`np.tanh`: a module's function, read once instead of three times)

    def at_class(attr):
        return resolve(gast.Attribute(value=S.name(e.value.id), attr=attr, ctx=gast.Load()))

    if at_class("__class__") is UNRESOLVED:  # the class is not known
        return False
    fields = at_class("__dataclass_fields__")
    if isinstance(fields, dict):
        return e.attr in fields or at_class(e.attr) is UNRESOLVED
    # a class of the user's (its own `__init__` sets the attributes), not an array's
    return isinstance(at_class("__init__"), types.FunctionType) and at_class(e.attr) is UNRESOLVED


def _listed(e, resolve, inner=None) -> bool:
    """Whether ``e`` is ``list(g(...))`` as :func:`_list_generator_calls` writes it (``list(v)``
    with ``inner(v, resolve)`` true, where given)."""
    return (
        isinstance(e, gast.Call)
        and S.dotted(e.func) == "list"
        and len(e.args) == 1
        and (inner or _generator_call)(e.args[0], resolve)
    )


def _generator_call(e, resolve) -> bool:
    if not isinstance(e, gast.Call) or S.dotted(e.func) is None:
        return False
    return inspect.isgeneratorfunction(resolve(e.func))


_KINDS = {builtins.map: "map", builtins.filter: "filter", functools.reduce: "reduce",
          itertools.starmap: "starmap"}  # fmt: skip
_COMPREHENSIONS = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)
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
    if kind in ("filter", "starmap") and len(call.args) == 2:
        return kind
    if kind == "reduce" and len(call.args) in (2, 3):
        return kind
    return None


def _repeatable(f) -> bool:
    """Whether ``f`` may be written once per item: evaluating it again gives the same thing
    (a ``partial(...)`` call is made so by :meth:`_Lowering.partial_as_lambda`)."""
    if isinstance(f, gast.Call):
        return bool(f.args) and S.dotted(f.args[0]) is not None
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
            if eager and (partials := accumulated(e, self.resolve, before, self.names)):
                return partials
            if eager and (pairs := paired(e, self.resolve, before, self.names)):
                return pairs
            kind = _kind(e, self.resolve)
            if kind and isinstance(e.args[0], gast.Call):
                if not self.partial_as_lambda(e, kind, before, eager):
                    return e
            if kind in ("map", "starmap"):
                return _map(e, self.names)
            if kind == "filter":
                return _filter(e, self.names)
            if kind == "reduce" and eager:
                return self._reduce(e, before)
            return e
        if eager and isinstance(e, _COMPREHENSIONS):  # its first iterable: evaluated at once
            e.generators[0].iter = self.expression(e.generators[0].iter, before, True)
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

    def partial_as_lambda(self, call: gast.Call, kind: str, before: list, eager: bool) -> bool:
        """Replace ``call``'s function ``functools.partial(g, *bound, **kw)`` by ``lambda
        item, ...: g(*bound, item, ..., **kw)``, each bound value first assigned to a fresh
        name in ``before`` (so evaluated once, where the partial is made); False (nothing
        changed) where the function is another call, or its bound values cannot be moved out
        (a lazy position) and are not plain names or constants."""
        made = call.args[0]
        if (
            kind == "starmap"
            or self.resolve(made.func) is not functools.partial
            or any(isinstance(a, gast.Starred) for a in made.args)
            or any(k.arg is None for k in made.keywords)
        ):
            return False
        arity = {"map": len(call.args) - 1, "filter": 1, "reduce": 2}[kind]
        bound = [self._once(v, before, eager) for v in made.args[1:]]
        keywords = [gast.keyword(arg=k.arg, value=self._once(k.value, before, eager))
                    for k in made.keywords]  # fmt: skip
        if any(b is None for b in bound) or any(k.value is None for k in keywords):
            return False
        items = [self.names.fresh("item") for _ in range(arity)]
        body = gast.Call(func=made.args[0], args=bound + [S.name(i) for i in items],
                         keywords=keywords)  # fmt: skip
        call.args[0] = gast.Lambda(
            args=gast.arguments(args=[_parameter(i) for i in items], posonlyargs=[],
                                vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
                                defaults=[]),
            body=body,
        )  # fmt: skip
        return True

    def _once(self, value, before: list, eager: bool):
        """``value`` evaluated once: a fresh name assigned in ``before``, or ``value`` itself
        where it is a name or constant; None where neither may be done."""
        if isinstance(value, (gast.Name, gast.Constant)):
            return value
        if not eager:
            return None
        bound = self.names.fresh("bound")
        before.append(S.assign(bound, value))
        return S.name(bound)

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
        step = applied(f, [S.name(acc), S.name(item)])
        loop = gast.For(
            target=S.name(item, store=True),
            iter=items,
            body=[S.assign(acc, step)],
            orelse=[],
            type_comment=None,
        )
        before.append(loop)
        return S.name(acc)


def _parameter(id_: str) -> gast.Name:
    return gast.Name(id=id_, ctx=gast.Param(), annotation=None, type_comment=None)


def _index(name: str, i: int) -> gast.Subscript:
    return gast.Subscript(value=S.name(name), slice=S.const(i), ctx=gast.Load())


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
    """``map(f, xs, ...)``, or ``itertools.starmap(f, pairs)`` of a lambda (``f`` takes each
    item's parts: ``[f_body for (a, b) in pairs]``), as a list comprehension."""
    f, iters = call.args[0], call.args[1:]
    starred = isinstance(call.func, gast.Attribute) and call.func.attr == "starmap"
    if starred and not isinstance(f, gast.Lambda):
        return call
    count = len(f.args.args) if starred else len(iters)
    if isinstance(f, gast.Lambda) and len(f.args.args) != count:
        return call  # Python's TypeError, when it runs
    targets, loads = _loop_targets(f, count, names)
    elt = f.body if isinstance(f, gast.Lambda) else S.call(f, loads)
    if starred:
        targets = [gast.Tuple(elts=targets, ctx=gast.Store())]
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
