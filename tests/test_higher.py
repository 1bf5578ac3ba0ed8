"""Higher-order derivatives, forward mode, Jacobians and custom rules, through the public API.

Every result is compared with central finite differences in float64: of the function for
first derivatives, of sourcegrad's own (already checked) gradient for second derivatives."""

import subprocess
import sys

import numpy as np
import pytest

import sourcegrad as sg

from . import higher_cases as c

EPS = 1e-6


def fd_directional(f, args, i, v, eps=EPS):
    """(f(args[i] + eps v) - f(args[i] - eps v)) / 2 eps, leaf by leaf for containers."""

    def at(s):
        a = list(args)
        a[i] = _axpy(args[i], v, s * eps)
        return f(*a)

    return _axpy(at(1.0), at(-1.0), -1.0, scale=1.0 / (2 * eps))


def _axpy(x, v, s, scale=1.0):
    if isinstance(x, dict):
        return {k: _axpy(x[k], v[k], s, scale) for k in x}
    if isinstance(x, (list, tuple)):
        return type(x)(_axpy(a, b, s, scale) for a, b in zip(x, v))
    return (x + s * v) * scale


def _close(a, b, rtol=1e-5, atol=1e-6):
    if isinstance(a, dict):
        for k in a:
            _close(a[k], b[k], rtol, atol)
        return
    if isinstance(a, (list, tuple)):
        for p, q in zip(a, b):
            _close(p, q, rtol, atol)
        return
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


@pytest.fixture
def mlp_data(rng):
    return rng.standard_normal(21) * 0.5, rng.standard_normal((4, 5)), rng.standard_normal((4, 2))


# ------------------------------------------------------------------------- forward mode


def test_jvp_matches_finite_differences_through_control_flow(rng):
    x, a = rng.standard_normal(3) * 0.5, 0.7
    v = rng.standard_normal(3)
    value, tangent = sg.jvp(c.looped)(x, a, v)
    assert value == pytest.approx(c.looped(x, a))
    _close(tangent, fd_directional(c.looped, (x, a), 0, v))


def test_jvp_of_array_valued_function_and_tuple_wrt(rng):
    x, a = rng.standard_normal(3), rng.standard_normal((4, 3))
    vx, va = rng.standard_normal(3), rng.standard_normal((4, 3))
    value, tangent = sg.jvp(c.vector_valued, (0, 1))(x, a, (vx, va))
    _close(value, c.vector_valued(x, a))

    def along(s):
        return c.vector_valued(x + s * vx, a + s * va)

    _close(tangent, (along(EPS) - along(-EPS)) / (2 * EPS))


def test_jvp_of_container_argument(rng):
    params = {
        "W1": rng.standard_normal((3, 4)),
        "b1": rng.standard_normal(4),
        "W2": rng.standard_normal((4, 2)),
    }
    v = {k: rng.standard_normal(p.shape) for k, p in params.items()}
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    _, tangent = sg.jvp(c.mlp_params_loss)(params, x, y, v)
    _close(tangent, fd_directional(c.mlp_params_loss, (params, x, y), 0, v))


def test_jvp_through_while_loop():
    value, tangent = sg.jvp(c.newton)(2.0, 1.0)
    assert value == pytest.approx(np.sqrt(2.0))
    assert tangent == pytest.approx(0.5 / np.sqrt(2.0), rel=1e-8)


def test_vjp_and_jvp_agree_with_finite_difference_jacobian(rng):
    x, a = rng.standard_normal(3), rng.standard_normal((4, 3))
    jac = np.stack(
        [fd_directional(c.vector_valued, (x, a), 0, e) for e in np.eye(3)], axis=-1
    )  # (4, 3)
    u, v = rng.standard_normal(4), rng.standard_normal(3)
    _close(sg.vjp(c.vector_valued)(x, a, u), u @ jac)
    _close(sg.jvp(c.vector_valued)(x, a, v)[1], jac @ v)
    _close(sg.jacobian(c.vector_valued)(x, a), jac)


def test_jacobian_uses_rows_or_columns_and_both_agree(rng):
    x = rng.standard_normal(3)  # 3 inputs, 9 outputs: forward columns
    jac = sg.jacobian(c.wide_output)(x)
    assert jac.shape == (3, 3, 3)
    expected = np.stack([fd_directional(c.wide_output, (x,), 0, e) for e in np.eye(3)], -1)
    _close(jac, expected)
    a = rng.standard_normal((2, 3))  # 3 inputs, 2 outputs: reverse rows
    x3 = rng.standard_normal(3)
    jac2 = sg.jacobian(c.vector_valued)(x3, a[:2])
    expected2 = np.stack(
        [fd_directional(c.vector_valued, (x3, a[:2]), 0, e) for e in np.eye(3)], -1
    )
    _close(jac2, expected2)


