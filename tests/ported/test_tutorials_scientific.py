"""Simulation code as scientists write it: explicit Euler and RK4 under ``while t < T``,
velocity Verlet and leapfrog with preallocated trajectories (``X[i + 1] = ...``), an embedded
Heun-Euler pair whose step grows or shrinks on ``if err < tol``, a shooting problem, grids
advanced by ``np.roll`` stencils and by slices with boundary values written in place
(``u[0] = u[-2]``), a 1-D finite-element stiffness matrix assembled by ``K[i:i+2, i:i+2] +=``
and solved, inverse kinematics through ``sg.jacobian``. Each against Python's value and central
differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(20261206)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ ODE integrators


def damped_oscillator_euler(k, c, x0):
    """Explicit Euler on x'' = -k x - c x' with the state as two floats."""
    x, v = x0, 0.0
    t, dt, T = 0.0, 0.01, 1.0
    while t < T:
        a = -k * x - c * v
        x = x + dt * v
        v = v + dt * a
        t = t + dt
    return x**2 + v**2


def pendulum_rhs(state, g_over_l):
    theta, omega = state
    return np.array([omega, -g_over_l * np.sin(theta)])


def pendulum_rk4(g_over_l, state0, target):
    state = state0.copy()
    h, n_steps = 0.05, 20
    for _ in range(n_steps):
        k1 = pendulum_rhs(state, g_over_l)
        k2 = pendulum_rhs(state + h / 2 * k1, g_over_l)
        k3 = pendulum_rhs(state + h / 2 * k2, g_over_l)
        k4 = pendulum_rhs(state + h * k3, g_over_l)
        state = state + h * (k1 + 2 * k2 + 2 * k3 + k4) / 6
    return np.sum((state - target) ** 2)


def sir_euler(beta, gamma, i_obs):
    """SIR epidemic, daily Euler steps, squared error against observed infections."""
    S, Inf, Rc = 0.99, 0.01, 0.0
    loss = 0.0
    for day in range(len(i_obs)):
        new_inf = beta * S * Inf
        new_rec = gamma * Inf
        S, Inf, Rc = S - new_inf, Inf + new_inf - new_rec, Rc + new_rec
        loss += (Inf - i_obs[day]) ** 2
    return loss


def verlet_gravity(q0, p0, mass):
    """Velocity Verlet for a planet around a fixed sun (GM = 1), trajectory kept in an array;
    returns the energy drift plus the final radius."""
    dt, n = 0.05, 30
    X = np.zeros((n + 1, 2))
    X[0] = q0
    v = p0 / mass
    a = -q0 / np.linalg.norm(q0) ** 3
    for i in range(n):
        X[i + 1] = X[i] + v * dt + 0.5 * a * dt**2
        a_new = -X[i + 1] / np.linalg.norm(X[i + 1]) ** 3
        v = v + 0.5 * (a + a_new) * dt
        a = a_new
    e0 = 0.5 * mass * np.sum((p0 / mass) ** 2) - mass / np.linalg.norm(q0)
    e1 = 0.5 * mass * np.sum(v**2) - mass / np.linalg.norm(X[-1])
    return (e1 - e0) ** 2 + np.linalg.norm(X[-1]) + 0.1 * np.sum(X[:, 0])


def pair_forces(x, soft):
    diff = x[:, None, :] - x[None, :, :]
    r2 = np.sum(diff**2, axis=-1) + soft**2
    inv_r3 = r2**-1.5
    return -np.sum(diff * inv_r3[:, :, None], axis=1)


def nbody_leapfrog(x0, v0, soft):
    x, v = x0, v0
    dt, t, T = 0.02, 0.0, 0.2
    v = v + 0.5 * dt * pair_forces(x, soft)
    while t < T - 1e-12:
        x = x + dt * v
        v = v + dt * pair_forces(x, soft)
        t += dt
    v = v - 0.5 * dt * pair_forces(x, soft)
    kinetic = 0.5 * np.sum(v**2)
    return kinetic + np.sum(x[0] * x[1])


