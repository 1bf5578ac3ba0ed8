"""What the shown derivative of everyday code leaves out because nothing needs it, checked on
the source and, with every derivative called several times, against central differences."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check


def affine(x, W, b):
    return x @ W + b


def affine_loss(W, b, x):
    return np.sum(np.tanh(affine(x, W, b)) ** 2)


def _affine_args():
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal((4, 3))


def test_unpacked_arrays_need_no_as_adjoint():
    shown = sg.show(affine_loss, (0, 1), args=_affine_args(), callees=False)
    assert "dW, db = vjp_affine(" in shown, shown
    assert "as_adjoint" not in shown, shown


def relu(x):
    return np.maximum(x, 0.0)


def two_layers(W, b, x):
    h = relu(affine(x, W, b))
    return np.sum(affine(h, W.T, x[0]) ** 2)


def test_a_helpers_result_has_its_rank():
    shown = sg.show(two_layers, (0, 1), args=_affine_args(), callees=False)
    assert "dh, dout_1 = vjp_affine(h, out_1, x0, g_out=2.0 * out_2)" in shown, shown
    assert "as_adjoint" not in shown, shown
    assert "dW_1, db = vjp_affine_1(x, W, b, g_out=dh_1)" in shown, shown  # no db = db_1


def squash(v):
    return np.tanh(v)


def through_squash(v):
    return squash(v) * 2.0


def squash_loss(v):
    return np.sum(through_squash(v) ** 2)


def test_a_callee_rebound_is_followed(monkeypatch):
    v = np.linspace(-1.0, 1.0, 5)
    first = sg.grad(squash_loss)
    for _ in range(3):
        np.testing.assert_allclose(first(v), 8.0 * np.tanh(v) / np.cosh(v) ** 2)
    monkeypatch.setitem(globals(), "squash", lambda v: np.sum(np.sin(v)))
    again = sg.grad(squash_loss)
    for _ in range(3):
        np.testing.assert_allclose(again(v), 8.0 * np.sum(np.sin(v)) * np.cos(v))


def layers_loss(params, x):
    n, d = x.shape
    for W, b in params:
        x = np.tanh(x @ W + b)
    return np.sum(x**2) / (n * d)


def _layers_args():
    rng = np.random.default_rng(2)
    params = [(rng.standard_normal((3, 3)), rng.standard_normal(3)) for _ in range(2)]
    return params, rng.standard_normal((4, 3))


def test_unpacked_values_are_named_after_what_they_hold():
    shown = sg.show(layers_loss, args=_layers_args(), callees=False)
    assert "shape_1 = x.shape" in shown and "W_b_1 = params[k]" in shown, shown
    assert " t_1 = " not in shown, shown


def logistic(w, X, t):
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    return -np.sum(t * np.log(p) + (1 - t) * np.log(1 - p))


def _logistic_args():
    rng = np.random.default_rng(3)
    return rng.standard_normal(3), rng.standard_normal((5, 3)), (rng.random(5) > 0.5) * 1.0


def test_no_negation_of_a_negated_product():
    shown = sg.show(logistic, args=_logistic_args(), callees=False)
    assert "-(-" not in shown, shown


CASES = [
    Case("logistic", logistic, _logistic_args()),
    Case("layers", layers_loss, _layers_args()),
    Case("affine", affine_loss, _affine_args(), wrt=(0, 1)),
    Case("two_layers", two_layers, _affine_args(), wrt=(0, 1)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_derivatives(case):
    check(case)
