"""``itertools``' joins and windows lowered to the comprehensions and ``zip`` later passes
differentiate (part of normalize, before :mod:`.iterator_calls`):

* ``itertools.chain(a, b, ...)`` -> ``[item for part in (a, b, ...) for item in part]``;
* ``itertools.chain.from_iterable(groups)`` -> ``[item for part in groups for item in part]``;
* ``itertools.product(a, b, ...)`` -> ``[(x, y, ...) for x in a for y in b ...]`` (without
  ``repeat=``);
* ``itertools.pairwise(xs)`` -> ``zip(xs, xs[1:])``, where ``xs`` is a name or an attribute
  chain (read twice, the same value: the pairs of neighbours Python makes of a list, a tuple
  or an array's rows).

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
