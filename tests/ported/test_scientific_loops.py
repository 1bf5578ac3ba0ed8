"""Scientific loops as people write them: a fixed-step Runge-Kutta integration of
Lotka-Volterra under a ``while`` on the time, an adaptive step that halves or grows ``h``, a
Kalman filter's likelihood over a sequence, Sinkhorn iterations in the log domain, Newton's
square root with an early ``break``, a softplus network through ``np.logaddexp`` and a norm
penalty. Each against Python's value and central differences on repeated calls, to second
order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

logsumexp = pytest.importorskip("scipy.special", reason="Sinkhorn uses scipy").logsumexp
R = np.random.default_rng(21)


def r(*s):
    return R.standard_normal(s)


def rk4_step(f, y, t, h, theta):
    k1 = f(y, t, theta)
    k2 = f(y + 0.5 * h * k1, t + 0.5 * h, theta)
    k3 = f(y + 0.5 * h * k2, t + 0.5 * h, theta)
    k4 = f(y + h * k3, t + h, theta)
    return y + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


def lotka(y, t, theta):
    a, b, c, d = theta
    return np.array([a * y[0] - b * y[0] * y[1], -c * y[1] + d * y[0] * y[1]])


def ode_loss(theta, y0, target):
    y, t, h = y0, 0.0, 0.1
    while t < 1.0 - 1e-9:
        y = rk4_step(lotka, y, t, h, theta)
        t += h
    return np.sum((y - target) ** 2)


def adaptive(theta, y0):
    y, t, h = y0, 0.0, 0.05
    steps = 0
    while t < 1.0 and steps < 100:
        y_full = rk4_step(lotka, y, t, h, theta)
        y_half = rk4_step(lotka, rk4_step(lotka, y, t, h / 2, theta), t + h / 2, h / 2, theta)
        err = np.max(np.abs(y_full - y_half))
        if err < 1e-6:
            y, t = y_half, t + h
            h = min(h * 1.5, 1.0 - t) if t < 1.0 else h
        else:
            h = h / 2
        steps += 1
    return np.sum(y**2)


def kalman(params, ys):
    A, Q, R_ = params["A"], np.exp(params["logq"]) * np.eye(2), np.exp(params["logr"])
    H = np.array([[1.0, 0.0]])
    m, P = np.zeros(2), np.eye(2)
    ll = 0.0
    for y in ys:
        m = A @ m
        P = A @ P @ A.T + Q
        S = H @ P @ H.T + R_
        K = P @ H.T / S
        v = y - H @ m
        ll = ll - 0.5 * (np.log(2 * np.pi * S[0, 0]) + v[0] ** 2 / S[0, 0])
        m = m + K[:, 0] * v[0]
        P = (np.eye(2) - K @ H) @ P
    return -ll


def sinkhorn(logits, a, b, iters=20):
    f = np.zeros_like(a)
    g = np.zeros_like(b)
    for _ in range(iters):
        f = np.log(a) - logsumexp(logits + g[None, :], axis=1)
        g = np.log(b) - logsumexp(logits + f[:, None], axis=0)
    P = np.exp(logits + f[:, None] + g[None, :])
    return np.sum(P * logits)


def newton_sqrt(c):
    x = c
    for _ in range(30):
        x_new = 0.5 * (x + c / x)
        if np.all(np.abs(x_new - x) < 1e-12):
            x = x_new
            break
        x = x_new
    return np.sum(x)


def softplus_net(w, x):
    h = np.logaddexp(0.0, x @ w)
    return np.mean(h) + 0.5 * np.linalg.norm(w) ** 2


THETA, Y0 = np.array([1.1, 0.4, 0.4, 0.1]), np.array([1.0, 0.5])
CASES = [
    Case("ode", ode_loss, (THETA, Y0, np.array([0.8, 0.6])), order=2, rtol=1e-4),
    Case("adaptive", adaptive, (THETA, Y0), rtol=1e-4),
    Case(
        "kalman",
        kalman,
        ({"A": np.eye(2) * 0.9 + 0.05 * r(2, 2), "logq": -1.0, "logr": -0.5}, r(6, 1)),
        order=2,
    ),
    Case("sinkhorn", sinkhorn, (r(3, 4), np.full(3, 1 / 3), np.full(4, 0.25)), order=2),
    Case("newton_sqrt", newton_sqrt, (np.array([2.0, 3.0, 0.5]),), order=2),
    Case("softplus", softplus_net, (r(3, 2), r(5, 3)), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_scientific_loop(case):
    check(case)
