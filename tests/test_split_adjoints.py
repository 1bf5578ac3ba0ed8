"""The adjoint of ``np.split`` with every piece used is one concatenation in the running code
(no zeros per piece); values and gradients stay Python's and the pure derivative's."""

from __future__ import annotations

import pytest

import sourcegrad as sg

from . import split_cases as C
from .fd import check_running_code


@pytest.mark.parametrize("f", C.CASES, ids=lambda f: f.__name__)
def test_values_and_gradients(f):
    check_running_code(f, *C.make_args())


def test_every_piece_used_is_one_concatenation():
    W, xs = C.make_args()
    text = sg.show(C.gates, args=(W, xs), optimized=True)
    assert "np.concatenate((di, df, dg, do), -1)" in text, text
    assert "unindex" not in text, text


def test_an_unused_piece_keeps_the_general_form():
    W, xs = C.make_args()
    text = sg.show(C.one_piece_unused, args=(W, xs), optimized=True)
    assert "np.concatenate((" not in text, text
