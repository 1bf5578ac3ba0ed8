"""Compositions of sourcegrad's transforms a user writes: ``jacobian(grad(f))`` of a function of
two arguments (a block of its Hessian), ``hessian`` and ``hvp`` of a gradient (third
derivatives), ``vjp`` of a gradient (by symmetry, a Hessian-vector product), ``jvp`` of a
gradient along a tuple of arguments and ``grad(grad(f))``. Each is checked on calls 1-3
against central differences of sourcegrad's gradient (itself checked against those of ``f``
elsewhere). What is not defined is refused at the user's function with a way out:
``value_and_grad`` of a derivative, reverse mode over forward mode, a derivative of what
``hvp``, ``hessian`` or ``jacobian`` made, the Jacobian of a derivative with a tuple value."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import SourcegradError

from .ported.harness import numerical


def f(x, y):
    return np.sum(np.sin(x) * y**2) + np.sum(np.tanh(x * y) ** 2)


def cubic(a):
    return np.sin(a) * a**3


def _xy():
    rng = np.random.default_rng(11)
    return rng.normal(size=3) * 0.7, rng.normal(size=3) * 0.7


def _fd_of_gradient(i, j, args):
    """d grad_i f / d args[j], by central differences of sourcegrad's gradient."""
    return numerical(lambda *a: sg.grad(f, i)(*a), args, j)


@pytest.mark.parametrize("i, j", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_the_jacobian_of_a_gradient_is_a_block_of_the_hessian(i, j):
    args = _xy()
    want = _fd_of_gradient(i, j, args)
    jac = sg.jacobian(sg.grad(f, i), j)
    for call in range(1, 4):
        np.testing.assert_allclose(jac(*args), want, rtol=1e-5, atol=1e-6, err_msg=str(call))


def test_the_jacobian_of_a_gradient_equals_the_hessian():
    args = _xy()
    jac, hess = sg.jacobian(sg.grad(f)), sg.hessian(f)
    for call in range(1, 4):
        np.testing.assert_allclose(
            jac(*args), hess(*args), rtol=1e-10, atol=1e-12, err_msg=str(call)
        )


@pytest.mark.parametrize("i, j", [(0, 0), (0, 1), (1, 0)])
def test_a_vjp_of_a_gradient_is_a_hessian_vector_product(i, j):
    args = _xy()
    u = np.linspace(-1.0, 1.0, 3)
    want = u @ _fd_of_gradient(i, j, args)
    vjp = sg.vjp(sg.grad(f, i), j)
    for call in range(1, 4):
        np.testing.assert_allclose(vjp(*args, u), want, rtol=1e-5, atol=1e-6, err_msg=str(call))


def test_a_jvp_of_a_gradient_along_both_arguments():
    args = _xy()
    u, w = np.linspace(-1.0, 1.0, 3), np.linspace(0.5, 1.5, 3)
    want = _fd_of_gradient(0, 0, args) @ u + _fd_of_gradient(0, 1, args) @ w
    jvp = sg.jvp(sg.grad(f), (0, 1))
    for call in range(1, 4):
        value, tangent = jvp(*args, (u, w))
        np.testing.assert_allclose(value, sg.grad(f)(*args), rtol=1e-12)
        np.testing.assert_allclose(tangent, want, rtol=1e-5, atol=1e-6, err_msg=str(call))


def _third(a, eps=1e-4):
    dd = sg.grad(sg.grad(cubic))
    return (dd(a + eps) - dd(a - eps)) / (2 * eps)


def test_second_and_third_derivatives_of_a_scalar_function():
    a = 0.8
    d = sg.grad(cubic)
    second, third = (d(a + 1e-6) - d(a - 1e-6)) / 2e-6, _third(a)
    dd, ddd, hv = sg.grad(sg.grad(cubic)), sg.hessian(sg.grad(cubic)), sg.hvp(sg.grad(cubic))
    vjp, jac = sg.vjp(dd), sg.jacobian(dd)
    for call in range(1, 4):
        assert abs(dd(a) - second) < 1e-6, call
        assert abs(ddd(a) - third) < 1e-5, call
        assert abs(hv(a, 2.0) - 2.0 * third) < 1e-5, call
        assert abs(vjp(a, 2.0) - 2.0 * third) < 1e-5, call
        assert abs(jac(a) - third) < 1e-5, call


def _refused(call, fn, *phrases):
    with pytest.raises(SourcegradError) as info:
        call()
    message = str(info.value)
    assert message.startswith(f"{__file__}:{fn.__code__.co_firstlineno}: "), message
    for phrase in phrases:
        assert phrase in message, message


def test_what_is_not_defined_is_refused_at_the_users_function():
    x, y = _xy()
    _refused(lambda: sg.value_and_grad(sg.grad(cubic)), cubic, "sg.grad of it")
    _refused(lambda: sg.vjp(sg.jvp(f)), f, "sg.jvp of it")
    _refused(lambda: sg.grad(sg.hvp(cubic)), cubic, "not differentiated again")
    _refused(lambda: sg.jacobian(sg.hessian(f)), f, "not differentiated again")
    _refused(lambda: sg.jvp(sg.jacobian(f)), f, "not differentiated again")
    _refused(lambda: sg.jacobian(sg.grad(f, (0, 1)))(x, y), f, "sg.grad(f, i)")
    _refused(lambda: sg.jacobian(sg.jvp(f))(x, y, x), f, "sg.jacobian(f)")
