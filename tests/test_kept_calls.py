"""The running derivative keeps a called function's forward sweep for its adjoint: values
exactly Python's, gradients those of central differences and of the pure derivative, on the
first and later calls; the shown running code says so; an export writes each vjp whole."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.transform import derive

from . import kept_cases as K


def _leaves(tree):
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree) for leaf in _leaves(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [leaf for v in tree for leaf in _leaves(v)]
    return [tree]


def _fd(f, params, x, eps=1e-6):
    out = []
    for leaf in _leaves(params):
        g = np.zeros_like(leaf)
        for i in np.ndindex(leaf.shape):
            old = leaf[i]
            leaf[i] = old + eps
            up = f(params, x)
            leaf[i] = old - eps
            down = f(params, x)
            leaf[i] = old
            g[i] = (up - down) / (2 * eps)
        out.append(g)
    return out


@pytest.mark.parametrize("f", K.CASES, ids=lambda f: f.__name__)
def test_values_and_gradients(f):
    params, x = K.make_args()
    want = f(params, x)
    fd = _fd(f, params, x)
    vg = sg.value_and_grad(f)
    pure = sg.value_and_grad(f, optimize=False)
    _, g_pure = pure(params, x)
    for call in range(4):  # the running code (kept forward sweeps) from the second call on
        value, g = vg(params, x)
        assert value == want, f"call {call}: value {value!r} != Python's {want!r}"
        for got, ref, exact in zip(_leaves(g), fd, _leaves(g_pure)):
            np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-8, err_msg=f"call {call}")
            np.testing.assert_allclose(got, exact, rtol=1e-12, atol=1e-14, err_msg=f"call {call}")


@pytest.mark.parametrize(
    "f", [K.layers_loop, K.straight, K.object_method], ids=lambda f: f.__name__
)
def test_running_code_keeps_forward_sweeps(f):
    params, x = K.make_args()
    text = sg.show(f, args=(params, x), optimized=True, callees=False)
    assert "forward_kept" in text and "backward_kept" in text, text
    assert "vjp_dense(" not in text.split("\n\n", 1)[1]


def test_loop_keeps_one_state_per_step():
    params, x = K.make_args()
    text = sg.show(K.layers_loop, args=(params, x), optimized=True, callees=False)
    assert "_s.append(" in text and "_s.pop()" in text, text


def test_whole_vjps_builds_apart():
    """Inside ``whole_vjps`` (what an export uses) the running code calls each vjp whole, and
    the builds outside keep forward sweeps still."""
    params, x = K.make_args()
    with derive.whole_vjps():
        whole = sg.value_and_grad(K.straight, keep_forward=False)
        for _ in range(3):
            got = whole(params, x)
        text = whole.emitted((params, x)).text
    assert "forward_kept" not in text and "vjp_dense" in text
    kept = sg.value_and_grad(K.straight)
    for _ in range(3):
        want = kept(params, x)
    assert "forward_kept" in kept.emitted((params, x)).text
    assert got[0] == want[0]
    for a, b in zip(_leaves(got[1]), _leaves(want[1])):
        np.testing.assert_array_equal(a, b)


def test_pure_derivative_unchanged():
    params, x = K.make_args()
    text = sg.show(K.straight, args=(params, x), callees=False)
    assert "forward_kept" not in text and "vjp_dense" in text


def test_shown_running_code_lists_the_vjps_it_runs_in_halves():
    """The helper's vjp runs as a kept forward half and its adjoint half: ``forward_kept``
    tells the run recorders, so ``show`` lists it after the running code."""
    params, x = K.make_args()
    text = sg.show(K.straight, args=(params, x), optimized=True)
    main, *callees = text.split("\n\n\n")
    assert "forward_kept(" in main and "vjp_dense(" not in main.split("\n\n", 1)[1]
    assert callees and all(c.startswith("# vjp_dense: the vjp of dense") for c in callees)
