"""Sequences as people handle them. Tuples joined with ``+`` (``args + (x,)``, as HIPS autograd's RNN example builds the input
of ``np.hstack``): the items of both sides, differentiated one by one; a join whose items are
not known when the derivative is built is refused (it crashed inside the runtime). Loops
over ``reversed(layers)``."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .fd import check_running_code


def concat_and_multiply(weights, *args):
    cat_state = np.hstack(args + (np.ones((args[0].shape[0], 1)),))
    return np.dot(cat_state, weights)


def rnn_step(W, x, h):
    return np.sum(np.tanh(concat_and_multiply(W, x, h)) ** 2)


def displays_joined(x):
    parts = (x, x * 2.0) + (np.sin(x),)
    return np.sum(np.stack(parts) ** 2)


def argument_tuples_joined(pair, other):
    both = pair + other
    return np.sum(both[0] * both[3]) + np.sum(both[1] * both[2])


@pytest.mark.parametrize("wrt", [0, 1, 2])
def test_autograd_rnn_concat_and_multiply(wrt):
    rng = np.random.default_rng(0)
    args = [
        rng.standard_normal((6, 3)) * 0.5,
        rng.standard_normal((2, 2)),
        rng.standard_normal((2, 3)),
    ]
    check_running_code(rnn_step, *args, wrt=wrt)
    assert sg.gradcheck(rnn_step, *args, wrt=wrt, order=2)


def test_displays_joined():
    check_running_code(displays_joined, np.linspace(-1.0, 1.0, 4))


def test_argument_tuples_joined():
    rng = np.random.default_rng(1)
    pair = (rng.standard_normal(3), rng.standard_normal(3))
    other = (rng.standard_normal(3), rng.standard_normal(3))
    value, (g_pair, g_other) = sg.value_and_grad(argument_tuples_joined, (0, 1))(pair, other)
    assert value == argument_tuples_joined(pair, other)
    np.testing.assert_allclose(g_pair[0], other[1])
    np.testing.assert_allclose(g_other[1], pair[0])


def unknown_join(x, n):
    items = tuple(x[:k] for k in range(1, n))
    both = (x,) + items
    return np.sum(both[0])


def test_a_join_of_unknown_items_is_refused():
    with pytest.raises(sg.SourcegradError) as info:
        sg.grad(unknown_join)(np.ones(4), 3)
    assert "test_sequence_idioms.py" in str(info.value)


def backwards_through_layers(layers, x):
    for W in reversed(layers):
        x = np.tanh(W @ x)
    for i, W in enumerate(reversed(layers)):
        x = np.sin(W @ x) * (i + 1.0)
    return np.sum(x)


def test_loops_over_reversed_lists():
    """``for W in reversed(layers)`` reads the list backwards (it was refused, with advice
    to loop over it directly, which it did)."""
    rng = np.random.default_rng(2)
    layers = [rng.standard_normal((3, 3)) * 0.6 for _ in range(3)]
    x = rng.standard_normal(3)
    check_running_code(backwards_through_layers, layers, x, wrt=1)
    assert sg.gradcheck(backwards_through_layers, layers, x, wrt=1, order=2)
    value, g = sg.value_and_grad(backwards_through_layers)(layers, x)
    eps = 1e-6
    for k in range(3):
        for i in np.ndindex(3, 3):
            up = [w.copy() for w in layers]
            down = [w.copy() for w in layers]
            up[k][i] += eps
            down[k][i] -= eps
            fd = (backwards_through_layers(up, x) - backwards_through_layers(down, x)) / (2 * eps)
            np.testing.assert_allclose(g[k][i], fd, rtol=1e-6, atol=1e-8)
