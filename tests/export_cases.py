"""Functions whose whole derivative is shown and exported (tests/test_show_callees.py,
tests/test_export.py, and the golden files named ``*.callees.py`` and ``*.export.py``).

Line numbers here appear in the golden files: append new cases at the end.
"""

import numpy as np

SCALE = 0.5


def encode(params, x):
    return np.tanh(x @ params["W"] + params["b"])


def helper_loss(params, x):
    h = encode(params, x)
    return np.sum(h**2) * SCALE


def helper_args(seed=0):
    rng = np.random.default_rng(seed)
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    return params, rng.standard_normal((5, 3))


def lstm_loss(params, xs, y):
    """benchmarks/recurrent.py's LSTM: gates stacked as [i | f | o | g], softmax cross entropy
    of the last hidden state against one-hot y."""
    n = xs.shape[1]
    H = params["W_h"].shape[0]
    h = np.zeros((n, H), dtype=xs.dtype)
    c = np.zeros((n, H), dtype=xs.dtype)
    for t in range(xs.shape[0]):
        z = xs[t] @ params["W_x"] + h @ params["W_h"] + params["b"]
        s = 1.0 / (1.0 + np.exp(-z[:, : 3 * H]))
        g = np.tanh(z[:, 3 * H :])
        c = s[:, H : 2 * H] * c + s[:, :H] * g
        h = s[:, 2 * H : 3 * H] * np.tanh(c)
    lse = np.log(np.sum(np.exp(h), axis=1, keepdims=True))
    return -np.sum(y * (h - lse)) / n


def lstm_args(seed=0, steps=6, batch=4, d_in=5, hidden=7):
    rng = np.random.default_rng(seed)
    params = {
        "W_x": rng.standard_normal((d_in, 4 * hidden)) / np.sqrt(d_in),
        "W_h": rng.standard_normal((hidden, 4 * hidden)) / np.sqrt(hidden),
        "b": rng.standard_normal(4 * hidden) * 0.1,
    }
    xs = rng.standard_normal((steps, batch, d_in))
    y = np.zeros((batch, hidden))
    y[np.arange(batch), rng.integers(0, hidden, size=batch)] = 1.0
    return params, xs, y


def dense(W, b, x):
    return np.tanh(x @ W + b)


def two_layers(params, x):
    h = dense(params[0]["W"], params[0]["b"], x)
    return np.sum(dense(params[1]["W"], params[1]["b"], h) ** 2)


class Opaque:
    scale = 2.0


OPAQUE = Opaque()


def reads_an_object(x):
    return np.sum(x * OPAQUE.scale)


def _made_in_a_function():
    class Local:
        scale = 2.0

    return Local()


LOCAL = _made_in_a_function()


def reads_a_local_object(x):
    return np.sum(x * LOCAL.scale)


def make_scaled(k):
    def scaled(x):
        return x * k

    return scaled


SCALED = make_scaled(3.0)


def calls_a_closure(x):
    return np.sum(SCALED(x) ** 2)


ACTIVATIONS = [np.tanh, np.sin]


def calls_function_values(x):
    total = 0.0
    for act in ACTIVATIONS:
        total = total + np.sum(act(x) ** 2)
    return total


def calls_a_lambda(x):
    square = lambda v: v * v  # noqa: E731
    return np.sum(square(x))
