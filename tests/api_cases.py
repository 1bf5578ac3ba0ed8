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


def broadcast_sum(x, y):
    return x + np.sin(y)


def softplus(x):
    return np.log1p(np.exp(x))


def uses_softplus(x):
    return np.sum(softplus(x))


def dtype_chain(x, w):
    h = np.tanh(x @ w)
    return np.mean(h**2) + np.sum(np.maximum(h, 0.1))


def array_valued(x):
    return np.tanh(x) * 2.0


class Layer:
    def __init__(self, scale):
        self.scale = scale

    def forward(self, w, x):
        return np.tanh(x @ w) * self.scale


class Model:
    def __init__(self):
        self.layer = Layer(2.0)
        self.bias = 0.5

    def loss(self, w, x):
        h = self.layer.forward(w, x)
        return np.sum(h**2) + self.bias * np.sum(w)


GLOBAL_LAYER = Layer(3.0)


def uses_global_object(w, x):
    return np.sum(GLOBAL_LAYER.forward(w, x))


def uses_object_argument(model, w, x):
    return model.loss(w, x)


def helper_tanh_layer(w, b, x):
    return np.tanh(x @ w + b)


def calls_helpers(params, x):
    h = helper_tanh_layer(params["w1"], params["b1"], x)
    a, b = split_halves(h)
    return np.sum(a * b)


def split_halves(h):
    return h[:, :2], h[:, 2:]


def recursive_power(x, n):
    if n <= 1:
        y = x
    else:
        y = x * recursive_power(x, n - 1)
    return y


def uses_recursion(x):
    return np.sum(recursive_power(x, 3))


def with_nested(x, w):
    scale = 2.0

    def layer(v, k):
        return np.tanh(v * k) * scale

    act = lambda u: np.sin(u)  # noqa: E731
    h = layer(x, w)
    h = act(h)
    return np.sum(layer(h, w))


def nested_captures_differentiated(x, w):
    def layer(v):
        return np.tanh(v * w)

    return np.sum(layer(x))  # captured w


def assign_repeated(x, v, idx):
    y = x * 1.0
    y[idx] = v
    return np.sum(np.sin(y))


def random_inside(x, seed):
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(x.shape)
    return np.sum((x + 0.1 * noise) ** 2)


def row_then_write(x):
    y = x * 1.0
    a = y[0]
    y[1] = 0.0
    return np.sum(y) * np.sum(a)


LOG = __import__("logging").getLogger("sourcegrad.tests")


def with_logging_and_assert(x):
    assert x.shape == (3,), "bad shape"
    LOG.info("x is %s", x)
    y = np.sin(x)
    return np.sum(y * y)


def flat_weights_mlp(w, x, y):
    w1 = np.reshape(w[:15], (5, 3))
    w2 = w[15:].reshape(3, 2)
    h = np.tanh(x @ w1)
    return np.sum((h @ w2 - y) ** 2)
