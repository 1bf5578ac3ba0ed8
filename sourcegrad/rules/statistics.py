"""Statistics: the reverse rule and the tangent rule of each.

* ``np.median``, ``np.quantile`` and ``np.percentile`` (NumPy's default method, linear
  interpolation; ``axis`` and ``keepdims``): the result is a weighted sum of two order
  statistics of ``a``, so both rules put the weights on the elements that hold them
  (``runtime/statistics_helpers.py``); ``q`` is a constant (a probability level is not
  differentiated). Other methods (``method=``) have no rule and are refused.
* ``np.average`` (``weights`` of ``a``'s shape or 1-D along ``axis``; ``returned=`` is
  refused), ``np.nansum`` and ``np.nanmean`` (a NaN counts for nothing).
"""

import numpy as np

from ..runtime.helpers import expand_to, unreduce
from ..runtime.statistics_helpers import (
    present,
    quantile_tangent,
    unquantile,
    unweights,
    weights_like,
)
from .facts import declare
from .registry import adjoint, d, not_differentiated, static, tangent


@adjoint(np.quantile)
def _quantile(z, a, q, axis=None, out=None, overwrite_input=False, keepdims=False):
    d[a] += unquantile(d[z], a, q, axis, keepdims)


@tangent(np.quantile)
def _quantile_tangent(z, a, q, axis=None, out=None, overwrite_input=False, keepdims=False):
    d[z] += quantile_tangent(d[a], a, q, axis, keepdims)


@adjoint(np.percentile)
def _percentile(z, a, q, axis=None, out=None, overwrite_input=False, keepdims=False):
    d[a] += unquantile(d[z], a, np.asarray(q) / 100.0, axis, keepdims)


@tangent(np.percentile)
def _percentile_tangent(z, a, q, axis=None, out=None, overwrite_input=False, keepdims=False):
    d[z] += quantile_tangent(d[a], a, np.asarray(q) / 100.0, axis, keepdims)


@adjoint(np.median)
def _median(z, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    d[a] += unquantile(d[z], a, 0.5, axis, keepdims)


@tangent(np.median)
def _median_tangent(z, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    d[z] += quantile_tangent(d[a], a, 0.5, axis, keepdims)


declare(np.quantile, np.percentile, np.median, allocates="new")


@adjoint(np.average)
def _average(z, a, axis=None, weights=None, keepdims=False):
    if static(weights is None):
        d[a] += unreduce(d[z] * (np.size(z) / np.size(a)), a, axis, keepdims)
    else:
        w = weights_like(weights, a, axis)
        total = np.sum(w * np.ones_like(a), axis=axis, keepdims=True)
        g = expand_to(d[z], a, axis, keepdims) / total
        d[a] += g * w
        d[weights] += unweights(g * (a - expand_to(z, a, axis, keepdims)), weights, a, axis)


@tangent(np.average)
def _average_tangent(z, a, axis=None, weights=None, keepdims=False):
    if static(weights is None):
        d[z] += np.mean(d[a], axis, keepdims=keepdims)
    else:
        d[z] += np.average(d[a], axis, weights, keepdims=keepdims)
        d[z] += np.sum(
            (a - expand_to(z, a, axis, keepdims)) * weights_like(d[weights], a, axis),
            axis=axis,
            keepdims=keepdims,
        ) / np.sum(weights_like(weights, a, axis) * np.ones_like(a), axis=axis, keepdims=keepdims)


@adjoint(np.nansum)
def _nansum(z, a, axis=None, dtype=None, out=None, keepdims=False):
    d[a] += unreduce(d[z], a, axis, keepdims) * present(a)


@tangent(np.nansum)
def _nansum_tangent(z, a, axis=None, dtype=None, out=None, keepdims=False):
    d[z] += np.sum(d[a] * present(a), axis, keepdims=keepdims)


@adjoint(np.nanmean)
def _nanmean(z, a, axis=None, dtype=None, out=None, keepdims=False):
    d[a] += (
        unreduce(d[z], a, axis, keepdims)
        * present(a)
        / np.sum(present(a), axis=axis, keepdims=True)
    )


@tangent(np.nanmean)
def _nanmean_tangent(z, a, axis=None, dtype=None, out=None, keepdims=False):
    d[z] += np.sum(d[a] * present(a), axis, keepdims=keepdims) / np.sum(
        present(a), axis, keepdims=keepdims
    )


declare(np.average, np.nansum, np.nanmean, allocates="new")


for _f in (np.quantile, np.percentile):
    not_differentiated(_f, "a probability level", "q")
