"""Shape operations, joins and splits, gathers and indexing reads, and arrays made from
shapes: the reverse rule and the tangent rule of each, side by side, and their rank, shape,
dtype and allocation facts.

All of these operations are linear, so the tangent of the result is the same operation applied
to the operand's tangent. Diagonals, triangles, rotations, differences and selections are in
``arrangements.py``."""

import gast
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..runtime.helpers import sum_to, unindex
from ..runtime.shape_helpers import (
    unappend,
    unconcatenate,
    undelete,
    uninsert,
    unjoin,
    unjoin_index,
    unmeshgrid,
    unrepeat,
    untake,
    untake_along_axis,
    untile,
    unwindow,
)
from ..runtime.tangent_helpers import (
    join_index_tangent,
    meshgrid_tangent,
    tangent_items,
)
from .facts import (
    atom_rank,
    atom_shape,
    constant_rank,
    declare,
    first_operand_rank,
    is_none,
)
from .registry import adjoint, d, nondifferentiable, tangent

#: functions that only change the shape (the values keep their order)
RESHAPES = (
    np.reshape,
    np.ravel,
    np.squeeze,
    np.expand_dims,
    np.atleast_1d,
    np.atleast_2d,
    np.atleast_3d,
    np.ascontiguousarray,
    "reshape",
)


@adjoint(*RESHAPES)
def _reshape(z, a, *args, **kwargs):
    d[a] += np.reshape(d[z], np.shape(a))


@tangent(*RESHAPES)
def _reshape_tangent(z, a, *args, **kwargs):
    d[z] += np.reshape(d[a], np.shape(z))


@adjoint("T")
def _T(z, a):
    d[a] += d[z].T


@tangent("T")
def _T_tangent(z, a):
    d[z] += d[a].T


@adjoint(np.transpose)
def _transpose(z, a, axes=None):
    if axes is None:
        d[a] += np.transpose(d[z])
    else:
        d[a] += np.transpose(d[z], np.argsort(axes))


@tangent(np.transpose)
def _transpose_tangent(z, a, axes=None):
    d[z] += np.transpose(d[a], axes)


@adjoint(np.swapaxes)
def _swapaxes(z, a, axis1, axis2):
    d[a] += np.swapaxes(d[z], axis1, axis2)


@tangent(np.swapaxes)
def _swapaxes_tangent(z, a, axis1, axis2):
    d[z] += np.swapaxes(d[a], axis1, axis2)


@adjoint(np.moveaxis)
def _moveaxis(z, a, source, destination):
    d[a] += np.moveaxis(d[z], destination, source)


@tangent(np.moveaxis)
def _moveaxis_tangent(z, a, source, destination):
    d[z] += np.moveaxis(d[a], source, destination)


@adjoint(np.broadcast_to)
def _broadcast_to(z, array, shape):
    d[array] += sum_to(d[z], array)


@tangent(np.broadcast_to)
def _broadcast_to_tangent(z, array, shape):
    d[z] += np.broadcast_to(d[array], np.shape(z))


@adjoint(np.flip)
def _flip(z, m, axis=None):
    d[m] += np.flip(d[z], axis)


@tangent(np.flip)
def _flip_tangent(z, m, axis=None):
    d[z] += np.flip(d[m], axis)


@adjoint(np.concatenate)
def _concatenate(z, arrays, axis=0):
    d[arrays] += unconcatenate(d[z], arrays, axis)


@tangent(np.concatenate)
def _concatenate_tangent(z, arrays, axis=0):
    d[z] += np.concatenate(tangent_items(d[arrays], arrays), axis)


@adjoint(np.stack)
def _stack(z, arrays, axis=0):
    if axis == 0:
        d[arrays] += d[z]
    else:
        d[arrays] += np.moveaxis(d[z], axis, 0)


@tangent(np.stack)
def _stack_tangent(z, arrays, axis=0):
    d[z] += np.stack(tangent_items(d[arrays], arrays), axis)


@adjoint(np.split, np.array_split)
def _split(z, ary, indices_or_sections, axis=0):
    d[ary] += np.concatenate(d[z], axis)


@tangent(np.split)
def _split_tangent(z, ary, indices_or_sections, axis=0):
    d[z] += np.split(d[ary], indices_or_sections, axis)


