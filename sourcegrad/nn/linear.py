"""Affine maps and index maps: ``linear``, ``embedding``, ``flatten``, ``reshape``.

Each is a :func:`sourcegrad.primitive`: sourcegrad never reads its source; the reverse and
forward templates registered below are inlined into the derivative instead, and call the
hand-written backward functions of this module, themselves primitives with rules (each map is
linear or bilinear, so the family is closed under differentiation and every order works).
"""

from __future__ import annotations

import numpy as np

from ..rules import defjvp, defvjp, primitive
from ..rules.facts import atom_rank, atom_shape, declare, is_none
from ..rules.registry import d
from ..runtime.helpers import sum_leading
from ..runtime.tangent_helpers import broadcast_like
from ..util.tree import Array, to_module_of
from .backend import array_module

__all__ = [
    "linear",
    "linear_weight_grad",
    "linear_bias_grad",
    "embedding",
    "embedding_grad",
    "flatten",
    "reshape",
]


@primitive
def linear(x: Array, weight: Array, bias: Array | None = None) -> Array:
    """``x @ weight.T + bias`` (PyTorch's layout: ``weight`` is ``(out, in)``)."""
    z = x @ weight.T
    if bias is not None:
        z = z + bias
    return z


@primitive
def linear_weight_grad(g: Array, x: Array) -> Array:
    """The gradient of ``linear`` with respect to ``weight`` for the output adjoint ``g``:
    ``g.T @ x`` over all leading axes (one GEMM); bilinear in ``g`` and ``x``."""
    return g.reshape(-1, g.shape[-1]).T @ x.reshape(-1, x.shape[-1])


@primitive
def linear_bias_grad(g: Array) -> Array:
    """The gradient of ``linear`` with respect to ``bias``: ``g`` summed over leading axes
    (by one BLAS matrix-vector product where it can, :func:`sum_leading`)."""
    return sum_leading(g.reshape(-1, g.shape[-1]), 1)


def _weight_grad_adjoint(z, g, x):
    d[g] += x @ d[z].T
    d[x] += g @ d[z]


def _weight_grad_tangent(z, g, x):
    d[z] += linear_weight_grad(d[g], x)
    d[z] += linear_weight_grad(g, d[x])


def _bias_grad_adjoint(z, g):
    d[g] += d[z] * np.ones_like(g)


def _bias_grad_tangent(z, g):
    d[z] += linear_bias_grad(d[g])


def _linear_adjoint(z, x, weight, bias=None):
    d[x] += d[z] @ weight
    d[weight] += linear_weight_grad(d[z], x)
    d[bias] += linear_bias_grad(d[z])


def _linear_tangent(z, x, weight, bias=None):
    d[z] += d[x] @ weight.T
    d[z] += x @ d[weight].T
    d[z] += broadcast_like(d[bias], z)


def _linear_rank(op, ranks):
    """The rank of ``linear(x, weight, bias)``: ``x``'s, for a matrix ``weight``."""
    r = atom_rank(op.bound.get("x"), ranks)
    return r if r is not None and r >= 1 and atom_rank(op.bound.get("weight"), ranks) == 2 else None


def _linear_shape(op, known):
    """The shape of ``linear(x, weight, bias)``: ``x.shape[:-1] + (out,)`` for ``x`` of
    ``in`` features, ``weight`` ``(out, in)`` and ``bias`` ``(out,)`` or None."""
    x = atom_shape(op.bound.get("x"), known)
    w = atom_shape(op.bound.get("weight"), known)
    if x is None or w is None or len(w) != 2 or not x or x[-1] != w[1]:
        return None
    bias = op.bound.get("bias")
    if not is_none(bias) and atom_shape(bias, known) != w[:1]:
        return None
    return x[:-1] + w[:1]


declare(linear, rank=_linear_rank, shape=_linear_shape, dtype="promote", allocates="new")
declare(linear_weight_grad, dtype="promote", sums_leading=True)
declare(linear_bias_grad, dtype="operand", sums_leading=True)
defvjp(linear, _linear_adjoint)
defjvp(linear, _linear_tangent)
defvjp(linear_weight_grad, _weight_grad_adjoint)
defjvp(linear_weight_grad, _weight_grad_tangent)
defvjp(linear_bias_grad, _bias_grad_adjoint)
defjvp(linear_bias_grad, _bias_grad_tangent)


@primitive
def embedding(input: Array, weight: Array) -> Array:
    """Rows of ``weight`` at the integer indices ``input``: shape ``input.shape + (dim,)``
    (host indices of device weights are copied to the device)."""
    return weight[to_module_of(input, weight)]


@primitive
def embedding_grad(g: Array, input: Array, num_embeddings: int) -> Array:
    """The gradient of ``embedding`` with respect to ``weight``: the rows of ``g`` added into a
    ``(num_embeddings, dim)`` array at ``input`` (repeated indices add up)."""
    xp = array_module(g)
    out = xp.zeros_like(g, shape=(num_embeddings, g.shape[-1]))
    xp.add.at(out, to_module_of(input, g).reshape(-1), g.reshape(-1, g.shape[-1]))
    return out


def _embedding_adjoint(z, input, weight):
    d[weight] += embedding_grad(d[z], input, weight.shape[0])


def _embedding_tangent(z, input, weight):
    d[z] += embedding(input, d[weight])


def _embedding_grad_adjoint(z, g, input, num_embeddings):
    d[g] += embedding(input, d[z])


def _embedding_grad_tangent(z, g, input, num_embeddings):
    d[z] += embedding_grad(d[g], input, num_embeddings)


defvjp(embedding, _embedding_adjoint)
defjvp(embedding, _embedding_tangent)
defvjp(embedding_grad, _embedding_grad_adjoint)
defjvp(embedding_grad, _embedding_grad_tangent)


@primitive
def flatten(x: Array, start_dim: int = 1, end_dim=-1) -> Array:
    """``x`` with axes ``start_dim..end_dim`` merged into one (``torch.flatten``); a view
    where NumPy can make one."""
    start = start_dim % x.ndim
    end = end_dim % x.ndim
    return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1 :])


@primitive
def reshape(x: Array, shape: tuple[int, ...]) -> Array:
    """``x.reshape(shape)``."""
    return x.reshape(shape)


def _flatten_adjoint(z, x, start_dim=1, end_dim=-1):
    d[x] += d[z].reshape(x.shape)


def _flatten_tangent(z, x, start_dim=1, end_dim=-1):
    d[z] += d[x].reshape(z.shape)


def _reshape_adjoint(z, x, shape):
    d[x] += d[z].reshape(x.shape)


def _reshape_tangent(z, x, shape):
    d[z] += d[x].reshape(z.shape)


defvjp(flatten, _flatten_adjoint)
defjvp(flatten, _flatten_tangent)
defvjp(reshape, _reshape_adjoint)
defjvp(reshape, _reshape_tangent)
