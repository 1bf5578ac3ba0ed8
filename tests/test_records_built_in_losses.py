"""Objects built inside a differentiated function: a dataclass made from differentiated
values (a distribution with a ``log_prob`` method, layers made from a parameter list, keyword
arguments and defaults, one record inside another), differentiated to second order and in
forward mode; a plain class built the same way, differentiated as a record of the fields its
``__init__`` stores; a dataclass indexed through its own ``__getitem__``, refused at the
user's line with the way out. A helper wrapped by a ``functools.wraps`` decorator (the
wrapper's own parameters, not the wrapped function's, bind the call); ``*params[-1]`` spliced
into a call (an argument's item counted from its end); a property of a dataclass argument
read in the loss, in a method or on the variable of a loop over such arguments (its getter
differentiated: the gradient of the field it reads was dropped), refused where its class is
not known when the derivative is built."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check, check_refusal, numerical, params

R = np.random.default_rng(18)


def r(*s):
    return R.standard_normal(s)


@dataclasses.dataclass(frozen=True)
class Normal:
    loc: np.ndarray
    scale: np.ndarray

    def log_prob(self, x):
        z = (x - self.loc) / self.scale
        return -0.5 * z**2 - np.log(self.scale) - 0.5 * np.log(2 * np.pi)


def nll(params, x):
    d = Normal(params["mu"], np.exp(params["log_sigma"]))
    return -np.sum(d.log_prob(x))


@dataclasses.dataclass
class Dense:
    W: np.ndarray
    b: np.ndarray
    act: str = "tanh"

    def __call__(self, x):
        z = x @ self.W + self.b
        return np.tanh(z) if self.act == "tanh" else np.maximum(z, 0.0)


def layers_from_list(params, x):
    layers = [Dense(W, b) for W, b in params[:-1]] + [
        Dense(params[-1][0], params[-1][1], act="relu")
    ]
    for layer in layers:
        x = layer(x)
    return np.sum(x**2)


def by_keyword(params, x):
    layer = Dense(b=params["b"], W=params["W"])
    return np.sum(layer(x) ** 2) + np.sum(layer.W**2)


def nested(p, x):
    outer = Normal(loc=Normal(p["a"], p["b"]).loc * 2.0, scale=np.exp(p["b"]))
    return np.sum(outer.log_prob(x))


def logged(f):
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return f(*args, **kwargs)

    return wrapper


@logged
def dense(x, W, b):
    return np.tanh(x @ W + b)


def decorated(params, x):
    h = dense(x, params["W1"], params["b1"])
    return np.sum(dense(h, params["W2"], params["b2"]) ** 2)


@dataclasses.dataclass
class Scaled:
    W: np.ndarray
    log_scale: np.ndarray

    @property
    def scale(self):
        return np.exp(self.log_scale)

    def __call__(self, x):
        return self.scale * np.tanh(x @ self.W)


def property_in_method(layer, x):
    return np.sum(layer(x) ** 2)


def property_in_loss(layer, x):
    return np.sum((layer.scale * np.tanh(x @ layer.W)) ** 2)


def property_in_a_loop(layers, x):
    h = x
    for layer in layers:
        h = layer.scale * np.tanh(h @ layer.W)
    return np.sum(h**2)


# refused where the gradient is assembled (its return), which names the function's line
def property_through_an_item(layers, x):  # REFUSED
    first = layers[0]
    return np.sum((first.scale * np.tanh(x @ first.W)) ** 2)


def test_a_property_read_where_its_class_is_not_known_is_refused():
    layers = [Scaled(r(3, 3), np.array(0.3)), Scaled(r(3, 2), np.array(-0.2))]
    check_refusal(
        property_through_an_item, (layers, r(4, 3)), sg.SourcegradError, "property of Scaled"
    )


def splice_last(params, x):
    return np.sum(dense(x, *params[-1]) ** 2)


def splice_named_last(params, x):
    last = params[-1]
    return np.sum(Dense(*last, act="relu")(x) ** 2)


P_LAST = [(r(3, 4), r(4)), (r(4, 2), r(2))]
CASES = [
    Case(
        "property_in_method", property_in_method, (Scaled(r(3, 4), np.array(0.3)), r(5, 3)), order=2
    ),
    Case("property_in_loss", property_in_loss, (Scaled(r(3, 4), np.array(0.3)), r(5, 3)), order=2),
    Case(
        "property_in_a_loop",
        property_in_a_loop,
        ([Scaled(r(3, 3), np.array(0.3)), Scaled(r(3, 2), np.array(-0.2))], r(4, 3)),
        order=2,
    ),
    Case("splice_last", splice_last, (P_LAST, r(5, 4)), order=2),
    Case("splice_named_last", splice_named_last, (P_LAST, r(5, 4)), order=2),
    Case("normal", nll, ({"mu": r(3), "log_sigma": 0.1 * r(3)}, r(5, 3)), order=2),
    Case(
        "layers_from_list", layers_from_list, ([(r(3, 4), r(4)), (r(4, 2), r(2))], r(5, 3)), order=2
    ),
    Case("by_keyword", by_keyword, ({"W": r(3, 2), "b": r(2)}, r(5, 3)), order=2),
    Case("nested", nested, ({"a": r(3), "b": 0.1 * r(3)}, r(4, 3)), order=2),
    Case(
        "decorated",
        decorated,
        ({"W1": r(3, 4), "b1": r(4), "W2": r(4, 2), "b2": r(2)}, r(5, 3)),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_objects_built_in_the_loss(case):
    check(case)


def test_forward_mode_through_a_record_built_in_the_loss():
    p, x = {"mu": r(3), "log_sigma": 0.1 * r(3)}, r(5, 3)
    t = {"mu": r(3), "log_sigma": r(3)}
    value, tangent = sg.jvp(nll)(p, x, t)
    assert value == nll(p, x)
    g = numerical(nll, (p, x), 0)
    want = sum(np.sum(g[k] * t[k]) for k in p)
    np.testing.assert_allclose(tangent, want, rtol=1e-6)


class Plain:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def __call__(self, x):
        return np.tanh(x @ self.W + self.b)


def plain_class(p, x):
    layer = Plain(p["W"], p["b"])
    return np.sum(layer(x) ** 2)


@dataclasses.dataclass
class Indexed:
    ws: list

    def __getitem__(self, i):
        return self.ws[i]


def own_getitem(ws, x):
    p = Indexed(ws)
    for i in range(len(ws)):
        x = np.tanh(x @ p[i])
    return np.sum(x**2)


def test_a_plain_class_built_from_differentiated_values_is_differentiated():
    check(Case("plain_class", plain_class, ({"W": r(3, 2), "b": r(2)}, r(4, 3)), order=2))


def test_indexing_through_a_class_s_own_getitem_calls_it():
    check(Case("own_getitem", own_getitem, ([r(3, 3), r(3, 2)], r(4, 3)), order=2))
