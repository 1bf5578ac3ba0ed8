"""``sg.grad(functools.partial(loss, ...))``, as JAX users write it: the positional values the
partial binds come first, its keywords are defaults the call may override, and ``wrt``
counts the parameters the partial leaves. Every transformation differentiates it as it
differentiates ``loss`` with those values."""

import functools

import numpy as np
import pytest

import sourcegrad as sg
from tests.ported.harness import numerical

rng = np.random.default_rng(11)
W = rng.standard_normal((3, 2))
X = rng.standard_normal((4, 3))
Y = rng.standard_normal((4, 2))


def loss(W, X, Y, reg=0.1, *, power=2):
    return np.sum(np.abs(np.tanh(X @ W) - Y) ** power) + reg * np.sum(W**2)


def stacked(params, *batch, scale=1.0):
    return scale * sum(np.sum(np.tanh(b @ params) ** 2) for b in batch)


@pytest.mark.parametrize(
    "p, args, plain",
    [
        (functools.partial(loss, reg=0.3), (W, X, Y), lambda w: loss(w, X, Y, reg=0.3)),
        (functools.partial(loss, X=X, Y=Y), (W,), lambda w: loss(w, X, Y)),
        (functools.partial(loss, power=3), (W, X, Y), lambda w: loss(w, X, Y, power=3)),
        (
            functools.partial(functools.partial(loss, power=4), reg=0.0),
            (W, X, Y),
            lambda w: loss(w, X, Y, reg=0.0, power=4),
        ),
        (
            functools.partial(stacked, scale=2.0),
            (W, X, X * 0.5),
            lambda w: stacked(w, X, X * 0.5, scale=2.0),
        ),
    ],
    ids=["keyword", "data bound by keyword", "keyword-only", "partial of a partial", "*batch"],
)
def test_a_partial_is_differentiated_with_what_it_binds(p, args, plain):
    df, vg = sg.grad(p), sg.value_and_grad(p)
    want = numerical(plain, (W,), 0)
    for _ in range(3):
        np.testing.assert_allclose(df(*args), want, rtol=1e-6, atol=1e-8)
        value, g = vg(*args)
        assert value == plain(W)
    v = rng.standard_normal(W.shape)
    hv = sg.hvp(p)(*args, v)
    fd = (df(W + 1e-5 * v, *args[1:]) - df(W - 1e-5 * v, *args[1:])) / 2e-5
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-7)


def test_positional_values_bound_shift_wrt():
    p = functools.partial(loss, W)  # X, Y, reg left
    gx = sg.grad(p)(X, Y)
    np.testing.assert_allclose(gx, numerical(loss, (W, X, Y), 1), rtol=1e-6, atol=1e-8)
    gy = sg.grad(p, wrt=1)(X, Y)
    np.testing.assert_allclose(gy, numerical(loss, (W, X, Y), 2), rtol=1e-6, atol=1e-8)


def test_a_keyword_the_call_gives_overrides_the_partials():
    p = functools.partial(loss, reg=0.3)
    got = sg.grad(p)(W, X, Y, reg=1.5)
    np.testing.assert_allclose(
        got, numerical(lambda w: loss(w, X, Y, reg=1.5), (W,), 0), rtol=1e-6, atol=1e-8
    )


def test_the_shown_derivative_calls_the_function_the_partial_binds():
    text = sg.show(functools.partial(loss, reg=0.3), args=(W, X, Y))
    assert "def d_loss_partial(W, X, Y, *, reg, power):" in text or "loss_partial" in text
    assert "np.tanh" in text
