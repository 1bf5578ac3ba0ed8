"""Products and sums run through faster NumPy entry points: ``np.dot`` for ``@``,
``contract`` for two-operand ``np.einsum``, ``np.add.reduce`` for full sums, ``np.vdot`` for
sums of products, transposed operands hoisted out of loops."""

from __future__ import annotations

import gast
import numpy as np

from ...runtime.helpers import sum_to
from ...runtime.linalg_helpers import contract, uneinsum
from .. import syntax as S
from ..forms import Derivative
from ..node_facts import get_fact, set_fact
from ..shapes import (
    expression_dtype,
    expression_shape,
    reduce_all_call,
)
from ..walk import load_counts, walk_statements
from .common import np_call


def adjoint_nodes(body) -> set[int]:
    """The ``id`` of every node inside a statement of the adjoint (or tangent) code of
    ``body``. The other statements compute the value the derivative returns, which must be
    Python's own bit for bit: rewrites that sum in another order leave them as written."""
    found: set[int] = set()

    def mark(stmts, inside: bool) -> None:
        for stmt in stmts:
            here = inside or get_fact(stmt, "adjoint", False)
            if here:
                found.update(id(n) for n in S.walk(stmt))
            else:
                for field in ("body", "orelse"):
                    inner = getattr(stmt, field, None)
                    if isinstance(inner, list):
                        mark(inner, False)

    mark(body, False)
    return found


def contractions(node, der: Derivative) -> None:
    """``np.einsum`` of two operands in the adjoint code runs as :func:`contract` (BLAS
    through ``tensordot``, which sums in another order: the forward code keeps the user's
    ``einsum``, but for one that sums a fused loop, in another order already), and a
    ``uneinsum`` computes only the adjoints that some statement reads."""
    np_name = der.refs.name_of(np)
    if id(uneinsum) not in der.refs.by_id and not any(
        np_call(e, np_name, "einsum", 3) for e in S.nodes_of(node, (gast.Call,))
    ):
        return  # (no product to rewrite: no walk of the adjoint's nodes and reads)
    adjoint = adjoint_nodes(node.body)
    read = {n.id for n in S.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}

    class Rewrite(S.Transformer):
        def visit_Assign(self, stmt):
            self.generic_visit(stmt)
            target, value = stmt.targets[0], stmt.value
            if (
                isinstance(target, gast.Tuple)
                and all(isinstance(e, gast.Name) for e in target.elts)
                and der.refs.is_call_of(value, uneinsum)
                and len(value.args) == 3
                and not value.keywords
            ):
                needed = [e.id in read for e in target.elts]
                if not all(needed):
                    flags = gast.Tuple(elts=[S.const(f) for f in needed], ctx=gast.Load())
                    value.args.append(flags)
            return stmt

        def visit_Call(self, e):
            self.generic_visit(e)
            if (
                np_call(e, np_name, "einsum", 3)
                and (id(e) in adjoint or get_fact(e, "reordered"))
                and isinstance(e.args[0], gast.Constant)
                and isinstance(e.args[0].value, str)
                and not any(isinstance(a, gast.Starred) for a in e.args)
            ):
                return S.call(S.name(der.refs.helper(contract)), e.args)
            return e

    Rewrite().visit(node)


def hoist_transposes(body, der: Derivative) -> None:
    """``np.dot(g, W.T)`` in a loop that does not assign ``W`` reads a contiguous copy made
    once before the loop: BLAS multiplies by a transposed (Fortran-order) matrix at about half
    the speed (a 32x128 by 128x128 float32 product: 19 µs, 10 µs contiguous). Of a ``W``
    computed under its loop's test (``if n > 0: W = M[0]``), the copy is made there too."""
    np_name = der.refs.name_of(np)
    if np_name is None:
        return
    used = {n.id for stmt in body for n in S.name_nodes(stmt)}
    for i in reversed(range(len(body))):
        loop = body[i]
        if not isinstance(loop, (gast.For, gast.While)):
            continue
        assigned = {
            n.id
            for stmt in walk_statements(loop.body)
            for n in S.walk(stmt.targets[0] if isinstance(stmt, gast.Assign) else stmt)
            if isinstance(stmt, (gast.Assign, gast.AugAssign, gast.For))
            and isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Store)
        }
        copies: dict = {}
        unset, guarded = _maybe_unset(body[:i])
        _Transposes(np_name, assigned | (unset - guarded.keys()), copies, used).visit(loop)
        for x, name in sorted(copies.items(), key=lambda kv: kv[1], reverse=True):
            f = gast.Attribute(value=S.name(np_name), attr="ascontiguousarray", ctx=gast.Load())
            t = gast.Attribute(value=S.name(x), attr="T", ctx=gast.Load())
            hoisted = S.assign(name, S.call(f, [t]), getattr(loop, "lineno", None))
            if x in guarded:
                block, at = guarded[x]
                block.insert(block.index(at) + 1, hoisted)
            else:
                body.insert(i, hoisted)


