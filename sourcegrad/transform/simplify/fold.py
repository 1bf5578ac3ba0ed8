"""Algebra with known constants folded, and scalars that broadcast by themselves unwrapped
from ``unreduce``."""

from __future__ import annotations

import functools
import numbers
import operator

import gast
import numpy as np

from ...runtime.helpers import unreduce
from .. import syntax as S
from ..algebra import floating
from ..shape_keys import shape_key
from ..walk import definition_counts, forget_reads, walk_statements
from .defuse import (
    is_adjoint,
    simple_target,
)
from .liveness import reads_of


def _num(node):
    return (
        isinstance(node, gast.Constant)
        and isinstance(node.value, numbers.Number)
        and not isinstance(node.value, bool)
    )


class _Fold(S.Transformer):
    changed = False
    floats: frozenset = frozenset()  # names known to hold floating point values

    def float_valued(self, e) -> bool:
        """Whether the product ``e`` has a factor known to be floating point (a float
        literal, a differentiated value or an adjoint), so its result is one too."""
        if isinstance(e, gast.BinOp) and isinstance(e.op, (gast.Mult, gast.Div)):
            return self.float_valued(e.left) or self.float_valued(e.right)
        if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
            return self.float_valued(e.operand)
        if isinstance(e, gast.Constant):
            return type(e.value) in (float, complex)
        if (
            isinstance(e, gast.Call)
            and isinstance(e.func, gast.Attribute)
            and isinstance(e.func.value, gast.Name)
            and e.func.value.id == self.np_name
        ):  # np.cos(..): a ufunc without an integer loop makes floats of anything
            return _makes_floats(e.func.attr)
        return isinstance(e, gast.Name) and e.id in self.floats

    def known_float(self, e) -> bool:
        """Whether ``e`` is known to be floating point (not a boolean or an integer, for which
        ``m + m``, ``1 * m`` and ``m ** 1`` are not what they are for numbers)."""
        return self.float_valued(e) or floating(e, self.floats)

    def visit_BinOp(self, n):
        self.generic_visit(n)
        left, right, op = n.left, n.right, n.op
        if _num(left) and _num(right) and isinstance(op, (gast.Add, gast.Sub, gast.Mult, gast.Pow)):
            value = _python_arithmetic(op, left.value, right.value)
            if value is not None:
                self.changed = True
                return S.const(value)
        if isinstance(op, gast.Mult):
            for a, b in ((left, right), (right, left)):
                if not (_num(a) and a.value in (1, -1)):
                    continue
                if not self.known_float(b):
                    # 1.0 * k of an integer k is a float; k alone may wrap later. 1 * m of a
                    # mask m is 0 or 1, m a boolean (m + m is m), and -1 * u of an unsigned u
                    # is not -u
                    continue
                self.changed = True
                return b if a.value == 1 else gast.UnaryOp(op=gast.USub(), operand=b)
        if isinstance(op, gast.Mult):  # 1.0 / u * v is v / u: one operation, one rounding
            for a, b in ((left, right), (right, left)):
                if isinstance(a, gast.BinOp) and isinstance(a.op, gast.Div) and _num(a.left):
                    if a.left.value == 1:
                        self.changed = True
                        return gast.BinOp(left=b, op=gast.Div(), right=a.right)
        if (
            isinstance(op, gast.Div)
            and _num(right)
            and right.value == 1
            and self.float_valued(left)
        ):
            self.changed = True
            return left
        if isinstance(op, gast.Pow) and _num(right) and right.value == 1 and self.known_float(left):
            self.changed = True  # (m ** 1 of a mask m is an integer)
            return left
        if isinstance(op, gast.Add) and _same_product(left, right) and self.known_float(left):
            self.changed = True  # the product rule of x * x: dx * x + x * dx (m + m of a mask is m)
            return gast.BinOp(left=S.const(2.0), op=gast.Mult(), right=left)
        if (
            isinstance(op, (gast.Add, gast.Sub))
            and isinstance(left, gast.BinOp)
            and isinstance(right, gast.BinOp)
            and isinstance(left.op, gast.Div)
            and isinstance(right.op, gast.Div)
            and isinstance(left.right, gast.Name)
            and isinstance(right.right, gast.Name)
            and left.right.id == right.right.id
            and (self.known_float(left.left) or self.known_float(right.left))  # not m1 - m2
        ):
            self.changed = True  # the quotient rule: dx / y - dy * z / y is (dx - dy * z) / y
            top = gast.BinOp(left=left.left, op=op, right=right.left)
            return gast.BinOp(left=top, op=gast.Div(), right=left.right)
        if isinstance(op, gast.Add):
            positive = _strip_negation(right)
            if positive is not None:
                self.changed = True
                return gast.BinOp(left=left, op=gast.Sub(), right=positive)
        return n

    def visit_UnaryOp(self, n):
        self.generic_visit(n)
        if isinstance(n.op, gast.USub):
            if _num(n.operand):
                self.changed = True
                return S.const(-n.operand.value)
            positive = _strip_negation(n.operand)  # -(-a), -(-a * b / c): exact
            if positive is not None:
                self.changed = True
                return positive
        return n

    def visit_Call(self, n):
        self.generic_visit(n)
        # np.sum(c) of a number is the number
        if (
            isinstance(n.func, gast.Attribute)
            and n.func.attr == "sum"
            and len(n.args) == 1
            and not n.keywords
            and _num(n.args[0])
            and isinstance(n.func.value, gast.Name)
            and n.func.value.id == self.np_name
        ):
            self.changed = True
            return n.args[0]
        # unreduce(unreduce(c, a), b, ...) of a number c fills b with c: unreduce(c, b)
        if (
            isinstance(n.func, gast.Name)
            and n.func.id == self.unreduce_name
            and n.args
            and isinstance(n.args[0], gast.Call)
            and isinstance(n.args[0].func, gast.Name)
            and n.args[0].func.id == self.unreduce_name
            and len(n.args[0].args) == 2
            and self.is_scalar(n.args[0].args[0])
        ):
            self.changed = True
            return S.call(n.func, [n.args[0].args[0], n.args[1]])
        return n

    def visit_Subscript(self, n):
        self.generic_visit(n)
        if (
            isinstance(n.value, gast.Tuple)
            and isinstance(n.slice, gast.Constant)
            and isinstance(n.slice.value, int)
            and -len(n.value.elts) <= n.slice.value < len(n.value.elts)
        ):
            self.changed = True
            return n.value.elts[n.slice.value]
        return n