# ------------------------------------------------------------------------- second order


def test_hvp_of_mlp_matches_differences_of_the_gradient(rng, mlp_data):
    w, x, y = mlp_data
    v = rng.standard_normal(w.shape)
    hv = sg.hvp(c.mlp_loss)(w, x, y, v)
    _close(hv, fd_directional(sg.grad(c.mlp_loss), (w, x, y), 0, v), rtol=1e-5, atol=1e-7)


def test_hessian_of_mlp_is_symmetric_and_matches_differences(mlp_data):
    w, x, y = mlp_data
    h = sg.hessian(c.mlp_loss)(w, x, y)
    assert h.shape == (21, 21)
    np.testing.assert_allclose(h, h.T, atol=1e-10)
    df = sg.grad(c.mlp_loss)
    expected = np.stack([fd_directional(df, (w, x, y), 0, e) for e in np.eye(21)], -1)
    _close(h, expected, atol=1e-6)


def test_gradient_penalty_differentiates_through_inner_grad(rng):
    w, x = rng.standard_normal((3, 2)) * 0.5, rng.standard_normal((4, 3))
    got = sg.grad(c.penalised)(w, x)
    for e in np.eye(6):
        v = e.reshape(3, 2)
        expected = fd_directional(c.penalised, (w, x), 0, v)
        assert np.sum(got * v) == pytest.approx(float(expected), rel=1e-5, abs=1e-7)


def test_second_order_through_loop_with_data_dependent_branch(rng):
    x = rng.standard_normal(3) * 0.5
    v = rng.standard_normal(3)
    hv = sg.hvp(c.looped)(x, 0.7, v)
    _close(hv, fd_directional(sg.grad(c.looped), (x, 0.7), 0, v))


def test_grad_of_grad_and_third_derivative_are_analytic():
    x = 0.8
    s, co = np.sin(x), np.cos(x)
    d1 = co * x**3 + 3 * s * x**2
    d2 = -s * x**3 + 6 * co * x**2 + 6 * s * x
    d3 = -co * x**3 - 9 * s * x**2 + 18 * co * x + 6 * s
    assert sg.grad(c.scalar_poly)(x) == pytest.approx(d1, rel=1e-12)
    assert sg.grad(sg.grad(c.scalar_poly))(x) == pytest.approx(d2, rel=1e-12)
    assert sg.grad(sg.grad(sg.grad(c.scalar_poly)))(x) == pytest.approx(d3, rel=1e-12)


def test_grad_of_a_non_scalar_gradient_is_refused(rng):
    with pytest.raises(sg.NonScalarOutputError, match="hessian"):
        sg.grad(sg.grad(c.inner_loss))(rng.standard_normal((3, 2)), rng.standard_normal((4, 3)))


# ------------------------------------------------------------------------- custom rules


def test_defjvp_and_defvjp_on_a_primitive(rng):
    x = rng.standard_normal(4)
    v = rng.standard_normal(4)
    _close(
        sg.grad(c.uses_softplus)(x),
        fd_directional(c.uses_softplus, (x,), 0, np.eye(4)[0]) * 0
        + np.array([fd_directional(c.uses_softplus, (x,), 0, e) for e in np.eye(4)]),
    )
    _, t = sg.jvp(c.uses_softplus)(x, v)
    assert t == pytest.approx(float(fd_directional(c.uses_softplus, (x,), 0, v)), rel=1e-6)
    src = sg.jvp(c.uses_softplus).source(x, v)
    assert "np.exp(-x)" in src  # the template is inlined, not called


def test_primitive_without_rule_is_refused(rng):
    with pytest.raises(sg.NoRuleError, match="opaque_primitive"):
        sg.grad(c.uses_opaque)(rng.standard_normal(3))
    with pytest.raises(sg.NoRuleError, match="defjvp"):
        sg.jvp(c.uses_opaque)(rng.standard_normal(3), rng.standard_normal(3))


# ------------------------------------------------------------------------- source


