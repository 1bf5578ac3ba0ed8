"""``np.einsum`` products of the forward sweep that are one multiplication per entry run as
:func:`~sourcegrad.runtime.products.einsum_product`: the same bits as einsum's (it decides
from the operands when it runs, and calls einsum itself where an entry sums more than one
product), a third of the time on small operands (the nine shifted products of a
one-channel 3x3 convolution written as a loop of ``np.einsum``). Only where the argument
shapes show every summed letter of length 1."""

from __future__ import annotations

import math

import gast

from ...runtime.products import einsum_product, one_product_plan
from .. import syntax as S
from ..forms import Derivative
from ..node_facts import get_fact
from ..walk import definition_counts, load_counts
from .common import np_call
from .expression_shapes import known_shape
from .products import adjoint_nodes


def einsum_products(node, der: Derivative, shapes: dict, kinds: dict, np_name: str | None) -> None:
    """Each ``np.einsum("...", a, b)`` of the forward sweep of ``node`` (a literal
    specification, two operands, no keywords; not one a rewrite may reorder, which runs
    through BLAS) whose operands' ``shapes`` make every entry one product becomes
    ``einsum_product("...", a, b)``; and a sum ``p = q + t`` of such a product ``t`` that
    nothing else reads, of ``p``'s shape and dtype (``kinds``), is computed in ``t``'s
    array (the loop's running sum: ``np.add(q, t, out=t)``)."""
    if np_name is None:
        return
    adj_of = {v: k for k, v in der.adj_names.items()}
    made: dict = {}

    def one_product(e) -> bool:
        found = [_shape(x, shapes, adj_of, np_name) for x in e.args[1:]]
        if not all(isinstance(s, tuple) and all(type(n) is int for n in s) for s in found):
            return False
        plan = one_product_plan(e.args[0].value, *found)
        if plan is not None:
            made[id(e.args[0])] = plan[2]  # the product's shape, by its specification node
        return plan is not None

    adjoint = adjoint_nodes(node.body)
    helper = []

    class Rewrite(gast.NodeTransformer):
        def visit_Call(self, e):
            self.generic_visit(e)
            if (
                np_call(e, np_name, "einsum", 3)
                and id(e) not in adjoint
                and not get_fact(e, "reordered", False)
                and isinstance(e.args[0], gast.Constant)
                and isinstance(e.args[0].value, str)
                and one_product(e)
            ):
                if not helper:
                    helper.append(der.refs.helper(einsum_product))
                return S.call(S.name(helper[0]), e.args)
            return e

    Rewrite().visit(node)
    if helper:
        _sums_in_place(node.body, made, shapes, kinds, np_name)


def _sums_in_place(body, made: dict, shapes: dict, kinds: dict, np_name: str) -> None:
    """``p = q + t`` as ``np.add(q, t, out=t)`` where ``t`` is a product of ``made`` (its
    specification node's id -> its shape) read nowhere else, ``q`` a number or of ``t``'s
    shape, and ``p`` of ``t``'s dtype. Where ``q`` is never ``-0.0`` (a constant other than
    ``-0.0``, or such a sum itself: ``0.0 + t1 + t2 + ...``, the loop's running sum), so is
    ``p``, and ``t``'s product is made with ``negative_zeros=True``: a zero's sign in ``t``
    then changes no bit of ``p`` (in round-to-nearest, ``x + y`` is ``-0.0`` only where both
    are), and einsum's ``+ 0.0`` pass over the product is left out."""
    sized, products = dict(shapes), {}
    for stmt in body:
        v = stmt.value if isinstance(stmt, gast.Assign) else None
        if isinstance(v, gast.Call) and v.args and id(v.args[0]) in made:
            if isinstance(stmt.targets[0], gast.Name):
                sized[stmt.targets[0].id] = made[id(v.args[0])]
                products[stmt.targets[0].id] = v
    reads, counts = load_counts(body), definition_counts(body)
    signless: set = set()  # the sums made here that are never -0.0
    for stmt in body:
        v = stmt.value if isinstance(stmt, gast.Assign) else None
        if not (
            isinstance(v, gast.BinOp)
            and isinstance(v.op, gast.Add)
            and isinstance(v.right, gast.Name)
            and isinstance(stmt.targets[0], gast.Name)
            and isinstance(v.left, (gast.Name, gast.Constant))
        ):
            continue
        p, t = stmt.targets[0].id, v.right.id
        if t not in sized or t in shapes or reads.get(t) != 1 or counts.get(t) != 1:
            continue  # (t in shapes: a name of the user's, not a product this made)
        q = sized.get(v.left.id) if isinstance(v.left, gast.Name) else ()
        if q != sized[t] and not (q == () and isinstance(v.left, gast.Constant)):
            continue
        if kinds.get(p) is None or kinds.get(p) != kinds.get(t):
            continue
        sized[p] = sized[t]
        stmt.value = S.call(S.attr_chain(f"{np_name}.add"), [v.left, S.name(t)], {"out": S.name(t)})
        if _never_negative_zero(v.left, signless, counts) and t in products:
            products[t].keywords.append(gast.keyword("negative_zeros", S.const(True)))
            signless.add(p)


def _never_negative_zero(e, signless: set, counts: dict) -> bool:
    """Whether ``e`` (a constant or a name) is surely not ``-0.0``: a real constant other than
    ``-0.0``, or a name assigned once, by one of the sums of ``signless``."""
    if isinstance(e, gast.Constant):
        v = e.value
        return type(v) in (int, float) and not (v == 0 and math.copysign(1.0, v) < 0)
    return e.id in signless and counts.get(e.id) == 1


def _shape(e, shapes: dict, adj_of: dict, np_name: str):
    """The shape of ``e``: :func:`known_shape`'s, or for ``K[0, 1]`` (a name indexed by
    integer constants) the name's shape past the indexed axes."""
    if isinstance(e, gast.Subscript) and isinstance(e.value, gast.Name):
        index = e.slice.elts if isinstance(e.slice, gast.Tuple) else [e.slice]
        base = shapes.get(e.value.id)
        if (
            isinstance(base, tuple)
            and len(index) <= len(base)
            and all(isinstance(i, gast.Constant) and type(i.value) is int for i in index)
        ):
            return base[len(index) :]
    return known_shape(e, shapes, adj_of, np_name)
