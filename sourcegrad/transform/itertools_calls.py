"""``itertools``' joins and windows lowered to the comprehensions and ``zip`` later passes
differentiate (part of normalize, before :mod:`.iterator_calls`):

* ``itertools.chain(a, b, ...)`` -> ``[item for part in (a, b, ...) for item in part]``;
* ``itertools.chain.from_iterable(groups)`` -> ``[item for part in groups for item in part]``;
* ``itertools.product(a, b, ...)`` -> ``[(x, y, ...) for x in a for y in b ...]`` (without
  ``repeat=``);
* ``itertools.pairwise(xs)`` -> ``zip(xs, xs[1:])``, where ``xs`` is a name or an attribute
  chain (read twice, the same value: the pairs of neighbours Python makes of a list, a tuple
  or an array's rows); of another ``xs`` (:func:`paired`, called by :mod:`.iterator_calls`
  where the call is always evaluated), ``items = list(xs)`` first;
* ``itertools.accumulate(xs, f, initial=v)`` (:func:`accumulated`, called by
  :mod:`.iterator_calls` where the call is always evaluated) -> ``partials = [v]`` (without
  ``initial``: ``items = list(xs)``, ``partials = items[:1]``) then ``for item in ...:
  partials.append(f(partials[-1], item))``, ``partials[-1] + item`` without ``f``.

Each is a list built at once where Python makes an iterator; a program stepping it with
``next`` reads a differentiated value through ``next``, which is refused as before.
"""

from __future__ import annotations

import itertools

import gast

from . import syntax as S
from .walk import OwnNodes


def lower_itertools(fn: gast.FunctionDef, resolve, names: S.NameGen) -> None:
    """Rewrite ``fn`` in place per the module's rules. ``resolve(expr)`` is the live object a
    name or attribute chain of the function's globals refers to (or anything else)."""
    calls = [
        c
        for c in S.nodes_of(fn, (gast.Call,))
        if (S.dotted(c.func) or "").rsplit(".", 1)[-1] in _NAMES and _kind(c, resolve)
    ]
    if not calls:
        return

    def lowered(node):
        kind = _kind(node, resolve) if isinstance(node, gast.Call) else None
        if kind == "pairwise":
            xs = node.args[0]
            tail = gast.Subscript(
                value=S.clone(xs), slice=gast.Slice(S.const(1), None, None), ctx=gast.Load()
            )
            return S.call(S.name("zip"), [xs, tail])
        if kind in ("chain", "from_iterable"):
            parts = node.args[0] if kind == "from_iterable" else gast.Tuple(node.args, gast.Load())
            part, item = names.fresh("part"), names.fresh("item")
            loops = [
                gast.comprehension(S.name(part, store=True), parts, [], 0),
                gast.comprehension(S.name(item, store=True), S.name(part), [], 0),
            ]
            return gast.ListComp(elt=S.name(item), generators=loops)
        if kind == "product":
            items = [names.fresh("item") for _ in node.args]
            loops = [
                gast.comprehension(S.name(v, store=True), a, [], 0)
                for v, a in zip(items, node.args)
            ]
            elt = gast.Tuple([S.name(v) for v in items], gast.Load())
            return gast.ListComp(elt=elt, generators=loops)
        return node

    OwnNodes(fn).rewrite(lowered)


def accumulated(call: gast.Call, resolve, before: list, names: S.NameGen) -> gast.Name | None:
    """The name of the list ``itertools.accumulate(...)`` makes, the statements building it
    added to ``before``; None where ``call`` is not one this module lowers (its function is
    not a name, an attribute chain or a lambda of two plain parameters)."""
    parts = _accumulate_parts(call, resolve)
    if parts is None:
        return None
    items, f, initial = parts
    partials, item = names.fresh("partials"), names.fresh("item")
    if initial is not None:
        before.append(S.assign(partials, gast.List([initial], gast.Load())))
    else:
        listed = names.fresh("items")
        before.append(S.assign(listed, S.call(S.name("list"), [items])))
        before.append(S.assign(partials, _sliced(listed, None, 1)))
        items = _sliced(listed, 1, None)
    last = gast.Subscript(value=S.name(partials), slice=S.const(-1), ctx=gast.Load())
    step = (
        gast.BinOp(last, gast.Add(), S.name(item))
        if f is None
        else applied(f, [last, S.name(item)])
    )
    append = S.call(gast.Attribute(S.name(partials), "append", gast.Load()), [step])
    loop = gast.For(target=S.name(item, store=True), iter=items, body=[gast.Expr(append)],
                    orelse=[], type_comment=None)  # fmt: skip
    before.append(loop)
    return S.name(partials)


