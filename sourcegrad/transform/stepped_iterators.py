"""Iterators over a list, tuple or dict view stepped by ``next`` in straight-line code (part
of normalize), lowered to reads of a list's items:

* ``it = iter(xs)`` followed, in the same block, by statements each calling ``next(it)`` once
  (and at most one ``for v in it:`` after them, taking the rest) -> ``it = list(xs)``, the
  ``k``-th ``next(it)`` -> ``it[k]`` and the loop -> ``for v in it[k:]``;
* ``it = g(...)`` of a generator function (made ``it = list(g(...))`` by
  :mod:`.iterator_calls`: it runs to its end at once) stepped the same way;
* a comprehension's first loop over ``it`` (``sum(f(v) for v in it)``) takes the rest, as the
  loop does;
* ``next(iter(xs))`` -> ``items = list(xs)`` before the statement, and ``items[0]`` in it.

Before the statement that reads item ``k``, ``if len(it) <= k: raise StopIteration`` raises
where Python's ``next`` raises. ``xs`` must be a name, an attribute or item of one, a display,
or a dict's ``keys()``/``values()``/``items()`` (evaluated once, as ``iter`` evaluates it); a
``next`` with a default, one inside a branch, a loop, a conditional expression, an ``and``/
``or``, a lambda or a comprehension, or an iterator used in any other way is left as written
(``next`` and ``iter`` of a differentiated value are then refused, with a way out)."""

from __future__ import annotations

import builtins
import inspect

import gast

from . import syntax as S
from .walk import rewrite_blocks

_VIEWS = ("keys", "values", "items")
#: nodes under which a call may run other than once, in order, with its statement
_NOT_ONCE = (gast.IfExp, gast.BoolOp, gast.Lambda, gast.ListComp, gast.DictComp,
             gast.SetComp, gast.GeneratorExp)  # fmt: skip
_COMPREHENSIONS = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)
_SIMPLE = (gast.Assign, gast.AugAssign, gast.AnnAssign, gast.Expr, gast.Return)


def lower_stepped_iterators(fn: gast.FunctionDef, resolve, names: S.NameGen) -> None:
    """Rewrite ``fn`` in place per the module's rules; ``resolve(expr)`` is the live object
    a name refers to (``iter`` and ``next`` must be the builtins)."""
    calls = [n for n in S.walk(fn) if isinstance(n, gast.Call) and _builtin(n, "next", resolve)]
    if not calls:
        return
    fn.body = _stepped_blocks(fn.body, fn, resolve)
    fn.body = rewrite_blocks(fn.body, lambda s: _first_items(s, resolve, names))


def _builtin(call, name: str, resolve) -> bool:
    return (
        isinstance(call, gast.Call)
        and isinstance(call.func, gast.Name)
        and call.func.id == name
        and resolve(call.func) is getattr(builtins, name)
    )


def _iterable(e) -> bool:
    """Whether ``e`` evaluates to a list, tuple or dict view without side effects."""
    if isinstance(e, (gast.List, gast.Tuple)):
        return True
    if isinstance(e, gast.Call):
        f = e.func
        return isinstance(f, gast.Attribute) and f.attr in _VIEWS and not e.args and _read(f.value)
    return _read(e)


def _read(e) -> bool:
    if isinstance(e, gast.Name):
        return True
    if isinstance(e, gast.Attribute):
        return _read(e.value)
    if isinstance(e, gast.Subscript):
        return _read(e.value) and isinstance(e.slice, (gast.Constant, gast.Name))
    return False


def _steps(stmt, it: str, resolve) -> list:
    """The ``next(it)`` calls of ``stmt`` run exactly once each when it runs, or None where
    ``it`` is read otherwise (or inside a branch, loop or lambda of the statement)."""
    reads = [n for n in S.walk(stmt) if isinstance(n, gast.Name) and n.id == it]
    if not reads:
        return []
    if not isinstance(stmt, _SIMPLE):
        return None
    found = []
    for n, inside in _walk_with_guard(stmt, False):
        if _builtin(n, "next", resolve) and len(n.args) == 1 and not n.keywords:
            arg = n.args[0]
            if isinstance(arg, gast.Name) and arg.id == it:
                if inside:
                    return None
                found.append(n)
    return found if len(found) == len(reads) else None


def _rest_taken(stmt, it: str):
    """The comprehension of ``stmt`` whose first loop is over ``it`` (``sum(v for v in it)``),
    where that is the statement's only read of ``it`` and the comprehension runs once when
    the statement runs; None otherwise."""
    reads = [n for n in S.walk(stmt) if isinstance(n, gast.Name) and n.id == it]
    if len(reads) != 1 or not isinstance(stmt, _SIMPLE):
        return None
    for n, inside in _walk_with_guard(stmt, False):
        if isinstance(n, _COMPREHENSIONS) and not inside and n.generators[0].iter is reads[0]:
            return n.generators[0]
    return None


def _walk_with_guard(node, inside):
    """The nodes under ``node`` with whether one of :data:`_NOT_ONCE` holds them."""
    yield node, inside
    inside = inside or isinstance(node, _NOT_ONCE)
    for child in gast.iter_child_nodes(node):
        yield from _walk_with_guard(child, inside)


def _changes(stmt, roots: set) -> bool:
    """Whether ``stmt`` may change what one of the names ``roots`` holds: stores into it,
    into an item or attribute of it, or calls one of its methods (``xs.append(v)``)."""
    for n in S.walk(stmt):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store) and n.id in roots:
            return True
        if isinstance(n, (gast.Subscript, gast.Attribute)) and isinstance(n.ctx, gast.Store):
            if S.names_in(n) & roots:
                return True
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute):
            if S.names_in(n.func.value) & roots:
                return True
    return False


