"""Functions made by a factory of the user's (``def make_block(W): def block(h): ...; return
block``), as functional-style code writes layers. Given a differentiated value, the closure
it returns carries that value into every call, which the derivative cannot follow: before,
the gradient through the captured value was silently missing; now the call is refused, with
the way out (pass the value as an argument), which is checked to be differentiated. Given
constants, the closure runs as written. A flag a method sets to a constant
(``net.eval()`` setting ``self.training = False``) is read as the constant it is."""

import numpy as np
import pytest

from sourcegrad.errors import UnsupportedSyntaxError

from .harness import Case, check, params

rng = np.random.default_rng(113)
X = rng.standard_normal((6, 3))
WS = [0.3 * rng.standard_normal((3, 3)) for _ in range(3)]


def make_block(W):
    def block(h):
        return h + np.tanh(h @ W)

    return block


def make_scaled(s):
    return lambda h: s * h


def one_closure(W0, x):
    b = make_block(W0)
    return np.sum(b(x) ** 2)  # REFUSED


def closures_in_a_list(W0, x):
    blocks = [make_block(W0)] + [make_block(W) for W in WS[1:]]
    h = x
    for b in blocks:
        h = b(h)  # REFUSED
    return np.sum(h**2)


def lambda_from_a_factory(s, x):
    f = make_scaled(s)
    return np.sum(f(x) ** 2)  # REFUSED


def closures_over_constants(x):
    blocks = [make_block(W) for W in WS]
    h = x
    for b in blocks:
        h = b(h)
    return np.sum(h**2)


def block_with_its_weight(h, W):
    return h + np.tanh(h @ W)


def the_way_out(W0, x):
    h = x
    for W in [W0, WS[1], WS[2]]:
        h = block_with_its_weight(h, W)
    return np.sum(h**2)


def star_of_a_global(W0, x):
    h = x
    for W in [W0, *WS[1:]]:  # REFUSED
        h = block_with_its_weight(h, W)
    return np.sum(h**2)


class Net:
    def __init__(self, W1, W2):
        self.W1 = W1
        self.W2 = W2
        self.training = True

    def eval(self):
        self.training = False

    def forward(self, x):
        h = np.tanh(x @ self.W1)
        if self.training:
            h = h * 0.5
        return h @ self.W2


def evaluated_module(W1, x):
    net = Net(W1, np.ones((4, 2)))
    net.eval()
    return np.sum(net.forward(x) ** 2)


WAY_OUT = "pass them to it as arguments"
CASES = [
    Case("one closure", one_closure, (WS[0], X), refused=(UnsupportedSyntaxError, WAY_OUT)),
    Case(
        "closures in a list",
        closures_in_a_list,
        (WS[0], X),
        refused=(UnsupportedSyntaxError, WAY_OUT),
    ),
    Case(
        "a lambda from a factory",
        lambda_from_a_factory,
        (1.5, X),
        refused=(UnsupportedSyntaxError, WAY_OUT),
    ),
    Case("closures over constants", closures_over_constants, (X,), order=2),
    Case("the way out", the_way_out, (WS[0], X), order=2),
    Case(
        "a display with a global starred",
        star_of_a_global,
        (WS[0], X),
        refused=(UnsupportedSyntaxError, "list the items one by one (`[a, b, c]`)"),
    ),
    Case("a module set to eval", evaluated_module, (rng.standard_normal((3, 4)), X), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_closure_factories(case):
    check(case)
