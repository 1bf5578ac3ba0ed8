"""``break``, ``continue`` and early ``return`` as flags (part of normalize).

Entered through :func:`lower_jumps`, which rewrites a user function's syntax tree in place so
that it has no jumps left, only ``if`` statements on boolean flags: ``continue`` sets a flag
that guards the rest of the loop body, ``break`` also stops the loop (``while ... and not
flag``; a ``for`` runs its remaining iterations with the body skipped), and ``return v`` in a
branch or loop stores ``v`` and skips everything after it. The rewritten function computes
the same values, and its control flow is what the reverse pass differentiates. A loop's
``else`` block runs after the loop, guarded by the flag of its ``break``.
"""

from __future__ import annotations

import gast

from . import syntax as S


def lower_jumps(fn: gast.FunctionDef, names: S.NameGen) -> None:
    """Rewrite ``fn`` in place so that it contains no break/continue/early return."""
    body = fn.body
    if not _may_jump([s for s in body if not isinstance(s, gast.Return)]):
        return  # (the one walk below that looks at every node is the slow part)
    early = any(
        isinstance(n, gast.Return) for s in body if _compound(s) for n in S.own_scope_nodes(s)
    )
    jumps = any(isinstance(n, (gast.Break, gast.Continue)) for n in S.own_scope_nodes(fn))
    elses = any(isinstance(n, (gast.For, gast.While)) and n.orelse for n in S.own_scope_nodes(fn))
    if not early and not jumps and not elses:
        return
    ctx = _Ctx(names, returned=names.fresh("returned") if early else None)
    if early:
        ctx.result = names.fresh("result")
        last = body[-1]
        final = body[:-1]
        rewritten = ctx.block(final)
        line = fn.body[0].lineno
        start = [
            _assign(ctx.returned, gast.Constant(value=False, kind=None), line),
            _assign(ctx.result, gast.Constant(value=None, kind=None), line),
        ]
        if isinstance(last, gast.Return):
            tail = gast.If(
                test=_not(ctx.returned),
                body=[_assign(ctx.result, last.value, last.lineno)],
                orelse=[],
            )
            tail.lineno = last.lineno
            end = gast.Return(value=S.name(ctx.result))
            end.lineno = last.lineno
            fn.body = start + rewritten + [tail, end]
        elif isinstance(last, gast.Raise):
            # `raise ValueError(kind)` after the branches that return: raised where none did
            guard = gast.If(test=_not(ctx.returned), body=[last], orelse=[])
            guard.lineno = last.lineno
            end = gast.Return(value=S.name(ctx.result))
            end.lineno = last.lineno
            fn.body = start + rewritten + [guard, end]
        elif any(isinstance(n, gast.Return) for n in S.walk(last)):
            # `if c: return a` / `else: return b` as the last statement: every return is
            # lowered, and the function returns the result (None where no branch returned)
            end = gast.Return(value=S.name(ctx.result))
            end.lineno = getattr(last, "end_lineno", None) or last.lineno
            fn.body = start + ctx.block(body) + [end]
        else:
            fn.body = start + rewritten + [last]
    else:
        fn.body = ctx.block(body)


