"""Reductions (``axis``/``keepdims`` aware) and cumulative sums: the reverse rule and the
tangent rule of each, side by side, and their rank, shape, dtype and allocation facts.

The linear reductions apply themselves to the tangent; ``prod``, ``max``/``min``, ``var`` and
``std`` use their derivative, with the reduced axes of the result put back by ``expand_to``
where it must broadcast against the operand."""

import gast
import numpy as np

from ..runtime.cumulative_helpers import (
    at_first_zero,
    before_first_zero,
    cumprod_curvature,
    refuse_cumprod_curvature,
)
from ..runtime.helpers import expand_to, unreduce
from ..runtime.products import prod_others, prod_others_curvature, refuse_prod_order, unprod
from .facts import atom_rank, atom_shape, declare, first_operand_rank, is_none, reduced_shape
from .registry import adjoint, d, nondifferentiable, static, tangent


@adjoint(np.sum)
def _sum(z, a, axis=None, dtype=None, out=None, keepdims=False):
    if axis is None and not keepdims:
        d[a] += unreduce(d[z], a)
    else:
        d[a] += unreduce(d[z], a, axis, keepdims)


@tangent(np.sum)
def _sum_tangent(z, a, axis=None, dtype=None, out=None, keepdims=False):
    if static(axis is None and dtype is None and not keepdims):
        d[z] += np.sum(d[a])
    elif static(dtype is None and not keepdims):
        d[z] += np.sum(d[a], axis)
    else:
        d[z] += np.sum(d[a], axis, dtype=dtype, keepdims=keepdims)


@adjoint(np.mean)
def _mean(z, a, axis=None, dtype=None, out=None, keepdims=False):
    if axis is None and not keepdims:
        d[a] += unreduce(d[z] / np.size(a), a)
    else:
        d[a] += unreduce(d[z] * (np.size(z) / np.size(a)), a, axis, keepdims)


@tangent(np.mean)
def _mean_tangent(z, a, axis=None, dtype=None, out=None, keepdims=False):
    if static(axis is None and dtype is None and not keepdims):
        d[z] += np.mean(d[a])
    elif static(dtype is None and not keepdims):
        d[z] += np.mean(d[a], axis)
    else:
        d[z] += np.mean(d[a], axis, dtype=dtype, keepdims=keepdims)


# the products of the other entries (prod_others): z / a where no entry is zero, exact where
# one is, to second order (runtime/products.py)
@adjoint(np.prod)
def _prod(z, a, axis=None, dtype=None, out=None, keepdims=False):
    d[a] += unprod(d[z], a, z, axis, keepdims)


@tangent(np.prod)
def _prod_tangent(z, a, axis=None, dtype=None, out=None, keepdims=False):
    d[z] += np.sum(d[a] * prod_others(a, z, axis, keepdims), axis, dtype=dtype, keepdims=keepdims)


@tangent(unprod)
def _unprod_tangent(out, g, a, z, axis=None, keepdims=False, t=None):
    d[out] += unprod(d[g], a, z, axis, keepdims, t)
    if static(t is None):
        d[out] += unreduce(g, a, axis, keepdims) * prod_others(a, z, axis, keepdims, d[a])
    else:
        d[out] += unprod(g, a, z, axis, keepdims, d[t])
        d[out] += unreduce(g, a, axis, keepdims) * prod_others_curvature(
            a, z, axis, keepdims, t, d[a]
        )


@tangent(prod_others)
def _prod_others_tangent(out, a, z, axis=None, keepdims=False, t=None):
    if static(t is None):
        d[out] += prod_others(a, z, axis, keepdims, d[a])
    else:
        d[out] += prod_others(a, z, axis, keepdims, d[t])
        d[out] += prod_others_curvature(a, z, axis, keepdims, t, d[a])


@tangent(prod_others_curvature)
def _prod_others_curvature_tangent(out, a, z, axis, keepdims, t, s):
    d[out] += prod_others_curvature(a, z, axis, keepdims, d[t], s)
    d[out] += prod_others_curvature(a, z, axis, keepdims, t, d[s])
    d[out] += refuse_prod_order(a) * d[a]  # a fourth derivative


