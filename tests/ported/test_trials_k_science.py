"""Scientific code as its authors write it: ODE integrators as classes (explicit Euler with
a ``step`` method and a ``solve`` loop over Lotka-Volterra, RK4 handed the right-hand side, a
velocity-Verlet integrator with a nested force, a Heun scheme over a dict of parameters),
Kalman filters (a class with ``predict``/``update`` and the log likelihood, a scalar filter's
smoothness loss), Gaussian processes by Cholesky solves (the marginal likelihood in the log
length-scale, amplitude and noise and in the inputs, with ``np.linalg`` and with
``scipy.linalg.cho_factor``/``cho_solve``, the predictive mean by ``solve_triangular``) and
optimal transport by Sinkhorn loops (plain and in the log domain). Each against Python's
value and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

from .harness import Case, check, params

R = np.random.default_rng(31337)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ ODE integrators


class Euler:
    def __init__(self, f, dt):
        self.f = f
        self.dt = dt

    def step(self, t, y, theta):
        return y + self.dt * self.f(t, y, theta)

    def solve(self, y0, theta, n):
        y, t = y0, 0.0
        for _ in range(n):
            y = self.step(t, y, theta)
            t += self.dt
        return y


def lotka_volterra(t, y, theta):
    a, b, c, d = theta
    prey, pred = y[0], y[1]
    return np.array([a * prey - b * prey * pred, -c * pred + d * prey * pred])


def euler_lotka_volterra(theta, y0):
    sol = Euler(lotka_volterra, 0.05).solve(y0, theta, 8)
    return np.sum((sol - np.array([1.0, 0.5])) ** 2)


class RK4:
    def __init__(self, dt):
        self.dt = dt

    def step(self, f, y, k):
        h = self.dt
        k1 = f(y, k)
        k2 = f(y + 0.5 * h * k1, k)
        k3 = f(y + 0.5 * h * k2, k)
        k4 = f(y + h * k3, k)
        return y + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


def damped_oscillator(y, k):
    return np.array([y[1], -k[0] * y[0] - k[1] * y[1]])


def rk4_oscillator(k, y0):
    solver = RK4(0.1)
    y = y0
    traj = []
    for _ in range(6):
        y = solver.step(damped_oscillator, y, k)
        traj.append(y[0])
    return np.sum(np.array(traj) ** 2)


def verlet(m, q0, p0, dt=0.05, n=4):
    def force(q):
        return -m * q**3

    q, p = q0, p0
    a = force(q)
    for _ in range(n):
        q = q + dt * p + 0.5 * dt**2 * a
        a_new = force(q)
        p = p + 0.5 * dt * (a + a_new)
        a = a_new
    return np.sum(q**2 + p**2)


def heun_dict(params, y0):
    def rhs(y):
        return -params["k"] * y + params["c"] * np.sin(y)

    y = y0
    for _ in range(5):
        f0 = rhs(y)
        y_pred = y + 0.1 * f0
        y = y + 0.05 * (f0 + rhs(y_pred))
    return np.sum(y**2)


# ------------------------------------------------------------------ Kalman filters


class KalmanFilter:
    def __init__(self, F, H, Q, Rn):
        self.F, self.H, self.Q, self.R = F, H, Q, Rn

    def predict(self, x, P):
        return self.F @ x, self.F @ P @ self.F.T + self.Q

    def update(self, x, P, z):
        y = z - self.H @ x
        S = self.H @ P @ self.H.T + self.R
        K = P @ self.H.T @ np.linalg.inv(S)
        x = x + K @ y
        P = (np.eye(len(x)) - K @ self.H) @ P
        ll = -0.5 * (y @ np.linalg.solve(S, y) + np.linalg.slogdet(S)[1])
        return x, P, ll


def kalman_class_loglik(log_q, zs):
    F = np.array([[1.0, 0.1], [0.0, 1.0]])
    H = np.array([[1.0, 0.0]])
    kf = KalmanFilter(F, H, np.exp(log_q) * np.eye(2), np.array([[0.2]]))
    x, P = np.zeros(2), np.eye(2)
    total = 0.0
    for z in zs:
        x, P = kf.predict(x, P)
        x, P, ll = kf.update(x, P, z)
        total = total + ll
    return -total


def kalman_smoothing_loss(zs, q):
    x, P = 0.0, 1.0
    means = []
    for z in zs:
        P = P + q
        K = P / (P + 0.5)
        x = x + K * (z - x)
        P = (1 - K) * P
        means.append(x)
    return np.sum(np.diff(np.array(means)) ** 2)


# ------------------------------------------------------------------ Gaussian processes


def rbf(X1, X2, ell, sf):
    d2 = np.sum((X1[:, None, :] - X2[None, :, :]) ** 2, axis=-1)
    return sf**2 * np.exp(-0.5 * d2 / ell**2)


def gp_neg_log_marginal(log_params, X, y):
    ell, sf, sn = np.exp(log_params)
    K = rbf(X, X, ell, sf) + (sn**2 + 1e-8) * np.eye(len(X))
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(L))) + 0.5 * len(X) * np.log(2 * np.pi)


def gp_scipy_cho(log_params, X, y):
    ell, sf, sn = np.exp(log_params)
    K = rbf(X, X, ell, sf) + sn**2 * np.eye(len(X))
    c, low = sla.cho_factor(K, lower=True)
    alpha = sla.cho_solve((c, low), y)
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(c)))


def gp_predictive_mean(Xs, X, y):
    K = rbf(X, X, 0.8, 1.0) + 0.1 * np.eye(len(X))
    L = np.linalg.cholesky(K)
    v = sla.solve_triangular(L, y, lower=True)
    alpha = sla.solve_triangular(L.T, v, lower=False)
    mu = rbf(Xs, X, 0.8, 1.0) @ alpha
    return np.sum(mu**2)


# ------------------------------------------------------------------ optimal transport


def sinkhorn(C, a, b, eps=0.5, n_iter=20):
    K = np.exp(-C / eps)
    u = np.ones_like(a)
    for _ in range(n_iter):
        v = b / (K.T @ u)
        u = a / (K @ v)
    P = u[:, None] * K * v[None, :]
    return np.sum(P * C)


def sinkhorn_points(x, y):
    C = (x[:, None] - y[None, :]) ** 2
    a = np.full(len(x), 1.0 / len(x))
    b = np.full(len(y), 1.0 / len(y))
    return sinkhorn(C, a, b)


def logsumexp_rows(M):
    m = np.max(M, axis=1, keepdims=True)
    return m[:, 0] + np.log(np.sum(np.exp(M - m), axis=1))


def sinkhorn_log(x, y, eps=0.3):
    C = np.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1)
    log_a = -np.log(len(x)) * np.ones(len(x))
    log_b = -np.log(len(y)) * np.ones(len(y))
    f, g = np.zeros(len(x)), np.zeros(len(y))
    for _ in range(15):
        f = eps * log_a - eps * logsumexp_rows((g[None, :] - C) / eps)
        g = eps * log_b - eps * logsumexp_rows((f[:, None] - C).T / eps)
    return np.sum(np.exp((f[:, None] + g[None, :] - C) / eps) * C)


XG = np.linspace(-1.0, 1.0, 5)[:, None]
YG = np.sin(2.0 * XG[:, 0]) + 0.1 * r(5)

CASES = [
    Case(
        "euler_lotka_volterra",
        euler_lotka_volterra,
        (np.array([1.0, 0.4, 0.8, 0.3]), np.array([1.2, 0.6])),
        wrt=(0, 1),
        order=2,
    ),
    Case("rk4_oscillator", rk4_oscillator, (np.array([2.0, 0.3]), np.array([1.0, 0.0])), order=2),
    Case("verlet", verlet, (1.3, r(2), r(2)), wrt=(0, 1, 2), order=2),
    Case("heun_dict", heun_dict, ({"k": 0.7, "c": 0.3}, r(3)), wrt=(0, 1)),
    Case("kalman_class_loglik", kalman_class_loglik, (-1.0, [r(1) for _ in range(3)])),
    Case("kalman_smoothing", kalman_smoothing_loss, (r(5), 0.3), wrt=(0, 1), order=2),
    Case("gp_nlml", gp_neg_log_marginal, (np.log([0.7, 1.1, 0.3]), XG, YG), order=2),
    Case("gp_nlml_inputs", gp_neg_log_marginal, (np.log([0.7, 1.1, 0.3]), XG, YG), wrt=1),
    Case("gp_scipy_cho", gp_scipy_cho, (np.log([0.7, 1.1, 0.3]), XG, YG), wrt=(0, 2)),
    Case("gp_predictive_mean", gp_predictive_mean, (r(2, 1), XG, YG), wrt=(0, 2), order=2),
    Case("sinkhorn_points", sinkhorn_points, (r(3), r(4)), wrt=(0, 1), rtol=1e-4),
    Case("sinkhorn_log", sinkhorn_log, (r(3, 2), r(3, 2)), wrt=(0, 1), rtol=1e-4),
]


@pytest.mark.parametrize("case", params(CASES))
def test_science(case):
    check(case)
