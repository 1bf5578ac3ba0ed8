"""Buffers a shape-specialised derivative keeps from one call to the next."""

from __future__ import annotations

import threading
import weakref

import numpy as np


class BufferPool(threading.local):
    """The spare buffer sets of one derivative build, per thread: generated code takes
    ``pool.spare.pop()`` (or :meth:`new` when this thread's sets are all in use, as when the
    derivative is reached again from inside itself) and appends the set back right before it
    returns. A call that raises does not give its set back; the next one makes a new one.
    Sets live as long as the derivative and the thread that made them.

    A set is a list of arrays, each a view of one of a few memory blocks: arrays the code
    never needs at the same time share a block (the transform decided which).

    Make one with :meth:`of`: the arguments of the constructor are shared by every thread's
    instance (``threading.local`` calls it again in each thread that reads the pool)."""

    def __init__(self, blocks: tuple, views: tuple, made: list):
        self.blocks = blocks  # bytes per memory block
        self.views = views  # (block, shape, dtype) per buffer
        self.spare: list = []  # this thread's sets not in use
        self._made = made  # weak references to every block made, in any thread

    @classmethod
    def of(cls, blocks, views) -> BufferPool:
        """A pool of buffer sets: ``views`` ``(block, shape, dtype)`` of memory ``blocks``
        (sizes in bytes)."""
        return cls(tuple(blocks), tuple((b, tuple(s), np.dtype(d)) for b, s, d in views), [])

    @property
    def layouts(self) -> tuple:
        """``(shape, dtype)`` of each buffer of a set."""
        return tuple((shape, dtype) for _, shape, dtype in self.views)

    def new(self) -> list:
        """A new set of buffers (uninitialised), C-contiguous views of new memory blocks."""
        blocks = [np.empty(size, np.uint8) for size in self.blocks]
        self._made[:] = [r for r in self._made if r() is not None] + [
            weakref.ref(b) for b in blocks
        ]
        return [
            blocks[b][: int(np.prod(shape)) * dtype.itemsize].view(dtype).reshape(shape)
            for b, shape, dtype in self.views
        ]

    def held_bytes(self) -> int:
        """Bytes of the memory blocks this pool has made that are still alive, in every
        thread."""
        alive = [r() for r in list(self._made)]
        return sum(b.nbytes for b in alive if b is not None)