def _python_arithmetic(op, a, b):
    """``a <op> b`` of two Python numbers as Python computes it where the code runs (``2 ** -1``
    is 0.5, ``10 ** 20`` exact), or None where it raises or would be huge."""
    if isinstance(op, gast.Pow) and type(a) is int and type(b) is int and abs(b) > 64:
        return None  # 10 ** 10 ** 9 is left to run time
    try:
        return {
            gast.Add: operator.add,
            gast.Sub: operator.sub,
            gast.Mult: operator.mul,
            gast.Pow: operator.pow,
        }[type(op)](a, b)
    except (ArithmeticError, ValueError):  # 0.0 ** -1, 1e300 ** 2: raised where it runs
        return None


@functools.cache
def _makes_floats(name: str) -> bool:
    """Whether ``np.<name>`` is a ufunc without a loop giving integers or booleans."""
    f = getattr(np, name, None)
    return isinstance(f, np.ufunc) and not any(t.split("->")[1] in "bhilqBHILQ?" for t in f.types)


def _same_product(a, b) -> bool:
    """Whether ``a`` and ``b`` are the same name, or the same elementwise product of two
    names in either order (``p * q``, ``q * p``)."""

    def factors(e):
        if isinstance(e, gast.BinOp) and isinstance(e.op, gast.Mult):
            if isinstance(e.left, gast.Name) and isinstance(e.right, gast.Name):
                return sorted((e.left.id, e.right.id))
        return None

    if isinstance(a, gast.Name) and isinstance(b, gast.Name):
        return a.id == b.id  # b + b
    fa = factors(a)
    return fa is not None and fa == factors(b)


def _strip_negation(e):
    """``e`` without its leading minus (``-a * b / c`` -> ``a * b / c``), or None."""
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
        return e.operand
    if isinstance(e, gast.BinOp) and isinstance(e.op, (gast.Mult, gast.Div)):
        inner = _strip_negation(e.left)
        if inner is not None:
            return gast.BinOp(left=inner, op=e.op, right=e.right)
    return None


def fold_all(body, der):
    """Fold algebra with known constants (``1.0 * e`` -> ``e``) in the adjoint statements and
    returns of ``body``; True if anything changed."""
    f = _Fold()
    f.floats = frozenset(der.analysis.active) | frozenset(der.adj_names.values())
    f.np_name = der.refs.name_of(np)
    f.unreduce_name = der.refs.name_of(unreduce)
    f.is_scalar = lambda e: shape_key(der.analysis, der.adj_of, e) == "scalar"
    for stmt in walk_statements(body):
        if is_adjoint(stmt) or isinstance(stmt, gast.Return):
            if isinstance(stmt, (gast.Assign, gast.Return)):
                stmt.value = f.visit(stmt.value)
    return f.changed


