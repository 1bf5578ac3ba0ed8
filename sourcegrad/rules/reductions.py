"""Rules for reductions (``axis``/``keepdims`` aware) and cumulative sums."""

import numpy as np

from ..runtime.helpers import expand_to, unreduce
from .registry import adjoint, d, nondifferentiable, static


@adjoint(np.sum)
def _sum(z, a, axis=None, dtype=None, out=None, keepdims=False):
    if axis is None and not keepdims:
        d[a] += unreduce(d[z], a)
    else:
        d[a] += unreduce(d[z], a, axis, keepdims)


@adjoint(np.mean)
def _mean(z, a, axis=None, dtype=None, out=None, keepdims=False):
    if axis is None and not keepdims:
        d[a] += unreduce(d[z] / np.size(a), a)
    else:
        d[a] += unreduce(d[z] * (np.size(z) / np.size(a)), a, axis, keepdims)


@adjoint(np.prod)
def _prod(z, a, axis=None, dtype=None, out=None, keepdims=False):
    d[a] += unreduce(d[z] * z, a, axis, keepdims) / a


@adjoint(np.max, np.amax, np.min, np.amin)
def _max(z, a, axis=None, out=None, keepdims=False):
    if static(np.ndim(a) == 0):
        d[a] += d[z]
    else:
        hit = a == expand_to(z, a, axis, keepdims)
        d[a] += (
            unreduce(d[z], a, axis, keepdims)
            * hit
            / np.sum(hit, axis, keepdims=True, dtype=z.dtype)
        )


@adjoint(np.var)
def _var(z, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = a - np.mean(a, axis, keepdims=True)
    d[a] += unreduce(d[z] * (2.0 / (np.size(a) / np.size(z) - ddof)), a, axis, keepdims) * centered


@adjoint(np.std)
def _std(z, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    # undefined at zero spread (z == 0: one element, constant data): 0 / 0 gives NaN there, as
    # for np.linalg.norm at 0 (unnorm) and np.sqrt at 0, and as in JAX and autograd
    centered = a - np.mean(a, axis, keepdims=True)
    d[a] += unreduce(d[z] / (z * (np.size(a) / np.size(z) - ddof)), a, axis, keepdims) * centered


@adjoint(np.cumsum)
def _cumsum(z, a, axis=None, dtype=None, out=None):
    if axis is None:
        d[a] += np.reshape(np.flip(np.cumsum(np.flip(d[z]))), np.shape(a))
    else:
        d[a] += np.flip(np.cumsum(np.flip(d[z], axis), axis), axis)


@adjoint(np.cumprod)
def _cumprod(z, a, axis=None, dtype=None, out=None):
    # d z_i / d a_j = z_i / a_j for j <= i (a without zeros): a reversed cumulative sum
    if axis is None:
        d[a] += np.reshape(np.flip(np.cumsum(np.flip(d[z] * z))), np.shape(a)) / a
    else:
        d[a] += np.flip(np.cumsum(np.flip(d[z] * z, axis), axis), axis) / a


nondifferentiable(
    np.argmax, np.argmin, np.argsort, np.argwhere, np.nonzero, np.flatnonzero,
    np.count_nonzero, np.any, np.all, np.searchsorted, np.digitize, np.unique,
)  # fmt: skip
