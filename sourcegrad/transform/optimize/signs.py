"""Negations that cancel across statements.

The adjoint of ``1.0 / (1.0 + np.exp(-a))`` negates twice: ``dzr_9 = -dzr * zr * zr``,
``dzr_7 = dzr_9 * zr_8``, ``dzr_6 = -dzr_7``: two passes over the array that a hand-written
gradient does not make. :func:`cancel_negations` drops both where the inner one is a factor
of a chain of products and quotients that only the outer one reads::

    dzr_9 = dzr * zr * zr
    dzr_7 = dzr_9 * zr_8
    dzr_6 = dzr_7

Guarantees: every value is the same, bit for bit (the sign of a product or quotient is the
exclusive or of its operands' signs and rounding is symmetric, so ``(-x) * y`` is ``-(x *
y)`` exactly, zeros included); only done where the negated operand is floating point (a
negated integer may wrap before it is converted), and each name of the chain is assigned
once, read once (by the next link), never changed in place, in the same block.
"""

from __future__ import annotations

import gast

from .. import syntax as S
from ..walk import mutated_names


class _Chains:
    """The rewrite of one function body: ``floats``, the names known to hold floating point
    values (or arrays)."""

    def __init__(self, body, floats: set):
        self.floats = floats
        module = gast.Module(body=body, type_ignores=[])
        self.reads: dict = {}
        self.binds: dict = {}
        for n in S.walk(module):
            if isinstance(n, gast.Name):
                table = self.reads if isinstance(n.ctx, gast.Load) else self.binds
                table[n.id] = table.get(n.id, 0) + 1
        self.mutated = mutated_names(body)

    def block(self, stmts) -> None:
        for k, stmt in enumerate(stmts):
            if isinstance(stmt, (gast.Assign, gast.AugAssign)):
                stmt.value = self._cancel(stmt.value, stmts[:k])

    def _cancel(self, e, before):
        """``e`` with each negation of a product chain whose factors hold a negation that can
        go dropped together with it (the chain rewritten in place)."""
        for field in ("left", "right", "operand"):
            inner = getattr(e, field, None)
            if isinstance(inner, gast.expr):
                setattr(e, field, self._cancel(inner, before))
        if isinstance(e, gast.Call):
            e.args = [self._cancel(a, before) for a in e.args]
        if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
            holder = _Holder(e.operand)
            if self._flip(e.operand, before, holder) is not None:
                return holder.value
        return e

    def _link(self, before, name):
        """The statement of ``before`` assigning ``name``, where ``name`` is assigned once,
        read once and never changed in place; else None."""
        if self.binds.get(name) != 1 or self.reads.get(name) != 1 or name in self.mutated:
            return None
        for s in reversed(before):
            if isinstance(s, gast.Assign) and [_target(s)] == [name]:
                return s
        return None

    def _flip(self, e, before, owner):
        """``e`` (the value of the statement ``owner``) negated by dropping one negation of
        a floating point operand of its products (in place), or None where there is none."""
        if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
            if not self._floating(e.operand):
                return None
            self._replace(owner, e, e.operand)
            return e.operand
        if isinstance(e, gast.BinOp) and isinstance(e.op, (gast.Mult, gast.Div)):
            for side in (e.left, e.right):
                if self._flip(side, before, e) is not None:
                    return e
            return None
        if isinstance(e, gast.Name):
            made = self._link(before, e.id)
            if made is None:
                return None
            at = before.index(made)
            return e if self._flip(made.value, before[:at], made) is not None else None
        return None

    def _floating(self, e) -> bool:
        """Whether ``e`` is a floating point name, or a product or quotient of those and
        numbers."""
        if isinstance(e, gast.Name):
            return e.id in self.floats
        if isinstance(e, gast.BinOp) and isinstance(e.op, (gast.Mult, gast.Div)):
            sides = (e.left, e.right)
            numbers = [s for s in sides if isinstance(s, gast.Constant)]
            if any(type(c.value) not in (int, float) for c in numbers):
                return False
            return len(numbers) < 2 and all(
                self._floating(s) for s in sides if not isinstance(s, gast.Constant)
            )
        return False

    @staticmethod
    def _replace(parent, old, new) -> None:
        for field in ("value", "left", "right", "operand"):
            if getattr(parent, field, None) is old:
                setattr(parent, field, new)
                return


class _Holder:
    """A parent for an expression that has none (the operand of a negation being dropped)."""

    def __init__(self, value):
        self.value = value


def _target(stmt):
    t = stmt.targets[0] if len(stmt.targets) == 1 else None
    return t.id if isinstance(t, gast.Name) else None


def cancel_negations(body, der, kinds: dict) -> None:
    """Drop pairs of negations that cancel (see the module docstring), in place, in the
    ``body`` of the derivative ``der``; ``kinds``: the dtypes of names, where known. The
    differentiated values and their adjoints are floating point, and so are the names of a
    floating point dtype."""
    floats = set(der.analysis.active) | set(der.adj_names.values())
    floats |= {
        n for n, dt in kinds.items() if dt is float or getattr(dt, "kind", None) in ("f", "c")
    }
    chains = _Chains(body, floats)
    for block in S.blocks(body):
        chains.block(block)
