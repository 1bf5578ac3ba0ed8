"""``np.convolve`` and ``np.correlate`` of two 1-D arrays, every ``mode``: the reverse rule
and the tangent rule of each. Both are bilinear: the tangent is the same call on each
operand's tangent, the adjoint of an operand a correlation of the result's adjoint with the
other operand (``runtime/convolution_helpers.py``); ``np.correlate(a, v)`` is
``np.convolve(a, v[::-1])`` for real arrays."""

import numpy as np

from ..runtime.convolution_helpers import unconvolve
from .facts import constant_rank, declare
from .registry import adjoint, d, tangent


@adjoint(np.convolve)
def _convolve(z, a, v, mode="full"):
    d[a] += unconvolve(d[z], v, np.shape(a)[0], mode)
    d[v] += unconvolve(d[z], a, np.shape(v)[0], mode)


@tangent(np.convolve)
def _convolve_tangent(z, a, v, mode="full"):
    d[z] += np.convolve(d[a], v, mode)
    d[z] += np.convolve(a, d[v], mode)


@adjoint(np.correlate)
def _correlate(z, a, v, mode="valid"):
    d[a] += unconvolve(d[z], v[::-1], np.shape(a)[0], mode)
    d[v] += unconvolve(d[z], a, np.shape(v)[0], mode)[::-1]


@tangent(np.correlate)
def _correlate_tangent(z, a, v, mode="valid"):
    d[z] += np.correlate(d[a], v, mode)
    d[z] += np.correlate(a, d[v], mode)


declare(np.convolve, np.correlate, rank=constant_rank(1), allocates="new")
