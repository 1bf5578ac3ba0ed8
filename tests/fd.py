"""Central finite differences, and a checker that compares sourcegrad against them.

Convention used by ``tests/test_rules.py``: a checked function takes its inputs and, last, a
weight array ``w`` and returns ``np.sum(w * <nonlinear function of the result>)``. :func:`check`
finds the shape ``w`` must have by calling the function once with a probe in place of ``w``,
then passes fixed random weights of that shape, so that a wrong gradient cannot cancel out in
the reduction.
"""

from __future__ import annotations

import functools

import numpy as np

import sourcegrad as sg

EPS = 1e-6
RTOL = 1e-5
ATOL = 1e-7


def numerical_grad(f, args, i, eps=EPS):
    """d f(*args) / d args[i] by central differences in float64 (args[i]: float or array)."""
    args = list(args)
    x = args[i]

    def at(v):
        a = list(args)
        a[i] = v
        return float(f(*a))

    if isinstance(x, float):
        return (at(x + eps) - at(x - eps)) / (2 * eps)
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp = x.copy()
        xp[idx] += eps
        xm = x.copy()
        xm[idx] -= eps
        g[idx] = (at(xp) - at(xm)) / (2 * eps)
    return g


class _ShapeProbe:
    """Stands in for ``w``: records the shape of what it is multiplied with."""

    __array_ufunc__ = None  # make ndarray defer ``ndarray * probe`` to ``probe.__rmul__``

    def __init__(self):
        self.shape = None

    def __mul__(self, other):
        self.shape = np.shape(other)
        return 0.0

    __rmul__ = __mul__


def output_shape(f, args):
    probe = _ShapeProbe()
    f(*args, probe)
    assert probe.shape is not None, f"{f.__name__} must return np.sum(w * ...)"
    return probe.shape


def weights(shape, dtype=np.float64, seed=0):
    """Fixed random weights, bounded away from 0."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return np.asarray(w, dtype=dtype)


@functools.cache
def transform(f, wrt):
    """One ``sg.grad`` per (function, wrt), so that its per-signature cache is reused."""
    return sg.grad(f, wrt)


def _assert_like(g, x, what):
    if isinstance(x, float):
        assert isinstance(g, float), f"{what}: gradient of a float is {type(g).__name__}"
        return
    assert isinstance(g, np.ndarray), f"{what}: gradient is {type(g).__name__}, not ndarray"
    assert g.shape == np.shape(x), f"{what}: gradient shape {g.shape} != {np.shape(x)}"
    assert g.dtype == x.dtype, f"{what}: gradient dtype {g.dtype} != {x.dtype}"


def check(f, *args, wrt=0, rtol=RTOL, atol=ATOL, generic=True, second=True):
    """Compare ``sg.grad(f, wrt)`` and its rank-generic variant with central differences.

    ``args`` are ``f``'s arguments without the trailing weights ``w``; ``wrt`` an index or a
    tuple of indices into ``args``. Returns the gradient sourcegrad computed.

    With ``second`` (the default) it also checks, for each ``wrt`` argument and a random
    direction ``v``: the forward-mode ``sg.jvp`` against the gradient (``<grad, v>``), and the
    Hessian-vector product ``sg.hvp`` (forward mode over the generated gradient) against
    central differences of the gradient along ``v`` — every rule to second order.
    """
    w = weights(output_shape(f, args))
    full = (*args, w)
    idxs = wrt if isinstance(wrt, tuple) else (wrt,)
    expected = [numerical_grad(f, full, i) for i in idxs]
    df = transform(f, wrt)
    variants = [("specialised", df)]
    if generic:
        variants.append(("generic", df.generic))
    result = None
    for label, fn in variants:
        got = fn(*full)
        got_t = got if isinstance(wrt, tuple) else (got,)
        assert len(got_t) == len(idxs)
        for i, g, e in zip(idxs, got_t, expected):
            what = f"{f.__name__} ({label}) d/d{_param_name(f, i)}"
            _assert_like(g, args[i], what)
            np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, err_msg=what)
        if result is None:
            result = got
    if second:
        got_t = result if isinstance(wrt, tuple) else (result,)
        for i, g in zip(idxs, got_t):
            check_second_order(f, full, i, g, rtol=rtol, atol=atol)
    return result


def _direction(x, seed=7):
    if isinstance(x, float):
        return 0.73
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 1.5, np.shape(x)) * rng.choice([-1.0, 1.0], np.shape(x))


def check_second_order(f, full, i, g, rtol=RTOL, atol=ATOL, eps=1e-5):
    """jvp against the (checked) gradient, hvp against differences of the gradient."""
    x = full[i]
    v = _direction(x)
    what = f"{f.__name__} d/d{_param_name(f, i)}"
    value, tangent = _jvp(f, i)(*full, v)
    np.testing.assert_allclose(value, f(*full), rtol=1e-12, atol=1e-12, err_msg=what + " value")
    np.testing.assert_allclose(
        tangent, np.sum(np.asarray(g) * v), rtol=rtol, atol=atol, err_msg=what + " jvp"
    )
    df = transform(f, i)

    def grad_at(s):
        a = list(full)
        a[i] = x + s * v if isinstance(x, float) else np.asarray(x + s * v, dtype=x.dtype)
        return np.asarray(df(*a))

    expected = (grad_at(eps) - grad_at(-eps)) / (2 * eps)
    hv = _hvp(f, i)(*full, v)
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(
        hv, expected, rtol=1e-4, atol=1e-6 * scale, err_msg=what + " hvp (second order)"
    )


@functools.cache
def _jvp(f, i):
    return sg.jvp(f, i)


@functools.cache
def _hvp(f, i):
    return sg.hvp(f, i)


def _param_name(f, i):
    names = f.__code__.co_varnames[: f.__code__.co_argcount]
    return names[i] if i < len(names) else str(i)


def check_running_code(f, *args, wrt=0, calls=4):
    """``sg.value_and_grad(f, wrt)`` on ``calls`` calls (the running code from the second on):
    the value exactly ``f(*args)``, the gradient that of central differences and of the pure
    derivative (``optimize=False``) to rounding."""
    want = f(*args)
    fd = numerical_grad(lambda *a: f(*a[:-1]) * a[-1], (*args, 1.0), wrt)
    vg = sg.value_and_grad(f, wrt)
    _, pure = sg.value_and_grad(f, wrt, optimize=False)(*args)
    for call in range(calls):
        value, g = vg(*args)
        assert value == want, f"call {call}: value {value!r} != Python's {want!r}"
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8, err_msg=f"call {call}")
        np.testing.assert_allclose(g, pure, rtol=1e-12, atol=1e-14, err_msg=f"call {call}")
