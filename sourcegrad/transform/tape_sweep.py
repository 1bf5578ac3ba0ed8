"""The forward sweep of a reverse-mode derivative: the core code, plus ``tape.append`` of each
value it overwrites that the adjoint reads, and the tape pops that restore those values in
the adjoint sweep (a mixin of the reverse pass's builder)."""

from __future__ import annotations

import gast

from ..runtime.helpers import an_array, not_a_view, shape_of
from . import syntax as S
from .in_place import cast_in_place, with_copies
from .node_facts import get_fact, set_fact
from .walk import written_names


def view_checked(new, stmt, refs):
    """``new`` (a clone of the assignment ``stmt`` of an item of an array written into
    afterwards, whose rank is not known: analysis marks it ``view_check``) assigning
    ``not_a_view(item, refusal_L, L)``, refused when it runs where the item is a view (with a
    third part, ``an_array(item, refusal_L, L)``: a view whose writes are followed, refused
    where it is no array). ``refusal_L`` names the refusal's message (a constant the code
    reaches through its closure), so the line reads as code."""
    check = get_fact(stmt, "view_check")
    if check is not None:
        message, line, *followed = check
        args = [new.value, S.name(refs.ref(message, f"refusal_{line}")), S.const(line)]
        new.value = S.call(S.name(refs.helper(an_array if followed else not_a_view)), args)
        set_fact(new, "keep", True)  # the check runs even where the item is never read
    return new


class TapeSweep:
    """The forward sweep and the tape. Expects of the builder: ``a`` (the analysis),
    ``names``, ``refs``, ``tape``, ``recorded``, ``shape_only``, ``exists_before``,
    ``loop_inits``, ``need_init``, ``counters``, ``taped_counters``."""

    def tape_name(self) -> str:
        if self.tape is None:
            self.tape = self.names.fresh("tape")
        return self.tape

    def fwd_block(self, stmts, top=False) -> list:
        out = []
        for stmt in stmts:
            if top and id(stmt) in self.loop_inits:
                for x in sorted(self.loop_inits[id(stmt)] & (self.recorded | self.need_init)):
                    init = S.assign(x, S.const(None), stmt.lineno)
                    set_fact(init, "pure", False)
                    out.append(init)
            if isinstance(stmt, gast.Assign):
                for t in sorted(self.pushed(stmt)):
                    push = self.push(t, stmt.lineno)
                    set_fact(push, "tape_pair", (id(stmt), t))
                    out.append(push)
                new = view_checked(with_copies(S.clone(stmt), self.refs), stmt, self.refs)
                new = cast_in_place(new, stmt, self.a.in_place_casts, self.refs)
                op = self.a.ops.get(id(stmt))
                set_fact(new, "pure", op is not None and op.pure)
                out.append(new)
            elif isinstance(stmt, gast.If):
                node = gast.If(
                    test=S.clone(stmt.test),
                    body=self.fwd_block(stmt.body) or [gast.Pass()],
                    orelse=self.fwd_block(stmt.orelse),
                )
                out.append(self.meta(node, stmt))
            elif isinstance(stmt, gast.For):
                node = gast.For(
                    target=S.clone(stmt.target),
                    iter=S.clone(stmt.iter),
                    body=self.fwd_block(stmt.body) or [gast.Pass()],
                    orelse=[],
                    type_comment=None,
                )
                out.append(self.meta(node, stmt))
            elif isinstance(stmt, gast.While):
                n = self.counters[id(stmt)]
                out.append(self.meta(S.assign(n, S.const(0)), stmt))
                body = self.fwd_block(stmt.body)
                body.append(
                    self.meta(
                        S.assign(n, gast.BinOp(left=S.name(n), op=gast.Add(), right=S.const(1))),
                        stmt,
                    )
                )
                node = gast.While(test=S.clone(stmt.test), body=body, orelse=[])
                out.append(self.meta(node, stmt))
                if id(stmt) in self.taped_counters:
                    out.append(self.push(n, stmt.lineno))
            else:
                new = with_copies(S.clone(stmt), self.refs)
                set_fact(new, "pure", False)
                out.append(new)
        return out

    @staticmethod
    def meta(node, stmt):
        node.lineno = stmt.lineno
        set_fact(node, "pure", False)
        set_fact(node, "group", get_fact(stmt, "group"))
        return node

    def pushed(self, stmt) -> set:
        """Names whose old value the forward sweep saves before ``stmt`` overwrites them."""
        if isinstance(stmt.targets[0], gast.Subscript):
            return set()  # x[k] = v follows `x = x.copy()`: the value in between is never read
        return (written_names(stmt) & self.recorded) & self.exists_before.get(id(stmt), set())

    def push(self, x, lineno):
        saved = S.name(x)
        if x in self.shape_only:
            # the adjoint reads x only for its shape (sum_to, unindex): keep the shape, not x
            saved = S.call(S.name(self.refs.helper(shape_of)), [saved])
        call = S.call(
            gast.Attribute(value=S.name(self.tape_name()), attr="append", ctx=gast.Load()),
            [saved],
        )
        node = gast.Expr(value=call)
        node.lineno = lineno
        set_fact(node, "pure", False)
        return node

    def resolve_pops(self, stmts) -> list:
        out = []
        for stmt in stmts:
            marker = get_fact(stmt, "pop")
            if marker is not None:
                names, origin = marker
                for x in sorted(self.pushed(origin)):
                    pop = S.call(
                        gast.Attribute(value=S.name(self.tape_name()), attr="pop", ctx=gast.Load())
                    )
                    node = self.mark(S.assign(x, pop, origin.lineno))
                    set_fact(node, "keep", True)
                    set_fact(node, "tape_pair", (id(origin), x))
                    out.append(node)
                continue
            for attr in ("body", "orelse"):
                if getattr(stmt, attr, None):
                    setattr(stmt, attr, self.resolve_pops(getattr(stmt, attr)))
            if isinstance(stmt, (gast.If, gast.For, gast.While)):
                if not stmt.body and not getattr(stmt, "orelse", None):
                    continue
                if not stmt.body:
                    stmt.body = [gast.Pass()]
            out.append(stmt)
        return out
