"""Diagonals, triangles, rotations and flips, differences, sorting, selections, cross and
Kronecker products: the reverse rule and the tangent rule of each, side by side."""

import numpy as np

from ..runtime.shape_helpers import (
    diff_part,
    reselect,
    uncross_a,
    uncross_b,
    undiag,
    undiagonal,
    undiff,
    unkron_a,
    unkron_b,
    unselect,
    unselect_default,
    untake_along_axis,
    untrace,
)
from .facts import atom_rank, atom_shape, declare
from .registry import adjoint, d, tangent

# ---------------------------------------------------------------- diagonals and triangles


@adjoint(np.diag)
def _diag(z, v, k=0):
    d[v] += undiag(d[z], v, k)


@tangent(np.diag)
def _diag_tangent(z, v, k=0):
    d[z] += np.diag(d[v], k)


@adjoint(np.diagflat)
def _diagflat(z, v, k=0):
    d[v] += np.reshape(np.diagonal(d[z], k), np.shape(v))


@tangent(np.diagflat)
def _diagflat_tangent(z, v, k=0):
    d[z] += np.diagflat(d[v], k)


@adjoint(np.diagonal)
def _diagonal(z, a, offset=0, axis1=0, axis2=1):
    d[a] += undiagonal(d[z], a, offset, axis1, axis2)


@tangent(np.diagonal)
def _diagonal_tangent(z, a, offset=0, axis1=0, axis2=1):
    d[z] += np.diagonal(d[a], offset, axis1, axis2)


@adjoint(np.trace)
def _trace(z, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    d[a] += untrace(d[z], a, offset, axis1, axis2)


@tangent(np.trace)
def _trace_tangent(z, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    d[z] += np.trace(d[a], offset, axis1, axis2)


@adjoint(np.tril)
def _tril(z, m, k=0):
    if np.ndim(m) == 1:  # a vector is broadcast over the rows first: summed back
        d[m] += np.sum(np.tril(d[z], k), axis=0)
    else:
        d[m] += np.tril(d[z], k)


@tangent(np.tril)
def _tril_tangent(z, m, k=0):
    d[z] += np.tril(d[m], k)


@adjoint(np.triu)
def _triu(z, m, k=0):
    if np.ndim(m) == 1:
        d[m] += np.sum(np.triu(d[z], k), axis=0)
    else:
        d[m] += np.triu(d[z], k)


@tangent(np.triu)
def _triu_tangent(z, m, k=0):
    d[z] += np.triu(d[m], k)


# ---------------------------------------------------------------- rotations and flips


@adjoint(np.roll)
def _roll(z, a, shift, axis=None):
    d[a] += np.roll(d[z], np.negative(shift), axis)


@tangent(np.roll)
def _roll_tangent(z, a, shift, axis=None):
    d[z] += np.roll(d[a], shift, axis)


@adjoint(np.rot90)
def _rot90(z, m, k=1, axes=(0, 1)):
    d[m] += np.rot90(d[z], -k, axes)


@tangent(np.rot90)
def _rot90_tangent(z, m, k=1, axes=(0, 1)):
    d[z] += np.rot90(d[m], k, axes)


@adjoint(np.fliplr)
def _fliplr(z, m):
    d[m] += np.fliplr(d[z])


@tangent(np.fliplr)
def _fliplr_tangent(z, m):
    d[z] += np.fliplr(d[m])


@adjoint(np.flipud)
def _flipud(z, m):
    d[m] += np.flipud(d[z])


@tangent(np.flipud)
def _flipud_tangent(z, m):
    d[z] += np.flipud(d[m])


# ---------------------------------------------------------------- differences, selections


@adjoint(np.diff)
def _diff(z, a, n=1, axis=-1, prepend=None, append=None):
    d[a] += undiff(d[z], a, n, axis, prepend, append, 0)
    d[prepend] += undiff(d[z], a, n, axis, prepend, append, 1)
    d[append] += undiff(d[z], a, n, axis, prepend, append, 2)


@tangent(np.diff)
def _diff_tangent(z, a, n=1, axis=-1, prepend=None, append=None):
    d[z] += diff_part(d[a], a, n, axis, prepend, append, 0)
    d[z] += diff_part(d[prepend], a, n, axis, prepend, append, 1)
    d[z] += diff_part(d[append], a, n, axis, prepend, append, 2)


@adjoint(np.sort)
def _sort(z, a, axis=-1, kind=None, order=None):
    # z is a gathered through the sorting permutation (ties: one of the equal orders)
    d[a] += untake_along_axis(d[z], a, np.argsort(a, axis), axis)


@tangent(np.sort)
def _sort_tangent(z, a, axis=-1, kind=None, order=None):
    d[z] += np.take_along_axis(d[a], np.argsort(a, axis), axis)


@adjoint(np.select)
def _select(z, condlist, choicelist, default=0):
    d[choicelist] += unselect(d[z], condlist, choicelist)
    d[default] += unselect_default(d[z], condlist, default)


@tangent(np.select)
def _select_tangent(z, condlist, choicelist, default=0):
    d[z] += reselect(condlist, d[choicelist], d[default], z)


@adjoint(np.cross)
def _cross(z, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    d[a] += uncross_a(d[z], a, b, axisa, axisb, axisc, axis)
    d[b] += uncross_b(d[z], a, b, axisa, axisb, axisc, axis)


@tangent(np.cross)
def _cross_tangent(z, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    d[z] += np.cross(d[a], b, axisa, axisb, axisc, axis)
    d[z] += np.cross(a, d[b], axisa, axisb, axisc, axis)


@adjoint(np.kron)
def _kron(z, a, b):
    d[a] += unkron_a(d[z], a, b)
    d[b] += unkron_b(d[z], a, b)


@tangent(np.kron)
def _kron_tangent(z, a, b):
    d[z] += np.kron(d[a], b)
    d[z] += np.kron(a, d[b])


def _triangle_rank(op, ranks: dict):
    """``np.tril``/``np.triu`` keep the rank of a matrix or stack (a vector becomes a
    matrix)."""
    rank = atom_rank(op.operands[0], ranks) if op.operands else None
    return None if rank is None else max(rank, 2)


def _triangle_shape(op, known: dict):
    shape = atom_shape(op.operands[0], known) if op.operands else None
    if shape is None:
        return None
    return shape * 2 if len(shape) == 1 else shape


declare(np.tril, np.triu, rank=_triangle_rank, shape=_triangle_shape)