def _stepped_blocks(stmts, fn, resolve) -> list:
    for s in stmts:
        for attr in ("body", "orelse"):
            inner = getattr(s, attr, None)
            if inner and not isinstance(s, gast.FunctionDef):
                setattr(s, attr, _stepped_blocks(inner, fn, resolve))
    out = list(stmts)
    for s in stmts:
        it = _iterator_made(s, resolve)
        if it is not None and _stored_once(fn, it):
            out = _stepped(out, out.index(s), it, resolve, fn) or out
    return out


def _iterator_made(stmt, resolve):
    """``it`` where ``stmt`` is ``it = iter(xs)`` of an :func:`_iterable` ``xs``, or ``it =
    list(g(...))``: a generator function's call, listed by :mod:`.iterator_calls`."""
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1):
        return None
    target, v = stmt.targets[0], stmt.value
    if not isinstance(target, gast.Name) or len(getattr(v, "args", ())) != 1 or v.keywords:
        return None
    if _builtin(v, "iter", resolve) and _iterable(v.args[0]):
        return target.id
    made = v.args[0]
    if _builtin(v, "list", resolve) and isinstance(made, gast.Call) and S.dotted(made.func):
        return target.id if inspect.isgeneratorfunction(resolve(made.func)) else None
    return None


def _stored_once(fn, name: str) -> bool:
    stores = [n for n in S.name_nodes(fn) if n.id == name and isinstance(n.ctx, gast.Store)]
    return len(stores) == 1


def _loads(fn, name: str) -> int:
    return sum(1 for n in S.name_nodes(fn) if n.id == name and isinstance(n.ctx, gast.Load))


def _stepped(block, i, it, resolve, fn):
    """``block`` with the iterator ``it`` made at ``block[i]`` lowered, or None where it is
    used in a way the module does not lower, or where what it iterates over may change while
    it is stepped."""
    roots = S.names_in(block[i].value.args[0])
    steps, loop, reads, last = 0, None, [], i
    for j, s in enumerate(block[i + 1 :], start=i + 1):
        if loop is not None:
            if it in S.names_in(s):
                return None  # read after the loop that took the rest
            continue
        if isinstance(s, gast.For) and isinstance(s.iter, gast.Name) and s.iter.id == it:
            if it in S.names_in(s.target) or any(it in S.names_in(b) for b in s.body + s.orelse):
                return None
            loop, last = s, j
            continue
        rest = _rest_taken(s, it)
        if rest is not None:
            loop, last = rest, j
            continue
        found = _steps(s, it, resolve)
        if found is None or len(found) > 1:
            return None
        if found:
            reads.append((s, found[0], steps))
            steps, last = steps + 1, j
    if any(_changes(s, roots) for s in block[i + 1 : last + 1]):
        return None
    if _loads(fn, it) != len(reads) + (loop is not None):
        return None  # read elsewhere too: after the block, in a nested function
    if loop is not None:
        limits = gast.Slice(lower=S.const(steps), upper=None, step=None)
        loop.iter = gast.Subscript(value=S.name(it), slice=limits, ctx=gast.Load())
    checks = {}
    for s, call, k in reads:
        checks[id(s)] = _stop_unless_longer(it, k, s)
        _replace(call, _item(it, k))
    made = block[i]
    made.value = S.call(S.name("list"), [made.value.args[0]])
    out = []
    for s in block:
        if id(s) in checks:
            out.append(checks[id(s)])
        out.append(s)
    return out


def _stop_unless_longer(items: str, k: int, stmt):
    """``if len(items) <= k: raise StopIteration``, at ``stmt``'s line."""
    test = gast.Compare(
        left=S.call(S.name("len"), [S.name(items)]), ops=[gast.LtE()], comparators=[S.const(k)]
    )
    stop = gast.Raise(exc=S.name("StopIteration"), cause=None)
    node = gast.If(test=test, body=[stop], orelse=[])
    for n in (node, stop, test):
        gast.copy_location(n, stmt)
    return node


def _item(items: str, k: int):
    return gast.Subscript(value=S.name(items), slice=S.const(k), ctx=gast.Load())


def _replace(call, new) -> None:
    """Make the node ``call`` read as ``new`` (in place: its parent keeps it)."""
    call.__class__ = new.__class__
    call.__dict__.clear()
    call.__dict__.update(new.__dict__)


def _first_items(stmt, resolve, names: S.NameGen) -> list:
    """``stmt`` with each ``next(iter(xs))`` it runs once read as the first of ``list(xs)``,
    made before it."""
    if not isinstance(stmt, _SIMPLE):
        return [stmt]
    out = []
    for n, inside in list(_walk_with_guard(stmt, False)):
        if inside or not _builtin(n, "next", resolve) or len(n.args) != 1 or n.keywords:
            continue
        inner = n.args[0]
        if not (_builtin(inner, "iter", resolve) and len(inner.args) == 1 and not inner.keywords):
            continue
        if not _iterable(inner.args[0]):
            continue
        items = names.fresh("items")
        made = gast.copy_location(S.assign(items, S.call(S.name("list"), inner.args)), stmt)
        made.written_as = S.text(n)  # (what a refusal naming `items` quotes)
        out.append(made)
        out.append(_stop_unless_longer(items, 0, stmt))
        _replace(n, _item(items, 0))
    return [*out, stmt]
