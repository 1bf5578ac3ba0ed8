"""NumPy and SciPy functions a user of autograd or JAX reaches for: np.interp, np.polyval,
np.vander, np.trapezoid (np.trapz), np.ptp, np.gradient, np.partition, ufunc .outer,
np.linalg.lstsq, np.pad's copying modes and scipy.linalg.expm.

Each function is checked as a user meets it: its value inside a loss is NumPy's own (bit for
bit), the gradient of a small loss agrees with central differences in float64 on calls 1-3
(the optimized code runs from the second call on), the forward-mode tangent (``sg.jvp``)
agrees with differences of the function itself, and, where the rules are closed under
differentiation, the Hessian-vector product (``sg.hvp``) agrees with differences of the
gradient."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import SourcegradError

RNG = np.random.default_rng(20261206)
EPS = 1e-6
XP = np.linspace(0.0, 1.0, 6)
FP = RNG.normal(size=6)
X = np.array([-0.1, 0.13, 0.5, 0.77, 1.2])
Y = RNG.normal(size=(3, 5))
W = RNG.normal(size=(3, 5))
P = np.array([0.7, -1.3, 0.4, 2.1])
SQ = RNG.normal(size=(4, 4)) * 0.5
TALL = RNG.normal(size=(7, 3))
RHS = RNG.normal(size=7)
RHS2 = RNG.normal(size=(7, 2))


def numerical(fun, x, eps=EPS):
    """Central differences of ``fun`` (scalar or array valued) at ``x``, stacked along the
    leading axes of ``x``."""
    x = np.array(x, dtype=np.float64)
    out = []
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += eps
        down[idx] -= eps
        out.append((np.asarray(fun(up)) - np.asarray(fun(down))) / (2 * eps))
    return np.reshape(np.array(out), x.shape + np.shape(out[0]))


def directional(fun, x, v, eps=EPS):
    """Central difference of ``fun`` at ``x`` along ``v``."""
    return (np.asarray(fun(x + eps * v)) - np.asarray(fun(x - eps * v))) / (2 * eps)


def substitute(args, i, value):
    args = list(args)
    args[i] = value
    return args


def loss_of(inner):
    """The loss ``sum(w * sin(inner(*args)))`` (a weight per entry, so that no wrong entry
    cancels), as a function sourcegrad differentiates."""

    def loss(a):
        z = inner(a)
        return np.sum(np.sin(z) * np.cos(np.arange(np.size(z)).reshape(np.shape(z))))

    def loss2(a, b):
        z = inner(a, b)
        return np.sum(np.sin(z) * np.cos(np.arange(np.size(z)).reshape(np.shape(z))))

    return loss if inner.__code__.co_argcount == 1 else loss2


def check(inner, args, wrt=0, second=True, tol=1e-6):
    """The checks of the module docstring for ``inner(*args)`` with respect to ``args[wrt]``."""
    args = [np.asarray(a, dtype=np.float64) if isinstance(a, np.ndarray) else a for a in args]
    loss = loss_of(inner)
    at = lambda v: loss(*substitute(args, wrt, v))  # noqa: E731
    expected = numerical(at, args[wrt])
    df = sg.value_and_grad(loss, wrt)
    for call in range(3):
        value, grad = df(*args)
        assert value == loss(*args), f"value differs from NumPy's on call {call + 1}"
        np.testing.assert_allclose(grad, expected, rtol=tol, atol=tol, err_msg=f"call {call + 1}")
    v = RNG.normal(size=np.shape(args[wrt]))
    fwd = sg.jvp(inner, wrt)
    for _ in range(2):
        primal, tangent = fwd(*args, v)
        assert np.array_equal(primal, inner(*args)), "jvp's value differs from NumPy's"
        along = directional(lambda x: inner(*substitute(args, wrt, x)), args[wrt], v)
        np.testing.assert_allclose(tangent, along, rtol=tol, atol=tol, err_msg="jvp")
    if second:
        grad_at = lambda x: sg.grad(loss, wrt)(*substitute(args, wrt, x))  # noqa: E731
        hv = sg.hvp(loss, wrt)
        for _ in range(2):
            np.testing.assert_allclose(
                hv(*args, v), directional(grad_at, args[wrt], v), rtol=1e-5, atol=1e-5
            )


# ---------------------------------------------------------------- interp


def interp_fp(fp):
    return np.interp(X, XP, fp)


def interp_x(x):
    return np.interp(x, XP, FP)


def interp_fill(fp):
    return np.interp(X, XP, fp, left=0.5, right=-1.0)


def interp_left(left):
    return np.interp(X, XP, FP, left=left)


def interp_scalar(x):
    return np.interp(x, XP, FP) * np.ones(2)


def interp_both(x, fp):
    return np.interp(x, XP, fp)


@pytest.mark.parametrize(
    "inner, args, wrt",
    [
        (interp_fp, (FP,), 0),
        (interp_x, (X,), 0),
        (interp_fill, (FP,), 0),
        (interp_left, (0.25,), 0),
        (interp_scalar, (0.31,), 0),
        (interp_both, (X, FP), 0),
        (interp_both, (X, FP), 1),
    ],
)
def test_interp(inner, args, wrt):
    check(inner, args, wrt)


def interp_knots(xp):
    z = np.interp(X, xp, FP)
    return np.sum(z**2)


def interp_period(x):
    z = np.interp(x, XP, FP, period=1.0)
    return np.sum(z**2)


def refused_at_the_user_line(loss, arg, match):
    """The refusal of the derivative of ``loss`` (whose first line calls the function), in
    reverse and forward mode, names the way out, this file and that line."""
    line = loss.__code__.co_firstlineno + 1
    for make in (lambda: sg.grad(loss)(arg), lambda: sg.jvp(loss)(arg, np.ones_like(arg))):
        with pytest.raises(SourcegradError, match=match) as info:
            make()
        assert f"{__file__}:{line}:" in str(info.value)


@pytest.mark.parametrize("inner, arg", [(interp_knots, XP), (interp_period, X)])
def test_interp_refusals_name_the_way_out(inner, arg):
    refused_at_the_user_line(inner, arg, "not supported; ")


def test_interp_mixed_second_derivative():
    """The weights on fp move with x: the Hessian's (x, fp) block is not zero."""
    hv = sg.hvp(loss_of(interp_both), (0, 1))
    v = (RNG.normal(size=X.shape), RNG.normal(size=FP.shape))
    got = hv(X, FP, v)

    def grads(s):
        return sg.grad(loss_of(interp_both), (0, 1))(X + s * v[0], FP + s * v[1])

    up, down = grads(EPS), grads(-EPS)
    for g, a, b in zip(got, up, down):
        np.testing.assert_allclose(g, (a - b) / (2 * EPS), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- vander, polyval


def vander(x):
    return np.vander(x, 4)


def vander_increasing(x):
    return np.vander(x, increasing=True)


def polyval_p(p):
    return np.polyval(p, X)


def polyval_x(x):
    return np.polyval(P, x)


def polyval_scalar(x):
    return np.polyval(P, x) * np.ones(3)


def polyval_matrix_x(x):
    return np.polyval(P, x)


@pytest.mark.parametrize(
    "inner, arg",
    [
        (vander, X),
        (vander_increasing, X),
        (vander, np.array([0.0, 1.5, -2.0])),
        (polyval_p, P),
        (polyval_x, X),
        (polyval_x, np.array([0.0, 0.3])),
        (polyval_scalar, 0.7),
        (polyval_matrix_x, Y),
    ],
)
def test_vander_polyval(inner, arg):
    check(inner, (arg,))


# ---------------------------------------------------------------- trapezoid


def trapezoid_y(y):
    return np.trapezoid(y)


def trapezoid_dx(y):
    return np.trapezoid(y, dx=0.3, axis=0)


def trapezoid_coordinates(y):
    return np.trapezoid(y, X, axis=1)


def trapezoid_x(x):
    return np.trapezoid(Y, x)


def trapezoid_full_x(x):
    return np.trapezoid(Y, x, axis=0)


def trapezoid_spacing(dx):
    return np.trapezoid(Y, dx=dx)


@pytest.mark.parametrize(
    "inner, arg",
    [
        (trapezoid_y, Y),
        (trapezoid_dx, Y),
        (trapezoid_coordinates, Y),
        (trapezoid_x, X),
        (trapezoid_full_x, W * 0.1 + np.arange(3)[:, None]),
        (trapezoid_spacing, 0.7),
    ],
)
def test_trapezoid(inner, arg):
    check(inner, (arg,))


def trapz(y):
    return np.trapz(y, dx=0.5)  # noqa: NPY201


@pytest.mark.skipif(not hasattr(np, "trapz"), reason="this NumPy has no np.trapz (removed in 2.4)")
def test_trapz():  # pragma: no cover - NumPy < 2.4
    check(trapz, (Y,))


# ---------------------------------------------------------------- gradient


def gradient_1d(f):
    return np.gradient(f)


def gradient_spacing(f):
    return np.gradient(f, 0.3, axis=1)


def gradient_coordinates(f):
    return np.gradient(f, X, edge_order=2)


def gradient_axis0(f):
    return np.gradient(f, axis=0, edge_order=2)


@pytest.mark.parametrize(
    "inner, arg",
    [
        (gradient_1d, FP),
        (gradient_spacing, Y),
        (gradient_coordinates, FP[:5]),
        (gradient_axis0, W),
    ],
)
def test_gradient(inner, arg):
    check(inner, (arg,))


def gradient_all_axes(f):
    z = np.gradient(f)
    return np.sum(z[0] ** 2)


def test_gradient_of_several_axes_is_refused_with_the_way_out():
    refused_at_the_user_line(gradient_all_axes, Y, "call np.gradient once per axis")


# ---------------------------------------------------------------- partition


def partition(a):
    return np.partition(a, 2)


def partition_axis0(a):
    return np.partition(a, (0, 2), axis=0)


def partition_flat(a):
    return np.partition(a, 4, axis=None)


@pytest.mark.parametrize(
    "inner, arg", [(partition, FP), (partition, Y), (partition_axis0, W), (partition_flat, Y)]
)
def test_partition(inner, arg):
    check(inner, (arg,))


# ---------------------------------------------------------------- ptp


def ptp_all(a):
    return np.ptp(a) * np.ones(2)


def ptp_axis(a):
    return np.ptp(a, axis=1)


def ptp_keepdims(a):
    return np.ptp(a, axis=0, keepdims=True) * a


@pytest.mark.parametrize("inner", [ptp_all, ptp_axis, ptp_keepdims])
def test_ptp(inner):
    check(inner, (Y,))


def test_ptp_splits_the_adjoint_over_ties():
    a = np.array([1.0, 3.0, 3.0, -2.0])
    grad = sg.grad(lambda a: np.ptp(a))(a)
    np.testing.assert_array_equal(grad, [0.0, 0.5, 0.5, -1.0])


# ---------------------------------------------------------------- ufunc .outer


def add_outer(a, b):
    return np.add.outer(a, b)


def subtract_outer(a, b):
    return np.subtract.outer(a, b)


def multiply_outer(a, b):
    return np.multiply.outer(a, b)


def divide_outer(a, b):
    return np.divide.outer(a, b)


@pytest.mark.parametrize("inner", [add_outer, subtract_outer, multiply_outer, divide_outer])
@pytest.mark.parametrize("wrt", [0, 1])
@pytest.mark.parametrize("a, b", [(X, FP), (Y, FP[:2] + 2.0), (0.7, Y + 3.0)])
def test_ufunc_outer(inner, wrt, a, b):
    check(inner, (a, b), wrt)


# ---------------------------------------------------------------- lstsq


def lstsq_a(a):
    return np.linalg.lstsq(a, RHS)[0]


def lstsq_b(b):
    return np.linalg.lstsq(TALL, b)[0]


def lstsq_matrix_rhs(a):
    return np.linalg.lstsq(a, RHS2, rcond=None)[0]


def lstsq_matrix_b(b):
    return np.linalg.lstsq(TALL, b)[0]


def lstsq_residuals(a):
    x, res, rank, s = np.linalg.lstsq(a, RHS2)
    return res + np.sum(x, axis=0) + s[:2]


def lstsq_residuals_b(b):
    return np.linalg.lstsq(TALL, b)[1]


def lstsq_square(a):
    return np.linalg.lstsq(a, RHS[:4])[0]


@pytest.mark.parametrize(
    "inner, arg",
    [
        (lstsq_a, TALL),
        (lstsq_b, RHS),
        (lstsq_matrix_rhs, TALL),
        (lstsq_matrix_b, RHS2),
        (lstsq_residuals, TALL),
        (lstsq_residuals_b, RHS),
        (lstsq_square, SQ + 2.0 * np.eye(4)),
    ],
)
def test_lstsq(inner, arg):
    check(inner, (arg,), tol=2e-6)


def lstsq_loss(a):
    z = np.linalg.lstsq(a, RHS)
    return np.sum(z[0] ** 2)


def test_lstsq_rank_deficient_is_refused_with_the_way_out():
    a = TALL.copy()
    a[:, 2] = a[:, 0]
    refused_at_the_user_line(lstsq_loss, a, "np.linalg.pinv")


# ---------------------------------------------------------------- pad


def pad_reflect(a):
    return np.pad(a, 2, mode="reflect")


def pad_edge(a):
    return np.pad(a, ((1, 3), (0, 2)), mode="edge")


def pad_wrap(a):
    return np.pad(a, (2, 1), "wrap")


def pad_symmetric(a):
    return np.pad(a, ((0, 0), (4, 7)), mode="symmetric")


def pad_reflect_odd(a):
    return np.pad(a, ((2, 1), (6, 3)), mode="reflect", reflect_type="odd")


def pad_wide_reflect(a):
    return np.pad(a, 9, mode="reflect")


def pad_constant(a):
    return np.pad(a, 1, constant_values=0.5)


def pad_fill_value(c):
    return np.pad(Y, 1, constant_values=c)


@pytest.mark.parametrize(
    "inner, arg",
    [
        (pad_reflect, Y),
        (pad_reflect, FP),
        (pad_edge, Y),
        (pad_wrap, Y),
        (pad_symmetric, Y),
        (pad_reflect_odd, Y),
        (pad_wide_reflect, FP),
        (pad_constant, Y),
        (pad_fill_value, 0.3),
    ],
)
def test_pad(inner, arg):
    check(inner, (arg,))


def pad_mean(a):
    z = np.pad(a, 1, mode="mean")
    return np.sum(z**2)


def test_pad_statistic_modes_are_refused_with_the_way_out():
    refused_at_the_user_line(pad_mean, Y, "pad with one of the modes 'constant'")


# ---------------------------------------------------------------- scipy.linalg.expm

try:
    import scipy.linalg
except ImportError:  # pragma: no cover - scipy is optional
    scipy = None

needs_scipy = pytest.mark.skipif(
    scipy is None, reason="scipy is not installed: its expm has no rule to check"
)


def expm(a):
    return scipy.linalg.expm(a)


def expm_scaled(a):
    return scipy.linalg.expm(0.5 * a) @ a


def expm_stack(a):
    return scipy.linalg.expm(np.stack([a, -a.T]))


@needs_scipy
@pytest.mark.parametrize("inner", [expm, expm_scaled, expm_stack])
def test_expm(inner):
    check(inner, (SQ,))


V2 = RNG.normal(size=(2, 2))


def expm_loss(a):
    return np.sum(np.sin(scipy.linalg.expm(a)))


def expm_slope(a):
    return np.sum(sg.grad(expm_loss)(a) * V2)


@needs_scipy
def test_expm_third_order():
    """The Frechet derivative's derivative is one again: a third derivative is right too."""
    a, v = SQ[:2, :2], RNG.normal(size=(2, 2))
    got = sg.hvp(expm_slope)(a, v)
    expected = directional(lambda x: sg.hvp(expm_loss)(x, V2), a, v)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