class _Ctx:
    def __init__(self, names, returned):
        self.names = names
        self.returned = returned
        self.result = None
        self.loop_flags: list = []  # per enclosing loop: (continue flag, break flag)

    def flags(self) -> list:
        """Flags that, once set, skip the rest of the current block."""
        out = []
        if self.loop_flags:
            cont, brk = self.loop_flags[-1]
            out += [f for f in (cont, brk) if f]
        if self.returned:
            out.append(self.returned)
        return out

    def block(self, stmts) -> list:
        out = []
        for i, s in enumerate(stmts):
            if isinstance(s, gast.Continue):
                out.append(_assign(self.loop_flags[-1][0], _true(), s.lineno))
                return out
            if isinstance(s, gast.Break):
                out.append(_assign(self.loop_flags[-1][1], _true(), s.lineno))
                return out
            if isinstance(s, gast.Return) and self.returned:
                value = s.value if s.value is not None else gast.Constant(value=None, kind=None)
                out.append(_assign(self.result, value, s.lineno))
                out.append(_assign(self.returned, _true(), s.lineno))
                return out
            if isinstance(s, gast.If):
                jumps = self._jumps(s)
                s.body = self.block(s.body) or [gast.Pass()]
                s.orelse = self.block(s.orelse)
                out.append(s)
            elif isinstance(s, (gast.For, gast.While)):
                jumps, before, after = self._loop(s)
                out.extend(before)
                out.append(s)
                out.extend(after)
            else:
                out.append(s)
                continue
            rest = stmts[i + 1 :]
            if jumps and rest:
                guard = gast.If(test=_none_set(self.flags()), body=self.block(rest), orelse=[])
                guard.lineno = rest[0].lineno
                out.append(guard)
                return out
        return out

    def _jumps(self, s) -> bool:
        """Whether ``s`` may skip the statements after it (a jump not inside a nested loop)."""
        if isinstance(s, (gast.Break, gast.Continue)):
            return True
        if isinstance(s, gast.Return):
            return bool(self.returned)
        if isinstance(s, gast.If):
            return any(self._jumps(x) for x in s.body + s.orelse)
        if isinstance(s, (gast.For, gast.While)):
            return bool(self.returned) and any(
                isinstance(n, gast.Return) for n in S.own_scope_nodes(s)
            )
        return False

    def _loop(self, loop):
        """Lower the jumps of one loop: (whether it may return from the function, statements
        to run before it)."""
        own = [n for n in _own_nodes(loop.body)]
        cont = self.names.fresh("skip") if any(isinstance(n, gast.Continue) for n in own) else None
        brk = self.names.fresh("stop") if any(isinstance(n, gast.Break) for n in own) else None
        returns = bool(self.returned) and any(
            isinstance(n, gast.Return) for n in S.own_scope_nodes(loop)
        )
        self.loop_flags.append((cont, brk))
        body = self.block(loop.body)
        self.loop_flags.pop()
        line = loop.lineno
        if cont:
            body = [_assign(cont, gast.Constant(value=False, kind=None), line)] + body
        exits = [f for f in (brk, self.returned if returns else None) if f]
        if exits and isinstance(loop, gast.For):
            body = [gast.If(test=_none_set(exits), body=body or [gast.Pass()], orelse=[])]
            body[0].lineno = line
        if exits and isinstance(loop, gast.While):
            # the flags first: after a break, Python does not evaluate the test again
            loop.test = gast.BoolOp(op=gast.And(), values=[_none_set(exits), loop.test])
        loop.body = body or [gast.Pass()]
        before = [_assign(brk, gast.Constant(value=False, kind=None), line)] if brk else []
        return returns, before, self._else(loop, exits)

    def _else(self, loop, exits: list) -> list:
        """The statements of the loop's ``else`` block, to run after it: guarded by the flags
        of a ``break`` or ``return`` inside it (Python runs them only where the loop ended
        without one). An ``else`` that itself jumps out of an enclosing loop is left in place
        (and refused later)."""
        if not loop.orelse or any(
            isinstance(n, (gast.Break, gast.Continue)) for n in _own_nodes(loop.orelse)
        ):
            return []
        stmts = self.block(loop.orelse)
        loop.orelse = []
        if not exits:
            return stmts
        guard = gast.If(test=_none_set(exits), body=stmts or [gast.Pass()], orelse=[])
        guard.lineno = stmts[0].lineno if stmts else loop.lineno
        return [guard]


def _may_jump(stmts) -> bool:
    """Whether a ``break``, ``continue`` or ``return`` statement, or a loop with an ``else``,
    is anywhere in ``stmts``, nested functions included (statements are found only in
    statement lists)."""
    for s in stmts:
        if isinstance(s, (gast.Break, gast.Continue, gast.Return)):
            return True
        if isinstance(s, (gast.For, gast.While)) and s.orelse:
            return True
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(s, field, None)
            if inner and _may_jump(inner):
                return True
        for part in (getattr(s, "handlers", None) or []) + (getattr(s, "cases", None) or []):
            if _may_jump(part.body):
                return True
    return False


def _own_nodes(stmts):
    """Nodes of ``stmts`` that are not inside a nested loop."""
    for s in stmts:
        yield s
        if isinstance(s, gast.If):
            yield from _own_nodes(s.body)
            yield from _own_nodes(s.orelse)


def _compound(s) -> bool:
    return isinstance(s, (gast.If, gast.For, gast.While))


def _assign(name: str, value, lineno):
    node = gast.Assign(targets=[S.name(name, store=True)], value=value, type_comment=None)
    node.lineno = lineno
    return node


def _true():
    return gast.Constant(value=True, kind=None)


def _not(name: str):
    return gast.UnaryOp(op=gast.Not(), operand=S.name(name))


def _none_set(flags: list):
    tests = [_not(f) for f in flags]
    return tests[0] if len(tests) == 1 else gast.BoolOp(op=gast.And(), values=tests)
