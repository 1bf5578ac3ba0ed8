"""The compiled forward (torch-autograd's ``withGradients=false``):
``grad(f, with_gradients=False)`` returns exactly ``f``'s value, runs ``f`` in core form on the
first call and the optimized build from the second call with the same shapes on."""

import numpy as np
import pytest

import sourcegrad as sg

from . import golden_cases as cases


@pytest.mark.parametrize("name", ["neural_net", "rnn", "softmax_cross_entropy", "newton_sqrt"])
def test_the_compiled_forward_returns_exactly_fs_value(name):
    f = getattr(cases, name)
    args = cases.example_args(name)
    fwd = sg.grad(f, with_gradients=False)
    for _ in range(4):  # through the tiers
        assert fwd(*args) == f(*args)
    assert sg.value_and_grad(f, with_gradients=False)(*args) == f(*args)


def test_the_second_call_runs_the_optimized_forward():
    args = cases.example_args("neural_net")
    sg.api.clear_cache()  # builds made by the test before are not shared
    fwd = sg.grad(cases.neural_net, with_gradients=False)
    fwd(*args)
    (first,) = fwd._ranked.values()  # the build for these ranks, run by the first call
    assert first.provisional and first.pure is None and "x @ W0" in first.text  # core form
    fwd(*args)
    running = fwd._last[1]  # the build the last call ran, from then on
    assert running is not first and running.pure is not None
    code = running.pretty(optimized=True)
    assert "np.dot(x, W0, buffers[0])" in code and "np.add.reduce" in code  # pooled
    assert "def fwd_neural_net(params, x, y):" in fwd.source(*args)
    assert "dW0" not in code  # no gradient code at all
    assert fwd(*args) == cases.neural_net(*args)


def test_the_compiled_forward_pools_its_buffers_and_leaves_arguments_alone():
    args = cases.example_args("rnn")
    before = {k: v.copy() for k, v in args[0].items()}
    fwd = sg.grad(cases.rnn, with_gradients=False)
    for _ in range(3):
        assert fwd(*args) == cases.rnn(*args)
    mlp = sg.grad(cases.neural_net, with_gradients=False)
    for _ in range(3):
        mlp(*cases.example_args("neural_net"))
    assert mlp.held_bytes() > 0  # pooled, as the gradient's running code: benchmarks/forward.py
    for k, v in before.items():
        np.testing.assert_array_equal(args[0][k], v)
