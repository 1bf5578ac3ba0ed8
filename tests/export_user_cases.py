"""Programs written the way users write them, exported by tests/test_export_user_programs.py:
classes with properties and ``__call__``, dataclass layers in a list, dict-of-dict parameters,
``while`` loops, closures over module constants, a ``np.random.Generator`` passed in. Imports
NumPy only: the isolated interpreter of the export tests imports it (its objects are pickled)."""

from dataclasses import dataclass

import numpy as np

EPS = 1e-3
HIDDEN_SCALE = 0.5
MASK = np.array([1.0, 0.0, 1.0, 1.0])


@dataclass
class Scaled:
    """A layer whose scale is a property of a field."""

    W: np.ndarray
    log_scale: np.ndarray

    @property
    def scale(self):
        return np.exp(self.log_scale)

    def __call__(self, x):
        return self.scale * np.tanh(x @ self.W)


def property_loss(layer, x):
    return np.sum(layer(x) ** 2)


def property_args(seed=0):
    rng = np.random.default_rng(seed)
    return Scaled(rng.standard_normal((3, 4)) / 2, np.array(0.3)), rng.standard_normal((5, 3))


@dataclass
class Block:
    W: np.ndarray
    b: np.ndarray
    act: str = "tanh"

    def forward(self, h):
        z = h @ self.W + self.b
        if self.act == "tanh":
            return np.tanh(z)
        return np.maximum(z, 0.0) + 0.1 * z


def residual_loss(blocks, x):
    h = x
    for i, block in enumerate(blocks):
        out = block.forward(h)
        h = h + out if i > 0 else out
    return np.mean(h**2)


def residual_args(seed=0):
    rng = np.random.default_rng(seed)
    blocks = [
        Block(rng.standard_normal((3, 4)) / 2, rng.standard_normal(4) * 0.1),
        Block(rng.standard_normal((4, 4)) / 2, rng.standard_normal(4) * 0.1, "leaky"),
        Block(rng.standard_normal((4, 4)) / 2, rng.standard_normal(4) * 0.1),
    ]
    return blocks, rng.standard_normal((6, 3))


def nested_dict_loss(params, x, y):
    h = np.tanh(x @ params["enc"]["W"] + params["enc"]["b"])
    out = h @ params["dec"]["W"] + params["dec"]["b"]
    return 0.5 * np.mean((out - y) ** 2) + EPS * sum(np.sum(p["W"] ** 2) for p in params.values())


def nested_dict_args(seed=0):
    rng = np.random.default_rng(seed)
    params = {
        "enc": {"W": rng.standard_normal((3, 4)) / 2, "b": np.zeros(4)},
        "dec": {"W": rng.standard_normal((4, 2)) / 2, "b": np.zeros(2)},
    }
    return params, rng.standard_normal((5, 3)), rng.standard_normal((5, 2))


def while_loss(W, x):
    h = x
    k = 0
    while k < 4:
        h = np.tanh(h @ W) + 0.5 * h
        k += 1
    return np.sum(h**2)


def while_args(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((3, 3)) / 2, rng.standard_normal((4, 3))


def fixed_point_loss(W, x):
    """Iterate until the step is small (a data-dependent trip count)."""
    h = x
    step = 1.0
    k = 0
    while step > 1e-3 and k < 50:
        new = np.tanh(h @ W + x)
        step = np.max(np.abs(new - h))
        h = new
        k += 1
    return np.sum(h)


def fixed_point_args(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((3, 3)) * 0.2, rng.standard_normal((2, 3))


def make_loss(weight):
    def penalised(params, x):
        h = np.tanh(x @ params["W"]) * MASK * HIDDEN_SCALE
        return np.sum(h**2) + weight * np.sum(params["W"] ** 2)

    return penalised


closure_loss = make_loss(0.25)


def closure_args(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": rng.standard_normal((3, 4)) / 2}, rng.standard_normal((5, 3))


def noisy_loss(params, x, rng):
    noise = rng.standard_normal(x.shape) * 0.1
    h = np.tanh((x + noise) @ params["W"] + params["b"])
    return np.sum(h**2)


def noisy_args(seed=0):
    rng = np.random.default_rng(seed)
    params = {"W": rng.standard_normal((3, 4)) / 2, "b": rng.standard_normal(4) * 0.1}
    return params, rng.standard_normal((5, 3)), np.random.default_rng(42)


def unpacked_loss(params, x, labels):
    W1, b1, W2, b2 = params
    h = np.maximum(x @ W1 + b1, 0.0)
    logits = h @ W2 + b2
    logp = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(labels)), labels])


def unpacked_args(seed=0):
    rng = np.random.default_rng(seed)
    params = [
        rng.standard_normal((4, 5)) / 2,
        rng.standard_normal(5) * 0.1,
        rng.standard_normal((5, 3)) / 2,
        rng.standard_normal(3) * 0.1,
    ]
    return params, rng.standard_normal((6, 4)), rng.integers(0, 3, 6)


def dense(x, W, b, activation=np.tanh):
    return activation(x @ W + b)


def zipped_loss(params, x, train):
    h = x
    for W, b in zip(params["W"], params["b"]):
        h = dense(h, W, b=b)
        if train:
            h = h * 0.9
    return np.sum(h**2)


def zipped_args(seed=0):
    rng = np.random.default_rng(seed)
    params = {
        "W": [rng.standard_normal((3, 4)) / 2, rng.standard_normal((4, 2)) / 2],
        "b": [rng.standard_normal(4) * 0.1, rng.standard_normal(2) * 0.1],
    }
    return params, rng.standard_normal((5, 3)), True


def cell(params, x, h):
    z = np.tanh(x @ params["Wx"] + h @ params["Wh"])
    return z, 0.5 * (z + h)


def recurrent_loss(params, xs):
    h = np.zeros((xs.shape[1], params["Wh"].shape[0]))
    total = 0.0
    for t in range(xs.shape[0]):
        out, h = cell(params, xs[t], h)
        total = total + np.sum(out**2)
    return total / xs.shape[0]


def recurrent_args(seed=0):
    rng = np.random.default_rng(seed)
    params = {"Wx": rng.standard_normal((3, 4)) / 2, "Wh": rng.standard_normal((4, 4)) / 2}
    return params, rng.standard_normal((5, 2, 3))


def where_loss(x, y):
    r = x - y
    huber = np.where(np.abs(r) < 1.0, 0.5 * r**2, np.abs(r) - 0.5)
    return np.sum(huber) + np.sum(np.clip(x, -1.0, 1.0) ** 2)


def where_args(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(8) * 2, rng.standard_normal(8)


class Polynomial:
    """A plain class (not a dataclass) with ``__call__`` over coefficients passed in."""

    def __init__(self, degree):
        self.degree = degree

    def __call__(self, coeffs, x):
        out = np.zeros_like(x)
        for k in range(self.degree + 1):
            out = out + coeffs[k] * x**k
        return out


POLY = Polynomial(3)


def poly_loss(coeffs, x, y):
    return np.mean((POLY(coeffs, x) - y) ** 2)


def poly_args(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(4), rng.standard_normal(7), rng.standard_normal(7)