def _maybe_unset(before) -> tuple[set, dict]:
    """Names the statements ``before`` assign only inside a branch or loop, unset where that
    did not run; and of those, the ones assigned once, directly in a top-level ``if`` (an
    invariant computed under its loop's test, ``if n > 0: W = M[0]``), each mapped to
    ``(the if's body, its assignment)``, where a copy of its transpose can be made after it."""
    plain = {n for s in before if isinstance(s, gast.Assign) for n in S.names_in(s.targets[0])}
    counts: dict = {}
    for s in before:
        if isinstance(s, (gast.If, gast.For, gast.While)):
            for inner in walk_statements(s.body + s.orelse):
                if isinstance(inner, gast.Assign):
                    for n in S.walk(inner.targets[0]):
                        if isinstance(n, gast.Name):
                            counts[n.id] = counts.get(n.id, 0) + 1
    unset = set(counts) - plain
    guarded = {
        inner.targets[0].id: (s.body, inner)
        for s in before
        if isinstance(s, gast.If) and not s.orelse
        for inner in s.body
        if isinstance(inner, gast.Assign)
        and isinstance(inner.targets[0], gast.Name)
        and counts.get(inner.targets[0].id) == 1
        and inner.targets[0].id in unset
    }
    return unset, guarded


class _Transposes(S.Transformer):
    """``X.T`` in ``np.dot``/``np.matmul`` calls, for ``X`` not in ``assigned``, becomes the
    name in ``copies`` (made up here, unused in the function)."""

    def __init__(self, np_name, assigned, copies, used):
        self.np_name, self.assigned, self.copies, self.used = np_name, assigned, copies, used

    def visit_Call(self, e):
        self.generic_visit(e)
        f = e.func
        if not (
            isinstance(f, gast.Attribute)
            and f.attr in ("dot", "matmul")
            and isinstance(f.value, gast.Name)
            and f.value.id == self.np_name
        ):
            return e
        for k, a in enumerate(e.args):
            if (
                isinstance(a, gast.Attribute)
                and a.attr == "T"
                and isinstance(a.value, gast.Name)
                and a.value.id not in self.assigned
            ):
                x = a.value.id
                if x not in self.copies:
                    name = f"{x}_T"
                    while name in self.used:
                        name += "_"
                    self.used.add(name)
                    self.copies[x] = name
                e.args[k] = S.name(self.copies[x])
        return e


def full_sums(node, der: Derivative) -> None:
    """``np.sum(e)`` becomes ``np.add.reduce(e, None)``: the same reduction (NumPy's ``sum``
    calls it) without ``sum``'s dispatch, about 2 µs less per call; NumPy arguments only."""
    np_name = der.refs.name_of(np)

    class Rewrite(S.Transformer):
        def visit_Lambda(self, e):
            return e  # the user's own functions stay as written (sourcegrad may differentiate them)

        def visit_FunctionDef(self, e):
            return e if e is not node else self.generic_visit(e)

        def visit_Call(self, e):
            self.generic_visit(e)
            if np_call(e, np_name, "sum", 1) and not isinstance(e.args[0], gast.Starred):
                add = gast.Attribute(value=S.name(np_name), attr="add", ctx=gast.Load())
                reduce = gast.Attribute(value=add, attr="reduce", ctx=gast.Load())
                return S.call(reduce, [e.args[0], S.const(None)])
            return e

    if np_name is not None:
        Rewrite().visit(node)


