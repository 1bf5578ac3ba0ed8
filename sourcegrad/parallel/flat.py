"""A tree of arrays as views of one flat buffer per dtype, so that one collective per dtype
moves the whole tree.

``FlatTree(like)`` allocates, for each floating-point dtype among ``like``'s array leaves, one
contiguous buffer holding every leaf of that dtype one after the other (in
:func:`~sourcegrad.util.tree.tree_leaves` order, C order within a leaf), plus ``extra`` spare
entries at the end of the first buffer. ``flat.tree`` is a tree of ``like``'s structure whose
array leaves are views of those buffers; its other leaves (ints, strings, None) are
``like``'s own.
"""

from __future__ import annotations

import numpy as np

from ..util.tree import is_static_leaf, path_text, tree_leaves_with_paths, tree_structure
from .comm import ParallelError

__all__ = ["FlatTree"]


class FlatTree:
    """Views of flat per-dtype buffers laid out like ``like`` (see the module docstring).
    Leaves must be NumPy arrays of a floating-point dtype or static leaves."""

    def __init__(self, like, extra: int = 0):
        self.treedef = tree_structure(like)
        sizes: dict = {}
        places = []  # per leaf: None (static) or (dtype, start, shape)
        for path, leaf in tree_leaves_with_paths(like):
            if is_static_leaf(leaf):
                places.append(None)
                continue
            if not isinstance(leaf, np.ndarray) or leaf.dtype.kind != "f":
                raise ParallelError(
                    f"the parameter at {path_text(path)} is a {type(leaf).__name__} "
                    f"{getattr(leaf, 'dtype', '')}: data-parallel training takes NumPy "
                    "floating-point arrays"
                )
            start = sizes.get(leaf.dtype, 0)
            places.append((leaf.dtype, start, leaf.shape))
            sizes[leaf.dtype] = start + leaf.size
        if not sizes:
            raise ParallelError("no parameter arrays to train")
        self.dtypes = list(sizes)
        self.extra = extra
        self.buffers = {
            dt: np.zeros(n + (extra if i == 0 else 0), dtype=dt)
            for i, (dt, n) in enumerate(sizes.items())
        }
        self.places = places
        statics = [leaf for _, leaf in tree_leaves_with_paths(like)]
        views = [statics[i] if p is None else self.view(*p) for i, p in enumerate(self.places)]
        self.leaves = views
        self.tree = self.treedef.unflatten(views)

    def view(self, dtype, start: int, shape: tuple) -> np.ndarray:
        size = int(np.prod(shape, dtype=np.int64))
        return self.buffers[dtype][start : start + size].reshape(shape)

    @property
    def spare(self) -> np.ndarray:
        """The ``extra`` entries at the end of the first buffer (a view)."""
        first = self.buffers[self.dtypes[0]]
        return first[first.size - self.extra :]

    def assign(self, tree, scale: float | None = None) -> None:
        """Copy ``tree`` (of this layout's structure and shapes) into the views, times
        ``scale`` where given (one pass per leaf, no temporary)."""
        if tree_structure(tree) != self.treedef:
            raise ParallelError(
                f"a tree of structure {tree_structure(tree)} where the parameters have "
                f"{self.treedef}"
            )
        for view, (path, leaf) in zip(self.leaves, tree_leaves_with_paths(tree)):
            if not isinstance(view, np.ndarray):
                continue
            if np.shape(leaf) != view.shape:
                raise ParallelError(
                    f"at {path_text(path)}: an array of shape {np.shape(leaf)} where the "
                    f"parameter has shape {view.shape}"
                )
            if scale is None:
                np.copyto(view, leaf)
            else:
                np.multiply(leaf, scale, out=view)

    def zero(self) -> None:
        """Set every buffer (spare entries included) to zero."""
        for buffer in self.buffers.values():
            buffer.fill(0)

    def same_layout(self) -> FlatTree:
        """A new, zeroed :class:`FlatTree` of the same layout (for gradients)."""
        return FlatTree(self.tree, self.extra)
