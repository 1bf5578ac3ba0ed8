"""What the rules of ``scipy.linalg.expm`` call (``sourcegrad/rules/scipy_linalg.py``): the
Fréchet derivative of the matrix exponential, ``scipy.linalg.expm_frechet``, for a matrix or a
stack of them, and the block matrix whose exponential holds it, so that the Fréchet
derivative's own derivative is one again (every order, each twice the size of the last).

``scipy.linalg`` is read from ``sys.modules``: these run only after the user's code called
``scipy.linalg.expm``, and importing sourcegrad does not import scipy."""

from __future__ import annotations

import sys

import numpy as np

from .facts import helper


@helper(tangent_rule=True)
def frechet(x, e):
    """``scipy.linalg.expm_frechet(x, e, compute_expm=False)``: the derivative of ``expm`` at
    ``x`` in the direction ``e`` (over the leading axes of a stack). Linear in ``e``."""
    linalg = sys.modules["scipy.linalg"]
    x, e = np.asarray(x), np.asarray(e)
    if x.ndim == 2:
        return linalg.expm_frechet(x, e, compute_expm=False, check_finite=False)
    shape = np.broadcast_shapes(x.shape, e.shape)
    xs = np.reshape(np.broadcast_to(x, shape), (-1,) + shape[-2:])
    es = np.reshape(np.broadcast_to(e, shape), (-1,) + shape[-2:])
    out = [
        linalg.expm_frechet(a, b, compute_expm=False, check_finite=False) for a, b in zip(xs, es)
    ]
    return np.reshape(np.array(out), shape)


@helper(linear=("x", "e"), jointly=True)
def frechet_block(x, e):
    """``[[x, e], [0, x]]`` over the last two axes (None: zeros), whose exponential holds
    ``expm(x)`` on the diagonal and ``frechet(x, e)`` at the upper right. Linear in ``(x, e)``
    together."""
    like = x if x is not None else e
    x = np.zeros_like(like) if x is None else np.asarray(x)
    e = np.zeros_like(like) if e is None else np.asarray(e)
    x, e = np.broadcast_arrays(x, e)
    top = np.concatenate([x, e], axis=-1)
    bottom = np.concatenate([np.zeros_like(x), x], axis=-1)
    return np.concatenate([top, bottom], axis=-2)


@helper(linear=("m",))
def upper_right(m):
    """The upper right quarter of ``m`` over its last two axes."""
    n = np.shape(m)[-1] // 2
    return m[..., :n, n:]