@tangent(np.array_split)
def _array_split_tangent(z, ary, indices_or_sections, axis=0):
    d[z] += np.array_split(d[ary], indices_or_sections, axis)


@adjoint(np.tile)
def _tile(z, A, reps):
    d[A] += untile(d[z], A, reps)


@tangent(np.tile)
def _tile_tangent(z, A, reps):
    d[z] += np.tile(d[A], reps)


@adjoint(np.repeat)
def _repeat(z, a, repeats, axis=None):
    d[a] += unrepeat(d[z], a, repeats, axis)


@tangent(np.repeat)
def _repeat_tangent(z, a, repeats, axis=None):
    d[z] += np.repeat(d[a], repeats, axis)


@adjoint("getitem")
def _getitem(z, x, index):
    d[x] += unindex(d[z], x, index)


@tangent("getitem")
def _getitem_tangent(z, x, index):
    d[z] += d[x][index]


@adjoint("join_index")
def _join_index(z, x, index):  # z = np.r_[index] or np.c_[index]: the index's items joined
    d[index] += unjoin_index(d[z], x, index)


@tangent("join_index")
def _join_index_tangent(z, x, index):
    d[z] += join_index_tangent(d[index], x, index, z)


@adjoint(np.meshgrid)
def _meshgrid(z, *xi, copy=True, sparse=False, indexing="xy"):
    d[xi] += unmeshgrid(d[z], xi, indexing)


@tangent(np.meshgrid)
def _meshgrid_tangent(z, *xi, copy=True, sparse=False, indexing="xy"):
    d[z] += meshgrid_tangent(d[xi], xi, indexing, sparse)


@adjoint(np.take)
def _take(z, a, indices, axis=None):
    d[a] += untake(d[z], a, indices, axis)


@tangent(np.take)
def _take_tangent(z, a, indices, axis=None):
    d[z] += np.take(d[a], indices, axis)


@adjoint(np.bincount)
def _bincount(z, x, weights=None, minlength=0):
    # z[k] = sum of weights[i] where x[i] == k: each weight's adjoint is its bin's
    d[weights] += np.take(d[z], x)


@tangent(np.bincount)
def _bincount_tangent(z, x, weights=None, minlength=0):
    d[z] += np.bincount(x, weights=d[weights], minlength=len(z))


@adjoint(np.take_along_axis)
def _take_along_axis(z, arr, indices, axis):
    d[arr] += untake_along_axis(d[z], arr, indices, axis)


@tangent(np.take_along_axis)
def _take_along_axis_tangent(z, arr, indices, axis):
    d[z] += np.take_along_axis(d[arr], indices, axis)


@adjoint(np.full)
def _full(z, shape, fill_value, dtype=None, order="C", *, like=None):
    d[fill_value] += sum_to(d[z], fill_value)


@tangent(np.full)
def _full_tangent(z, shape, fill_value, dtype=None, order="C", *, like=None):
    d[z] += np.broadcast_to(d[fill_value], np.shape(z))


@adjoint(np.full_like)
def _full_like(z, a, fill_value, dtype=None, order="K", subok=True, shape=None, **kwargs):
    d[fill_value] += sum_to(d[z], fill_value)


@tangent(np.full_like)
def _full_like_tangent(z, a, fill_value, dtype=None, order="K", subok=True, shape=None, **kwargs):
    d[z] += np.broadcast_to(d[fill_value], np.shape(z))


# np.arange and np.linspace are not here: their values depend on their arguments, so a
# differentiated value passed to them is refused (no rule) rather than given a zero gradient
nondifferentiable(
    np.shape, np.ndim, np.size, np.zeros_like, np.ones_like, np.empty_like, np.zeros, np.ones,
    np.empty, np.eye, np.identity, np.indices, np.tril_indices, np.triu_indices,
    np.diag_indices,
)  # fmt: skip


@adjoint(sliding_window_view)
def _sliding_window_view(z, x, window_shape, axis=None, *, subok=False, writeable=False):
    d[x] += unwindow(d[z], x, window_shape, axis)


@tangent(sliding_window_view)
def _sliding_window_view_tangent(z, x, window_shape, axis=None, *, subok=False, writeable=False):
    d[z] += sliding_window_view(d[x], window_shape, axis)


