"""Forward-mode (tangent) rules for sourcegrad's own runtime helpers.

Reverse-mode derivatives call the helpers of ``runtime/helpers.py``, ``containers.py``,
``linalg_helpers.py`` and ``shape_helpers.py``; forward-mode derivatives call those of
``tangent_helpers.py``. With these rules generated code can be differentiated again in forward
mode: forward over reverse (Hessian-vector products) and forward over forward. Each rule takes
the helper's own parameters. Most helpers are linear in the adjoint ``g`` they map (their other
arguments give only shapes, indices or selections); the product helpers are bilinear.
"""

import numpy as np

from ..runtime.containers import gradient_like
from ..runtime.helpers import (
    expand_to,
    nondiff,
    seed_like,
    shape_of,
    sum_to,
    unclip,
    unindex,
    unreduce,
    unsum,
    written_part,
    zero_adjoint,
    zero_index,
)
from ..runtime.linalg_helpers import (
    batch_scale,
    contract,
    eigen_gaps,
    norm_curvature,
    part_or_zeros,
    sublist_operands,
    sublist_scatter,
    sublist_subscripts,
    sublist_tangents,
    symmetric_from,
    triangle_of,
    uncholesky,
    undot_left,
    undot_right,
    uneinsum,
    unmatmul_left,
    unmatmul_right,
    unnorm,
    unsolve_a,
    unsolve_b,
    untensordot_left,
    untensordot_right,
)
from ..runtime.shape_helpers import (
    diff_part,
    reselect,
    unappend,
    unconcatenate,
    uncross_a,
    uncross_b,
    undiag,
    undiagonal,
    undiff,
    unjoin,
    unkron_a,
    unkron_b,
    unpad,
    unrepeat,
    unselect,
    unselect_default,
    untake,
    untake_along_axis,
    untile,
    untrace,
    unwindow,
)
from ..runtime.tangent_helpers import (
    append_tangent,
    assign_tangent,
    broadcast_like,
    complete_tangent,
    einsum_call,
    euclidean_weight,
    item_tangent,
    matvec_like,
    pack_tangent,
    pad_tangent,
    pieces,
    slot_subscripts,
    solve_like,
    stack_slots,
    tangent_items,
    tangent_slots,
    unstack_slots,
    zero_tangent,
)
from ..runtime.trees import (
    add_adjoints,
    as_adjoint,
    default_part,
    dict_piece,
    piece_of,
    unfield,
    unget,
    unitems,
    unlist,
    unvalues,
)
from .registry import d, nondifferentiable, static, tangent

# ---------------------------------------------------------------- helpers.py


@tangent(sum_to)
def _sum_to(z, g, x):
    d[z] += sum_to(d[g], x)


@tangent(seed_like)
def _seed_like(z, g, out):
    d[z] += seed_like(d[g], out)  # linear in g; out only gives the shape


@tangent(expand_to)
def _expand_to(z, g, x, axis, keepdims):
    d[z] += expand_to(d[g], x, axis, keepdims)


@tangent(unreduce)
def _unreduce(z, g, x, axis=None, keepdims=False):
    d[z] += unreduce(d[g], x, axis, keepdims)


@tangent(unindex)
def _unindex(z, g, x, idx):
    d[z] += unindex(d[g], x, idx)


@tangent(zero_index)
def _zero_index(z, g, idx):
    d[z] += zero_index(d[g], idx)


@tangent(written_part)
def _written_part(z, g, idx):
    d[z] += written_part(d[g], idx)


@tangent(unsum)
def _unsum(z, g, xs):
    d[z] += unsum(d[g], xs)


@tangent(unclip)
def _unclip(z, g, a, a_min, a_max, which):
    d[z] += unclip(d[g], a, a_min, a_max, which)


@tangent(unwindow)
def _unwindow(z, g, x, window_shape, axis=None):
    d[z] += unwindow(d[g], x, window_shape, axis)


# ---------------------------------------------------------------- trees.py


@tangent(as_adjoint)
def _as_adjoint(z, x):
    d[z] += as_adjoint(d[x])


@tangent(add_adjoints)
def _add_adjoints(z, a, b):
    d[z] += add_adjoints(d[a], d[b])


@tangent(dict_piece)
def _dict_piece(z, adjoint, key, value):
    d[z] += dict_piece(d[adjoint], key, value)


