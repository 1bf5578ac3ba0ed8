"""``np.median``, ``np.quantile`` and ``np.percentile`` (NumPy's default method, linear
interpolation; ``axis`` and ``keepdims``): the reverse rule and the tangent rule of each. The
result is a weighted sum of two order statistics of ``a``, so both rules put the weights on the
elements that hold them (``runtime/quantile_helpers.py``); ``q`` is a constant (a probability
level is not differentiated). Other methods (``method=``) have no rule and are refused."""

import numpy as np

from ..runtime.quantile_helpers import quantile_tangent, unquantile
from .facts import declare
from .registry import adjoint, d, tangent


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
