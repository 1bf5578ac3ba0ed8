"""Functions whose derivative source is locked by golden files (tests/golden/*.py).

Line numbers here appear in the golden files: append new cases at the end.
"""

from collections import namedtuple

import numpy as np

Layer = namedtuple("Layer", "w b")


def neural_net(params, x, y):
    h1 = np.tanh(x @ params["W"][0] + params["b"][0])
    h2 = np.tanh(h1 @ params["W"][1] + params["b"][1])
    y_hat = h2 - np.log(np.sum(np.exp(h2)))
    return -np.sum(y_hat * y)


def softmax_cross_entropy(z, y):
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    return -np.mean(np.sum(y * np.log(p), axis=1))


def method_forms(x, w):
    h = x.dot(w).T
    s = h.sum(axis=1)
    return (s.reshape(-1, 1) ** 2).mean() + x.T.max()


def indexing(x, idx):
    a = x[0]
    b = x[1:, ::2]
    c = x[:, None, 1]
    d = x[idx]
    return np.sum(a) + np.sum(b * b) + np.sum(c**3) + x[2, 1] + np.sum(np.sin(d))


def nested(params, x):
    enc = params["enc"]
    h = np.tanh(x @ enc.w + enc.b)
    out = h @ params["dec"][0] * params["scale"]
    return np.sum(out**2)


def example_args(name):
    """Arguments the golden derivatives are specialised to."""
    rng = np.random.default_rng(0)
    if name == "neural_net":
        params = {
            "W": [rng.standard_normal((6, 5)), rng.standard_normal((5, 3))],
            "b": [rng.standard_normal(5), rng.standard_normal(3)],
        }
        return params, rng.standard_normal((4, 6)), np.eye(3)[[0, 1, 2, 0]]
    if name == "softmax_cross_entropy":
        return rng.standard_normal((4, 3)), np.eye(3)[[0, 1, 2, 0]]
    if name == "method_forms":
        return rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    if name == "indexing":
        return rng.standard_normal((4, 5)), np.array([0, 2, 2])
    if name == "nested":
        params = {
            "enc": Layer(rng.standard_normal((3, 4)), rng.standard_normal(4)),
            "dec": [rng.standard_normal((4, 2))],
            "scale": 1.5,
        }
        return params, rng.standard_normal((2, 3))
    raise KeyError(name)
