"""Reinforcement-learning objectives and numerical routines as they are written from scratch:
GAE computed backwards over a trajectory, PPO's clipped surrogate, an actor-critic loss with an
entropy bonus, a TD loss against a target network, soft Q-learning's log-sum-exp backup;
Newton's method for a root differentiated through its iterations, Armijo backtracking in a
``while`` loop, power iteration, conjugate gradients, Jacobi sweeps, Simpson and
Gauss-Legendre quadrature, an adaptive Runge-Kutta-Fehlberg step with error control, a
fixed-point (implicit) layer iterated to tolerance, an eight-schools non-centred log joint,
Student-t and Dirichlet log-densities. Each against Python's value and central differences on
calls 1-3, to second order where smooth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import gammaln

from .harness import Case, check, params

R = np.random.default_rng(6305)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ reinforcement learning


def gae_advantages(values, rewards, dones, gamma=0.99, lam=0.95):
    T = len(rewards)
    adv = np.zeros(T)
    last = 0.0
    for t in reversed(range(T)):
        next_value = values[t + 1] * (1.0 - dones[t])
        delta = rewards[t] + gamma * next_value - values[t]
        last = delta + gamma * lam * (1.0 - dones[t]) * last
        adv[t] = last
    return adv


def critic_loss(values, rewards, dones):
    adv = gae_advantages(values, rewards, dones)
    returns = adv + values[:-1]
    return np.mean((returns - values[:-1]) ** 2) + 0.1 * np.sum(adv**2)


def ppo_clip(theta, states, actions, old_logp, advantages, eps=0.2):
    logits = states @ theta
    logits = logits - logits.max(axis=1, keepdims=True)
    logp_all = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    logp = logp_all[np.arange(len(actions)), actions]
    ratio = np.exp(logp - old_logp)
    surr1 = ratio * advantages
    surr2 = np.clip(ratio, 1 - eps, 1 + eps) * advantages
    return -np.mean(np.minimum(surr1, surr2))


def actor_critic(params, states, actions, returns, beta=0.01):
    h = np.tanh(states @ params["W"])
    logits = h @ params["pi"]
    values = h @ params["v"]
    z = logits - logits.max(axis=1, keepdims=True)
    logp_all = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    probs = np.exp(logp_all)
    entropy = -np.sum(probs * logp_all, axis=1)
    adv = returns - values
    logp = logp_all[np.arange(len(actions)), actions]
    policy_loss = -np.mean(logp * adv)  # the advantage is differentiated as written
    return policy_loss + 0.5 * np.mean(adv**2) - beta * np.mean(entropy)


def td_loss(W, W_target, s, a, rew, s_next, done, gamma=0.9):
    q = s @ W
    q_next = s_next @ W_target
    target = rew + gamma * (1 - done) * q_next.max(axis=1)
    q_sa = q[np.arange(len(a)), a]
    return np.mean((q_sa - target) ** 2)


def soft_q_backup(W, s, a, rew, s_next, alpha=0.5, gamma=0.9):
    q_next = s_next @ W
    v_next = alpha * np.log(np.sum(np.exp(q_next / alpha), axis=1))
    q_sa = np.sum((s @ W) * np.eye(W.shape[1])[a], axis=1)
    return 0.5 * np.sum((q_sa - (rew + gamma * v_next)) ** 2)


# ------------------------------------------------------------------ iterative numerics


def newton_root(c, x0=1.0, tol=1e-12, max_iter=50):
    # the root of x**3 + c[0] * x - c[1], differentiated through the iterations
    x = x0
    for _ in range(max_iter):
        fx = x**3 + c[0] * x - c[1]
        step = fx / (3 * x**2 + c[0])
        x = x - step
        if abs(step) < tol:
            break
    return x


def armijo_descent(w, A, b, iters=5):
    def f(v):
        return 0.5 * v @ A @ v - b @ v

    x = np.zeros_like(b)
    for _ in range(iters):
        g = A @ x - b
        t = 1.0
        while f(x - t * g) > f(x) - 0.5 * t * (g @ g):
            t *= 0.5
        x = x - t * g
    return np.sum((x - w) ** 2)


def power_iteration(A, iters=60):
    v = np.ones(A.shape[0]) / np.sqrt(A.shape[0])
    for _ in range(iters):
        v = A @ v
        v = v / np.linalg.norm(v)
    return v @ A @ v


def conjugate_gradient(A, b, tol=1e-10):
    x = np.zeros_like(b)
    r_ = b - A @ x
    p = r_.copy()
    rs = r_ @ r_
    for _ in range(len(b)):
        Ap = A @ p
        alpha = rs / (p @ Ap)
        x = x + alpha * p
        r_ = r_ - alpha * Ap
        rs_new = r_ @ r_
        if np.sqrt(rs_new) < tol:
            break
        p = r_ + (rs_new / rs) * p
        rs = rs_new
    return np.sum(x**2)


def jacobi_sweeps(A, b, sweeps=40):
    D = np.diag(A)
    off = A - np.diag(D)
    x = np.zeros_like(b)
    for _ in range(sweeps):
        x = (b - off @ x) / D
    return np.sum(np.sin(x))


def simpson(theta, a=0.0, b=2.0, n=20):
    h = (b - a) / n
    total = 0.0
    for i in range(n + 1):
        x = a + i * h
        fx = np.exp(-theta[0] * x) * np.cos(theta[1] * x)
        if i == 0 or i == n:
            total += fx
        elif i % 2 == 1:
            total += 4 * fx
        else:
            total += 2 * fx
    return total * h / 3


def gauss_legendre(theta, deg=8):
    nodes, weights = np.polynomial.legendre.leggauss(deg)
    x = 0.5 * (nodes + 1.0)  # [0, 1]
    integrand = 1.0 / (1.0 + theta[0] * x**2) + np.sin(theta[1] * x)
    return 0.5 * np.sum(weights * integrand)


def rkf45(k, y0=1.0, t_end=2.0, tol=1e-6):
    def f(t, y):
        return -k[0] * y + k[1] * np.sin(t)

    t, y, h = 0.0, y0, 0.1
    while t < t_end:
        h = min(h, t_end - t)
        k1 = h * f(t, y)
        k2 = h * f(t + h / 4, y + k1 / 4)
        k3 = h * f(t + 3 * h / 8, y + 3 * k1 / 32 + 9 * k2 / 32)
        k4 = h * f(t + 12 * h / 13, y + 1932 * k1 / 2197 - 7200 * k2 / 2197 + 7296 * k3 / 2197)
        k5 = h * f(t + h, y + 439 * k1 / 216 - 8 * k2 + 3680 * k3 / 513 - 845 * k4 / 4104)
        k6 = h * f(
            t + h / 2,
            y - 8 * k1 / 27 + 2 * k2 - 3544 * k3 / 2565 + 1859 * k4 / 4104 - 11 * k5 / 40,
        )
        y4 = y + 25 * k1 / 216 + 1408 * k3 / 2565 + 2197 * k4 / 4104 - k5 / 5
        y5 = y + 16 * k1 / 135 + 6656 * k3 / 12825 + 28561 * k4 / 56430 - 9 * k5 / 50 + 2 * k6 / 55
        err = abs(float(y5 - y4))
        if err <= tol:
            t, y = t + h, y4
        h = 0.9 * h * (tol / max(err, 1e-16)) ** 0.2
    return y


def fixed_point_layer(W, x, tol=1e-10, max_iter=200):
    z = np.zeros(W.shape[0])
    for _ in range(max_iter):
        z_next = np.tanh(W @ z + x)
        if np.linalg.norm(z_next - z) < tol:
            z = z_next
            break
        z = z_next
    return np.sum(z**2)


# ------------------------------------------------------------------ densities


def eight_schools_noncentered(params, y, sigma):
    mu, log_tau = params[0], params[1]
    eta = params[2:]
    tau = np.exp(log_tau)
    theta = mu + tau * eta
    log_lik = -0.5 * np.sum(((y - theta) / sigma) ** 2)
    log_prior = -0.5 * np.sum(eta**2) - 0.5 * (mu / 5) ** 2 - 0.5 * (tau / 5) ** 2 + log_tau
    return -(log_lik + log_prior)


def student_t_nll(params, x):
    loc, log_scale, log_df = params
    scale, df = np.exp(log_scale), np.exp(log_df)
    z = (x - loc) / scale
    logp = (
        gammaln((df + 1) / 2)
        - gammaln(df / 2)
        - 0.5 * np.log(df * math.pi)
        - np.log(scale)
        - (df + 1) / 2 * np.log1p(z**2 / df)
    )
    return -np.sum(logp)


def dirichlet_nll(log_alpha, P):
    alpha = np.exp(log_alpha)
    log_norm = np.sum(gammaln(alpha)) - gammaln(np.sum(alpha))
    return -np.sum((alpha - 1) * np.log(P).sum(axis=0)) + len(P) * log_norm


# ------------------------------------------------------------------ data

T8 = 8
VALS = r(T8 + 1)
REW = r(T8)
DONES = np.array([0, 0, 0, 1, 0, 0, 0, 0], dtype=float)
ST = r(6, 3)
ACT = np.array([0, 2, 1, 1, 0, 2])
ADV = r(6)
OLD = np.log(np.full(6, 1 / 3)) + 0.1 * r(6)
AC = {"W": 0.5 * r(3, 4), "pi": 0.5 * r(4, 3), "v": 0.5 * r(4)}
_Q = r(4, 4)
SPD4 = _Q @ _Q.T + 4 * np.eye(4)
DD4 = SPD4 + 6 * np.eye(4)
Y8 = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
S8 = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
P_DIR = R.dirichlet([2.0, 3.0, 4.0], size=6)


CASES = [
    Case("gae_reversed_loop", critic_loss, (VALS, REW, DONES), order=2),
    Case("gae_jacobian", gae_advantages, (VALS, REW, DONES), kind="jac"),
    Case("ppo_clipped_surrogate", ppo_clip, (0.3 * r(3, 3), ST, ACT, OLD, ADV)),
    Case("actor_critic_entropy", actor_critic, (AC, ST, ACT, r(6)), order=2),
    Case(
        "td_loss_target_network",
        td_loss,
        (r(3, 3), r(3, 3), ST, ACT, r(6), ST[::-1], np.array([0, 0, 1, 0, 0, 1.0])),
        wrt=(0, 1),
        order=2,
    ),
    Case("soft_q_backup", soft_q_backup, (r(3, 3), ST, ACT, r(6), ST[::-1]), order=2),
    Case("newton_root_through_iterations", newton_root, (np.array([2.0, 5.0]),), order=2),
    Case("armijo_backtracking_while", armijo_descent, (r(4), SPD4, r(4)), wrt=(0, 1, 2)),
    Case("power_iteration", power_iteration, (SPD4,), rtol=1e-4, atol=1e-5),
    Case("conjugate_gradient_break", conjugate_gradient, (SPD4, r(4)), wrt=(0, 1), rtol=1e-4),
    Case("jacobi_sweeps", jacobi_sweeps, (DD4, r(4)), wrt=(0, 1), order=2),
    Case("simpson_rule_branches", simpson, (np.array([0.7, 1.3]),), order=2),
    Case("gauss_legendre_nodes", gauss_legendre, (np.array([0.7, 1.3]),), order=2),
    Case("rkf45_adaptive_while", rkf45, (np.array([0.8, 0.5]),), rtol=1e-4, atol=1e-6),
    Case("fixed_point_layer", fixed_point_layer, (0.3 * r(4, 4), r(4)), wrt=(0, 1), rtol=1e-4),
    Case(
        "eight_schools_noncentered",
        eight_schools_noncentered,
        (np.concatenate([[4.0, 1.0], r(8)]), Y8, S8),
        order=2,
    ),
    Case("student_t_nll", student_t_nll, (np.array([0.1, 0.2, 1.5]), r(10)), order=2),
    Case("dirichlet_nll", dirichlet_nll, (np.array([0.5, 1.0, 1.2]), P_DIR), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_rl_and_numerics(case):
    check(case)
