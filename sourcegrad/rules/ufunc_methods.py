"""The reductions and accumulations of NumPy's ufuncs called as methods (``np.add.reduce``,
``np.maximum.reduce``, ``np.logaddexp.reduce``, ``np.add.accumulate``, ...): the reverse rule
and the tangent rule of each, as those of the NumPy function each equals (``np.sum``,
``np.max``, a log-sum-exp, ``np.cumsum``, ...), with the methods' own default ``axis=0``."""

import numpy as np

from ..runtime.helpers import (
    accumulate_extreme_tangent,
    expand_to,
    unaccumulate_extreme,
    unreduce,
)
from ..runtime.products import prod_others, unprod
from .facts import declare
from .registry import adjoint, d, static, tangent


@adjoint(np.add.reduce)
def _add_reduce(z, a, axis=0, dtype=None, out=None, keepdims=False):
    d[a] += unreduce(d[z], a, axis, keepdims)


@tangent(np.add.reduce)
def _add_reduce_tangent(z, a, axis=0, dtype=None, out=None, keepdims=False):
    d[z] += np.add.reduce(d[a], axis, keepdims=keepdims)


@adjoint(np.multiply.reduce)
def _multiply_reduce(z, a, axis=0, dtype=None, out=None, keepdims=False):
    d[a] += unprod(d[z], a, z, axis, keepdims)


@tangent(np.multiply.reduce)
def _multiply_reduce_tangent(z, a, axis=0, dtype=None, out=None, keepdims=False):
    d[z] += np.sum(d[a] * prod_others(a, z, axis, keepdims), axis, keepdims=keepdims)


@adjoint(np.maximum.reduce, np.minimum.reduce, np.fmax.reduce, np.fmin.reduce)
def _extreme_reduce(z, a, axis=0, dtype=None, out=None, keepdims=False):
    if static(np.ndim(a) == 0):
        d[a] += d[z]
    else:  # ties share the adjoint, as np.max's rule splits it
        hit = a == expand_to(z, a, axis, keepdims)
        d[a] += (
            unreduce(d[z], a, axis, keepdims)
            * hit
            / np.sum(hit, axis, keepdims=True, dtype=z.dtype)
        )


@tangent(np.maximum.reduce, np.minimum.reduce, np.fmax.reduce, np.fmin.reduce)
def _extreme_reduce_tangent(z, a, axis=0, dtype=None, out=None, keepdims=False):
    if static(np.ndim(a) == 0):
        d[z] += d[a]
    else:
        hit = a == expand_to(z, a, axis, keepdims)
        d[z] += np.sum(d[a] * hit, axis, keepdims=keepdims) / np.sum(
            hit, axis, keepdims=keepdims, dtype=z.dtype
        )


@adjoint(np.logaddexp.reduce)
def _logaddexp_reduce(z, a, axis=0, dtype=None, out=None, keepdims=False):
    # the weights of a log-sum-exp: exp(a - z) along the axis, 0 where z is -inf
    zf = expand_to(np.where(z == -np.inf, 0.0, z), a, axis, keepdims)
    d[a] += unreduce(d[z], a, axis, keepdims) * np.exp(a - zf)


@tangent(np.logaddexp.reduce)
def _logaddexp_reduce_tangent(z, a, axis=0, dtype=None, out=None, keepdims=False):
    zf = expand_to(np.where(z == -np.inf, 0.0, z), a, axis, keepdims)
    d[z] += np.sum(d[a] * np.exp(a - zf), axis, keepdims=keepdims)


@adjoint(np.add.accumulate)
def _add_accumulate(z, a, axis=0, dtype=None, out=None):
    d[a] += np.flip(np.cumsum(np.flip(d[z], axis), axis), axis)


@tangent(np.add.accumulate)
def _add_accumulate_tangent(z, a, axis=0, dtype=None, out=None):
    d[z] += np.add.accumulate(d[a], axis)