def heun_euler_adaptive(k, y0):
    """Embedded Heun-Euler pair: the step is accepted if err < tol and rescaled each time."""
    t, y, h, tol = 0.0, y0, 0.1, 1e-4
    n_accepted = 0
    while t < 1.0:
        if t + h > 1.0:
            h = 1.0 - t
        f0 = -k * y + np.sin(t)
        y_euler = y + h * f0
        f1 = -k * y_euler + np.sin(t + h)
        y_heun = y + 0.5 * h * (f0 + f1)
        err = abs(y_heun - y_euler)
        if err < tol:
            t = t + h
            y = y_heun
            n_accepted += 1
        h = 0.9 * h * min(2.0, max(0.2, math.sqrt(tol / max(err, 1e-14))))
    return y


def projectile_range(angle, speed, drag):
    """Euler with drag until the projectile lands: the trip count depends on the state."""
    x, y = 0.0, 0.0
    vx, vy = speed * np.cos(angle), speed * np.sin(angle)
    dt = 0.01
    while y >= 0.0:
        v = np.sqrt(vx**2 + vy**2)
        vx = vx - dt * drag * v * vx
        vy = vy - dt * (9.81 + drag * v * vy)
        x = x + dt * vx
        y = y + dt * vy
    return x


def shooting_miss(v0, k):
    """Shooting for y'' = -k y with y(0) = 0: the miss at t = 1 for an initial slope v0."""
    y, yp = 0.0, v0
    n = 50
    h = 1.0 / n
    for _ in range(n):
        y, yp = y + h * yp, yp - h * k * y
    return (y - 0.5) ** 2


def van_der_pol(mu, state0):
    def rhs(s):
        x, v = s[0], s[1]
        return np.array([v, mu * (1 - x**2) * v - x])

    s = state0
    h = 0.02
    traj = [s]
    for _ in range(40):
        k1 = rhs(s)
        k2 = rhs(s + 0.5 * h * k1)
        s = s + h * k2
        traj.append(s)
    traj = np.array(traj)
    return np.mean(traj[:, 0] ** 2) + traj[-1, 1]


def logistic_map_lyapunov(rate, x0):
    x = x0
    total = 0.0
    for _ in range(20):
        total += np.log(abs(rate * (1.0 - 2.0 * x)))
        x = rate * x * (1.0 - x)
    return total / 20


def kepler_newton(e, M):
    """Kepler's equation E - e sin E = M by Newton until |dE| < 1e-12 (math on floats)."""
    E = M if e < 0.8 else math.pi
    while True:
        dE = (E - e * math.sin(E) - M) / (1.0 - e * math.cos(E))
        E -= dE
        if abs(dE) < 1e-12:
            break
    return math.cos(E) - e


# ------------------------------------------------------------------ grids


def heat_periodic_roll(u0, alpha):
    u = u0
    dx, dt = 0.1, 0.002
    for _ in range(25):
        lap = (np.roll(u, 1) - 2 * u + np.roll(u, -1)) / dx**2
        u = u + dt * alpha * lap
    return np.sum(u**2 * np.arange(u.size))


def heat_dirichlet(u0, alpha, left, right):
    u = u0.copy()
    r_ = alpha * 0.2
    for _ in range(15):
        u_new = u.copy()
        u_new[1:-1] = u[1:-1] + r_ * (u[2:] - 2 * u[1:-1] + u[:-2])
        u_new[0] = left
        u_new[-1] = right
        u = u_new
    return np.sum(u * np.linspace(0.0, 1.0, u.size) ** 2)


def advection_ghost_cells(u0, c):
    """Upwind advection with periodic ghost cells written by slice assignment."""
    n = u0.size
    u = np.zeros(n + 2)
    u[1:-1] = u0
    for _ in range(12):
        u[0] = u[-2]
        u[-1] = u[1]
        u[1:-1] = u[1:-1] - c * (u[1:-1] - u[:-2])
    return np.sum(u[1:-1] ** 3)


def burgers_upwind(u0, nu):
    u = u0
    dx, dt = 0.1, 0.01
    for _ in range(10):
        back = (u - np.roll(u, 1)) / dx
        fwd = (np.roll(u, -1) - u) / dx
        conv = np.where(u > 0, u * back, u * fwd)
        diff = nu * (np.roll(u, -1) - 2 * u + np.roll(u, 1)) / dx**2
        u = u + dt * (diff - conv)
    return np.sum(u**2)


