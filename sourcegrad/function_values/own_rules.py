"""The derivative rules of :func:`~sourcegrad.function_values.vjp_of` and
:func:`~sourcegrad.function_values.jvp_of` themselves, registered when the package is imported.
"""

from __future__ import annotations

from ..rules import adjoint, d, tangent
from . import jvp_of, vjp_of


# A derivative that calls `vjp_of(layer, "self")` is itself differentiated (a Hessian-vector
# product) with the layer object varying: the derivative function made holds the layer, so
# its tangent is the layer's, read by `jvp_of` of it as its receiver's.
@adjoint(vjp_of)
def _vjp_of(z, fn, wrt, keywords=()):
    d[fn] += d[z]


@tangent(vjp_of)
def _vjp_of_tangent(z, fn, wrt, keywords=()):
    d[z] += d[fn]


@adjoint(jvp_of)
def _jvp_of(z, fn, wrt, keywords=()):
    d[fn] += d[z]


@tangent(jvp_of)
def _jvp_of_tangent(z, fn, wrt, keywords=()):
    d[z] += d[fn]
