"""Large temporaries named so that the operation reading them runs in their buffer."""

from __future__ import annotations

from collections import Counter

import gast
import numpy as np

from .. import syntax as S
from ..forms import Derivative
from ..node_facts import copy_all_facts
from ..shapes import (
    expression_shape,
)
from ..simplify import liveness
from .common import pure, ufunc_call

#: arrays at least this large get ``t = f(e)`` split so that ``f`` runs in ``e``'s buffer
SPLIT_SIZE = 1 << 14


def split_temporaries(body, der: Derivative, shapes: dict) -> None:
    """Give a large temporary a name where NumPy would otherwise allocate a third array for
    the operation reading it: ``t = np.tanh(x * a)`` becomes ``t = x * a`` then
    ``t = np.tanh(t)``, and in ``dx + e * (1.0 - t * t)`` the square is computed first as
    ``t_sq = t * t`` (NumPy reuses an unnamed temporary only as the left operand of ``-`` or
    ``/``, or as any operand of a commutative operation). The buffer reuse then runs the
    operation in the named buffer (``np.subtract(1.0, t_sq, out=t_sq)``), as a hand-written
    chain does. At most one temporary is named per statement (more could raise the peak), only
    for arrays of ``SPLIT_SIZE`` elements or more, and only out of pure arithmetic."""
    after: dict = {}
    liveness(body, after=after)
    splitter = _Splitter(der, shapes, after)
    for stmts in list(S.blocks(body)):
        for i in reversed(range(len(stmts))):
            stmt = stmts[i]
            if not (isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)):
                continue
            if not pure(stmt.value, splitter.np_name, elementwise=True):
                continue
            found = splitter.where(stmt)
            if found is None:
                continue
            name, parent, field, operand = found
            shapes[name] = splitter.shape(operand)
            first = S.assign(name, operand, getattr(stmt, "lineno", None))
            copy_all_facts(stmt, first, skip=("tape_pair",))
            if isinstance(field, int):
                parent[field] = S.name(name)
            else:
                setattr(parent, field, S.name(name))
            stmts.insert(i, first)


class _Splitter:
    """Where :func:`split_temporaries` names a temporary; ``after``: the names live after
    each statement (by ``id``)."""

    def __init__(self, der: Derivative, shapes: dict, after: dict):
        self.np_name = der.refs.name_of(np)
        self.adj_of = {v: k for k, v in der.adj_names.items()}
        self.shapes, self.after, self.names = shapes, after, der.refs.names

    def shape(self, e):
        return expression_shape(e, self.shapes, self.adj_of, self.np_name)

    def large(self, e, like) -> bool:
        got = self.shape(e)
        return got is not None and got == self.shape(like) and int(np.prod(got)) >= SPLIT_SIZE

    def unary_ufunc(self, e) -> bool:
        ufunc = ufunc_call(e, self.np_name)
        return ufunc is not None and ufunc.nin == 1

    def fresh(self, e) -> bool:
        return isinstance(e, (gast.BinOp, gast.UnaryOp)) or self.unary_ufunc(e)

    def candidate(self, e):
        """The first (in evaluation order) operand worth naming, as (parent, field), or None."""
        if isinstance(e, gast.BinOp):
            found = self.candidate(e.left) or self.candidate(e.right)
            if found is None and isinstance(e.op, (gast.Sub, gast.Div)):
                if self.fresh(e.right) and not self.fresh(e.left) and self.large(e.right, e):
                    found = (e, "right")
            return found
        if isinstance(e, gast.UnaryOp):
            return self.candidate(e.operand)
        if self.unary_ufunc(e):
            found = self.candidate(e.args[0])
            if found is None and self.fresh(e.args[0]) and self.large(e.args[0], e):
                found = (e.args, 0)
            return found
        return None

    def where(self, stmt):
        """``(name, parent, field, operand)``: the temporary of the pure elementwise ``stmt``
        to name ``name``, at ``parent``'s ``field``; None where none is worth it."""
        v = stmt.value
        if self.unary_ufunc(v) and self.fresh(v.args[0]) and self.large(v.args[0], v):
            return stmt.targets[0].id, v.args, 0, v.args[0]  # t = f(e): into t
        where = self.candidate(v)
        if where is None:
            return None
        live = self.after.get(id(stmt), set())
        parent, field = where
        operand = parent[field] if isinstance(field, int) else getattr(parent, field)
        inside = Counter(n.id for n in S.walk(operand) if isinstance(n, gast.Name))
        everywhere = Counter(n.id for n in S.walk(v) if isinstance(n, gast.Name))
        if any(n not in live and everywhere[n] == k for n, k in inside.items()):
            return None  # it reads a buffer that the reuse can write it into already
        left = getattr(parent, "left", None)
        if isinstance(left, gast.Name) and left.id not in live and everywhere[left.id] == 1:
            return None  # the reuse writes into the left operand's buffer
        return self.names.fresh(stmt.targets[0].id + "_t"), parent, field, operand
