"""Solvers written by hand, as in numerical-methods courses: a generic explicit Runge-Kutta
driven by a Butcher tableau (stages kept in a list, ``sum`` of a generator), backward Euler
and Crank-Nicolson with ``np.linalg.solve`` in the loop, Newton on the implicit step with the
Jacobian from ``sg.jacobian``, preallocated trajectories filled row by row, boundary values by
tuple assignment into items, adaptive Simpson quadrature by recursion on a function argument,
``scipy.linalg.expm`` for a linear system. Then the public API as a user calls it on these:
``scipy.optimize.minimize(f, x0, jac=sg.grad(f))``, ``sg.hessian``, ``sg.hvp``, ``sg.jvp``,
float32 inputs."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

scipy_linalg = pytest.importorskip("scipy.linalg", reason="expm and minimize come from scipy")
from scipy.optimize import minimize  # noqa: E402

R = np.random.default_rng(2026)


def r(*s):
    return R.standard_normal(s)


RK4_A = [[0.0, 0.0, 0.0, 0.0], [0.5, 0.0, 0.0, 0.0], [0.0, 0.5, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]
RK4_B = [1 / 6, 1 / 3, 1 / 3, 1 / 6]
RK4_C = [0.0, 0.5, 0.5, 1.0]


def rk_tableau(theta, y0):
    def f(t, y):
        return np.array([y[1], -theta[0] * y[0] - theta[1] * y[1] + np.cos(t)])

    y, t, h = y0, 0.0, 0.1
    for _ in range(10):
        k = []
        for i in range(len(RK4_B)):
            yi = y + h * sum(RK4_A[i][j] * k[j] for j in range(i))
            k.append(f(t + RK4_C[i] * h, yi))
        y = y + h * sum(b * kj for b, kj in zip(RK4_B, k))
        t += h
    return np.sum(y**2)


def backward_euler_linear(A, y0):
    n = y0.shape[0]
    h = 0.1
    M = np.eye(n) - h * A
    y = y0
    out = np.zeros((5, n))
    for i in range(5):
        y = np.linalg.solve(M, y)
        out[i] = y
    return np.sum(out**2)


def crank_nicolson(u0, kappa):
    n = u0.size
    lap = -2 * np.eye(n) + np.eye(n, k=1) + np.eye(n, k=-1)
    A = np.eye(n) - 0.5 * kappa * lap
    B = np.eye(n) + 0.5 * kappa * lap
    u = u0
    for _ in range(6):
        u = np.linalg.solve(A, B @ u)
    return np.sum(u**4)


def stiff_rhs(y, k):
    return np.array([-k * y[0] + y[1] ** 2, -y[1] + 0.5 * np.sin(y[0])])


def implicit_euler_newton(k, y0):
    """The Jacobian by sg.jacobian inside: refused at the call, saying how to build it
    (regression: the refusal named sourcegrad's own file, `unit_vector` without a rule)."""
    J_rhs = sg.jacobian(stiff_rhs)
    h = 0.2
    y = y0
    for _ in range(3):
        z = y
        for _ in range(6):
            F = z - y - h * stiff_rhs(z, k)
            J = np.eye(2) - h * J_rhs(z, k)  # REFUSED
            z = z - np.linalg.solve(J, F)
        y = z
    return np.sum(y**2)


def stiff_rhs_item(y, k, i):
    return stiff_rhs(y, k)[i]


def implicit_euler_grad_rows(k, y0):
    """The way out the refusal gives: the Jacobian's rows as gradients of its items."""
    row = sg.grad(stiff_rhs_item)
    h = 0.2
    y = y0
    for _ in range(3):
        z = y
        for _ in range(6):
            F = z - y - h * stiff_rhs(z, k)
            J = np.eye(2) - h * np.stack([row(z, k, i) for i in range(2)])
            z = z - np.linalg.solve(J, F)
        y = z
    return np.sum(y**2)


HESSIAN_RHS = sg.hessian(lambda y: np.sum(stiff_rhs(y, 2.0) ** 2))


def newton_with_global_hessian(y0):
    y = y0
    for _ in range(2):
        y = y - 0.1 * HESSIAN_RHS(y) @ y  # REFUSED
    return np.sum(y**2)


def trajectory_rows(k, x0):
    n = 20
    xs = np.empty(n + 1)
    xs[0] = x0
    for i in range(n):
        xs[i + 1] = xs[i] + 0.05 * (-k * xs[i] + np.sin(xs[i]))
    return xs


def boundary_tuple_items(u0, left, right):
    u = u0.copy()
    for _ in range(6):
        u[1:-1] += 0.2 * (u[2:] - 2 * u[1:-1] + u[:-2])
        u[0], u[-1] = left, right
    return np.sum(u**2 * np.arange(u.size))


def simpson_rule(f, a, b):
    c = 0.5 * (a + b)
    return (b - a) / 6 * (f(a) + 4 * f(c) + f(b))


def adaptive_simpson(f, a, b, whole, depth):
    c = 0.5 * (a + b)
    left, right = simpson_rule(f, a, c), simpson_rule(f, c, b)
    if depth == 0 or abs(left + right - whole) < 1e-10:
        return left + right
    return adaptive_simpson(f, a, c, left, depth - 1) + adaptive_simpson(f, c, b, right, depth - 1)


def decay_integral(theta):
    f = lambda x: np.exp(-theta * x) * np.cos(x)  # noqa: E731
    return adaptive_simpson(f, 0.0, 2.0, simpson_rule(f, 0.0, 2.0), 4)  # REFUSED


def decay_integral_parameter_passed(theta):
    """The way out: the integrand takes the parameter as an argument."""
    return adaptive_simpson_p(decay, theta, 0.0, 2.0, simpson_p(decay, theta, 0.0, 2.0), 4)


def decay(x, theta):
    return np.exp(-theta * x) * np.cos(x)


def simpson_p(f, p, a, b):
    c = 0.5 * (a + b)
    return (b - a) / 6 * (f(a, p) + 4 * f(c, p) + f(b, p))


def adaptive_simpson_p(f, p, a, b, whole, depth):
    c = 0.5 * (a + b)
    left, right = simpson_p(f, p, a, c), simpson_p(f, p, c, b)
    if depth == 0 or abs(left + right - whole) < 1e-10:
        return left + right
    return adaptive_simpson_p(f, p, a, c, left, depth - 1) + adaptive_simpson_p(
        f, p, c, b, right, depth - 1
    )


def linear_system_expm(A, x0):
    xs = [scipy_linalg.expm(A * t) @ x0 for t in (0.5, 1.0, 1.5)]
    return sum(np.sum(x**2) for x in xs)


def enumerate_scalar_accumulate(x, w):
    total = 0.0
    for i, xi in enumerate(x):
        if xi > 0:
            total += xi * w[i]
        else:
            total -= 0.5 * xi**2 * w[i]
    return total


def dot_method_chain(F, P, Q):
    for _ in range(3):
        P = F.dot(P).dot(F.T) + Q
    return np.trace(P)


def normalise_rows(X):
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    G = Xn @ Xn.T
    return np.sum(np.triu(G, 1) ** 2)


def nan_masked_loss(w, X, y):
    ok = ~np.isnan(y)
    pred = X @ w
    return np.mean((pred[ok] - y[ok]) ** 2)


def interp_calibration(knots_y, x_obs, y_obs):
    knots_x = np.linspace(0.0, 1.0, knots_y.size)
    return np.sum((np.interp(x_obs, knots_x, knots_y) - y_obs) ** 2)


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


Y_NAN = np.array([0.3, np.nan, -1.2, 0.8, np.nan, 0.1])

CASES = [
    Case(
        "rk_butcher_tableau",
        rk_tableau,
        (np.array([2.0, 0.3]), np.array([1.0, 0.0])),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "backward_euler_solve",
        backward_euler_linear,
        (-np.eye(3) + 0.3 * r(3, 3), r(3)),
        wrt=(0, 1),
        order=2,
    ),
    Case("crank_nicolson", crank_nicolson, (r(6), 0.4), wrt=(0, 1), order=2),
    Case(
        "implicit_euler_sg_jacobian_inside",
        implicit_euler_newton,
        (3.0, np.array([1.0, 0.5])),
        wrt=1,
        refused=(sg.UnsupportedSyntaxError, "build the Jacobian's rows as gradients of the items"),
    ),
    Case(
        "implicit_euler_grad_rows",
        implicit_euler_grad_rows,
        (3.0, np.array([1.0, 0.5])),
        wrt=(0, 1),
    ),
    Case(
        "global_sg_hessian_inside",
        newton_with_global_hessian,
        (np.array([1.0, 0.5]),),
        refused=(sg.NoRuleError, "build the Hessian's rows"),
    ),
    Case("trajectory_rows_jacobian", trajectory_rows, (0.8, 1.2), wrt=1, kind="jac"),
    Case("boundary_tuple_items", boundary_tuple_items, (r(7), 0.3, -0.4), wrt=(0, 1, 2), order=2),
    Case(
        "adaptive_simpson_closure_passed",
        decay_integral,
        (0.7,),
        refused=(sg.UnsupportedSyntaxError, "pass those values to it as arguments"),
    ),
    Case("adaptive_simpson_recursion", decay_integral_parameter_passed, (0.7,), order=2),
    Case("expm_linear_system", linear_system_expm, (0.3 * r(2, 2), r(2)), wrt=(0, 1), order=2),
    Case("enumerate_scalar_branch", enumerate_scalar_accumulate, (r(6), r(6)), wrt=(0, 1), order=2),
    Case(
        "dot_method_chain",
        dot_method_chain,
        (0.5 * r(2, 2), np.eye(2), 0.1 * np.eye(2)),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case("normalise_rows", normalise_rows, (r(4, 3),), order=2),
    Case("nan_masked_targets", nan_masked_loss, (r(2), r(6, 2), Y_NAN), order=2),
    Case(
        "interp_calibration",
        interp_calibration,
        (r(5), np.array([0.1, 0.33, 0.6, 0.95]), r(4)),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_solver(case):
    check(case)


# ------------------------------------------------------------------ the API on these programs


def test_scipy_minimize_with_sg_grad():
    """The README's way: jac=sg.grad(f); BFGS reaches Rosenbrock's minimum."""
    x0 = np.array([-1.2, 1.0, 0.5])
    res = minimize(rosenbrock, x0, jac=sg.grad(rosenbrock), method="BFGS", options={"gtol": 1e-10})
    np.testing.assert_allclose(res.x, np.ones(3), atol=1e-6)
    plain = minimize(rosenbrock, x0, method="BFGS")  # differences: more evaluations, same point
    assert res.nfev < plain.nfev


def test_scipy_newton_cg_with_hvp():
    """Newton-CG with sg.hvp takes SciPy's own steps with its hand-written Rosenbrock
    derivatives (from this start both reach the local minimum near x[0] = -0.78)."""
    from scipy.optimize import rosen_der, rosen_hess_prod

    x0 = np.array([-1.2, 1.0, 0.5, 0.2])
    hvp = sg.hvp(rosenbrock)
    options = {"xtol": 1e-12}
    ours = minimize(
        rosenbrock, x0, jac=sg.grad(rosenbrock), hessp=hvp, method="Newton-CG", options=options
    )
    theirs = minimize(
        rosenbrock, x0, jac=rosen_der, hessp=rosen_hess_prod, method="Newton-CG", options=options
    )
    np.testing.assert_allclose(ours.x, theirs.x, rtol=1e-8, atol=1e-10)
    assert np.max(np.abs(sg.grad(rosenbrock)(ours.x))) < 1e-6


def test_hessian_of_gp_likelihood_is_symmetric_and_matches_differences():
    from .test_tutorials_statistics import XG, YG, gp_nll_cholesky

    theta = np.array([-0.5, 0.1, -2.0])
    H = sg.hessian(gp_nll_cholesky)(theta, XG, YG)
    df = sg.grad(gp_nll_cholesky)
    eps = 1e-5
    cols = [
        (df(theta + eps * e, XG, YG) - df(theta - eps * e, XG, YG)) / (2 * eps) for e in np.eye(3)
    ]
    np.testing.assert_allclose(H, np.array(cols).T, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)


def test_jvp_of_an_ode_solution_matches_the_jacobian():
    y0 = np.array([1.0, 0.5])
    theta = np.array([2.0, 0.3])
    J = sg.jacobian(rk_final)(theta, y0)
    v = np.array([0.3, -0.7])
    value, tangent = sg.jvp(rk_final)(theta, y0, v)
    np.testing.assert_allclose(value, rk_final(theta, y0), rtol=1e-14)
    np.testing.assert_allclose(tangent, J @ v, rtol=1e-10, atol=1e-12)
    eps = 1e-6
    fd = (rk_final(theta + eps * v, y0) - rk_final(theta - eps * v, y0)) / (2 * eps)
    np.testing.assert_allclose(tangent, fd, rtol=1e-6, atol=1e-8)


def rk_final(theta, y0):
    y, h = y0, 0.1
    for _ in range(10):
        k1 = np.array([y[1], -theta[0] * y[0] - theta[1] * y[1]])
        mid = y + 0.5 * h * k1
        k2 = np.array([mid[1], -theta[0] * mid[0] - theta[1] * mid[1]])
        y = y + h * k2
    return y


def test_float32_inputs_keep_float32_gradients():
    from .test_tutorials_scientific import heat_periodic_roll

    u0 = R.standard_normal(10).astype(np.float32)
    g32 = sg.grad(heat_periodic_roll)(u0, np.float32(0.7))
    g64 = sg.grad(heat_periodic_roll)(u0.astype(np.float64), 0.7)
    for _ in range(2):  # the optimized code from the second call
        again = sg.grad(heat_periodic_roll)(u0, np.float32(0.7))
        assert again.dtype == np.float32
        np.testing.assert_array_equal(again, g32)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, g64, rtol=2e-4, atol=1e-4)
    value, _ = sg.value_and_grad(heat_periodic_roll)(u0, np.float32(0.7))
    assert value == heat_periodic_roll(u0, np.float32(0.7))


def accumulate_in_place(x):
    x = x.copy()  # (a write into the argument itself is refused)
    for i in range(1, x.size):
        x[i] += 0.5 * x[i - 1]
    return np.sum(x**2)


def test_gradcheck_of_a_function_writing_into_its_argument():
    """Regression: gradcheck's second-order check differentiated at the points its central
    differences had already changed in place (Python's `x[i] += ...` on the argument), and
    reported a wrong Hessian-vector product that was right. (A write into the argument
    itself is now refused, so the function writes into its own copy.)"""
    x = np.array([0.3, 0.8, 1.2, 1.7])
    sg.gradcheck(accumulate_in_place, x, order=2)
    np.testing.assert_array_equal(x, [0.3, 0.8, 1.2, 1.7])
    check(Case("accumulate_in_place", accumulate_in_place, (x,), order=2))
