"""The pieces of a split: the shape of each array that ``np.split`` / ``np.array_split`` of an
array of known shape makes, for the concrete shapes of one argument signature
(:mod:`sourcegrad.transform.shapes`)."""

from __future__ import annotations

import gast
import numpy as np

__all__ = ["SplitPieces", "split_pieces"]


class SplitPieces:
    """What a name holding the tuple of a split is known to hold: the shape of each piece, in
    order. Such a name is never given a shape of its own (it holds no array)."""

    def __init__(self, shapes: tuple) -> None:
        self.shapes = shapes

    def __eq__(self, other) -> bool:
        return isinstance(other, SplitPieces) and other.shapes == self.shapes

    def __hash__(self) -> int:
        return hash(self.shapes)

    def piece(self, index):
        """``(shape, None)`` of the piece at the constant integer ``index`` (an atom), else
        None."""
        if not (isinstance(index, gast.Constant) and type(index.value) is int):
            return None
        if not -len(self.shapes) <= index.value < len(self.shapes):
            return None
        return self.shapes[index.value], None


def split_pieces(key, shape: tuple, sections, axis) -> SplitPieces | None:
    """The :class:`SplitPieces` of ``key(x, sections, axis)`` (``key``: ``np.split`` or
    ``np.array_split``) for an ``x`` of ``shape``, ``sections`` and ``axis`` atoms (``axis``
    None where not given): as NumPy makes them, for a constant count of sections (or constant
    indices) along a constant axis; None where unknown or where ``np.split`` would raise."""
    if not shape:
        return None
    if axis is None:
        axis = gast.Constant(value=0, kind=None)
    if not (isinstance(axis, gast.Constant) and type(axis.value) is int):
        return None
    if not -len(shape) <= axis.value < len(shape):
        return None
    at = axis.value % len(shape)
    lengths = _section_lengths(key, shape[at], sections)
    if lengths is None:
        return None
    return SplitPieces(tuple(shape[:at] + (n,) + shape[at + 1 :] for n in lengths))


def _section_lengths(key, n: int, sections):
    """The lengths along the axis of the pieces that splitting ``n`` by the constant
    ``sections`` (a count, or a tuple or list of indices) makes; None where unknown or where
    ``np.split`` would raise (a count that does not divide ``n``)."""
    if isinstance(sections, gast.Constant) and type(sections.value) is int:
        k = sections.value
        if k <= 0 or (key is np.split and n % k):
            return None
        return tuple(len(part) for part in np.array_split(np.empty(n), k))
    if isinstance(sections, (gast.Tuple, gast.List)) and all(
        isinstance(e, gast.Constant) and type(e.value) is int for e in sections.elts
    ):
        return tuple(len(part) for part in np.split(np.empty(n), [e.value for e in sections.elts]))
    return None
