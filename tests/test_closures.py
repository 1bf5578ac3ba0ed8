"""Nested functions and lambdas that read the enclosing function's differentiated values
(a closure over the parameters, as people write a layer inside a loss): the value Python's,
the gradient central differences', to second order, first and later calls."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg


def dict_layer_inside(params, x):
    def layer(h):
        return np.tanh(h @ params["W"] + params["b"])

    return np.sum(layer(layer(x)) ** 2)


def lambda_activation(params, x):
    scale = params["b"][0]
    act = lambda z: np.maximum(z, 0.0) * scale + 0.1 * z  # noqa: E731
    return np.sum(act(x @ params["W"]))


def recursive_closure(params, x):
    def apply(h, depth):
        if depth == 0:
            return h
        return apply(np.tanh(h @ params["W"]), depth - 1)

    return np.sum(apply(x, 3))


def closure_calling_closure(params, x):
    def linear(h):
        return h @ params["W"]

    def block(h):
        return np.sin(linear(h)) + params["b"]

    return np.sum(block(block(x)) ** 2)


def captured_value_changes_in_the_loop(params, x):
    w = params["W"]

    def step(h):
        return np.tanh(h @ w)

    h = x
    for _ in range(3):
        h = step(h)
        w = w * 0.9
    return np.sum(h * h)


def called_in_a_generator(params, x):
    def score(row):
        return np.sum(np.tanh(row @ params["W"]) * params["b"])

    return sum(score(r) for r in x)


CASES = [
    dict_layer_inside,
    lambda_activation,
    recursive_closure,
    closure_calling_closure,
    captured_value_changes_in_the_loop,
    called_in_a_generator,
]


def _args(seed=0):
    rng = np.random.default_rng(seed)
    params = {"W": rng.standard_normal((3, 3)) * 0.6, "b": rng.standard_normal(3)}
    return params, rng.standard_normal((2, 3))


@pytest.mark.parametrize("f", CASES)
def test_value_and_gradient_on_every_call(f):
    params, x = _args()
    vg = sg.value_and_grad(f)
    want = f(params, x)
    eps = 1e-6
    for _ in range(3):
        value, g = vg(params, x)
        assert value == want
        for key in params:
            fd = np.zeros_like(params[key])
            for i in np.ndindex(fd.shape):
                up = {k: v.copy() for k, v in params.items()}
                down = {k: v.copy() for k, v in params.items()}
                up[key][i] += eps
                down[key][i] -= eps
                fd[i] = (f(up, x) - f(down, x)) / (2 * eps)
            np.testing.assert_allclose(g[key], fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f", CASES)
def test_second_order_through_the_input(f):
    params, x = _args(1)
    assert sg.gradcheck(f, params, x, wrt=1, order=2)


def passed_on(params, x):
    def layer(h):
        return np.tanh(h @ params["W"])

    return np.sum(list(map(layer, [x, x * 2.0]))[1])


def apply_twice(f, x):
    return f(f(x))


def passed_to_a_helper(params, x):
    def layer(h):
        return np.tanh(h @ params["W"])

    return np.sum(apply_twice(layer, x))


@pytest.mark.parametrize("f", [passed_on, passed_to_a_helper])
def test_a_closure_passed_on_as_a_value_is_right_or_refused(f):
    """Passed to ``map`` (lowered to a comprehension calling it) or to a helper: the gradient
    central differences give, or refused (``map`` of it once gave a zero gradient)."""
    params, x = _args()
    try:
        g = sg.grad(f)(params, x)
    except sg.SourcegradError as exc:
        assert "test_closures.py" in str(exc)
        return
    eps = 1e-6
    fd = np.zeros_like(params["W"])
    for i in np.ndindex(fd.shape):
        up, down = dict(params), dict(params)
        up["W"], down["W"] = params["W"].copy(), params["W"].copy()
        up["W"][i] += eps
        down["W"][i] -= eps
        fd[i] = (f(up, x) - f(down, x)) / (2 * eps)
    np.testing.assert_allclose(g["W"], fd, rtol=1e-6, atol=1e-8)


def stored_in_a_dict(params, x):
    def layer(h):
        return np.tanh(h @ params["W"])

    acts = {"l": layer}
    return np.sum(acts["l"](x))


def made_by_a_factory(params, x):
    def make(scale):
        def inner(h):
            return np.tanh(h @ params["W"]) * scale

        return inner

    g = make(2.0)
    return np.sum(g(x))


def differentiated_default(params, x):
    W = params["W"]

    def layer(h, W=W):
        return np.tanh(h @ W)

    return np.sum(layer(x))


def lambdas_in_a_list(params, x):
    layers = [lambda h: np.tanh(h @ params["W"]), lambda h: h * params["b"]]
    for f in layers:
        x = f(x)
    return np.sum(x)


@pytest.mark.parametrize(
    "f", [stored_in_a_dict, made_by_a_factory, differentiated_default, lambdas_in_a_list]
)
def test_closures_the_derivative_cannot_follow_are_refused(f):
    """Each gave a zero gradient for the parameters it carries; now a refusal at its line."""
    with pytest.raises(sg.SourcegradError) as info:
        sg.grad(f)(*_args())
    assert "test_closures.py" in str(info.value)


w = np.array([0.5, -1.0, 2.0])  # a global a nested function reads


def comprehension_variable_named_like_a_global(params, x):
    def scaled(h):
        return np.tanh(h @ params["W"]) * w  # the global w, not the comprehension's

    return sum(np.sum(scaled(x) * w) for w in (1.0, 2.0))


def test_a_comprehension_variable_is_not_passed_for_a_global():
    params, x = _args()
    vg = sg.value_and_grad(comprehension_variable_named_like_a_global)
    for _ in range(3):
        value, _ = vg(params, x)
        assert value == comprehension_variable_named_like_a_global(params, x)
    assert sg.gradcheck(comprehension_variable_named_like_a_global, params, x, wrt=1)
