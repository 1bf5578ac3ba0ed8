"""Negations that cancel across statements are dropped (``transform/optimize/signs.py``):
the adjoint of a logistic sigmoid written as ``1 / (1 + exp(-a))`` negates twice. The
gradient is the pure derivative's bit for bit, values equal Python's, gradients agree with
central differences on calls 1-3 (also in loops of 0, 1 and many steps); the entry function
is tested on its own, also where it must leave the code as it is."""

import ast
from types import SimpleNamespace

import gast
import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.transform.optimize.signs import cancel_negations

from .fd import numerical_grad
from .internals import DEFAULT_TIERS


def sigmoid_loss(w, x):
    return np.sum(1.0 / (1.0 + np.exp(-(x * w))) * x)


def gated_loop(w, u, xs):
    h = np.zeros(xs.shape[1])
    for t in range(xs.shape[0]):
        g = 1.0 / (1.0 + np.exp(-(xs[t] * w + h * u)))
        h = g * h + (1.0 - g) * np.tanh(xs[t])
    return np.sum(h * h)


def _check(f, args, wrt):
    want = [numerical_grad(f, args, i) for i in wrt]
    pure = sg.value_and_grad(f, wrt, optimize=False)(*args)[1]
    df = sg.value_and_grad(f, wrt)
    for _ in range(3):  # the rank build, then the build for the shapes (optimized)
        value, grads = df(*args)
        assert value == f(*args)
        for got, p, w in zip(grads, pure, want):
            np.testing.assert_array_equal(got, p)  # the same bits as the pure derivative
            np.testing.assert_allclose(got, w, rtol=1e-6, atol=1e-8)


def test_a_sigmoid_gradient_is_the_pure_derivatives(rng):
    _check(sigmoid_loss, (rng.standard_normal(6), rng.standard_normal(6)), (0, 1))


@pytest.mark.parametrize("steps", [0, 1, 2, 8])
def test_a_sigmoid_gate_in_a_loop(steps, rng):
    args = (rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal((steps, 3)))
    _check(gated_loop, args, (0, 1))


@DEFAULT_TIERS
def test_the_running_sigmoid_adjoint_does_not_negate(rng):
    shown = sg.show(sigmoid_loss, args=(rng.standard_normal(6), rng.standard_normal(6)))
    assert "-" in shown.split("# line")[-1]  # the shown derivative keeps both negations
    running = sg.show(
        sigmoid_loss, args=(rng.standard_normal(6), rng.standard_normal(6)), optimized=True
    )
    adjoint = running.split("# line")[-1]
    assert "np.negative(" not in adjoint and "= -" not in adjoint


# -- the entry function on its own


def _run(source, floats=("g", "x", "y", "e", "a", "b")):
    body = gast.parse(source).body
    der = SimpleNamespace(analysis=SimpleNamespace(active=set(floats)), adj_names={})
    cancel_negations(body, der, {})
    return ast.unparse(gast.gast_to_ast(gast.Module(body=body, type_ignores=[])))


def test_entry_drops_both_negations_of_a_chain():
    got = _run("a = -g * x * x\nb = a * e\nm = -b")
    assert got.splitlines() == ["a = g * x * x", "b = a * e", "m = b"]


def test_entry_drops_a_negation_under_a_quotient():
    assert _run("a = x / -(g * y)\nm = -a").splitlines() == ["a = x / (g * y)", "m = a"]


@pytest.mark.parametrize(
    "source",
    [
        "a = -k * x\nm = -a",  # k is not known to be floating point: -k may wrap
        "a = -g * x\nb = a + y\nm = -b",  # a sum: not a chain of products
        "a = -g * x\nc = a * y\nm = -a",  # a read twice
        "a = -g * x\na = a * y\nm = -a",  # a assigned twice
        "a = -g * x\nnp.multiply(a, y, out=a)\nm = -a",  # a changed in place
        "a = g * x\nm = -a",  # nothing to cancel
    ],
)
def test_entry_leaves_what_it_cannot_prove(source):
    want = ast.unparse(ast.parse(source))
    assert _run(source) == want
