"""Buffers a shape-specialised derivative keeps from one call to the next."""

from __future__ import annotations

import math
import threading
import weakref

import numpy as np

#: sets of buffers of symbolic shapes keep their views for this many lengths
KEPT_VIEWS = 64


class BufferSet(list):
    """One call's buffers (a list of arrays), with the dimensions they were sized for
    (``dims``, empty for a pool of fixed shapes), the memory blocks they are views of and,
    for symbolic shapes, the views made for other dimensions (``cut``: dims -> views)."""

    __slots__ = ("dims", "blocks", "cut")


class BufferPool(threading.local):
    """The spare buffer sets of one derivative build, per thread: generated code takes
    ``pool.spare.pop()`` (or :meth:`new` when this thread's sets are all in use, as when the
    derivative is reached again from inside itself) and appends the set back right before it
    returns. A call that raises does not give its set back; the next one makes a new one.
    Sets live as long as the derivative and the thread that made them.

    A set is a list of arrays, each a view of one of a few memory blocks: arrays the code
    never needs at the same time share a block (the transform decided which).

    A build that serves every shape of a pattern (see :mod:`sourcegrad.runtime.signature`)
    has *symbolic* buffers: a length ``-1 - j`` in a view's shape stands for the ``j``-th of
    the dimensions the call passes to :meth:`take`, which sizes the set on demand.

    Make one with :meth:`of`: the arguments of the constructor are shared by every thread's
    instance (``threading.local`` calls it again in each thread that reads the pool)."""

    def __init__(self, blocks: tuple, views: tuple, made: list):
        self.blocks = blocks  # bytes per memory block (of a fixed-shape pool)
        self.views = views  # (block, shape, dtype) per buffer
        self.spare: list = []  # this thread's sets not in use
        self._made = made  # weak references to every block made, in any thread

    @classmethod
    def of(cls, blocks, views) -> BufferPool:
        """A pool of buffer sets: ``views`` ``(block, shape, dtype)`` of memory ``blocks``
        (sizes in bytes; for symbolic shapes, the least each block is made)."""
        return cls(tuple(blocks), tuple((b, tuple(s), np.dtype(d)) for b, s, d in views), [])

    @property
    def layouts(self) -> tuple:
        """``(shape, dtype)`` of each buffer of a set (lengths ``-1 - j``: symbolic)."""
        return tuple((shape, dtype) for _, shape, dtype in self.views)

    def shapes(self, dims: tuple = ()) -> list:
        """The shape of each buffer of a set sized for ``dims``."""
        return [tuple(dims[-1 - n] if n < 0 else n for n in s) for _, s, _ in self.views]

    def _sizes(self, shapes) -> list:
        """Bytes each memory block needs for buffers of ``shapes``."""
        sizes = list(self.blocks)
        for (b, _, dtype), shape in zip(self.views, shapes):
            sizes[b] = max(sizes[b], math.prod(shape) * dtype.itemsize)
        return sizes

    def new(self, dims: tuple = ()) -> BufferSet:
        """A new set of buffers (uninitialised) sized for ``dims``, C-contiguous views of new
        memory blocks."""
        shapes = self.shapes(dims)
        blocks = [np.empty(size, np.uint8) for size in self._sizes(shapes)]
        self._made[:] = [r for r in self._made if r() is not None] + [
            weakref.ref(b) for b in blocks
        ]
        return self._viewed(BufferSet(), blocks, shapes, dims)

    def _viewed(self, got: BufferSet, blocks, shapes, dims) -> BufferSet:
        got[:] = [
            blocks[b][: math.prod(shape) * dtype.itemsize].view(dtype).reshape(shape)
            for (b, _, dtype), shape in zip(self.views, shapes)
        ]
        got.dims, got.blocks, got.cut = dims, blocks, {dims: list(got)}
        return got

    def take(self, spare: list, dims: tuple) -> BufferSet:
        """A set of buffers sized for ``dims``: this thread's spare one (``spare``, the
        pool's ``spare`` list), its buffers made again for ``dims`` where they were sized for
        others (in its memory where that is large enough, never a buffer of another shape),
        or a new one."""
        if not spare:
            return self.new(dims)
        got = spare.pop()
        if got.dims == dims:
            return got
        views = got.cut.get(dims)
        if views is not None:  # cut for these lengths before
            got[:] = views
            got.dims = dims
            return got
        shapes = self.shapes(dims)
        sizes = self._sizes(shapes)
        if any(block.nbytes < size for block, size in zip(got.blocks, sizes)):
            return self.new(dims)  # the old set's memory goes with it
        cut = got.cut if len(got.cut) < KEPT_VIEWS else {}
        self._viewed(got, got.blocks, shapes, dims)
        cut[dims] = got.cut[dims]
        got.cut = cut
        return got

    def held_bytes(self) -> int:
        """Bytes of the memory blocks this pool has made that are still alive, in every
        thread."""
        alive = [r() for r in list(self._made)]
        return sum(b.nbytes for b in alive if b is not None)