@tangent(complete_tangent)
def _complete_tangent(z, t, x):
    d[z] += complete_tangent(d[t], x)


@tangent(unlist)
def _unlist(z, g, x):
    d[z] += unlist(d[g], x)


@tangent(unitems)
def _unitems(z, g, x):
    d[z] += unitems(d[g], x)


@tangent(unvalues)
def _unvalues(z, g, x):
    d[z] += unvalues(d[g], x)


@tangent(unget)
def _unget(z, g, x, key):
    d[z] += unget(d[g], x, key)


@tangent(default_part)
def _default_part(z, g, x, key, default):
    d[z] += default_part(d[g], x, key, default)


@tangent(unfield)
def _unfield(z, g, x, name):
    d[z] += unfield(d[g], x, name)


@tangent(piece_of)
def _piece_of(z, adjoint, key, like):
    d[z] += piece_of(d[adjoint], key, like)


# ---------------------------------------------------------------- containers.py


@tangent(gradient_like)
def _gradient_like(z, like, parts):
    d[z] += gradient_like(like, d[parts])


# ---------------------------------------------------------------- linalg_helpers.py


@tangent(unmatmul_left)
def _unmatmul_left(z, g, x1, x2):
    d[z] += unmatmul_left(d[g], x1, x2)
    d[z] += unmatmul_left(g, x1, d[x2])


@tangent(unmatmul_right)
def _unmatmul_right(z, g, x1, x2):
    d[z] += unmatmul_right(d[g], x1, x2)
    d[z] += unmatmul_right(g, d[x1], x2)


@tangent(undot_left)
def _undot_left(z, g, a, b):
    d[z] += undot_left(d[g], a, b)
    d[z] += undot_left(g, a, d[b])


@tangent(undot_right)
def _undot_right(z, g, a, b):
    d[z] += undot_right(d[g], a, b)
    d[z] += undot_right(g, d[a], b)


@tangent(untensordot_left)
def _untensordot_left(z, g, a, b, axes):
    d[z] += untensordot_left(d[g], a, b, axes)
    d[z] += untensordot_left(g, a, d[b], axes)


@tangent(untensordot_right)
def _untensordot_right(z, g, a, b, axes):
    d[z] += untensordot_right(d[g], a, b, axes)
    d[z] += untensordot_right(g, d[a], b, axes)


@tangent(contract)
def _contract(z, subscripts, a, b):
    d[z] += contract(subscripts, d[a], b)
    d[z] += contract(subscripts, a, d[b])


@tangent(uneinsum)
def _uneinsum(z, g, subscripts, operands):
    # item i is multilinear in g and the operands other than i
    d[z] += pieces(uneinsum(d[g], subscripts, operands))
    slots = tangent_slots(d[operands])
    d[z] += unstack_slots(
        uneinsum(
            g,
            slot_subscripts(subscripts, slots),
            stack_slots(operands, d[operands], slots, operands),
        ),
        slots,
    )


@tangent(sublist_operands)
def _sublist_operands(z, first, rest):
    d[z] += sublist_tangents(first, rest, d[first], d[rest])  # one call: linear in both


@tangent(sublist_tangents)
def _sublist_tangents(z, first, rest, dfirst, drest):
    d[z] += sublist_tangents(first, rest, d[dfirst], d[drest])


@tangent(sublist_scatter)
def _sublist_scatter(z, parts, first, rest):
    d[z] += sublist_scatter(d[parts], first, rest)


@tangent(part_or_zeros)
def _part_or_zeros(z, g, i, like):
    d[z] += part_or_zeros(d[g], i, like)


@tangent(triangle_of)
def _triangle_of(z, s, UPLO="L"):
    d[z] += triangle_of(d[s], UPLO)


@tangent(symmetric_from)
def _symmetric_from(z, t, UPLO="L"):
    d[z] += symmetric_from(d[t], UPLO)


@tangent(eigen_gaps)
def _eigen_gaps(z, w):
    # d (1 / (w_j - w_i)) = -(dw_j - dw_i) / (w_j - w_i)^2 = -F^2 (dw_j - dw_i)
    d[z] += -(z * z) * (d[w][..., None, :] - d[w][..., :, None])


@tangent(batch_scale)
def _batch_scale(z, s, m):
    d[z] += batch_scale(d[s], m)
    d[z] += batch_scale(s, d[m])


