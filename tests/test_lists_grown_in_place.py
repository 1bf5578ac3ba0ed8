"""Lists grown in loops grow in place in the running code (``hs.append(h)``, not a copy per
step), where nothing else can reach the list; values and gradients stay Python's and the
pure derivative's, on the first and later calls."""

from __future__ import annotations

import pytest

import sourcegrad as sg

from . import list_growth_cases as L
from .fd import check_running_code


@pytest.mark.parametrize("f", L.CASES, ids=lambda f: f.__name__)
def test_values_and_gradients(f):
    check_running_code(f, *L.make_args())


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