@adjoint(np.max, np.amax, np.min, np.amin)
def _max(z, a, axis=None, out=None, keepdims=False):
    if static(np.ndim(a) == 0):
        d[a] += d[z]
    elif static(axis is None and keepdims is False):  # numbers: the products broadcast them
        hit = a == z
        d[a] += d[z] * hit / np.sum(hit, dtype=z.dtype)
    else:
        hit = a == expand_to(z, a, axis, keepdims)
        d[a] += (
            unreduce(d[z], a, axis, keepdims)
            * hit
            / np.sum(hit, axis, keepdims=True, dtype=z.dtype)
        )


@tangent(np.max, np.amax, np.min, np.amin)
def _max_tangent(z, a, axis=None, out=None, keepdims=False):
    # the tangent at the extreme positions, averaged over ties (as the reverse rule splits
    # the adjoint between them)
    if static(np.ndim(a) == 0):
        d[z] += d[a]
    elif static(axis is None and keepdims is False):
        hit = a == z
        d[z] += np.sum(d[a] * hit) / np.sum(hit, dtype=z.dtype)
    else:
        hit = a == expand_to(z, a, axis, keepdims)
        d[z] += np.sum(d[a] * hit, axis, keepdims=keepdims) / np.sum(
            hit, axis, keepdims=keepdims, dtype=z.dtype
        )