def scalar_broadcasts(body, der):
    """``unreduce(c, x) * e`` -> ``c * e`` when ``c`` is a scalar and ``e`` has ``x``'s shape:
    the product broadcasts ``c`` by itself."""
    unreduce_name = der.refs.name_of(unreduce)
    if unreduce_name is None:
        return False
    adj_of = der.adj_of

    def is_scalar_unreduce(n):
        return (
            isinstance(n, gast.Call)
            and isinstance(n.func, gast.Name)
            and n.func.id == unreduce_name
            and len(n.args) == 2
            and shape_key(der.analysis, adj_of, n.args[0]) == "scalar"
        )

    def fold():
        return _ScalarBroadcasts(der, is_scalar_unreduce)

    t = fold()
    changed = _spread_scalar_seeds(body, is_scalar_unreduce, fold)
    for stmt in walk_statements(body):
        if is_adjoint(stmt) and isinstance(stmt, gast.Assign):
            if _mentions(stmt.value, unreduce_name):  # else nothing to rewrite there
                stmt.value = t.visit(stmt.value)
    return t.changed or changed


class _ScalarBroadcasts(S.Transformer):
    """The rewrite of :func:`scalar_broadcasts` in an expression (``changed``: whether it
    rewrote anything)."""

    def __init__(self, der, is_scalar_unreduce):
        self.der, self.is_scalar_unreduce = der, is_scalar_unreduce
        self.changed = False

    def shape(self, e):
        return shape_key(self.der.analysis, self.der.adj_of, e)

    def visit_BinOp(self, n):
        self.generic_visit(n)
        if isinstance(n.op, gast.Div) and self.is_scalar_unreduce(n.left):
            target = self.shape(n.left.args[1])
            if target is not None and self.shape(n.right) == target:
                self.changed = True  # unreduce(c, x) / e -> c / e
                n.left = n.left.args[0]
            return n
        if not isinstance(n.op, gast.Mult):
            return n
        fs = _factors(n)
        for i, f in enumerate(fs):
            if not self.is_scalar_unreduce(f):
                continue
            target = self.shape(f.args[1])
            others = fs[:i] + fs[i + 1 :]
            if target is not None and any(self.shape(o) == target for o in others):
                self.changed = True
                fs[i] = f.args[0]
                out = fs[0]
                for g in fs[1:]:
                    out = gast.BinOp(left=out, op=gast.Mult(), right=g)
                return out
        return n


def _factors(n) -> list:
    """The factors of a product ``a * b * ...``, left to right (``[n]`` for no product)."""
    if isinstance(n, gast.BinOp) and isinstance(n.op, gast.Mult):
        return _factors(n.left) + _factors(n.right)
    return [n]


def _mentions(e, name: str) -> bool:
    """Whether the name ``name`` occurs in ``e``."""
    return any(n.id == name for n in S.name_nodes(e))


def _spread_scalar_seeds(body, is_scalar_unreduce, fold) -> bool:
    """``g = unreduce(c, x)`` (an array of c, e.g. the adjoint of a full sum) read by several
    statements: put the call in each of them when the scalar rules of ``fold`` then remove
    it from every one, so the array is never made."""
    changed = False
    stmts = list(walk_statements(body))
    seeds = [s for s in stmts if is_scalar_unreduce(getattr(s, "value", None))]
    if not seeds:
        return False
    defs = definition_counts(body)
    reads: dict = {}  # id(statement) -> the names it reads, until it is rewritten here
    for stmt in seeds:
        g = simple_target(stmt)
        if not (is_adjoint(stmt) and g and defs.get(g) == 1 and is_scalar_unreduce(stmt.value)):
            continue  # (its value may have changed since: it read an earlier seed)
        users = [u for u in stmts if u is not stmt and g in _reads(u, reads)]
        if not users or not all(
            isinstance(u, gast.Assign)
            and is_adjoint(u)
            and not isinstance(u.targets[0], gast.Subscript)
            for u in users
        ):
            continue
        trials = []
        for u in users:
            value = S.rename(S.clone(u.value), {g: stmt.value})
            value = fold().visit(value)
            if any(is_scalar_unreduce(n) for n in S.walk(value)):
                break
            trials.append(value)
        else:
            for u, value in zip(users, trials):
                u.value = value
                reads.pop(id(u), None)
                forget_reads(u)
            changed = True
    return changed


def _reads(stmt, cache: dict) -> set:
    """:func:`reads_of` ``stmt``, kept in ``cache`` by ``id``."""
    got = cache.get(id(stmt))
    if got is None:
        got = cache[id(stmt)] = reads_of(stmt)
    return got
