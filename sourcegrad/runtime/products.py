"""Derivatives of ``np.prod``, exact where entries are zero.

The derivative of ``z = prod(a)`` with respect to ``a_i`` is the product of the *other*
entries. ``z / a_i`` computes it only where no entry is zero (NaN at a zero); where one is,
the products of the others come from the count of zeros along the reduced axes and the
product of the nonzero entries, which gives them exactly (products, no division by a zero).
Which way is decided when the derivative runs, once per call, from the products themselves
(a product is zero where an entry is): arrays without zeros keep the one division.

:func:`prod_others` with a direction ``t`` is the derivative of the products of the others
along ``t`` (the second derivative of ``prod``), exact at zeros as well; the third derivative
(:func:`prod_others_curvature`) is exact away from zeros and refused at them.

:func:`einsum_product` is ``np.einsum`` of two operands where each output entry is one
product: the same bits, from one multiplication per entry instead of einsum's loops.
"""

from __future__ import annotations

import numpy as np

from ..errors import SourcegradError
from .facts import helper
from .helpers import expand_to, unreduce

__all__ = [
    "unprod",
    "prod_others",
    "prod_others_curvature",
    "refuse_prod_order",
    "einsum_product",
]


def _axes(a, axis) -> tuple:
    nd = np.ndim(a)
    if axis is None:
        return tuple(range(nd))
    return tuple(sorted(i % nd for i in (axis if isinstance(axis, tuple) else (axis,))))


def _flat(a, axes: tuple):
    """``a`` with the axes ``axes`` moved last and merged into one; and the function that
    puts an array of that layout back into ``a``'s."""
    kept = [i for i in range(np.ndim(a)) if i not in axes]
    order = kept + list(axes)
    moved = np.transpose(a, order)
    flat = np.reshape(moved, moved.shape[: len(kept)] + (-1,))

    def back(y):
        return np.transpose(np.reshape(y, moved.shape), np.argsort(order))

    return flat, back


@helper(tangent_rule=True, like="a")
def unprod(g, a, z, axis=None, keepdims=False, t=None):
    """The adjoint of ``a`` from the adjoint ``g`` of ``z = np.prod(a, axis, keepdims=...)``:
    ``g`` broadcast back to ``a``'s shape times :func:`prod_others` (with ``t``: times its
    derivative along ``t``). Where no entry is zero, ``g * z / a`` with one division."""
    if t is None and np.all(z != 0):
        return expand_to(g * z, a, axis, keepdims) / a
    return unreduce(g, a, axis, keepdims) * prod_others(a, z, axis, keepdims, t)


@helper(tangent_rule=True, like="a")
def prod_others(a, z, axis=None, keepdims=False, t=None):
    """For ``z = np.prod(a, axis, keepdims=keepdims)``: at each entry ``a_i``, the product of
    the other entries of its reduction (``t`` None), or that product's derivative along the
    direction ``t`` (shaped like ``a``): ``sum_{j != i} t_j prod_{k != i, j} a_k``. Exact
    where entries are zero."""
    a = np.asarray(a)
    if np.all(z != 0):  # no entry is zero (a product of zero or underflow: the exact way)
        others = expand_to(z, a, axis, keepdims) / a
        if t is None:
            return others
        u = t / a
        return others * (np.sum(u, _axes(a, axis), keepdims=True) - u)
    flat, back = _flat(a, _axes(a, axis))
    zero = flat == 0
    nz = np.sum(zero, -1, keepdims=True)
    safe = np.where(zero, 1, flat)
    p = np.prod(safe, -1, keepdims=True)  # the product of the nonzero entries
    if t is None:
        return back(np.where(nz == 0, p / safe, np.where(zero & (nz == 1), p, 0 * p)))
    tf, _ = _flat(np.broadcast_to(t, a.shape), _axes(a, axis))
    u = tf / safe
    s = np.sum(np.where(zero, 0, u), -1, keepdims=True)  # over the nonzero entries
    t0 = np.sum(np.where(zero, tf, 0), -1, keepdims=True)  # over the zero entries
    out = np.select(
        [nz == 0, nz == 1, nz == 2],
        [
            p / safe * (s - u),
            np.where(zero, p * s, t0 * p / safe),
            np.where(zero, p * (t0 - tf), 0),
        ],
        0 * u,
    )
    return back(out)


@helper(tangent_rule=True, like="a")
def prod_others_curvature(a, z, axis, keepdims, t, s):
    """The derivative of ``prod_others(a, z, axis, keepdims, t)`` along ``s`` (the third
    derivative of ``np.prod``): ``sum_{j != l, both != i} t_j s_l prod_{k != i, j, l} a_k``.
    Refused where an entry is zero."""
    a = np.asarray(a)
    if not np.all(z != 0):
        refuse_prod_order(a)
    axes = _axes(a, axis)
    others = expand_to(z, a, axis, keepdims) / a
    u, v = t / a, s / a
    su, sv = np.sum(u, axes, keepdims=True), np.sum(v, axes, keepdims=True)
    return others * ((su - u) * (sv - v) - (np.sum(u * v, axes, keepdims=True) - u * v))


