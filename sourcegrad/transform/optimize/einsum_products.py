"""``np.einsum`` products of the forward sweep that are one multiplication per entry run as
:func:`~sourcegrad.runtime.products.einsum_product`: the same bits as einsum's (it decides
from the operands when it runs, and calls einsum itself where an entry sums more than one
product), a third of the time on small operands (the nine shifted products of a
one-channel 3x3 convolution written as a loop of ``np.einsum``). Only where the argument
shapes show every summed letter of length 1."""

from __future__ import annotations

import gast

from ...runtime.products import einsum_product, one_product_plan
from .. import syntax as S
from ..forms import Derivative
from ..node_facts import get_fact
from .common import np_call
from .expression_shapes import known_shape
from .products import adjoint_nodes


def einsum_products(node, der: Derivative, shapes: dict, np_name: str | None) -> None:
    """Each ``np.einsum("...", a, b)`` of the forward sweep of ``node`` (a literal
    specification, two operands, no keywords; not one a rewrite may reorder, which runs
    through BLAS) whose operands' ``shapes`` make every entry one product becomes
    ``einsum_product("...", a, b)``."""
    if np_name is None:
        return
    adj_of = {v: k for k, v in der.adj_names.items()}

    def one_product(e) -> bool:
        found = [_shape(x, shapes, adj_of, np_name) for x in e.args[1:]]
        if not all(isinstance(s, tuple) and all(type(n) is int for n in s) for s in found):
            return False
        return one_product_plan(e.args[0].value, *found) is not None

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
