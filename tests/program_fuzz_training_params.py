"""What the training loops of the program fuzzer's training family
(``tests/program_fuzz_training.py``) do to the caller's parameters and settings between two
calls of a derivative: a step in place (``p -= lr * g``, ``np.copyto``, ``p[...] = ``, an
object's field, an optimizer of ``sourcegrad.optim``) or into new containers (a dict's keys
reordered, ``dataclasses.replace``), a cast to another dtype, a layer added to a list, and a
settings object or a layer's setting changed in place."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np

import sourcegrad as sg
from tests import program_fuzz as pf

LR = 0.05


def cast(tree, dtype):
    """``tree`` rebuilt with its floating array leaves cast to ``dtype`` (integer arrays and
    floats kept)."""
    out = [
        leaf.astype(dtype) if isinstance(leaf, np.ndarray) and leaf.dtype.kind == "f" else leaf
        for leaf in pf.leaves(tree)
    ]
    return pf.unflatten(tree, iter(out))


def _step_array(leaf, g, how):
    if how == "sub":
        leaf -= LR * g
    elif how == "copyto":
        np.copyto(leaf, leaf - LR * g, casting="same_kind")
    else:
        leaf[...] = leaf - LR * g


def _in_place(tree, it, how):
    """Update ``tree``'s leaves in place from the gradient leaves ``it`` the way a training
    loop does (an array in place, a float in its container); returns ``tree`` or, for a tuple
    holding a float, a new tuple."""
    if pf.is_record(tree):
        for name, v in pf.record_leaf_fields(tree).items():
            new = _in_place(v, it, how)
            if new is not v:
                object.__setattr__(tree, name, new)
        return tree
    if isinstance(tree, (dict, list)):
        for k in list(tree) if isinstance(tree, dict) else range(len(tree)):
            new = _in_place(tree[k], it, how)
            if new is not tree[k]:
                tree[k] = new
        return tree
    if isinstance(tree, tuple):
        items = [_in_place(v, it, how) for v in tree]
        if all(a is b for a, b in zip(items, tree)):
            return tree
        return type(tree)(*items) if hasattr(tree, "_fields") else tuple(items)
    g = next(it)
    if isinstance(tree, np.ndarray):
        _step_array(tree, g, how)
        return tree
    return tree - LR * np.float64(g)  # (an np.float64 from now on, as ``p.s -= lr * g.s``)


def _rebuilt(tree, it, reorder=False):
    """A new tree of new arrays ``leaf - lr * g`` (``dataclasses.replace`` for a dataclass;
    with ``reorder``, dicts with their keys in the reverse order)."""
    if pf.is_record(tree):
        new = {name: _rebuilt(v, it, reorder) for name, v in pf.record_leaf_fields(tree).items()}
        if dataclasses.is_dataclass(tree):
            try:
                return dataclasses.replace(tree, **new)
            except (TypeError, ValueError):
                pass
        out = copy.copy(tree)
        for name, v in new.items():
            object.__setattr__(out, name, v)
        return out
    if isinstance(tree, dict):
        new = {k: _rebuilt(v, it, reorder) for k, v in tree.items()}
        return {k: new[k] for k in reversed(new)} if reorder else new
    if isinstance(tree, list):
        return [_rebuilt(v, it, reorder) for v in tree]
    if isinstance(tree, tuple):
        items = [_rebuilt(v, it, reorder) for v in tree]
        return type(tree)(*items) if hasattr(tree, "_fields") else tuple(items)
    g = next(it)
    if isinstance(tree, np.ndarray):
        return (tree - LR * g).astype(tree.dtype)
    return tree - LR * float(g)


def updated(st, grad, how):
    """The parameters after a step with ``grad`` (a tree like them) made ``how``."""
    if how == "reordered":  # (where the function still runs with its dicts reordered)
        new = _rebuilt(st.params, iter(pf.leaves(grad)), True)
        try:
            st.python((new, *st.data), st.keywords)
            return new
        except Exception:  # noqa: BLE001 - it iterates over a dict's order
            how = "rebuild"
    if how == "rebuild":
        return _rebuilt(st.params, iter(pf.leaves(grad)))
    if how == "optim":
        try:
            n = len(pf.leaves(st.params))
            if st.optimizer is None or st.optimizer[:2] != (id(st.params), n):
                kind = sg.optim.Adam if st.rng.random() < 0.5 else sg.optim.SGD
                st.optimizer = (id(st.params), n, kind(st.params, lr=LR))
            st.optimizer[2].step(grad)
            return st.params
        except sg.SourcegradError:  # (parameters it does not update: records, floats)
            st.optimizer = None
    return _in_place(st.params, iter(pf.leaves(grad)), how if how in _ARRAY_STEPS else "sub")


_ARRAY_STEPS = ("sub", "copyto", "slice")


def grown(last, rng):
    """A new square last layer like ``last`` (a ``(W, b)`` tuple, a dict or a record with
    ``W`` and ``b``), or None."""
    if isinstance(last, tuple) and not hasattr(last, "_fields") and len(last) == 2:
        W, b = last
    elif isinstance(last, dict) and {"W", "b"} <= set(last):
        W, b = last["W"], last["b"]
    elif hasattr(last, "W") and hasattr(last, "b"):
        W, b = last.W, last.b
    else:
        return None
    if not (isinstance(W, np.ndarray) and isinstance(b, np.ndarray) and b.ndim == 1):
        return None
    W2 = rng.normal(0, 0.5, (b.size, b.size)).astype(W.dtype)
    b2 = rng.normal(0, 0.2, b.size).astype(b.dtype)
    if isinstance(last, tuple) and not hasattr(last, "_fields"):
        return (W2, b2)
    if isinstance(last, dict):
        return {**last, "W": W2, "b": b2}
    if hasattr(last, "_replace"):
        return last._replace(W=W2, b=b2)
    out = copy.copy(last)
    object.__setattr__(out, "W", W2)
    object.__setattr__(out, "b", b2)
    return out


_SWAP = {np.tanh: np.sin, np.sin: np.tanh}


def change_objects(how, cfg, params) -> None:
    """Change the settings object ``cfg`` (a keyword argument) in place, or (``setting``) a
    setting of the parameters' records: an activation swapped, an int of 1 or 2 toggled."""
    if how is None:
        return
    if how == "setting":
        for rec in _records(params):
            for name, v in pf.record_fields(rec).items():
                if isinstance(v, np.ufunc) and v in _SWAP:
                    object.__setattr__(rec, name, _SWAP[v])
                elif type(v) is int and v in (1, 2) and name != "calls":
                    object.__setattr__(rec, name, 3 - v)
        return
    if cfg is None:
        return
    if how == "scale":
        cfg.scale = round(cfg.scale * 0.9, 4)
    elif how == "act":
        cfg.act = _SWAP.get(cfg.act, np.tanh)
    elif how == "shift":
        cfg.shift *= -1.0
    else:
        cfg.steps = 3 - cfg.steps


def _records(tree):
    if pf.is_record(tree):
        yield tree
        for v in pf.record_fields(tree).values():
            yield from _records(v)
    elif isinstance(tree, dict):
        for v in tree.values():
            yield from _records(v)
    elif isinstance(tree, (list, tuple)):
        for v in tree:
            yield from _records(v)
