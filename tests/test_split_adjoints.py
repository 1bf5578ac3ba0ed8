"""The adjoint of ``np.split`` with every piece used is one concatenation in the running code
(no zeros per piece); values and gradients stay Python's and the pure derivative's."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from . import split_cases as C
from .fd import numerical_grad


@pytest.mark.parametrize("f", C.CASES, ids=lambda f: f.__name__)
def test_values_and_gradients(f):
    W, xs = C.make_args()
    want = f(W, xs)
    fd = numerical_grad(lambda W, xs, w: f(W, xs) * w, (W, xs, 1.0), 0)
    vg = sg.value_and_grad(f)
    _, pure = sg.value_and_grad(f, optimize=False)(W, xs)
    for call in range(4):
        value, g = vg(W, xs)
        assert value == want, f"call {call}"
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8, err_msg=f"call {call}")
        np.testing.assert_allclose(g, pure, rtol=1e-12, atol=1e-14, err_msg=f"call {call}")


def test_every_piece_used_is_one_concatenation():
    W, xs = C.make_args()
    text = sg.show(C.gates, args=(W, xs), optimized=True)
    assert "np.concatenate((di, df, dg, do), -1)" in text, text
    assert "unindex" not in text, text


def test_an_unused_piece_keeps_the_general_form():
    W, xs = C.make_args()
    text = sg.show(C.one_piece_unused, args=(W, xs), optimized=True)
    assert "np.concatenate((" not in text, text
