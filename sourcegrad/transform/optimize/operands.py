"""The array operands of a compiled forward named, so that its arrays can live in buffers.

A compiled forward (``grad(f, with_gradients=False)``) is ``f`` in core form, simplified: its
single-use temporaries are inlined (``h1 = np.tanh(x @ W0 + b0)``), where the gradient's
forward sweep keeps some of them named for its adjoint. The rewrites of buffers
(:mod:`.inplace`, :mod:`.pool`) work on names: :func:`name_operands` gives every array an
expression computes on the way a name of its own, in evaluation order (``h1_t = x @ W0``,
``h1_t_1 = h1_t + b0``, ``h1 = np.tanh(h1_t_1)``), so that they run as the gradient's running
code does (``h1_t = np.dot(x, W0, buffers[0])``, then each operation into that buffer).

Guarantees: the same operations on the same operands in the same order, so the values are
those of the code before, bit for bit; only pure arithmetic (operators and NumPy ufuncs, no
other call) is taken apart, and only operands whose shape is known and not a scalar's.
"""

from __future__ import annotations

import gast
import numpy as np

from .. import syntax as S
from ..node_facts import copy_all_facts
from ..shapes import expression_shape
from .common import ufunc_call


def name_operands(body, shapes: dict, np_name, names) -> None:
    """Name the array operands of every pure arithmetic assignment of ``body`` (in place;
    ``shapes`` gets the shape of each new name, ``names`` gives fresh names)."""
    if np_name is None:
        return
    counters = {  # integers: an index by one takes the first axis
        loop.target.id
        for loop in S.walk(gast.Module(body=body, type_ignores=[]))
        if isinstance(loop, gast.For) and isinstance(loop.target, gast.Name) and _range(loop.iter)
    }
    for stmts in list(S.blocks(body)):
        for i in reversed(range(len(stmts))):
            stmt = stmts[i]
            if not (isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)):
                continue
            namer = _Namer(stmt, shapes, np_name, names, counters)
            v = stmt.value
            if arithmetic(v, np_name):
                namer.operands(v)
            elif _call_of_arithmetic(v, np_name):  # np.add.reduce(x * y, None)
                v.args = [namer.named(a) for a in v.args]
            stmts[i:i] = namer.made


def _range(e) -> bool:
    return isinstance(e, gast.Call) and isinstance(e.func, gast.Name) and e.func.id == "range"


def _call_of_arithmetic(e, np_name) -> bool:
    """A call of a function named by a dotted name whose arguments are arithmetic (named in
    order, before the call: the names it reads are looked up first now, which is the same)."""
    if not isinstance(e, gast.Call) or S.dotted(e.func) is None:
        return False
    atoms = (gast.Name, gast.Constant)
    return all(arithmetic(a, np_name) for a in e.args) and all(
        isinstance(k.value, atoms) for k in e.keywords
    )


class _Namer:
    """The operands of one statement, named into ``made`` (the statements that assign them)."""

    def __init__(self, stmt, shapes, np_name, names, counters):
        self.stmt, self.shapes, self.np_name = stmt, shapes, np_name
        self.names, self.counters = names, counters
        self.made: list = []
        self.base = stmt.targets[0].id + "_t"

    def operands(self, e) -> None:
        """Replace the array-valued operations among ``e``'s operands by names, inner first."""
        if isinstance(e, gast.BinOp):
            e.left = self.named(e.left)
            e.right = self.named(e.right)
        elif isinstance(e, gast.UnaryOp):
            e.operand = self.named(e.operand)
        elif ufunc_call(e, self.np_name) is not None:
            e.args = [self.named(a) for a in e.args]

    def named(self, e):
        """``e``, or a name assigned ``e`` just before the statement where ``e`` is an
        operation whose value is an array of known shape."""
        if not isinstance(e, (gast.BinOp, gast.UnaryOp, gast.Call)):
            return e
        self.operands(e)
        shape = self.shape(e)
        if not shape:  # unknown, or a scalar (a NumPy scalar is no buffer)
            return e
        name = self.names.fresh(self.base)
        self.shapes[name] = shape
        first = S.assign(name, e, getattr(self.stmt, "lineno", None))
        copy_all_facts(self.stmt, first, skip=("tape_pair",))
        self.made.append(first)
        return S.name(name)

    def shape(self, e):
        if isinstance(e, gast.BinOp) and isinstance(e.op, gast.MatMult):
            a, b = self.shape(e.left), self.shape(e.right)
            return None if a is None or b is None else matmul_shape(a, b)
        if isinstance(e, gast.Subscript) and isinstance(e.value, gast.Name):
            whole = self.shapes.get(e.value.id)
            i = e.slice
            integer = isinstance(i, gast.Name) and i.id in self.counters
            integer = integer or (isinstance(i, gast.Constant) and type(i.value) is int)
            return whole[1:] if whole and integer else None
        return expression_shape(e, self.shapes, {}, self.np_name)


def matmul_shape(a: tuple, b: tuple):
    """The shape of ``A @ B`` for operands of shapes ``a`` and ``b`` (None where they do not
    multiply)."""
    if not a or not b:
        return None
    if len(a) == 1 and len(b) == 1:
        return () if a == b else None
    if len(b) == 1:
        return a[:-1] if a[-1] == b[0] else None
    if len(a) == 1:
        return b[:-2] + b[-1:] if a[0] == b[-2] else None
    if a[-1] != b[-2]:
        return None
    try:
        lead = np.broadcast_shapes(a[:-2], b[:-2])
    except ValueError:
        return None
    return tuple(lead) + (a[-2], b[-1])


def arithmetic(e, np_name) -> bool:
    """Whether ``e`` is arithmetic (operators, NumPy ufuncs) on names, numbers, ``x.T`` and
    indexes of names by names, numbers and slices of them (bounds: arithmetic of names and
    numbers): no effect but its value."""
    if isinstance(e, (gast.Name, gast.Constant)):
        return True
    if isinstance(e, gast.Attribute):
        return e.attr == "T" and isinstance(e.value, gast.Name)
    if isinstance(e, gast.Subscript):
        return isinstance(e.value, gast.Name) and _simple_index(e.slice)
    if isinstance(e, gast.BinOp):
        return arithmetic(e.left, np_name) and arithmetic(e.right, np_name)
    if isinstance(e, gast.UnaryOp):
        return arithmetic(e.operand, np_name)
    if ufunc_call(e, np_name) is None:
        return False
    return all(arithmetic(a, np_name) for a in e.args)


def _simple_index(e) -> bool:
    if isinstance(e, gast.Tuple):
        return all(_simple_index(x) for x in e.elts)
    if isinstance(e, gast.Slice):
        parts = (e.lower, e.upper, e.step)
        return all(p is None or _int_arithmetic(p) for p in parts)
    return isinstance(e, (gast.Name, gast.Constant))


def _int_arithmetic(e) -> bool:
    if isinstance(e, gast.BinOp):
        return _int_arithmetic(e.left) and _int_arithmetic(e.right)
    if isinstance(e, gast.UnaryOp):
        return _int_arithmetic(e.operand)
    return isinstance(e, (gast.Name, gast.Constant))