@adjoint(np.maximum.accumulate, np.fmax.accumulate)
def _maximum_accumulate(z, a, axis=0, dtype=None, out=None):
    d[a] += unaccumulate_extreme(d[z], a, z, axis)


@tangent(np.maximum.accumulate, np.fmax.accumulate)
def _maximum_accumulate_tangent(z, a, axis=0, dtype=None, out=None):
    d[z] += accumulate_extreme_tangent(d[a], a, z, axis)


@adjoint(np.minimum.accumulate, np.fmin.accumulate)
def _minimum_accumulate(z, a, axis=0, dtype=None, out=None):
    d[a] += unaccumulate_extreme(d[z], a, z, axis, True)


@tangent(np.minimum.accumulate, np.fmin.accumulate)
def _minimum_accumulate_tangent(z, a, axis=0, dtype=None, out=None):
    d[z] += accumulate_extreme_tangent(d[a], a, z, axis, True)


declare(
    np.add.reduce,
    np.multiply.reduce,
    np.maximum.reduce,
    np.minimum.reduce,
    np.fmax.reduce,
    np.fmin.reduce,
    np.logaddexp.reduce,
    np.add.accumulate,
    np.maximum.accumulate,
    np.minimum.accumulate,
    np.fmax.accumulate,
    np.fmin.accumulate,
    allocates="new",
)


# ---------------------------------------------------------------- outer products of ufuncs
# u.outer(a, b) applies u to every pair: shape a.shape + b.shape; the adjoint of a sums over
# b's axes (the trailing ones), that of b over a's (the leading ones)


@adjoint(np.add.outer)
def _add_outer(z, a, b):
    d[a] += np.reshape(np.sum(np.reshape(d[z], (np.size(a), -1)), axis=1), np.shape(a))
    d[b] += np.reshape(np.sum(np.reshape(d[z], (-1, np.size(b))), axis=0), np.shape(b))


@tangent(np.add.outer)
def _add_outer_tangent(z, a, b):
    d[z] += np.multiply.outer(d[a], np.ones_like(b))
    d[z] += np.multiply.outer(np.ones_like(a), d[b])


@adjoint(np.subtract.outer)
def _subtract_outer(z, a, b):
    d[a] += np.reshape(np.sum(np.reshape(d[z], (np.size(a), -1)), axis=1), np.shape(a))
    d[b] += -np.reshape(np.sum(np.reshape(d[z], (-1, np.size(b))), axis=0), np.shape(b))


@tangent(np.subtract.outer)
def _subtract_outer_tangent(z, a, b):
    d[z] += np.multiply.outer(d[a], np.ones_like(b))
    d[z] += -np.multiply.outer(np.ones_like(a), d[b])


@adjoint(np.multiply.outer)
def _multiply_outer(z, a, b):
    d[a] += np.reshape(np.reshape(d[z], (np.size(a), -1)) @ np.ravel(b), np.shape(a))
    d[b] += np.reshape(np.ravel(a) @ np.reshape(d[z], (-1, np.size(b))), np.shape(b))


@tangent(np.multiply.outer)
def _multiply_outer_tangent(z, a, b):
    d[z] += np.multiply.outer(d[a], b)
    d[z] += np.multiply.outer(a, d[b])


@adjoint(np.divide.outer)
def _divide_outer(z, a, b):
    d[a] += np.reshape(np.reshape(d[z], (np.size(a), -1)) @ np.ravel(1.0 / b), np.shape(a))
    d[b] += -np.reshape(np.sum(np.reshape(d[z] * z, (-1, np.size(b))), axis=0), np.shape(b)) / b


@tangent(np.divide.outer)
def _divide_outer_tangent(z, a, b):
    d[z] += np.divide.outer(d[a], b)
    d[z] += -(z * (d[b] / b))


declare(np.add.outer, np.subtract.outer, np.multiply.outer, np.divide.outer, allocates="new")
