"""More scientific programs in their authors' forms: a neural ODE whose vector field is a
method of a class and whose integrator loops ``for t0, t1 in zip(ts[:-1], ts[1:])``, a heat
equation updated in place by ``u[1:-1] += ...``, a leapfrog wave equation rotating
``u_prev, u = u, u_next``, a mass-spring network over an edge list of index pairs, forces
gathered by ``np.add.at``, a multi-camera bundle adjustment unpacking one parameter vector
by ``reshape``, quaternion rotations, a Riccati recursion collecting gains with
``Ks.insert(0, K)`` then rolled out, a Kalman filter by Cholesky and ``scipy.linalg``'s
triangular solves, a Bernstein-basis Bezier with ``math.comb``, a Cox-de Boor B-spline
recursion, an RBM free energy with ``np.logaddexp``, a deep-equilibrium fixed point found by
``while (err := ...) > tol``, and a Newton iteration for a root. Each against Python's value
and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(6150)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ ODEs and PDEs


class ODEFunc:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def __call__(self, t, y):
        return np.tanh(self.W @ y + self.b) - 0.1 * t * y


def odeint_rk4(func, y0, ts):
    ys = [y0]
    y = y0
    for t0, t1 in zip(ts[:-1], ts[1:]):
        h = t1 - t0
        k1 = func(t0, y)
        k2 = func(t0 + h / 2, y + h * k1 / 2)
        k3 = func(t0 + h / 2, y + h * k2 / 2)
        k4 = func(t1, y + h * k3)
        y = y + h * (k1 + 2 * k2 + 2 * k3 + k4) / 6
        ys.append(y)
    return np.stack(ys)


def neural_ode_loss(func, y0, target):
    ts = np.linspace(0.0, 1.0, 5)
    traj = odeint_rk4(func, y0, ts)
    return np.mean((traj[-1] - target) ** 2) + 0.01 * np.sum(traj**2)


def heat_in_place(u0, nu, steps=4, dt=0.1):
    u = u0.copy()
    for _ in range(steps):
        u[1:-1] += nu * dt * (u[2:] - 2 * u[1:-1] + u[:-2])
    return np.sum(u**2)


def wave_leapfrog(u0, c=0.5, steps=5):
    u_prev = u0.copy()
    u = u0.copy()
    for _ in range(steps):
        lap = np.zeros_like(u)
        lap[1:-1] = u[2:] - 2 * u[1:-1] + u[:-2]
        u_next = 2 * u - u_prev + c**2 * lap
        u_prev, u = u, u_next
    return np.sum(u * np.linspace(0, 1, len(u)))


# ------------------------------------------------------------------ networks of particles


EDGES = [(0, 1), (1, 2), (2, 3), (3, 0), (0, 2)]


def spring_network(x, k=1.0, rest=1.0):
    energy = 0.0
    for i, j in EDGES:
        d = np.linalg.norm(x[i] - x[j])
        energy += 0.5 * k * (d - rest) ** 2
    return energy


def gathered_forces(x, k=1.0):
    i, j = np.array(EDGES).T
    d = x[i] - x[j]
    forces = np.zeros_like(x)
    np.add.at(forces, i, -k * d)
    np.add.at(forces, j, k * d)
    return np.sum(forces**2)


def project(points, cam):
    rvec, t, f = cam[:3], cam[3:6], cam[6]
    theta = np.sqrt(np.sum(rvec**2))
    k = rvec / theta
    cos, sin = np.cos(theta), np.sin(theta)
    dot = points @ k
    rotated = cos * points + sin * np.cross(k, points) + (1 - cos) * dot[:, None] * k
    p = rotated + t
    return f * p[:, :2] / p[:, 2, None]


def bundle_adjustment(params, n_cameras, n_points, cam_idx, pt_idx, observed):
    cams = params[: n_cameras * 7].reshape((n_cameras, 7))
    points = params[n_cameras * 7 :].reshape((n_points, 3))
    residuals = []
    for c in range(n_cameras):
        sel = cam_idx == c
        residuals.append(project(points[pt_idx[sel]], cams[c]) - observed[sel])
    res = np.concatenate(residuals).ravel()
    return 0.5 * np.dot(res, res)


def quat_rotate(q, v):
    q = q / np.linalg.norm(q)
    w, x, y, z = q
    Rm = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
    return v @ Rm.T


def quaternion_alignment(q, src, dst):
    return np.sum((quat_rotate(q, src) - dst) ** 2)


# ------------------------------------------------------------------ control and filtering


def riccati_lqr(A, B, x0, T=5):
    n, m = B.shape
    Q, Rm = np.eye(n), 0.5 * np.eye(m)
    P = Q
    Ks = []
    for _ in range(T):
        K = np.linalg.solve(Rm + B.T @ P @ B, B.T @ P @ A)
        P = Q + A.T @ P @ (A - B @ K)
        Ks.insert(0, K)
    x, cost = x0, 0.0
    for K in Ks:
        u = -K @ x
        cost += x @ Q @ x + u @ Rm @ u
        x = A @ x + B @ u
    return cost


def kalman_cholesky(params, ys):
    import scipy.linalg

    F = np.array([[1.0, 1.0], [0.0, 1.0]])
    H = np.array([[1.0, 0.0]])
    Q = np.exp(params["log_q"]) * np.eye(2)
    Rn = np.exp(params["log_r"]) * np.eye(1)
    m, P = params["m0"], np.eye(2)
    nll = 0.0
    for y in ys:
        m, P = F @ m, F @ P @ F.T + Q
        S = H @ P @ H.T + Rn
        L = np.linalg.cholesky(S)
        v = y - H @ m
        z = scipy.linalg.solve_triangular(L, v, lower=True)
        nll += 0.5 * z @ z + np.sum(np.log(np.diag(L))) + 0.5 * len(y) * np.log(2 * np.pi)
        K = scipy.linalg.cho_solve((L, True), H @ P).T
        m, P = m + K @ v, P - K @ S @ K.T
    return nll


# ------------------------------------------------------------------ curves


def bernstein_bezier(P, ts, targets):
    n = len(P) - 1
    loss = 0.0
    for t, target in zip(ts, targets):
        point = sum(math.comb(n, i) * t**i * (1 - t) ** (n - i) * P[i] for i in range(n + 1))
        loss += np.sum((point - target) ** 2)
    return loss


def cox_de_boor(t, i, k, knots):
    if k == 0:
        return 1.0 if knots[i] <= t < knots[i + 1] else 0.0
    left = 0.0
    if knots[i + k] != knots[i]:
        left = (t - knots[i]) / (knots[i + k] - knots[i]) * cox_de_boor(t, i, k - 1, knots)
    right = 0.0
    if knots[i + k + 1] != knots[i + 1]:
        right = (
            (knots[i + k + 1] - t)
            / (knots[i + k + 1] - knots[i + 1])
            * cox_de_boor(t, i + 1, k - 1, knots)
        )
    return left + right


def bspline_fit(ctrl, samples, degree=2):
    n = len(ctrl)
    knots = [0.0] * degree + list(np.linspace(0, 1, n - degree + 1)) + [1.0] * degree
    loss = 0.0
    for s, target in zip(np.linspace(0.05, 0.95, len(samples)), samples):
        point = sum(cox_de_boor(s, i, degree, knots) * ctrl[i] for i in range(n))
        loss += np.sum((point - target) ** 2)
    return loss


# ------------------------------------------------------------------ energies and fixed points


def rbm_free_energy(params, v):
    W, b, c = params["W"], params["b"], params["c"]
    vbias = v @ b
    hidden = np.sum(np.logaddexp(0, v @ W + c), axis=1)
    return np.mean(-vbias - hidden)


def deq_fixed_point(W, U, x, tol=1e-10, max_iter=200):
    z = np.zeros(W.shape[0])
    it = 0
    while (err := np.max(np.abs(np.tanh(W @ z + U @ x) - z))) > tol and it < max_iter:
        z = np.tanh(W @ z + U @ x)
        it += 1
    return np.sum(z**2) + err


def newton_cube_root(a, iters=6):
    x = 1.0
    for _ in range(iters):
        x = x - (x**3 - a) / (3 * x**2)
    return x


def matmul_chain(mats, v):
    M = functools.reduce(np.matmul, mats)
    return np.sum(np.tanh(M @ v))


CAM_IDX = np.array([0, 0, 0, 1, 1, 1])
PT_IDX = np.array([0, 1, 2, 1, 2, 3])
CAMS = np.array([[0.1, 0.2, -0.1, 0.0, 0.1, 0.0, 1.0], [-0.2, 0.1, 0.05, 0.2, 0.0, 0.1, 1.2]])
POINTS = 0.3 * r(4, 3) + np.array([0.0, 0.0, 5.0])
BA = np.concatenate([CAMS.ravel(), POINTS.ravel()])
SQUARE = np.array([[0.0, 0.0], [1.1, 0.0], [1.0, 0.9], [0.1, 1.0]])
A2 = np.array([[1.0, 0.2], [0.0, 1.0]])
B2 = np.array([[0.0], [0.2]])

CASES = [
    Case("neural_ode", neural_ode_loss, (ODEFunc(0.5 * r(3, 3), r(3)), r(3), r(3)), order=2),
    Case("neural_ode_initial", neural_ode_loss, (ODEFunc(0.5 * r(3, 3), r(3)), r(3), r(3)), wrt=1),
    Case("heat_in_place", heat_in_place, (r(7), 0.4), wrt=(0, 1), order=2),
    Case("wave_leapfrog", wave_leapfrog, (r(7),), order=2),
    Case("spring_network", spring_network, (SQUARE + 0.1 * r(4, 2),), order=2),
    Case("gathered_forces", gathered_forces, (r(4, 2),), order=2),
    Case(
        "bundle_adjustment",
        bundle_adjustment,
        (BA, 2, 4, CAM_IDX, PT_IDX, 0.05 * r(6, 2)),
        order=2,
    ),
    Case("quaternion_alignment", quaternion_alignment, (r(4), r(5, 3), r(5, 3)), order=2),
    Case("riccati_lqr", riccati_lqr, (A2, B2, r(2)), wrt=(0, 1), order=2),
    Case(
        "kalman_cholesky",
        kalman_cholesky,
        ({"log_q": -1.0, "log_r": -0.5, "m0": r(2)}, list(r(4, 1))),
        order=2,
    ),
    Case(
        "bernstein_bezier",
        bernstein_bezier,
        (r(4, 2), [0.1, 0.4, 0.6, 0.9], list(r(4, 2))),
        order=2,
    ),
    Case("bspline_cox_de_boor", bspline_fit, (r(5, 2), r(4, 2)), order=2),
    Case(
        "rbm_free_energy",
        rbm_free_energy,
        ({"W": r(4, 3), "b": r(4), "c": r(3)}, (R.uniform(size=(5, 4)) > 0.5).astype(float)),
        order=2,
    ),
    Case("deq_fixed_point", deq_fixed_point, (0.3 * r(3, 3), r(3, 2), r(2)), wrt=(0, 1)),
    Case("newton_cube_root", newton_cube_root, (2.5,), order=2),
    Case("matmul_chain_reduce", matmul_chain, ([r(3, 3), r(3, 3), r(3, 2)], r(2)), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_scientific_programs(case):
    check(case)
