"""``unravel`` from ``sourcegrad.util.ravel`` inside a differentiated function: the gradient in
the flat vector is the tree's gradient laid out as ``ravel`` lays it out, leaves a loss does not
use get zeros, and second order works (``hessian`` of nested parameters through a vector, the
way out ``hessian()`` names for a dict)."""

from __future__ import annotations

import numpy as np

import sourcegrad as sg

from . import unravel_cases as U

X = np.array([[0.3, -0.7, 1.1], [0.5, 0.2, -0.4]])


def _fd_grad(f, flat, eps=1e-6):
    return np.array(
        [(f(flat + eps * e, X) - f(flat - eps * e, X)) / (2 * eps) for e in np.eye(flat.size)]
    )


def test_gradient_is_the_tree_gradient_laid_out():
    vg = sg.value_and_grad(U.flat_loss)
    floats = {k: v for k, v in U.PARAMS.items() if k != "name_len"}  # an int has no gradient
    tree_grad = {**sg.grad(U.tree_loss)(floats, X), "name_len": U.PARAMS["name_len"]}
    for _ in range(3):
        value, g = vg(U.FLAT, X)
        assert value == U.flat_loss(U.FLAT, X)
        np.testing.assert_allclose(g, U.UNRAVEL.ravel(tree_grad), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(g, _fd_grad(U.flat_loss, U.FLAT), rtol=1e-6, atol=1e-8)


def test_unused_leaves_get_zeros():
    g = sg.grad(U.unused_leaf_loss)(U.FLAT, X)
    want = _fd_grad(U.unused_leaf_loss, U.FLAT)
    np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-8)
    assert np.all(g[6:] == 0.0)


def test_hessian_through_unravel():
    H = sg.hessian(U.flat_loss)(U.FLAT, X)
    g = sg.grad(U.flat_loss)
    eps = 1e-5
    fd = np.array(
        [(g(U.FLAT + eps * e, X) - g(U.FLAT - eps * e, X)) / (2 * eps) for e in np.eye(U.FLAT.size)]
    )
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)
