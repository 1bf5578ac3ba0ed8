"""Numerically stable functions to call inside losses that sourcegrad differentiates.

Each is a :func:`sourcegrad.primitive` computed in plain NumPy (so it runs on CuPy arrays too,
NumPy dispatching to CuPy) with a reverse and a forward rule template
(:func:`sourcegrad.defvjp`, :func:`sourcegrad.defjvp`). The templates use only NumPy
operations, sourcegrad's runtime helpers and these functions themselves, all of which have both
rules, so derivatives of every order exist (``hvp``, ``hessian``, ``grad(grad(...))``), and
the generated code shows each rule inlined. sourcegrad never reads this module's source (it
does not transform its own package's functions), which is why the rules are written here.

Each works along any ``axis`` (``None``: over all elements) and keeps float32 float32.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from ..rules import d, defjvp, defvjp, nondifferentiable, primitive
from ..runtime.helpers import expand_to
from .tree import Array, array_module

__all__ = [
    "cat", "log_sigmoid", "log_softmax", "log_sum_exp", "max_shift", "one_hot", "sigmoid",
    "softmax", "softplus", "stop_gradient",
]  # fmt: skip

#: ``cat(arrays, axis=0)``: the arrays of a list or tuple joined along ``axis``. It *is*
#: ``np.concatenate``, so sourcegrad differentiates it with NumPy's own rules.
cat = np.concatenate


def stop_gradient(x: Array) -> Array:
    """``x`` itself, as a constant for differentiation: no gradient flows through it."""
    return x


def max_shift(x: Array, axis: int = -1) -> Array:
    """The maximum of ``x`` along ``axis`` (kept as a length-1 axis), with non-finite maxima
    replaced by 0: the shift that keeps ``exp(x - shift)`` from overflowing. A constant for
    differentiation (the functions below are exact whatever the shift)."""
    m = np.max(x, axis=axis, keepdims=True)
    return np.where(np.isfinite(m), m, 0.0)


def one_hot(labels: Array, n, dtype: DTypeLike = np.float64) -> Array:
    """Rows of the identity: ``out[..., k] == (labels[...] == k)``, of shape
    ``labels.shape + (n,)`` and ``dtype``, on the device of ``labels``. Labels outside
    ``0 .. n-1`` raise ``ValueError``. A constant for differentiation."""
    xp = array_module(labels)
    labels = xp.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise ValueError(f"one_hot: labels must be integers, got dtype {labels.dtype}")
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= n):
        raise ValueError(f"one_hot: labels must lie in 0 .. {n - 1}")
    return (labels[..., None] == xp.arange(n)).astype(dtype)


nondifferentiable(stop_gradient, max_shift, one_hot)


@primitive
def log_sum_exp(x: Array, axis: int = -1, keepdims: bool = False) -> Array:
    """``log(sum(exp(x), axis))`` without overflow or underflow: exact for any finite ``x``,
    ``inf`` where an element is ``inf``, ``-inf`` where all are ``-inf``. Its gradient is
    ``softmax(x, axis)``."""
    m = max_shift(x, axis)
    s = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return s if keepdims else np.squeeze(s, axis=axis)


def _log_sum_exp_rule(z, x, axis=-1, keepdims=False):
    d[x] += expand_to(d[z], x, axis, keepdims) * np.exp(x - expand_to(z, x, axis, keepdims))


def _log_sum_exp_tangent(z, x, axis=-1, keepdims=False):
    d[z] += np.sum(d[x] * np.exp(x - expand_to(z, x, axis, keepdims)), axis=axis, keepdims=keepdims)


@primitive
def log_softmax(x: Array, axis: int = -1) -> Array:
    """``x - log_sum_exp(x, axis)``: log-probabilities from unnormalised scores, exact for
    large scores (no ``log(0)`` where the softmax underflows)."""
    shifted = x - max_shift(x, axis)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _log_softmax_rule(z, x, axis=-1):
    d[x] += d[z] - np.exp(z) * np.sum(d[z], axis=axis, keepdims=True)


def _log_softmax_tangent(z, x, axis=-1):
    d[z] += d[x] - np.sum(np.exp(z) * d[x], axis=axis, keepdims=True)


@primitive
def softmax(x: Array, axis: int = -1) -> Array:
    """``exp(x) / sum(exp(x), axis)`` without overflow; sums to 1 along ``axis``."""
    e = np.exp(x - max_shift(x, axis))
    return e / np.sum(e, axis=axis, keepdims=True)


def _softmax_rule(z, x, axis=-1):
    d[x] += z * (d[z] - np.sum(d[z] * z, axis=axis, keepdims=True))


def _softmax_tangent(z, x, axis=-1):
    d[z] += z * (d[x] - np.sum(d[x] * z, axis=axis, keepdims=True))


@primitive
def sigmoid(x: Array) -> Array:
    """``1 / (1 + exp(-x))`` with no overflow for any ``x`` and full relative precision for
    very negative ``x`` (``sigmoid(-40.0)`` is ``4.25e-18``, not 0): from ``exp(-|x|)``,
    which never overflows (six times faster than through ``np.logaddexp``)."""
    e = np.exp(-np.abs(x))
    s = 1.0 / (1.0 + e)
    return np.where(x >= 0, s, e * s)


def _sigmoid_rule(z, x):
    d[x] += d[z] * (z * (1.0 - z))


def _sigmoid_tangent(z, x):
    d[z] += d[x] * (z * (1.0 - z))


@primitive
def log_sigmoid(x: Array) -> Array:
    """``log(sigmoid(x))``, exact for large ``|x|`` (``x`` for very negative ``x``)."""
    return -np.logaddexp(0.0, -x)


def _log_sigmoid_rule(z, x):
    d[x] += d[z] * sigmoid(-x)


def _log_sigmoid_tangent(z, x):
    d[z] += d[x] * sigmoid(-x)


@primitive
def softplus(x: Array) -> Array:
    """``log(1 + exp(x))``, exact for large ``|x|`` (``x`` for very large ``x``); its
    derivative is ``sigmoid(x)``."""
    return np.logaddexp(0.0, x)


def _softplus_rule(z, x):
    d[x] += d[z] * sigmoid(x)


def _softplus_tangent(z, x):
    d[z] += d[x] * sigmoid(x)


for _fn, _rule, _tangent in [
    (log_sum_exp, _log_sum_exp_rule, _log_sum_exp_tangent),
    (log_softmax, _log_softmax_rule, _log_softmax_tangent),
    (softmax, _softmax_rule, _softmax_tangent),
    (sigmoid, _sigmoid_rule, _sigmoid_tangent),
    (log_sigmoid, _log_sigmoid_rule, _log_sigmoid_tangent),
    (softplus, _softplus_rule, _softplus_tangent),
]:
    defvjp(_fn, _rule)
    defjvp(_fn, _tangent)