@helper(constant=True)
def refuse_prod_order(a):
    """Refuse a derivative of ``np.prod`` that sourcegrad does not compute exactly."""
    raise SourcegradError(
        "the third and higher derivatives of np.prod are computed only where no entry is zero "
        "(and the fourth not at all); write the product out as multiplications for these"
    )


#: (subscripts, shape of a, shape of b) -> one_product_plan's answer, for the last few
_PLANS: dict = {}


@helper(linear=("a", "b"))  # (allocates nothing declared: taken as np.einsum, a view maybe)
def einsum_product(subscripts, a, b, negative_zeros=False):
    """``np.einsum(subscripts, a, b)``, bit for bit. Where every letter summed over has length
    1 (``"nchw,co->nhwo"`` of one channel) and both operands are NumPy arrays of real floats,
    each entry of the result is one product, which einsum adds to a zero: computed here as
    ``a * b + 0.0`` (a column times a row through BLAS where the output's letters are one
    operand's then the other's, else over views of the operands), into a C-ordered array
    like einsum's. Otherwise ``np.einsum`` itself. With ``negative_zeros`` the ``+ 0.0`` is
    left out: a zero product may stay ``-0.0`` (for a caller adding the result to a value
    that is never ``-0.0``, where a zero's sign makes no difference)."""
    plan = None
    if type(a) is np.ndarray and type(b) is np.ndarray and a.dtype.kind == b.dtype.kind == "f":
        key = (subscripts, a.shape, b.shape)
        plan = _PLANS.get(key, False)
        if plan is False:
            if len(_PLANS) >= 256:
                _PLANS.clear()
            plan = _PLANS[key] = one_product_plan(subscripts, a.shape, b.shape)
    if plan is None:
        return np.einsum(subscripts, a, b)
    (index_a, perm_a, new_a), (index_b, perm_b, new_b), shape, outer = plan
    if outer:  # out = (a's letters, b's letters): a column times a row, through BLAS
        first, second = (a[index_a], b[index_b]) if outer == 1 else (b[index_b], a[index_a])
        out = np.dot(np.reshape(first, (-1, 1)), np.reshape(second, (1, -1)))
        out = out.reshape(shape)
    else:
        va = np.expand_dims(a[index_a].transpose(perm_a), new_a)
        vb = np.expand_dims(b[index_b].transpose(perm_b), new_b)
        out = np.empty(shape, np.result_type(a, b))
        np.multiply(va, vb, out=out)
    if negative_zeros:
        return out
    return np.add(out, 0.0, out=out)  # einsum's 0 + a * b: a zero is +0.0


def one_product_plan(subscripts: str, shape_a: tuple, shape_b: tuple):
    """For :func:`einsum_product`: each operand's ``(index, perm, new axes)`` (its summed
    axes taken at 0, the others put in the output's order, the output's other axes added),
    the output's shape, and 1 where the output's letters are ``a``'s then ``b``'s (2: ``b``'s
    then ``a``'s; else 0); None where an output entry is not one product, or for ``...``, a
    repeated letter, an implicit output or lengths that differ (broadcast)."""
    if "..." in subscripts or "->" not in subscripts or subscripts.count(",") != 1:
        return None
    ins, out = subscripts.replace(" ", "").split("->")
    terms = ins.split(",")
    if any(len(set(t)) != len(t) for t in (*terms, out)):
        return None
    lengths: dict = {}
    for term, shape in zip(terms, (shape_a, shape_b)):
        if len(term) != len(shape):
            return None
        for c, n in zip(term, shape):
            if lengths.setdefault(c, n) != n:
                return None
    if any(c not in lengths for c in out):
        return None
    if any(n != 1 for c, n in lengths.items() if c not in out):
        return None
    views = []
    for term in terms:
        index = tuple(0 if c not in out else slice(None) for c in term)
        kept = [c for c in term if c in out]
        perm = tuple(sorted(range(len(kept)), key=lambda i, kept=kept: out.index(kept[i])))
        views.append((index, perm, tuple(i for i, c in enumerate(out) if c not in kept)))
    kept = ["".join(c for c in t if c in out) for t in terms]
    outer = 1 if out == kept[0] + kept[1] else 2 if out == kept[1] + kept[0] else 0
    if not (kept[0] and kept[1]):
        outer = 0  # (a scalar factor: the elementwise way)
    return views[0], views[1], tuple(lengths[c] for c in out), outer