def test_show_forward_and_second_order_from_the_command_line():
    path = c.__file__
    fwd = subprocess.run(
        [sys.executable, "-m", "sourcegrad", "show", f"{path}:looped", "--mode", "forward"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert fwd.startswith("def jvp_looped(x, a, *, dx):")
    assert "for i in range(4):" in fwd
    second = subprocess.run(
        [sys.executable, "-m", "sourcegrad", "show", f"{path}:scalar_poly", "--order", "2"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert second.startswith("def jvp_d_scalar_poly(x, *, tx):")
    assert "tdx = " in second  # the tangent of the gradient: H tx


def test_gradcheck_second_order_catches_a_wrong_tangent_rule(rng):
    x = rng.standard_normal(4)
    assert sg.gradcheck(c.uses_cube, x)  # first order does not read the tangent rule
    with pytest.raises(sg.GradcheckError, match="jvp"):
        sg.gradcheck(c.uses_cube, x, order=2)


def test_gradcheck_second_order_passes_on_a_network(rng, mlp_data):
    assert sg.gradcheck(c.mlp_loss, *mlp_data, order=2)


def test_gradcheck_of_a_tuple_wrt_checks_each_argument_and_names_it(rng, mlp_data):
    assert sg.gradcheck(c.mlp_loss, *mlp_data, wrt=(0, 1, 2), order=2)
    x = rng.standard_normal(4)
    assert sg.gradcheck(c.uses_cube, x, wrt=(0,))
    with pytest.raises(sg.GradcheckError, match="^argument 0: .*jvp"):
        sg.gradcheck(c.uses_cube, x, wrt=(0,), order=2)


def test_hessian_of_nested_parameters_is_refused_with_the_way_out(rng):
    params = {
        "W1": rng.standard_normal((3, 4)),
        "b1": rng.standard_normal(4),
        "W2": rng.standard_normal((4, 2)),
    }
    with pytest.raises(sg.SourcegradError, match="hvp"):
        sg.hessian(c.mlp_params_loss)(
            params, rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
        )


def test_meta_learning_differentiates_through_an_inner_gradient_step(rng):
    w, x, y = rng.standard_normal(3) * 0.5, rng.standard_normal((5, 3)), rng.standard_normal(5)
    got = sg.grad(c.maml)(w, x, y)
    expected = np.array([fd_directional(c.maml, (w, x, y), 0, e) for e in np.eye(3)])
    _close(got, expected)


def test_inner_gradient_differentiated_with_respect_to_another_argument(rng):
    w, x = rng.standard_normal((3, 2)) * 0.5, rng.standard_normal((4, 3))
    got = sg.grad(c.mixed, 1)(w, x)
    for e in np.eye(12):
        v = e.reshape(4, 3)
        expected = float(fd_directional(c.mixed, (w, x), 1, v))
        assert np.sum(got * v) == pytest.approx(expected, rel=1e-5, abs=1e-7)


def test_jvp_of_a_gradient_is_a_hessian_vector_product(rng, mlp_data):
    w, x, y = mlp_data
    v = rng.standard_normal(w.shape)
    grads, hv = sg.jvp(sg.grad(c.mlp_loss))(w, x, y, v)
    _close(grads, sg.grad(c.mlp_loss)(w, x, y))
    _close(hv, sg.hvp(c.mlp_loss)(w, x, y, v), rtol=1e-10, atol=1e-12)


def test_primitive_rule_calls_a_hand_written_backward(rng):
    x = rng.standard_normal(4)
    got = sg.grad(c.uses_sin2)(x)
    expected = np.array([fd_directional(c.uses_sin2, (x,), 0, e) for e in np.eye(4)])
    _close(got, expected)
    assert "hand_backward(" in sg.grad(c.uses_sin2).source(x)


def test_third_order_source_is_forward_over_forward_over_reverse():
    text = sg.show(c.scalar_poly, order=3, args=(0.5,))
    assert text.startswith("def jvp_jvp_d_scalar_poly(")
    compile(text, "<order3>", "exec")


def test_every_reverse_rule_has_a_forward_rule():
    from .internals import ADJOINTS, TANGENTS

    builtin = [k for k in ADJOINTS if not (getattr(k, "__module__", "") or "").startswith("tests")]
    missing = [k for k in builtin if k not in TANGENTS]
    assert not missing, f"no tangent rule for {missing}"


def test_forward_mode_through_python_sum_of_a_list(rng):
    x, v = rng.standard_normal(4), rng.standard_normal(4)
    _, t = sg.jvp(c.sums_a_list)(x, v)
    assert t == pytest.approx(float(fd_directional(c.sums_a_list, (x,), 0, v)), rel=1e-6)
    hv = sg.hvp(c.sums_a_list)(x, v)
    _close(hv, fd_directional(sg.grad(c.sums_a_list), (x,), 0, v))
