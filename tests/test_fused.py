"""The fused-elementwise backend (``fuse="numexpr"``, ``sourcegrad.transform.optimize.fused``):
the running code evaluates trees of elementwise arithmetic over large arrays with one
``numexpr.evaluate`` each, and gives Python's value and NumPy's gradient, in NumPy's dtype,
on the first call and on every later one."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.transform.optimize import fused

pytest.importorskip(
    "numexpr", reason="the fused backend needs numexpr (pip install numexpr / sourcegrad[fast])"
)

EVALUATE = ".evaluate("
N = 2 * fused.MIN_ELEMENTS + 123


def _running(df, *args) -> str:
    df._entry(args, True)
    return df._entry(args).pretty(optimized=True)


def _agree(f, args, wrt=0, rtol=1e-12) -> str:
    """Value and gradient of the fused running code against the pure derivative and
    Python's own value, on the first call and on later ones; returns the running source."""
    df = sg.value_and_grad(f, wrt, fuse="numexpr")
    want_value, want = sg.value_and_grad(f, wrt, optimize=False)(*args)
    np.testing.assert_allclose(want_value, f(*args), rtol=rtol)
    wants = want if isinstance(wrt, tuple) else (want,)
    for _ in range(3):  # the first call, then the code specialised to the shapes
        value, got = df(*args)
        np.testing.assert_allclose(value, want_value, rtol=rtol)
        for g, w in zip(got if isinstance(wrt, tuple) else (got,), wants):
            assert type(g) is type(w) and np.shape(g) == np.shape(w)
            assert g.dtype == w.dtype
            np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * np.abs(w).max())
    return _running(df, *args)


def _directional(f, args, grads, wrt, rng, rtol=1e-6):
    """The gradients against central differences along one random direction per argument:
    each element of an elementwise chain depends on its own input only, so a direction checks
    every element at once."""
    for i, g in zip(wrt, grads):
        v = rng.standard_normal(np.shape(args[i]))
        eps = 1e-6

        def at(t, i=i, v=v):
            a = list(args)
            a[i] = args[i] + t * v
            return f(*a)

        numeric = (at(eps) - at(-eps)) / (2 * eps)
        np.testing.assert_allclose(np.vdot(g, v), numeric, rtol=rtol)


def chain(x, a):
    return np.sum(np.tanh(x * a) * np.exp(-x * x) + np.log1p(x * x))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_chain_runs_fused_with_numpys_values_and_dtype(dtype, rng):
    x = rng.standard_normal(N).astype(dtype)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    running = _agree(chain, (x, 1.5), rtol=rtol)
    assert EVALUATE in running and "for start in range(" not in running  # numexpr, no blocks
    assert '"2.0 * (x / (1.0 + out_7))' in running or dtype == np.float32
    if dtype == np.float32:  # numbers as float32, as NumPy's promotion makes them
        assert "np.float32(2.0)" in running and "np.float32(a)" in running
    x64 = x.astype(np.float64)
    df = sg.grad(chain, fuse="numexpr")
    for _ in range(3):
        _directional(chain, (x64, 1.5), (df(x64, 1.5),), (0,), rng)


def broadcast(x, b):
    return np.sum(np.tanh(x) * (x * b - b * b) + x / (1.0 + b * b))


def test_operands_that_broadcast(rng):
    x, b = rng.standard_normal((600, 500)), rng.standard_normal(500)
    running = _agree(broadcast, (x, b), wrt=(0, 1))
    assert EVALUATE in running
    df = sg.grad(broadcast, (0, 1), fuse="numexpr")
    for _ in range(3):
        _directional(broadcast, (x, b), df(x, b), (0, 1), rng)


def in_a_loop(x, w):
    h = x
    for _ in range(3):
        h = h * w + 0.5 * (h - x) * (h + x)
    return np.sum(h * h)


def test_a_loop_and_its_tape(rng):
    x, w = 0.3 * rng.standard_normal(N), 0.3 * rng.standard_normal(N)
    running = _agree(in_a_loop, (x, w), wrt=(0, 1))
    assert EVALUATE in running
    df = sg.grad(in_a_loop, (0, 1), fuse="numexpr")
    for _ in range(3):
        _directional(in_a_loop, (x, w), df(x, w), (0, 1), rng)


def mixed(x, y):
    return np.sum(np.sqrt(x * x + 1.0) * y + np.abs(x) * y * y)


def test_mixed_precision_keeps_numpys_promotion(rng):
    x = rng.standard_normal(N).astype(np.float32)
    y = rng.standard_normal(N)
    _agree(mixed, (x, y), wrt=(0, 1), rtol=1e-6)
    running = _agree(mixed, (x.astype(np.float64), y), wrt=(0, 1))
    assert "sqrt(" in running and "abs(" in running  # correctly rounded in both: fused


def small(x, a):
    return np.sum(np.tanh(x * a) * np.exp(-x * x) + np.log1p(x * x))


def test_small_arrays_keep_numpy(rng):
    x = rng.standard_normal(1000)
    assert EVALUATE not in _agree(small, (x, 1.5))


def test_without_the_option_nothing_is_fused(rng):
    x = rng.standard_normal(N)
    df = sg.grad(chain)
    df(x, 1.5)
    assert EVALUATE not in _running(df, x, 1.5)


def transcendental(x):
    return np.sum(np.exp(-x * x) * np.tanh(2.0 * x) + np.log1p(x * x) - np.sin(x) * np.cos(x))


def test_transcendental_functions_where_numexpr_has_vml(monkeypatch, rng):
    """With VML numexpr's own exp, tanh, ... are fast, and fused; without it (here) they are
    numexpr's C library functions: the translation is checked, not the speed."""
    monkeypatch.setattr(fused._numexpr(), "use_vml", True, raising=False)
    x = rng.standard_normal(N)
    running = _agree(transcendental, (x,))
    assert "exp(" in running and "tanh(" in running and "log1p(" in running


def test_an_unknown_backend_or_a_missing_package_is_refused(monkeypatch, rng):
    x = rng.standard_normal(N)

    def f(x):
        return np.sum(x * x * x)

    with pytest.raises(sg.SourcegradError, match="fuse='cuda' is not a fused backend"):
        df = sg.grad(f, fuse="cuda")
        df(x)
        df(x)

    def g(x):
        return np.sum(x * x * x + x)

    monkeypatch.setattr(fused, "_numexpr", lambda: None)
    with pytest.raises(sg.SourcegradError, match="pip install numexpr"):
        df = sg.grad(g, fuse="numexpr")
        df(x)
        df(x)


def numexprs_names(x, where):
    sign = x * where
    exp = sign * sign + where
    return np.sum(exp * x - sign / (1.0 + where * where))


def test_names_numexpr_reads_as_its_own_are_renamed(rng):
    x, w = rng.standard_normal(N), rng.standard_normal(N)
    running = _agree(numexprs_names, (x, w), wrt=(0, 1))
    assert EVALUATE in running


def with_integers(x, k):
    return np.sum(x * k + x * x * k - (x + 1.0) * (x - 1.0) * x)


def test_integer_operands_keep_numpy(rng):
    x, k = rng.standard_normal(N), rng.integers(-3, 4, N)
    running = _agree(with_integers, (x, k))
    assert EVALUATE in running  # the float trees only
    assert '"k": k' not in running  # an integer array is no operand of a fused tree
