"""Tangent rules of sourcegrad's own runtime helpers.

Generated code calls the helpers of ``sourcegrad/runtime``; with these rules it can be
differentiated again in forward mode: forward over reverse (Hessian-vector products) and
forward over forward. Each helper declares its facts where it is defined
(:func:`sourcegrad.runtime.facts.helper`): most are linear in the derivative they map, and
their tangent rule is made here from that declaration (:func:`~.registry.linear_tangent`);
those declared constant are nondifferentiable; the templates below are the tangent rules of
the helpers that are neither (``tangent_rule=True``). Each takes the helper's own parameters.
"""

import numpy as np

from ..runtime.array_helpers import in_place_result
from ..runtime.facts import HELPER_FACTS, HELPERS
from ..runtime.linalg_helpers import (
    eigen_gaps,
    norm_curvature,
    sublist_operands,
    sublist_tangents,
    uncholesky,
    uneinsum,
    unnorm,
    unsolve_a,
    unsolve_b,
)
from ..runtime.tangent_helpers import (
    einsum_call,
    matvec_like,
    pack_tangent,
    pieces,
    slot_subscripts,
    solve_like,
    stack_slots,
    tangent_slots,
    unstack_slots,
)
from .registry import d, linear_tangent, nondifferentiable, static, tangent

# (importing sourcegrad.runtime loads every helper module, so HELPERS is complete here)
for _name, _facts in HELPER_FACTS.items():
    if _facts.linear:
        linear_tangent(HELPERS[_name], _facts.linear, _facts.jointly)
    elif _facts.constant:
        nondifferentiable(HELPERS[_name])


@tangent(in_place_result)
def _in_place_result(z, value, x):  # a cast back to x's dtype: its derivative is the identity
    d[z] += d[value]  # (as through_cast's, at the tangent's own precision)


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


@tangent(eigen_gaps)
def _eigen_gaps(z, w):
    # d (1 / (w_j - w_i)) = -(dw_j - dw_i) / (w_j - w_i)^2 = -F^2 (dw_j - dw_i)
    d[z] += -(z * z) * (d[w][..., None, :] - d[w][..., :, None])


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


@tangent(pieces)
def _pieces(z, parts):
    d[z] += pieces(pack_tangent(tuple, d[parts], parts))  # zeros for constant items


@tangent(einsum_call)
def _einsum_call(z, subscripts, operands):
    slots = tangent_slots(d[operands])
    d[z] += einsum_call(
        slot_subscripts(subscripts, slots), stack_slots(operands, d[operands], slots, operands)
    )


@tangent(unstack_slots)
def _unstack_slots(z, parts, slots):
    d[z] += unstack_slots(pack_tangent(tuple, d[parts], parts), slots)


@tangent(solve_like)
def _solve_like(z, a, w, x):
    d[z] += solve_like(a, d[w], x)
    d[z] += -solve_like(a, matvec_like(d[a], z, x), x)
