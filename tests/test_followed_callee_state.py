"""Layers keeping state from call to call (``self.calls += 1``, an RNN cell's ``self.h``),
called by the function differentiated through what it makes or through its helpers: a layer
made in the function and called (``k = Counted(w); h = k(k(h))``), a helper given a layer
(``apply(LAYER, h)``, ``run(layer, h, n)`` looping over its calls, helpers called inside an
expression), a helper calling a global cell, a helper taking the ``model``. The helper is
inlined at its call, so the layer's call is the caller's own and its state is followed as
values: each derivative is checked over several calls against Python's own run from the same
state (the value, the state left in the objects, the objects themselves still the caller's),
the gradient against central differences in float64 and the Hessian-vector product against
differences of the gradient. A helper that cannot be inlined (returning early, called under a
condition) and layers keeping state in a list are refused, saying why."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import SourcegradError

from .object_state_checks import assert_same_state, held, put_back, run_from
from .ported.harness import marked_line, numerical

R = np.random.default_rng(1414)
D = 3
W0 = R.standard_normal((D, D)) * 0.5
X0 = R.standard_normal(D)


class Counted:
    def __init__(self, w):
        self.w = w
        self.calls = 0

    def __call__(self, z):
        self.calls += 1
        return np.sin(z * self.w)


class Cell:
    def __init__(self, W):
        self.W = W
        self.h = np.full(D, 0.1)

    def step(self, x):
        self.h = np.tanh(self.W @ x + 0.5 * self.h)
        return self.h


class Model:
    def __init__(self, w):
        self.w = w
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return np.tanh(self.w * x) + 0.1 * self.calls


LAYER = Counted(np.array([0.7, -0.2, 0.4]))
LOOPED = Counted(np.array([0.3, 0.5, -0.6]))
CELL = Cell(R.standard_normal((D, D)) * 0.4)
MODEL = Model(np.array([0.9, 0.8, -0.5]))


def apply(layer, h):
    return np.tanh(layer(h))


def run(layer, h, n):
    for _ in range(n):
        h = layer(h)
    return h


def encode(x):
    return CELL.step(x)


def run_model(model, x):
    y = model(x)
    return y


def made_and_called(W, x):
    k = Counted(np.cos(W[0]))
    h = k(k(W @ x))
    return np.sum(h**2) + 0.01 * k.calls


def helper_given_a_global_layer(W, x):
    h = apply(LAYER, W @ x)
    return np.sum(h**2)


def helper_looping_over_calls(W, x):
    h = run(LOOPED, W @ x, 3)
    return np.sum(h**2) + 0.1 * LOOPED.calls


def helper_calling_a_global_cell(W, x):
    total = 0.0
    for t in range(2):
        h = encode(W @ x * (1.0 + t))
        total = total + np.sum(h**2)
    return total


def helper_taking_the_model(W, x):
    y = run_model(MODEL, W @ x)
    return np.sum(y**2)


def helpers_inside_an_expression(W, x):
    total = 0.0
    total = total + np.sum(apply(LAYER, W @ x) * apply(LAYER, x))
    return total + 0.01 * LAYER.calls


def early(layer, h):
    if np.sum(h) > 100.0:
        return h
    return layer(h)


def helper_returning_early(W, x):
    h = early(LAYER, W @ x)
    return np.sum(h**2)


def helper_under_a_condition(W, x):
    h = apply(LAYER, W @ x) if np.sum(x) > 0.0 else x
    return np.sum(h**2)


def helper_given_an_argument_layer(W, layer, x):
    h = apply(layer, W @ x)
    return np.sum(h**2) + 0.01 * layer.calls


CASES = {
    "made and called": (made_and_called, (W0, X0), []),
    "helper given a global layer": (helper_given_a_global_layer, (W0, X0), [LAYER]),
    "helper looping over calls": (helper_looping_over_calls, (W0, X0), [LOOPED]),
    "helper calling a global cell": (helper_calling_a_global_cell, (W0, X0), [CELL]),
    "helper taking the model": (helper_taking_the_model, (W0, X0), [MODEL]),
    "helpers inside an expression": (helpers_inside_an_expression, (W0, X0), [LAYER]),
}


def _args(args, call):
    return tuple(a * (1.0 + 0.25 * call) for a in args)


@pytest.mark.parametrize("name", list(CASES))
def test_value_state_and_gradient_as_python(name):
    f, args0, objects = CASES[name]
    df = sg.value_and_grad(f)
    for call in range(4):
        args = _args(args0, call)
        entry = held(objects)
        value, grad = df(*args)
        after = held(objects)
        want = run_from(objects, entry, f)(*args)
        python_after = held(objects)
        np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-14, err_msg=f"call {call}")
        assert_same_state(after, python_after, f"{name}, call {call}")
        slope = numerical(run_from(objects, entry, f), args, 0)
        np.testing.assert_allclose(grad, slope, rtol=1e-5, atol=1e-7, err_msg=f"call {call}")
        put_back(objects, python_after)


@pytest.mark.parametrize("name", list(CASES))
def test_hvp_advances_the_state_once_per_call(name):
    f, args, objects = CASES[name]
    v = R.standard_normal(W0.shape)
    hvp, grad = sg.hvp(f), sg.grad(f)
    eps = 1e-5
    for call in range(3):
        entry = held(objects)
        got = hvp(*args, v)
        after = held(objects)
        f(*run_from(objects, entry, lambda *a: a)(*args))
        assert_same_state(after, held(objects), f"{name}, call {call}")
        hi = run_from(objects, entry, grad)(args[0] + eps * v, *args[1:])
        lo = run_from(objects, entry, grad)(args[0] - eps * v, *args[1:])
        np.testing.assert_allclose(got, (hi - lo) / (2 * eps), rtol=1e-4, atol=1e-6)
        put_back(objects, after)


def test_a_layer_given_as_an_argument_is_left_holding_what_python_leaves():
    df = sg.value_and_grad(helper_given_an_argument_layer)
    layer = Counted(np.array([0.2, -0.4, 0.9]))
    w = layer.w
    for call in range(3):
        mine, python = layer, copy.deepcopy(layer)
        value, grad = df(W0, mine, X0)
        want = helper_given_an_argument_layer(W0, python, X0)
        np.testing.assert_allclose(value, want, rtol=1e-12)
        assert mine.calls == python.calls == call + 1 and mine.w is w
        state = copy.deepcopy(vars(mine))

        def from_state(W, _state=state):
            again = Counted(w)
            vars(again).update(copy.deepcopy(_state))
            again.calls -= 1
            return helper_given_an_argument_layer(W, again, X0)

        np.testing.assert_allclose(grad, numerical(from_state, (W0,), 0), rtol=1e-5, atol=1e-7)


def layers_in_a_list(W, layers, x):
    h = W @ x
    for layer in layers:
        h = layer(h)
    return np.sum(h**2)


def test_layers_keeping_state_in_a_list_are_refused_naming_the_state():
    layers = [Counted(np.ones(D)), Counted(np.full(D, 0.5))]
    line = marked_line(Counted.__call__, "self.calls += 1")
    for _ in range(2):
        with pytest.raises(SourcegradError) as info:
            sg.grad(layers_in_a_list)(W0, layers, X0)
        assert str(info.value).startswith(f"{__file__}:{line}: "), str(info.value)
        assert "keeps state in `self.calls`" in str(info.value)
        assert "not an item of a list or dict taken in a loop" in str(info.value)
    assert [layer.calls for layer in layers] == [0, 0]


@pytest.mark.parametrize("f", [helper_returning_early, helper_under_a_condition])
def test_a_helper_that_cannot_be_inlined_is_refused_saying_how_to_call_it(f):
    line = marked_line(Counted.__call__, "self.calls += 1")
    calls = LAYER.calls
    for _ in range(2):
        with pytest.raises(SourcegradError) as info:
            sg.grad(f)(W0, np.abs(X0))
        message = str(info.value)
        assert message.startswith(f"{__file__}:{line}: "), message
        assert "call it as a statement of its own (`y = " in message, message
    assert LAYER.calls == calls