@adjoint(np.var)
def _var(z, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = a - np.mean(a, axis, keepdims=True)
    d[a] += unreduce(d[z] * (2.0 / (np.size(a) / np.size(z) - ddof)), a, axis, keepdims) * centered


@tangent(np.var)
def _var_tangent(z, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    # d var = 2 sum(centered * da) / (n - ddof): the mean's tangent drops out as sum(centered) = 0
    centered = a - np.mean(a, axis, keepdims=True)
    d[z] += np.sum(d[a] * centered, axis, dtype=dtype, keepdims=keepdims) * (
        2.0 / (np.size(a) / np.size(z) - ddof)
    )


@adjoint(np.std)
def _std(z, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    # undefined at zero spread (z == 0: one element, constant data): 0 / 0 gives NaN there, as
    # for np.linalg.norm at 0 (unnorm) and np.sqrt at 0, and as in JAX and autograd
    centered = a - np.mean(a, axis, keepdims=True)
    d[a] += unreduce(d[z] / (z * (np.size(a) / np.size(z) - ddof)), a, axis, keepdims) * centered


@tangent(np.std)
def _std_tangent(z, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    centered = a - np.mean(a, axis, keepdims=True)
    d[z] += np.sum(d[a] * centered, axis, dtype=dtype, keepdims=keepdims) / (
        z * (np.size(a) / np.size(z) - ddof)
    )


@adjoint(np.cumsum)
def _cumsum(z, a, axis=None, dtype=None, out=None):
    if axis is None:
        d[a] += np.reshape(np.flip(np.cumsum(np.flip(d[z]))), np.shape(a))
    else:
        d[a] += np.flip(np.cumsum(np.flip(d[z], axis), axis), axis)


@tangent(np.cumsum)
def _cumsum_tangent(z, a, axis=None, dtype=None, out=None):
    if static(dtype is None):
        d[z] += np.cumsum(d[a], axis)
    else:
        d[z] += np.cumsum(d[a], axis, dtype=dtype)


@adjoint(np.cumprod)
def _cumprod(z, a, axis=None, dtype=None, out=None):
    # d z_k / d a_i = z_k / a_i for i <= k before the first zero p along the axis; at p, the
    # product of the others (the cumprod with a_p = 1); after p, zero (runtime.cumulative_helpers)
    if axis is None:
        flat = np.ravel(a)
        before = before_first_zero(flat, 0)
        at = at_first_zero(flat, 0)
        g = np.ravel(d[z])
        kept = np.flip(np.cumsum(np.flip(g * np.ravel(z)))) / np.where(before, flat, 1.0)
        lifted = np.flip(np.cumsum(np.flip(g * np.cumprod(np.where(at, 1.0, flat)))))
        d[a] += np.reshape(np.where(before, kept, np.where(at, lifted, 0.0)), np.shape(a))
        d[a] += cumprod_curvature(a)
    else:
        before = before_first_zero(a, axis)
        at = at_first_zero(a, axis)
        kept = np.flip(np.cumsum(np.flip(d[z] * z, axis), axis), axis) / np.where(before, a, 1.0)
        lifted = np.cumprod(np.where(at, 1.0, a), axis)
        lifted = np.flip(np.cumsum(np.flip(d[z] * lifted, axis), axis), axis)
        d[a] += np.where(before, kept, np.where(at, lifted, 0.0))
        d[a] += cumprod_curvature(a)


@tangent(cumprod_curvature)
def _cumprod_curvature_tangent(out, a, axis=None):
    d[out] += refuse_cumprod_curvature(a) * d[a]


@tangent(np.cumprod)
def _cumprod_tangent(z, a, axis=None, dtype=None, out=None):
    # d z_k = z_k sum_{i <= k} da_i / a_i before the first zero p; from p on, da_p times the
    # cumprod with a_p = 1 (the other terms keep the zero at p)
    if axis is None:
        flat = np.ravel(a)
        before = before_first_zero(flat, 0)
        at = at_first_zero(flat, 0)
        t = np.ravel(d[a])
        kept = z * np.cumsum(np.where(before, t / np.where(before, flat, 1.0), 0.0))
        lifted = np.sum(np.where(at, t, 0.0)) * np.cumprod(np.where(at, 1.0, flat))
        d[z] += np.where(before, kept, lifted)
    else:
        before = before_first_zero(a, axis)
        at = at_first_zero(a, axis)
        u = np.where(before, d[a] / np.where(before, a, 1.0), 0.0)
        lifted = np.cumprod(np.where(at, 1.0, a), axis)
        lifted = np.sum(np.where(at, d[a], 0.0), axis, keepdims=True) * lifted
        d[z] += np.where(before, z * np.cumsum(u, axis), lifted)


nondifferentiable(
    np.argmax, np.argmin, np.argsort, np.argwhere, np.nonzero, np.flatnonzero,
    np.count_nonzero, np.any, np.all, np.searchsorted, np.digitize, np.unique,
)  # fmt: skip


# ---------------------------------------------------------------- facts


def _reduced_rank(op, ranks):
    b = op.bound
    r = atom_rank(b.get("a"), ranks)
    axis, keep = b.get("axis"), b.get("keepdims")
    none_axis = isinstance(axis, gast.Constant) and axis.value is None
    if none_axis and isinstance(keep, gast.Constant) and not keep.value:
        return 0
    if (
        r is None
        or not isinstance(axis, (gast.Constant, gast.Tuple))
        or not isinstance(keep, gast.Constant)
    ):
        return None
    if keep.value:
        return r
    if isinstance(axis, gast.Constant):
        return 0 if axis.value is None else r - 1
    return r - len(axis.elts)


def _reduced_shape(op, known):
    b = op.bound
    if any(not is_none(b.get(k)) for k in ("dtype", "out", "where", "initial")):
        return None
    return reduced_shape(atom_shape(b.get("a"), known), b.get("axis"), b.get("keepdims"))


def _cumsum_rank(op, ranks):
    axis = op.bound.get("axis")
    if isinstance(axis, gast.Constant) and axis.value is None:
        return 1  # over the flattened array
    return first_operand_rank(op, ranks)


REDUCTIONS = (np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.var, np.std)
declare(*REDUCTIONS, rank=_reduced_rank, shape=_reduced_shape, allocates="new", reduction=True)
declare(np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, dtype="reduced")
declare(np.cumsum, rank=_cumsum_rank, allocates="new")


@adjoint(np.ptp)
def _ptp(z, a, axis=None, out=None, keepdims=False):
    # max - min: the adjoint split over the ties of each, as np.max's rule splits it
    high = a == np.max(a, axis, keepdims=True)
    low = a == np.min(a, axis, keepdims=True)
    g = unreduce(d[z], a, axis, keepdims)
    d[a] += g * high / np.sum(high, axis, keepdims=True, dtype=z.dtype)
    d[a] += -(g * low / np.sum(low, axis, keepdims=True, dtype=z.dtype))


@tangent(np.ptp)
def _ptp_tangent(z, a, axis=None, out=None, keepdims=False):
    high = a == np.max(a, axis, keepdims=True)
    low = a == np.min(a, axis, keepdims=True)
    d[z] += np.sum(d[a] * high, axis, keepdims=keepdims) / np.sum(
        high, axis, keepdims=keepdims, dtype=z.dtype
    )
    d[z] += -(
        np.sum(d[a] * low, axis, keepdims=keepdims)
        / np.sum(low, axis, keepdims=keepdims, dtype=z.dtype)
    )