@tangent(unsolve_b)
def _unsolve_b(z, g, a, b, x):
    # a^-T g summed to b's shape; x gives only the vector-or-matrix convention
    d[z] += unsolve_b(d[g], a, b, x)
    d[z] += -unsolve_b(matvec_like(d[a], unsolve_b(g, a, x, x), x, True), a, b, x)


@tangent(unsolve_a)
def _unsolve_a(z, g, a, b, x):
    # -(a^-T g) x^T summed to a's shape: linear in g (through a^-T g) and in x
    d[z] += unsolve_a(d[g], a, b, x)
    d[z] += unsolve_a(g, a, b, d[x])
    d[z] += unsolve_a(-matvec_like(d[a], unsolve_b(g, a, x, x), x, True), a, b, x)


@tangent(unnorm)
def _unnorm(out, g, x, z, ord, axis, keepdims):
    # 2-norm and Frobenius norm: g / z * x, linear in g, in x and in 1 / z; the norms with a
    # locally constant gradient (1, inf, ...): g times a locally constant function of x
    if static(ord is None or ord == "fro"):
        d[out] += unnorm(d[g], x, z, ord, axis, keepdims)
        d[out] += unnorm(g, d[x], z, None, axis, keepdims)
        d[out] += unnorm(-g * d[z] / z, x, z, None, axis, keepdims)
    elif static(ord == 1):
        d[out] += unnorm(d[g], x, z, ord, axis, keepdims)
    else:  # the kind of norm known only when the derivative runs
        weight = norm_curvature(ord, x, axis)
        d[out] += unnorm(d[g], x, z, ord, axis, keepdims)
        d[out] += weight * unnorm(g, d[x], z, None, axis, keepdims)
        d[out] += weight * unnorm(-g * d[z] / z, x, z, None, axis, keepdims)


@tangent(uncholesky)
def _uncholesky(z, g, low):
    # z = sym(L^-T phi(L^T g) L^-1), phi: the lower triangle with the diagonal halved; its
    # derivative along dL is L^-T sym(phi(dL^T g)) L^-1 - L^-T dL^T z - z dL L^-1. Every
    # statement that depends on d[low] reads it (a statement reading no tangent is kept)
    d[z] += uncholesky(d[g], low)
    eye = np.eye(np.shape(low)[-1], dtype=low.dtype)
    inv_low = np.linalg.inv(low)
    inv_low_t = np.swapaxes(inv_low, -1, -2)
    dphi = np.swapaxes(d[low], -1, -2) @ g
    d[z] += (
        inv_low_t
        @ (0.5 * (np.tril(dphi) + np.swapaxes(np.tril(dphi), -1, -2) - eye * dphi))
        @ inv_low
        - inv_low_t @ np.swapaxes(d[low], -1, -2) @ z
        - z @ d[low] @ inv_low
    )


# ---------------------------------------------------------------- shape_helpers.py


@tangent(unconcatenate)
def _unconcatenate(z, g, arrays, axis=0):
    d[z] += unconcatenate(d[g], arrays, axis)


@tangent(untile)
def _untile(z, g, a, reps):
    d[z] += untile(d[g], a, reps)


@tangent(unrepeat)
def _unrepeat(z, g, a, repeats, axis=None):
    d[z] += unrepeat(d[g], a, repeats, axis)


@tangent(unpad)
def _unpad(z, g, a, pad_width, mode="constant"):
    d[z] += unpad(d[g], a, pad_width, mode)


@tangent(untake)
def _untake(z, g, a, indices, axis=None):
    d[z] += untake(d[g], a, indices, axis)


@tangent(untake_along_axis)
def _untake_along_axis(z, g, arr, indices, axis):
    d[z] += untake_along_axis(d[g], arr, indices, axis)


@tangent(unjoin)
def _unjoin(z, g, arrays, kind):
    d[z] += unjoin(d[g], arrays, kind)


@tangent(unappend)
def _unappend(z, g, arr, values, axis, which):
    d[z] += unappend(d[g], arr, values, axis, which)


@tangent(undiag)
def _undiag(z, g, v, k=0):
    d[z] += undiag(d[g], v, k)


@tangent(undiagonal)
def _undiagonal(z, g, a, offset=0, axis1=0, axis2=1):
    d[z] += undiagonal(d[g], a, offset, axis1, axis2)


