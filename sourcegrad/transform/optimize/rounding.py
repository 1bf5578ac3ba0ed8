"""Rewrites that change values by rounding, made only under the option ``exact=False``.

By default the running derivative returns ``f``'s value bit for bit, so its forward sweep
computes each operation as the user wrote it. With ``exact=False`` the user allows the
running code (not the shown code, not the first call's rank build) to compute values in
another order of rounding:

* an integer power ``x ** k`` of a floating point ``x`` (``k`` among :data:`POWERS`, written
  as a constant, or ``np.power(x, k)``) runs as products: ``x ** 3`` as ``x * x * x``,
  ``x ** -2`` as ``1.0 / (x * x)``. NumPy computes a general power with ``pow`` (30-90x the
  time of two multiplications on a large array); the products round once per multiplication,
  so the result differs from ``pow``'s by a few units in the last place;
* ``np.einsum`` of two operands in the forward sweep runs through BLAS
  (:func:`~sourcegrad.runtime.linalg_helpers.contract`, by the ``reordered`` fact that the
  ``contractions`` rewrite reads), which sums in its own order; the forward sum of a loop of
  products fused into one contraction (:mod:`.fuse`) is not re-expanded into the loop's order
  (the pipeline leaves out ``Fusion.keep_loop_sums``).

Nothing here changes which values are computed, where NaN or infinity appear (a power of zero,
infinity or NaN gives the same special value as its products), or a dtype.
"""

from __future__ import annotations

import gast
import numpy as np

from .. import syntax as S
from ..node_facts import set_fact
from .products import adjoint_nodes

#: the integer exponents written as products (``x ** 2`` NumPy itself runs as a square)
POWERS = frozenset({3, 4, -1, -2, -3, -4})


def integer_powers(body, kinds: dict, np_name: str | None) -> None:
    """Each ``x ** k`` and ``np.power(x, k)`` (no other argument) in ``body`` with ``x`` a name
    of a floating point or complex dtype (as ``kinds`` knows it: an ``np.dtype`` or
    ``float``/``complex``) and ``k`` an integral constant of :data:`POWERS`, rewritten as
    products (a negative ``k``: ``1.0`` divided by the product). Equal up to rounding."""

    class Rewrite(gast.NodeTransformer):
        def visit_BinOp(self, e):
            self.generic_visit(e)
            if isinstance(e.op, gast.Pow):
                return _as_products(e.left, e.right, kinds) or e
            return e

        def visit_Call(self, e):
            self.generic_visit(e)
            if (
                np_name is not None
                and S.dotted(e.func) == f"{np_name}.power"
                and len(e.args) == 2
                and not e.keywords
            ):
                return _as_products(e.args[0], e.args[1], kinds) or e
            return e

    for stmt in body:
        Rewrite().visit(stmt)


def blas_forward_products(node, np_name: str | None) -> None:
    """Every ``np.einsum`` call of the forward sweep of ``node`` marked ``reordered``: the
    ``contractions`` rewrite then runs it through BLAS, as it runs the adjoint's."""
    if np_name is None:
        return
    adjoint = adjoint_nodes(node.body)
    for n in S.walk(node):
        if (
            isinstance(n, gast.Call)
            and id(n) not in adjoint
            and S.dotted(n.func) == f"{np_name}.einsum"
        ):
            set_fact(n, "reordered", True)


def _exponent(k) -> int | None:
    """The exponent ``k`` (a node) as an int of :data:`POWERS`, or None."""
    if isinstance(k, gast.UnaryOp) and isinstance(k.op, gast.USub):
        inner = _exponent_value(k.operand)
        value = None if inner is None else -inner
    else:
        value = _exponent_value(k)
    return value if value in POWERS else None


def _exponent_value(k):
    if not isinstance(k, gast.Constant) or isinstance(k.value, bool):
        return None
    v = k.value
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 8):
        return int(v)
    return None


def _floating(x, kinds: dict) -> bool:
    """Whether ``x`` is a name of a floating point or complex kind."""
    if not isinstance(x, gast.Name):
        return False
    kind = kinds.get(x.id)
    if kind in (float, complex):
        return True
    return isinstance(kind, np.dtype) and kind.kind in "fc"


def _as_products(base, exponent, kinds: dict):
    """``base ** exponent`` as products where :func:`integer_powers` allows it, else None."""
    k = _exponent(exponent)
    if k is None or not _floating(base, kinds):
        return None
    product = S.name(base.id)
    for _ in range(abs(k) - 1):
        product = gast.BinOp(left=product, op=gast.Mult(), right=S.name(base.id))
    if k < 0:
        return gast.BinOp(left=S.const(1.0), op=gast.Div(), right=product)
    return product
