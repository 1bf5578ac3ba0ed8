"""A GRU's hoisted weight gradient reads the forward loop's per-step rows: the stack of
``r * h`` for ``dW_h[:, 2H:]`` is the pooled buffer the forward loop computed into, so no
step copies it. Values equal Python's and gradients agree with central differences on calls
1-3, for 0, 1 and many steps; where the row is changed after the product read it, the stack
keeps its own copy."""

import numpy as np
import pytest

import sourcegrad as sg

from .fd import numerical_grad
from .internals import DEFAULT_TIERS

N, D, H = 3, 4, 5


def gru_loss(params, xs, y):
    n = xs.shape[1]
    H = params["W_h"].shape[0]
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    h = np.zeros((n, H), dtype=xs.dtype)
    for t in range(xs.shape[0]):
        a = xs[t] @ W_x + b
        zr = 1.0 / (1.0 + np.exp(-(a[:, : 2 * H] + h @ W_h[:, : 2 * H])))
        z = zr[:, :H]
        r = zr[:, H:]
        c = np.tanh(a[:, 2 * H :] + (r * h) @ W_h[:, 2 * H :])
        h = (1.0 - z) * h + z * c
    return np.sum(y * h) + 0.1 * np.sum(h * h)


def changed_row_loss(params, xs, y):
    """``u = r * h`` is read by the product, then changed in place and read again."""
    n = xs.shape[1]
    H = params["W_h"].shape[0]
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    h = np.zeros((n, H), dtype=xs.dtype)
    for t in range(xs.shape[0]):
        a = xs[t] @ W_x + b
        r = 1.0 / (1.0 + np.exp(-(a[:, :H] + h @ W_h[:, :H])))
        u = r * h
        c = np.tanh(a[:, H:] + u @ W_h[:, H:])
        u *= 2.0
        h = 0.5 * u + c
    return np.sum(y * h)


def inputs(steps, width, seed=0):
    rng = np.random.default_rng(seed)
    params = {
        "W_x": rng.standard_normal((D, width * H)) / 2.0,
        "W_h": rng.standard_normal((H, width * H)) / 2.0,
        "b": rng.standard_normal(width * H) * 0.1,
    }
    return params, rng.standard_normal((steps, N, D)), rng.standard_normal((N, H))


def numerical(loss, args):
    """Central differences of ``loss`` in each array of ``args[0]`` (a dict)."""
    params, rest = args[0], args[1:]
    out = {}
    for key, leaf in params.items():

        def at(v, *rest, key=key):
            return loss(dict(params, **{key: v}), *rest)

        out[key] = numerical_grad(at, (leaf, *rest), 0)
    return out


def assert_gradients(loss, args):
    """Value ``==`` Python's, gradients against central differences, calls 1 to 3."""
    want = numerical(loss, args)
    df = sg.value_and_grad(loss)
    for _ in range(3):  # the rank build, then the build for the shapes (optimized)
        value, grads = df(*args)
        assert value == loss(*args)
        assert sorted(grads) == sorted(want)
        for key in want:
            np.testing.assert_allclose(grads[key], want[key], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("steps", [0, 1, 2, 9])
def test_gru_of_0_1_or_many_steps(steps):
    assert_gradients(gru_loss, inputs(steps, 3))


@pytest.mark.parametrize("steps", [0, 1, 6])
def test_a_row_changed_after_the_product_read_it(steps):
    assert_gradients(changed_row_loss, inputs(steps, 2, seed=1))


def test_calls_with_new_values_see_their_own_rows():
    df = sg.value_and_grad(gru_loss)
    for seed in range(4):  # the pooled rows are reused from one call to the next
        args = inputs(5, 3, seed=seed)
        value, grads = df(*args)
        assert value == gru_loss(*args)
        want = numerical(gru_loss, args)
        for key in want:
            np.testing.assert_allclose(grads[key], want[key], rtol=1e-6, atol=1e-8)


@DEFAULT_TIERS
def test_the_stack_of_r_h_is_the_forward_loops_buffer():
    shown = sg.show(gru_loss, args=inputs(6, 3), optimized=True)
    made = shown[shown.index("np.multiply(r, h, buffers[") :].split("\n")[0]
    buffer = made[len("np.multiply(r, h, ") : made.index("[t]")]
    loop = shown[shown.index("for t in reversed(") :]
    assert f"_steps = {buffer}\n" in shown  # the stack is the forward loop's buffer
    assert "c_3_steps[t] = " not in loop and "= c_3\n" not in loop


def test_lengths_that_vary_between_calls_of_one_derivative():
    df = sg.value_and_grad(gru_loss)
    for steps in [3, 7, 2, 7, 0, 5]:  # a build per length, or one symbolic build for all
        args = inputs(steps, 3, seed=steps)
        value, grads = df(*args)
        assert value == gru_loss(*args)
        want = numerical(gru_loss, args)
        for key in want:
            np.testing.assert_allclose(grads[key], want[key], rtol=1e-6, atol=1e-8)
