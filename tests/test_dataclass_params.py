"""Dataclass instances as parameters: read field by field, handed to helpers, called as
layer objects (``layer(h)``, ``self.act(z)``, methods), in lists and nested; the gradient is
an instance of the same class with the gradient in each array or float field and the other
fields (names, counts, activation functions) as they were. First and second order against
central differences."""

import dataclasses

import numpy as np
import pytest

import sourcegrad as sg
from tests import dataclass_cases as c

RNG = np.random.default_rng(0)
X = RNG.normal(size=(4, 3))


def _w():
    return RNG.normal(size=(3, 3)) * 0.7


def _b():
    return RNG.normal(size=3)


LIN = c.Linear(_w(), _b())
DENSE = c.Dense(_w(), _b(), act=np.sin, depth=2)
MODEL = c.MLP([c.Dense(_w(), _b()), c.Linear(_w(), _b()), c.Dense(_w(), _b(), act=np.cos)], 1.5)

CASES = [
    (c.fields_inline, LIN),
    (c.fields_in_helper, DENSE),
    (c.called_object, LIN),
    (c.called_object, DENSE),
    (c.method_calls_itself, DENSE),
    (c.model_object, MODEL),
    (c.list_of_layers, [LIN, c.Linear(_w(), _b())]),
    (c.loop_over_fields, MODEL),
]


@pytest.mark.parametrize(
    "f,params", CASES, ids=[f"{f.__name__}-{type(p).__name__}" for f, p in CASES]
)
def test_gradient_to_second_order(f, params):
    df = sg.value_and_grad(f)
    for _ in range(3):  # the optimized code runs from the second call on
        value, grads = df(params, X)
        assert value == f(params, X)  # Python's value bit for bit, optimized code too
    assert type(grads) is type(params)
    assert sg.gradcheck(f, params, X, order=2)


def test_the_gradient_keeps_the_settings_and_copies_nothing_into_the_parameters():
    kept = dataclasses.replace(DENSE, W=DENSE.W.copy(), b=DENSE.b.copy())
    g = sg.grad(c.method_calls_itself)(DENSE, X)
    assert (g.act, g.name, g.depth) == (np.sin, "dense", 2)
    assert g.W.shape == DENSE.W.shape and g is not DENSE
    np.testing.assert_array_equal(DENSE.W, kept.W)
    np.testing.assert_array_equal(DENSE.b, kept.b)


def test_a_frozen_dataclass_gradient_is_frozen_too():
    g = sg.grad(c.called_object)(LIN, X)
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.W = None


class Plain:
    def __init__(self, W, b):
        self.W = W
        self.b = b


SEEN = []


class Registers:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        SEEN.append(self)


def test_a_plain_object_holding_arrays_gets_its_fields_gradients_in_its_class():
    W, b = _w(), _b()
    want = sg.grad(c.fields_inline)(c.Linear(W, b), X)
    for _ in range(3):
        got = sg.grad(c.fields_inline)(Plain(W, b), X)
        assert type(got) is Plain
        np.testing.assert_allclose(got.W, want.W, rtol=1e-12)
        np.testing.assert_allclose(got.b, want.b, rtol=1e-12)


def test_a_plain_object_whose_init_does_more_is_refused_not_zeroed():
    with pytest.raises(sg.WrtTypeError, match="make Registers a dataclass"):
        sg.grad(c.fields_inline)(Registers(_w(), _b()), X)


def _library_function():
    def forward(params, x):
        return np.tanh(x @ params["W"])

    forward.__module__ = "sourcegrad.model.example"  # as a constructor in the library makes it
    return forward


LIBRARY_FORWARD = _library_function()


def library_loss(params, x):
    return np.sum(LIBRARY_FORWARD(params, x) ** 2)


def test_a_function_of_sourcegrads_library_is_differentiated_from_its_source():
    params = {"W": _w()}
    assert sg.gradcheck(library_loss, params, X, order=2)


def test_an_int_setting_has_no_tangent_even_where_the_direction_holds_one():
    p = c.Powered(_w() * 0.5)
    v = c.Powered(_w(), 3)  # the direction repeats the setting: it is no tangent of it
    hv = sg.hvp(c.int_setting_used)(p, X, v)
    g = sg.grad(c.int_setting_used)
    eps = 1e-5
    up = g(c.Powered(p.W + eps * v.W), X).W
    down = g(c.Powered(p.W - eps * v.W), X).W
    np.testing.assert_allclose(hv.W, (up - down) / (2 * eps), rtol=1e-5, atol=1e-7)
    _, tangent = sg.jvp(c.int_setting_used)(p, X, v)
    assert np.isfinite(tangent)
    assert sg.gradcheck(c.int_setting_used, p, X, order=2)
