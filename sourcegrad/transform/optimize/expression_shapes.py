"""Shapes of the running derivative's expressions, past those
:func:`~sourcegrad.transform.shapes.expression_shape` knows: batched products, swapped axes,
``np.where`` and NumPy reductions with keywords, at any depth of arithmetic (the adjoints of
attention: ``do_1 @ np.swapaxes(v, -1, -2)``, ``ds_6 + (-ds_6).sum(axis=(3,), keepdims=True)
* hit_1 / np.sum(hit_1, -1, keepdims=True, dtype=s_5.dtype)``)."""

from __future__ import annotations

import gast
import numpy as np

from ...rules.facts import numpy_names, product_shape, reduced_shape
from .. import syntax as S
from ..shapes import broadcast, expression_shape

#: NumPy's reductions taking ``axis`` and ``keepdims``, by name
_REDUCTIONS = numpy_names(dtype="reduced")


def known_shape(e, shapes: dict, adj_of: dict, np_name: str | None):
    """The shape of the derivative expression ``e`` (an adjoint has its value's shape), or
    None where unknown: what :func:`~sourcegrad.transform.shapes.expression_shape` gives, and
    besides products (``@``), ``np.swapaxes`` with constant axes, ``np.where`` of three
    operands and ``np.sum``-like reductions with constant ``axis`` and ``keepdims``, inside
    elementwise arithmetic too."""

    def shape(x):
        return known_shape(x, shapes, adj_of, np_name)

    if isinstance(e, gast.BinOp):
        if isinstance(e.op, gast.MatMult):
            return product_shape(np.matmul, shape(e.left), shape(e.right))
        return broadcast(shape(e.left), shape(e.right))
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, (gast.USub, gast.UAdd)):
        return shape(e.operand)
    f = numpy_function(e, np_name)
    if f == "swapaxes" and len(e.args) == 3 and not e.keywords:
        return _swapped(shape(e.args[0]), e.args[1], e.args[2])
    if f == "where" and len(e.args) == 3 and not e.keywords:
        return broadcast(*(shape(a) for a in e.args))
    if f in _REDUCTIONS and e.args:
        kw = {k.arg: k.value for k in e.keywords}
        if (
            len(e.args) <= 2
            and set(kw) <= {"axis", "keepdims", "dtype"}
            and not (len(e.args) == 2 and "axis" in kw)
        ):
            axis = e.args[1] if len(e.args) == 2 else kw.get("axis", S.const(None))
            return reduced_shape(shape(e.args[0]), axis, kw.get("keepdims"))
    if _summed_method(e, np_name):  # (-da * a / a_1).sum(axis=(3,), keepdims=True)
        kw = {k.arg: k.value for k in e.keywords}
        return reduced_shape(shape(e.func.value), kw.get("axis"), kw.get("keepdims"))
    return expression_shape(e, shapes, adj_of, np_name)


def _summed_method(e, np_name) -> bool:
    """Whether ``e`` is ``x.sum(axis=.., keepdims=..)`` of an array expression ``x``."""
    return (
        isinstance(e, gast.Call)
        and isinstance(e.func, gast.Attribute)
        and e.func.attr == "sum"
        and not e.args
        and {k.arg for k in e.keywords} <= {"axis", "keepdims"}
        and not (isinstance(e.func.value, gast.Name) and e.func.value.id == np_name)
    )


def numpy_function(e, np_name):
    """``f`` for a call ``np.f(...)``, else None."""
    if not (isinstance(e, gast.Call) and isinstance(e.func, gast.Attribute)):
        return None
    return e.func.attr if np_name is not None and S.dotted(e.func.value) == np_name else None


def _swapped(shape, i, j):
    """``shape`` with the constant axes ``i`` and ``j`` swapped, or None."""
    if shape is None or not all(
        isinstance(a, gast.Constant)
        and type(a.value) is int
        and -len(shape) <= a.value < len(shape)
        for a in (i, j)
    ):
        return None
    out = list(shape)
    a, b = i.value % len(shape), j.value % len(shape)
    out[a], out[b] = out[b], out[a]
    return tuple(out)
