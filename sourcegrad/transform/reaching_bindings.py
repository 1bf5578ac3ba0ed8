"""Which bindings of each name reach each statement of a user function before it is lowered
(part of normalize, read by :mod:`.name_kinds`).

A binding is one place that gives a name a value: a parameter, ``h = <value>``, an update
``h += v`` (which keeps what ``h`` held an array, or rebinds a number), a loop's variable, or
another form (a tuple's target, ``with ... as h``, an import, ``del h``) whose value is not
read. The bindings that reach a statement are those on some path to it with no other binding
of the name in between: ``h = x @ W; normalize_(h); h = dense(p, h)`` reaches the call with
the first binding alone. Paths are over-approximated, never missed: a loop's header is reached
by every binding made anywhere in it, a ``try`` or ``match`` block's statements by every one
made anywhere in the block, and ``return``, ``break`` and ``raise`` end no path.
"""

from __future__ import annotations

import gast

from . import syntax as S

__all__ = ["Binding", "ReachingBindings"]


class Binding:
    """One binding of ``name``: ``form`` is ``"param"``, ``"value"`` (``name = value``),
    ``"update"`` (``name op= v``), ``"loop"`` (``value``: the starred iterable a loop takes
    ``name`` from) or ``"other"``; ``stmt`` is the statement whose reaching bindings its
    value reads (the function for a parameter)."""

    __slots__ = ("name", "form", "value", "stmt")

    def __init__(self, name: str, form: str, value, stmt):
        self.name, self.form, self.value, self.stmt = name, form, value, stmt


class ReachingBindings:
    """The bindings of ``fn``'s names (:attr:`bindings`) and, for each statement of its own
    scope, which of them reach it (:meth:`indices_at`). A name declared ``global`` or
    ``nonlocal`` anywhere in ``fn`` is left out (another function may bind it)."""

    def __init__(self, fn):
        self.bindings: list = []
        self._made: dict = {}  # (id(node), name) -> index into bindings
        self._before: dict = {}  # id(stmt) -> (stmt, {name: frozenset of indices})
        declared = [n for n in S.walk(fn) if isinstance(n, (gast.Global, gast.Nonlocal))]
        self.opaque = {name for d in declared for name in d.names}
        args = fn.args
        state = {}
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            state[arg.id] = frozenset({self._new(fn, Binding(arg.id, "param", None, fn))})
        for arg in (args.vararg, args.kwarg):
            if arg is not None:
                state[arg.id] = frozenset({self._new(fn, Binding(arg.id, "other", None, fn))})
        self._block(fn.body, state)

    def indices_at(self, stmt, name: str):
        """The bindings of ``name`` that reach ``stmt`` (a statement of the function's own
        scope, as it stood when this was made), as indices into :attr:`bindings`; None where
        ``stmt`` is not one of them or ``name`` is declared global."""
        found = self._before.get(id(stmt))
        if found is None or found[0] is not stmt or name in self.opaque:
            return None
        return sorted(found[1].get(name, ()))

    # ------------------------------------------------------------------ the walk
    def _new(self, node, binding: Binding) -> int:
        key = (id(node), binding.name)
        if key not in self._made:
            self._made[key] = len(self.bindings)
            self.bindings.append(binding)
        return self._made[key]

    def _block(self, body: list, state: dict) -> dict:
        for stmt in body:
            state = self._statement(stmt, state)
        return state

    def _statement(self, stmt, state: dict) -> dict:
        self._before[id(stmt)] = (stmt, state)
        if isinstance(stmt, gast.If):
            state = self._bind(state, self._stored(stmt.test, stmt))
            return _merge(self._block(stmt.body, state), self._block(stmt.orelse, state))
        if isinstance(stmt, (gast.For, gast.AsyncFor, gast.While)):
            header = _merge(state, self._everything([stmt]))
            self._before[id(stmt)] = (stmt, header)
            inner = header
            if not isinstance(stmt, gast.While):
                inner = self._bind(header, self._loop_targets(stmt))
            self._block(stmt.body, inner)
            return _merge(header, self._block(stmt.orelse, header))
        if isinstance(stmt, (gast.With, gast.AsyncWith)):
            items = [
                part for item in stmt.items for part in (item.context_expr, item.optional_vars)
            ]
            state = self._bind(state, self._stored(items, stmt))
            return self._block(stmt.body, state)
        inner = _inner_blocks(stmt)
        if inner:  # (`try`, `match`: every binding in it may come before any statement)
            everything = _merge(state, self._everything([stmt]))
            for body in inner:
                self._block(body, everything)
            return everything
        return self._bind(state, self._simple(stmt))

    def _bind(self, state: dict, made: list) -> dict:
        if not made:
            return state
        state = dict(state)
        for index in made:
            state[self.bindings[index].name] = frozenset({index})
        return state

    def _everything(self, body: list) -> dict:
        """{name: the bindings made anywhere in ``body``}, nested statements included."""
        found: dict = {}
        for stmt in body:
            if isinstance(stmt, (gast.For, gast.AsyncFor)):
                made = self._loop_targets(stmt)
            elif isinstance(stmt, gast.If):
                made = self._stored(stmt.test, stmt)
            elif isinstance(stmt, (gast.While, gast.With, gast.AsyncWith)) or _inner_blocks(stmt):
                made = self._stored(_header_parts(stmt), stmt)
            else:
                made = self._simple(stmt)
            for index in made:
                name = self.bindings[index].name
                found[name] = found.get(name, frozenset()) | {index}
            for inner in _inner_blocks(stmt) + _bodies(stmt):
                for name, indices in self._everything(inner).items():
                    found[name] = found.get(name, frozenset()) | indices
        return found

    def _loop_targets(self, loop) -> list:
        made = self._stored(loop.iter, loop)
        target = loop.target
        if isinstance(target, gast.Name):
            items = gast.Starred(loop.iter, gast.Load())
            return made + [self._new(loop, Binding(target.id, "loop", items, loop))]
        return made + self._stored(target, loop)

    def _simple(self, stmt) -> list:
        """The bindings a statement without a block of its own makes."""
        if isinstance(stmt, S.NESTED_SCOPES):
            return [self._new(stmt, Binding(stmt.name, "other", None, stmt))]
        if isinstance(stmt, gast.Assign) and all(isinstance(t, gast.Name) for t in stmt.targets):
            made = self._stored(stmt.value, stmt)
            return made + [
                self._new(stmt, Binding(t.id, "value", stmt.value, stmt)) for t in stmt.targets
            ]
        if isinstance(stmt, gast.AnnAssign) and isinstance(stmt.target, gast.Name):
            if stmt.value is None:
                return []
            made = self._stored(stmt.value, stmt)
            return made + [self._new(stmt, Binding(stmt.target.id, "value", stmt.value, stmt))]
        if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
            made = self._stored(stmt.value, stmt)
            return made + [self._new(stmt, Binding(stmt.target.id, "update", None, stmt))]
        if isinstance(stmt, (gast.Import, gast.ImportFrom)):
            names = [(a.asname or a.name).split(".")[0] for a in stmt.names]
            return [self._new(stmt, Binding(n, "other", None, stmt)) for n in names]
        return self._stored(stmt, stmt)

    def _stored(self, node, stmt) -> list:
        """An ``"other"`` binding (made at ``stmt``) for each name ``node`` (a node or a list
        of them) binds or deletes outside the scopes nested in it (a comprehension's
        variables are its own)."""
        parts = node if isinstance(node, list) else [node]
        names = []
        for part in parts:
            if part is None:
                continue
            own = list(S.own_scope_nodes(part))
            inner = {
                id(n) for c in own if isinstance(c, gast.comprehension) for n in S.walk(c.target)
            }
            for n in own:
                if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
                    if id(n) not in inner and n.id not in names:
                        names.append(n.id)
                captured = getattr(n, "name", None) or getattr(n, "rest", None)  # (a pattern's)
                if isinstance(n, _CAPTURES) and captured and captured not in names:
                    names.append(captured)
        return [self._new(stmt, Binding(n, "other", None, stmt)) for n in names]


