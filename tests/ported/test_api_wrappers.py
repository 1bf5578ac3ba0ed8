"""The transformations themselves, ported from JAX's tests/api_test.py (argnums, value_and_grad,
has_aux, jacfwd/jacrev, hessian, jvp, vjp, higher order, errors for integer and complex inputs
and non-scalar outputs) and HIPS/autograd tests/test_wrappers.py and test_graphs.py
(hessian_tensor_product, make_jvp, multigrad, third derivatives, grad of a function that
calls a gradient)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import ArgumentError, AuxError, SeedError

from .harness import Case, check, direction, fresh, numerical, params

R = np.random.default_rng(59)
X = R.standard_normal(3)
Y = R.standard_normal(3)
M = R.standard_normal((3, 3))

# ------------------------------------------------------------------ jacobians (kind="jac")


def j_tanh(x):
    return np.tanh(x)


def j_matvec(x, m):
    return m @ np.sin(x)


def j_outer(x):
    return np.outer(x, x)


def j_softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def j_cumsum(x):
    return np.cumsum(x**2)


def j_loop(x):
    out = x
    for _ in range(3):
        out = np.sin(out) * x
    return out


def j_polar(p):
    return np.array([p[0] * np.cos(p[1]), p[0] * np.sin(p[1])])


def j_scalar_in(a):
    return np.array([a, a * a, np.sin(a)])


def jj_setitem(x):
    y = np.zeros(4)
    for i in range(3):
        y[i + 1] = y[i] * 0.5 + np.sin(x[i])
    return y


def jj_while(x):
    while np.sum(x**2) < 20.0:
        x = x * 1.5
    return x


def jj_inv(m):
    return np.linalg.inv(m)


def jj_solve(m):
    return np.linalg.solve(m, np.ones(3))


def jj_chol(m):
    return np.linalg.cholesky(m @ m.T + np.eye(3))


def jj_eigh(m):
    w, v = np.linalg.eigh(m + m.T)
    return w


def jj_det_vec(m):
    return np.array([np.linalg.det(m), np.trace(m)])


def jj_max_axis(m):
    return np.max(m, axis=1)


def jj_sort(x):
    return np.sort(x)


def jj_cumprod(x):
    return np.cumprod(x)


def jj_where(x):
    return np.where(x > 0, x**2, -x)


def jj_list_stack(x):
    hs = []
    for i in range(3):
        hs.append(x * (i + 1.0))
    return np.stack(hs)


def jj_break(x):
    out = x
    for _ in range(5):
        if np.sum(out) > 3.0:
            break
        out = out * 1.7
    return out


def jj_norm_axis(m):
    return np.linalg.norm(m, axis=0)


def jj_slogdet(m):
    return np.array(np.linalg.slogdet(m))


def jj_recursive(x):
    return _jrec(x, 3)


def _jrec(x, n):
    if n == 0:
        return x
    return np.sin(_jrec(x, n - 1)) + x


def jj_fancy_set(x):
    y = x * 1.0
    y[[0, 2]] = y[[2, 0]] * 2.0
    return y


def jj_einsum(m):
    return np.einsum("ij,jk->ik", m, m)


def jj_mean_std(m):
    return (m - m.mean(axis=0)) / m.std(axis=0)


def jj_scalar_out_1d(x):
    return np.sum(x**2, keepdims=True)


def jj_tanh_matrix(m):
    return np.tanh(m)


JAC = [
    Case("jac_tanh", j_tanh, (X,), kind="jac"),
    Case("jac_matvec_x", j_matvec, (X, M), wrt=0, kind="jac"),
    Case("jac_matvec_m", j_matvec, (X, M), wrt=1, kind="jac"),
    Case("jac_outer", j_outer, (X,), kind="jac"),
    Case("jac_softmax", j_softmax, (X,), kind="jac"),
    Case("jac_cumsum", j_cumsum, (X,), kind="jac"),
    Case("jac_loop", j_loop, (X,), kind="jac"),
    Case("jac_polar", j_polar, (np.array([1.5, 0.3]),), kind="jac"),
    Case("jac_setitem_recurrence", jj_setitem, (X,), kind="jac"),
    Case("jac_while", jj_while, (X,), kind="jac"),
    Case("jac_inv", jj_inv, (M + 3 * np.eye(3),), kind="jac"),
    Case("jac_solve", jj_solve, (M + 3 * np.eye(3),), kind="jac"),
    Case("jac_cholesky", jj_chol, (M,), kind="jac"),
    Case("jac_eigh_values", jj_eigh, (M,), kind="jac"),
    Case("jac_det_and_trace", jj_det_vec, (M,), kind="jac"),
    Case("jac_max_axis", jj_max_axis, (M,), kind="jac"),
    Case("jac_sort", jj_sort, (X,), kind="jac"),
    Case("jac_cumprod", jj_cumprod, (X,), kind="jac"),
    Case("jac_where", jj_where, (X,), kind="jac"),
    Case("jac_list_stack", jj_list_stack, (X,), kind="jac"),
    Case("jac_break", jj_break, (np.abs(X) * 0.3,), kind="jac"),
    Case("jac_norm_axis", jj_norm_axis, (M,), kind="jac"),
    Case("jac_slogdet", jj_slogdet, (M + 3 * np.eye(3),), kind="jac"),
    Case("jac_recursive", jj_recursive, (X,), kind="jac"),
    Case("jac_fancy_set", jj_fancy_set, (X,), kind="jac"),
    Case("jac_einsum", jj_einsum, (M,), kind="jac"),
    Case("jac_standardise", jj_mean_std, (M,), kind="jac"),
    Case("jac_keepdims_sum", jj_scalar_out_1d, (X,), kind="jac"),
    Case("jac_tanh_matrix", jj_tanh_matrix, (M,), kind="jac"),
]

# ------------------------------------------------------------------ scalar functions


def quad(x, y):
    return np.sum(x * y) + np.sum(x**2 * y**2)


def with_default(x, reg=0.1):
    return np.sum(np.sin(x)) + reg * np.sum(x**2)


def f_third(a):
    return np.sin(a) * a**3


def loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2)


_d_loss = sg.grad(loss)


def penalised(w, x):
    g = _d_loss(w, x)
    return loss(w, x) + 0.5 * np.sum(g * g)


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


SCALAR = [
    Case("argnums_0", quad, (X, Y), wrt=0, order=2),
    Case("argnums_1", quad, (X, Y), wrt=1, order=2),
    Case("argnums_tuple", quad, (X, Y), wrt=(0, 1), order=2),
    Case("argnums_reversed", quad, (X, Y), wrt=(1, 0)),
    Case("default_arg", with_default, (X,), order=2),
    Case("grad_of_grad_user", penalised, (X, M)),
    Case(
        "grad_of_grad_user_hvp",
        penalised,
        (X, M),
        order=2,
    ),
    Case("rosenbrock", rosenbrock, (R.standard_normal(5),), order=2),
]


@pytest.mark.parametrize("case", params(JAC + SCALAR))
def test_transformations(case):
    check(case)


def _twice(fn, *args):
    a = fn(*fresh(args))
    b = fn(*fresh(args))
    return a, b


def test_keyword_argument_and_default():
    df = sg.grad(with_default)
    want = numerical(lambda x: with_default(x, reg=2.0), (X,), 0)
    for got in _twice(lambda x: df(x, reg=2.0), X):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_third_derivative_scalar():
    d3 = sg.grad(sg.grad(sg.grad(f_third)))
    a, eps = 0.8, 1e-4
    d2 = sg.grad(sg.grad(f_third))
    want = (d2(a + eps) - d2(a - eps)) / (2 * eps)
    exact = (
        -np.cos(a) * a**3 - 3 * np.sin(a) * 3 * a**2 + 3 * np.cos(a) * 6 * a + np.sin(a) * 6
    )  # d3/da3 of sin(a) a^3 by hand
    for got in _twice(d3, a):
        np.testing.assert_allclose(got, want, rtol=1e-5)
        np.testing.assert_allclose(got, exact, rtol=1e-10)


def test_hessian_against_differences_of_gradient():
    h = sg.hessian(rosenbrock)
    x = R.standard_normal(4)
    df = sg.grad(rosenbrock)
    want = numerical(lambda v: df(v)[0], (x,), 0)
    full = np.stack([numerical(lambda v, i=i: df(v)[i], (x,), 0) for i in range(4)])
    for got in _twice(h, x):
        assert got.shape == (4, 4)
        np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got, full, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got, got.T, rtol=1e-10, atol=1e-10)


def test_hessian_matrix_argument():
    h = sg.hessian(lambda_free_quartic)
    m = R.standard_normal((2, 2))
    df = sg.grad(lambda_free_quartic)
    want = np.zeros((2, 2, 2, 2))
    for idx in np.ndindex(2, 2):
        want[idx] = numerical(lambda v, idx=idx: df(v)[idx], (m,), 0)
    for got in _twice(h, m):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def lambda_free_quartic(m):
    return np.sum((m @ m) ** 2)


def test_value_and_grad_has_aux():
    vg = sg.value_and_grad(loss_with_aux, has_aux=True)
    g = sg.grad(loss_with_aux, has_aux=True)
    want = numerical(lambda x: loss_with_aux(x)[0], (X,), 0)
    for (value, aux), grads in _twice(vg, X):
        assert value == loss_with_aux(X)[0]
        np.testing.assert_array_equal(aux["h"], loss_with_aux(X)[1]["h"])
        np.testing.assert_allclose(grads, want, rtol=1e-6, atol=1e-7)
    for grads in _twice(g, X):
        got = grads[0] if isinstance(grads, tuple) else grads
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def loss_with_aux(x):
    h = np.tanh(x)
    return np.sum(h**2), {"h": h}


def test_jvp_tuple_wrt():
    jf = sg.jvp(quad, (0, 1))
    tx, ty = R.standard_normal(3), R.standard_normal(3)
    gx, gy = numerical(quad, (X, Y), 0), numerical(quad, (X, Y), 1)
    for value, tangent in _twice(jf, X, Y, (tx, ty)):
        np.testing.assert_allclose(value, quad(X, Y), rtol=1e-12)
        np.testing.assert_allclose(tangent, gx @ tx + gy @ ty, rtol=1e-6)


def test_vjp_broadcast_g_out():
    vf = sg.vjp(j_tanh)
    want = numerical(lambda x: np.sum(np.tanh(x)), (X,), 0)
    for got in _twice(vf, X, 1.0):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_jvp_of_gradient_is_hvp():
    jf = sg.jvp(sg.grad(rosenbrock))
    x, v = R.standard_normal(4), R.standard_normal(4)
    want = sg.hessian(rosenbrock)(x) @ v
    for (_, tangent), hv in zip(_twice(jf, x, v), _twice(sg.hvp(rosenbrock), x, v)):
        np.testing.assert_allclose(tangent, want, rtol=1e-10)
        np.testing.assert_allclose(hv, want, rtol=1e-10)


def test_float32_stays_float32():
    x = X.astype(np.float32)
    for g in _twice(sg.grad(rosenbrock), x):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, numerical(rosenbrock, (X,), 0), rtol=1e-3, atol=1e-3)


def test_scalar_numpy_float64_argument():
    for g in _twice(sg.grad(f_third), np.float64(0.8)):
        np.testing.assert_allclose(g, numerical(f_third, (0.8,), 0), rtol=1e-6)


# ------------------------------------------------------------------ errors (jax api_test)


def non_scalar(x):
    return np.sin(x)  # REFUSED


def int_arg(n, x):  # REFUSED
    return np.sum(x) * n


def complex_arg(z):  # REFUSED
    return np.sum(np.abs(z) ** 2)


def not_a_pair(x):
    return np.sum(x)  # REFUSED


def _line(f):
    lines, start = inspect.getsourcelines(f)
    return start + next(i for i, t in enumerate(lines) if t.rstrip().endswith("# REFUSED"))


def _where(f):
    return f"{inspect.getsourcefile(f)}:{_line(f)}: "


def test_grad_of_non_scalar_output_is_refused():
    for _ in range(2):
        with pytest.raises(sg.NonScalarOutputError) as info:
            sg.grad(non_scalar)(X)
        assert str(info.value).startswith(_where(non_scalar))
        assert "vjp" in str(info.value)


def test_integer_argument_in_wrt_is_refused():
    for _ in range(2):
        with pytest.raises(sg.WrtTypeError) as info:
            sg.grad(int_arg, 0)(3, X)
        assert str(info.value).startswith(_where(int_arg))


def test_integer_array_in_wrt_is_refused():
    with pytest.raises(sg.WrtTypeError):
        sg.grad(int_arg, 1)(2.0, np.arange(3))


def test_complex_argument_in_wrt_is_refused():
    for _ in range(2):
        with pytest.raises(sg.WrtTypeError) as info:
            sg.grad(complex_arg)(X + 1j * Y)
        assert str(info.value).startswith(_where(complex_arg))
        assert "imaginary" in str(info.value)


def test_has_aux_without_pair_is_refused():
    with pytest.raises(AuxError):
        sg.grad(not_a_pair, has_aux=True)(X)


def test_too_many_arguments_is_refused_like_python():
    with pytest.raises(ArgumentError) as info:
        sg.grad(rosenbrock)(X, X)
    with pytest.raises(TypeError) as py:
        rosenbrock(X, X)
    assert "positional argument" in str(info.value)
    assert "positional argument" in str(py.value)


def test_hvp_with_wrong_shape_direction_is_refused():
    with pytest.raises(SeedError):
        sg.hvp(rosenbrock)(X, np.ones(5))


def test_vjp_with_wrong_shape_g_out_is_refused():
    with pytest.raises(SeedError):
        sg.vjp(j_tanh)(X, np.ones(5))


# ------------------------------------------------------------------ containers through the API


def dict_loss(p):
    return np.sum(np.tanh(p["W"] @ p["x"]) ** 2) + p["s"] ** 2 * np.sum(p["x"])


def tuple_out(x):
    return np.sin(x), np.cos(x) * 2.0


def dict_out(x):
    return {"a": np.sin(x), "b": x**2}


def aux_from_loop(x):
    hs = []
    h = x
    for _ in range(2):
        h = np.tanh(h)
        hs.append(h)
    return np.sum(h**2), hs


P = {"W": R.standard_normal((2, 3)), "x": R.standard_normal(3), "s": 0.7}


def test_jvp_with_dict_argument_and_tangent():
    v = direction(P)
    g = numerical(dict_loss, (P,), 0)
    want = sum(np.sum(np.asarray(g[k]) * np.asarray(v[k])) for k in P)
    for value, tangent in _twice(sg.jvp(dict_loss), P, v):
        np.testing.assert_allclose(value, dict_loss(P), rtol=1e-12)
        np.testing.assert_allclose(tangent, want, rtol=1e-6)


def test_vjp_of_tuple_and_dict_outputs():
    want = numerical(lambda x: np.sum(np.sin(x)) + np.sum(np.cos(x) * 2.0), (X,), 0)
    for got in _twice(sg.vjp(tuple_out), X, (np.ones(3), np.ones(3))):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    want = numerical(lambda x: np.sum(np.sin(x)) + np.sum(x**2), (X,), 0)
    for got in _twice(sg.vjp(dict_out), X, {"a": np.ones(3), "b": np.ones(3)}):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_has_aux_with_list_built_in_a_loop():
    want = numerical(lambda x: aux_from_loop(x)[0], (X,), 0)
    for (value, hs), g in _twice(sg.value_and_grad(aux_from_loop, has_aux=True), X):
        assert value == aux_from_loop(X)[0]
        for a, b in zip(hs, aux_from_loop(X)[1], strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-8)


def test_hvp_with_tuple_wrt():
    v = (R.standard_normal(3), R.standard_normal(3))
    h00 = sg.hessian(quad, 0)(X, Y)
    dgx = sg.grad(quad, 0)
    eps = 1e-5
    cross = (dgx(X, Y + eps * v[1]) - dgx(X, Y - eps * v[1])) / (2 * eps)
    for hx, _hy in _twice(sg.hvp(quad, (0, 1)), X, Y, v):
        np.testing.assert_allclose(hx, h00 @ v[0] + cross, rtol=1e-5)