def wave_2d(u0, c):
    u_prev = u0.copy()
    u = u0.copy()
    for _ in range(8):
        lap = (
            np.roll(u, 1, axis=0)
            + np.roll(u, -1, axis=0)
            + np.roll(u, 1, axis=1)
            + np.roll(u, -1, axis=1)
            - 4 * u
        )
        u_next = 2 * u - u_prev + c**2 * 0.1 * lap
        u_next[0, :] = 0.0
        u_next[-1, :] = 0.0
        u_next[:, 0] = 0.0
        u_next[:, -1] = 0.0
        u_prev, u = u, u_next
    return np.sum(u**2) + np.sum(u * u_prev)


def fem_bar(log_k, load):
    """1-D bar, linear elements: assemble K element by element, clamp node 0, solve."""
    n_el = log_k.size
    k = np.exp(log_k)
    K = np.zeros((n_el + 1, n_el + 1))
    for e in range(n_el):
        ke = k[e] * np.array([[1.0, -1.0], [-1.0, 1.0]])
        K[e : e + 2, e : e + 2] += ke
    u = np.linalg.solve(K[1:, 1:], load[1:])
    return load[1:] @ u


def poisson_tridiagonal(f, kappa):
    n = f.size
    h = 1.0 / (n + 1)
    A = (2 * np.eye(n) - np.diag(np.ones(n - 1), 1) - np.diag(np.ones(n - 1), -1)) / h**2
    u = np.linalg.solve(kappa * A + np.eye(n), f)
    return 0.5 * h * np.sum(u**2)


def gray_scott_step(uv, F, k):
    u, v = uv[0], uv[1]
    for _ in range(5):
        lu = np.roll(u, 1) + np.roll(u, -1) - 2 * u
        lv = np.roll(v, 1) + np.roll(v, -1) - 2 * v
        uvv = u * v * v
        u = u + 0.2 * (0.16 * lu - uvv + F * (1 - u))
        v = v + 0.2 * (0.08 * lv + uvv - (F + k) * v)
    return np.sum(u * v)


def total_variation_denoise(u, f, lam):
    tv = np.sum(np.sqrt(np.diff(u) ** 2 + 1e-3))
    return 0.5 * np.sum((u - f) ** 2) + lam * tv


def image_conv_by_hand(kernel, img):
    kh, kw = kernel.shape
    H, W = img.shape[0] - kh + 1, img.shape[1] - kw + 1
    out = np.zeros((H, W))
    for i in range(kh):
        for j in range(kw):
            out += kernel[i, j] * img[i : i + H, j : j + W]
    return np.sum(np.tanh(out))


def lennard_jones(pos):
    n = pos.shape[0]
    iu, ju = np.triu_indices(n, k=1)
    d = np.linalg.norm(pos[iu] - pos[ju], axis=1)
    sr6 = (1.0 / d) ** 6
    return np.sum(4.0 * (sr6**2 - sr6))


def spring_chain(x, k, rest):
    stretch = np.diff(x) - rest
    return 0.5 * np.sum(k * stretch**2) + 0.1 * np.sum(x**4)


def two_link_arm(theta, lengths):
    l1, l2 = lengths
    x = l1 * np.cos(theta[0]) + l2 * np.cos(theta[0] + theta[1])
    y = l1 * np.sin(theta[0]) + l2 * np.sin(theta[0] + theta[1])
    return np.array([x, y])


def ik_loss(theta, lengths, target):
    return np.sum((two_link_arm(theta, lengths) - target) ** 2)


def lqr_cost(u, A, B, x0):
    x = x0
    cost = 0.0
    for t in range(u.shape[0]):
        cost += x @ x + 0.1 * u[t] @ u[t]
        x = A @ x + B @ u[t]
    return cost + 10.0 * x @ x


def simpson(y, h):
    return h / 3 * (y[0] + 4 * np.sum(y[1:-1:2]) + 2 * np.sum(y[2:-1:2]) + y[-1])


def quadrature_of_gaussian(mu, sigma):
    x = np.linspace(-3.0, 3.0, 41)
    y = np.exp(-0.5 * ((x - mu) / sigma) ** 2)
    a = simpson(y, x[1] - x[0])
    b = np.trapezoid(y * x**2, x)
    return a + b


