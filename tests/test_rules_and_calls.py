"""Regression tests: `%` / mod / remainder / fmod, casts to integer and boolean dtypes,
``np.std`` at zero spread, ``np.array`` of nested lists of differentiated values, and calls
with keyword arguments (keyword-only parameters, defaults, defaults naming globals).

Each function is checked through the public API on its 1st, 2nd and 3rd call (the pure
derivative, then the optimized ones): the value against Python's, the gradient against
central differences in float64, and, where the function is smooth, second order.
"""

import numpy as np
import pytest

import sourcegrad as sg

from .fd import numerical_grad

# points away from the discontinuities of %, fmod and integer casts
X = np.array([0.37, -1.23, 2.41])
V = np.array([0.3, -0.7, 1.1])
B = np.array([0.7, -1.3])
SCALE = 3.0


def _fd(f, args, i, kwargs):
    return numerical_grad(lambda *a: f(*a, **kwargs), args, i)


def check_calls(f, *args, wrt=0, kwargs=None, rtol=1e-6, atol=1e-8):
    """value_and_grad and grad of ``f`` on calls 1, 2 and 3: the value is Python's, the
    gradient central differences'."""
    kwargs = kwargs or {}
    idxs = wrt if isinstance(wrt, tuple) else (wrt,)
    expected = [_fd(f, args, i, kwargs) for i in idxs]
    vg, g = sg.value_and_grad(f, wrt), sg.grad(f, wrt)
    for call in (1, 2, 3):
        value, got = vg(*args, **kwargs)
        np.testing.assert_allclose(value, f(*args, **kwargs), rtol=1e-12, atol=1e-12)
        for label, grads in (("value_and_grad", got), ("grad", g(*args, **kwargs))):
            grads = grads if isinstance(wrt, tuple) else (grads,)
            for i, gi, e in zip(idxs, grads, expected):
                assert np.shape(gi) == np.shape(args[i])
                np.testing.assert_allclose(
                    gi, e, rtol=rtol, atol=atol, err_msg=f"{label} d/darg{i}, call {call}"
                )


