"""A derivative made after a global function a helper reads was rebound differentiates the
new one (the helper's derivative is built into the caller's: the caller's builds are kept by
what its helpers read too, and so are the helpers' own derivatives and kept halves). It gave
the old function's derivative, silently, for helpers and helpers of helpers."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from . import rebound_cases as R

W = np.linspace(-1.0, 1.0, 6).reshape(3, 2)
X = np.array([[0.3, -0.7, 1.1], [0.5, 0.2, -0.4], [1.0, 0.1, -0.2]])


def _fd(f, eps=1e-6):
    g = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        w = W.copy()
        w[idx] += eps
        up = f(w, X)
        w[idx] -= 2 * eps
        g[idx] = (up - f(w, X)) / (2 * eps)
    return g


@pytest.mark.parametrize("name", ["loss", "deep_loss"])
def test_new_derivative_after_a_rebound_global(name, monkeypatch):
    f = getattr(R, name)
    for act in (np.tanh, np.sin, np.tanh):
        monkeypatch.setattr(R, "ACT", act)
        vg = sg.value_and_grad(f)
        for call in range(3):  # kept halves of the helpers from the second call on
            value, g = vg(W, X)
            assert value == f(W, X)
            np.testing.assert_allclose(g, _fd(f), rtol=1e-6, atol=1e-8, err_msg=f"{act}, {call}")
