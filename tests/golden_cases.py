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


def rnn(params, xs):
    h = np.zeros(params["W"].shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(params["W"] @ h + params["U"] @ xs[t] + params["b"])
    return np.sum(h**2)


def newton_sqrt(a):
    x = a
    while np.abs(x * x - a) > 1e-12:
        x = 0.5 * (x + a / x)
    return x


def branchy(x, y):
    if np.sum(x) > 0:
        z = x * y
    elif np.sum(y) > 0:
        z = np.sin(x) + y
    else:
        return np.sum(x**2)
    return np.sum(z**2)


def assign_rows(x, v):
    y = np.tanh(x)
    y[0] = v * 2.0
    y[1:, 1] += np.sin(v[:2])
    return np.sum(y**2)


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
    if name == "rnn":
        params = {
            "W": rng.standard_normal((4, 4)) * 0.5,
            "U": rng.standard_normal((4, 3)),
            "b": rng.standard_normal(4),
        }
        return params, rng.standard_normal((5, 3))
    if name == "newton_sqrt":
        return (2.0,)
    if name == "branchy":
        return rng.standard_normal(3) + 1.0, rng.standard_normal(3)
    if name == "assign_rows":
        return rng.standard_normal((3, 3)), rng.standard_normal(3)
    raise KeyError(name)
