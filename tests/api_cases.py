"""Functions used by tests/test_api.py (sourcegrad needs their source on disk)."""

from collections import namedtuple

import numpy as np

Pair = namedtuple("Pair", "w b")
SCALE = 2.0


def quadratic(x, y):
    return np.sum(x * y + x**2)


def uses_global(x):
    return np.sum(SCALE * x**2)


def make_closure(k):
    def inner(x):
        return np.sum(np.sin(k * x))

    return inner


def constants_inside(x, labels):
    n = len(labels)
    idx = np.argmax(x, axis=1)
    shape = x.shape
    mask = (x > 0).astype(float)
    print("batch", n, shape[0])
    picked = x[np.arange(n), labels]
    return np.sum(picked) + np.sum(mask * x) + float(idx[0]) * 0.0


def with_aux(x):
    loss = np.sum(x**2)
    return loss, {"norm": np.sqrt(loss), "n": x.size}


def tree_loss(p, x):
    return np.sum((x @ p.w + p.b) ** 2) + np.sum(p.w)


def float_param(params, x):
    return params["a"] * np.sum(x) + params["b"] ** 2


def only_a(params):
    return np.sum(np.exp(params["a"]))


def identity_like(x, y):
    return np.sum(x * y)


def add_both(x, y):
    return np.sum(np.sin(x + y))


def softplus(x):
    return np.log1p(np.exp(x))


def uses_softplus(x):
    return np.sum(softplus(x))


def dtype_chain(x, w):
    h = np.tanh(x @ w)
    return np.mean(h**2) + np.sum(np.maximum(h, 0.1))


def array_valued(x):
    return np.tanh(x) * 2.0
