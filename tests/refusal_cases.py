"""Functions sourcegrad must refuse, each with the line the refusal must name."""

import numpy as np


def no_rule(x):
    y = np.unwrap(x)  # REFUSE: no_rule
    return np.sum(y)


def non_scalar(x):
    return np.tanh(x)  # REFUSE: non_scalar


def returns_tuple(x):
    return np.sum(x), np.mean(x)  # REFUSE: returns_tuple


def int_argument(n, x):  # REFUSE: int_argument
    return np.sum(x * n)


def unknown_attribute(x):
    y = x.frobnicate()  # REFUSE: unknown_attribute
    return np.sum(y)


def opaque_expression(x):
    y = np.array(sorted({v * 2.0 for v in x}))  # REFUSE: opaque_expression
    return np.sum(y)


def uses_yield(x):
    yield np.sum(x)  # REFUSE: uses_yield
    return np.sum(x)


def uses_del(x):
    y = x * 2.0
    del y  # REFUSE: uses_del
    return np.sum(x)


def uses_with(x):
    with open(__file__) as fh:  # REFUSE: uses_with
        y = np.log(x) * len(fh.readline())
    return np.sum(y)


def subscript_assign(x):
    y = {"a": x}
    y["a"][0] = 0.0  # REFUSE: subscript_assign
    return np.sum(y["a"] * x)


def uses_try(x):
    try:  # REFUSE: uses_try
        y = np.log(x)
    except ValueError:
        y = x
    return np.sum(y)


def uses_global(x):
    global COUNTER  # REFUSE: uses_global
    COUNTER = 1  # (a global only read is followed)
    return np.sum(x)


def no_return(x):  # REFUSE: no_return
    np.sum(x)


def missing_field(p):
    return np.sum(p["w"] * p["nope"])  # REFUSE: missing_field


def calls_helper(x):
    def nested(x, **kw):
        return x * kw.get("scale", 2.0)

    return np.sum(nested(x))  # REFUSE: calls_helper


STORE: dict = {}


def stores_into_a_global(x):
    h = np.tanh(x)
    STORE["h"] = h  # REFUSE: stores_into_a_global
    return np.sum(h * h)


def helper(*xs):
    return xs[0] * 2.0


def raises_inside(x, i):
    y = np.exp(x)
    z = y[i]  # RAISE: raises_inside
    return np.sum(z)