# ---------------------------------------------------------------- joins


@adjoint(np.vstack)
def _vstack(z, tup, *, dtype=None, casting="same_kind"):
    d[tup] += unjoin(d[z], tup, "vstack")


@tangent(np.vstack)
def _vstack_tangent(z, tup, *, dtype=None, casting="same_kind"):
    d[z] += np.vstack(tangent_items(d[tup], tup))


@adjoint(np.hstack)
def _hstack(z, tup, *, dtype=None, casting="same_kind"):
    d[tup] += unjoin(d[z], tup, "hstack")


@tangent(np.hstack)
def _hstack_tangent(z, tup, *, dtype=None, casting="same_kind"):
    d[z] += np.hstack(tangent_items(d[tup], tup))


@adjoint(np.column_stack)
def _column_stack(z, tup):
    d[tup] += unjoin(d[z], tup, "column_stack")


@tangent(np.column_stack)
def _column_stack_tangent(z, tup):
    d[z] += np.column_stack(tangent_items(d[tup], tup))


@adjoint(np.dstack)
def _dstack(z, tup):
    d[tup] += unjoin(d[z], tup, "dstack")


@tangent(np.dstack)
def _dstack_tangent(z, tup):
    d[z] += np.dstack(tangent_items(d[tup], tup))


@adjoint(np.append)
def _append(z, arr, values, axis=None):
    d[arr] += unappend(d[z], arr, values, axis, 0)
    d[values] += unappend(d[z], arr, values, axis, 1)


@tangent(np.append)
def _append_tangent(z, arr, values, axis=None):
    d[z] += np.append(d[arr], np.zeros_like(values), axis)
    d[z] += np.append(np.zeros_like(arr), d[values], axis)


@adjoint(np.insert)
def _insert(z, arr, obj, values, axis=None):
    d[arr] += uninsert(d[z], arr, obj, values, axis, 0)
    d[values] += uninsert(d[z], arr, obj, values, axis, 1)


@tangent(np.insert)
def _insert_tangent(z, arr, obj, values, axis=None):
    d[z] += np.insert(d[arr], obj, np.zeros_like(values), axis)
    d[z] += np.insert(np.zeros_like(arr), obj, d[values], axis)


@adjoint(np.delete)
def _delete(z, arr, obj, axis=None):
    d[arr] += undelete(d[z], arr, obj, axis)


@tangent(np.delete)
def _delete_tangent(z, arr, obj, axis=None):
    d[z] += np.delete(d[arr], obj, axis)


# ---------------------------------------------------------------- facts


def _reshape_rank(op, ranks):
    # the rule takes the shape through *args: read it from the operands
    shape = op.operands[1] if len(op.operands) > 1 else None
    if isinstance(shape, gast.Tuple):
        return len(shape.elts)
    if isinstance(shape, gast.Constant) and isinstance(shape.value, int):
        return 1
    return None


def _index_rank(op, ranks):
    x, index = op.operands[0], op.operands[1]
    r = atom_rank(x, ranks)
    if r is None:
        return None
    for it in index.elts if isinstance(index, gast.Tuple) else [index]:
        if isinstance(it, gast.Slice):
            continue
        if isinstance(it, gast.Constant):
            if it.value is None:
                r += 1
            elif isinstance(it.value, int):
                r -= 1
            else:
                return None
        elif isinstance(it, gast.Name) and ranks.get(it.id) == 0:
            r -= 1  # an integer variable (a loop index)
        else:
            return None
    return r


def _items(op):
    arrays = op.bound.get("arrays")
    if isinstance(arrays, (gast.Tuple, gast.List)) and arrays.elts:
        return arrays.elts
    return None


def _stack_rank(op, ranks):
    items = _items(op)
    r = None if items is None else atom_rank(items[0], ranks)
    return None if r is None else r + 1


def _concatenate_rank(op, ranks):
    items = _items(op)
    return None if items is None else atom_rank(items[0], ranks)


def _expand_dims_rank(op, ranks):
    r = first_operand_rank(op, ranks)
    axis = op.operands[1] if len(op.operands) > 1 else None
    if r is not None and isinstance(axis, gast.Constant) and isinstance(axis.value, int):
        return r + 1
    return None


