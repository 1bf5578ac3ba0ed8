"""Elementwise operations computed into a free operand's buffer (``out=``)."""

from __future__ import annotations

import gast
import numpy as np

from .. import syntax as S
from ..forms import Derivative
from ..shapes import (
    ARRAY_BINOPS,
    expression_dtype,
)
from ..simplify import liveness
from .common import ufunc_call
from .dtypes import name_dtypes, same_dtype
from .expression_shapes import known_shape


class InPlace:
    """Elementwise operations computed into the buffer of an operand that is owned, read
    nowhere else in the statement and dead after it, with the result's shape and dtype:
    ``h1 = np.tanh(h1_1 + b0)`` becomes ``h1 = np.tanh(np.add(h1_1, b0, out=h1_1),
    out=h1_1)``, as a hand-written gradient would do it."""

    def __init__(self, node, der: Derivative, shapes: dict, example_args):
        self.np_name = der.refs.name_of(np)
        self.adj_of = {v: k for k, v in der.adj_names.items()}
        self.shapes = shapes
        self.after: dict = {}
        liveness(node.body, after=self.after)
        self.dtypes = name_dtypes(node, der, example_args, self.np_name, shapes)

    def shape(self, e):
        return known_shape(e, self.shapes, self.adj_of, self.np_name)

    def dtype(self, e):
        return expression_dtype(e, self.dtypes, self.np_name)

    def rewrite(self, stmt, owned, accumulated=False) -> bool:
        """Rewrite ``stmt`` (``t = e``; with ``accumulated``, ``t = t + e``: only ``e``) to
        compute into free buffers; True if its value ends up in one."""
        live = self.after.get(id(stmt))
        if live is None or self.np_name is None:
            return False
        t = stmt.targets[0].id
        reads: dict = {}
        for n in S.walk(stmt.value):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                reads[n.id] = reads.get(n.id, 0) + 1
        self.reads = reads
        self.free = {  # arrays, not 0-d: a NumPy scalar is no buffer
            a
            for a in owned
            if a in reads
            and (a not in live or a == t)
            and isinstance(self.dtypes.get(a), np.dtype)
            and self.shapes_of(a)
        }
        if not self.free:
            return False
        self.parents = S.parent_map(stmt.value)
        if accumulated:
            stmt.value.right = self.visit(stmt.value.right)[0]
            return False
        value, buffer = self.visit(stmt.value)
        if buffer is None:
            return False
        stmt.value = value
        return True

    def visit(self, e):
        """``(e', buffer)``: e rewritten, and the free buffer its value is in (or None)."""
        if isinstance(e, gast.Name):
            return e, (e.id if e.id in self.free else None)
        if isinstance(e, gast.BinOp) and type(e.op) in ARRAY_BINOPS:
            ufunc, operands = ARRAY_BINOPS[type(e.op)].__name__, [e.left, e.right]
        elif isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
            ufunc, operands = "negative", [e.operand]
        elif ufunc_call(e, self.np_name) is not None:
            ufunc, operands = e.func.attr, list(e.args)
        else:
            return e, None
        shape, dtype = self.shape(e), self.dtype(e)
        visited = [self.visit(o) for o in operands]
        args = [v for v, _ in visited]
        for _, buffer in visited:
            if (
                buffer is not None
                and self._all_reads_in(e, buffer)  # none left to read it once written
                and shape is not None
                and dtype is not None
                and self.shapes_of(buffer) == shape
                and same_dtype(self.dtypes.get(buffer), dtype)
            ):
                f = gast.Attribute(value=S.name(self.np_name), attr=ufunc, ctx=gast.Load())
                call = S.call(f, args)
                call.keywords = [gast.keyword(arg="out", value=S.name(buffer))]
                return call, buffer
        if isinstance(e, gast.BinOp):
            e.left, e.right = args
        elif isinstance(e, gast.UnaryOp):
            e.operand = args[0]
        else:
            e.args = args
        return e, None

    def shapes_of(self, name):
        return self.shape(S.name(name))

    def _all_reads_in(self, e, name) -> bool:
        """Whether writing ``e``'s result into ``name``'s buffer leaves no read of it to come:
        every other read of ``name`` in the statement is inside an operand evaluated before
        ``e`` whose value is a new array (``dx - 2.0 * (t * e) + e * (1.0 - t * t)`` may
        overwrite ``t`` and ``e`` in its second term, not in its first)."""
        total = self.reads[name]
        seen = _count_reads(e, name)
        node = e
        while seen < total and id(node) in self.parents:
            parent = self.parents[id(node)]
            for sibling in gast.iter_child_nodes(parent):
                if sibling is node:
                    break
                count = _count_reads(sibling, name)
                if count and not _new_array(sibling, self.np_name):
                    return False
                seen += count
            node = parent
        return seen == total


def _count_reads(e, name) -> int:
    return sum(1 for n in S.name_nodes(e) if n.id == name)


def _new_array(e, np_name) -> bool:
    """Whether ``e``, an operand inside an elementwise expression, evaluates to memory of its
    own: an operator's result or a NumPy ufunc's without ``out=``."""
    if isinstance(e, (gast.BinOp, gast.UnaryOp, gast.Compare)):
        return True
    return ufunc_call(e, np_name) is not None