def check_second_order(f, *args, v, i=0, kwargs=None):
    """jvp against the gradient, hvp against differences of the gradient (calls 1 to 3)."""
    kwargs = kwargs or {}
    g = sg.grad(f, i)

    def grad_at(s):
        a = list(args)
        a[i] = args[i] + s * v
        return np.asarray(g(*a, **kwargs))

    expected = (grad_at(1e-5) - grad_at(-1e-5)) / 2e-5
    jvp, hvp = sg.jvp(f, i), sg.hvp(f, i)
    for _ in range(3):
        value, t = jvp(*args, v, **kwargs)
        np.testing.assert_allclose(value, f(*args, **kwargs), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(t, np.sum(grad_at(0.0) * v), rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(hvp(*args, v, **kwargs), expected, rtol=1e-5, atol=1e-7)


# ============================================================================ 1. % and mod


def mod_operator(w):
    return np.sum(np.sin(w % 0.7) * w)


def mod_both(w, b):
    return np.sum(np.mod(w[:, None], b) ** 2 * w[:, None])


def remainder_both(w, b):
    return np.sum(np.remainder(b, w[:, None]) ** 2)


def fmod_both(w, b):
    return np.sum(np.fmod(w[:, None], b) ** 2) + np.sum(np.fmod(3.0, w) ** 2)


def mod_scalar(t):
    return (t % 0.7) ** 2 + np.fmod(t, 0.4) * t + np.mod(-2.0, t)


@pytest.mark.parametrize("f", [mod_operator])
def test_mod_operator_gradient(f):
    check_calls(f, X)
    check_second_order(f, X, v=V)


@pytest.mark.parametrize("f", [mod_both, remainder_both, fmod_both])
def test_mod_functions_gradients_of_both_operands(f):
    check_calls(f, X, B, wrt=(0, 1))
    check_second_order(f, X, B, v=V, i=0)
    check_second_order(f, X, B, v=np.array([0.4, -0.2]), i=1)


def test_mod_of_a_float_forward_mode_and_second_order():
    check_calls(mod_scalar, 0.9)
    check_calls(mod_scalar, -1.3)
    g = sg.grad(mod_scalar)
    expected = (g(0.9 + 1e-5) - g(0.9 - 1e-5)) / 2e-5
    np.testing.assert_allclose(sg.grad(sg.grad(mod_scalar))(0.9), expected, rtol=1e-6)


def test_mod_rule_values():
    # d/da (a % b) = 1, d/db = -floor(a / b); fmod: -trunc(a / b)
    a, b = np.array([2.5, -2.5]), np.array([0.7, 0.7])
    da, db = sg.grad(lambda_mod, (0, 1))(a, b)
    np.testing.assert_array_equal(da, [1.0, 1.0])
    np.testing.assert_array_equal(db, -np.floor(a / b))
    da, db = sg.grad(lambda_fmod, (0, 1))(a, b)
    np.testing.assert_array_equal(da, [1.0, 1.0])
    np.testing.assert_array_equal(db, -np.trunc(a / b))


def lambda_mod(a, b):
    return np.sum(a % b)


def lambda_fmod(a, b):
    return np.sum(np.fmod(a, b))


def formats_with_percent(w):
    loss = np.sum(w**2)
    return loss, "loss %.3f" % loss  # noqa: UP031 - the % operator is what is tested


def test_percent_string_formatting_stays_a_constant():
    (value, text), (t, t_text) = sg.jvp(formats_with_percent)(X, V)
    assert (value, text) == formats_with_percent(X)
    assert t == pytest.approx(2.0 * np.dot(X, V)) and t_text is None
    g, aux = sg.grad(formats_with_percent, has_aux=True)(X)
    np.testing.assert_allclose(g, 2.0 * X)
    assert aux == formats_with_percent(X)[1]


# ============================================================================ 2. integer casts


def astype_int(w):
    return np.sum(w.astype(int) * w)


def astype_bool(w):
    return np.sum(w.astype(bool) * np.sin(w))


def astype_dtype_keyword(w):
    return np.sum(w.astype(dtype=np.int32) * w**2)


def asarray_int(w):
    return np.sum(np.asarray(w, dtype=int) * w) + np.sum(np.array(w, dtype=np.int64) * w**2)


def scalar_type_int(w):
    return np.sum(np.int64(w) * w) + np.int32(w[2]) * w[0]


def astype_float(w):  # a cast to a float dtype stays the identity
    return np.sum(w.astype(np.float64) ** 3) + np.sum(np.asarray(w, dtype=float) * w)


def cast_scalar(t):
    return int(t) * t + np.int64(t) * t + np.asarray(t, dtype=int) * t + np.float64(t) * t


@pytest.mark.parametrize(
    "f", [astype_int, astype_bool, astype_dtype_keyword, asarray_int, scalar_type_int]
)
def test_integer_casts_have_zero_derivative(f):
    check_calls(f, X)
    check_second_order(f, X, v=V)


def test_astype_int_alone_has_zero_gradient():
    np.testing.assert_array_equal(sg.grad(sum_of_int)(X), np.zeros(3))
    _, t = sg.jvp(sum_of_int)(X, V)
    assert t == 0.0


def sum_of_int(w):
    return np.sum(w.astype(int)) * 1.0


def test_casts_of_a_float_forward_mode():
    check_calls(cast_scalar, 2.3)
    assert sg.grad(cast_scalar)(2.3) == pytest.approx(2 + 2 + 2 + 2 * 2.3)
    assert sg.grad(sg.grad(cast_scalar))(2.3) == pytest.approx(2.0)


# ============================================================================ 3. std at zero


def std_of_one(w):
    return np.std(w[:1]) + np.sum(w)


def norm_at_zero(w):
    return np.linalg.norm(w - w) + np.sum(w)


def test_std_at_zero_spread_is_nan_and_the_norm_at_zero_takes_the_subgradient_zero():
    # The derivative of std at zero spread is undefined: the gradient is NaN there, as in JAX
    # and autograd; elsewhere it is the true one. The norm at 0 takes the subgradient 0, as
    # PyTorch's does (its test_norm_subgradient): here the true gradient, since w - w is 0
    # wherever w goes.
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(3):
            g = sg.grad(std_of_one)(X)
            assert np.isnan(g[0])
            np.testing.assert_array_equal(g[1:], [1.0, 1.0])
            np.testing.assert_array_equal(sg.grad(norm_at_zero)(X), [1.0, 1.0, 1.0])


def std_spread(w):
    return np.std(w[:2]) * w[2]


# ============================================================================ 4. np.array of nested lists


def rotation(t):
    R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return np.sum(R @ np.array([1.0, 2.0]))


def rotation_of_element(w):
    t = w[0]
    R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t) * w[2], np.cos(t)]])
    return np.sum(np.tanh(R @ np.array([1.0, 2.0]) * w[1]))