@tangent(untrace)
def _untrace(z, g, a, offset=0, axis1=0, axis2=1):
    d[z] += untrace(d[g], a, offset, axis1, axis2)


@tangent(undiff)
def _undiff(z, g, a, n, axis, prepend, append, which):
    d[z] += undiff(d[g], a, n, axis, prepend, append, which)


@tangent(diff_part)
def _diff_part(z, t, a, n, axis, prepend, append, which):
    d[z] += diff_part(d[t], a, n, axis, prepend, append, which)


@tangent(unselect)
def _unselect(z, g, condlist, choicelist):
    d[z] += unselect(d[g], condlist, choicelist)


@tangent(unselect_default)
def _unselect_default(z, g, condlist, default):
    d[z] += unselect_default(d[g], condlist, default)


@tangent(reselect)
def _reselect(z, condlist, choices, default, like):
    d[z] += reselect(condlist, d[choices], d[default], like)  # one call: linear in both


@tangent(uncross_a)
def _uncross_a(z, g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    d[z] += uncross_a(d[g], a, b, axisa, axisb, axisc, axis)  # bilinear in g and b
    d[z] += uncross_a(g, a, d[b], axisa, axisb, axisc, axis)


@tangent(uncross_b)
def _uncross_b(z, g, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    d[z] += uncross_b(d[g], a, b, axisa, axisb, axisc, axis)  # bilinear in g and a
    d[z] += uncross_b(g, d[a], b, axisa, axisb, axisc, axis)


@tangent(unkron_a)
def _unkron_a(z, g, a, b):
    d[z] += unkron_a(d[g], a, b)
    d[z] += unkron_a(g, a, d[b])


@tangent(unkron_b)
def _unkron_b(z, g, a, b):
    d[z] += unkron_b(d[g], a, b)
    d[z] += unkron_b(g, d[a], b)


# ---------------------------------------------------------------- tangent_helpers.py


@tangent(broadcast_like)
def _broadcast_like(out, t, z):
    d[out] += broadcast_like(d[t], z)


@tangent(assign_tangent)
def _assign_tangent(z, dx, index, dv, x):
    d[z] += assign_tangent(d[dx], index, d[dv], x)  # one call: linear in dx and dv together


@tangent(append_tangent)
def _append_tangent(z, dxs, dv, xs, v):
    d[z] += append_tangent(d[dxs], d[dv], xs, v)  # one call: a list, + would concatenate


@tangent(pack_tangent)
def _pack_tangent(z, kind, tangents, values):
    d[z] += pack_tangent(kind, d[tangents], values)


@tangent(item_tangent)
def _item_tangent(z, t, index):
    d[z] += item_tangent(d[t], index)


@tangent(tangent_items)
def _tangent_items(z, ts, xs):
    d[z] += tangent_items(d[ts], xs)


@tangent(pad_tangent)
def _pad_tangent(z, t, pad_width, mode="constant"):
    d[z] += pad_tangent(d[t], pad_width, mode)


@tangent(pieces)
def _pieces(z, parts):
    d[z] += pieces(pack_tangent(tuple, d[parts], parts))  # zeros for constant items


@tangent(einsum_call)
def _einsum_call(z, subscripts, operands):
    slots = tangent_slots(d[operands])
    d[z] += einsum_call(
        slot_subscripts(subscripts, slots), stack_slots(operands, d[operands], slots, operands)
    )


@tangent(stack_slots)
def _stack_slots(z, values, tangents, slots, like):
    d[z] += stack_slots(d[values], d[tangents], slots, like)  # one call: linear in both


@tangent(unstack_slots)
def _unstack_slots(z, parts, slots):
    d[z] += unstack_slots(pack_tangent(tuple, d[parts], parts), slots)


@tangent(matvec_like)
def _matvec_like(z, m, v, x, transpose=False):
    d[z] += matvec_like(d[m], v, x, transpose)
    d[z] += matvec_like(m, d[v], x, transpose)


@tangent(solve_like)
def _solve_like(z, a, w, x):
    d[z] += solve_like(a, d[w], x)
    d[z] += -solve_like(a, matvec_like(d[a], z, x), x)


# constants for differentiation: markers, shapes, zeros, the choices behind a tangent
nondifferentiable(
    nondiff, shape_of, zero_adjoint, zero_tangent, tangent_slots, slot_subscripts,
    euclidean_weight, sublist_subscripts, norm_curvature,
)  # fmt: skip
