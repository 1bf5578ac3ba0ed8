"""What a second run of a function would show, for a gradient differentiated again inside a
function being differentiated.

``gx = sg.grad(critic, wrt=1)(w, x)`` in a loss (a gradient penalty, MAML's inner step): the
loss's derivative runs ``critic``'s gradient where Python runs it, and the reverse derivative
of that gradient (a Hessian-vector product) runs ``critic`` again. A draw from a generator
``critic`` does not seed would give other numbers the second time (a silent wrong gradient),
and a change of an object outside ``critic`` (``LOG.append(v)``, ``G[k] = v``, ``G.n += 1``,
``setattr(G, ...)``, a global object's method storing into ``self``) would happen twice.
"""

from __future__ import annotations

import functools
import inspect
import types

import gast

from . import syntax as S
from .own_attributes import read_own_stores
from .parse import UNRESOLVED, resolve
from .recomputed_draws import read_once, unseeded_draw
from .rule_binding import is_user_function

__all__ = ["rerun_effect"]


def rerun_effect(fn) -> tuple[str, str, str, bool] | None:
    """:func:`_rerun_effect`, kept per function (a bound method's by its function; a callable
    object has no source of its own to read)."""
    fn = getattr(fn, "__func__", fn)
    if not isinstance(fn, types.FunctionType):
        return None
    return _kept_rerun_effect(fn)


@functools.lru_cache(maxsize=256)
def _kept_rerun_effect(fn):
    return _rerun_effect(fn)


def _rerun_effect(fn) -> tuple[str, str, str, bool] | None:
    """``(what, where, way out, a draw?)`` of the first thing ``fn`` or a function it calls does that a
    second run of ``fn`` would show: an unseeded draw, or a change of an object ``fn`` does not
    make that does not leave the same state when made twice (``LOG.append(v)``, ``G.n +=
    1``; a store ``G.h = v`` leaves the same); None where it does nothing of the kind or its
    source cannot be read."""
    name = getattr(fn, "__name__", "the function")
    draw = unseeded_draw(fn, set())
    if draw is not None:
        what = f"draws random numbers (`{draw[0]}`) from a generator it does not seed"
        way_out = (
            f"draw them in the function you differentiate and pass them to {name}(), or seed "
            f"the generator inside {name}()"
        )
        return what, draw[1], way_out, True
    found = _outer_change(fn, frozenset(), set())
    if found is None:
        return None
    changed, where, state = found
    if state:  # (a second run starts from what the first left: its values differ)
        way_out = (
            f"pass the state to {name}() as an argument and return the new state, or "
            f"differentiate {name}() alone (sg.grad, sg.hvp), which advance it once per call"
        )
        return f"keeps state in `{changed}` from call to call", where, way_out, True
    way_out = f"make that change in the function you differentiate, outside {name}()"
    return f"changes `{changed}`, which it does not make", where, way_out, False


#: the methods of a list or dict whose change made twice is not the change made once
_ACCUMULATING = frozenset({"append", "extend", "insert", "pop", "remove", "popitem", "reverse"})


def _outer_change(fn, outer: frozenset, seen: set) -> tuple[str, str, bool] | None:
    """``(name, where, state?)`` of the first accumulating change ``fn`` (or a function or
    method it calls) makes to an object it does not make, or to one of ``outer`` (a method's
    ``self``); ``state?``: a store into an attribute ``fn`` also reads (``G.h = f(G.h)``)."""
    found = read_once(fn, seen)
    if found is None:
        return None
    parsed, nodes = found
    declared = {n for d in nodes if isinstance(d, (gast.Global, gast.Nonlocal)) for n in d.names}
    bound = _bound(parsed.node, nodes) - declared - outer
    label = getattr(fn, "__qualname__", "the function")
    read = _state_reads(parsed.node)
    for node in nodes:
        kept = _kept_state(node, bound, read)
        changed = kept or _changed_outer(node, bound, declared)
        if changed is not None:
            return changed, f"{label}(), {parsed.filename}:{node.lineno}", kept is not None
        for callee, its_outer in _callees(parsed, node, bound):
            found = _outer_change(callee, its_outer, seen)
            if found is not None:
                return found
    return None


def _bound(fn: gast.FunctionDef, nodes: list) -> set:
    params = {a.id for a in S.walk(fn.args) if isinstance(a, gast.Name)}
    stored = {n.id for n in nodes if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    return params | stored | {n.name for n in nodes if isinstance(n, gast.FunctionDef)}


def _root(expr) -> str | None:
    while isinstance(expr, (gast.Attribute, gast.Subscript)):
        expr = expr.value
    return expr.id if isinstance(expr, gast.Name) else None


def _state_reads(fn) -> set:
    """``(name, attribute)`` of each ``name.attribute`` ``fn`` reads (or updates, ``+=``)
    that is not what it has just stored there itself (:func:`~.own_attributes.read_own_stores`:
    ``LAYER.out = y; return LAYER.out`` reads the value)."""
    fn = S.clone(fn)
    read_own_stores(fn)
    nodes = list(S.walk(fn))
    updated = {id(n.target) for n in nodes if isinstance(n, gast.AugAssign)}
    return {
        (n.value.id, n.attr)
        for n in nodes
        if isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name)
        if isinstance(n.ctx, gast.Load) or id(n) in updated
    }


def _kept_state(node, bound: set, read: set) -> str | None:
    """``G.h`` where ``node`` stores into the attribute ``h`` of an outer ``G`` that the
    function also reads (``read``: (name, attribute) pairs)."""
    if not (isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Store)):
        return None
    if not isinstance(node.value, gast.Name) or node.value.id in bound:
        return None
    return S.text(node) if (node.value.id, node.attr) in read else None


def _changed_outer(node, bound: set, declared: set) -> str | None:
    """The outer name ``node`` changes so that a second change differs from the first: an
    update of it or of its item or field (``+=``), a store into it declared ``global`` or
    ``nonlocal``, a list's or dict's accumulating method on it."""
    if isinstance(node, gast.AugAssign):
        root = _root(node.target)
        return root if root is not None and root not in bound else None
    if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
        return node.id if node.id in declared else None
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute):
        root = _root(node.func.value)
        if node.func.attr in _ACCUMULATING and root is not None and root not in bound:
            return root
    return None


def _callees(parsed, node, bound: set) -> list:
    """``(function, its outer names)`` of what ``node`` calls, where known before it runs: a
    user function, or a method of an object the function does not make (its ``self``)."""
    if not isinstance(node, gast.Call):
        return []
    obj = resolve(parsed, node.func, bound)
    if obj is not UNRESOLVED and is_user_function(obj):
        return [(obj, frozenset())]
    func = node.func
    if not isinstance(func, gast.Attribute):
        return []
    held = resolve(parsed, func.value, bound)
    if held is UNRESOLVED or isinstance(held, types.ModuleType):
        return []
    method = inspect.getattr_static(type(held), func.attr, None)
    if not isinstance(method, types.FunctionType):
        return []
    code = method.__code__
    this = code.co_varnames[:1] if code.co_argcount else ()
    return [(method, frozenset(this))]
