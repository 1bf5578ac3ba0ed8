"""Calls of the user's functions that take ``*args`` or ``**kwargs``: differentiated with the
variable arguments as one tuple and one dict (first and second order, every call count), or
refused naming the line where that cannot be done."""

import numpy as np
import pytest

import sourcegrad as sg
from tests import varargs_cases as c

RNG = np.random.default_rng(0)
X = RNG.normal(size=(4, 3))
W = RNG.normal(size=(3, 3))
B = RNG.normal(size=3)
LAYERS = [(W, B), (0.5 * W, 2.0 * B)]

CASES = [
    (c.f_mlp, (LAYERS, X)),
    (c.f_mlp_kw, (LAYERS, X)),
    (c.f_block, ({"W": W}, X)),
    (c.f_total, (LAYERS, X)),
    (c.f_lambda, (LAYERS, X)),
    (c.f_keyword_passthrough, ({"W": W}, X)),
    (c.f_keyword_dict, ({"W": W}, X)),
    (c.f_counts_differ, (LAYERS, X)),
    (c.f_closure, (LAYERS, X)),  # nested defs taking *xs, made while the derivative runs
    (c.f_nested_noclosure, (LAYERS, X)),
]


@pytest.mark.parametrize("f,args", CASES, ids=[f.__name__ for f, _ in CASES])
def test_value_and_gradient_to_second_order(f, args):
    df = sg.value_and_grad(f)
    for _ in range(3):  # the optimized code runs from the second call on
        value, _ = df(*args)
        assert value == f(*args)
    assert sg.gradcheck(f, *args, order=2)


def test_the_layer_count_may_change_between_calls():
    df = sg.grad(c.f_mlp)
    for n in (1, 3, 2):
        layers = [(W / (k + 1), B * k) for k in range(n)]
        assert len(df(layers, X)) == n
        assert sg.gradcheck(c.f_mlp, layers, X)


def test_a_kwargs_nested_def_made_while_the_derivative_runs():
    def loss(x):
        def scaled(x, **kw):
            return x * kw.get("gain", 2.0)

        return np.sum(np.sin(scaled(x)))

    df = sg.value_and_grad(loss)
    for _ in range(3):
        assert df(X)[0] == loss(X)
    assert sg.gradcheck(loss, X, order=2)


def test_a_differentiated_value_of_the_functions_own_star_args_is_refused():
    with pytest.raises(sg.WrtTypeError, match=r"names a value of total\(\)'s \*xs.*it has none"):
        sg.grad(c.total)(W, X)


def closure_loss(c):
    """A loss whose helper takes ``*xs``/``**kw`` and reads ``c`` from the enclosing call."""

    def helper(*xs, gain=1.0, **kw):
        return sum(c * gain * kw.get("s", 1.0) * np.sum(np.sin(v)) for v in xs)

    def loss(x, w):
        return helper(x, x * w, np.tanh(w), gain=2.0, s=0.5)

    return loss


def test_a_varargs_helper_reading_an_enclosing_variable():
    x, w = RNG.normal(size=4), RNG.normal(size=4)
    for gain in (2.0, -3.0):  # a new closure: the same code, read with its own cell
        f = closure_loss(gain)
        df = sg.value_and_grad(f, (0, 1))
        for _ in range(3):
            value, _ = df(x, w)
            assert value == f(x, w)
        assert sg.gradcheck(f, x, w, wrt=0, order=2)
        assert sg.gradcheck(f, x, w, wrt=1, order=2)


class _Scaled:
    def __init__(self, W):
        self.W = W

    def __call__(self, x, scale=1.0):
        return np.tanh(x @ self.W) * scale


SCALED = [_Scaled(0.5 * W), _Scaled(0.1 * W)]


def _by_keyword(x):
    for layer in SCALED:
        x = layer(x, scale=2.0)
    return np.sum(x * x)


def _by_position(x):
    for layer in SCALED:
        x = layer(x, 2.0)
    return np.sum(x * x)


def test_a_function_value_called_with_keywords_is_bound_as_python_binds_it():
    df = sg.value_and_grad(_by_keyword)
    for _ in range(3):
        value, g = df(X)
        assert value == _by_keyword(X)
        np.testing.assert_array_equal(g, sg.grad(_by_position)(X))
    assert sg.gradcheck(_by_keyword, X, order=2)
