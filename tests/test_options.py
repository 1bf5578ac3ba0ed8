"""Options of the transforms: with_forward, with_gradients,
stable_gradients; and that they keep the safety guarantees (threads, shapes, dtypes)."""

import threading

import numpy as np
import pytest

import sourcegrad as sg

from . import api_cases as c
from .fd import numerical_grad


def mlp(params, x, y):
    h = np.tanh(x @ params["W"] + params["b"])
    return np.sum((h - y) ** 2) + 0.5 * params["scale"] ** 2


def make(rng, batch=4, dtype=np.float64):
    params = {
        "W": rng.standard_normal((3, 5)).astype(dtype),
        "b": rng.standard_normal(5).astype(dtype),
        "scale": 1.5,
    }
    return (
        params,
        rng.standard_normal((batch, 3)).astype(dtype),
        rng.standard_normal((batch, 5)).astype(dtype),
    )


def test_with_gradients_false_is_the_function_compiled(rng):
    args = make(rng)
    fwd = sg.grad(mlp, with_gradients=False)
    for _ in range(2):  # the optimized forward runs from the second call on
        assert fwd(*args) == mlp(*args)
    assert "def fwd_mlp(params, x, y):" in fwd.source(*args)
    assert "d" + "W" not in fwd.source(*args)  # no gradient code at all


def test_with_forward_returns_the_value_too(rng):
    args = make(rng)
    value, grads = sg.grad(mlp, with_forward=True)(*args)
    assert value == pytest.approx(mlp(*args))
    only = sg.value_and_grad(mlp, with_forward=False)(*args)
    np.testing.assert_array_equal(only["W"], grads["W"])


def test_stable_gradients_returns_the_same_arrays_overwritten(rng):
    df = sg.grad(mlp, stable_gradients=True)
    a1, a2 = make(rng), make(rng)
    g1 = df(*a1)
    w_first = g1["W"]
    expected1 = sg.grad(mlp)(*a1)["W"]
    np.testing.assert_allclose(w_first, expected1)
    g2 = df(*a2)
    assert g2["W"] is w_first and g2["b"] is g1["b"]
    np.testing.assert_allclose(g2["W"], sg.grad(mlp)(*a2)["W"])  # overwritten in place
    assert isinstance(g2["scale"], float) and g2["scale"] == pytest.approx(1.5)


def test_without_stable_gradients_a_later_call_never_overwrites(rng):
    df = sg.grad(mlp)
    a1, a2 = make(rng), make(rng)
    g1 = df(*a1)
    kept = g1["W"].copy()
    df(*a2)
    np.testing.assert_array_equal(g1["W"], kept)


def test_stable_gradients_are_per_thread(rng):
    df = sg.grad(mlp, stable_gradients=True)
    inputs = [make(np.random.default_rng(i)) for i in range(8)]
    expected = [sg.grad(mlp)(*a)["W"] for a in inputs]
    got = [None] * 8

    def work(i):
        for _ in range(10):
            g = df(*inputs[i])
        got[i] = (g["W"], g["W"].copy())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(w) for w, _ in got}) == 8  # one buffer per thread
    for (_, values), want in zip(got, expected):
        np.testing.assert_allclose(values, want)


def test_float32_end_to_end_with_options(rng):
    args = make(rng, dtype=np.float32)
    args[0]["scale"] = 1.5
    for df in (sg.grad(mlp), sg.grad(mlp, stable_gradients=True)):
        g = df(*args)
        assert g["W"].dtype == np.float32 and g["b"].dtype == np.float32
    assert np.asarray(sg.grad(mlp, with_gradients=False)(*args)).dtype == np.float32


def test_shapes_change_between_calls_with_stable_gradients(rng):
    df = sg.grad(mlp, stable_gradients=True)
    for batch in (4, 7, 1, 4):
        args = make(rng, batch=batch)
        g = df(*args)
        params, x, y = args
        expected = numerical_grad(
            lambda W, params=params, x=x, y=y: mlp({**params, "W": W}, x, y), (params["W"],), 0
        )
        np.testing.assert_allclose(g["W"], expected, rtol=1e-6, atol=1e-8)


def test_unknown_and_unavailable_options_are_refused():
    with pytest.raises(TypeError, match="unknown option"):
        sg.grad(c.quadratic, fast=True)
    assert callable(sg.grad(c.quadratic, debug_hook=print))  # available now: test_debugger.py


def test_optimized_code_accumulates_in_place_and_pure_code_is_shown(rng):
    from . import golden_cases as g

    args = g.example_args("rnn")
    pure = sg.show(g.rnn, args=args)
    running = sg.show(g.rnn, args=args, optimized=True)
    assert "dW += np.outer(" in running and "dW += " not in pure
    assert "build_gradient(params, " in running and "gradient_like(params, {" in pure
    unoptimized = sg.grad(g.rnn, optimize=False)
    np.testing.assert_allclose(unoptimized(*args)["W"], sg.grad(g.rnn)(*args)["W"], rtol=1e-14)
