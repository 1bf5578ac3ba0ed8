"""A method that keeps values on its object, read after the call: ``self.forward(x)``
storing ``self.probs``, then ``self.probs`` read. The method's body is inlined at the call
(normalize), so the stores become the caller's own stores on the receiver; where it cannot
be (recursive, another file, a ``try``), the call is refused at the user's line, saying why."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from tests.method_effect_layers import Cache
from tests.ported.harness import Case, check, check_refusal, marked_line, numerical, params


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class Net:
    def __init__(self, W1, W2):
        self.W1, self.W2 = W1, W2

    def forward(self, x):
        self.h = np.tanh(x @ self.W1)
        self.probs = softmax(self.h @ self.W2)
        return self.probs

    def loss(self, x, y):
        self.forward(x)
        return -np.sum(y * np.log(self.probs))

    def loss_used(self, x, y):
        out = self.forward(x)
        return -np.sum(y * np.log(out)) + 0.1 * np.sum(self.h**2)


class Deep:
    def __init__(self, W1, W2):
        self.W1, self.W2 = W1, W2

    def hidden(self, x):
        self.h = np.tanh(x @ self.W1)

    def forward(self, x, scale=1.0):
        self.hidden(x)
        self.z = scale * (self.h @ self.W2)
        return self.z

    def loss(self, x):
        self.forward(x, scale=0.5)
        return np.sum(self.z**2) + np.sum(np.sin(self.h))


class Recursive:
    def __init__(self, W):
        self.W = W

    def deep(self, x, n):
        if n > 0:
            self.deep(x @ self.W, n - 1)
        else:
            self.out = np.tanh(x)


class Guarded:
    def __init__(self, W):
        self.W = W

    def forward(self, x):
        try:
            self.out = np.tanh(x @ self.W)
        except ValueError:
            self.out = x
        return self.out


class Gate:
    def __init__(self, W):
        self.W = W

    def gated(self, x, y):  # (not `forward`: Guarded.forward reads `self.out` back after a try)
        if np.sum(y) > 2.0:
            self.out = np.tanh(x @ self.W)
        else:
            self.out = np.sin(x @ self.W)
        return self.out * 2.0


def stored_in_both_branches(W1, W2, x, y):
    gate = Gate(W1)
    return np.sum(gate.gated(x, y) ** 2)


def discarded(W1, W2, x, y):
    net = Net(W1, W2)
    net.forward(x)
    return -np.sum(y * np.log(net.probs))


def through_method(W1, W2, x, y):
    net = Net(W1, W2)
    return net.loss(x, y)


def result_used(W1, W2, x, y):
    net = Net(W1, W2)
    return net.loss_used(x, y)


def called_twice(W1, W2, x, y):
    net = Net(W1, W2)
    net.forward(x)
    first = net.probs
    net.forward(0.5 * x + 1.0)
    return np.sum(first * net.probs) + np.sum(net.h)


def two_levels(W1, W2, x, y):
    deep = Deep(W1, W2)
    value = deep.loss(x)
    return value + np.sum(y * deep.h[:, :2])


def with_keywords(W1, W2, x, y):
    deep = Deep(W1, W2)
    out = deep.forward(scale=np.sum(y) * 0.1, x=np.sin(x))
    return np.sum(out * deep.h[:, :2]) + np.sum(deep.z)


def in_a_branch(W1, W2, x, y):
    net = Net(W1, W2)
    if np.sum(y) > 2.0:
        net.forward(x)
    else:
        net.forward(-x)
    return -np.sum(y * np.log(net.probs)) + np.sum(net.h)


def in_a_loop(W1, W2, x, y):
    net = Net(W1, W2)
    total = 0.0
    for k in range(3):
        net.forward(x * (k + 1.0))
        total = total + np.sum(net.probs * y)
    return total


def _args(seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((3, 4)),
        rng.standard_normal((4, 2)),
        rng.standard_normal((5, 3)),
        np.eye(2)[[0, 1, 1, 0, 1]],
    )


LOOPED = (in_a_loop, in_a_branch, stored_in_both_branches)
CASES = [
    Case(f.__name__, f, _args(), wrt=(0, 1, 2), order=2)
    for f in (discarded, through_method, result_used, called_twice, two_levels, with_keywords)
]


CASES += [Case(f.__name__, f, _args(), wrt=(0, 2), order=2) for f in LOOPED]


@pytest.mark.parametrize("case", params(CASES))
def test_method_effects(case):
    check(case)


def on_argument(net, x, y):
    net.forward(x)
    return -np.sum(y * np.log(net.probs))


def test_an_argument_object_holds_what_python_leaves():
    W1, W2, x, y = _args(1)
    want = Net(W1, W2)
    value = on_argument(want, x, y)
    expected = numerical(lambda x: on_argument(Net(W1, W2), x, y), (x,), 0)
    df = sg.value_and_grad(on_argument, 1)
    for _ in range(3):
        net = Net(W1, W2)
        got, dx = df(net, x, y)
        assert got == pytest.approx(value, rel=1e-12)
        np.testing.assert_allclose(dx, expected, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(net.h, want.h, rtol=1e-12)
        np.testing.assert_allclose(net.probs, want.probs, rtol=1e-12)


def test_the_hvp_along_an_argument_object_s_input():
    W1, W2, x, y = _args(2)
    v = np.random.default_rng(3).standard_normal(x.shape)
    grad = sg.grad(on_argument, 1)
    eps = 1e-5
    want = (grad(Net(W1, W2), x + eps * v, y) - grad(Net(W1, W2), x - eps * v, y)) / (2 * eps)
    hvp = sg.hvp(on_argument, 1)
    for _ in range(3):
        net = Net(W1, W2)
        np.testing.assert_allclose(hvp(net, x, y, v), want, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(net.probs, Net(W1, W2).forward(x), rtol=1e-12)


def test_the_inlined_method_reads_like_hand_written_code():
    text = sg.show(discarded, args=_args(), callees=False)
    assert "net.forward" not in text
    assert "net.probs = probs" in text
    assert "# line" in text and "self.probs = softmax(self.h @ self.W2)" in text
    assert "vjp_forward" not in text


def recursive(W, x):
    r = Recursive(W)
    r.deep(x, 2)  # REFUSED
    return np.sum(r.out)


def other_file(W, x):
    layer = Cache(W)
    layer.forward(x)  # REFUSED
    return np.sum(layer.out**2)


def with_try(W, x):
    g = Guarded(W)
    g.forward(x)  # REFUSED
    return np.sum(g.out)


def shadows_a_global(W, x):
    softmax = 2.0
    net = Net(W, W)
    net.forward(x)  # REFUSED
    return np.sum(net.probs) * softmax


@pytest.mark.parametrize(
    "f, why",
    [
        (recursive, "deep() calls itself"),
        (other_file, "another file"),
        (with_try, "has a `try` block"),
        (shadows_a_global, "reads the global `softmax`, a local variable of the caller"),
    ],
)
def test_what_cannot_be_inlined_is_refused_saying_why(f, why):
    args = (np.eye(3) * 0.5, np.ones((2, 3)))
    check_refusal(f, args, sg.SourcegradError, why, wrt=1)
    check_refusal(f, args, sg.SourcegradError, "make", wrt=1)
    assert marked_line(f)
