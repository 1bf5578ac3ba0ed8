"""sourcegrad.util's stable functions: values against direct NumPy (and SciPy), derivatives
by sourcegrad to second order and beyond."""

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import util as U


def model_loss(p, x, y):
    h = np.tanh(x @ p["W"] + p["b"])
    return (
        -np.sum(U.log_softmax(h) * y)
        + np.sum(U.softmax(h, axis=0) ** 2)
        + np.sum(U.sigmoid(h) * h)
        + np.sum(U.log_sum_exp(h, axis=0))
        + U.log_sum_exp(h, axis=None)
        + np.sum(U.log_sum_exp(h, keepdims=True) * h)
        + np.sum(U.cat([h, 2.0 * h], axis=1) ** 2)
        + np.sum(U.softplus(h) * U.log_sigmoid(h))
    )


@pytest.fixture
def problem():
    rng = np.random.default_rng(3)
    p = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    x = rng.standard_normal((5, 3))
    y = U.one_hot(rng.integers(0, 4, 5), 4)
    return p, x, y


def test_a_loss_calling_them_passes_gradcheck_to_second_order(problem):
    assert sg.gradcheck(model_loss, *problem, order=2)


def test_stop_gradient_blocks_the_gradient():
    def f(x):
        return np.sum(U.stop_gradient(x) * x)

    x = np.array([1.0, -2.0, 3.0])
    np.testing.assert_array_equal(sg.grad(f)(x), x)


def test_third_derivatives():
    s = 1.0 / (1.0 + np.exp(-0.3))
    d3 = sg.grad(sg.grad(sg.grad(U.sigmoid)))(0.3)
    np.testing.assert_allclose(d3, s * (1 - s) * (1 - 6 * s + 6 * s * s), rtol=1e-12)
    hess = sg.hessian(U.log_sum_exp)(np.array([1.0, 2.0, 3.0]))
    p = np.exp([1.0, 2.0, 3.0]) / np.sum(np.exp([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(hess, np.diag(p) - np.outer(p, p), rtol=1e-12, atol=1e-15)


def test_values_against_direct_numpy():
    rng = np.random.default_rng(0)
    x = 3.0 * rng.standard_normal((4, 5))
    e = np.exp(x)
    for axis in (0, 1, -1, None):
        lse = np.log(np.sum(e, axis=axis))
        np.testing.assert_allclose(U.log_sum_exp(x, axis=axis), lse, rtol=1e-14)
        keep = np.log(np.sum(e, axis=axis, keepdims=True))
        np.testing.assert_allclose(U.log_sum_exp(x, axis, keepdims=True), keep, rtol=1e-14)
        np.testing.assert_allclose(U.log_softmax(x, axis), x - keep, rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(
            U.softmax(x, axis), e / np.sum(e, axis=axis, keepdims=True), rtol=1e-14
        )
    np.testing.assert_allclose(U.sigmoid(x), 1.0 / (1.0 + np.exp(-x)), rtol=1e-14)
    np.testing.assert_allclose(U.log_sigmoid(x), np.log(1.0 / (1.0 + np.exp(-x))), rtol=1e-13)
    np.testing.assert_allclose(U.softplus(x), np.log1p(np.exp(x)), rtol=1e-14)
    np.testing.assert_array_equal(U.cat([x, 2 * x], axis=1), np.concatenate([x, 2 * x], 1))


def test_values_where_the_naive_formulas_fail():
    special = pytest.importorskip("scipy.special")
    big = np.array([[1000.0, 999.0, -1000.0], [-1e4, -1e4, -1e4]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # underflow is harmless
        np.testing.assert_allclose(U.log_sum_exp(big), special.logsumexp(big, axis=-1))
        np.testing.assert_allclose(U.log_softmax(big), special.log_softmax(big, axis=-1))
        np.testing.assert_allclose(U.softmax(big), special.softmax(big, axis=-1))
        x = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
        np.testing.assert_allclose(U.sigmoid(x), special.expit(x), rtol=1e-14)
        np.testing.assert_allclose(U.log_sigmoid(x), special.log_expit(x), rtol=1e-14)
    assert U.sigmoid(np.array(-40.0)) == pytest.approx(4.248354255291589e-18, rel=1e-14)
    inf = np.array([[np.inf, 0.0], [-np.inf, -np.inf]])
    with np.errstate(invalid="ignore", divide="ignore"):
        np.testing.assert_array_equal(U.log_sum_exp(inf), [np.inf, -np.inf])


def test_float32_stays_float32():
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    for fn in (U.log_sum_exp, U.log_softmax, U.softmax, U.sigmoid, U.log_sigmoid, U.softplus):
        assert fn(x).dtype == np.float32, fn.__name__
        assert sg.grad(lambda v, fn=fn: np.sum(fn(v) ** 2))(x).dtype == np.float32


def test_one_hot():
    labels = np.array([[0, 2], [1, 1]])
    out = U.one_hot(labels, 3)
    assert out.shape == (2, 2, 3) and out.dtype == np.float64
    np.testing.assert_array_equal(out.argmax(-1), labels)
    np.testing.assert_array_equal(out.sum(-1), np.ones((2, 2)))
    assert U.one_hot([1, 0], 2, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match="0 .. 2"):
        U.one_hot(np.array([3]), 3)
    with pytest.raises(ValueError, match="integers"):
        U.one_hot(np.array([0.5]), 3)