def nested_with_constants(w):
    R = np.array([[np.cos(w[0]), 1.0], [2.0, w[1] * w[2]]])
    return np.sum(np.tanh(R @ R))


def nested_vectors(w):
    R = np.array([[w * 2.0, np.sin(w)], [np.ones(3), w**2]])
    return np.sum(np.tanh(R))


def flat_with_constant(t):
    r = np.array([np.cos(t), 1.0, t * t])
    return np.sum(r * np.array([1.0, 2.0, 3.0]))


def two_angles(t, s):
    R = np.array([[np.cos(t), -np.sin(s)], [np.sin(t), np.cos(s) * t]])
    return np.sum(R @ np.array([1.0, 2.0]))


@pytest.mark.parametrize("f", [rotation, flat_with_constant])
def test_nested_array_of_floats_forward_mode_and_second_order(f):
    check_calls(f, 0.3)
    check_calls(f, -1.1)
    check_second_order(f, 0.3, v=0.73)
    g = sg.grad(f)
    expected = (g(0.3 + 1e-5) - g(0.3 - 1e-5)) / 2e-5
    np.testing.assert_allclose(sg.grad(sg.grad(f))(0.3), expected, rtol=1e-6)


def test_rotation_value():
    t = 0.3
    expected = -np.sin(t) - 2 * np.cos(t) + np.cos(t) - 2 * np.sin(t)
    assert sg.grad(rotation)(t) == pytest.approx(expected, rel=1e-12)
    assert sg.grad(rotation_of_element)(np.array([t, 1.0, 1.0]))[0] != 0.0


@pytest.mark.parametrize("f", [rotation_of_element, nested_with_constants, nested_vectors])
def test_nested_array_reverse_mode_and_second_order(f):
    check_calls(f, X)
    check_second_order(f, X, v=V)


def test_nested_array_of_two_floats():
    check_calls(two_angles, 0.3, 0.2, wrt=(0, 1))
    check_calls(two_angles, 0.3, 0.2, wrt=1)


# ============================================================================ 5. keyword arguments


def regularised(w, *, reg=0.0):
    return np.sum(w**2) * reg + np.sum(np.sin(w))


def positional_default(w, a=1.0):
    return np.sum(w**3) * a


def global_default(w, a=SCALE):
    return np.sum(w**3) * a


def global_keyword_default(w, *, a=SCALE):
    return np.sum(w**3) * a


def required_keyword(w, *, a):
    return np.sum(np.exp(w * a))


def scalar_keyword(t, *, a=1.0):
    return np.sin(t) * a


def vector_keyword(w, *, k=1.0):
    return np.sin(w) * k


