"""Large temporaries named so that the operation reading them runs in their buffer."""

from __future__ import annotations

from collections import Counter

import gast
import numpy as np

from .. import syntax as S
from ..reverse import Derivative
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
    np_name = der.refs.by_id.get(id(np))
    adj_of = {v: k for k, v in der.adj_names.items()}
    after: dict = {}
    liveness(body, after=after)

    def shape(e):
        return expression_shape(e, shapes, adj_of, np_name)

    def large(e, like) -> bool:
        got = shape(e)
        return got is not None and got == shape(like) and int(np.prod(got)) >= SPLIT_SIZE

    def unary_ufunc(e) -> bool:
        ufunc = ufunc_call(e, np_name)
        return ufunc is not None and ufunc.nin == 1

    def fresh(e) -> bool:
        return isinstance(e, (gast.BinOp, gast.UnaryOp)) or unary_ufunc(e)

    def candidate(e):
        """The first (in evaluation order) operand worth naming, as (parent, field), or None."""
        if isinstance(e, gast.BinOp):
            found = candidate(e.left) or candidate(e.right)
            if found is None and isinstance(e.op, (gast.Sub, gast.Div)):
                if fresh(e.right) and not fresh(e.left) and large(e.right, e):
                    found = (e, "right")
            return found
        if isinstance(e, gast.UnaryOp):
            return candidate(e.operand)
        if unary_ufunc(e):
            found = candidate(e.args[0])
            if found is None and fresh(e.args[0]) and large(e.args[0], e):
                found = (e.args, 0)
            return found
        return None

    for stmts in list(S.blocks(body)):
        for i in reversed(range(len(stmts))):
            stmt = stmts[i]
            if not (isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)):
                continue
            v = stmt.value
            if not pure(v, np_name, elementwise=True):
                continue
            if unary_ufunc(v) and fresh(v.args[0]) and large(v.args[0], v):
                name, (parent, field) = stmt.targets[0].id, (v.args, 0)  # t = f(e): into t
                operand = v.args[0]
            else:
                where = candidate(v)
                if where is None:
                    continue
                live = after.get(id(stmt), set())
                parent, field = where
                operand = parent[field] if isinstance(field, int) else getattr(parent, field)
                inside = Counter(n.id for n in S.walk(operand) if isinstance(n, gast.Name))
                everywhere = Counter(n.id for n in S.walk(v) if isinstance(n, gast.Name))
                if any(n not in live and everywhere[n] == k for n, k in inside.items()):
                    continue  # it reads a buffer that the reuse can write it into already
                left = getattr(parent, "left", None)
                if isinstance(left, gast.Name) and left.id not in live and everywhere[left.id] == 1:
                    continue  # the reuse writes into the left operand's buffer
                name = der.refs.names.fresh(stmt.targets[0].id + "_t")
            shapes[name] = shape(operand)
            first = S.assign(name, operand, getattr(stmt, "lineno", None))
            for attr, val in stmt.__dict__.items():
                if attr.startswith("sg_") and attr != "sg_tape_pair":
                    setattr(first, attr, val)
            if isinstance(field, int):
                parent[field] = S.name(name)
            else:
                setattr(parent, field, S.name(name))
            stmts.insert(i, first)
