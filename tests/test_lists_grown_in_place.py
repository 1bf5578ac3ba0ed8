"""Lists grown in loops grow in place in the running code (``hs.append(h)``, not a copy per
step), where nothing else can reach the list; values and gradients stay Python's and the
pure derivative's, on the first and later calls."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from . import list_growth_cases as L
from .fd import numerical_grad


@pytest.mark.parametrize("f", L.CASES, ids=lambda f: f.__name__)
def test_values_and_gradients(f):
    W, xs = L.make_args()
    want = f(W, xs)
    fd = numerical_grad(lambda W, xs, w: f(W, xs) * w, (W, xs, 1.0), 0)
    vg = sg.value_and_grad(f)
    _, pure = sg.value_and_grad(f, optimize=False)(W, xs)
    for call in range(4):
        value, g = vg(W, xs)
        assert value == want, f"call {call}"
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8, err_msg=f"call {call}")
        np.testing.assert_allclose(g, pure, rtol=1e-12, atol=1e-14, err_msg=f"call {call}")


def test_running_code_appends():
    W, xs = L.make_args()
    text = sg.show(L.stacked, args=(W, xs), optimized=True)
    assert "hs.append(h)" in text and "[*hs" not in text, text
    assert "[*hs, h]" in sg.show(L.stacked, args=(W, xs))  # the pure derivative: one value each


@pytest.mark.parametrize("f", L.SHARED, ids=lambda f: f.__name__)
def test_a_list_shared_then_changed_is_refused(f):
    """Python changes every reference to a list that grows in place; the derivative follows
    values, so sharing a list that then changes is refused at the line that shares it."""
    W, xs = L.make_args()
    with pytest.raises(sg.SourcegradError) as info:
        sg.grad(f)(W, xs)
    shared = "first = hs" if f is L.aliased else "pair = (hs, h)"
    lines = [i for i, text in enumerate(open(L.__file__), 1) if shared in text]
    assert any(f"list_growth_cases.py:{n}:" in str(info.value) for n in lines), str(info.value)
    assert "list(hs)" in str(info.value)