THETA2 = np.array([0.3, 0.7])
ARM = np.array([1.0, 0.8])
A_SYS = np.array([[1.0, 0.1], [0.0, 1.0]])
B_SYS = np.array([[0.0], [0.1]])

CASES = [
    Case("damped_euler_while", damped_oscillator_euler, (2.0, 0.3, 1.0), wrt=(0, 1, 2), order=2),
    Case(
        "pendulum_rk4",
        pendulum_rk4,
        (9.0, np.array([0.5, 0.0]), np.array([0.1, -1.0])),
        wrt=(0, 1),
        order=2,
    ),
    Case("sir_euler", sir_euler, (0.4, 0.1, np.linspace(0.01, 0.05, 12)), wrt=(0, 1), order=2),
    Case(
        "verlet_gravity_trajectory",
        verlet_gravity,
        (np.array([1.0, 0.1]), np.array([0.05, 1.1]), 1.5),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case("nbody_leapfrog", nbody_leapfrog, (r(3, 2), 0.3 * r(3, 2), 0.5), wrt=(0, 1, 2), order=2),
    Case("heun_euler_adaptive", heun_euler_adaptive, (1.5, 0.8), wrt=(0, 1), rtol=1e-4),
    Case("projectile_until_landing", projectile_range, (0.7, 10.0, 0.05), wrt=(0, 1, 2), rtol=1e-4),
    Case("shooting_miss", shooting_miss, (0.4, 2.0), wrt=(0, 1), order=2),
    Case("van_der_pol_traj_list", van_der_pol, (1.2, np.array([1.0, 0.0])), wrt=(0, 1), order=2),
    Case("logistic_map_lyapunov", logistic_map_lyapunov, (3.3, 0.2), wrt=(0, 1), rtol=1e-4),
    Case("kepler_newton_math", kepler_newton, (0.3, 1.2), wrt=(0, 1), order=2),
    Case("heat_periodic_roll", heat_periodic_roll, (r(10), 0.7), wrt=(0, 1), order=2),
    Case(
        "heat_dirichlet_slices", heat_dirichlet, (r(8), 0.9, 0.5, -0.2), wrt=(0, 1, 2, 3), order=2
    ),
    Case("advection_ghost_cells", advection_ghost_cells, (r(7), 0.4), wrt=(0, 1), order=2),
    Case("burgers_upwind_where", burgers_upwind, (r(9), 0.05), wrt=(0, 1), order=2),
    Case("wave_2d_roll_and_boundary", wave_2d, (r(6, 6), 0.8), wrt=(0, 1), order=2),
    Case("fem_bar_assembly", fem_bar, (0.3 * r(5), np.abs(r(6))), wrt=(0, 1), order=2),
    Case("poisson_tridiagonal", poisson_tridiagonal, (r(6), 0.3), wrt=(0, 1), order=2),
    Case("gray_scott", gray_scott_step, (np.abs(r(2, 8)), 0.04, 0.06), wrt=(0, 1, 2), order=2),
    Case("total_variation", total_variation_denoise, (r(8), r(8), 0.3), wrt=(0, 2), order=2),
    Case("image_conv_by_hand", image_conv_by_hand, (r(3, 3), r(6, 7)), wrt=(0, 1), order=2),
    Case(
        "lennard_jones_triu",
        lennard_jones,
        (np.array([[0.0, 0.0], [1.1, 0.1], [0.4, 1.0], [1.3, 1.2]]),),
        order=2,
    ),
    Case(
        "spring_chain_diff",
        spring_chain,
        (np.cumsum(np.abs(r(6))), np.abs(r(5)), 0.5),
        wrt=(0, 1),
        order=2,
    ),
    Case("inverse_kinematics", ik_loss, (THETA2, ARM, np.array([1.2, 0.6])), wrt=(0, 1), order=2),
    Case("arm_jacobian", two_link_arm, (THETA2, ARM), kind="jac"),
    Case(
        "lqr_rollout",
        lqr_cost,
        (0.3 * r(6, 1), A_SYS, B_SYS, np.array([1.0, 0.0])),
        wrt=(0, 3),
        order=2,
    ),
    Case("simpson_and_trapezoid", quadrature_of_gaussian, (0.2, 0.9), wrt=(0, 1), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_simulation(case):
    check(case)
