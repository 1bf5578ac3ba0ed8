"""Losses that call the user's own functions (helpers, methods, callable objects) the ways
models are written: the running derivative keeps each callee's forward sweep for its adjoint
(``sourcegrad/kept.py``). Each case is ``(loss, make_args)``."""

from __future__ import annotations

import numpy as np


def dense(p, x):
    return np.tanh(x @ p["W"] + p["b"])


def affine(h, W, b, scale=1.0):
    return scale * (h @ W) + b


def hidden(h, W, b):
    return np.tanh(affine(h, W, b))  # a helper calling a helper


def gated(h, W, b):
    z = h @ W + b
    if z.shape[0] > 2:  # a branch in the callee: names assigned on one path only
        t = np.tanh(z)
        out = t * t
    else:
        out = np.sin(z)
    return out


def unrolled(h, W, steps):
    for _ in range(steps):  # a loop in the callee: its tape is kept too
        h = np.tanh(h @ W)
    return h


def summed(*parts):
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return total


class Layer:
    def __init__(self, act):
        self.act = act

    def __call__(self, p, x):
        return self.act(x @ p["W"] + p["b"])


class Model:
    def __init__(self):
        self.layers = [Layer(np.tanh), Layer(np.sin)]

    def forward(self, params, x):
        for layer, p in zip(self.layers, params):
            x = layer(p, x)
        return x


MODEL = Model()


def layers_loop(params, x):
    h = x
    for p in params:
        h = dense(p, h)
    return np.sum(h * h)


def straight(params, x):
    h = dense(params[0], x)
    h = dense(params[1], h)
    return np.mean(h**2) + np.sum(dense(params[0], x))


def nested_helpers(params, x):
    h = x
    for p in params:
        h = hidden(h, p["W"], p["b"])
    return np.sum(affine(h, params[0]["W"], params[0]["b"], scale=0.5) ** 2)


def branchy_callee(params, x):
    a = gated(x, params[0]["W"], params[0]["b"])
    b = gated(x[:2], params[1]["W"], params[1]["b"])
    return np.sum(a) + np.sum(b * b)


def looping_callee(params, x):
    return np.sum(unrolled(x, params[0]["W"], 3))


def same_call_twice(params, x):
    a = dense(params[0], x)
    b = dense(params[0], x)
    return np.sum(a * b)


def while_calls(params, x):
    h, k = x, 0
    while k < 3:
        h = dense(params[k % 2], h)
        k += 1
    return np.sum(h)


def in_branch(params, x):
    if np.sum(x) > 0:
        h = dense(params[0], x)
    else:
        h = dense(params[1], x)
    return np.sum(h**3)


def varargs_helper(params, x):
    h1 = dense(params[0], x)
    h2 = dense(params[1], x)
    return np.sum(summed(h1, h2, x) ** 2)


def object_method(params, x):
    return np.sum(MODEL.forward(params, x) ** 2)


def make_args(seed=0):
    rng = np.random.default_rng(seed)
    params = [{"W": rng.normal(size=(4, 4)) * 0.5, "b": rng.normal(size=4) * 0.1} for _ in range(2)]
    x = rng.normal(size=(3, 4))
    return params, x


CASES = [
    layers_loop,
    straight,
    nested_helpers,
    branchy_callee,
    looping_callee,
    same_call_twice,
    while_calls,
    in_branch,
    varargs_helper,
    object_method,
]