def paired(call, resolve, before: list, names: S.NameGen) -> gast.Call | None:
    """``zip(items, items[1:])`` for ``itertools.pairwise(xs)`` of an ``xs`` that is not a
    name or attribute chain (:func:`lower_itertools` lowers those), ``items = xs`` (a list
    display) or ``items = list(xs)`` added to ``before``; None for any other call."""
    if not _pairwise_of_a_value(call, resolve):
        return None
    xs, items = call.args[0], names.fresh("items")
    listed = xs if isinstance(xs, gast.List) else S.call(S.name("list"), [xs])
    before.append(S.assign(items, listed))
    return S.call(S.name("zip"), [S.name(items), _sliced(items, 1, None)])


def _pairwise_of_a_value(call, resolve) -> bool:
    pairwise = getattr(itertools, "pairwise", None)
    if pairwise is None or not isinstance(call, gast.Call) or call.keywords:
        return False
    if not isinstance(call.func, (gast.Name, gast.Attribute)) or len(call.args) != 1:
        return False
    xs = call.args[0]
    return resolve(call.func) is pairwise and not (isinstance(xs, gast.Starred) or S.dotted(xs))


def lowered_later(call: gast.Call, resolve) -> bool:
    """Whether ``call`` is an ``itertools.accumulate`` call :func:`accumulated` lowers, or an
    ``itertools.pairwise`` call :func:`paired` lowers."""
    return _accumulate_parts(call, resolve) is not None or _pairwise_of_a_value(call, resolve)


def _accumulate_parts(call: gast.Call, resolve):
    """(items, function or None, initial value or None) of an ``itertools.accumulate`` call
    this module lowers, else None."""
    if not isinstance(call.func, (gast.Name, gast.Attribute)) or not 1 <= len(call.args) <= 2:
        return None
    if resolve(call.func) is not itertools.accumulate:
        return None
    keywords = {k.arg: k.value for k in call.keywords}
    if any(isinstance(a, gast.Starred) for a in call.args) or set(keywords) - {"func", "initial"}:
        return None
    if len(call.args) == 2 and "func" in keywords:
        return None
    f = call.args[1] if len(call.args) == 2 else keywords.get("func")
    initial = keywords.get("initial")
    if f is not None and S.is_none(f):
        f = None
    if f is not None and not (S.dotted(f) or _plain_lambda(f, 2)):
        return None
    return call.args[0], f, None if initial is None or S.is_none(initial) else initial


def _plain_lambda(f, arity: int) -> bool:
    if not isinstance(f, gast.Lambda):
        return False
    a = f.args
    plain = not (a.vararg or a.kwarg or a.kwonlyargs or a.defaults or a.posonlyargs)
    return plain and len(a.args) == arity and all(isinstance(p, gast.Name) for p in a.args)


def _sliced(name: str, lower: int | None, upper: int | None) -> gast.Subscript:
    bound = [None if b is None else S.const(b) for b in (lower, upper)]
    return gast.Subscript(value=S.name(name), slice=gast.Slice(*bound, None), ctx=gast.Load())


def applied(f, args: list):
    """``f(*args)`` as an expression: a lambda's body with its parameters replaced."""
    if isinstance(f, gast.Lambda):
        params = [p.id for p in f.args.args]
        return S.rename(S.clone(f.body), dict(zip(params, args, strict=True)))
    return S.call(S.clone(f), args)


_NAMES = frozenset({"chain", "from_iterable", "product", "pairwise"})


def _kind(call: gast.Call, resolve) -> str | None:
    """ "chain", "from_iterable", "product" or "pairwise" where ``call`` is one this module lowers."""
    if call.keywords or any(isinstance(a, gast.Starred) for a in call.args):
        return None
    if not isinstance(call.func, (gast.Name, gast.Attribute)):
        return None
    obj = resolve(call.func)
    if obj is itertools.chain and call.args:
        return "chain"
    if obj == itertools.chain.from_iterable and len(call.args) == 1:
        return "from_iterable"
    if obj is itertools.product and call.args:
        return "product"
    pairwise = getattr(itertools, "pairwise", None)
    if pairwise is not None and obj is pairwise and len(call.args) == 1:
        return "pairwise" if S.dotted(call.args[0]) else None
    return None
