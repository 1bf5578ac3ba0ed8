"""Forward-mode (tangent) rules for reductions (``axis``/``keepdims`` aware) and cumulative sums.

Each mirrors the reverse rule of the same key in ``reductions.py`` (same parameter names). The
linear reductions apply themselves to the tangent; ``prod``, ``max``/``min``, ``var`` and
``std`` use their derivative, with the reduced axes of the result put back by ``expand_to``
where it must broadcast against the operand."""

import numpy as np

from ..runtime.helpers import expand_to
from .registry import d, static, tangent


@tangent(np.sum)
def _sum(z, a, axis=None, dtype=None, out=None, keepdims=False):
    if static(axis is None and dtype is None and not keepdims):
        d[z] += np.sum(d[a])
    elif static(dtype is None and not keepdims):
        d[z] += np.sum(d[a], axis)
    else:
        d[z] += np.sum(d[a], axis, dtype=dtype, keepdims=keepdims)


@tangent(np.mean)
def _mean(z, a, axis=None, dtype=None, out=None, keepdims=False):
    if static(axis is None and dtype is None and not keepdims):
        d[z] += np.mean(d[a])
    elif static(dtype is None and not keepdims):
        d[z] += np.mean(d[a], axis)
    else:
        d[z] += np.mean(d[a], axis, dtype=dtype, keepdims=keepdims)


@tangent(np.prod)
def _prod(z, a, axis=None, dtype=None, out=None, keepdims=False):
    # d prod = sum_i (prod / a_i) da_i, like the reverse rule (undefined where an a_i is 0)
    d[z] += np.sum(d[a] * expand_to(z, a, axis, keepdims) / a, axis, dtype=dtype, keepdims=keepdims)


@tangent(np.max, np.amax, np.min, np.amin)
def _max(z, a, axis=None, out=None, keepdims=False):
    if static(np.ndim(a) == 0):
        d[z] += d[a]
    else:
        # the tangent at the extreme positions, averaged over ties (as the reverse rule splits
        # the adjoint between them)
        hit = a == expand_to(z, a, axis, keepdims)
        d[z] += np.sum(d[a] * hit, axis, keepdims=keepdims) / np.sum(
            hit, axis, keepdims=keepdims, dtype=z.dtype
        )


@tangent(np.var)
def _var(z, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    # d var = 2 sum(centered * da) / (n - ddof): the mean's tangent drops out as sum(centered) = 0
    centered = a - np.mean(a, axis, keepdims=True)
    d[z] += np.sum(d[a] * centered, axis, dtype=dtype, keepdims=keepdims) * (
        2.0 / (np.size(a) / np.size(z) - ddof)
    )


@tangent(np.std)
def _std(z, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = a - np.mean(a, axis, keepdims=True)
    d[z] += np.sum(d[a] * centered, axis, dtype=dtype, keepdims=keepdims) / (
        z * (np.size(a) / np.size(z) - ddof)
    )


@tangent(np.cumsum)
def _cumsum(z, a, axis=None, dtype=None, out=None):
    if static(dtype is None):
        d[z] += np.cumsum(d[a], axis)
    else:
        d[z] += np.cumsum(d[a], axis, dtype=dtype)


@tangent(np.cumprod)
def _cumprod(z, a, axis=None, dtype=None, out=None):
    # d z_i = z_i sum_{j <= i} da_j / a_j
    d[z] += z * np.cumsum(d[a] / a, axis)
