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


def test_a_varargs_function_reading_an_enclosing_variable_is_refused():
    with pytest.raises(sg.SourcegradError, match="module level"):
        sg.grad(c.f_closure)(LAYERS, X)


def test_the_differentiated_function_itself_still_needs_named_arguments():
    with pytest.raises(sg.SourcegradError, match=r"\*args or \*\*kwargs"):
        sg.grad(c.total)(W, X)
