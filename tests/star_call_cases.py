"""Programs that pass arguments with ``*`` and ``**`` the way model code does (read by
``test_star_calls.py``; kept in their own file because sourcegrad reads their source)."""

import numpy as np


def dense(x, W, b):
    return np.tanh(x @ W + b)


def norm(x, g, b, eps=1e-5):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return g * (x - m) / np.sqrt(v + eps) + b


def tuple_argument(p, x):
    return np.sum(dense(x, *p) ** 2)


def dict_of_keywords(p, x):
    return np.sum(norm(x, **p["ln"]) ** 3)


def shape_spliced(x):
    y = x.reshape(*x.shape[:-1], 2, 3)
    return np.sum(np.sin(y) * np.arange(2.0)[:, None])


def loop_over_layers(p, x):
    h = x
    for layer in p:
        h = dense(h, *layer)
    return np.sum(h)


def loop_over_norms(p, x):
    h = x
    for i, cfg in enumerate(p):
        h = norm(h, **cfg) * (i + 1.0)
    return np.sum(np.tanh(h))


def slice_spliced(p, x, *, scale=2.0):
    return scale * np.sum(norm(x, *p[1:]) ** 2) + np.sum(np.stack([*p[1:], p[0][0]]))


def display_spliced(W, b, x):
    return np.sum(dense(x, *(W, b)) ** 2)


def list_built_here(p, x):
    q = [a * 2 for a in p]
    return np.sum(dense(x, *q))


def keyword_twice(p, x):
    return np.sum(norm(x, g=p["ln"]["g"], **p["ln"]))


def loop_name_bound_again(p, x):
    h = x
    for layer in p:
        h = dense(h, *layer)
    for layer in p:
        h = h + 0.0 * np.sum(layer[1])
    return np.sum(h) + sum(np.sum(layer[0]) for layer in p)


def loop_item_rebound_before_the_splice(p, x):
    h = x
    for layer in p:
        layer = (layer[0], layer[1], layer[1])
        h = dense(h, *layer)
    return np.sum(h)