#: the patterns of a ``case`` that bind a name (held as a string, not a ``Name``)
_CAPTURES = tuple(
    getattr(gast, cls) for cls in ("MatchAs", "MatchStar", "MatchMapping") if hasattr(gast, cls)
)


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for name, indices in b.items():
        out[name] = out.get(name, frozenset()) | indices
    return out


def _bodies(stmt) -> list:
    """The statement lists of an ``if``, a loop or a ``with``."""
    if isinstance(stmt, (gast.If, gast.For, gast.AsyncFor, gast.While)):
        return [stmt.body, stmt.orelse]
    if isinstance(stmt, (gast.With, gast.AsyncWith)):
        return [stmt.body]
    return []


def _inner_blocks(stmt) -> list:
    """The statement lists of another compound statement (``try``, ``match``)."""
    if isinstance(stmt, (gast.If, gast.For, gast.AsyncFor, gast.While, gast.With, gast.AsyncWith)):
        return []
    if isinstance(stmt, S.NESTED_SCOPES):
        return []
    out = []
    for field in ("body", "orelse", "finalbody"):
        inner = getattr(stmt, field, None)
        if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
            out.append(inner)
    for part in [*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())]:
        out.append(part.body)
    return out


def _header_parts(stmt) -> list:
    """What a compound statement binds outside its blocks: a ``while``'s test, a ``with``'s
    items, a handler's name, a case's pattern."""
    if isinstance(stmt, gast.While):
        return [stmt.test]
    if isinstance(stmt, (gast.With, gast.AsyncWith)):
        return [p for item in stmt.items for p in (item.context_expr, item.optional_vars)]
    parts = [getattr(stmt, "subject", None)]
    for part in [*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())]:
        if isinstance(getattr(part, "name", None), gast.Name):
            parts.append(part.name)
        parts.append(getattr(part, "pattern", None))
    return parts
