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

    Make one with :meth:`of`: the arguments of the constructor are shared by every thread's
    instance (``threading.local`` calls it again in each thread that reads the pool)."""

    def __init__(self, layouts: tuple, made: list):
        self.layouts = layouts  # (shape, dtype) per buffer
        self.spare: list = []  # this thread's sets not in use
        self._made = made  # weak references to every buffer made, in any thread

    @classmethod
    def of(cls, layouts) -> BufferPool:
        """A pool of buffer sets of ``layouts``, a sequence of ``(shape, dtype)``."""
        return cls(tuple(layouts), [])

    def new(self) -> list:
        """A new set of buffers (uninitialised arrays of the layouts)."""
        buffers = [np.empty(shape, dtype) for shape, dtype in self.layouts]
        self._made[:] = [r for r in self._made if r() is not None] + [
            weakref.ref(b) for b in buffers
        ]
        return buffers

    def held_bytes(self) -> int:
        """Bytes of the buffers this pool has made that are still alive, in every thread."""
        alive = [r() for r in list(self._made)]
        return sum(b.nbytes for b in alive if b is not None)
