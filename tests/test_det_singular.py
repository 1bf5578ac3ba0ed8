"""``np.linalg.det`` differentiated at singular matrices (its adjoint inverted the matrix:
``LinAlgError`` where Python's own ``det`` gives 0): the cofactor matrix in reverse and
forward mode, for ranks n-1 and n-2 and stacks; second order exact at invertible matrices and
refused, naming the user's line, at singular ones."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .fd import numerical_grad

R = np.random.default_rng(4)


def det_loss(a):
    return np.sum(np.linalg.det(a) * np.arange(1.0, 1.0 + np.size(np.linalg.det(a))))


def _rank(n, r, batch=()):
    return R.standard_normal(batch + (n, r)) @ R.standard_normal(batch + (r, n))


POINTS = {
    "invertible": R.standard_normal((3, 3)),
    "rank_n_minus_1": np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, -1.0, 2.0]]),
    "rank_n_minus_2": np.outer([1.0, 2.0, -1.0], [0.5, 1.0, 3.0]),
    "stack": np.stack([_rank(3, 2), R.standard_normal((3, 3))]),
    "zero_matrix": np.zeros((2, 2)),
}


@pytest.mark.parametrize("point", list(POINTS))
def test_det_gradient_and_jvp(point):
    a = POINTS[point]
    want = numerical_grad(det_loss, (a,), 0)
    df = sg.value_and_grad(det_loss)
    for _ in range(3):
        value, g = df(a)
        assert value == det_loss(a)
        np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-7)
    v = R.standard_normal(a.shape)
    _, tangent = sg.jvp(det_loss)(a, v)
    np.testing.assert_allclose(tangent, np.sum(want * v), rtol=1e-6, atol=1e-7)


def test_det_second_order_at_an_invertible_matrix():
    a = POINTS["invertible"]
    v = R.standard_normal(a.shape)
    eps = 1e-5
    want = (sg.grad(det_loss)(a + eps * v) - sg.grad(det_loss)(a - eps * v)) / (2 * eps)
    for _ in range(3):
        np.testing.assert_allclose(sg.hvp(det_loss)(a, v), want, rtol=1e-6, atol=1e-7)


def test_det_second_order_at_a_singular_matrix_is_refused():
    a = POINTS["rank_n_minus_1"]
    with pytest.raises(sg.SourcegradError, match="only at invertible matrices") as e:
        sg.hvp(det_loss)(a, np.ones_like(a))
    assert e.value.filename == __file__


def logabsdet(a):
    return np.linalg.slogdet(a)[1]


def logabsdet_batch(a):
    return np.sum(np.linalg.slogdet(a)[1])


def test_slogdet_gradient_at_a_singular_matrix_is_refused():
    a = POINTS["rank_n_minus_1"]
    df = sg.grad(logabsdet)
    for _ in range(3):  # the pure build, then the optimized one
        with pytest.raises(sg.SourcegradError, match="no derivative at a singular") as e:
            df(a)
        assert e.value.filename == __file__
    with pytest.raises(sg.SourcegradError, match="no derivative at a singular"):
        sg.grad(logabsdet_batch)(np.stack([np.eye(3), a]))


def test_slogdet_gradient_at_an_invertible_matrix_is_the_inverse_transposed():
    a = np.array([[2.0, 0.5, 0.1], [0.3, -1.5, 0.2], [0.0, 0.4, 1.2]])
    df, db = sg.grad(logabsdet), sg.grad(logabsdet_batch)
    for _ in range(3):
        np.testing.assert_allclose(df(a), np.linalg.inv(a).T, rtol=1e-12)
        batch = np.stack([a, 2.0 * a.T])
        want = np.swapaxes(np.linalg.inv(batch), -1, -2)
        np.testing.assert_allclose(db(batch), want, rtol=1e-12)
