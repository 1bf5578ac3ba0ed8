"""Functions growing lists held inside containers in loops, for ``test_linear_lists.py``."""

from __future__ import annotations

import numpy as np


def cache_dict(W, xs):
    cache = {"hs": []}
    h = np.zeros(W.shape[0])
    for x in xs:
        h = np.tanh(W @ h + x)
        cache["hs"].append(h)
    return np.sum(np.stack(cache["hs"]) ** 2)


def layer_cache(W, xs):
    layer = {"W": W, "cache": [], "steps": 0}
    h = np.zeros(W.shape[0])
    for x in xs:
        h = np.tanh(layer["W"] @ h + x)
        layer["cache"].append(h)
        layer["steps"] += 1
    return np.sum(np.stack(layer["cache"]) ** 2) / layer["steps"]


def two_lists(W, xs):
    """Two lists of one dict, one of them given an item when it is made."""
    cache = {"hs": [np.zeros(W.shape[0])], "cs": []}
    h = cache["hs"][0]
    for x in xs:
        h = np.sin(W @ h + x)
        cache["hs"].append(h)
        cache["cs"].append(h * x)
    return np.sum(np.stack(cache["hs"]) ** 2) + np.sum(np.stack(cache["cs"]))


def kept_after_growth(W, xs):
    """The list is put in a tuple once it has stopped growing."""
    hs = []
    h = np.zeros(W.shape[0])
    for x in xs:
        h = np.tanh(W @ h + x)
        hs.append(h)
    pair = (hs, len(hs))
    return np.sum(np.stack(pair[0]) ** 2) / pair[1]


def kept_then_grown(W, xs):
    """The list is put in a container, then grows again: Python's container sees the item."""
    hs = []
    h = np.zeros(W.shape[0])
    for x in xs:
        h = np.tanh(W @ h + x)
        hs.append(h)
    box = [hs]
    hs.append(2.0 * h)
    return np.sum(np.stack(box[0]) ** 2)


def into_argument(W, xs, cache):
    """The caller's list grows: the caller sees Python's items in that very list."""
    h = np.zeros(W.shape[0])
    for x in xs:
        h = np.tanh(W @ h + x)
        cache["hs"].append(h)
    return np.sum(np.stack(cache["hs"]) ** 2)


def set_default(W, xs):
    d = {}
    h = np.zeros(W.shape[0])
    for x in xs:
        h = np.tanh(W @ h + x)
        d.setdefault("hs", []).append(h)
    return np.sum(np.stack(d["hs"]) ** 2)


GROWN = [cache_dict, layer_cache, two_lists, kept_after_growth]


def make_args(steps=6, width=3, seed=0):
    rng = np.random.default_rng(seed)
    return 0.5 * rng.normal(size=(width, width)), rng.normal(size=(steps, width))


def copy_of_argument(W, xs, start):
    """A copy of the caller's list, the function's own, grows; the caller's stays."""
    cache = {"hs": list(start)}
    h = start[-1]
    for x in xs:
        h = np.tanh(W @ h + x)
        cache["hs"].append(h)
    return np.sum(np.stack(cache["hs"]) ** 2)


def while_steps(W, xs):
    """Values a `while` loop's step makes afresh (``a``, ``u``) and one it carries (``h``)."""
    h = np.zeros(W.shape[0])
    t = 0
    while t < xs.shape[0]:
        a = W @ h + xs[t]
        u = np.sin(a)
        h = np.tanh(a) * u
        t += 1
    return np.sum(h**2)


def nested_steps(W, xs):
    """Values made afresh in an inner loop's step and in a branch of a step."""
    h = np.zeros(W.shape[0])
    for x in xs:
        for k in range(2):
            a = W @ h + x * (k + 1.0)
            h = np.tanh(a)
        if np.sum(x) > 0:
            b = np.cos(h)
            h = h * b
    return np.sum(h**2)


STEPS = [two_lists, while_steps, nested_steps]


def set_default_two_keys(W, xs):
    """Two keys ``setdefault`` adds in an order a step decides; one may never be added."""
    d = {}
    h = np.zeros(W.shape[0])
    for x in xs:
        h = np.tanh(W @ h + x)
        if np.sum(x) > 0:
            d.setdefault("pos", []).append(h)
        d.setdefault("every", []).extend([h, 2.0 * h])
    scale = float(len(list(d)[0]))  # (Python's order of the keys: 3.0 or 5.0)
    return scale * np.sum(np.stack(d["every"]) ** 2) + np.sum(np.stack(d.get("pos", [h])))


def set_default_read_in_loop(W, xs):
    """The list is read in the loop after it grows there."""
    d = {}
    h = np.zeros(W.shape[0])
    for x in xs:
        h = np.tanh(W @ h + x)
        d.setdefault("hs", []).append(h)
        h = h + 0.1 * d["hs"][0]
    return np.sum(np.stack(d["hs"]) ** 2)


def set_default_read_first(W, xs):
    """The dict is read before its list grows: ``setdefault`` stays a read of the dict's
    list and a store of it grown."""
    d = {}
    h = np.zeros(W.shape[0])
    for x in xs:
        h = np.tanh(W @ h + x) * (1.0 + 0.5 * len(d))
        d.setdefault("hs", []).append(h)
    return np.sum(np.stack(d["hs"]) ** 2)


SET_DEFAULT = [set_default, set_default_two_keys, set_default_read_in_loop, set_default_read_first]