def _helper(w, *, reg=1.0):
    return np.sum(w**2) * reg


def calls_helper_by_keyword(w):
    return _helper(w, reg=10.0) + np.sum(w)


def _layer(x, w, final=False, scale=1.0):
    z = x * w * scale
    return z if final else np.tanh(z)


def calls_helper_leaving_out_defaults(w):
    h = _layer(X, w)  # final and scale left out
    return np.sum(_layer(h, w, final=True) ** 2) + np.sum(_layer(h, w, scale=2.0))


@pytest.mark.parametrize("reg", [10.0, 0.0, -2.5])
def test_keyword_only_argument_is_used(reg):
    check_calls(regularised, X, kwargs={"reg": reg})
    check_second_order(regularised, X, v=V, kwargs={"reg": reg})


def test_keyword_only_argument_in_every_transform():
    kw = {"reg": 10.0}
    expected_grad = 2 * X * 10.0 + np.cos(X)
    np.testing.assert_allclose(sg.grad(regularised)(X, **kw), expected_grad)
    np.testing.assert_allclose(sg.vjp(regularised)(X, 1.0, **kw), expected_grad)
    value, t = sg.jvp(regularised)(X, V, **kw)
    assert value == pytest.approx(regularised(X, **kw))
    assert t == pytest.approx(np.dot(expected_grad, V))
    hessian = sg.hessian(regularised)(X, **kw)
    np.testing.assert_allclose(hessian, np.diag(20.0 - np.sin(X)), atol=1e-12)
    np.testing.assert_allclose(sg.hvp(regularised)(X, V, **kw), (20.0 - np.sin(X)) * V)
    jac = sg.jacobian(vector_keyword)(X, k=3.0)
    np.testing.assert_allclose(jac, np.diag(3.0 * np.cos(X)), atol=1e-12)
    # after keyword calls, a call without them uses the default again
    np.testing.assert_allclose(sg.grad(regularised)(X), np.cos(X))


def test_keyword_only_argument_of_a_float_and_grad_of_grad():
    check_calls(scalar_keyword, 0.3, kwargs={"a": 10.0})
    assert sg.grad(sg.grad(scalar_keyword))(0.3, a=10.0) == pytest.approx(-10.0 * np.sin(0.3))
    assert sg.grad(sg.grad(scalar_keyword))(0.3) == pytest.approx(-np.sin(0.3))


def test_keyword_for_a_positional_parameter_and_left_out_defaults():
    check_calls(positional_default, X, kwargs={"a": 2.0})
    check_calls(positional_default, X)
    np.testing.assert_allclose(sg.grad(positional_default)(w=X, a=2.0), 6.0 * X**2)
    check_second_order(positional_default, X, v=V, kwargs={"a": 2.0})


@pytest.mark.parametrize("f", [global_default, global_keyword_default])
def test_defaults_naming_module_globals(f):
    check_calls(f, X)
    check_calls(f, X, kwargs={"a": -1.5})
    check_second_order(f, X, v=V)
    np.testing.assert_allclose(sg.hvp(f)(X, V), 6.0 * SCALE * X * V)


# ============================================================================ first and second order
# (function, keyword arguments): checked by check_calls and check_second_order at X along V

BOTH_ORDERS = [
    (astype_float, None),  # float casts stay the identity
    (std_spread, None),
    (required_keyword, {"a": 0.5}),
    (calls_helper_by_keyword, None),
    # the Hessian-vector product differentiates the helper's vjp, called without the
    # defaults, in forward mode: its output gradient must not take a default's place
    (calls_helper_leaving_out_defaults, None),
]


@pytest.mark.parametrize("f, kwargs", BOTH_ORDERS, ids=[c[0].__name__ for c in BOTH_ORDERS])
def test_both_orders(f, kwargs):
    check_calls(f, X, kwargs=kwargs)
    check_second_order(f, X, v=V, kwargs=kwargs)
