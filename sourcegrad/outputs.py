"""What a derivative hands its caller: gradients written into the arrays an earlier call
handed out (``stable_gradients=True``), and tangents that are never the caller's own arrays."""

from __future__ import annotations

import numpy as np

from .runtime.containers import children, is_container, rebuild
from .runtime.signature import call_signature

__all__ = ["copy_into", "kept_arrays", "not_aliasing"]


def copy_into(kept, new):
    """``kept`` with ``new``'s values written into its arrays (same structure)."""
    if is_container(kept):
        new_children = dict(children(new))
        return rebuild(kept, {k: copy_into(v, new_children[k]) for k, v in children(kept)})
    if isinstance(kept, np.generic):  # a NumPy scalar is immutable, like a float
        return new
    if isinstance(kept, np.ndarray) or hasattr(kept, "__array_namespace__"):
        kept[...] = new
        return kept
    return new


def kept_arrays(store: dict, grads):
    """``grads`` written into the arrays ``store`` keeps for their signature (the first
    gradients of that signature, kept there and returned as they are)."""
    key = call_signature(grads)
    kept = store.get(key)
    if kept is None:
        store[key] = grads
        return grads
    return copy_into(kept, grads)


def not_aliasing(tangent, given):
    """``tangent``, copied where it is one of the caller's own tangent arrays."""
    given = given if isinstance(given, tuple) else (given,)
    ids = {id(g) for g in given if hasattr(g, "shape")}
    if id(tangent) in ids:
        return tangent.copy()
    if isinstance(tangent, tuple) and any(id(t) in ids for t in tangent):
        items = [t.copy() if id(t) in ids else t for t in tangent]
        return type(tangent)(*items) if hasattr(type(tangent), "_fields") else tuple(items)
    return tangent