def sums_of_products(node, der: Derivative, shapes: dict, dtypes: dict) -> None:
    """With shapes known, a full sum of a product of two same-shape float64 arrays (or of a
    square) in the adjoint code is ``np.vdot``: no array is made for the product
    (``np.sum(y * log_p)``, ``np.sum((h - y) ** 2)``). The forward code keeps the user's sum:
    BLAS adds in another order, and the value returned is Python's bit for bit. A product assigned by the statement right before, read only
    here, counts as written inline. Only float64: BLAS sums float32 in float32 with fewer
    partial sums than NumPy's pairwise summation. Sums of sums are not split (a sum of a
    difference of nearly equal arrays would lose its digits)."""
    np_name = der.refs.name_of(np)
    if np_name is None:
        return
    uses = load_counts(node.body)
    sums = _Vdots(np_name, shapes, {v: k for k, v in der.adj_names.items()}, dtypes)
    adjoint = adjoint_nodes(node.body)
    for block in list(S.blocks(node.body)):
        for k, stmt in enumerate(block):
            if not isinstance(stmt, (gast.Assign, gast.Return)) or id(stmt) not in adjoint:
                continue
            before = block[k - 1] if k else None
            sums.inline = {}
            if (
                isinstance(before, gast.Assign)
                and isinstance(before.targets[0], gast.Name)
                and uses.get(before.targets[0].id) == 1
                and isinstance(before.value, gast.BinOp)
            ):
                sums.inline[before.targets[0].id] = before
            sums.visit(stmt)
        block[:] = [s for s in block if not get_fact(s, "dead", False)]


class _Vdots(S.Transformer):
    """Full sums of products as ``np.vdot`` (see :func:`sums_of_products`); ``inline``: name
    -> the statement right before, whose product a sum of the name reads as written there."""

    def __init__(self, np_name, shapes: dict, adj_of: dict, dtypes: dict):
        self.np_name, self.shapes, self.adj_of, self.dtypes = np_name, shapes, adj_of, dtypes
        self.inline: dict = {}

    def float64(self, e) -> bool:
        dt = expression_dtype(e, self.dtypes, self.np_name)
        return dt is not None and dt == np.float64

    def total(self, e):
        """``np.add.reduce(e, None)`` as ``np.vdot``, or None."""
        if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
            inner = self.total(e.operand)
            return None if inner is None else gast.UnaryOp(op=gast.USub(), operand=inner)
        if (
            isinstance(e, gast.BinOp)
            and isinstance(e.op, gast.Pow)
            and isinstance(e.right, gast.Constant)
            and type(e.right.value) in (int, float)
            and e.right.value == 2
            and isinstance(e.left, gast.Name)
        ):
            e = gast.BinOp(left=e.left, op=gast.Mult(), right=S.name(e.left.id))  # x ** 2
        if isinstance(e, gast.BinOp) and isinstance(e.op, gast.Mult):
            sl = expression_shape(e.left, self.shapes, self.adj_of, self.np_name)
            sr = expression_shape(e.right, self.shapes, self.adj_of, self.np_name)
            if (
                sl is not None
                and sl == sr
                and len(sl) >= 1
                and self.float64(e.left)
                and self.float64(e.right)
            ):
                f = gast.Attribute(value=S.name(self.np_name), attr="vdot", ctx=gast.Load())
                return S.call(f, [e.left, e.right])
        return None

    def visit_Call(self, e):
        self.generic_visit(e)
        if not (np_call(e, self.np_name, "sum", 1) or reduce_all_call(e, self.np_name)):
            return e
        arg = e.args[0]
        source = self.inline.get(getattr(arg, "id", None))
        got = self.total(source.value if source is not None else arg)
        if got is None:
            return e
        if source is not None:
            set_fact(source, "dead", True)
        return got


def dots(node, der: Derivative) -> None:
    """``a @ b`` of vectors and matrices (by rank) becomes ``np.dot(a, b)``: the same product,
    without ``matmul``'s slow path for outer products at batch 1."""
    ranks = der.analysis.ranks
    primal_of = {v: k for k, v in der.adj_names.items()}

    def rank(e):
        if isinstance(e, gast.Name):
            return ranks.get(primal_of.get(e.id, e.id))
        if isinstance(e, gast.Attribute) and e.attr == "T":
            return rank(e.value)
        if der.refs.is_call_of(e, sum_to):
            return rank(e.args[1])  # reduced to the shape of its second argument
        return None

    class Rewrite(S.Transformer):
        def visit_BinOp(self, e):
            self.generic_visit(e)
            if (
                isinstance(e.op, gast.MatMult)
                and rank(e.left) in (1, 2)
                and rank(e.right)
                in (
                    1,
                    2,
                )
            ):
                dot = gast.Attribute(
                    value=S.name(der.refs.ref(np, "np")), attr="dot", ctx=gast.Load()
                )
                return S.call(dot, [e.left, e.right])
            return e

    Rewrite().visit(node)
