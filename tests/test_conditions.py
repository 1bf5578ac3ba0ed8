"""Tests written back where the user wrote them (``simplify``): ``while abs(step) > tol * x:``
instead of a ``cond`` name computed before the loop and again at the end of its body, where
nothing else reads that name. Checked for the values (central differences), for how often a
test with a side effect runs, and for the tests that must stay named."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .fd import numerical_grad
from .test_optimize import newton_cbrt


def decaying(x, n):
    y = x
    i = 0
    while i < n:
        if np.sum(y) > 0:
            y = y * 0.9
        else:
            y = np.sin(y)
        i = i + 1
    return np.sum(y * y)


CALLS = []


def more(i, n):
    CALLS.append(i)
    return i < n


def counted(x, n):
    i = 0
    s = 0.0
    while more(i, n):
        s = s + np.sum(np.sin(x) * i)
        i = i + 1
    return s


@pytest.mark.parametrize("a", [0.3, 2.0, 20.0, 1000.0])
def test_a_scalar_newton_loop_reads_as_written(a):
    shown = sg.show(newton_cbrt, mode="forward")
    assert "while abs(step) > tol * x:" in shown
    assert "if a > 1.0:" in shown
    assert "cond" not in shown
    value, g = sg.value_and_grad(newton_cbrt)(a, 1e-12)
    assert value == pytest.approx(a ** (1 / 3), rel=1e-12)
    assert g == pytest.approx(numerical_grad(newton_cbrt, (a, 1e-12), 0), rel=1e-6)


def test_the_primal_sweep_tests_in_place_and_the_adjoint_keeps_its_branch_name():
    shown = sg.show(decaying)
    assert "while i < n:" in shown
    assert "cond = " not in shown and "cond_1 = None" not in shown
    assert "if cond_2:" in shown  # read again by the adjoint sweep: stays a name
    x = np.array([0.3, -0.2, 0.5])
    for n in (0, 1, 4):
        expected = numerical_grad(decaying, (x, n), 0)
        np.testing.assert_allclose(sg.grad(decaying)(x, n), expected, rtol=1e-6, atol=1e-9)
        fwd = sg.jvp(decaying)(x, n, np.ones(3))[1]
        np.testing.assert_allclose(fwd, expected.sum(), rtol=1e-6)


def _calls(run) -> list:
    """The calls of ``more`` that ``run()`` makes."""
    CALLS.clear()
    run()
    return list(CALLS)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_test_with_a_side_effect_runs_as_often_as_in_python(mode):
    x = np.array([0.1, 0.7])
    assert "while more(i, n):" in sg.show(counted, mode=mode)
    plain = _calls(lambda: counted(x, 3))
    if mode == "reverse":
        assert _calls(lambda: sg.grad(counted)(x, 3)) == plain
    else:
        assert _calls(lambda: sg.jvp(counted)(x, 3, np.ones(2))) == plain


def stops_early(x, n):
    i = 0
    s = 0.0
    while more(i, n):
        s = s + np.sum(np.sin(x) * i)
        if i == 3:
            break
        i = i + 1
    return s


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_loop_left_by_break_does_not_evaluate_its_test_again(mode):
    # third review: `while c: ... break` was lowered to `while c and not stop`, which
    # evaluates c once more after the break
    x = np.array([0.1, 0.7])
    plain = _calls(lambda: stops_early(x, 10))
    got = []
    if mode == "reverse":
        calls = _calls(lambda: got.append(sg.grad(stops_early)(x, 10)))
    else:
        calls = _calls(lambda: got.extend(sg.jvp(stops_early)(x, 10, e)[1] for e in np.eye(2)))
    g = np.array(got[0] if mode == "reverse" else got)
    assert calls == plain * (1 if mode == "reverse" else 2)
    np.testing.assert_allclose(g, numerical_grad(stops_early, (x, 10), 0), rtol=1e-6)