def _created_rank(op, ranks):
    if not op.operands:
        return None
    shape = op.operands[0]
    if isinstance(shape, gast.Tuple):
        return len(shape.elts)
    return 1 if atom_rank(shape, ranks) == 0 else None


def _like_rank(op, ranks):
    """``np.zeros_like(a)`` (and its kin) given ``a`` alone: ``a``'s rank."""
    return atom_rank(op.operands[0], ranks) if len(op.operands) == 1 else None


def _transpose_shape(op, known):
    x, axes = atom_shape(op.bound.get("a"), known), op.bound.get("axes")
    if x is None:
        return None
    if is_none(axes):
        return x[::-1]
    items = axes.elts if isinstance(axes, gast.Tuple) else None
    if items is None or not all(isinstance(i, gast.Constant) for i in items):
        return None
    order = [i.value for i in items]
    if sorted(order) != list(range(len(x))):
        return None
    return tuple(x[i] for i in order)


def _reversed_shape(op, known):
    """``x.T``: ``x``'s shape reversed."""
    x = atom_shape(op.operands[0], known) if op.operands else None
    return None if x is None else x[::-1]


def _swapaxes_shape(op, known):
    """``np.swapaxes(a, i, j)``: ``a``'s shape with lengths ``i`` and ``j`` swapped."""
    x = atom_shape(op.bound.get("a"), known)
    i, j = op.bound.get("axis1"), op.bound.get("axis2")
    if x is None or not all(isinstance(k, gast.Constant) for k in (i, j)):
        return None
    i, j = i.value, j.value
    if not all(type(k) is int and -len(x) <= k < len(x) for k in (i, j)):
        return None
    out = list(x)
    out[i], out[j] = out[j], out[i]
    return tuple(out)


def _stack_shape(op, known):
    arrays, axis = op.bound.get("arrays"), op.bound.get("axis")
    if not isinstance(arrays, gast.Tuple) or not arrays.elts or not is_none(op.bound.get("out")):
        return None
    shapes = {atom_shape(a, known) for a in arrays.elts}
    if len(shapes) != 1 or None in shapes or not isinstance(axis, gast.Constant):
        return None
    (one,) = shapes
    if type(axis.value) is not int or not -len(one) - 1 <= axis.value <= len(one):
        return None
    at = axis.value % (len(one) + 1)
    return one[:at] + (len(arrays.elts),) + one[at:]


declare("T", np.transpose, np.swapaxes, np.moveaxis, np.flip, rank=first_operand_rank)
declare(np.ravel, rank=constant_rank(1))
declare(np.reshape, rank=_reshape_rank)
declare("getitem", rank=_index_rank)
declare(np.stack, rank=_stack_rank, shape=_stack_shape, dtype="promote")
declare(np.concatenate, rank=_concatenate_rank)
declare(np.expand_dims, rank=_expand_dims_rank)
declare(np.transpose, shape=_transpose_shape)
declare("T", shape=_reversed_shape)
declare(np.swapaxes, shape=_swapaxes_shape)
declare(np.reshape, np.transpose, "reshape", dtype="operand")
declare(np.split, np.array_split, dtype="operand")  # (of each piece of the list)
declare(np.split, np.array_split, np.meshgrid, several_results=True)
declare(np.zeros, np.ones, np.empty, np.full, rank=_created_rank)
declare(np.eye, np.identity, rank=constant_rank(2))
declare(np.zeros, np.ones, np.empty, dtype="creation")
declare(np.zeros_like, np.ones_like, np.empty_like, dtype="operand")
declare(np.zeros_like, np.ones_like, np.empty_like, rank=_like_rank)
declare(np.zeros_like, np.ones_like, np.full_like, np.empty_like, allocates="new")
declare(np.concatenate, np.stack, allocates="new")
declare(np.zeros, np.ones, np.full, np.empty, np.eye, np.arange, np.linspace, allocates="created")
declare(
    np.reshape, np.ravel, np.transpose, np.squeeze, np.expand_dims, np.ascontiguousarray,
    np.broadcast_to, np.atleast_1d, np.atleast_2d, np.swapaxes, np.moveaxis,
    allocates="view",
)  # fmt: skip
