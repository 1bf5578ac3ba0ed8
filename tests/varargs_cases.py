"""Calls of functions that take ``*args`` / ``**kwargs`` (read by ``test_varargs_calls.py``)."""

import numpy as np


def mlp(x, *layers, act=np.tanh):
    h = x
    for W, b in layers:
        h = act(h @ W + b)
    return h


def inner(x, p, gain=1.0, shift=0.0):
    return np.tanh(x @ p["W"]) * gain + shift


def block(x, p, **kw):
    return inner(x, p, **kw)


def total(*xs):
    s = 0.0
    for x in xs:
        s = s + np.sum(x * x)
    return s


def f_mlp(params, x):
    return np.sum(mlp(x, *params) ** 2)


def f_mlp_kw(params, x):
    return np.sum(mlp(x, params[0], params[1], act=np.sin))


def f_block(p, x):
    return np.sum(block(x, p, gain=p["W"][0, 0], shift=1.0) ** 2) + np.sum(block(x, p))


def f_total(params, x):
    return total(*params[0]) + total(x) + total()


def f_closure(params, x):  # a *args function reading an enclosing variable
    c = 2.0

    def scaled(*xs):
        return sum(c * np.sum(v) for v in xs)

    return scaled(params[0][0], x)


def f_nested_noclosure(params, x):
    def summed(*xs):
        return np.sum(xs[0] * xs[1])

    return summed(params[0][0], params[1][0])


def f_lambda(params, x):
    return np.sum(LAM(params[0][0], params[1][0], x))


LAM = lambda *a: a[0] @ a[1] + np.sum(a[2])  # noqa: E731  (a lambda is the case)


def inner_scaled(x, p, gain=1.0):
    return np.tanh(x @ p["W"]) * gain


def passes_keywords(x, p, **kw):
    return inner_scaled(x, p, **kw)


def reads_keywords(x, p, **kw):
    return np.tanh(x @ p["W"]) * kw["gain"] + kw.get("shift", 0.0)


def f_keyword_passthrough(p, x):
    return np.sum(passes_keywords(x, p, gain=p["W"][0, 0]))


def f_keyword_dict(p, x):
    return np.sum(reads_keywords(x, p, gain=p["W"][0, 0]) ** 2)


def f_counts_differ(params, x):
    return total(params[0][0]) * total(params[0][0], params[1][0], x)
