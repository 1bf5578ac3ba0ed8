"""Pass 5b — optimize: the derivative that runs, made from the one that is shown.

The simplified derivative (the *pure* one) is what ``source``/``show`` print and what higher
derivatives transform again. This pass copies it and rewrites the copy for speed, keeping its
results identical (up to rounding where a product runs through BLAS):

* zero resets of per-iteration adjoints are dropped, then values the tape kept only for a
  zero reset or a shape are dropped from it or kept as shapes (``shape_of``);
* with the argument *shapes* known (:mod:`sourcegrad.transform.shapes`), ``sum_to``,
  ``unreduce`` and ``expand_to`` are decided at transform time, and an elementwise operation
  whose operand is owned (below), dead afterwards and of the result's shape and dtype writes
  into that operand's buffer (``np.add(h1_1, b0, out=h1_1)``);
* an adjoint accumulation ``a = a + e`` becomes ``a += e`` when ``a`` holds an array that the
  derivative itself allocated and that no other name, container or tape entry can reach (an
  ownership analysis over the structured code: a value is *owned* after a statement that
  creates a new array, and stops being owned as soon as it is read where the result may share
  its memory: a plain copy, a view, a container, a call sourcegrad does not know);
* ``a @ b`` of vectors and matrices becomes ``np.dot(a, b)``: the same product, but NumPy's
  ``matmul`` takes a slow path for an outer product like ``x.T @ g`` at batch 1 (9 µs where
  ``np.dot`` takes 2);
* with the argument signature known, ``gradient_like(params, {path: value, ...})`` becomes a
  call to a builder generated for that signature's container structure
  (:func:`sourcegrad.runtime.containers.gradient_builder`), which walks no containers;
* ``np.einsum`` of two operands runs as :func:`~sourcegrad.runtime.linalg_helpers.contract`
  (``tensordot``) and ``uneinsum`` computes only the adjoints read; full sums of NumPy arrays
  run as ``np.add.reduce``;
* with shapes known and NumPy arguments only, also: a forward product computed twice is
  computed once (:mod:`.subexpressions`), a large temporary NumPy would not reuse is named
  so that the operation reading it runs in its buffer (:mod:`.temporaries`), sums of
  same-shape float64 products run as ``np.vdot``, a ReLU's mask is taken early, and a body
  that is one elementwise chain over large arrays runs block by block
  (:mod:`.chunk`); intermediates are computed into buffers kept from one call to the next,
  and large ones released after their last use (:mod:`.pool`).

The order of the rewrites, and the facts each needs, is the list
:data:`~sourcegrad.transform.optimize.driver.REWRITES`; :mod:`.fuse` (loop nests of products
as one contraction, on the core form) runs before the analysis of a shape-specialised build,
:mod:`.chunk` and :mod:`.pool` are rewrites of the list.

Guarantees to ``emit``: a ``Derivative`` computing exactly what the pure one computes.
"""

from __future__ import annotations

from . import chunk, fuse, pool
from .driver import REWRITES, Rewrite, optimize
from .dtypes import known_dtypes
from .fuse import fuse_contractions, may_fuse

__all__ = [
    "REWRITES",
    "Rewrite",
    "chunk",
    "fuse",
    "fuse_contractions",
    "known_dtypes",
    "may_fuse",
    "optimize",
    "pool",
]
